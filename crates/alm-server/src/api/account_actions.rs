//! `/api/v1/accounts/{id}/actions/…`: the owner actions of SPEC §4.1 (renew, disable, enable,
//! delete, submit for renewal) and clone as new request.

use super::accounts::{bad_query, AccountView};
use super::error::ApiResult;
use super::extract::parse_id;
use crate::auth::principal::Authenticated;
use crate::services::accounts as svc;
use crate::state::AppState;
use alm_core::permissions::perm;
use axum::extract::{Path, State};
use axum::Json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(account_action))
        .routes(routes!(clone_account))
}

/// An owner action's body.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    /// For `delete`: the account's name, typed again.
    pub confirm: Option<String>,
    /// For `submit-renewal`: why the account should live on (shown to the approvers).
    pub reason: Option<String>,
}

/// Run an action of SPEC §4.1 on the account: `renew`, `disable`, `enable`, `delete`
/// (account and secret; `confirm` must repeat the name) or `submit-renewal` (expire accounts:
/// the template's approval steps run again; `reason` required). An action not available now answers
/// 409 with the reason; `available_actions` on the account says what is.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/actions/{action}", tag = "accounts",
    params(("id" = String, Path, description = "Account id"),
           ("action" = String, Path, description = "renew, disable, enable, delete or submit-renewal", pattern = "^(renew|disable|enable|delete|submit-renewal)$")),
    request_body = ActionBody, responses((status = 200, body = AccountView)))]
async fn account_action(
    State(s): State<AppState>,
    auth: Authenticated,
    Path((id, action)): Path<(String, String)>,
    super::extract::ApiJson(body): super::extract::ApiJson<ActionBody>,
) -> ApiResult<Json<AccountView>> {
    use alm_core::lifecycle::Action;
    let can = auth.can::<perm::AccountUpdate>()?;
    let id: Uuid = parse_id(&id, "account")?;
    let action = match action.as_str() {
        "renew" => Action::Renew,
        "disable" => Action::Disable,
        "enable" => Action::Enable,
        "delete" => Action::Delete,
        "submit-renewal" => Action::SubmitRenewal,
        other => {
            return Err(bad_query(alm_core::FieldError::new(
                "action",
                "one-of",
                format!("{other:?} is not an action here; one of renew, disable, enable, delete, submit-renewal"),
            )))
        }
    };
    if action == Action::SubmitRenewal {
        crate::services::lifecycle::submit_renewal(
            &s.queue,
            &can,
            &auth.principal.actor,
            id,
            body.reason.as_deref(),
        )
        .await?;
    } else {
        crate::services::lifecycle::act(
            &s.queue,
            &can,
            &auth.principal.actor,
            id,
            action,
            body.confirm.as_deref(),
        )
        .await?;
    }
    let read = auth.can::<perm::AccountRead>()?;
    Ok(Json(
        svc::get(&s.db, s.clock.as_ref(), &read, id).await?.into(),
    ))
}

/// What a clone takes besides the account's own values (all optional).
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloneBody {
    /// A new account name (without the template's prefix). The account's own name is used when
    /// absent, which only a deleted account has freed (name uniqueness, SPEC §2.5).
    pub account_name: Option<String>,
    /// Why the new account is needed; the original request's justification when absent.
    pub justification: Option<String>,
    /// The template's terms of service, accepted anew.
    #[serde(default)]
    pub terms_accepted: bool,
}

/// *Clone as new request* (SPEC §4.1, available in every state): a new draft request by the
/// caller, prefilled from the account (template, interval, description, owners, attributes,
/// OU and folder), checked like any draft. Needs to reach the account and `request:create`.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/actions/clone", tag = "accounts",
    params(("id" = String, Path, description = "Account id")),
    request_body = CloneBody, responses((status = 201, body = super::requests::RequestView)))]
async fn clone_account(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    super::extract::ApiJson(body): super::extract::ApiJson<CloneBody>,
) -> ApiResult<(axum::http::StatusCode, Json<super::requests::RequestView>)> {
    let can_account = auth.can::<perm::AccountUpdate>()?;
    let can_request = auth.can::<perm::RequestCreate>()?;
    let id: Uuid = parse_id(&id, "account")?;
    let r = crate::services::lifecycle::clone_as_request(
        &s.queue,
        &can_account,
        &can_request,
        &auth.principal.actor,
        id,
        crate::services::lifecycle::CloneInput {
            account_name: body.account_name,
            justification: body.justification,
            terms_accepted: body.terms_accepted,
        },
    )
    .await?;
    Ok((axum::http::StatusCode::CREATED, Json(r.into())))
}

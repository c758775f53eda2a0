//! `/api/v1/accounts/migrate` and `/api/v1/domains/{id}/import`: accounts moved to another
//! template (SPEC §6.4), and directory accounts taken under governance (SPEC §6.2).

use super::accounts::AccountView;
use super::error::ApiResult;
use super::extract::parse_id;
use crate::auth::principal::Authenticated;
use crate::services::accounts as svc;
use crate::state::AppState;
use alm_core::permissions::perm;
use alm_core::DomainId;
use axum::extract::{Path, State};
use axum::Json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(migrate_accounts))
        .routes(routes!(import_accounts))
}

/// The optional `interval` (`90d`, `1y`) and `eol_date` (`YYYY-MM-DD`) of a migration or an
/// import, parsed; both named when malformed.
fn interval_and_date(
    interval: Option<&str>,
    eol_date: Option<&str>,
) -> ApiResult<(Option<alm_core::templates::Interval>, Option<time::Date>)> {
    let mut errors = alm_core::ValidationErrors::new();
    let interval = interval.and_then(|text| {
        text.parse::<alm_core::templates::Interval>()
            .map_err(|_| {
                errors.push(alm_core::FieldError::new(
                    "interval",
                    "format",
                    "N days (90d) or N years (1y)",
                ))
            })
            .ok()
    });
    let eol_date = eol_date.and_then(|text| {
        time::Date::parse(
            text,
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .map_err(|_| {
            errors.push(alm_core::FieldError::new(
                "eol_date",
                "format",
                "a date such as 2027-03-01",
            ))
        })
        .ok()
    });
    if !errors.0.is_empty() {
        return Err(super::error::ApiError::Validation(errors));
    }
    Ok((interval, eol_date))
}

/// Owners to add or remove in a migration.
#[derive(Debug, Default, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnerChange {
    #[serde(default)]
    pub users: Vec<Uuid>,
    #[serde(default)]
    pub groups: Vec<Uuid>,
}

/// An account migration (SPEC §6.4).
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MigrationBody {
    /// Active accounts before their EOL.
    pub account_ids: Vec<Uuid>,
    pub template_id: Uuid,
    /// Default: the template's published version.
    pub template_version: Option<i64>,
    /// One the template offers (`90d`, `1y`); default: each account keeps its own.
    pub interval: Option<String>,
    /// The new EOL date (`YYYY-MM-DD`; the EOL instant is 00:00 UTC of it); default: keep.
    /// A past date makes the accounts reach EOL at the next sweep.
    pub eol_date: Option<String>,
    /// Move the accounts into this OU (one the template offers).
    pub ou: Option<String>,
    /// Move the accounts' secrets into this folder (one the template offers; same vault).
    pub folder: Option<String>,
    #[serde(default)]
    pub add_owners: Option<OwnerChange>,
    #[serde(default)]
    pub remove_owners: Option<OwnerChange>,
}

/// Migrate accounts to another template or version, interval, EOL date, OU and owners (SPEC
/// §6.4; `managed-account:manage`). All accounts change, or none.
#[utoipa::path(post, path = "/api/v1/accounts/migrate", tag = "accounts", request_body = MigrationBody,
    responses((status = 200, body = Vec<AccountView>)))]
async fn migrate_accounts(
    State(s): State<AppState>,
    auth: Authenticated,
    super::extract::ApiJson(body): super::extract::ApiJson<MigrationBody>,
) -> ApiResult<Json<Vec<AccountView>>> {
    let can = auth.can::<perm::AccountUpdate>()?;
    let (interval, eol_date) =
        interval_and_date(body.interval.as_deref(), body.eol_date.as_deref())?;
    let add = body.add_owners.unwrap_or_default();
    let remove = body.remove_owners.unwrap_or_default();
    let done = crate::services::migration::migrate(
        &s.queue,
        &can,
        &auth.principal.actor,
        crate::services::migration::Migration {
            account_ids: body.account_ids,
            template_id: body.template_id,
            template_version: body.template_version,
            interval,
            eol_date,
            ou: body.ou,
            folder: body.folder,
            add_users: add.users.into_iter().map(alm_core::UserId).collect(),
            add_groups: add.groups.into_iter().map(alm_core::GroupId).collect(),
            remove_users: remove.users.into_iter().map(alm_core::UserId).collect(),
            remove_groups: remove.groups.into_iter().map(alm_core::GroupId).collect(),
            preview: false,
        },
    )
    .await?;
    let read = auth.can::<perm::AccountRead>()?;
    let mut out = Vec::new();
    for a in done {
        out.push(svc::get(&s.db, s.clock.as_ref(), &read, a.id).await?.into());
    }
    Ok(Json(out))
}

/// An import of directory accounts (SPEC §6.2).
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportBody {
    /// objectGUIDs of accounts the domain's sync has seen (`GET /domains/{id}/objects`).
    pub object_guids: Vec<String>,
    /// A published template of this domain; all accounts get it.
    pub template_id: Uuid,
    /// One the template offers (`90d`, `1y`), from today; or give `eol_date`.
    pub interval: Option<String>,
    /// The EOL date (`YYYY-MM-DD`).
    pub eol_date: Option<String>,
    /// Every chosen user and group owns every account.
    pub owners: OwnerChange,
}

/// Import directory accounts as managed accounts (SPEC §6.2; `managed-account:manage`): the
/// directory is not touched. All accounts are imported, or none.
#[utoipa::path(post, path = "/api/v1/domains/{id}/import", tag = "accounts", params(("id" = String, Path, description = "Domain id")),
    request_body = ImportBody, responses((status = 200, body = Vec<AccountView>)))]
async fn import_accounts(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    super::extract::ApiJson(body): super::extract::ApiJson<ImportBody>,
) -> ApiResult<Json<Vec<AccountView>>> {
    let can = auth.can::<perm::AccountUpdate>()?;
    let domain: Uuid = parse_id(&id, "domain")?;
    let (interval, eol_date) =
        interval_and_date(body.interval.as_deref(), body.eol_date.as_deref())?;
    let done = crate::services::import::import(
        &s.queue,
        &can,
        &auth.principal.actor,
        crate::services::import::Import {
            domain: DomainId(domain),
            guids: body.object_guids,
            template_id: body.template_id,
            interval,
            eol_date,
            users: body
                .owners
                .users
                .into_iter()
                .map(alm_core::UserId)
                .collect(),
            groups: body
                .owners
                .groups
                .into_iter()
                .map(alm_core::GroupId)
                .collect(),
        },
    )
    .await?;
    let read = auth.can::<perm::AccountRead>()?;
    let mut out = Vec::new();
    for a in done {
        out.push(svc::get(&s.db, s.clock.as_ref(), &read, a.id).await?.into());
    }
    Ok(Json(out))
}

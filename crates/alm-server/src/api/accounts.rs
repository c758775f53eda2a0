//! `/api/v1/accounts`: managed accounts (SPEC §2.7) as their owners (or, with
//! `managed-account:manage`, administrators) see them.

use super::error::ApiResult;
use super::extract::parse_id;
use super::page_of;
use crate::auth::principal::Authenticated;
use crate::services::accounts::{self as svc, AccountInfo, OwnerInfo};
use crate::state::AppState;
use alm_core::permissions::perm;
use alm_core::{DomainId, VaultId};
use alm_store::accounts::{AccountFilter, Owner, SORT_KEYS};
use axum::extract::{Path, State};
use axum::Json;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// An owner, named so that co-owners can reach each other (reading users needs `user:read`).
#[derive(Debug, Serialize, ToSchema)]
pub struct OwnerView {
    /// `user` or `group`.
    pub kind: String,
    pub id: Uuid,
    /// The user's display name, or the group's name.
    pub display_name: String,
    /// The user's addresses, the primary first (empty for a group).
    pub emails: Vec<String>,
    pub enabled: bool,
}

impl From<OwnerInfo> for OwnerView {
    fn from(o: OwnerInfo) -> Self {
        let (kind, id) = match o.owner {
            Owner::User(u) => ("user", u.0),
            Owner::Group(g) => ("group", g.0),
        };
        Self {
            kind: kind.into(),
            id,
            display_name: o.display_name,
            emails: o.emails,
            enabled: o.enabled,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    pub id: Uuid,
    pub name: String,
    pub domain_id: DomainId,
    pub dn: String,
    /// The objectGUID.
    pub guid: String,
    /// `ad-user` or `gmsa`.
    pub account_type: String,
    pub description: String,
    /// `active`, `disabled`, `expired`, `deleted`, `renewing`, …
    pub status: String,
    pub template_id: Uuid,
    /// The template version the account was made from.
    pub template_version: i64,
    pub request_id: Option<Uuid>,
    pub interval: String,
    /// `review`, `disable`, `expire` or `delete`.
    pub eol_action: String,
    #[serde(with = "time::serde::rfc3339")]
    pub lifecycle_start: OffsetDateTime,
    /// The EOL instant: 00:00 UTC of the EOL date.
    #[serde(with = "time::serde::rfc3339")]
    pub eol_at: OffsetDateTime,
    pub vault_id: VaultId,
    /// The secret's id in the vault (never the secret).
    pub secret_ref: String,
    /// What the last domain sync saw: `present`, `disabled-in-directory` (disabled outside
    /// alm) or `missing` (deleted outside alm).
    pub directory_state: String,
    /// `present`, or `missing` when the last vault sync did not find the secret.
    pub secret_state: String,
    /// The requester first.
    pub owners: Vec<OwnerView>,
    /// When renewal opens (EOL minus the template's re-approval window).
    #[serde(with = "time::serde::rfc3339")]
    pub renewal_at: OffsetDateTime,
    /// What can be done now (SPEC §4.1): `renew`, `disable`, `enable`, `delete`,
    /// `submit-renewal`, `clone`.
    pub available_actions: Vec<String>,
    /// A failure indicator (e.g. "disable failed (retrying): …").
    pub problem: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<AccountInfo> for AccountView {
    fn from(i: AccountInfo) -> Self {
        let a = i.record;
        Self {
            id: a.id,
            name: a.name,
            domain_id: a.domain_id,
            dn: a.dn,
            guid: a.guid,
            account_type: a.account_type,
            description: a.description,
            status: a.status,
            template_id: a.template_id,
            template_version: a.template_version,
            request_id: a.request_id,
            interval: a.interval,
            eol_action: a.eol_action,
            lifecycle_start: a.lifecycle_start,
            eol_at: a.eol_at,
            vault_id: a.vault_id,
            secret_ref: a.secret_ref,
            directory_state: a.directory_state,
            secret_state: a.secret_state,
            renewal_at: i.renewal_at,
            available_actions: i.actions.iter().map(|x| x.as_str().to_owned()).collect(),
            problem: a.problem,
            owners: i.owners.into_iter().map(Into::into).collect(),
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

page_of!(AccountPage, AccountView);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_accounts))
        .routes(routes!(get_account))
        .routes(routes!(account_history))
        .routes(routes!(account_action))
        .routes(routes!(clone_account))
        .routes(routes!(migrate_accounts))
        .routes(routes!(import_accounts))
        .routes(routes!(sweep_now))
        .routes(routes!(add_owner))
        .routes(routes!(remove_owner))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AccountQuery {
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// How many items to skip.
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    pub offset: Option<u64>,
    /// Sort key (`name`, `eol_at`, `created_at`, `status`); prefix with `-` for descending.
    #[param(pattern = "^-?(name|eol_at|created_at|status)$")]
    pub sort: Option<String>,
    /// Part of the account name, case-insensitive.
    pub q: Option<String>,
    #[param(pattern = "^(active|disabled|expired|deleted|renewing|review-submitted)$")]
    pub status: Option<String>,
    pub template_id: Option<Uuid>,
    pub domain_id: Option<Uuid>,
    /// Accounts this user owns directly.
    pub owner_id: Option<Uuid>,
    /// EOL window start (inclusive), RFC 3339.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub eol_from: Option<OffsetDateTime>,
    /// EOL window end (exclusive), RFC 3339.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub eol_to: Option<OffsetDateTime>,
    /// Only accounts left without an enabled owner (SPEC §2.7 orphans).
    pub orphaned: Option<bool>,
}

fn bad_query(e: alm_core::FieldError) -> super::error::ApiError {
    super::error::ApiError::BadRequest {
        detail: e.to_string(),
        errors: vec![e],
    }
}

/// The statuses of SPEC §2.7.
const STATUSES: &[&str] = &[
    "active",
    "disabled",
    "expired",
    "deleted",
    "renewing",
    "review-submitted",
];

impl AccountQuery {
    fn filter(&self) -> ApiResult<AccountFilter> {
        if let Some(s) = self.status.as_deref().filter(|s| !STATUSES.contains(s)) {
            return Err(bad_query(alm_core::FieldError::new(
                "status",
                "one-of",
                format!("{s:?} is not a status; one of {}", STATUSES.join(", ")),
            )));
        }
        // A window that ends before it starts is not an error: it matches no account.
        Ok(AccountFilter {
            visible_to: None,
            status: self.status.clone(),
            template: self.template_id,
            domain: self.domain_id.map(DomainId),
            owner: self.owner_id.map(alm_core::UserId),
            eol_from: self.eol_from,
            eol_to: self.eol_to,
            query: self
                .q
                .as_ref()
                .map(|q| q.trim().to_owned())
                .filter(|q| !q.is_empty()),
            orphaned: self.orphaned == Some(true),
        })
    }
}

/// Paging of an account's history.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    pub offset: Option<u64>,
    /// `-at` (newest first, the default) or `at`.
    #[param(pattern = "^-?at$")]
    pub sort: Option<String>,
}

/// A new owner: a user or (where the template allows) a group.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnerBody {
    pub user_id: Option<Uuid>,
    pub group_id: Option<Uuid>,
}

fn owner_of(body: OwnerBody) -> ApiResult<Owner> {
    match (body.user_id, body.group_id) {
        (Some(u), None) => Ok(Owner::User(alm_core::UserId(u))),
        (None, Some(g)) => Ok(Owner::Group(alm_core::GroupId(g))),
        _ => Err(super::error::ApiError::Validation(
            alm_core::FieldError::new("user_id", "one-of", "give either user_id or group_id")
                .into(),
        )),
    }
}

/// Add an owner (within the template's ownership rules).
#[utoipa::path(post, path = "/api/v1/accounts/{id}/owners", tag = "accounts", params(("id" = String, Path, description = "Account id")),
    request_body = OwnerBody, responses((status = 200, body = AccountView)))]
async fn add_owner(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    super::extract::ApiJson(body): super::extract::ApiJson<OwnerBody>,
) -> ApiResult<Json<AccountView>> {
    let can = auth.can::<perm::AccountUpdate>()?;
    let id: Uuid = parse_id(&id, "account")?;
    let owner = owner_of(body)?;
    let a = svc::add_owner(
        &s.db,
        s.clock.as_ref(),
        &can,
        &auth.principal.actor,
        id,
        owner,
        &s.config.base_url(),
    )
    .await?;
    Ok(Json(a.into()))
}

/// Remove an owner; never below the template's minimum, never the last enabled owner.
#[utoipa::path(delete, path = "/api/v1/accounts/{id}/owners/{kind}/{owner_id}", tag = "accounts",
    params(("id" = String, Path, description = "Account id"), ("kind" = String, Path, description = "`user` or `group`"),
           ("owner_id" = String, Path, description = "User or group id")),
    responses((status = 200, body = AccountView)))]
async fn remove_owner(
    State(s): State<AppState>,
    auth: Authenticated,
    Path((id, kind, owner_id)): Path<(String, String, String)>,
) -> ApiResult<Json<AccountView>> {
    let can = auth.can::<perm::AccountUpdate>()?;
    let id: Uuid = parse_id(&id, "account")?;
    let owner_id: Uuid = parse_id(&owner_id, "owner")?;
    let owner = match kind.as_str() {
        "user" => Owner::User(alm_core::UserId(owner_id)),
        "group" => Owner::Group(alm_core::GroupId(owner_id)),
        _ => return Err(super::error::ApiError::NotFound { what: "owner" }),
    };
    let a = svc::remove_owner(
        &s.db,
        s.clock.as_ref(),
        &can,
        &auth.principal.actor,
        id,
        owner,
        &s.config.base_url(),
    )
    .await?;
    Ok(Json(a.into()))
}

/// The accounts the caller owns (every account with `managed-account:manage`), one page,
/// filtered by status, template, domain, owner, EOL window and name.
#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts", params(AccountQuery), responses((status = 200, body = AccountPage)))]
async fn list_accounts(
    State(s): State<AppState>,
    auth: Authenticated,
    super::extract::ApiQuery(q): super::extract::ApiQuery<AccountQuery>,
) -> ApiResult<Json<AccountPage>> {
    let can = auth.can::<perm::AccountRead>()?;
    let page =
        alm_core::paging::PageRequest::parse(q.limit, q.offset, q.sort.as_deref(), SORT_KEYS)
            .map_err(|e| super::error::ApiError::BadRequest {
                detail: e.to_string(),
                errors: e.0,
            })?;
    let (found, total) = svc::list(&s.db, s.clock.as_ref(), &can, q.filter()?, &page).await?;
    Ok(Json(AccountPage {
        items: found.into_iter().map(Into::into).collect(),
        total,
        limit: page.limit,
        offset: page.offset,
    }))
}

/// The account's history: its audit records, newest first.
#[utoipa::path(get, path = "/api/v1/accounts/{id}/history", tag = "accounts", params(("id" = String, Path, description = "Account id"), HistoryQuery),
    responses((status = 200, body = super::audit::AuditPage)))]
async fn account_history(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    super::extract::ApiQuery(q): super::extract::ApiQuery<HistoryQuery>,
) -> ApiResult<Json<super::audit::AuditPage>> {
    let can = auth.can::<perm::AccountRead>()?;
    let id: Uuid = parse_id(&id, "account")?;
    let page = alm_core::paging::PageRequest::parse(
        q.limit,
        q.offset,
        Some(q.sort.as_deref().unwrap_or("-at")),
        &["at"],
    )
    .map_err(|e| super::error::ApiError::BadRequest {
        detail: e.to_string(),
        errors: e.0,
    })?;
    let (records, total) = svc::history(&s.db, &can, id, &page).await?;
    Ok(Json(super::audit::AuditPage {
        items: records.into_iter().map(Into::into).collect(),
        total,
        limit: page.limit,
        offset: page.offset,
    }))
}

/// One managed account.
#[utoipa::path(get, path = "/api/v1/accounts/{id}", tag = "accounts", params(("id" = String, Path, description = "Account id")),
    responses((status = 200, body = AccountView)))]
async fn get_account(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<AccountView>> {
    let can = auth.can::<perm::AccountRead>()?;
    let id: Uuid = parse_id(&id, "account")?;
    Ok(Json(
        svc::get(&s.db, s.clock.as_ref(), &can, id).await?.into(),
    ))
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

/// What one sweep did.
#[derive(Debug, Serialize, ToSchema)]
pub struct SweepView {
    pub eol_processed: u64,
    pub reminders_sent: u64,
    /// Accounts that could not be handled; each shows why as its `problem`.
    pub failed: u64,
}

/// Run the lifecycle sweep now (EOL actions and due reminders), as the scheduler does every
/// minute; needs `managed-account:manage`. Safe beside the scheduler: nothing happens twice.
#[utoipa::path(post, path = "/api/v1/scheduler/sweep", tag = "accounts", responses((status = 200, body = SweepView)))]
async fn sweep_now(State(s): State<AppState>, auth: Authenticated) -> ApiResult<Json<SweepView>> {
    let can = auth.can::<perm::AccountUpdate>()?;
    can.require_manage()
        .map_err(crate::services::denied(can.actor()))?;
    let r = crate::services::lifecycle::sweep(&s.queue).await?;
    Ok(Json(SweepView {
        eol_processed: r.eol_processed,
        reminders_sent: r.reminders_sent,
        failed: r.failed,
    }))
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

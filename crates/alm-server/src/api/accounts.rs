//! `/api/v1/accounts`: managed accounts (SPEC §2.7) as their owners (or, with
//! `managed-account:manage`, administrators) see them.

use super::error::ApiResult;
use super::extract::parse_id;
use super::page_of;
use crate::auth::principal::Authenticated;
use crate::services::accounts::{self as svc, AccountInfo, OwnerInfo};
use crate::state::AppState;
use alm_core::lifecycle::Status;
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
            account_type: a.account_type.as_str().to_owned(),
            description: a.description,
            status: a.status.as_str().to_owned(),
            template_id: a.template_id,
            template_version: a.template_version,
            request_id: a.request_id,
            interval: a.interval.to_string(),
            eol_action: a.eol_action.as_str().to_owned(),
            lifecycle_start: a.lifecycle_start,
            eol_at: a.eol_at,
            vault_id: a.vault_id,
            secret_ref: a.secret_ref,
            directory_state: a.directory_state.as_str().to_owned(),
            secret_state: a.secret_state.as_str().to_owned(),
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
        .routes(routes!(account_dependencies))
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

pub(super) fn bad_query(e: alm_core::FieldError) -> super::error::ApiError {
    super::error::ApiError::BadRequest {
        detail: e.to_string(),
        errors: vec![e],
    }
}

impl AccountQuery {
    fn filter(&self) -> ApiResult<AccountFilter> {
        let status = match self.status.as_deref() {
            None => None,
            Some(s) => Some(Status::parse(s).ok_or_else(|| {
                bad_query(alm_core::FieldError::new(
                    "status",
                    "one-of",
                    format!(
                        "{s:?} is not a status; one of {}",
                        Status::ALL.map(Status::as_str).join(", ")
                    ),
                ))
            })?),
        };
        // A window that ends before it starts is not an error: it matches no account.
        Ok(AccountFilter {
            visible_to: None,
            status,
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

/// One service that runs as the account.
#[derive(Debug, Serialize, ToSchema)]
pub struct DependencyView {
    /// The host's DNS name (or computer name), as the scan saw it.
    pub host: String,
    /// The service's key name.
    pub service_name: String,
    /// The name the host shows; may be empty.
    pub display_name: String,
    /// Where alm learnt it: `host-scan` (`alm discover --import`) or `vault`.
    pub source: String,
    #[serde(with = "time::serde::rfc3339")]
    pub first_seen_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub seen_at: OffsetDateTime,
}

/// Where the account is used (SPEC §2.7).
#[derive(Debug, Serialize, ToSchema)]
pub struct DependenciesView {
    /// By host, then service name.
    pub services: Vec<DependencyView>,
    pub service_count: usize,
    pub host_count: usize,
    /// When a complete host scan last looked for the account; null when none did.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_complete_scan_at: Option<OffsetDateTime>,
    /// "Used by N services on M hosts", or "No known dependencies (…)": what the disable and
    /// delete confirmations say.
    pub summary: String,
}

/// Where the account is used: the services that run as it, host by host.
#[utoipa::path(get, path = "/api/v1/accounts/{id}/dependencies", tag = "accounts", params(("id" = String, Path, description = "Account id")),
    responses((status = 200, body = DependenciesView)))]
async fn account_dependencies(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<DependenciesView>> {
    let can = auth.can::<perm::AccountRead>()?;
    let id: Uuid = parse_id(&id, "account")?;
    let found = crate::services::dependencies::of_account(&s.db, &can, id).await?;
    Ok(Json(DependenciesView {
        summary: found.summary(),
        service_count: found.service_count,
        host_count: found.host_count,
        last_complete_scan_at: found.last_complete_scan_at,
        services: found
            .services
            .into_iter()
            .map(|d| DependencyView {
                host: d.host,
                service_name: d.service_name,
                display_name: d.display_name,
                source: d.source.as_str().to_owned(),
                first_seen_at: d.first_seen_at,
                seen_at: d.seen_at,
            })
            .collect(),
    }))
}

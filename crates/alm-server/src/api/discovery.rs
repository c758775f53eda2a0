//! `/api/v1/discovery`: runs sent by `alm discover --import` and the unmanaged accounts they
//! found (SPEC §11, §10 "unmanaged accounts found"). Managers of managed accounts only; the
//! path to management is the existing import (`POST /domains/{id}/import`).

use super::error::ApiResult;
use super::page_of;
use crate::auth::principal::Authenticated;
use crate::services::discovery::{self as svc, DiscoveredAccount};
use crate::state::AppState;
use alm_core::discovery::{DiscoveryRun, RunFinding, RunReceipt};
use alm_core::permissions::perm;
use alm_core::DomainId;
use axum::extract::{DefaultBodyLimit, State};
use axum::Json;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// A run of 50,000 accounts with findings and hosts is a few tens of MiB of JSON; the
/// server's default (1 MiB) holds every other body.
const RUN_BODY_LIMIT: usize = 64 * 1024 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(receive_run))
        .layer(DefaultBodyLimit::max(RUN_BODY_LIMIT))
        .routes(routes!(list_discovered))
}

/// Receive a discovery run (`alm discover --import`; `managed-account:update` with `manage`,
/// as for an import). The domain is the alm domain whose base DN equals `domain.base_dn`
/// (case-insensitive). Accounts alm manages already are skipped; the others are stored per
/// objectGUID (a later run updates them). All is stored, or nothing (422 names each field).
#[utoipa::path(post, path = "/api/v1/discovery/runs", tag = "discovery", request_body = DiscoveryRun,
    responses((status = 200, body = RunReceipt)))]
async fn receive_run(
    State(s): State<AppState>,
    auth: Authenticated,
    super::extract::ApiJson(body): super::extract::ApiJson<DiscoveryRun>,
) -> ApiResult<Json<RunReceipt>> {
    let can = auth.can::<perm::AccountUpdate>()?;
    let receipt = svc::receive(&s.db, s.clock.as_ref(), &can, &auth.principal.actor, body).await?;
    Ok(Json(receipt))
}

/// One unmanaged account found by discovery.
#[derive(Debug, Serialize, ToSchema)]
pub struct DiscoveredAccountView {
    pub domain_id: DomainId,
    /// The objectGUID: give it to `POST /domains/{id}/import` (after a domain sync).
    pub guid: String,
    pub sam_account_name: String,
    pub dn: String,
    pub sid: Option<String>,
    /// `user`, `msa` or `gmsa`.
    pub kind: String,
    /// Why it looks like a service account.
    pub reasons: Vec<String>,
    pub findings: Vec<RunFinding>,
    /// The highest severity among the findings; none without findings.
    pub highest_severity: Option<String>,
    /// Hosts where a service runs as this account.
    pub hosts: Vec<String>,
    /// False when the host scan of the run that last named it was stopped or not run:
    /// `hosts` may then be incomplete.
    pub host_scan_complete: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub first_seen_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen_at: OffsetDateTime,
    /// When the tool read the directory, in the run that last named it.
    #[serde(with = "time::serde::rfc3339::option")]
    pub scanned_at: Option<OffsetDateTime>,
    pub last_run_id: Uuid,
    /// Who sent that run.
    pub sent_by: Option<Uuid>,
}

impl From<DiscoveredAccount> for DiscoveredAccountView {
    fn from(a: DiscoveredAccount) -> Self {
        let r = a.record;
        Self {
            domain_id: r.domain_id,
            guid: r.guid,
            sam_account_name: r.sam_account_name,
            dn: r.dn,
            sid: r.sid,
            kind: r.kind,
            reasons: a.reasons,
            highest_severity: alm_core::discovery::SEVERITIES
                .get(r.top_severity as usize)
                .map(|s| (*s).to_owned()),
            findings: a.findings,
            hosts: a.hosts,
            host_scan_complete: a.host_scan_complete,
            first_seen_at: r.first_seen_at,
            last_seen_at: r.last_seen_at,
            scanned_at: a.scanned_at,
            last_run_id: r.last_run_id,
            sent_by: r.sent_by.map(|u| u.0),
        }
    }
}

page_of!(DiscoveredAccountPage, DiscoveredAccountView);

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DiscoveredQuery {
    /// Only this domain's accounts.
    pub domain_id: Option<Uuid>,
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// How many items to skip.
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    pub offset: Option<u64>,
    /// `severity` (default: highest severity first, then by name) or `name`; prefix with
    /// `-` for descending.
    #[param(pattern = "^-?(severity|name)$")]
    pub sort: Option<String>,
    /// Part of the account's name or DN, case-insensitive.
    pub q: Option<String>,
}

/// The unmanaged accounts discovery found (managers of managed accounts), highest severity
/// first, then by name. Accounts alm manages (imported since) are left out.
#[utoipa::path(get, path = "/api/v1/discovery/accounts", tag = "discovery", params(DiscoveredQuery),
    responses((status = 200, body = DiscoveredAccountPage)))]
async fn list_discovered(
    State(s): State<AppState>,
    auth: Authenticated,
    super::extract::ApiQuery(q): super::extract::ApiQuery<DiscoveredQuery>,
) -> ApiResult<Json<DiscoveredAccountPage>> {
    let can = auth.can::<perm::AccountRead>()?;
    let page = alm_core::paging::PageRequest::parse(
        q.limit,
        q.offset,
        q.sort.as_deref(),
        &["severity", "name"],
    )
    .map_err(|e| super::error::ApiError::BadRequest {
        detail: e.to_string(),
        errors: e.0,
    })?;
    let query = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let (items, total) = svc::list(&s.db, &can, q.domain_id.map(DomainId), query, &page).await?;
    Ok(Json(DiscoveredAccountPage::new(
        items.into_iter().map(Into::into).collect(),
        total,
        &page,
    )))
}

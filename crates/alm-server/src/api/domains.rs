//! `/api/v1/domains`: the directories alm connects to (SPEC §6.1). The bind password is
//! write-only: accepted on create and update, never returned. What the syncs found is in
//! [`super::directory_objects`].

use super::error::{ApiError, ApiResult};
use super::extract::{parse_id, ApiJson, ApiQuery};
use super::{list_query, page_of};
use crate::auth::principal::Authenticated;
use crate::services::domain_sync::{self, SyncMode};
use crate::services::domains::{self as svc, DomainInfo, DomainInput, PasswordRules};
use crate::state::AppState;
use alm_core::paging::matches;
use alm_core::permissions::perm;
use alm_core::DomainId;
use alm_store::directory_sync::SyncRun;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Debug, Serialize, ToSchema)]
pub struct DomainView {
    pub id: DomainId,
    pub name: String,
    /// `active-directory`.
    pub kind: String,
    pub url: String,
    /// Other domain controllers of the domain, tried in this order when `url` cannot be
    /// reached (an engine's writes and their read-back go to the one it reached).
    pub failover_urls: Vec<String>,
    /// Whether engines also try the controllers the domain's DNS names (SRV
    /// `_ldap._tcp.dc._msdcs.<domain>`, the domain's DNS name being the `DC=` components
    /// `base_dn` ends with) after
    /// `url` and `failover_urls`, on `url`'s LDAPS port.
    pub discover_dcs: bool,
    pub bind_identity: String,
    /// The CA certificate(s) trusted for this domain (PEM); absent: the system's store.
    pub ca_pem: Option<String>,
    pub base_dn: String,
    pub password_rules: PasswordRules,
    /// Daily sync time, `HH:MM` UTC, if scheduled.
    pub sync_time: Option<String>,
    /// When the scheduled sync is next due.
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_sync_at: Option<OffsetDateTime>,
    /// The engine pool that serves the domain.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub pool_id: Option<alm_core::PoolId>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<DomainInfo> for DomainView {
    fn from(d: DomainInfo) -> Self {
        let r = d.record;
        Self {
            id: r.id,
            name: r.name,
            kind: r.kind,
            url: r.url,
            failover_urls: r.failover_urls,
            discover_dcs: r.discover_dcs,
            bind_identity: r.bind_identity,
            ca_pem: r.ca_pem,
            base_dn: r.base_dn,
            password_rules: d.password_rules,
            sync_time: r.sync_time,
            next_sync_at: r.next_sync_at,
            pool_id: r.pool_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDomainBody {
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub name: String,
    /// `ldaps://dc1.corp.example.com[:636]` (LDAPS only).
    #[schema(pattern = "^ldaps://")]
    pub url: String,
    /// Other domain controllers (LDAPS URLs, at most 8), tried in order when `url` cannot be
    /// reached.
    #[schema(max_items = 8)]
    pub failover_urls: Option<Vec<String>>,
    /// Also find the domain's controllers in DNS (default: no). The domain's DNS name is the
    /// `DC=` components `base_dn` ends with.
    pub discover_dcs: Option<bool>,
    /// A DN or a user principal name.
    #[schema(min_length = 1, max_length = 512)]
    pub bind_identity: String,
    /// Write-only.
    #[schema(value_type = String, min_length = 1, max_length = 512, format = Password)]
    pub bind_password: alm_core::Secret,
    /// PEM text of the CA certificate(s) to trust.
    pub ca_pem: Option<String>,
    /// e.g. `DC=corp,DC=example,DC=com`.
    #[schema(min_length = 1, max_length = 1024)]
    pub base_dn: String,
    pub password_rules: Option<PasswordRules>,
    /// Daily sync time, `HH:MM` UTC (checked at the top of each hour; a time already past
    /// today first runs tomorrow). Omit for no scheduled sync.
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub sync_time: Option<String>,
    /// The engine pool that serves the domain (default: the default pool).
    #[schema(value_type = Option<String>, format = Uuid)]
    pub pool_id: Option<uuid::Uuid>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDomainBody {
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub name: Option<String>,
    #[schema(pattern = "^ldaps://")]
    pub url: Option<String>,
    /// Replaces the list; `[]` removes every other controller. A controller not listed before
    /// needs `bind_password` again (the password is never sent to a new destination).
    #[schema(max_items = 8)]
    pub failover_urls: Option<Vec<String>>,
    /// Turning it on needs `bind_password` again (controllers nobody listed get the password).
    pub discover_dcs: Option<bool>,
    #[schema(min_length = 1, max_length = 512)]
    pub bind_identity: Option<String>,
    /// Omit to keep the stored password.
    #[schema(value_type = Option<String>, min_length = 1, max_length = 512, format = Password)]
    pub bind_password: Option<alm_core::Secret>,
    /// An empty string removes the configured CA.
    pub ca_pem: Option<String>,
    #[schema(min_length = 1, max_length = 1024)]
    pub base_dn: Option<String>,
    pub password_rules: Option<PasswordRules>,
    /// `HH:MM` UTC; an empty string turns the scheduled sync off.
    #[schema(pattern = "^(([01][0-9]|2[0-3]):[0-5][0-9])?$")]
    pub sync_time: Option<String>,
    /// Move the domain to another engine pool.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub pool_id: Option<uuid::Uuid>,
}

pub use super::engines::{CalibrationView, CheckView};
pub use super::jobs::JobView;

#[derive(Debug, Serialize, ToSchema)]
pub struct SyncRunView {
    pub id: String,
    /// `full` or `incremental`.
    pub mode: String,
    /// `succeeded` or `failed` (a failed sync changed nothing).
    pub outcome: String,
    pub added: u64,
    pub updated: u64,
    pub removed: u64,
    /// Users the user sync created and disabled.
    pub users_created: u64,
    pub users_disabled: u64,
    pub error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub finished_at: OffsetDateTime,
}

impl From<SyncRun> for SyncRunView {
    fn from(r: SyncRun) -> Self {
        Self {
            id: r.id,
            mode: r.mode,
            outcome: r.outcome,
            added: r.added,
            updated: r.updated,
            removed: r.removed,
            users_created: r.users_created,
            users_disabled: r.users_disabled,
            error: r.error,
            started_at: r.started_at,
            finished_at: r.finished_at,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SyncQuery {
    /// `full` or `incremental` (the default once a full sync has run).
    #[param(pattern = "^(full|incremental)$")]
    pub mode: Option<String>,
}

list_query!(DomainQuery, "^-?(name|created_at)$", q: "Part of the name or base DN, case-insensitive.", {});
list_query!(SyncRunQuery, "^-?(started_at|outcome)$", {});
list_query!(CalibrationQuery, "^-?(engine_name|checked_at)$", q: "Part of the engine's name, case-insensitive.", {});

page_of!(DomainPage, DomainView);
page_of!(SyncRunPage, SyncRunView);
page_of!(CalibrationPage, CalibrationView);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_domains, create_domain))
        .routes(routes!(get_domain, update_domain, delete_domain))
        .routes(routes!(check_domain))
        .routes(routes!(domain_calibration))
        .routes(routes!(sync_domain))
        .routes(routes!(list_sync_runs))
        .routes(routes!(get_user_sync, set_user_sync))
}

/// User sync: the directory groups whose members (through child groups too) become alm users.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserSyncBody {
    /// objectGUIDs of groups a sync of this domain has found (`GET …/objects?kind=group`).
    #[schema(value_type = Vec<String>, format = Uuid)]
    pub group_guids: Vec<uuid::Uuid>,
    /// A sync that would disable more than this share of the synced users stops and alerts
    /// instead (default 10).
    #[schema(minimum = 0, maximum = 100)]
    pub max_disable_percent: Option<u32>,
}

/// The domain's user-sync settings (an empty group list: user sync is off).
#[utoipa::path(get, path = "/api/v1/domains/{id}/user-sync", tag = "domains", params(("id" = String, Path, description = ID)),
    responses((status = 200, body = UserSyncBody)))]
async fn get_user_sync(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<UserSyncBody>> {
    let can = auth.can::<perm::DomainRead>()?;
    let id: DomainId = parse_id(&id, "domain")?;
    let config = crate::services::user_sync::settings(&s.db, &can, id).await?;
    Ok(Json(match config {
        Some(c) => UserSyncBody {
            group_guids: c
                .group_guids
                .iter()
                .filter_map(|g| g.parse().ok())
                .collect(),
            max_disable_percent: Some(c.max_disable_percent),
        },
        None => UserSyncBody {
            group_guids: vec![],
            max_disable_percent: Some(crate::services::user_sync::DEFAULT_MAX_DISABLE_PERCENT),
        },
    }))
}

/// Choose the groups whose members become alm users; applied at every sync.
#[utoipa::path(put, path = "/api/v1/domains/{id}/user-sync", tag = "domains", params(("id" = String, Path, description = ID)),
    request_body = UserSyncBody, responses((status = 200, body = UserSyncBody)))]
async fn set_user_sync(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UserSyncBody>,
) -> ApiResult<Json<UserSyncBody>> {
    let can = auth.can::<perm::DomainUpdate>()?;
    let id: DomainId = parse_id(&id, "domain")?;
    let config = alm_store::directory_sync::UserSyncConfig {
        group_guids: body.group_guids.iter().map(|g| g.to_string()).collect(),
        max_disable_percent: body
            .max_disable_percent
            .unwrap_or(crate::services::user_sync::DEFAULT_MAX_DISABLE_PERCENT),
    };
    let saved = crate::services::user_sync::configure(
        &s.db,
        s.clock.as_ref(),
        &can,
        &auth.principal.actor,
        id,
        config,
    )
    .await?;
    Ok(Json(UserSyncBody {
        group_guids: saved
            .group_guids
            .iter()
            .filter_map(|g| g.parse().ok())
            .collect(),
        max_disable_percent: Some(saved.max_disable_percent),
    }))
}

pub(crate) fn bad_query(field: &str, rule: &str, message: &str) -> ApiError {
    ApiError::BadRequest {
        detail: format!("{field}: {message}"),
        errors: vec![alm_core::FieldError::new(field, rule, message)],
    }
}

/// Sync the domain's directory now: an engine of the domain's pool reads it. Answers with the
/// run when it finishes within a minute (a failed run changed nothing), or 202 with the job.
#[utoipa::path(post, path = "/api/v1/domains/{id}/sync", tag = "domains", params(("id" = String, Path, description = ID), SyncQuery),
    responses((status = 200, body = SyncRunView), (status = 202, body = JobView)))]
async fn sync_domain(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<SyncQuery>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let can = auth.can::<perm::DomainUpdate>()?;
    let id: DomainId = parse_id(&id, "domain")?;
    let mode = match q.mode.as_deref() {
        None => None,
        Some("full") => Some(SyncMode::Full),
        Some("incremental") => Some(SyncMode::Incremental),
        Some(_) => return Err(bad_query("mode", "one-of", "must be full or incremental")),
    };
    let job = domain_sync::request(
        &s.queue,
        &can,
        &auth.principal.actor,
        id,
        mode,
        s.config.scheduler.full_sync_every(),
    )
    .await?;
    let job = s
        .queue
        .wait(&[job.id], SYNC_WAIT)
        .await?
        .pop()
        .unwrap_or(job);
    if let Some(run) = domain_sync::run_of(&s.db, &job).await? {
        return Ok(Json(SyncRunView::from(run)).into_response());
    }
    if job.status == alm_core::job_kind::JobStatus::Failed {
        return Err(ApiError::NotAllowed(format!(
            "the sync job failed: {}",
            job.error.as_deref().unwrap_or("no reason given")
        )));
    }
    Ok((StatusCode::ACCEPTED, Json(JobView::from(job))).into_response())
}

/// How long a sync request waits for its job before answering 202.
const SYNC_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Which engines of the pool could reach the domain at their last calibration.
#[utoipa::path(get, path = "/api/v1/domains/{id}/calibration", tag = "domains", params(("id" = String, Path, description = ID), CalibrationQuery),
    responses((status = 200, body = CalibrationPage)))]
async fn domain_calibration(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<CalibrationQuery>,
) -> ApiResult<Json<CalibrationPage>> {
    let can = auth.can::<perm::DomainRead>()?;
    let id: DomainId = parse_id(&id, "domain")?;
    let page = q.page(super::engines::CALIBRATION_SORT_KEYS)?;
    let found = svc::calibrations(&s.db, &can, id).await?;
    let (items, total) = super::engines::calibration_page(found, q.query().as_deref(), &page);
    Ok(Json(CalibrationPage::new(items, total, &page)))
}

/// The domain's sync runs, newest first.
#[utoipa::path(get, path = "/api/v1/domains/{id}/sync-runs", tag = "domains", params(("id" = String, Path, description = ID), SyncRunQuery),
    responses((status = 200, body = SyncRunPage)))]
async fn list_sync_runs(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<SyncRunQuery>,
) -> ApiResult<Json<SyncRunPage>> {
    let can = auth.can::<perm::DomainRead>()?;
    let id: DomainId = parse_id(&id, "domain")?;
    let page = q.page_or(alm_store::directory_sync::RUN_SORT_KEYS, "-started_at")?;
    let (runs, total) = domain_sync::runs(&s.db, &can, id, &page).await?;
    Ok(Json(SyncRunPage::new(
        runs.into_iter().map(Into::into).collect(),
        total,
        &page,
    )))
}

pub(crate) const ID: &str = "Domain id";

/// The domains, by name.
#[utoipa::path(get, path = "/api/v1/domains", tag = "domains", params(DomainQuery), responses((status = 200, body = DomainPage)))]
async fn list_domains(
    State(s): State<AppState>,
    auth: Authenticated,
    ApiQuery(q): ApiQuery<DomainQuery>,
) -> ApiResult<Json<DomainPage>> {
    let can = auth.can::<perm::DomainRead>()?;
    let page = q.page(&["name", "created_at"])?;
    let query = q.query();
    let domains: Vec<DomainInfo> = svc::list(&s.db, &can)
        .await?
        .into_iter()
        .filter(|d| matches(query.as_deref(), &[&d.record.name, &d.record.base_dn]))
        .collect();
    let (items, total) = page.slice(domains, |key, a, b| {
        let (a, b) = (&a.record, &b.record);
        match key {
            "created_at" => a.created_at.cmp(&b.created_at),
            _ => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
        }
        .then(a.id.cmp(&b.id))
    });
    Ok(Json(DomainPage::new(
        items.into_iter().map(Into::into).collect(),
        total,
        &page,
    )))
}

/// Add a domain (its bind password is stored sealed).
#[utoipa::path(post, path = "/api/v1/domains", tag = "domains", request_body = CreateDomainBody, responses((status = 201, body = DomainView)))]
async fn create_domain(
    State(s): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<CreateDomainBody>,
) -> ApiResult<(StatusCode, Json<DomainView>)> {
    let can = auth.can::<perm::DomainCreate>()?;
    let input = DomainInput {
        name: Some(body.name),
        url: Some(body.url),
        failover_urls: body.failover_urls,
        discover_dcs: body.discover_dcs,
        bind_identity: Some(body.bind_identity),
        bind_password: Some(body.bind_password),
        ca_pem: Some(body.ca_pem),
        base_dn: Some(body.base_dn),
        password_rules: body.password_rules,
        sync_time: body.sync_time.map(Some),
        pool_id: body.pool_id.map(alm_core::PoolId),
    };
    let d = svc::create(
        &s.db,
        s.clock.as_ref(),
        &s.master_key,
        &can,
        &auth.principal.actor,
        input,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(d.into())))
}

/// One domain.
#[utoipa::path(get, path = "/api/v1/domains/{id}", tag = "domains", params(("id" = String, Path, description = ID)), responses((status = 200, body = DomainView)))]
async fn get_domain(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<DomainView>> {
    let can = auth.can::<perm::DomainRead>()?;
    let id: DomainId = parse_id(&id, "domain")?;
    Ok(Json(svc::get(&s.db, &can, id).await?.into()))
}

/// Change a domain; fields left out keep their values.
#[utoipa::path(patch, path = "/api/v1/domains/{id}", tag = "domains", params(("id" = String, Path, description = ID)),
    request_body = UpdateDomainBody, responses((status = 200, body = DomainView)))]
async fn update_domain(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateDomainBody>,
) -> ApiResult<Json<DomainView>> {
    let can = auth.can::<perm::DomainUpdate>()?;
    let id: DomainId = parse_id(&id, "domain")?;
    let input = DomainInput {
        name: body.name,
        url: body.url,
        failover_urls: body.failover_urls,
        discover_dcs: body.discover_dcs,
        bind_identity: body.bind_identity,
        bind_password: body.bind_password,
        ca_pem: body
            .ca_pem
            .map(|c| Some(c).filter(|c| !c.trim().is_empty())),
        base_dn: body.base_dn,
        password_rules: body.password_rules,
        sync_time: body
            .sync_time
            .map(|t| Some(t).filter(|t| !t.trim().is_empty())),
        pool_id: body.pool_id.map(alm_core::PoolId),
    };
    Ok(Json(
        svc::update(
            &s.db,
            s.clock.as_ref(),
            &s.master_key,
            &can,
            &auth.principal.actor,
            id,
            input,
        )
        .await?
        .into(),
    ))
}

/// Remove a domain.
#[utoipa::path(delete, path = "/api/v1/domains/{id}", tag = "domains", params(("id" = String, Path, description = ID)), responses((status = 204)))]
async fn delete_domain(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let can = auth.can::<perm::DomainDelete>()?;
    let id: DomainId = parse_id(&id, "domain")?;
    svc::delete(&s.db, s.clock.as_ref(), &can, &auth.principal.actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ask every active engine of the domain's pool to bind with the stored credentials now
/// (calibration); the answer says, per engine, what went wrong.
#[utoipa::path(post, path = "/api/v1/domains/{id}/check", tag = "domains", params(("id" = String, Path, description = ID)), responses((status = 200, body = CheckView)))]
async fn check_domain(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<CheckView>> {
    let can = auth.can::<perm::DomainRead>()?;
    let id: DomainId = parse_id(&id, "domain")?;
    Ok(Json(
        svc::check(&s.queue, &can, &auth.principal.actor, id)
            .await?
            .into(),
    ))
}

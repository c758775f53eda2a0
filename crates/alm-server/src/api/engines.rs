//! `/api/v1/engine-pools`, `/api/v1/engines` and `/api/v1/engine-activation-tokens`: what
//! administrators do with engines (SPEC §5); the queue's jobs are in [`super::jobs`]. The engines' own protocol is
//! in [`super::engine_protocol`].

use super::error::{ApiError, ApiResult};
use super::extract::{parse_id, ApiJson, ApiQuery};
use super::{list_query, page_of};
use crate::auth::principal::Authenticated;
use crate::services::calibration::{CheckOutcome, EngineCheck};
use crate::services::engines::{self as svc, EngineChange, PoolInput};
use crate::state::AppState;
use alm_core::paging::matches;
use alm_core::permissions::perm;
use alm_core::{EngineId, PoolId};
use alm_store::engines::{Calibration, EngineRecord, LogLine, PoolRecord};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

// ---- views shared with domains and vaults ----

#[derive(Debug, Serialize, ToSchema)]
pub struct EngineCheckView {
    pub engine_id: EngineId,
    pub engine_name: String,
    pub ok: bool,
    pub problem: Option<String>,
    pub message: String,
}

impl From<EngineCheck> for EngineCheckView {
    fn from(c: EngineCheck) -> Self {
        Self {
            engine_id: c.engine_id,
            engine_name: c.engine_name,
            ok: c.ok,
            problem: c.problem,
            message: c.message,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckView {
    /// True when at least one engine of the pool (or alm, for the built-in vault) got through.
    pub ok: bool,
    /// When it failed: `unreachable`, `tls`, `bad-credentials`, `insufficient-rights`,
    /// `no-engine`, `timeout`, …
    pub problem: Option<String>,
    /// What happened and what to do.
    pub message: String,
    /// Each engine's answer.
    pub engines: Vec<EngineCheckView>,
}

impl From<CheckOutcome> for CheckView {
    fn from(c: CheckOutcome) -> Self {
        Self {
            ok: c.ok,
            problem: c.problem,
            message: c.message,
            engines: c.engines.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CalibrationView {
    pub engine_id: EngineId,
    pub engine_name: String,
    pub ok: bool,
    pub problem: Option<String>,
    pub message: String,
    #[serde(with = "time::serde::rfc3339")]
    pub checked_at: OffsetDateTime,
}

impl From<Calibration> for CalibrationView {
    fn from(c: Calibration) -> Self {
        Self {
            engine_id: c.engine_id,
            engine_name: c.engine_name,
            ok: c.ok,
            problem: c.problem,
            message: c.message,
            checked_at: c.checked_at,
        }
    }
}

/// The keys a calibration list sorts by.
pub(crate) const CALIBRATION_SORT_KEYS: &[&str] = &["engine_name", "checked_at"];

/// One page of a target's calibrations (one per engine: few), with `query` in the engine's
/// name.
pub(crate) fn calibration_page(
    found: Vec<Calibration>,
    query: Option<&str>,
    page: &alm_core::paging::PageRequest,
) -> (Vec<CalibrationView>, u64) {
    let found: Vec<Calibration> = found
        .into_iter()
        .filter(|c| matches(query, &[&c.engine_name]))
        .collect();
    let (items, total) = page.slice(found, |key, a, b| {
        match key {
            "checked_at" => a.checked_at.cmp(&b.checked_at),
            _ => a
                .engine_name
                .to_lowercase()
                .cmp(&b.engine_name.to_lowercase()),
        }
        .then(a.engine_id.cmp(&b.engine_id))
    });
    (items.into_iter().map(Into::into).collect(), total)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PoolView {
    pub id: PoolId,
    pub name: String,
    pub description: String,
    /// New domains and vaults join the default pool; the in-process engine serves it.
    pub is_default: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<PoolRecord> for PoolView {
    fn from(p: PoolRecord) -> Self {
        Self {
            id: p.id,
            name: p.name,
            description: p.description,
            is_default: p.is_default,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolBody {
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub name: Option<String>,
    #[schema(max_length = 1000)]
    pub description: Option<String>,
}

// ---- engines ----

#[derive(Debug, Serialize, ToSchema)]
pub struct EngineView {
    pub id: EngineId,
    pub name: String,
    pub host: String,
    pub version: String,
    /// `None`: unassigned.
    pub pool_id: Option<PoolId>,
    pub active: bool,
    /// `unassigned`, `inactive` or `active`.
    pub status: String,
    /// The engine inside `alm serve`.
    pub in_process: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub registered_at: OffsetDateTime,
    /// The last time it asked for work, sent a heartbeat or a result.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_seen_at: Option<OffsetDateTime>,
    pub last_address: Option<String>,
}

impl From<EngineRecord> for EngineView {
    fn from(e: EngineRecord) -> Self {
        let status = match (e.pool_id, e.active) {
            (None, _) => "unassigned",
            (Some(_), false) => "inactive",
            (Some(_), true) => "active",
        };
        Self {
            id: e.id,
            name: e.name,
            host: e.host,
            version: e.version,
            pool_id: e.pool_id,
            active: e.active,
            status: status.into(),
            in_process: e.in_process,
            registered_at: e.registered_at,
            last_seen_at: e.last_seen_at,
            last_address: e.last_address,
        }
    }
}

list_query!(EngineQuery, "^-?(registered_at|name|last_seen_at)$", q: "Part of the name or host, case-insensitive.", {
    /// Only engines not yet assigned to a pool.
    pub unassigned: Option<bool>,
    /// Only the engines of this pool.
    #[param(value_type = Option<String>, format = Uuid)]
    pub pool_id: Option<uuid::Uuid>,
});

list_query!(PoolQuery, "^-?(name|created_at)$", q: "Part of the name, case-insensitive.", {});

page_of!(PoolPage, PoolView);
page_of!(EnginePage, EngineView);
page_of!(LogLinePage, LogLineView);

/// Assign an engine to a pool and (de)activate it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EngineBody {
    /// The pool to serve; an empty string unassigns the engine.
    #[schema(pattern = "^([0-9a-fA-F-]{36})?$")]
    pub pool_id: Option<String>,
    /// Only an assigned engine can be active.
    pub active: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActivationTokenView {
    /// Give it to `alm engine --server URL --token …`; shown once, valid 8 hours, registers
    /// one engine.
    pub token: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LogLineView {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// `info`, `warn` or `error`.
    pub level: String,
    pub message: String,
}

impl From<LogLine> for LogLineView {
    fn from(l: LogLine) -> Self {
        Self {
            at: l.at,
            level: l.level,
            message: l.message,
        }
    }
}

list_query!(LogQuery, "^-?(at|level)$", q: "Part of the message, case-insensitive.", {});

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_pools, create_pool))
        .routes(routes!(get_pool, update_pool, delete_pool))
        .routes(routes!(create_activation_token))
        .routes(routes!(list_engines))
        .routes(routes!(get_engine, update_engine, delete_engine))
        .routes(routes!(engine_logs))
}

const POOL_ID: &str = "Engine pool id";
const ENGINE_ID: &str = "Engine id";

/// The engine pools, by name.
#[utoipa::path(get, path = "/api/v1/engine-pools", tag = "engines", params(PoolQuery), responses((status = 200, body = PoolPage)))]
async fn list_pools(
    State(s): State<AppState>,
    auth: Authenticated,
    ApiQuery(q): ApiQuery<PoolQuery>,
) -> ApiResult<Json<PoolPage>> {
    let can = auth.can::<perm::EngineRead>()?;
    let page = q.page(&["name", "created_at"])?;
    let query = q.query();
    let pools: Vec<PoolRecord> = svc::pools(&s.db, &can)
        .await?
        .into_iter()
        .filter(|p| matches(query.as_deref(), &[&p.name]))
        .collect();
    let (items, total) = page.slice(pools, |key, a, b| {
        match key {
            "created_at" => a.created_at.cmp(&b.created_at),
            _ => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
        }
        .then(a.id.cmp(&b.id))
    });
    Ok(Json(PoolPage::new(
        items.into_iter().map(Into::into).collect(),
        total,
        &page,
    )))
}

/// Add an engine pool.
#[utoipa::path(post, path = "/api/v1/engine-pools", tag = "engines", request_body = PoolBody, responses((status = 201, body = PoolView)))]
async fn create_pool(
    State(s): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<PoolBody>,
) -> ApiResult<(StatusCode, Json<PoolView>)> {
    let can = auth.can::<perm::EngineCreate>()?;
    let pool = svc::create_pool(
        &s.db,
        s.clock.as_ref(),
        &can,
        &auth.principal.actor,
        PoolInput {
            name: body.name,
            description: body.description,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(pool.into())))
}

/// One engine pool.
#[utoipa::path(get, path = "/api/v1/engine-pools/{id}", tag = "engines", params(("id" = String, Path, description = POOL_ID)), responses((status = 200, body = PoolView)))]
async fn get_pool(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<PoolView>> {
    let can = auth.can::<perm::EngineRead>()?;
    let id: PoolId = parse_id(&id, "engine pool")?;
    Ok(Json(svc::pool(&s.db, &can, id).await?.into()))
}

/// Rename or describe an engine pool.
#[utoipa::path(patch, path = "/api/v1/engine-pools/{id}", tag = "engines", params(("id" = String, Path, description = POOL_ID)),
    request_body = PoolBody, responses((status = 200, body = PoolView)))]
async fn update_pool(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PoolBody>,
) -> ApiResult<Json<PoolView>> {
    let can = auth.can::<perm::EngineUpdate>()?;
    let id: PoolId = parse_id(&id, "engine pool")?;
    let pool = svc::update_pool(
        &s.db,
        s.clock.as_ref(),
        &can,
        &auth.principal.actor,
        id,
        PoolInput {
            name: body.name,
            description: body.description,
        },
    )
    .await?;
    Ok(Json(pool.into()))
}

/// Remove an engine pool that nothing uses (the default pool stays).
#[utoipa::path(delete, path = "/api/v1/engine-pools/{id}", tag = "engines", params(("id" = String, Path, description = POOL_ID)), responses((status = 204)))]
async fn delete_pool(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let can = auth.can::<perm::EngineDelete>()?;
    let id: PoolId = parse_id(&id, "engine pool")?;
    svc::delete_pool(&s.db, s.clock.as_ref(), &can, &auth.principal.actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Make an activation token for registering one engine (valid 8 hours, shown once).
#[utoipa::path(post, path = "/api/v1/engine-activation-tokens", tag = "engines", responses((status = 201, body = ActivationTokenView)))]
async fn create_activation_token(
    State(s): State<AppState>,
    auth: Authenticated,
) -> ApiResult<(StatusCode, Json<ActivationTokenView>)> {
    let can = auth.can::<perm::EngineCreate>()?;
    let t =
        svc::create_activation_token(&s.db, s.clock.as_ref(), &can, &auth.principal.actor).await?;
    Ok((
        StatusCode::CREATED,
        Json(ActivationTokenView {
            token: t.token,
            expires_at: t.expires_at,
        }),
    ))
}

/// Registered engines (`?unassigned=true`: those waiting for a pool), oldest first.
#[utoipa::path(get, path = "/api/v1/engines", tag = "engines", params(EngineQuery), responses((status = 200, body = EnginePage)))]
async fn list_engines(
    State(s): State<AppState>,
    auth: Authenticated,
    ApiQuery(q): ApiQuery<EngineQuery>,
) -> ApiResult<Json<EnginePage>> {
    let can = auth.can::<perm::EngineRead>()?;
    let page = q.page(&["registered_at", "name", "last_seen_at"])?;
    let query = q.query();
    let engines: Vec<EngineRecord> = svc::list(
        &s.db,
        &can,
        q.unassigned.unwrap_or(false),
        q.pool_id.map(PoolId),
    )
    .await?
    .into_iter()
    .filter(|e| matches(query.as_deref(), &[&e.name, &e.host]))
    .collect();
    let (items, total) = page.slice(engines, |key, a, b| {
        match key {
            "name" => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
            "last_seen_at" => a.last_seen_at.cmp(&b.last_seen_at),
            _ => a.registered_at.cmp(&b.registered_at),
        }
        .then(a.id.cmp(&b.id))
    });
    Ok(Json(EnginePage::new(
        items.into_iter().map(Into::into).collect(),
        total,
        &page,
    )))
}

/// One engine.
#[utoipa::path(get, path = "/api/v1/engines/{id}", tag = "engines", params(("id" = String, Path, description = ENGINE_ID)), responses((status = 200, body = EngineView)))]
async fn get_engine(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<EngineView>> {
    let can = auth.can::<perm::EngineRead>()?;
    let id: EngineId = parse_id(&id, "engine")?;
    Ok(Json(svc::get(&s.db, &can, id).await?.into()))
}

/// Assign an engine to a pool, activate or deactivate it.
#[utoipa::path(patch, path = "/api/v1/engines/{id}", tag = "engines", params(("id" = String, Path, description = ENGINE_ID)),
    request_body = EngineBody, responses((status = 200, body = EngineView)))]
async fn update_engine(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<EngineBody>,
) -> ApiResult<Json<EngineView>> {
    let can = auth.can::<perm::EngineUpdate>()?;
    let id: EngineId = parse_id(&id, "engine")?;
    let pool_id = match body.pool_id.as_deref().map(str::trim) {
        None => None,
        Some("") => Some(None),
        Some(text) => Some(Some(text.parse::<PoolId>().map_err(|_| {
            ApiError::Validation(
                alm_core::FieldError::new("pool_id", "format", "expected a pool id (UUID)").into(),
            )
        })?)),
    };
    let engine = svc::update(
        &s.db,
        s.clock.as_ref(),
        &can,
        &auth.principal.actor,
        id,
        EngineChange {
            pool_id,
            active: body.active,
        },
    )
    .await?;
    s.queue.wake();
    Ok(Json(engine.into()))
}

/// Remove an engine: its credential stops working at once; jobs it held are queued again.
#[utoipa::path(delete, path = "/api/v1/engines/{id}", tag = "engines", params(("id" = String, Path, description = ENGINE_ID)), responses((status = 204)))]
async fn delete_engine(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let can = auth.can::<perm::EngineDelete>()?;
    let id: EngineId = parse_id(&id, "engine")?;
    svc::delete(&s.db, s.clock.as_ref(), &can, &auth.principal.actor, id).await?;
    s.queue.wake();
    s.queue.notify_finished();
    Ok(StatusCode::NO_CONTENT)
}

/// The engine's abbreviated log, newest first (Audit → Engine logs).
#[utoipa::path(get, path = "/api/v1/engines/{id}/logs", tag = "engines", params(("id" = String, Path, description = ENGINE_ID), LogQuery),
    responses((status = 200, body = LogLinePage)))]
async fn engine_logs(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<LogQuery>,
) -> ApiResult<Json<LogLinePage>> {
    let can = auth.can::<perm::EngineRead>()?;
    let id: EngineId = parse_id(&id, "engine")?;
    let page = q.page_or(alm_store::engines::LOG_SORT_KEYS, "-at")?;
    let (lines, total) = svc::logs(&s.db, &can, id, q.query().as_deref(), &page).await?;
    Ok(Json(LogLinePage::new(
        lines.into_iter().map(Into::into).collect(),
        total,
        &page,
    )))
}

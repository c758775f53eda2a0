//! `/api/v1/engine/*`: the protocol remote engines speak (SPEC §5; types in
//! `alm_engine::protocol`). Registration takes an activation token; everything else takes the
//! engine's own credential as `Authorization: Bearer alme_…`, never a person's token.

use super::error::{ApiError, ApiResult};
use super::extract::{parse_id, ApiJson};
use crate::auth::principal::source_ip;
use crate::services::engines;
use crate::state::AppState;
use alm_core::JobId;
use alm_engine::protocol::{
    CheckTargets, Completion, Heartbeat, LeaseRequest, LeaseResponse, LogBatch, RegisterRequest,
    RegisterResponse, CREDENTIAL_PREFIX,
};
use alm_store::engines::EngineRecord;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::Json;
use std::time::Duration;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// A sync result of a large directory is big (≈ 500 bytes per object).
const RESULT_LIMIT: usize = 512 * 1024 * 1024;

/// The engine a request comes from, authenticated by its credential.
pub struct EngineCaller(pub EngineRecord);

impl FromRequestParts<AppState> for EngineCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let credential = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::auth::principal::bearer_token)
            .filter(|c| c.starts_with(CREDENTIAL_PREFIX))
            .ok_or_else(|| {
                ApiError::Unauthorized(
                    "engine routes need the engine's credential as `Authorization: Bearer alme_…`"
                        .into(),
                )
            })?;
        let ip = source_ip(parts);
        let engine =
            engines::authenticate(&state.db, state.clock.as_ref(), credential, ip.as_deref())
                .await?;
        Ok(Self(engine))
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(lease))
        .routes(routes!(heartbeat))
        .routes(routes!(logs))
        .routes(routes!(check_targets))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(complete))
                .layer(DefaultBodyLimit::max(RESULT_LIMIT)),
        )
}

/// Register an engine with an activation token; answers with its own credential (once).
#[utoipa::path(post, path = "/api/v1/engine/register", tag = "engine-protocol", request_body = RegisterRequest,
    responses((status = 201, body = RegisterResponse)))]
async fn register(
    State(s): State<AppState>,
    parts: Parts,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<RegisterResponse>)> {
    let answer = engines::register(&s.db, s.clock.as_ref(), body, source_ip(&parts)).await?;
    Ok((StatusCode::CREATED, Json(answer)))
}

/// Lease jobs of the engine's pool (long poll: waits up to `wait_seconds`, at most 30).
#[utoipa::path(post, path = "/api/v1/engine/lease", tag = "engine-protocol", request_body = LeaseRequest,
    responses((status = 200, body = LeaseResponse)))]
async fn lease(
    State(s): State<AppState>,
    EngineCaller(engine): EngineCaller,
    ApiJson(body): ApiJson<LeaseRequest>,
) -> ApiResult<Json<LeaseResponse>> {
    let wait = Duration::from_secs(u64::from(body.wait_seconds.min(30)));
    Ok(Json(
        s.queue
            .lease(&engine, wait, body.max_jobs, body.running.as_deref())
            .await?,
    ))
}

/// Report the result of a leased job (refused with 409 when the lease is no longer held).
#[utoipa::path(post, path = "/api/v1/engine/jobs/{id}/complete", tag = "engine-protocol", params(("id" = String, Path, description = "Job id")),
    request_body = Completion, responses((status = 204)))]
async fn complete(
    State(s): State<AppState>,
    EngineCaller(engine): EngineCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Completion>,
) -> ApiResult<StatusCode> {
    let id: JobId = parse_id(&id, "job")?;
    s.queue.complete(&engine, id, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Say the engine is alive and keep the leases of the jobs it is running.
#[utoipa::path(post, path = "/api/v1/engine/heartbeat", tag = "engine-protocol", request_body = Heartbeat,
    responses((status = 204)))]
async fn heartbeat(
    State(s): State<AppState>,
    EngineCaller(engine): EngineCaller,
    ApiJson(body): ApiJson<Heartbeat>,
) -> ApiResult<StatusCode> {
    s.queue.heartbeat(&engine, &body.job_ids).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Store lines of the engine's abbreviated log.
#[utoipa::path(post, path = "/api/v1/engine/logs", tag = "engine-protocol", request_body = LogBatch,
    responses((status = 204)))]
async fn logs(
    State(s): State<AppState>,
    EngineCaller(engine): EngineCaller,
    ApiJson(body): ApiJson<LogBatch>,
) -> ApiResult<StatusCode> {
    engines::append_logs(&s.db, &engine, body.lines).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What `alm engine check` tests from the engine's host: the domains and external vaults of
/// the engine's pool with their settings and secrets, as the jobs about them carry them.
/// Refused with 409 to an engine that is not assigned to a pool or not active.
#[utoipa::path(get, path = "/api/v1/engine/check-targets", tag = "engine-protocol",
    responses((status = 200, body = CheckTargets)))]
async fn check_targets(
    State(s): State<AppState>,
    EngineCaller(engine): EngineCaller,
) -> ApiResult<Json<CheckTargets>> {
    Ok(Json(
        engines::check_targets(&s.db, s.clock.as_ref(), &s.master_key, &engine).await?,
    ))
}

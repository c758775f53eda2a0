//! `/api/v1/jobs`: the engine queue's jobs as administrators see them (SPEC §5), with state,
//! attempts and errors.

use super::error::{ApiError, ApiResult};
use super::extract::{parse_id, ApiQuery};
use super::{list_query, page_of};
use crate::auth::principal::Authenticated;
use crate::state::AppState;
use alm_core::job_kind::JobStatus;
use alm_core::permissions::perm;
use alm_core::{EngineId, JobId, PoolId};
use alm_store::jobs::JobRecord;
use axum::extract::{Path, State};
use axum::Json;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_jobs))
        .routes(routes!(get_job))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    pub id: JobId,
    /// `domain-sync`, `domain-check` or `vault-check`.
    pub kind: String,
    pub pool_id: PoolId,
    /// Set when only this engine may run the job (calibration).
    pub engine_id: Option<EngineId>,
    pub subject_type: String,
    pub subject_id: String,
    /// `queued`, `leased`, `succeeded` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub leased_by: Option<EngineId>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub lease_expires_at: Option<OffsetDateTime>,
    /// A short summary of the outcome.
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
    pub error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
}

impl From<JobRecord> for JobView {
    fn from(j: JobRecord) -> Self {
        Self {
            id: j.id,
            kind: j.kind.as_str().into(),
            pool_id: j.pool_id,
            engine_id: j.engine_id,
            subject_type: j.subject_type,
            subject_id: j.subject_id,
            status: j.status.as_str().to_owned(),
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            leased_by: j.leased_by,
            lease_expires_at: j.lease_expires_at,
            result: j.result.and_then(|r| serde_json::from_str(&r).ok()),
            error: j.error,
            created_at: j.created_at,
            finished_at: j.finished_at,
        }
    }
}

// ---- pools ----

list_query!(JobQuery, "^-?(created_at|kind|status)$", {
    /// `queued`, `leased`, `succeeded` or `failed`.
    #[param(pattern = "^(queued|leased|succeeded|failed)$")]
    pub status: Option<String>,
});

page_of!(JobPage, JobView);

/// Jobs in the engine queue, newest first.
#[utoipa::path(get, path = "/api/v1/jobs", tag = "engines", params(JobQuery), responses((status = 200, body = JobPage)))]
async fn list_jobs(
    State(s): State<AppState>,
    auth: Authenticated,
    ApiQuery(q): ApiQuery<JobQuery>,
) -> ApiResult<Json<JobPage>> {
    let can = auth.can::<perm::EngineRead>()?;
    let status = match q.status.as_deref() {
        None => None,
        Some(st) => Some(JobStatus::parse(st).ok_or_else(|| ApiError::BadRequest {
            detail: "status: must be queued, leased, succeeded or failed".into(),
            errors: vec![alm_core::FieldError::new(
                "status",
                "one-of",
                "must be queued, leased, succeeded or failed",
            )],
        })?),
    };
    let page = q.page_or(alm_store::jobs::SORT_KEYS, "-created_at")?;
    let (jobs, total) = s.queue.list(&can, status, &page).await?;
    Ok(Json(JobPage::new(
        jobs.into_iter().map(Into::into).collect(),
        total,
        &page,
    )))
}

/// One job.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "engines", params(("id" = String, Path, description = "Job id")), responses((status = 200, body = JobView)))]
async fn get_job(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<JobView>> {
    let can = auth.can::<perm::EngineRead>()?;
    let id: JobId = parse_id(&id, "job")?;
    Ok(Json(s.queue.get(&can, id).await?.into()))
}

//! `/api/v1/scheduler/sweep`: run the lifecycle sweep now, as the scheduler does.

use super::error::ApiResult;
use crate::auth::principal::Authenticated;
use crate::state::AppState;
use alm_core::permissions::perm;
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(sweep_now))
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

//! `/api/v1/usage`: how many users and engines are in use (SPEC §6.3's usage page).

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

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageView {
    /// Every user, enabled ones, and those brought in by user sync.
    pub users: i64,
    pub users_enabled: i64,
    pub users_synced: i64,
    /// Every registered engine, those active in a pool, those waiting for a pool.
    pub engines: i64,
    pub engines_active: i64,
    pub engines_unassigned: i64,
    pub domains: i64,
    pub vaults: i64,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(usage))
}

/// Users and engines in use.
#[utoipa::path(get, path = "/api/v1/usage", tag = "usage", responses((status = 200, body = UsageView)))]
async fn usage(State(s): State<AppState>, auth: Authenticated) -> ApiResult<Json<UsageView>> {
    let can = auth.can::<perm::ConfigurationRead>()?;
    let u = crate::services::usage(&s.db, &can).await?;
    Ok(Json(UsageView {
        users: u.users,
        users_enabled: u.users_enabled,
        users_synced: u.users_synced,
        engines: u.engines,
        engines_active: u.engines_active,
        engines_unassigned: u.engines_unassigned,
        domains: u.domains,
        vaults: u.vaults,
    }))
}

//! `GET /api/v1/me`: who am I, and what may I do. Needs no permission beyond being logged in.

use super::error::ApiResult;
use super::users::UserDetailView;
use crate::auth::csrf;
use crate::auth::principal::Authenticated;
use crate::services::login::Credential;
use crate::services::users;
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Debug, Serialize, ToSchema)]
pub struct MeView {
    pub user: UserDetailView,
    /// Effective permissions: direct roles plus roles of enabled groups, disabled roles ignored.
    pub permissions: Vec<String>,
    /// `session` or `api-token`.
    pub authenticated_by: String,
    /// For cookie sessions: send it as `X-CSRF-Token` with every change.
    pub csrf_token: Option<String>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(me))
}

/// The caller, their effective permissions and how they authenticated.
#[utoipa::path(get, path = "/api/v1/me", tag = "me", responses((status = 200, body = MeView)))]
async fn me(State(s): State<AppState>, auth: Authenticated) -> ApiResult<Json<MeView>> {
    let detail = users::get_self(&s.db, &auth.principal).await?;
    let (authenticated_by, csrf_token) = match &auth.credential {
        Credential::Session { secret, .. } => ("session", Some(csrf::token_for(secret))),
        Credential::ApiToken { .. } => ("api-token", None),
    };
    Ok(Json(MeView {
        user: detail.into(),
        permissions: auth
            .principal
            .permissions
            .iter()
            .map(|p| p.to_string())
            .collect(),
        authenticated_by: authenticated_by.into(),
        csrf_token,
    }))
}

//! `/api/v1/api-tokens`: tokens for scripts and other systems (SPEC §9).

use super::error::ApiResult;
use super::extract::{parse_id, ApiJson, ApiQuery};
use super::page_of;
use crate::auth::principal::Authenticated;
use crate::services::api_tokens::{self as svc, CreateToken};
use crate::state::AppState;
use alm_core::permissions::perm;
use alm_core::{TokenId, UserId};
use alm_store::api_tokens::{TokenRecord, SORT_KEYS};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    pub id: TokenId,
    pub user_id: UserId,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

impl From<TokenRecord> for TokenView {
    fn from(t: TokenRecord) -> Self {
        Self {
            id: t.id,
            user_id: t.user_id,
            name: t.name,
            created_at: t.created_at,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

page_of!(TokenPage, TokenView);

#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedTokenView {
    #[serde(flatten)]
    pub token: TokenView,
    /// The secret: shown this once, never again. Send it as `Authorization: Bearer <token>`.
    pub token_secret: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenBody {
    /// What the token is for, 1 to 128 characters.
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub name: String,
    /// Days until it expires (1 to 3650); omit for no expiry.
    #[schema(minimum = 1, maximum = 3650)]
    pub expires_in_days: Option<u32>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    pub offset: Option<u64>,
    /// `created_at`, `name` or `expires_at`; `-` prefix for descending.
    #[param(pattern = "^-?(created_at|name|expires_at)$")]
    pub sort: Option<String>,
    /// Only this user's tokens (with `api-token:manage`; otherwise always your own).
    pub user_id: Option<UserId>,
    /// Part of the token's name, case-insensitive.
    pub q: Option<String>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
}

/// List API tokens (yours; everyone's with `api-token:manage`). Secrets are never listed.
#[utoipa::path(get, path = "/api/v1/api-tokens", tag = "api-tokens", params(TokenQuery), responses((status = 200, body = TokenPage)))]
async fn list_tokens(
    State(s): State<AppState>,
    auth: Authenticated,
    ApiQuery(q): ApiQuery<TokenQuery>,
) -> ApiResult<Json<TokenPage>> {
    let can = auth.can::<perm::ApiTokenRead>()?;
    let page =
        alm_core::paging::PageRequest::parse(q.limit, q.offset, q.sort.as_deref(), SORT_KEYS)
            .map_err(|e| super::error::ApiError::BadRequest {
                detail: e.to_string(),
                errors: e.0,
            })?;
    let query = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let (items, total) = svc::list(&s.db, &can, q.user_id, query, &page).await?;
    Ok(Json(TokenPage::new(
        items.into_iter().map(Into::into).collect(),
        total,
        &page,
    )))
}

/// Create an API token for yourself; the response holds the secret, once.
#[utoipa::path(post, path = "/api/v1/api-tokens", tag = "api-tokens", request_body = CreateTokenBody,
    responses((status = 201, body = IssuedTokenView)))]
async fn create_token(
    State(s): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<CreateTokenBody>,
) -> ApiResult<(StatusCode, Json<IssuedTokenView>)> {
    let can = auth.can::<perm::ApiTokenCreate>()?;
    let issued = svc::create(
        &s.db,
        s.clock.as_ref(),
        &can,
        &auth.principal.actor,
        CreateToken {
            name: body.name,
            expires_in_days: body.expires_in_days,
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(IssuedTokenView {
            token: issued.record.into(),
            token_secret: issued.secret,
        }),
    ))
}

/// Revoke an API token (yours; anyone's with `api-token:manage`).
#[utoipa::path(delete, path = "/api/v1/api-tokens/{id}", tag = "api-tokens", params(("id" = String, Path, description = "Token id")),
    responses((status = 200, body = TokenView)))]
async fn revoke_token(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<TokenView>> {
    let can = auth.can::<perm::ApiTokenDelete>()?;
    let id: TokenId = parse_id(&id, "API token")?;
    Ok(Json(
        svc::revoke(&s.db, s.clock.as_ref(), &can, &auth.principal.actor, id)
            .await?
            .into(),
    ))
}

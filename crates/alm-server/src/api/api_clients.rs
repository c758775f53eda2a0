//! `/api/v1/api-clients`: external systems that act through OAuth 2.0 client credentials
//! (SPEC §7.7, §9), and `POST /oauth/token`, where they obtain their access tokens
//! (RFC 6749 §4.4). The token endpoint speaks RFC 6749 (form-encoded request, its own error
//! document), not the JSON API, so it is outside the OpenAPI document.

use super::error::{ApiError, ApiResult};
use super::extract::{parse_id, ApiJson, ApiQuery};
use super::page_of;
use crate::auth::client_addr::{client_of, ClientIp};
use crate::auth::principal::Authenticated;
use crate::services::api_clients::{self as svc, CreateClient, TokenRefusal};
use crate::state::AppState;
use alm_core::permissions::perm;
use alm_core::{RoleId, UserId};
use alm_store::api_clients::{ClientRecord, SORT_KEYS};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

#[derive(Debug, Serialize, ToSchema)]
pub struct ClientView {
    pub id: Uuid,
    /// What it authenticates with at `POST /oauth/token` (with its secret).
    pub client_id: String,
    pub name: String,
    /// The role it acts with.
    pub role_id: RoleId,
    /// The user it acts as: list this id as an approver of a template step for the client to
    /// approve or deny there.
    pub user_id: UserId,
    pub created_by: Option<UserId>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

impl From<ClientRecord> for ClientView {
    fn from(c: ClientRecord) -> Self {
        Self {
            id: c.id,
            client_id: c.client_id,
            name: c.name,
            role_id: c.role_id,
            user_id: c.user_id,
            created_by: c.created_by,
            created_at: c.created_at,
            expires_at: c.expires_at,
            revoked_at: c.revoked_at,
        }
    }
}

page_of!(ClientPage, ClientView);

#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedClientView {
    #[serde(flatten)]
    pub client: ClientView,
    /// The client secret: shown this once, never again.
    pub client_secret: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateClientBody {
    /// What the client is (the ticketing system's name), 1 to 128 characters.
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub name: String,
    /// The role it acts with: every permission of it must be one you hold.
    pub role_id: Option<String>,
    /// Days until it expires (1 to 3650); omit for no expiry.
    #[schema(minimum = 1, maximum = 3650)]
    pub expires_in_days: Option<u32>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ClientQuery {
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    pub offset: Option<u64>,
    /// `created_at`, `name` or `expires_at`; `-` prefix for descending.
    #[param(pattern = "^-?(created_at|name|expires_at)$")]
    pub sort: Option<String>,
    /// Part of the client's name, case-insensitive.
    pub q: Option<String>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_clients, create_client))
        .routes(routes!(get_client, revoke_client))
}

/// `POST /oauth/token` (outside the OpenAPI document: RFC 6749 describes it).
pub fn oauth_router() -> Router<AppState> {
    Router::new().route("/oauth/token", axum::routing::post(token))
}

/// List API clients. Secrets are never listed.
#[utoipa::path(get, path = "/api/v1/api-clients", tag = "api-clients", params(ClientQuery), responses((status = 200, body = ClientPage)))]
async fn list_clients(
    State(s): State<AppState>,
    auth: Authenticated,
    ApiQuery(q): ApiQuery<ClientQuery>,
) -> ApiResult<Json<ClientPage>> {
    let can = auth.can::<perm::ApiClientRead>()?;
    let page =
        alm_core::paging::PageRequest::parse(q.limit, q.offset, q.sort.as_deref(), SORT_KEYS)
            .map_err(|e| ApiError::BadRequest {
                detail: e.to_string(),
                errors: e.0,
            })?;
    let query = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let (items, total) = svc::list(&s.db, &can, query, &page).await?;
    Ok(Json(ClientPage::new(
        items.into_iter().map(Into::into).collect(),
        total,
        &page,
    )))
}

/// Create an API client acting with a role you could give yourself; the response holds its
/// secret, once.
#[utoipa::path(post, path = "/api/v1/api-clients", tag = "api-clients", request_body = CreateClientBody,
    responses((status = 201, body = IssuedClientView)))]
async fn create_client(
    State(s): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<CreateClientBody>,
) -> ApiResult<(StatusCode, Json<IssuedClientView>)> {
    let can = auth.can::<perm::ApiClientCreate>()?;
    let issued = svc::create(
        &s.db,
        s.clock.as_ref(),
        &can,
        &auth.principal.permissions,
        &auth.principal.actor,
        CreateClient {
            name: body.name,
            role_id: body.role_id,
            expires_in_days: body.expires_in_days,
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(IssuedClientView {
            client: issued.record.into(),
            client_secret: issued.secret,
        }),
    ))
}

/// One API client.
#[utoipa::path(get, path = "/api/v1/api-clients/{id}", tag = "api-clients", params(("id" = String, Path, description = "API client id")),
    responses((status = 200, body = ClientView)))]
async fn get_client(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<ClientView>> {
    let can = auth.can::<perm::ApiClientRead>()?;
    let id: Uuid = parse_id(&id, "API client")?;
    Ok(Json(svc::get(&s.db, &can, id).await?.into()))
}

/// Revoke an API client: its tokens stop at once and it gets no new one.
#[utoipa::path(delete, path = "/api/v1/api-clients/{id}", tag = "api-clients", params(("id" = String, Path, description = "API client id")),
    responses((status = 200, body = ClientView)))]
async fn revoke_client(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<ClientView>> {
    let can = auth.can::<perm::ApiClientDelete>()?;
    let id: Uuid = parse_id(&id, "API client")?;
    Ok(Json(
        svc::revoke(&s.db, s.clock.as_ref(), &can, &auth.principal.actor, id)
            .await?
            .into(),
    ))
}

/// An RFC 6749 §5.2 error: `error`, a description, and for a client that authenticated with
/// HTTP Basic a 401 with its challenge.
fn oauth_error(status: StatusCode, error: &str, description: &str, basic: bool) -> Response {
    let mut response = (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if basic && status == StatusCode::UNAUTHORIZED {
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"alm\""),
        );
    }
    response
}

/// The client id and secret of an `Authorization: Basic` value: each form-urlencoded before
/// the base64 (RFC 6749 §2.3.1).
fn basic_credentials(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let unescape = |s: &str| -> Option<String> {
        url::form_urlencoded::parse(format!("v={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

/// The client-credentials grant (RFC 6749 §4.4): the client authenticates with HTTP Basic
/// (`client_secret_basic`) or with `client_id` and `client_secret` in the form
/// (`client_secret_post`), never both; the answer is a bearer token for an hour at most.
async fn token(State(s): State<AppState>, request: axum::extract::Request) -> Response {
    let (parts, body) = request.into_parts();
    // A token request is a few short fields.
    let Ok(body): Result<Bytes, _> = axum::body::to_bytes(body, 16 * 1024).await else {
        return oauth_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            "the request body is larger than a token request can be (16 KiB)",
            false,
        );
    };
    let headers: &HeaderMap = &parts.headers;
    let basic = headers.get(header::AUTHORIZATION);
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form_type {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be application/x-www-form-urlencoded (RFC 6749 §4.4.2)",
            basic.is_some(),
        );
    }
    let mut fields: Vec<(String, String)> = Vec::new();
    for (k, v) in url::form_urlencoded::parse(&body) {
        if fields.iter().any(|(seen, _)| *seen == k) {
            // RFC 6749 §3.2: parameters must not be included more than once.
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("the parameter {k} is given more than once"),
                basic.is_some(),
            );
        }
        fields.push((k.into_owned(), v.into_owned()));
    }
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    match field("grant_type") {
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required (client_credentials)",
                basic.is_some(),
            )
        }
        Some("client_credentials") => {}
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only the client_credentials grant is offered",
                basic.is_some(),
            )
        }
    }
    let in_form = (field("client_id"), field("client_secret"));
    let (client_id, secret) = match (basic, in_form) {
        (Some(_), (_, Some(_))) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "authenticate one way: HTTP Basic or client_secret in the form, not both",
                true,
            )
        }
        (Some(value), (form_id, None)) => {
            let Some((id, secret)) = value.to_str().ok().and_then(basic_credentials) else {
                return oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "the Authorization header must be HTTP Basic with the client id and secret",
                    true,
                );
            };
            if form_id.is_some_and(|f| f != id) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "client_id in the form differs from the one authenticated",
                    true,
                );
            }
            (id, secret)
        }
        (None, (Some(id), Some(secret))) => (id.to_owned(), secret.to_owned()),
        (None, _) => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "authenticate with HTTP Basic, or client_id and client_secret in the form",
                false,
            )
        }
    };
    let Some(ClientIp(source)) = client_of(&parts) else {
        return ApiError::Internal(anyhow::anyhow!("the request carries no client address"))
            .into_response();
    };
    match svc::token(
        &s.db,
        s.clock.as_ref(),
        &s.login_throttle,
        &client_id,
        &secret,
        source,
    )
    .await
    {
        Ok(Ok(t)) => {
            let mut response = Json(json!({
                "access_token": t.token,
                "token_type": "Bearer",
                "expires_in": t.expires_in,
            }))
            .into_response();
            let h = response.headers_mut();
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            response
        }
        Ok(Err(TokenRefusal::Throttled { seconds })) => {
            let mut response = oauth_error(
                StatusCode::TOO_MANY_REQUESTS,
                "invalid_client",
                &format!("too many failed attempts; try again in {seconds} seconds"),
                basic.is_some(),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            response
        }
        Ok(Err(TokenRefusal::InvalidClient)) => oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client, wrong secret, or the client is revoked or expired",
            basic.is_some(),
        ),
        Err(e) => ApiError::from(e).into_response(),
    }
}

//! Logging in and out: `/api/v1/auth/*` for passwords, `/auth/oidc/*` for the identity
//! provider (browser redirects and plain HTML pages, not JSON).

use super::error::{ApiError, ApiResult};
use super::extract::ApiJson;
use super::users::UserView;
use crate::auth::client_addr::ClientIp;
use crate::auth::cookies::{clear_cookie, password_sign_in, session_cookie};
use crate::auth::principal::{cookie_name, cookie_value, Authenticated};
use crate::services::audit::{record_refusal, Subject};
use crate::services::login::{self, Credential};
use crate::services::Actor;
use crate::state::AppState;
use crate::ui::message_page as page;
use crate::ui::sign_in::safe_return_to;
use alm_store::audit_log::Outcome;
use alm_store::oidc_logins::PendingLogin;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const OIDC_STATE_COOKIE: &str = "alm_oidc_state";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginView {
    pub user: UserView,
    /// Send as `X-CSRF-Token` with every state-changing request of this session.
    pub csrf_token: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login_password))
        .routes(routes!(logout))
}

/// The browser-facing OIDC routes (outside the JSON API and its OpenAPI document).
pub fn oidc_router() -> Router<AppState> {
    Router::new()
        .route("/auth/oidc/login", get(oidc_login))
        .route("/auth/oidc/callback", get(oidc_callback))
}

/// Log in with a local password; sets the session cookie.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "session", request_body = LoginBody, security(()),
    responses((status = 200, body = LoginView, headers(("set-cookie" = String, description = "The session cookie")))))]
async fn login_password(
    State(s): State<AppState>,
    ClientIp(client): ClientIp,
    ApiJson(body): ApiJson<LoginBody>,
) -> ApiResult<Response> {
    let session = password_sign_in(&s, &body.email, &body.password, client).await?;
    let cookie = session_cookie(&s, &session);
    let view = LoginView {
        user: session.user.into(),
        csrf_token: session.csrf_token,
        expires_at: session.expires_at,
    };
    let mut response = Json(view).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// End the current session (cookie sessions only; revoke API tokens instead).
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "session", responses((status = 204)))]
async fn logout(State(s): State<AppState>, auth: Authenticated) -> ApiResult<Response> {
    let Credential::Session { id, .. } = auth.credential else {
        return Err(ApiError::NotAllowed(
            "an API token has no session to end; revoke the token instead".into(),
        ));
    };
    login::logout(&s.db, s.clock.as_ref(), &auth.principal.actor, id).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        clear_cookie(
            cookie_name(s.config.secure_cookies()),
            "/",
            s.config.secure_cookies(),
        ),
    );
    Ok(response)
}

#[derive(Debug, Deserialize)]
struct OidcLoginQuery {
    return_to: Option<String>,
}

async fn oidc_login(State(s): State<AppState>, Query(q): Query<OidcLoginQuery>) -> Response {
    let Some(oidc) = s.oidc.clone() else {
        return page(
            StatusCode::NOT_FOUND,
            "Single sign-on is not configured",
            "Ask your administrator to set auth.oidc.",
        );
    };
    let start = match oidc.start().await {
        Ok(start) => start,
        Err(e) => {
            tracing::warn!(error = %e, "OIDC login could not start");
            return page(
                StatusCode::BAD_GATEWAY,
                "The identity provider is unreachable",
                &e.to_string(),
            );
        }
    };
    let now = s.clock.now();
    let pending = PendingLogin {
        pkce_verifier: start.pkce_verifier,
        nonce: start.nonce,
        return_to: safe_return_to(q.return_to.as_deref()),
    };
    if let Err(e) = crate::services::oidc_logins::remember(&s.db, &start.state, &pending, now).await
    {
        return ApiError::from(e).into_response();
    }
    let secure = s.config.secure_cookies();
    let cookie = format!(
        "{OIDC_STATE_COOKIE}={}; Path=/auth/oidc; HttpOnly; SameSite=Lax; Max-Age=600{}",
        start.state,
        if secure { "; Secure" } else { "" }
    );
    let mut response = Redirect::to(&start.authorize_url).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("ASCII"),
    );
    response
}

#[derive(Debug, Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn oidc_callback(
    State(s): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let Some(oidc) = s.oidc.clone() else {
        return page(
            StatusCode::NOT_FOUND,
            "Single sign-on is not configured",
            "Ask your administrator to set auth.oidc.",
        );
    };
    let ip = Some(client.to_string());
    let refuse =
        |status: StatusCode, title: &'static str, message: String, email: Option<String>| {
            let s = s.clone();
            let ip = ip.clone();
            async move {
                let actor = Actor {
                    user_id: None,
                    name: None,
                    email,
                    source_ip: ip,
                };
                if let Err(e) = record_refusal(
                    &s.db,
                    s.clock.as_ref(),
                    &actor,
                    "login.oidc",
                    Subject {
                        object_type: "session",
                        object_id: None,
                    },
                    Outcome::Denied,
                    serde_json::json!({"reason": message}),
                )
                .await
                {
                    return ApiError::from(e).into_response();
                }
                page(status, title, &message)
            }
        };
    if let Some(error) = q.error {
        let detail = q.error_description.unwrap_or_default();
        return refuse(
            StatusCode::FORBIDDEN,
            "Login was not completed",
            format!("The identity provider said: {error} {detail}"),
            None,
        )
        .await;
    }
    let (Some(code), Some(state)) = (q.code, q.state) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Incomplete login",
            "The identity provider sent no code or state. Start again.",
        );
    };
    // The state must come back to the browser that started the login (login CSRF).
    let parts_cookie = {
        let mut req = axum::http::Request::new(());
        *req.headers_mut() = headers;
        let (parts, _) = req.into_parts();
        cookie_value(&parts, OIDC_STATE_COOKIE)
    };
    if parts_cookie.as_deref() != Some(state.as_str()) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "Login could not be verified",
            "This login was started in another browser or has expired. Start again.".into(),
            None,
        )
        .await;
    }
    let taken = crate::services::oidc_logins::take(&s.db, &state, s.clock.now()).await;
    let pending = match taken {
        Ok(Some(p)) => p,
        Ok(None) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "Login expired",
                "This login link was used already or is older than 10 minutes. Start again.".into(),
                None,
            )
            .await
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    let email = match oidc
        .finish(code, pending.pkce_verifier, pending.nonce)
        .await
    {
        Ok(email) => email,
        Err(e) => {
            tracing::warn!(error = %e, "OIDC login refused");
            return refuse(StatusCode::FORBIDDEN, "Login refused", e.to_string(), None).await;
        }
    };
    let user = match login::user_for_oidc_email(&s.db, &email).await {
        Ok(Ok(u)) => u,
        Ok(Err(reason)) => {
            return refuse(
                StatusCode::FORBIDDEN,
                "You cannot use alm yet",
                // The address goes into the record's erasable personal part (SPEC §13), not
                // into its summary, which the hash chain covers for ever.
                reason.to_string(),
                Some(email),
            )
            .await;
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    let actor = Actor {
        user_id: Some(user.id),
        name: Some(user.display_name.clone()),
        email: Some(email),
        source_ip: ip,
    };
    let session = match login::start_session(
        &s.db,
        s.clock.as_ref(),
        &actor,
        user,
        "oidc",
        s.config.auth.session_hours,
    )
    .await
    {
        Ok(session) => session,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let mut response = Redirect::to(&pending.return_to).into_response();
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, session_cookie(&s, &session));
    headers.append(
        header::SET_COOKIE,
        clear_cookie(OIDC_STATE_COOKIE, "/auth/oidc", s.config.secure_cookies()),
    );
    response
}

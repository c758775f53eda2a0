//! `GET /`: where a browser lands (also after single sign-on). Says who is signed in and
//! where to go next, until the web UI arrives.

use super::{escape, page};
use crate::auth::principal::{cookie_name, cookie_value};
use crate::services::login;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(home))
}

async fn home(State(s): State<AppState>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let signed_in = match cookie_value(&parts, cookie_name(s.config.secure_cookies())) {
        Some(secret) => login::principal_from_session(&s.db, s.clock.as_ref(), &secret, None)
            .await
            .ok()
            .flatten(),
        None => None,
    };
    let mut body = String::from("<p>alm is running.</p>");
    match signed_in {
        Some((p, _)) => body.push_str(&format!(
            "<p>You are signed in as <strong>{}</strong> ({}).</p>",
            escape(p.actor.name.as_deref().unwrap_or("")),
            escape(p.actor.email.as_deref().unwrap_or(""))
        )),
        None if s.oidc.is_some() => body.push_str("<p><a href=\"/auth/oidc/login\">Sign in with single sign-on</a></p>"),
        None => body.push_str(
            "<p>Sign in through the API: <code>POST /api/v1/auth/login</code> with your email and password.</p>",
        ),
    }
    body.push_str(
        "<p>The web interface is coming; everything works through the REST API today: \
         <a href=\"/api/v1/openapi.json\">its OpenAPI description</a>, <a href=\"/api/v1/me\">who am I</a>.</p>",
    );
    page(StatusCode::OK, "alm", &body)
}

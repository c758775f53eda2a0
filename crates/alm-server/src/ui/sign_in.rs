//! Signing in and out in the browser (SPEC §9): the email and password form when local login
//! is on, "Sign in with <provider>" when OIDC is configured, clear messages for a wrong
//! password, a disabled or unknown account (one message: which one is not told), and the
//! rate limit; sign out ends the session.
//!
//! The sign-in form has no session yet, so its CSRF token is a random value kept in a
//! short-lived cookie and repeated in the form (a cross-site page can post the form but not
//! read or set the cookie).

use super::browser::{Browser, SignedIn};
use super::{errors, render, Chrome, FormError};
use crate::auth::client_addr::ClientIp;
use crate::auth::cookies::{clear_cookie, password_sign_in, session_cookie};
use crate::auth::principal::{cookie_name, cookie_value};
use crate::auth::secret_token;
use crate::services::login::{self, LoginError};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use subtle::ConstantTimeEq;

/// The cookie that holds the sign-in form's token (path-bound to the form).
const FORM_COOKIE: &str = "alm_sign_in";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sign-in", get(show).post(submit))
        .route("/sign-out", post(sign_out))
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    chrome: Chrome,
    title: &'static str,
    errors: Vec<FormError>,
    notice: Option<&'static str>,
    oidc_provider: Option<String>,
    local_login: bool,
    csrf_token: String,
    return_to: String,
    email: String,
    email_error: Option<String>,
    password_error: Option<String>,
}

impl SignInPage {
    fn new(s: &AppState, csrf_token: String, return_to: String) -> Self {
        Self {
            chrome: Chrome::new(None, "/sign-in").narrow(),
            title: "Sign in",
            errors: Vec::new(),
            notice: None,
            oidc_provider: s
                .oidc
                .as_ref()
                .and(s.config.auth.oidc.as_ref())
                .map(|o| provider_name(&o.issuer)),
            local_login: s.config.auth.local_login,
            csrf_token,
            return_to,
            email: String::new(),
            email_error: None,
            password_error: None,
        }
    }

    fn error(&mut self, field: &'static str, message: &str) {
        match field {
            "email" => self.email_error = Some(message.to_owned()),
            _ => self.password_error = Some(message.to_owned()),
        }
        self.errors.push(FormError {
            field: field.into(),
            message: message.to_owned(),
        });
        self.chrome.has_errors = true;
    }
}

/// How the sign-in button names the identity provider: the host of its issuer URL.
fn provider_name(issuer: &str) -> String {
    url::Url::parse(issuer)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "single sign-on".to_owned())
}

/// Only paths on this server: never another site (no open redirect).
pub fn safe_return_to(value: Option<&str>) -> String {
    match value {
        Some(v) if v.starts_with('/') && !v.starts_with("//") && !v.contains('\\') => v.to_owned(),
        _ => "/".to_owned(),
    }
}

#[derive(Debug, Deserialize)]
struct ShowQuery {
    return_to: Option<String>,
    signed_out: Option<String>,
}

fn form_cookie(token: &str, secure: bool) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{FORM_COOKIE}={token}; Path=/sign-in; HttpOnly; SameSite=Strict; Max-Age=3600{}",
        if secure { "; Secure" } else { "" }
    ))
    .expect("the token is ASCII")
}

/// The page with a fresh form token (set in the cookie the post must bring back).
fn with_form_token(s: &AppState, status: StatusCode, mut page: SignInPage) -> Response {
    let token = secret_token::random_secret();
    page.csrf_token = token.clone();
    let mut response = render(status, &page);
    response.headers_mut().append(
        header::SET_COOKIE,
        form_cookie(&token, s.config.secure_cookies()),
    );
    response
}

async fn show(State(s): State<AppState>, browser: Browser, Query(q): Query<ShowQuery>) -> Response {
    let return_to = safe_return_to(q.return_to.as_deref());
    if browser.signed_in.is_some() {
        return Redirect::to(&return_to).into_response();
    }
    let mut page = SignInPage::new(&s, String::new(), return_to);
    if q.signed_out.is_some() {
        page.notice = Some("You have signed out.");
    }
    with_form_token(&s, StatusCode::OK, page)
}

#[derive(Debug, Deserialize)]
struct SignInForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    return_to: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

async fn submit(
    State(s): State<AppState>,
    ClientIp(client): ClientIp,
    parts: Parts,
    Form(form): Form<SignInForm>,
) -> Response {
    let return_to = safe_return_to(Some(&form.return_to));
    let cookie = cookie_value(&parts, FORM_COOKIE).unwrap_or_default();
    let verified =
        !cookie.is_empty() && bool::from(cookie.as_bytes().ct_eq(form.csrf_token.as_bytes()));
    if !verified {
        return errors::form_not_verified(None, "/sign-in");
    }
    let mut page = SignInPage::new(&s, String::new(), return_to.clone());
    page.email = form.email.trim().to_owned();
    if page.email.is_empty() {
        page.error("email", "Enter your email address");
    }
    if form.password.is_empty() {
        page.error("password", "Enter your password");
    }
    if !page.errors.is_empty() {
        return with_form_token(&s, StatusCode::UNPROCESSABLE_ENTITY, page);
    }
    let outcome = password_sign_in(&s, &form.email, &form.password, client).await;
    let status = match outcome {
        Ok(session) => {
            let mut response = Redirect::to(&return_to).into_response();
            let headers = response.headers_mut();
            headers.append(header::SET_COOKIE, session_cookie(&s, &session));
            headers.append(
                header::SET_COOKIE,
                clear_cookie(FORM_COOKIE, "/sign-in", s.config.secure_cookies()),
            );
            return response;
        }
        Err(LoginError::Refused) => {
            page.error(
                "email",
                "Enter a correct email address and password. If they are right, your account may be disabled: ask an administrator",
            );
            StatusCode::UNAUTHORIZED
        }
        Err(LoginError::Locked { seconds }) => {
            page.error(
                "password",
                &format!("Too many failed sign-ins: wait {seconds} seconds, then try again"),
            );
            StatusCode::TOO_MANY_REQUESTS
        }
        Err(LoginError::LocalLoginOff) => {
            page.error(
                "email",
                "Signing in with a password is switched off here: use your identity provider",
            );
            StatusCode::FORBIDDEN
        }
        Err(LoginError::Service(e)) => {
            return errors::internal(&parts, &e);
        }
    };
    with_form_token(&s, status, page)
}

#[derive(Debug, Deserialize)]
struct SignOutForm {
    #[serde(default)]
    csrf_token: String,
}

async fn sign_out(
    State(s): State<AppState>,
    browser: Browser,
    Form(form): Form<SignOutForm>,
) -> Response {
    let Some(signed_in): Option<SignedIn> = browser.signed_in else {
        return Redirect::to("/sign-in").into_response();
    };
    if !signed_in.csrf_ok(&form.csrf_token) {
        return errors::form_not_verified(Some(&signed_in), "/sign-out");
    }
    if let Err(e) = login::logout(
        &s.db,
        s.clock.as_ref(),
        &signed_in.principal.actor,
        signed_in.session,
    )
    .await
    {
        return errors::internal_with_id(Some(&signed_in), "/sign-out", None, &e);
    }
    let mut response = Redirect::to("/sign-in?signed_out=1").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        clear_cookie(
            cookie_name(s.config.secure_cookies()),
            "/",
            s.config.secure_cookies(),
        ),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::safe_return_to;

    #[test]
    fn only_local_paths_are_returned_to() {
        assert_eq!(safe_return_to(Some("/accounts?x=1")), "/accounts?x=1");
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "evil",
        ] {
            assert_eq!(safe_return_to(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_return_to(None), "/");
    }
}

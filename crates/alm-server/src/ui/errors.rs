//! The error pages a browser gets, in the page frame: 403 (no permission: and no link led
//! here), 404 (no such page), 500 (with the request id to quote), and the refusal of a form
//! posted without its CSRF token; a refused action (409) with the rule that refused it.

use super::browser::{Browser, SignedIn};
use super::{render, Chrome};
use crate::api::error::DeniedAttempt;
use crate::request_id::RequestId;
use crate::services::ServiceError;
use askama::Template;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;

#[derive(Template)]
#[template(path = "error_page.html")]
struct ErrorPage<'a> {
    chrome: Chrome,
    title: &'a str,
    message: &'a str,
    request_id: Option<String>,
}

fn error_page(
    status: StatusCode,
    signed_in: Option<&SignedIn>,
    path: &str,
    title: &str,
    message: &str,
    request_id: Option<String>,
) -> Response {
    render(
        status,
        &ErrorPage {
            chrome: Chrome::new(signed_in, path),
            title,
            message,
            request_id,
        },
    )
}

/// 403: the signed-in user may not open this page.
pub fn forbidden(signed_in: &SignedIn, path: &str) -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        Some(signed_in),
        path,
        "You cannot open this page",
        "Your roles do not include the permission this page needs. Ask an administrator if you need it.",
        None,
    )
}

/// 404 in the frame.
pub fn not_found(browser: &Browser) -> Response {
    not_found_for(browser.signed_in.as_ref(), &browser.path)
}

/// 404 in the frame, for a handler that has taken the browser apart.
pub fn not_found_for(signed_in: Option<&SignedIn>, path: &str) -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        signed_in,
        path,
        "Page not found",
        "There is no page at this address. If you typed it, check it; if you followed a link, it may be out of date.",
        None,
    )
}

/// 400: the address carries a value the page cannot take (a table's `limit=ten`); says which.
pub fn bad_address(
    signed_in: &SignedIn,
    path: &str,
    errors: &alm_core::ValidationErrors,
) -> Response {
    let problems: Vec<String> = errors
        .0
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect();
    error_page(
        StatusCode::BAD_REQUEST,
        Some(signed_in),
        path,
        "This address has a value alm cannot use",
        &format!(
            "{}. Open the page from its link in the navigation to start again.",
            problems.join("; ")
        ),
        None,
    )
}

/// 409: a rule of alm stands in the way of what the form asked (the account's state, the
/// approval rules, ownership). Nothing was changed; the page says which rule.
pub fn refused(signed_in: &SignedIn, path: &str, reason: &str) -> Response {
    error_page(
        StatusCode::CONFLICT,
        Some(signed_in),
        path,
        "This could not be done",
        &format!("Nothing was changed: {reason}."),
        None,
    )
}

/// The page for a service error that the handler does not show in its own form. An object
/// outside the caller's reach answers exactly like one that does not exist, and is audited as
/// a denied attempt, as in the API.
pub fn service(signed_in: &SignedIn, path: &str, error: ServiceError) -> Response {
    match error {
        ServiceError::NotFound { .. } => not_found_for(Some(signed_in), path),
        ServiceError::OutOfScope {
            actor,
            object_type,
            object_id,
            ..
        } => {
            let mut page = not_found_for(Some(signed_in), path);
            page.extensions_mut().insert(DeniedAttempt {
                actor: Some(actor),
                needed: None,
                reason: "outside the caller's scope (answered as not found)".into(),
                object: Some((object_type, object_id)),
            });
            page
        }
        ServiceError::Forbidden { denied, actor } => {
            let mut page = forbidden(signed_in, path);
            page.extensions_mut().insert(DeniedAttempt {
                actor: Some(actor),
                needed: Some(denied.needed),
                reason: denied.to_string(),
                object: None,
            });
            page
        }
        ServiceError::Refused(r) => refused(signed_in, path, r.to_string().trim_end_matches('.')),
        ServiceError::Conflict(f) => refused(signed_in, path, f.message.trim_end_matches('.')),
        ServiceError::Validation(v) => {
            let messages: Vec<String> = v.0.iter().map(|e| e.message.clone()).collect();
            refused(signed_in, path, messages.join("; ").trim_end_matches('.'))
        }
        other => internal_with_id(Some(signed_in), path, None, &other),
    }
}

/// 403: a form came without the token of this browser's session (an old tab, or another site).
pub fn form_not_verified(signed_in: Option<&SignedIn>, path: &str) -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        signed_in,
        path,
        "This form could not be verified",
        "The form was sent without the security token of your session: it may come from an old page or from another site. Nothing was changed. Go back, reload the page and try again.",
        None,
    )
}

/// 500: something failed in alm; the person gets the request id, the log gets the cause.
pub fn internal(parts: &Parts, error: &dyn std::fmt::Display) -> Response {
    let id = parts.extensions.get::<RequestId>().map(|r| r.0.clone());
    tracing::error!(request_id = id.as_deref().unwrap_or(""), error = %error, "a page failed");
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        None,
        parts.uri.path(),
        "Sorry, something went wrong",
        "alm could not show this page. Try again in a moment; if it keeps happening, tell your administrator.",
        id,
    )
}

/// 500 for a handler that has its request id at hand.
pub fn internal_with_id(
    signed_in: Option<&SignedIn>,
    path: &str,
    request_id: Option<&RequestId>,
    error: &dyn std::fmt::Display,
) -> Response {
    let id = request_id.map(|r| r.0.clone());
    tracing::error!(request_id = id.as_deref().unwrap_or(""), error = %error, "a page failed");
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        signed_in,
        path,
        "Sorry, something went wrong",
        "alm could not show this page. Try again in a moment; if it keeps happening, tell your administrator.",
        id,
    )
}

/// Whether the client asked for a page rather than JSON (a browser navigating).
pub fn wants_html(path: &str, headers: &HeaderMap) -> bool {
    !path.starts_with("/api/")
        && headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"))
}

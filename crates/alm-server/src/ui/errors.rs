//! The error pages a browser gets, in the page frame: 403 (no permission: and no link led
//! here), 404 (no such page), 500 (with the request id to quote), and the refusal of a form
//! posted without its CSRF token.

use super::browser::{Browser, SignedIn};
use super::{render, Chrome};
use crate::request_id::RequestId;
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
    error_page(
        StatusCode::NOT_FOUND,
        browser.signed_in.as_ref(),
        &browser.path,
        "Page not found",
        "There is no page at this address. If you typed it, check it; if you followed a link, it may be out of date.",
        None,
    )
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

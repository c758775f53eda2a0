//! `/account/password`: change my own password (the current one, a new one twice, the rules
//! shown). A user signed in with a one-time password — the one alm printed at first start, or
//! after a reset without a given password — is sent here from every page until they have
//! chosen their own (`Browser::require`), as the API refuses their session everything else.

use super::browser::Browser;
use super::{errors, render, Chrome, FormError, PageResult};
use crate::services::own_password::{self, RULES};
use crate::services::ServiceError;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;

/// Where the one-time password form lives (every other page sends such a user here).
pub const PATH: &str = "/account/password";

pub fn router() -> Router<AppState> {
    Router::new().route(PATH, get(show).post(change))
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    chrome: Chrome,
    title: &'static str,
    errors: Vec<FormError>,
    notice: Option<&'static str>,
    csrf_token: String,
    one_time: bool,
    rules: &'static str,
    current_error: Option<String>,
    new_error: Option<String>,
    confirm_error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ShowQuery {
    done: Option<String>,
}

async fn show(
    State(s): State<AppState>,
    browser: Browser,
    Query(q): Query<ShowQuery>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let page = PasswordPage {
        chrome: Chrome::new(Some(&signed_in), &path)
            .with_counts(&s)
            .await
            .narrow(),
        title: "Change your password",
        errors: Vec::new(),
        notice: q.done.map(|_| "Your password is changed."),
        csrf_token: signed_in.csrf_token(),
        one_time: signed_in.principal.password_must_change,
        rules: RULES,
        current_error: None,
        new_error: None,
        confirm_error: None,
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(Debug, Deserialize)]
struct PasswordForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

async fn change(
    State(s): State<AppState>,
    browser: Browser,
    Form(form): Form<PasswordForm>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&form.csrf_token)?;
    let mismatch = form.new_password != form.confirm_password;
    let outcome = if mismatch {
        Err(ServiceError::Validation(alm_core::ValidationErrors::new()))
    } else {
        own_password::change(
            &s.db,
            s.clock.as_ref(),
            &signed_in.principal,
            &form.current_password,
            &form.new_password,
        )
        .await
    };
    let problems = match outcome {
        Ok(()) if signed_in.principal.password_must_change => {
            return Ok(Redirect::to("/").into_response())
        }
        Ok(()) => return Ok(Redirect::to(&format!("{PATH}?done=1")).into_response()),
        Err(ServiceError::Validation(v)) => v.0,
        Err(e) => return Err(errors::service(&signed_in, &path, e)),
    };
    let mut page = PasswordPage {
        chrome: Chrome::new(Some(&signed_in), &path)
            .with_counts(&s)
            .await
            .narrow()
            .with_errors(true),
        title: "Change your password",
        errors: Vec::new(),
        notice: None,
        csrf_token: signed_in.csrf_token(),
        one_time: signed_in.principal.password_must_change,
        rules: RULES,
        current_error: None,
        new_error: None,
        confirm_error: None,
    };
    for e in problems {
        let (field, label, slot) = match e.field.as_str() {
            "current_password" => (
                "current_password",
                "Current password",
                &mut page.current_error,
            ),
            _ => ("new_password", "New password", &mut page.new_error),
        };
        let message = format!("{label}: {}", e.message);
        *slot = Some(message.clone());
        page.errors.push(FormError {
            field: field.into(),
            message,
        });
    }
    if mismatch {
        let message = "Confirm new password: type the same new password twice".to_owned();
        page.confirm_error = Some(message.clone());
        page.errors.push(FormError {
            field: "confirm_password".into(),
            message,
        });
    }
    Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
}

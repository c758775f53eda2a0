//! The confirmation page of an administrative action (enable, disable, delete): what will
//! happen, then one button that posts the action and a way back. The handlers that post it
//! answer with the object's page (a redirect) or this page again with the refusal's rule.

use super::browser::SignedIn;
use super::{errors, render, Chrome, FormError, PageResult};
use crate::services::ServiceError;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use std::future::Future;

#[derive(Template)]
#[template(path = "confirm.html")]
pub struct ConfirmPage {
    pub chrome: Chrome,
    pub title: String,
    /// The object's page: (link, its name).
    pub back: (String, String),
    pub consequences: Vec<String>,
    /// Where the button posts.
    pub action: String,
    pub button: String,
    /// `warning` for what cannot be undone or takes access away; empty otherwise.
    pub button_class: &'static str,
    pub csrf_token: String,
    pub errors: Vec<FormError>,
}

impl ConfirmPage {
    /// The page with a refusal in its summary (nothing was changed).
    pub fn refused(mut self, message: String) -> Response {
        self.errors.push(FormError {
            field: "confirm-button".into(),
            message,
        });
        self.chrome.has_errors = true;
        render(StatusCode::CONFLICT, &self)
    }

    pub fn show(self) -> Response {
        render(StatusCode::OK, &self)
    }
}

/// The answer to a posted confirmation: a redirect to `done` when the service made the change;
/// the confirmation again with the rule when it refused (a refusal or a conflict: nothing
/// changed) — `page` is only built then; the error page for anything else.
pub async fn answer<T>(
    signed_in: &SignedIn,
    path: &str,
    outcome: Result<T, ServiceError>,
    done: &str,
    page: impl Future<Output = Result<ConfirmPage, Response>>,
) -> PageResult {
    match outcome {
        Ok(_) => Ok(Redirect::to(done).into_response()),
        Err(ServiceError::Refused(r)) => Ok(page.await?.refused(r.to_string())),
        Err(ServiceError::Conflict(c)) => Ok(page.await?.refused(c.message)),
        Err(e) => Err(errors::service(signed_in, path, e)),
    }
}

/// What a confirmation's address asks: `enable`, `disable` or `delete`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Enable,
    Disable,
    Delete,
}

impl Change {
    /// The change the address names, or the 404 page (no other address exists); `delete` only
    /// where the object can be deleted.
    pub fn parse(
        signed_in: &SignedIn,
        path: &str,
        text: &str,
        deletable: bool,
    ) -> Result<Self, Response> {
        match text {
            "enable" => Ok(Self::Enable),
            "disable" => Ok(Self::Disable),
            "delete" if deletable => Ok(Self::Delete),
            _ => Err(errors::not_found_for(Some(signed_in), path)),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enable => "enable",
            Self::Disable => "disable",
            Self::Delete => "delete",
        }
    }
}

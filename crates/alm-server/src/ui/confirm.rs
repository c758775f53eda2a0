//! The confirmation page of an administrative action (enable, disable, delete): what will
//! happen, then one button that posts the action and a way back. The handlers that post it
//! answer with the object's page (a redirect) or this page again with the refusal's rule.

use super::{render, Chrome, FormError};
use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

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

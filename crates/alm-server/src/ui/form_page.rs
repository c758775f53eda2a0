//! The page of one administration form (create or edit an object): title, the form's fields
//! with their errors and summary, the button, and Cancel back to where the person came from.

use super::browser::SignedIn;
use super::form::Form;
use super::{Chrome, FormError};
use crate::state::AppState;
use askama::Template;

#[derive(Template)]
#[template(path = "object_form.html")]
pub struct FormPage {
    pub chrome: Chrome,
    pub title: String,
    /// Where the form posts, and the page Cancel returns to.
    pub action: String,
    pub back: String,
    pub button: &'static str,
    pub csrf_token: String,
    pub form: Form,
    pub errors: Vec<FormError>,
}

/// Where a form page posts and returns: (title, action, back, button).
pub struct Target {
    pub title: String,
    pub action: String,
    pub back: String,
    pub button: &'static str,
}

impl FormPage {
    pub async fn new(
        s: &AppState,
        signed_in: &SignedIn,
        path: &str,
        target: Target,
        form: Form,
    ) -> Self {
        let mut chrome = Chrome::new(Some(signed_in), path).with_counts(s).await;
        chrome.has_errors = form.has_errors();
        Self {
            chrome,
            title: target.title,
            action: target.action,
            back: target.back,
            button: target.button,
            csrf_token: signed_in.csrf_token(),
            errors: form.errors.clone(),
            form,
        }
    }
}

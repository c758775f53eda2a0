//! `/tokens`: the signed-in user's API tokens (SPEC §9): create one with an expiry (its secret
//! shown once, on the page that answers the form), list them, revoke one. The permissions are
//! the API's (`api-token` read, create, delete); the list is always the caller's own.

use super::browser::{Browser, SignedIn};
use super::{errors, form, iso, render, utc, Chrome, FormError};
use crate::services::api_tokens::{self, CreateToken};
use crate::services::ServiceError;
use crate::state::AppState;
use alm_core::permissions::{perm, Feature, Permission, Right};
use alm_core::TokenId;
use alm_store::api_tokens::TokenRecord;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use time::OffsetDateTime;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tokens", get(show).post(create))
        .route("/tokens/{id}/revoke", post(revoke))
}

struct TokenRow {
    id: String,
    name: String,
    state: &'static str,
    created_iso: String,
    created_utc: String,
    expires: Option<(String, String)>,
    last_used: Option<(String, String)>,
}

fn at(t: OffsetDateTime) -> (String, String) {
    (iso(t), utc(t))
}

impl TokenRow {
    fn new(t: &TokenRecord, now: OffsetDateTime) -> Self {
        let state = if t.revoked_at.is_some() {
            "revoked"
        } else if t.expires_at.is_some_and(|e| e <= now) {
            "expired"
        } else {
            "active"
        };
        Self {
            id: t.id.to_string(),
            name: t.name.clone(),
            state,
            created_iso: iso(t.created_at),
            created_utc: utc(t.created_at),
            expires: t.expires_at.map(at),
            last_used: t.last_used_at.map(at),
        }
    }
}

struct Issued {
    name: String,
    secret: String,
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage {
    chrome: Chrome,
    title: &'static str,
    errors: Vec<FormError>,
    notice: Option<String>,
    issued: Option<Issued>,
    can_create: bool,
    can_revoke: bool,
    csrf_token: String,
    name: String,
    name_error: Option<String>,
    days: String,
    days_error: Option<String>,
    tokens: Vec<TokenRow>,
}

fn allowed(signed_in: &SignedIn, right: Right) -> bool {
    signed_in.principal.permissions.has(Permission {
        feature: Feature::ApiToken,
        right,
    })
}

/// The page for `signed_in`, with their tokens read now.
async fn page(s: &AppState, signed_in: &SignedIn, path: &str) -> Result<TokensPage, Response> {
    let can = signed_in.can::<perm::ApiTokenRead>(path)?;
    let request = alm_core::paging::PageRequest::parse(
        Some(500),
        Some(0),
        Some("-created_at"),
        alm_store::api_tokens::SORT_KEYS,
    )
    .expect("the list's page is valid");
    let (tokens, _) = api_tokens::list(
        &s.db,
        &can,
        Some(signed_in.principal.user_id),
        None,
        &request,
    )
    .await
    .map_err(|e| errors::internal_with_id(Some(signed_in), path, None, &e))?;
    let now = s.clock.now();
    Ok(TokensPage {
        chrome: Chrome::new(Some(signed_in), path).with_counts(s).await,
        title: "API tokens",
        errors: Vec::new(),
        notice: None,
        issued: None,
        can_create: allowed(signed_in, Right::Create),
        can_revoke: allowed(signed_in, Right::Delete),
        csrf_token: signed_in.csrf_token(),
        name: String::new(),
        name_error: None,
        days: "90".into(),
        days_error: None,
        tokens: tokens.iter().map(|t| TokenRow::new(t, now)).collect(),
    })
}

#[derive(Debug, Deserialize)]
struct ShowQuery {
    revoked: Option<String>,
}

async fn show(State(s): State<AppState>, browser: Browser, Query(q): Query<ShowQuery>) -> Response {
    let path = browser.path.clone();
    let signed_in = match browser.require() {
        Ok(s) => s,
        Err(redirect) => return redirect,
    };
    match page(&s, &signed_in, &path).await {
        Ok(mut p) => {
            p.notice = q
                .revoked
                .map(|name| format!("The token “{name}” is revoked: it works no more."));
            render(StatusCode::OK, &p)
        }
        Err(response) => response,
    }
}

#[derive(Debug, Deserialize)]
struct CreateForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    expires_in_days: String,
}

async fn create(
    State(s): State<AppState>,
    browser: Browser,
    Form(form): Form<CreateForm>,
) -> Response {
    let path = browser.path.clone();
    let signed_in = match browser.require() {
        Ok(s) => s,
        Err(redirect) => return redirect,
    };
    if !signed_in.csrf_ok(&form.csrf_token) {
        return errors::form_not_verified(Some(&signed_in), &path);
    }
    let can = match signed_in.can::<perm::ApiTokenCreate>(&path) {
        Ok(can) => can,
        Err(page) => return page,
    };
    let days_text = form.expires_in_days.trim();
    let days = form::expiry_days(days_text, 90);
    let outcome = match &days {
        Ok(days) => api_tokens::create(
            &s.db,
            s.clock.as_ref(),
            &can,
            &signed_in.principal.actor,
            CreateToken {
                name: form.name.clone(),
                expires_in_days: *days,
            },
        )
        .await
        .map(Some),
        Err(_) => Ok(None),
    };
    let mut p = match page(&s, &signed_in, &path).await {
        Ok(p) => p,
        Err(response) => return response,
    };
    p.name = form.name.clone();
    p.days = days_text.to_owned();
    let mut field_errors: Vec<(&'static str, String)> = Vec::new();
    if let Err(message) = days {
        field_errors.push(("expires_in_days", message));
    }
    match outcome {
        Ok(Some(issued)) => {
            p.issued = Some(Issued {
                name: issued.record.name,
                secret: issued.secret,
            });
            p.name = String::new();
            p.days = "90".into();
            return render(StatusCode::CREATED, &p);
        }
        Ok(None) => {}
        Err(ServiceError::Validation(v)) => {
            for e in v.0 {
                let field = if e.field == "name" {
                    "name"
                } else {
                    "expires_in_days"
                };
                let message = match (field, e.rule.as_str()) {
                    ("name", "required") => "Enter a name for the token".to_owned(),
                    ("name", _) => format!("The name {}", e.message),
                    (_, _) => format!("The number of days {}", e.message),
                };
                field_errors.push((field, message));
            }
        }
        Err(e) => return errors::internal_with_id(Some(&signed_in), &path, None, &e),
    }
    for (field, message) in field_errors {
        match field {
            "name" => p.name_error = Some(message.clone()),
            _ => p.days_error = Some(message.clone()),
        }
        p.errors.push(FormError {
            field: field.into(),
            message,
        });
    }
    p.chrome.has_errors = true;
    render(StatusCode::UNPROCESSABLE_ENTITY, &p)
}

#[derive(Debug, Deserialize)]
struct TokenForm {
    #[serde(default)]
    csrf_token: String,
}

async fn revoke(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    Form(form): Form<TokenForm>,
) -> Response {
    let path = browser.path.clone();
    let signed_in = match browser.require() {
        Ok(s) => s,
        Err(redirect) => return redirect,
    };
    if !signed_in.csrf_ok(&form.csrf_token) {
        return errors::form_not_verified(Some(&signed_in), &path);
    }
    let can = match signed_in.can::<perm::ApiTokenDelete>(&path) {
        Ok(can) => can,
        Err(page) => return page,
    };
    let Ok(id) = id.parse::<TokenId>() else {
        return errors::not_found(&Browser {
            signed_in: Some(signed_in),
            path,
        });
    };
    match api_tokens::revoke(
        &s.db,
        s.clock.as_ref(),
        &can,
        &signed_in.principal.actor,
        id,
    )
    .await
    {
        Ok(token) => form::revoked_redirect("/tokens", &token.name).into_response(),
        Err(ServiceError::NotFound { .. } | ServiceError::OutOfScope { .. }) => {
            errors::not_found(&Browser {
                signed_in: Some(signed_in),
                path,
            })
        }
        Err(e) => errors::internal_with_id(Some(&signed_in), &path, None, &e),
    }
}

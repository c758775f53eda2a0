//! `/api-clients`: the external systems that call alm by OAuth 2.0 client credentials (SPEC
//! §7.7, §9): register one with a role and an expiry (its client id and secret shown once, on
//! the page that answers the form), list them, revoke one. The permissions are the API's
//! (`api-client` read, create, delete); the roles offered are those the signed-in
//! administrator may give (enabled, nothing in them they lack), and the service checks again.

use super::browser::{Browser, SignedIn};
use super::{errors, form, iso, render, utc, Chrome, FormError};
use crate::services::api_clients::{self, CreateClient};
use crate::services::ServiceError;
use crate::state::AppState;
use alm_store::api_clients::ClientRecord;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

use alm_core::permissions::perm;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api-clients", get(show).post(create))
        .route("/api-clients/{id}/revoke", post(revoke))
}

/// The form's expiry when nothing was typed yet: a year, so a forgotten integration stops.
const DEFAULT_DAYS: &str = "365";

struct ClientRow {
    id: String,
    name: String,
    client_id: String,
    role: String,
    state: &'static str,
    created: (String, String),
    expires: Option<(String, String)>,
}

fn at(t: OffsetDateTime) -> (String, String) {
    (iso(t), utc(t))
}

impl ClientRow {
    fn new(c: &ClientRecord, role: String, now: OffsetDateTime) -> Self {
        let state = if c.revoked_at.is_some() {
            "revoked"
        } else if c.expires_at.is_some_and(|e| e <= now) {
            "expired"
        } else {
            "active"
        };
        Self {
            id: c.id.to_string(),
            name: c.name.clone(),
            client_id: c.client_id.clone(),
            role,
            state,
            created: at(c.created_at),
            expires: c.expires_at.map(at),
        }
    }
}

struct Issued {
    name: String,
    client_id: String,
    secret: String,
}

struct RoleChoice {
    id: String,
    name: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "api_clients.html")]
struct ClientsPage {
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
    roles: Vec<RoleChoice>,
    role_error: Option<String>,
    days: String,
    days_error: Option<String>,
    clients: Vec<ClientRow>,
}

/// The page for `signed_in`, with the clients and the roles they may give read now.
async fn page(s: &AppState, signed_in: &SignedIn, path: &str) -> Result<ClientsPage, Response> {
    let can = signed_in.can::<perm::ApiClientRead>(path)?;
    let fail = |e: &ServiceError| errors::internal_with_id(Some(signed_in), path, None, e);
    let request = alm_core::paging::PageRequest::parse(
        Some(500),
        Some(0),
        Some("-created_at"),
        alm_store::api_clients::SORT_KEYS,
    )
    .expect("the list's page is valid");
    let (clients, _) = api_clients::list(&s.db, &can, None, &request)
        .await
        .map_err(|e| fail(&e))?;
    let roles = match signed_in.may::<perm::ApiClientCreate>() {
        true => {
            let create = signed_in.can::<perm::ApiClientCreate>(path)?;
            api_clients::role_choices(&s.db, &create, &signed_in.principal.permissions)
                .await
                .map_err(|e| fail(&e))?
        }
        false => Vec::new(),
    };
    let role_names = api_clients::role_names(&s.db, &can, &clients)
        .await
        .map_err(|e| fail(&e))?;
    let now = s.clock.now();
    let rows = clients
        .iter()
        .map(|c| ClientRow::new(c, role_names[&c.role_id].clone(), now))
        .collect();
    Ok(ClientsPage {
        chrome: Chrome::new(Some(signed_in), path).with_counts(s).await,
        title: "API clients",
        errors: Vec::new(),
        notice: None,
        issued: None,
        can_create: signed_in.may::<perm::ApiClientCreate>(),
        can_revoke: signed_in.may::<perm::ApiClientDelete>(),
        csrf_token: signed_in.csrf_token(),
        name: String::new(),
        name_error: None,
        roles: roles
            .iter()
            .map(|r| RoleChoice {
                id: r.id.to_string(),
                name: r.name.clone(),
                selected: false,
            })
            .collect(),
        role_error: None,
        days: DEFAULT_DAYS.into(),
        days_error: None,
        clients: rows,
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
            p.notice = q.revoked.map(|name| {
                format!("The API client “{name}” is revoked: its tokens work no more.")
            });
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
    role_id: String,
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
    let can = match signed_in.can::<perm::ApiClientCreate>(&path) {
        Ok(can) => can,
        Err(page) => return page,
    };
    let days_text = form.expires_in_days.trim();
    let days = form::expiry_days(days_text, 365);
    let role_text = form.role_id.trim();
    let outcome = match &days {
        Ok(days) => api_clients::create(
            &s.db,
            s.clock.as_ref(),
            &can,
            &signed_in.principal.permissions,
            &signed_in.principal.actor,
            CreateClient {
                name: form.name.clone(),
                role_id: (!role_text.is_empty()).then(|| role_text.to_owned()),
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
    let mut field_errors: Vec<(&'static str, String)> = Vec::new();
    if let Err(message) = days {
        field_errors.push(("expires_in_days", message));
    }
    match outcome {
        Ok(Some(issued)) => {
            p.issued = Some(Issued {
                name: issued.record.name,
                client_id: issued.record.client_id,
                secret: issued.secret,
            });
            return render(StatusCode::CREATED, &p);
        }
        Ok(None) => {}
        Err(ServiceError::Validation(v)) => {
            for e in v.0 {
                let (field, message) = match (e.field.as_str(), e.rule.as_str()) {
                    ("name", "required") => ("name", "Enter a name for the client".to_owned()),
                    ("name", _) => ("name", format!("The name {}", e.message)),
                    ("role_id", "required") => {
                        ("role_id", "Choose the role the client acts with".to_owned())
                    }
                    ("role_id", _) => ("role_id", format!("The role: {}", e.message)),
                    (_, _) => ("expires_in_days", format!("The number of days {}", e.message)),
                };
                field_errors.push((field, message));
            }
        }
        // A role holding a permission the administrator lacks (the list offers none, but the
        // form can be sent by hand): said on the role field.
        Err(ServiceError::Forbidden { denied, .. }) => field_errors.push((
            "role_id",
            format!(
                "The role holds {}, which you do not hold: a client may never do more than its creator",
                denied.needed
            ),
        )),
        Err(e) => return errors::internal_with_id(Some(&signed_in), &path, None, &e),
    }
    // What was typed is kept.
    p.name = form.name.clone();
    p.days = days_text.to_owned();
    for r in &mut p.roles {
        r.selected = r.id == role_text;
    }
    for (field, message) in field_errors {
        match field {
            "name" => p.name_error = Some(message.clone()),
            "role_id" => p.role_error = Some(message.clone()),
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
struct RevokeForm {
    #[serde(default)]
    csrf_token: String,
}

async fn revoke(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    Form(form): Form<RevokeForm>,
) -> Response {
    let path = browser.path.clone();
    let signed_in = match browser.require() {
        Ok(s) => s,
        Err(redirect) => return redirect,
    };
    if !signed_in.csrf_ok(&form.csrf_token) {
        return errors::form_not_verified(Some(&signed_in), &path);
    }
    let can = match signed_in.can::<perm::ApiClientDelete>(&path) {
        Ok(can) => can,
        Err(page) => return page,
    };
    let Ok(id) = id.parse::<Uuid>() else {
        return errors::not_found(&Browser {
            signed_in: Some(signed_in),
            path,
        });
    };
    match api_clients::revoke(
        &s.db,
        s.clock.as_ref(),
        &can,
        &signed_in.principal.actor,
        id,
    )
    .await
    {
        Ok(client) => form::revoked_redirect("/api-clients", &client.name).into_response(),
        Err(ServiceError::NotFound { .. }) => errors::not_found(&Browser {
            signed_in: Some(signed_in),
            path,
        }),
        Err(e) => errors::internal_with_id(Some(&signed_in), &path, None, &e),
    }
}

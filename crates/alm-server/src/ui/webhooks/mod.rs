//! Integrations — webhooks (SPEC §7.4, §10): the list; a webhook's page (its event, address
//! and authorization without secrets, "send a test" with the answer, the delivery history);
//! create and edit (`edit.rs`: the body template with the event's parameters, headers, the
//! signing secret and the authorization — basic or OAuth client credentials — write-only, kept
//! when left empty); delete with a confirmation.

mod edit;

use super::browser::{Browser, SignedIn};
use super::form::{self, Control, Field, Form};
use super::form_page::{FormPage, Target};
use super::table::{Table, TableQuery};
use super::{errors, iso, render, utc, Chrome, PageResult};
use crate::services::webhooks as svc;
use crate::services::ServiceError;
use crate::state::AppState;
use alm_core::paging::{PageRequest, SortDirection};
use alm_core::permissions::perm;
use alm_webhook::Authorization;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/webhooks", get(list))
        .route("/webhooks/new", get(edit::new_form).post(edit::create))
        .route("/webhooks/{id}", get(show))
        .route(
            "/webhooks/{id}/edit",
            get(edit::edit_form).post(edit::update),
        )
        .route("/webhooks/{id}/test", post(test))
        .route(
            "/webhooks/{id}/delete",
            get(edit::confirm_delete).post(edit::delete),
        )
}

/// A webhook id from the address (a UUID), or the 404 page.
fn webhook_id(
    signed_in: &SignedIn,
    path: &str,
    id: &str,
) -> Result<String, axum::response::Response> {
    Ok(signed_in.id::<uuid::Uuid>(path, id)?.to_string())
}

struct Row {
    id: String,
    event: String,
    url: String,
    description: String,
    enabled: bool,
}

#[derive(Template)]
#[template(path = "webhooks.html")]
struct ListPage {
    chrome: Chrome,
    title: &'static str,
    notice: Option<&'static str>,
    can_create: bool,
    table: Table,
    rows: Vec<Row>,
}

#[derive(Deserialize, Default)]
struct Done {
    done: Option<String>,
}

async fn list(
    State(s): State<AppState>,
    browser: Browser,
    Query(q): Query<Done>,
    Query(tq): Query<TableQuery>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let can = signed_in.can::<perm::WebhookRead>(&path)?;
    let table = Table::parse("/webhooks", &tq, &["event", "url"], "event")
        .map_err(|e| errors::bad_address(&signed_in, &path, &e))?;
    let all = svc::list(&s.db, &s.master_key, &can)
        .await
        .map_err(|e| errors::service(&signed_in, &path, e))?;
    let (found, total) = table.slice(
        all,
        |w| {
            format!(
                "{} {} {}",
                w.definition.event, w.definition.url, w.definition.description
            )
        },
        |w, key| match key {
            "url" => w.definition.url.clone(),
            _ => format!("{} {}", w.definition.event, w.id),
        },
    );
    let page = ListPage {
        chrome: Chrome::new(Some(&signed_in), &path).with_counts(&s).await,
        title: "Webhooks",
        notice: (q.done.as_deref() == Some("deleted")).then_some("The webhook is deleted."),
        can_create: signed_in.may::<perm::WebhookCreate>(),
        table: table.with_counts(total, found.len()),
        rows: found
            .into_iter()
            .map(|w| Row {
                id: w.id,
                event: w.definition.event,
                url: w.definition.url,
                description: w.definition.description,
                enabled: w.definition.enabled,
            })
            .collect(),
    };
    Ok(render(StatusCode::OK, &page))
}

struct DeliveryRow {
    at: (String, String),
    event: String,
    attempt: i64,
    status: String,
    delivered: bool,
    duration_ms: i64,
    detail: String,
    test: bool,
}

#[derive(Template)]
#[template(path = "webhook.html")]
struct WebhookPage {
    chrome: Chrome,
    title: String,
    notice: Option<&'static str>,
    id: String,
    event: String,
    url: String,
    description: String,
    content_type: String,
    enabled: bool,
    headers: Vec<String>,
    authorization: String,
    /// The test call just sent: (delivered, what it says).
    tested: Option<(bool, String)>,
    deliveries: Vec<DeliveryRow>,
    can_update: bool,
    can_delete: bool,
    csrf_token: String,
}

/// Delivery attempts shown on a webhook's page (the API pages through all of them).
const DELIVERIES_SHOWN: u32 = 20;

async fn webhook_page(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    id: &str,
    notice: Option<&'static str>,
    tested: Option<(bool, String)>,
) -> Result<WebhookPage, axum::response::Response> {
    let can = signed_in.can::<perm::WebhookRead>(path)?;
    let fail = |e| errors::service(signed_in, path, e);
    let w = svc::get(&s.db, &s.master_key, &can, id)
        .await
        .map_err(fail)?;
    let page = PageRequest {
        limit: DELIVERIES_SHOWN,
        offset: 0,
        sort: "at",
        direction: SortDirection::Descending,
    };
    let (deliveries, _) = svc::deliveries(&s.db, &can, id, &page)
        .await
        .map_err(fail)?;
    let d = w.definition;
    Ok(WebhookPage {
        chrome: Chrome::new(Some(signed_in), path).with_counts(s).await,
        title: if d.description.is_empty() {
            format!("Webhook for {}", d.event)
        } else {
            d.description.clone()
        },
        notice,
        id: w.id,
        authorization: match &d.authorization {
            None => "None".into(),
            Some(Authorization::Basic { username, .. }) => format!("Basic, as {username}"),
            Some(Authorization::OauthClientCredentials(o)) => format!(
                "OAuth client credentials: client {} at {}",
                o.client_id, o.token_url
            ),
        },
        headers: d
            .headers
            .iter()
            .map(|h| format!("{}: {}", h.name, h.value))
            .collect(),
        event: d.event,
        url: d.url,
        description: d.description,
        content_type: d.content_type,
        enabled: d.enabled,
        tested,
        deliveries: deliveries
            .into_iter()
            .map(|x| DeliveryRow {
                at: (iso(x.at), utc(x.at)),
                event: x.event,
                attempt: x.attempt,
                delivered: x.error.is_none()
                    && x.status_code.is_some_and(|c| (200..300).contains(&c)),
                status: x
                    .status_code
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "no answer".into()),
                duration_ms: x.duration_ms,
                detail: x.error.unwrap_or(x.response_excerpt),
                test: x.test,
            })
            .collect(),
        can_update: signed_in.may::<perm::WebhookUpdate>(),
        can_delete: signed_in.may::<perm::WebhookDelete>(),
        csrf_token: signed_in.csrf_token(),
    })
}

async fn show(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    Query(q): Query<Done>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let id = webhook_id(&signed_in, &path, &id)?;
    let notice = match q.done.as_deref() {
        Some("created") => {
            Some("The webhook is saved. Send a test to see what the other side answers.")
        }
        Some("updated") => Some("The webhook is changed."),
        _ => None,
    };
    let page = webhook_page(&s, &signed_in, &path, &id, notice, None).await?;
    Ok(render(StatusCode::OK, &page))
}

/// Sends one test call with sample values now and shows what the other side answered.
async fn test(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    axum::Form(f): axum::Form<form::CsrfOnly>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&f.csrf_token)?;
    let id = webhook_id(&signed_in, &path, &id)?;
    let can = signed_in.can::<perm::WebhookUpdate>(&path)?;
    let o = svc::test(
        &s.db,
        s.clock.as_ref(),
        &s.master_key,
        &s.webhook_sender,
        &can,
        &signed_in.principal.actor,
        &id,
    )
    .await
    .map_err(|e| errors::service(&signed_in, &path, e))?;
    let delivered = o.delivered();
    let text = match (&o.error, o.status) {
        (Some(e), _) => format!("The test call failed: {}", e.message),
        (None, Some(code)) if delivered => format!(
            "The test call was delivered: HTTP {code} in {} ms.",
            o.duration.as_millis()
        ),
        (None, Some(code)) => format!(
            "The other side answered HTTP {code}: {}",
            o.response_excerpt
        ),
        (None, None) => "The test call got no answer.".into(),
    };
    let page_path = format!("/webhooks/{id}");
    let page = webhook_page(
        &s,
        &signed_in,
        &page_path,
        &id,
        None,
        Some((delivered, text)),
    )
    .await?;
    Ok(render(StatusCode::OK, &page))
}

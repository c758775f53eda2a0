//! Administration — email (SPEC §7.2, §10): every event's email template (who gets it, its
//! parameters, subject and body, sent or not) edited with a preview on sample values before it
//! is saved, and the outbox — what was sent, what waits and what failed, with the error.

use super::browser::{Browser, SignedIn};
use super::form::{ticked, Control, Field, Form};
use super::table::{Table, TableQuery};
use super::{errors, iso, render, utc, Chrome, FormError, PageResult};
use crate::services::notifications as svc;
use crate::services::ServiceError;
use crate::state::AppState;
use alm_core::permissions::perm;
use alm_notify::events::Audience;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/email-templates", get(list))
        .route("/email-templates/{event}", get(edit).post(save))
        .route("/outbox", get(outbox))
}

fn audience(a: Audience) -> &'static str {
    match a {
        Audience::SystemAdministrators => "System administrators",
        Audience::ApproversOfTheStep => "The step's approvers",
        Audience::Requester => "The requester",
        Audience::Owners => "The account's owners",
        Audience::NewUser => "The new user",
        Audience::SystemAdministratorsWhenEnabled => "Nobody; system administrators when enabled",
        Audience::Nobody => "Nobody (inbox only)",
    }
}

struct Row {
    event: &'static str,
    title: &'static str,
    recipients: &'static str,
    subject: String,
    enabled: bool,
}

#[derive(Template)]
#[template(path = "email_templates.html")]
struct ListPage {
    chrome: Chrome,
    title: &'static str,
    table: Table,
    rows: Vec<Row>,
}

async fn list(
    State(s): State<AppState>,
    browser: Browser,
    Query(q): Query<TableQuery>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let can = signed_in.can::<perm::NotificationRead>(&path)?;
    // `event` keeps SPEC §7.2's order of the events, which reads best.
    let table = Table::parse("/email-templates", &q, &["event", "title"], "event")
        .map_err(|e| errors::bad_address(&signed_in, &path, &e))?;
    let numbered: Vec<_> = svc::templates(&s.db, &can)
        .await
        .map_err(|e| errors::service(&signed_in, &path, e))?
        .into_iter()
        .enumerate()
        .collect();
    let (all, total) = table.slice(
        numbered,
        |(_, (e, t))| format!("{} {} {}", e.key, e.title, t.subject),
        |(i, (e, _)), key| match key {
            "title" => e.title.to_owned(),
            _ => format!("{i:04}"),
        },
    );
    let all: Vec<_> = all.into_iter().map(|(_, x)| x).collect();
    let page = ListPage {
        chrome: Chrome::new(Some(&signed_in), &path).with_counts(&s).await,
        title: "Email templates",
        table: table.with_counts(total, all.len()),
        rows: all
            .into_iter()
            .map(|(e, t)| Row {
                event: e.key,
                title: e.title,
                recipients: audience(e.audience),
                subject: t.subject,
                enabled: t.enabled,
            })
            .collect(),
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(Template)]
#[template(path = "email_template.html")]
struct EditPage {
    chrome: Chrome,
    title: String,
    notice: Option<&'static str>,
    event: String,
    recipients: &'static str,
    parameters: Vec<String>,
    can_update: bool,
    csrf_token: String,
    form: Form,
    errors: Vec<FormError>,
    /// The texts rendered with sample values: (subject, body).
    preview: Option<(String, String)>,
}

fn fields(key: &str, subject: &str, body: &str, enabled: bool) -> Form {
    // SPEC §7.1's "none" events tell nobody at all until enabled, so the box says who.
    let opt_in = alm_notify::events::by_key(key).is_some_and(|e| e.audience.opt_in());
    let enabled_label = if opt_in {
        "Tell the system administrators (email and inbox)"
    } else {
        "Send this email"
    };
    Form::new(vec![
        Field::new("subject", "Subject", Control::Text).value(subject),
        Field::new("body", "Body", Control::TextArea(12))
            .hint("Plain text. {{name}} stands for a parameter listed above.")
            .value(body),
        Field::new("enabled", enabled_label, Control::Checkbox).checked(enabled),
    ])
}

#[derive(Deserialize, Default)]
struct Done {
    done: Option<String>,
}

async fn edit_page(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    key: &str,
    form: Option<Form>,
    preview: Option<(String, String)>,
    notice: Option<&'static str>,
) -> Result<EditPage, axum::response::Response> {
    let can = signed_in.can::<perm::NotificationRead>(path)?;
    let all = svc::templates(&s.db, &can)
        .await
        .map_err(|e| errors::service(signed_in, path, e))?;
    let (e, t) = all
        .into_iter()
        .find(|(e, _)| e.key == key)
        .ok_or_else(|| errors::not_found_for(Some(signed_in), path))?;
    let form = form.unwrap_or_else(|| fields(e.key, &t.subject, &t.body, t.enabled));
    let mut chrome = Chrome::new(Some(signed_in), path).with_counts(s).await;
    chrome.has_errors = form.has_errors();
    Ok(EditPage {
        chrome,
        title: e.title.to_owned(),
        notice,
        event: e.key.to_owned(),
        recipients: audience(e.audience),
        parameters: e
            .parameters
            .iter()
            .map(|p| format!("{{{{{p}}}}}"))
            .collect(),
        can_update: signed_in.may::<perm::NotificationUpdate>(),
        csrf_token: signed_in.csrf_token(),
        errors: form.errors.clone(),
        form,
        preview,
    })
}

async fn edit(
    State(s): State<AppState>,
    browser: Browser,
    Path(key): Path<String>,
    Query(q): Query<Done>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let notice = (q.done.as_deref() == Some("saved")).then_some("The template is saved.");
    let page = edit_page(&s, &signed_in, &path, &key, None, None, notice).await?;
    Ok(render(StatusCode::OK, &page))
}

#[derive(Deserialize)]
struct TemplateForm {
    csrf_token: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    body: String,
    enabled: Option<String>,
    #[serde(default)]
    intent: String,
}

/// "Preview" renders the texts as typed with sample values (nothing saved); "Save" saves them.
async fn save(
    State(s): State<AppState>,
    browser: Browser,
    Path(key): Path<String>,
    axum::Form(f): axum::Form<TemplateForm>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&f.csrf_token)?;
    let typed = || fields(&key, &f.subject, &f.body, ticked(&f.enabled));
    let result = if f.intent == "preview" {
        let can = signed_in.can::<perm::NotificationRead>(&path)?;
        match svc::preview(
            &s.db,
            &can,
            &key,
            Some(f.subject.clone()),
            Some(f.body.clone()),
        )
        .await
        {
            Ok(shown) => {
                let page = edit_page(
                    &s,
                    &signed_in,
                    &path,
                    &key,
                    Some(typed()),
                    Some(shown),
                    None,
                )
                .await?;
                return Ok(render(StatusCode::OK, &page));
            }
            Err(e) => Err(e),
        }
    } else {
        let can = signed_in.can::<perm::NotificationUpdate>(&path)?;
        svc::update_template(
            &s.db,
            s.clock.as_ref(),
            &can,
            &signed_in.principal.actor,
            &key,
            svc::TemplateChange {
                subject: Some(f.subject.clone()),
                body: Some(f.body.clone()),
                enabled: Some(ticked(&f.enabled)),
            },
        )
        .await
        .map(drop)
    };
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/email-templates/{key}?done=saved")).into_response()),
        Err(ServiceError::Validation(v)) => {
            let mut form = typed();
            form.place(v.0);
            let page = edit_page(&s, &signed_in, &path, &key, Some(form), None, None).await?;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(e) => Err(errors::service(&signed_in, &path, e)),
    }
}

struct MessageRow {
    created: (String, String),
    recipient: String,
    subject: String,
    status: &'static str,
    status_class: &'static str,
    attempts: i64,
    error: String,
}

#[derive(Template)]
#[template(path = "outbox.html")]
struct OutboxPage {
    chrome: Chrome,
    title: &'static str,
    /// No SMTP server configured: nothing in the outbox leaves.
    email_off: bool,
    table: Table,
    states: Vec<(&'static str, &'static str, bool)>,
    rows: Vec<MessageRow>,
}

const STATES: [(&str, &str); 3] = [
    ("pending", "Waiting"),
    ("sent", "Sent"),
    ("failed", "Failed"),
];

async fn outbox(
    State(s): State<AppState>,
    browser: Browser,
    Query(q): Query<TableQuery>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let can = signed_in.can::<perm::NotificationRead>(&path)?;
    let table = Table::parse(
        "/outbox",
        &q,
        alm_store::notifications::MESSAGE_SORT_KEYS,
        "-created_at",
    )
    .map_err(|e| errors::bad_address(&signed_in, &path, &e))?;
    if !table.state.is_empty() && !STATES.iter().any(|(v, _)| *v == table.state) {
        return Err(errors::bad_address(
            &signed_in,
            &path,
            &alm_core::FieldError::new("state", "one-of", "must be pending, sent or failed").into(),
        ));
    }
    let (found, total) = svc::outbox(
        &s.db,
        &can,
        Some(table.state.as_str()).filter(|v| !v.is_empty()),
        Some(table.q.as_str()).filter(|v| !v.is_empty()),
        &table.page,
    )
    .await
    .map_err(|e| errors::service(&signed_in, &path, e))?;
    let rows: Vec<MessageRow> = found
        .into_iter()
        .map(|m| {
            let (status, status_class) = match m.status.as_str() {
                "sent" => ("Sent", "success"),
                "failed" => ("Failed", "failure"),
                "pending" => ("Waiting", "denied"),
                // A status alm never writes is corruption, not "waiting".
                other => {
                    return Err(errors::service(
                        &signed_in,
                        &path,
                        ServiceError::Store(alm_store::StoreError::Corrupt(format!(
                            "outbox message {}: status {other:?}",
                            m.id
                        ))),
                    ))
                }
            };
            Ok(MessageRow {
                created: (iso(m.created_at), utc(m.created_at)),
                recipient: m.recipient,
                subject: m.subject,
                status,
                status_class,
                attempts: m.attempts,
                error: m.last_error.unwrap_or_default(),
            })
        })
        .collect::<Result<_, _>>()?;
    let page = OutboxPage {
        chrome: Chrome::new(Some(&signed_in), &path).with_counts(&s).await,
        title: "Email outbox",
        email_off: s.config.smtp.host.is_none(),
        states: STATES
            .iter()
            .map(|(v, l)| (*v, *l, *v == table.state))
            .collect(),
        table: table.with_counts(total, rows.len()),
        rows,
    };
    Ok(render(StatusCode::OK, &page))
}

//! Integrations — SIEM (SPEC §8, §10): the syslog receivers every audit record goes to; a
//! receiver's page (server, protocol, format, what waits in its outbox and the latest error,
//! "send a test"), create and edit, delete with a confirmation.

use super::browser::{Browser, SignedIn};
use super::confirm::ConfirmPage;
use super::form::{self, ticked, Control, Field, Form};
use super::form_page::{FormPage, Target};
use super::table::{Table, TableQuery};
use super::{errors, render, Chrome, PageResult};
use crate::services::siem::{self as svc, SiemInput};
use crate::services::ServiceError;
use crate::state::AppState;
use alm_core::permissions::perm;
use alm_core::FieldError;
use alm_store::integrations::SiemRecord;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/siem", get(list))
        .route("/siem/new", get(new_form).post(create))
        .route("/siem/{id}", get(show))
        .route("/siem/{id}/edit", get(edit_form).post(update))
        .route("/siem/{id}/test", post(test))
        .route("/siem/{id}/delete", get(confirm_delete).post(delete))
}

fn siem_id(signed_in: &SignedIn, path: &str, id: &str) -> Result<String, axum::response::Response> {
    Ok(signed_in.id::<uuid::Uuid>(path, id)?.to_string())
}

fn hostname(s: &AppState) -> String {
    crate::workers::integrations::siem_hostname(&s.config)
}

#[derive(Template)]
#[template(path = "siem_list.html")]
struct ListPage {
    chrome: Chrome,
    title: &'static str,
    notice: Option<&'static str>,
    can_create: bool,
    table: Table,
    rows: Vec<SiemRecord>,
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
    let can = signed_in.can::<perm::SiemRead>(&path)?;
    let table = Table::parse("/siem", &tq, &["name", "server"], "name")
        .map_err(|e| errors::bad_address(&signed_in, &path, &e))?;
    let all = svc::list(&s.db, &can)
        .await
        .map_err(|e| errors::service(&signed_in, &path, e))?;
    let (rows, total) = table.slice(
        all,
        |r| format!("{} {}", r.name, r.server),
        |r, key| match key {
            "server" => r.server.clone(),
            _ => r.name.clone(),
        },
    );
    let page = ListPage {
        chrome: Chrome::new(Some(&signed_in), &path).with_counts(&s).await,
        title: "SIEM",
        notice: (q.done.as_deref() == Some("deleted"))
            .then_some("The SIEM integration is deleted."),
        can_create: signed_in.may::<perm::SiemCreate>(),
        table: table.with_counts(total, rows.len()),
        rows,
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(Template)]
#[template(path = "siem.html")]
struct SiemPage {
    chrome: Chrome,
    title: String,
    notice: Option<&'static str>,
    r: SiemRecord,
    waiting: i64,
    last_error: Option<String>,
    tested: Option<(bool, String)>,
    can_update: bool,
    can_delete: bool,
    csrf_token: String,
}

async fn siem_page(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    id: &str,
    notice: Option<&'static str>,
    tested: Option<(bool, String)>,
) -> Result<SiemPage, axum::response::Response> {
    let can = signed_in.can::<perm::SiemRead>(path)?;
    let fail = |e| errors::service(signed_in, path, e);
    let r = svc::get(&s.db, &can, id).await.map_err(fail)?;
    let (waiting, last_error) = svc::backlog(&s.db, id).await.map_err(fail)?;
    Ok(SiemPage {
        chrome: Chrome::new(Some(signed_in), path).with_counts(s).await,
        title: r.name.clone(),
        notice,
        r,
        waiting,
        last_error,
        tested,
        can_update: signed_in.may::<perm::SiemUpdate>(),
        can_delete: signed_in.may::<perm::SiemDelete>(),
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
    let id = siem_id(&signed_in, &path, &id)?;
    let notice = match q.done.as_deref() {
        Some("created") => Some("The receiver is added: audit records from now on are sent to it. Send a test to see it arrive."),
        Some("updated") => Some("The receiver is changed."),
        _ => None,
    };
    let page = siem_page(&s, &signed_in, &path, &id, notice, None).await?;
    Ok(render(StatusCode::OK, &page))
}

async fn test(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    axum::Form(f): axum::Form<form::CsrfOnly>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&f.csrf_token)?;
    let id = siem_id(&signed_in, &path, &id)?;
    let can = signed_in.can::<perm::SiemUpdate>(&path)?;
    let t = svc::test(
        &s.db,
        s.clock.as_ref(),
        &hostname(&s),
        &can,
        &signed_in.principal.actor,
        &id,
    )
    .await
    .map_err(|e| errors::service(&signed_in, &path, e))?;
    let text = match (&t.error, t.transient) {
        (None, _) => "The test message was sent.".to_owned(),
        (Some(e), true) => format!("The test message was not sent (it may work later): {e}"),
        (Some(e), false) => format!("The test message was not sent: {e}"),
    };
    let page_path = format!("/siem/{id}");
    let page = siem_page(
        &s,
        &signed_in,
        &page_path,
        &id,
        None,
        Some((t.delivered, text)),
    )
    .await?;
    Ok(render(StatusCode::OK, &page))
}

#[derive(Deserialize, Default)]
struct SiemForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    server: String,
    #[serde(default)]
    port: String,
    #[serde(default)]
    protocol: String,
    #[serde(default)]
    format: String,
    #[serde(default)]
    ca_pem: String,
    enabled: Option<String>,
}

impl SiemForm {
    fn of(r: &SiemRecord) -> Self {
        Self {
            name: r.name.clone(),
            server: r.server.clone(),
            port: r.port.to_string(),
            protocol: r.protocol.clone(),
            format: r.format.clone(),
            ca_pem: r.ca_pem.clone().unwrap_or_default(),
            enabled: r.enabled.then(|| "yes".into()),
            ..Self::default()
        }
    }

    fn input(&self) -> Result<SiemInput, FieldError> {
        let port = self.port.trim().parse::<i64>().map_err(|_| {
            FieldError::new(
                "port",
                "format",
                "must be a port number such as 514 or 6514",
            )
        })?;
        Ok(SiemInput {
            name: Some(self.name.trim().to_owned()),
            server: Some(self.server.trim().to_owned()),
            port: Some(port),
            protocol: Some(self.protocol.clone()),
            format: Some(self.format.clone()),
            ca_pem: Some(self.ca_pem.trim().to_owned()),
            enabled: Some(ticked(&self.enabled)),
        })
    }
}

fn options(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

fn fields(f: &SiemForm) -> Form {
    Form::new(vec![
        Field::new("name", "Name", Control::Text).value(&f.name),
        Field::new("server", "Server", Control::Text)
            .hint("The syslog receiver's host name or address.")
            .value(&f.server),
        Field::new("port", "Port", Control::Text).value(&f.port),
        Field::new(
            "protocol",
            "Protocol",
            Control::Select(options(&[("tls", "TLS (RFC 5425)"), ("tcp", "TCP"), ("udp", "UDP")])),
        )
        .value(&f.protocol),
        Field::new(
            "format",
            "Format",
            Control::Select(options(&[
                ("rfc5424", "Syslog (RFC 5424)"),
                ("cef", "CEF"),
                ("json-lines", "JSON lines"),
            ])),
        )
        .value(&f.format),
        Field::new("ca_pem", "CA certificate (PEM)", Control::TextArea(5))
            .hint("TLS only, optional: the CA that signed the receiver's certificate; empty: the system's trusted CAs.")
            .value(&f.ca_pem),
        Field::new("enabled", "Send audit records to it", Control::Checkbox)
            .checked(ticked(&f.enabled)),
    ])
}

fn target(editing: Option<&str>) -> Target {
    match editing {
        None => Target {
            title: "New SIEM receiver".into(),
            action: "/siem/new".into(),
            back: "/siem".into(),
            button: "Save receiver",
        },
        Some(id) => Target {
            title: "Edit SIEM receiver".into(),
            action: format!("/siem/{id}/edit"),
            back: format!("/siem/{id}"),
            button: "Save changes",
        },
    }
}

async fn refused(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    f: &SiemForm,
    editing: Option<&str>,
    found: Vec<FieldError>,
) -> PageResult {
    let mut form = fields(f);
    form.place(found);
    Ok(render(
        StatusCode::UNPROCESSABLE_ENTITY,
        &FormPage::new(s, signed_in, path, target(editing), form).await,
    ))
}

async fn new_form(State(s): State<AppState>, browser: Browser) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    signed_in.can::<perm::SiemCreate>(&path)?;
    let f = SiemForm {
        port: "6514".into(),
        protocol: "tls".into(),
        format: "rfc5424".into(),
        enabled: Some("yes".into()),
        ..SiemForm::default()
    };
    Ok(render(
        StatusCode::OK,
        &FormPage::new(&s, &signed_in, &path, target(None), fields(&f)).await,
    ))
}

async fn create(
    State(s): State<AppState>,
    browser: Browser,
    axum::Form(f): axum::Form<SiemForm>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&f.csrf_token)?;
    let can = signed_in.can::<perm::SiemCreate>(&path)?;
    let input = match f.input() {
        Ok(i) => i,
        Err(e) => return refused(&s, &signed_in, &path, &f, None, vec![e]).await,
    };
    match svc::create(
        &s.db,
        s.clock.as_ref(),
        &hostname(&s),
        &can,
        &signed_in.principal.actor,
        input,
    )
    .await
    {
        Ok(r) => Ok(Redirect::to(&format!("/siem/{}?done=created", r.id)).into_response()),
        Err(ServiceError::Validation(v)) => refused(&s, &signed_in, &path, &f, None, v.0).await,
        Err(ServiceError::Conflict(c)) => refused(&s, &signed_in, &path, &f, None, vec![c]).await,
        Err(e) => Err(errors::service(&signed_in, &path, e)),
    }
}

async fn edit_form(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let id = siem_id(&signed_in, &path, &id)?;
    signed_in.can::<perm::SiemUpdate>(&path)?;
    let read = signed_in.can::<perm::SiemRead>(&path)?;
    let r = svc::get(&s.db, &read, &id)
        .await
        .map_err(|e| errors::service(&signed_in, &path, e))?;
    Ok(render(
        StatusCode::OK,
        &FormPage::new(
            &s,
            &signed_in,
            &path,
            target(Some(&id)),
            fields(&SiemForm::of(&r)),
        )
        .await,
    ))
}

async fn update(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    axum::Form(f): axum::Form<SiemForm>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&f.csrf_token)?;
    let id = siem_id(&signed_in, &path, &id)?;
    let can = signed_in.can::<perm::SiemUpdate>(&path)?;
    let input = match f.input() {
        Ok(i) => i,
        Err(e) => return refused(&s, &signed_in, &path, &f, Some(&id), vec![e]).await,
    };
    match svc::update(
        &s.db,
        s.clock.as_ref(),
        &hostname(&s),
        &can,
        &signed_in.principal.actor,
        &id,
        input,
    )
    .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/siem/{id}?done=updated")).into_response()),
        Err(ServiceError::Validation(v)) => {
            refused(&s, &signed_in, &path, &f, Some(&id), v.0).await
        }
        Err(ServiceError::Conflict(c)) => {
            refused(&s, &signed_in, &path, &f, Some(&id), vec![c]).await
        }
        Err(e) => Err(errors::service(&signed_in, &path, e)),
    }
}

async fn delete_page(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    id: &str,
) -> Result<ConfirmPage, axum::response::Response> {
    let read = signed_in.can::<perm::SiemRead>(path)?;
    let r = svc::get(&s.db, &read, id)
        .await
        .map_err(|e| errors::service(signed_in, path, e))?;
    Ok(ConfirmPage {
        chrome: Chrome::new(Some(signed_in), path).with_counts(s).await,
        title: format!("Delete {}", r.name),
        back: (format!("/siem/{id}"), r.name.clone()),
        consequences: vec![
            format!(
                "Audit records are no longer sent to {}:{}.",
                r.server, r.port
            ),
            "Messages still waiting for it are dropped; the audit log itself keeps every record."
                .into(),
        ],
        action: format!("/siem/{id}/delete"),
        button: "Delete receiver".into(),
        button_class: "warning",
        csrf_token: signed_in.csrf_token(),
        errors: Vec::new(),
    })
}

async fn confirm_delete(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let id = siem_id(&signed_in, &path, &id)?;
    signed_in.can::<perm::SiemDelete>(&path)?;
    Ok(delete_page(&s, &signed_in, &path, &id).await?.show())
}

async fn delete(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    axum::Form(f): axum::Form<form::CsrfOnly>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&f.csrf_token)?;
    let id = siem_id(&signed_in, &path, &id)?;
    let can = signed_in.can::<perm::SiemDelete>(&path)?;
    svc::delete(
        &s.db,
        s.clock.as_ref(),
        &can,
        &signed_in.principal.actor,
        &id,
    )
    .await
    .map_err(|e| errors::service(&signed_in, &path, e))?;
    Ok(Redirect::to("/siem?done=deleted").into_response())
}

//! Administration — domains (SPEC §6.1, §10): the list, a domain's page (connection, engine
//! pool, what each engine found at its last check, "check" and "sync now", the sync runs with
//! their counts, user sync groups and the mass-disable limit), the create and edit forms and
//! delete with a confirmation, and the browser of the objects the syncs found. Each handler
//! authorises like the API and calls the same services.

mod actions;
mod edit;
mod objects;

use super::browser::{Browser, SignedIn};
use super::engine_checks::{self, EngineLine};
use super::form::{Control, Field, Form};
use super::form_page::{FormPage, Target};
use super::table::{Table, TableQuery};
use super::{errors, iso, render, utc, Chrome, PageResult};
use crate::services::domains::{self as svc, CheckOutcome, DomainInfo};
use crate::services::{domain_sync, engines, user_sync, ServiceError};
use crate::state::AppState;
use alm_core::paging::{PageRequest, SortDirection};
use alm_core::permissions::perm;
use alm_core::DomainId;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Form as Posted, Router};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/domains", get(list))
        .route("/domains/new", get(edit::new_form).post(edit::create))
        .route("/domains/{id}", get(show))
        .route(
            "/domains/{id}/edit",
            get(edit::edit_form).post(edit::update),
        )
        .route(
            "/domains/{id}/delete",
            get(edit::confirm_delete).post(edit::delete),
        )
        .route("/domains/{id}/check", post(actions::check))
        .route("/domains/{id}/sync", post(actions::sync))
        .route(
            "/domains/{id}/user-sync",
            get(actions::user_sync_form).post(actions::set_user_sync),
        )
        .route("/domains/{id}/objects", get(objects::list))
}

struct Row {
    id: DomainId,
    name: String,
    url: String,
    base_dn: String,
    sync: String,
}

#[derive(Template)]
#[template(path = "domains.html")]
struct ListPage {
    chrome: Chrome,
    title: &'static str,
    notice: Option<&'static str>,
    can_create: bool,
    table: Table,
    rows: Vec<Row>,
}

fn schedule(d: &DomainInfo) -> String {
    match &d.record.sync_time {
        Some(t) => format!("Daily at {t} UTC"),
        None => "Not scheduled".into(),
    }
}

#[derive(Deserialize, Default)]
struct Done {
    done: Option<String>,
}

/// Domains are few (one per forest or site): listed whole, by name.
async fn list(
    State(s): State<AppState>,
    browser: Browser,
    Query(q): Query<Done>,
    Query(tq): Query<TableQuery>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let can = signed_in.can::<perm::DomainRead>(&path)?;
    let table = Table::parse("/domains", &tq, &["name", "url"], "name")
        .map_err(|e| errors::bad_address(&signed_in, &path, &e))?;
    let all = svc::list(&s.db, &can)
        .await
        .map_err(|e| errors::service(&signed_in, &path, e))?;
    let (found, total) = table.slice(
        all,
        |d| format!("{} {} {}", d.record.name, d.record.url, d.record.base_dn),
        |d, key| match key {
            "url" => d.record.url.clone(),
            _ => d.record.name.clone(),
        },
    );
    let page = ListPage {
        chrome: Chrome::new(Some(&signed_in), &path).with_counts(&s).await,
        title: "Domains",
        notice: (q.done.as_deref() == Some("deleted")).then_some("The domain is deleted."),
        can_create: signed_in.may::<perm::DomainCreate>(),
        table: table.with_counts(total, found.len()),
        rows: found
            .iter()
            .map(|d| Row {
                id: d.record.id,
                name: d.record.name.clone(),
                url: d.record.url.clone(),
                base_dn: d.record.base_dn.clone(),
                sync: schedule(d),
            })
            .collect(),
    };
    Ok(render(StatusCode::OK, &page))
}

struct RunRow {
    started: (String, String),
    mode: String,
    succeeded: bool,
    counts: String,
    users: String,
    error: String,
}

#[derive(Template)]
#[template(path = "domain.html")]
struct DomainPage {
    chrome: Chrome,
    title: String,
    notice: Option<String>,
    id: DomainId,
    url: String,
    /// The other domain controllers, in the order they are tried.
    failover_urls: Vec<String>,
    /// Which controllers DNS is asked for, when the domain finds them there.
    dns_discovery: Option<String>,
    bind_identity: String,
    base_dn: String,
    ca: &'static str,
    pool: String,
    sync: String,
    next_sync: Option<(String, String)>,
    /// The check just run, when the page answers "check".
    check: Option<(bool, String)>,
    engines: Vec<EngineLine>,
    runs: Vec<RunRow>,
    runs_total: u64,
    user_sync_groups: Vec<String>,
    max_disable_percent: u32,
    can_update: bool,
    can_delete: bool,
    csrf_token: String,
}

fn run_row(r: &alm_store::directory_sync::SyncRun) -> RunRow {
    RunRow {
        started: (iso(r.started_at), utc(r.started_at)),
        mode: if r.mode == "full" {
            "Full".into()
        } else {
            "Incremental".into()
        },
        succeeded: r.outcome == "succeeded",
        counts: format!(
            "{} added, {} updated, {} removed",
            r.added, r.updated, r.removed
        ),
        users: format!("{} created, {} disabled", r.users_created, r.users_disabled),
        error: r.error.clone().unwrap_or_default(),
    }
}

/// The runs shown on a domain's page (the API pages through all of them).
const RUNS_SHOWN: u32 = 10;

async fn domain_page(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    id: DomainId,
    notice: Option<String>,
    check: Option<&CheckOutcome>,
) -> Result<DomainPage, axum::response::Response> {
    let can = signed_in.can::<perm::DomainRead>(path)?;
    let fail = |e| errors::service(signed_in, path, e);
    let d = svc::get(&s.db, &can, id).await.map_err(fail)?;
    let pool = match (d.record.pool_id, signed_in.may::<perm::EngineRead>()) {
        (Some(pool), true) => {
            let read = signed_in.can::<perm::EngineRead>(path)?;
            engines::pool(&s.db, &read, pool).await.map_err(fail)?.name
        }
        (Some(_), false) => "Set (you cannot read engine pools)".into(),
        (None, _) => "None".into(),
    };
    let engines = match check {
        Some(c) => engine_checks::of_check(c),
        None => {
            engine_checks::of_calibrations(svc::calibrations(&s.db, &can, id).await.map_err(fail)?)
        }
    };
    let page = PageRequest {
        limit: RUNS_SHOWN,
        offset: 0,
        sort: "started_at",
        direction: SortDirection::Descending,
    };
    let (runs, runs_total) = domain_sync::runs(&s.db, &can, id, &page)
        .await
        .map_err(fail)?;
    let config = user_sync::settings(&s.db, &can, id).await.map_err(fail)?;
    let (user_sync_groups, max_disable_percent) = match config {
        Some(c) => (
            user_sync::group_names(&s.db, &can, id, &c.group_guids)
                .await
                .map_err(fail)?,
            c.max_disable_percent,
        ),
        None => (Vec::new(), user_sync::DEFAULT_MAX_DISABLE_PERCENT),
    };
    let r = &d.record;
    Ok(DomainPage {
        chrome: Chrome::new(Some(signed_in), path).with_counts(s).await,
        title: r.name.clone(),
        notice,
        id,
        url: r.url.clone(),
        failover_urls: r.failover_urls.clone(),
        dns_discovery: r.discover_dcs.then(|| {
            match alm_directory::dc_discovery::dns_name_of(&r.base_dn) {
                Ok(name) => format!("the domain controllers of {name}"),
                Err(e) => e.to_string(),
            }
        }),
        bind_identity: r.bind_identity.clone(),
        base_dn: r.base_dn.clone(),
        ca: if r.ca_pem.is_some() {
            "Its own CA certificate"
        } else {
            "The system's trusted CAs"
        },
        pool,
        sync: schedule(&d),
        next_sync: r.next_sync_at.map(|at| (iso(at), utc(at))),
        check: check.map(|c| (c.ok, c.message.clone())),
        engines,
        runs: runs.iter().map(run_row).collect(),
        runs_total,
        user_sync_groups,
        max_disable_percent,
        can_update: signed_in.may::<perm::DomainUpdate>(),
        can_delete: signed_in.may::<perm::DomainDelete>(),
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
    let id = signed_in.id::<DomainId>(&path, &id)?;
    let notice = match q.done.as_deref() {
        Some("created") => Some(
            "The domain is added. Check that its engines can reach it, then sync it.".to_owned(),
        ),
        Some("updated") => Some("The domain is changed.".to_owned()),
        Some("user-sync") => {
            Some("The user sync groups are saved; the next sync applies them.".to_owned())
        }
        _ => None,
    };
    let page = domain_page(&s, &signed_in, &path, id, notice, None).await?;
    Ok(render(StatusCode::OK, &page))
}

//! `GET /`: Home — the accounts I own, directly or through a group (SPEC §2.7, §10), as cards
//! or as a list (`?view=list`), with their status, template, domain, lifecycle dates, whether
//! the renewal window is open, and the §4.1 actions offered now (each leads to its
//! confirmation).

use super::accounts::{action_links, ActionLink};
use super::browser::Browser;
use super::{errors, iso, label, render, utc, Chrome, PageResult};
use crate::request_id::RequestId;
use crate::services::accounts::{self, AccountInfo, AccountLabels};
use crate::state::AppState;
use alm_core::permissions::perm;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Extension, Router};
use serde::Deserialize;
use time::OffsetDateTime;

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(home))
}

/// One account as its card (or row) shows it.
struct AccountCard {
    id: uuid::Uuid,
    name: String,
    status: &'static str,
    status_label: String,
    template: String,
    template_version: i64,
    domain: String,
    eol_iso: String,
    eol_utc: String,
    days_left: i64,
    renewal_open: bool,
    renewal_iso: String,
    renewal_utc: String,
    actions: Vec<ActionLink>,
}

impl AccountCard {
    fn new(a: &AccountInfo, names: &AccountLabels, now: OffsetDateTime, may_act: bool) -> Self {
        let r = &a.record;
        let status = r.status.as_str();
        Self {
            id: r.id,
            name: r.name.clone(),
            status,
            status_label: label(status),
            template: names.template.clone(),
            template_version: r.template_version,
            domain: names.domain.clone(),
            eol_iso: iso(r.eol_at),
            eol_utc: utc(r.eol_at),
            days_left: (r.eol_at - now).whole_days().max(0),
            renewal_open: a.renewal_at <= now,
            renewal_iso: iso(a.renewal_at),
            renewal_utc: utc(a.renewal_at),
            actions: if may_act { action_links(a) } else { Vec::new() },
        }
    }
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    chrome: Chrome,
    title: &'static str,
    accounts: Vec<AccountCard>,
    total: u64,
    /// `cards` or `list` (SPEC §2.7 views), from `?view=`.
    list_view: bool,
    can_request: bool,
}

#[derive(Debug, Deserialize)]
struct HomeQuery {
    view: Option<String>,
}

async fn home(
    State(s): State<AppState>,
    browser: Browser,
    Query(q): Query<HomeQuery>,
    request_id: Option<Extension<RequestId>>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let can = signed_in.can::<perm::AccountRead>(&path)?;
    let list_view = match q.view.as_deref() {
        None | Some("cards") => false,
        Some("list") => true,
        Some(_) => {
            return Err(errors::bad_address(
                &signed_in,
                &path,
                &alm_core::FieldError::new("view", "one-of", "must be cards or list").into(),
            ))
        }
    };
    let page = alm_core::paging::PageRequest::parse(Some(100), Some(0), None, &["name"])
        .expect("the default page is valid");
    let id = request_id.as_ref().map(|Extension(id)| id);
    let fail = |e: &dyn std::fmt::Display| errors::internal_with_id(Some(&signed_in), &path, id, e);
    let (found, total) = accounts::mine(&s.db, s.clock.as_ref(), &can, &page)
        .await
        .map_err(|e| fail(&e))?;
    let records: Vec<_> = found.iter().map(|a| &a.record).collect();
    let names = accounts::labels(&s.db, &records)
        .await
        .map_err(|e| fail(&e))?;
    let now = s.clock.now();
    let may_act = signed_in.may::<perm::AccountUpdate>();
    Ok(render(
        StatusCode::OK,
        &HomePage {
            chrome: Chrome::new(Some(&signed_in), &path).with_counts(&s).await,
            title: "My accounts",
            accounts: found
                .iter()
                .map(|a| AccountCard::new(a, &names[&a.record.id], now, may_act))
                .collect(),
            total,
            list_view,
            can_request: signed_in.may::<perm::RequestCreate>(),
        },
    ))
}

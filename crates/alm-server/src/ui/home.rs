//! `GET /`: Home — the accounts I own, directly or through a group (SPEC §2.7, §10), with
//! their status, lifecycle dates and whether the renewal window is open.

use super::browser::Browser;
use super::{errors, iso, render, utc, Chrome};
use crate::request_id::RequestId;
use crate::services::accounts::{self, AccountInfo};
use crate::state::AppState;
use alm_core::permissions::perm;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use time::OffsetDateTime;

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(home))
}

/// One account as its card shows it.
struct AccountCard {
    name: String,
    status: &'static str,
    status_label: String,
    template_version: i64,
    eol_iso: String,
    eol_utc: String,
    days_left: i64,
    renewal_open: bool,
    renewal_iso: String,
    renewal_utc: String,
}

impl AccountCard {
    fn new(a: &AccountInfo, now: OffsetDateTime) -> Self {
        let r = &a.record;
        let status = r.status.as_str();
        let mut label = status.replace('-', " ");
        if let Some(first) = label.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        Self {
            name: r.name.clone(),
            status,
            status_label: label,
            template_version: r.template_version,
            eol_iso: iso(r.eol_at),
            eol_utc: utc(r.eol_at),
            days_left: (r.eol_at - now).whole_days().max(0),
            renewal_open: a.renewal_at <= now,
            renewal_iso: iso(a.renewal_at),
            renewal_utc: utc(a.renewal_at),
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
}

async fn home(
    State(s): State<AppState>,
    browser: Browser,
    request_id: Option<Extension<RequestId>>,
) -> Response {
    let path = browser.path.clone();
    let signed_in = match browser.require() {
        Ok(s) => s,
        Err(redirect) => return redirect,
    };
    let can = match signed_in.can::<perm::AccountRead>(&path) {
        Ok(can) => can,
        Err(page) => return page,
    };
    let page = alm_core::paging::PageRequest::parse(Some(100), Some(0), None, &["name"])
        .expect("the default page is valid");
    let (found, total) = match accounts::mine(&s.db, s.clock.as_ref(), &can, &page).await {
        Ok(found) => found,
        Err(e) => {
            let id = request_id.as_ref().map(|Extension(id)| id);
            return errors::internal_with_id(Some(&signed_in), &path, id, &e);
        }
    };
    let now = s.clock.now();
    render(
        StatusCode::OK,
        &HomePage {
            chrome: Chrome::new(Some(&signed_in), &path).with_counts(&s).await,
            title: "My accounts",
            accounts: found.iter().map(|a| AccountCard::new(a, now)).collect(),
            total,
        },
    )
}

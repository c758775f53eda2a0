//! `/accounts`: the managed accounts the caller may read (all of them with `manage`), as a
//! table whose state is in the URL — name, status, end of life within 30/60/90 days, without
//! an enabled owner — sorted by name, end of life, creation or status. The dashboard's counts
//! link here with the same filters.

use super::browser::Browser;
use super::table::{Table, TableQuery};
use super::{errors, iso, label, render, utc, Chrome, PageResult};
use crate::services::accounts;
use crate::services::dashboard::{eol_filter, EOL_WINDOWS};
use crate::state::AppState;
use alm_core::lifecycle::Status;
use alm_core::permissions::perm;
use alm_store::accounts::AccountFilter;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use uuid::Uuid;

pub fn router() -> Router<AppState> {
    Router::new().route("/accounts", get(list))
}

struct Row {
    id: Uuid,
    name: String,
    status: &'static str,
    status_label: String,
    template: String,
    domain: String,
    owners: String,
    eol_iso: String,
    eol_utc: String,
}

#[derive(Template)]
#[template(path = "account_list.html")]
struct ListPage {
    chrome: Chrome,
    title: &'static str,
    table: Table,
    statuses: Vec<(&'static str, String, bool)>,
    windows: Vec<(u32, bool)>,
    orphaned: bool,
    rows: Vec<Row>,
    /// Tick boxes and "migrate" for holders of `managed-account:manage` with update.
    can_migrate: bool,
}

fn bad(field: &str, rule: &str, message: &str) -> alm_core::ValidationErrors {
    alm_core::FieldError::new(field, rule, message).into()
}

async fn list(
    State(s): State<AppState>,
    browser: Browser,
    Query(q): Query<TableQuery>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let can = signed_in.can::<perm::AccountRead>(&path)?;
    // A list narrowed to an end-of-life window reads soonest first (and its index serves that
    // order: sorting a large window by name costs a sort of the whole window per page).
    let default_sort = if q
        .eol_within
        .as_deref()
        .is_some_and(|w| !w.trim().is_empty())
    {
        "eol_at"
    } else {
        "name"
    };
    let table = Table::parse(
        "/accounts",
        &q,
        alm_store::accounts::SORT_KEYS,
        default_sort,
    )
    .map_err(|e| errors::bad_address(&signed_in, &path, &e))?;
    let status = match table.state.as_str() {
        "" => None,
        text => Some(Status::parse(text).ok_or_else(|| {
            errors::bad_address(
                &signed_in,
                &path,
                &bad("state", "one-of", "not an account status"),
            )
        })?),
    };
    let window = match table.extra("eol_within") {
        "" => None,
        text => Some(
            text.parse::<u32>()
                .ok()
                .filter(|d| EOL_WINDOWS.contains(d))
                .ok_or_else(|| {
                    errors::bad_address(
                        &signed_in,
                        &path,
                        &bad("eol_within", "one-of", "must be 30, 60 or 90"),
                    )
                })?,
        ),
    };
    let orphaned = match table.extra("orphaned") {
        "" => false,
        "1" => true,
        _ => {
            return Err(errors::bad_address(
                &signed_in,
                &path,
                &bad("orphaned", "one-of", "must be 1 when given"),
            ))
        }
    };
    let now = s.clock.now();
    let filter = AccountFilter {
        status,
        query: Some(table.q.clone()).filter(|q| !q.is_empty()),
        orphaned,
        ..window.map(|d| eol_filter(now, d)).unwrap_or_default()
    };
    let fail = |e| errors::service(&signed_in, &path, e);
    let (found, total) = accounts::list(&s.db, s.clock.as_ref(), &can, filter, &table.page)
        .await
        .map_err(fail)?;
    let records: Vec<_> = found.iter().map(|a| &a.record).collect();
    let names = accounts::labels(&s.db, &records).await.map_err(fail)?;
    let rows = found
        .iter()
        .map(|a| {
            let r = &a.record;
            Row {
                id: r.id,
                name: r.name.clone(),
                status: r.status.as_str(),
                status_label: label(r.status.as_str()),
                template: names[&r.id].template.clone(),
                domain: names[&r.id].domain.clone(),
                owners: a
                    .owners
                    .iter()
                    .map(|o| o.display_name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                eol_iso: iso(r.eol_at),
                eol_utc: utc(r.eol_at),
            }
        })
        .collect();
    let page = ListPage {
        chrome: Chrome::new(Some(&signed_in), &path).with_counts(&s).await,
        title: "Accounts",
        statuses: Status::ALL
            .into_iter()
            .map(|st| (st.as_str(), label(st.as_str()), Some(st) == status))
            .collect(),
        windows: EOL_WINDOWS
            .into_iter()
            .map(|d| (d, Some(d) == window))
            .collect(),
        orphaned,
        table: table.with_counts(total, found.len()),
        rows,
        can_migrate: signed_in.manages::<perm::AccountUpdate>(),
    };
    Ok(render(StatusCode::OK, &page))
}

//! `/discovery` (SPEC §6.2, §10): the unmanaged accounts that `alm discover --import` sent,
//! highest severity first — what the dashboard's "unmanaged" count opens. Rows are chosen with
//! tick boxes and imported under a template with owners (`import.rs`).

mod import;

use super::browser::Browser;
use super::table::{Table, TableQuery};
use super::{errors, iso, render, utc, Chrome, PageResult};
use crate::services::discovery;
use crate::state::AppState;
use alm_core::permissions::perm;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/discovery", get(list))
        .route("/discovery/import", get(import::form).post(import::run))
}

/// The sort keys of the list (the API's): severity first by default.
const SORT_KEYS: &[&str] = &["severity", "name"];

struct Row {
    /// `<domain id>:<objectGUID>`: what the import form is sent.
    choice: String,
    name: String,
    dn: String,
    kind: String,
    /// `critical` … `low`, or `none` (the class of its tag too).
    severity: &'static str,
    findings: Vec<String>,
    hosts: Vec<String>,
    /// The host list is from a complete host scan (else "at least").
    hosts_complete: bool,
    seen_iso: String,
    seen_utc: String,
}

#[derive(Template)]
#[template(path = "discovery.html")]
struct ListPage {
    chrome: Chrome,
    title: &'static str,
    table: Table,
    rows: Vec<Row>,
    can_import: bool,
}

/// The stored severity rank as its name; a rank outside 0–4 is corruption, not "low".
fn severity_name(rank: i64) -> Option<&'static str> {
    match rank {
        0 => Some("critical"),
        1 => Some("high"),
        2 => Some("medium"),
        3 => Some("low"),
        4 => Some("none"),
        _ => None,
    }
}

async fn list(
    State(s): State<AppState>,
    browser: Browser,
    Query(q): Query<TableQuery>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let can = signed_in.can::<perm::AccountRead>(&path)?;
    let table = Table::parse("/discovery", &q, SORT_KEYS, "severity")
        .map_err(|e| errors::bad_address(&signed_in, &path, &e))?;
    let query = Some(table.q.as_str()).filter(|t| !t.is_empty());
    let fail = |e| errors::service(&signed_in, &path, e);
    let (found, total) = discovery::list(&s.db, &can, None, query, &table.page)
        .await
        .map_err(fail)?;
    let rows = found
        .iter()
        .map(|a| {
            let r = &a.record;
            let severity = severity_name(r.top_severity).ok_or_else(|| {
                fail(crate::services::ServiceError::Store(
                    alm_store::StoreError::Corrupt(format!(
                        "discovered account {}: severity rank {}",
                        r.guid, r.top_severity
                    )),
                ))
            })?;
            Ok(Row {
                choice: format!("{}:{}", r.domain_id, r.guid),
                name: r.sam_account_name.clone(),
                dn: r.dn.clone(),
                kind: r.kind.clone(),
                severity,
                findings: a
                    .findings
                    .iter()
                    .map(|f| format!("{} ({})", f.code, f.severity))
                    .collect(),
                hosts: a.hosts.clone(),
                hosts_complete: a.host_scan_complete,
                seen_iso: iso(r.last_seen_at),
                seen_utc: utc(r.last_seen_at),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let page = ListPage {
        chrome: Chrome::new(Some(&signed_in), &path).with_counts(&s).await,
        title: "Unmanaged accounts",
        table: table.with_counts(total, rows.len()),
        rows,
        can_import: signed_in.manages::<perm::AccountUpdate>(),
    };
    Ok(render(StatusCode::OK, &page))
}

#[cfg(test)]
mod tests {
    use super::severity_name;

    #[test]
    fn severity_ranks_name_their_level_and_others_are_refused() {
        assert_eq!(severity_name(0), Some("critical"));
        assert_eq!(severity_name(4), Some("none"));
        assert_eq!(severity_name(5), None);
        assert_eq!(severity_name(-1), None);
    }
}

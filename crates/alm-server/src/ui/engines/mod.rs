//! `/engines` (SPEC §5, §10): the engines, their pool and health — answering when they asked
//! for work within the dashboard's window — what the dashboard's engine count opens.
//! From here an administrator makes an activation token (`activation.rs`), opens an engine to
//! assign, activate, remove it and read its log (`engine.rs`), manages the pools (`pools.rs`)
//! and reads the job queue (`jobs.rs`). Engines are few (one per site), so the list is
//! filtered, sorted and paged in memory.

mod activation;
mod engine;
mod jobs;
mod logs;
mod pools;

use super::browser::Browser;
use super::table::{Table, TableQuery};
use super::{errors, iso, render, utc, Chrome, PageResult};
use crate::services::dashboard::ANSWERING_WITHIN;
use crate::services::engines;
use crate::state::AppState;
use alm_core::paging::SortDirection;
use alm_core::permissions::perm;
use alm_store::engines::EngineRecord;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use std::collections::HashMap;
use time::OffsetDateTime;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/engines", get(list))
        .route("/engines/activation-token", post(activation::create))
        .route("/engines/pools", get(pools::list))
        .route(
            "/engines/pools/new",
            get(pools::new_form).post(pools::create),
        )
        .route(
            "/engines/pools/{id}/edit",
            get(pools::edit_form).post(pools::update),
        )
        .route(
            "/engines/pools/{id}/delete",
            get(pools::confirm_delete).post(pools::delete),
        )
        .route("/engines/{id}", get(engine::show).post(engine::assign))
        .route(
            "/engines/{id}/delete",
            get(engine::confirm_delete).post(engine::delete),
        )
        .route("/jobs", get(jobs::list))
        .route("/engine-logs", get(logs::list))
}

const SORT_KEYS: &[&str] = &["name", "last_seen_at"];

/// An engine's standing, as its tag shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Health {
    /// Active and asked for work recently.
    Answering,
    /// Active but silent for longer than the window (or never seen).
    Silent,
    /// Not active (unassigned or deactivated): it takes no work.
    Inactive,
}

impl Health {
    fn of(e: &EngineRecord, now: OffsetDateTime) -> Self {
        match (e.active, e.last_seen_at) {
            (false, _) => Self::Inactive,
            (true, Some(at)) if now - at <= ANSWERING_WITHIN => Self::Answering,
            (true, _) => Self::Silent,
        }
    }

    fn class(self) -> &'static str {
        match self {
            Self::Answering => "answering",
            Self::Silent => "silent",
            Self::Inactive => "inactive",
        }
    }

    fn text(self) -> &'static str {
        match self {
            Self::Answering => "Answering",
            Self::Silent => "Not answering",
            Self::Inactive => "Inactive",
        }
    }
}

struct Row {
    id: alm_core::EngineId,
    name: String,
    host: String,
    pool: String,
    health_class: &'static str,
    health: &'static str,
    version: String,
    in_process: bool,
    seen: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "engines.html")]
struct ListPage {
    chrome: Chrome,
    title: &'static str,
    table: Table,
    window_minutes: i64,
    rows: Vec<Row>,
    /// Registered engines waiting to be assigned to a pool.
    unassigned: usize,
    can_create: bool,
    csrf_token: String,
}

/// The engines matching the text filter (name or host), sorted and cut to the page.
fn select(all: &[EngineRecord], table: &Table) -> (Vec<EngineRecord>, u64) {
    table.slice(
        all.to_vec(),
        |e| format!("{} {}", e.name, e.host),
        |e, key| match key {
            // RFC 3339 text orders as the instants do; never seen sorts first.
            "last_seen_at" => e.last_seen_at.map(iso).unwrap_or_default(),
            _ => e.name.clone(),
        },
    )
}

async fn list(
    State(s): State<AppState>,
    browser: Browser,
    Query(q): Query<TableQuery>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let can = signed_in.can::<perm::EngineRead>(&path)?;
    let table = Table::parse("/engines", &q, SORT_KEYS, "name")
        .map_err(|e| errors::bad_address(&signed_in, &path, &e))?;
    let fail = |e| errors::service(&signed_in, &path, e);
    let all = engines::list(&s.db, &can, false, None)
        .await
        .map_err(fail)?;
    let pools: HashMap<_, _> = engines::pools(&s.db, &can)
        .await
        .map_err(fail)?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect();
    let now = s.clock.now();
    let (shown, total) = select(&all, &table);
    let rows = shown
        .iter()
        .map(|e| {
            let health = Health::of(e, now);
            Row {
                id: e.id,
                name: e.name.clone(),
                host: e.host.clone(),
                pool: match e.pool_id {
                    None => "Unassigned".into(),
                    Some(id) => pools.get(&id).cloned().unwrap_or_else(|| id.to_string()),
                },
                health_class: health.class(),
                health: health.text(),
                version: e.version.clone(),
                in_process: e.in_process,
                seen: e.last_seen_at.map(|at| (iso(at), utc(at))),
            }
        })
        .collect::<Vec<_>>();
    let page = ListPage {
        chrome: Chrome::new(Some(&signed_in), &path).with_counts(&s).await,
        title: "Engines",
        window_minutes: ANSWERING_WITHIN.whole_minutes(),
        table: table.with_counts(total, rows.len()),
        rows,
        unassigned: all.iter().filter(|e| e.pool_id.is_none()).count(),
        can_create: signed_in.may::<perm::EngineCreate>(),
        csrf_token: signed_in.csrf_token(),
    };
    Ok(render(StatusCode::OK, &page))
}

/// The engine pools to choose from, when the person may read them (else the field is left out
/// and the domain keeps its pool, or gets the default one).
pub async fn pool_choices(
    s: &AppState,
    signed_in: &super::browser::SignedIn,
    path: &str,
) -> Result<Option<Vec<(String, String)>>, axum::response::Response> {
    if !signed_in.may::<perm::EngineRead>() {
        return Ok(None);
    }
    let read = signed_in.can::<perm::EngineRead>(path)?;
    let pools = engines::pools(&s.db, &read)
        .await
        .map_err(|e| errors::service(signed_in, path, e))?;
    Ok(Some(
        pools
            .into_iter()
            .map(|p| {
                let label = if p.is_default {
                    format!("{} (default)", p.name)
                } else {
                    p.name
                };
                (p.id.to_string(), label)
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn engine(name: &str, active: bool, seen: Option<OffsetDateTime>) -> EngineRecord {
        EngineRecord {
            id: alm_core::EngineId(uuid::Uuid::new_v4()),
            name: name.into(),
            host: format!("{name}.corp"),
            version: "0.1.0".into(),
            pool_id: None,
            active,
            in_process: false,
            registered_at: datetime!(2026-01-01 0:00 UTC),
            last_seen_at: seen,
            last_address: None,
        }
    }

    #[test]
    fn health_follows_activity_and_the_answering_window() {
        let now = datetime!(2026-06-01 12:00 UTC);
        let recent = Some(now - ANSWERING_WITHIN);
        let old = Some(now - ANSWERING_WITHIN - time::Duration::seconds(1));
        assert_eq!(
            Health::of(&engine("a", true, recent), now),
            Health::Answering
        );
        assert_eq!(Health::of(&engine("b", true, old), now), Health::Silent);
        assert_eq!(Health::of(&engine("c", true, None), now), Health::Silent);
        assert_eq!(
            Health::of(&engine("d", false, recent), now),
            Health::Inactive
        );
    }

    #[test]
    fn the_filter_sort_and_page_apply_in_that_order() {
        let all = vec![
            engine("Paris", true, None),
            engine("berlin", true, None),
            engine("Oslo", true, None),
        ];
        let q = TableQuery {
            sort: Some("-name".into()),
            limit: Some("25".into()),
            ..Default::default()
        };
        let table = Table::parse("/engines", &q, SORT_KEYS, "name").unwrap();
        let (page, total) = select(&all, &table);
        let names: Vec<_> = page.iter().map(|e| e.name.as_str()).collect();
        assert_eq!((names, total), (vec!["Paris", "Oslo", "berlin"], 3));
        let q = TableQuery {
            q: Some("OSLO.c".into()),
            ..Default::default()
        };
        let table = Table::parse("/engines", &q, SORT_KEYS, "name").unwrap();
        let (page, total) = select(&all, &table);
        assert_eq!((page.len(), total), (1, 1));
        assert_eq!(page[0].name, "Oslo");
    }
}

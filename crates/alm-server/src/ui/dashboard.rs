//! `/dashboard` (SPEC §10): counts for the holders of the permissions they read — accounts by
//! status, end of life in the next 30/60/90 days, requests waiting for my approval, requests
//! by state, accounts without an enabled owner, unmanaged accounts that discovery found,
//! engine health — each linking to the list it counts, where that list has a page.

use super::browser::Browser;
use super::{errors, label, render, Chrome, PageResult};
use crate::services::dashboard;
use crate::state::AppState;
use alm_core::permissions::perm;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new().route("/dashboard", get(show))
}

/// One count: what it counts, how many, and the list it opens (none where that list has no
/// page yet).
struct Tile {
    label: String,
    count: u64,
    href: Option<String>,
}

/// A group of counts under a heading.
struct Section {
    title: &'static str,
    tiles: Vec<Tile>,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    title: &'static str,
    /// When the account counts were counted (ISO, and as text).
    counted_at: Option<(String, String)>,
    sections: Vec<Section>,
}

async fn show(State(s): State<AppState>, browser: Browser) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    // The page itself needs to read accounts; each section its own permission besides.
    signed_in.can::<perm::AccountRead>(&path)?;
    let d = dashboard::read(&s.db, s.clock.as_ref(), &s.dashboard, &signed_in.principal)
        .await
        .map_err(|e| errors::service(&signed_in, &path, e))?;
    let mut sections = Vec::new();
    if let Some(by_status) = d.accounts_by_status {
        sections.push(Section {
            title: "Accounts by status",
            tiles: by_status
                .into_iter()
                .map(|(st, n)| Tile {
                    label: label(st.as_str()),
                    count: n,
                    href: Some(format!("/accounts?state={}", st.as_str())),
                })
                .collect(),
        });
    }
    if let Some(windows) = d.eol_within {
        sections.push(Section {
            title: "End of life ahead",
            tiles: windows
                .into_iter()
                .map(|(days, n)| Tile {
                    label: format!("In the next {days} days"),
                    count: n,
                    href: Some(format!("/accounts?eol_within={days}")),
                })
                .collect(),
        });
    }
    let mut attention = Vec::new();
    if let Some(n) = d.pending_approvals {
        attention.push(Tile {
            label: "Waiting for my approval".into(),
            count: n,
            href: Some("/approvals".into()),
        });
    }
    if let Some(n) = d.orphaned {
        attention.push(Tile {
            label: "Without an enabled owner".into(),
            count: n,
            href: Some("/accounts?orphaned=1".into()),
        });
    }
    if let Some(n) = d.unmanaged {
        attention.push(Tile {
            label: "Unmanaged, found by discovery".into(),
            count: n,
            href: Some("/discovery".into()),
        });
    }
    if let Some((answering, active)) = d.engines {
        attention.push(Tile {
            label: format!("Engines answering, of {active} active"),
            count: answering,
            href: Some("/engines".into()),
        });
    }
    if !attention.is_empty() {
        sections.push(Section {
            title: "Needs attention",
            tiles: attention,
        });
    }
    if let Some(by_state) = d.requests_by_state {
        sections.push(Section {
            title: "Requests by state",
            tiles: by_state
                .into_iter()
                .map(|(st, n)| Tile {
                    label: label(st.as_str()),
                    count: n,
                    href: Some(format!("/requests?state={}", st.as_str())),
                })
                .collect(),
        });
    }
    let page = DashboardPage {
        chrome: Chrome::new(Some(&signed_in), &path).with_counts(&s).await,
        title: "Dashboard",
        counted_at: d.counted_at.map(|at| (super::iso(at), super::utc(at))),
        sections,
    };
    Ok(render(StatusCode::OK, &page))
}

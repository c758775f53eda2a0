//! Engine logs (SPEC §10, Audit): each engine's latest log lines in one place, newest first,
//! with a link to the engine's page for the rest. Engines are few; their logs are kept short.

use super::*;
use alm_core::paging::PageRequest;

/// Lines shown per engine here (the engine's page shows more).
const LINES_PER_ENGINE: u32 = 10;

struct EngineLog {
    id: alm_core::EngineId,
    name: String,
    lines: Vec<(String, String, String, String)>,
}

#[derive(Template)]
#[template(path = "engine_logs.html")]
struct LogsPage {
    chrome: Chrome,
    title: &'static str,
    engines: Vec<EngineLog>,
}

pub(super) async fn list(State(s): State<AppState>, browser: super::Browser) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let can = signed_in.can::<perm::EngineRead>(&path)?;
    let fail = |e| errors::service(&signed_in, &path, e);
    let mut all = engines::list(&s.db, &can, false, None)
        .await
        .map_err(fail)?;
    all.sort_by_key(|e| e.name.to_lowercase());
    let page = PageRequest {
        limit: LINES_PER_ENGINE,
        offset: 0,
        sort: "at",
        direction: SortDirection::Descending,
    };
    let mut out = Vec::new();
    for e in all {
        let (lines, _) = engines::logs(&s.db, &can, e.id, None, &page)
            .await
            .map_err(fail)?;
        out.push(EngineLog {
            id: e.id,
            name: e.name,
            lines: lines
                .into_iter()
                .map(|l| (iso(l.at), utc(l.at), l.level, l.message))
                .collect(),
        });
    }
    let page = LogsPage {
        chrome: Chrome::new(Some(&signed_in), &path).with_counts(&s).await,
        title: "Engine logs",
        engines: out,
    };
    Ok(render(StatusCode::OK, &page))
}

//! The README's route table names every route the server documents, and no other: a route
//! added without its line in the table (or a line left for a route that went) fails here.

use crate::support::{Backend, TestServer};
use std::collections::BTreeSet;

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// `METHOD /path` of every operation in the server's OpenAPI document, under `/api/v1`.
fn documented(doc: &serde_json::Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        let path = path
            .strip_prefix("/api/v1")
            .expect("every route is under /api/v1");
        for method in ops.as_object().expect("operations").keys() {
            out.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    out
}

/// `METHOD /path` of every route the README's table names (`` `GET, POST /users` ``).
fn in_readme(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for code in text.split('`').skip(1).step_by(2) {
        let Some((methods, path)) = code.rsplit_once(' ') else {
            continue;
        };
        let methods: Vec<&str> = methods.split(", ").collect();
        if !path.starts_with('/') || !methods.iter().all(|m| METHODS.contains(m)) {
            continue;
        }
        for m in methods {
            out.insert(format!("{m} {path}"));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_names_every_route_and_only_those() {
    let s = TestServer::start(Backend::Sqlite).await;
    let (st, doc) = s.anonymous().get("/api/v1/openapi.json").await;
    assert_eq!(st, 200);
    let routes = documented(&doc);
    assert!(routes.len() > 100, "{routes:?}");
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("read README.md");
    let start = readme
        .find("| resource | routes")
        .expect("the README has its route table");
    let table = readme[start..].split("\n\n").next().unwrap();
    let named = in_readme(table);
    let missing: Vec<_> = routes.difference(&named).collect();
    let stale: Vec<_> = named.difference(&routes).collect();
    assert!(
        missing.is_empty(),
        "routes the README's table does not name: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "the README names routes that do not exist: {stale:?}"
    );
    s.stop().await;
}

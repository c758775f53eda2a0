//! Every list of the API is paged the same way: the routes come from the OpenAPI document (a
//! new list cannot escape), and each one answers `{items, total, limit, offset}`, honours
//! `limit`, and refuses a `limit` outside 1–500, an unknown sort key and an unknown parameter
//! with a 400 that names the parameter. A GET answering a bare array fails the test.

use crate::permission_matrix::{documented_path, fill, fixtures, table};
use crate::support::{on_both_backends, TestServer};
use serde_json::Value;

/// Exports stream every matching record in one answer; they are not lists to page.
const EXPORTS: &[&str] = &["/api/v1/audit/export"];

/// The schema of a GET's 200 JSON answer, with a `$ref` resolved.
fn answer_schema<'a>(doc: &'a Value, op: &'a Value) -> Option<&'a Value> {
    let schema = &op["responses"]["200"]["content"]["application/json"]["schema"];
    match schema["$ref"].as_str() {
        Some(r) => doc["components"]["schemas"].get(r.rsplit('/').next()?),
        None => (!schema.is_null()).then_some(schema),
    }
}

fn is_page(schema: &Value) -> bool {
    ["items", "total", "limit", "offset"]
        .iter()
        .all(|k| schema["properties"].get(k).is_some())
}

fn first_field(problem: &Value) -> Option<&str> {
    problem["errors"][0]["field"].as_str()
}

on_both_backends! {
    async fn every_list_is_paged_and_refuses_bad_paging(backend: Backend) {
        let s = TestServer::start(backend).await;
        let admin = s.admin();
        let (_, doc) = s.anonymous().get("/api/v1/openapi.json").await;
        let mut lists = Vec::new();
        let mut failures = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            let Some(op) = item.get("get") else { continue };
            let Some(schema) = answer_schema(&doc, op) else { continue };
            if schema["type"] == "array" && !EXPORTS.contains(&path.as_str()) {
                failures.push(format!("GET {path} answers a bare array, not a page"));
            } else if is_page(schema) {
                lists.push(path.clone());
            }
        }
        // The hand-written matrix has a row (with fixtures) for every documented route.
        let rows: Vec<&str> = table().into_iter().filter(|(m, ..)| *m == reqwest::Method::GET).map(|(_, p, ..)| p).collect();
        let values = fixtures(&s, 0).await;
        for path in &lists {
            let row = rows.iter().find(|r| documented_path(r) == *path).unwrap_or_else(|| panic!("no matrix row for {path}"));
            let url = fill(row, &values, "lists");
            let (st, page) = admin.get(&format!("{url}?limit=1")).await;
            let items = page["items"].as_array();
            if st != 200 || items.is_none_or(|i| i.len() > 1) || page["limit"] != 1 || page["offset"] != 0 || !page["total"].is_u64() {
                failures.push(format!("GET {path}?limit=1: {st} {page}"));
            }
            for bad in ["limit=0", "limit=501", "limit=x", "offset=-1", "sort=no_such_key", "colour=red"] {
                let (st, problem) = admin.get(&format!("{url}?{bad}")).await;
                let param = bad.split('=').next().unwrap();
                if st != 400 || first_field(&problem) != Some(param) {
                    failures.push(format!("GET {path}?{bad}: expected 400 naming {param}, got {st} {problem}"));
                }
            }
        }
        // The lists alm has (checked by name, so that the document cannot lose one quietly).
        for expected in ["/api/v1/users", "/api/v1/groups", "/api/v1/groups/{id}/members", "/api/v1/groups/{id}/template-uses",
                         "/api/v1/roles", "/api/v1/roles/{id}/members", "/api/v1/api-tokens", "/api/v1/audit",
                         "/api/v1/domains", "/api/v1/domains/{id}/sync-runs", "/api/v1/domains/{id}/objects",
                         "/api/v1/domains/{id}/attributes", "/api/v1/domains/{id}/calibration", "/api/v1/vaults",
                         "/api/v1/vaults/{id}/calibration", "/api/v1/engine-pools", "/api/v1/engines", "/api/v1/engines/{id}/logs",
                         "/api/v1/jobs", "/api/v1/templates", "/api/v1/templates/{id}/versions", "/api/v1/requests",
                         "/api/v1/approvals", "/api/v1/accounts", "/api/v1/accounts/{id}/history", "/api/v1/discovery/accounts",
                         "/api/v1/email-templates", "/api/v1/outbox", "/api/v1/inbox", "/api/v1/webhooks",
                         "/api/v1/webhooks/{id}/deliveries", "/api/v1/siem-integrations"] {
            if !lists.iter().any(|l| l == expected) {
                failures.push(format!("GET {expected} is not documented as a page"));
            }
        }
        assert!(failures.is_empty(), "{} problems:\n{}", failures.len(), failures.join("\n"));
        s.stop().await;
    }
}

//! Bad input gets a clear problem naming the field, and changes nothing.

use crate::support::{on_both_backends, Backend, TestServer};
use reqwest::Method;
use serde_json::{json, Value};

async fn counts(s: &TestServer) -> (u64, u64, u64) {
    let admin = s.admin();
    let total = |v: Value| v["total"].as_u64().unwrap();
    (
        total(admin.get("/api/v1/users").await.1),
        total(admin.get("/api/v1/groups").await.1),
        total(admin.get("/api/v1/roles").await.1),
    )
}

fn first_error(body: &Value) -> (String, String) {
    let e = &body["errors"][0];
    (
        e["field"].as_str().unwrap_or("").to_owned(),
        e["rule"].as_str().unwrap_or("").to_owned(),
    )
}

on_both_backends! {
    async fn bad_bodies_name_the_field_and_store_nothing(backend: Backend) {
        let s = TestServer::start(backend).await;
        let admin = s.admin();
        assert_eq!(admin.post("/api/v1/groups", json!({"name": "Taken"})).await.0, 201);
        let before = counts(&s).await;

        // Malformed JSON: 400, the body is the field.
        let (st, body) = admin.send_raw(Method::POST, "/api/v1/users", "application/json", "{\"display_name\": ").await;
        assert_eq!((st, first_error(&body)), (400, ("body".into(), "json".into())), "{body}");
        assert_eq!(body["type"], "urn:alm:problem:bad-request");
        // Not JSON at all: 415.
        let (st, _) = admin.send_raw(Method::POST, "/api/v1/users", "text/plain", "hello").await;
        assert_eq!(st, 415);

        let cases: Vec<(&str, Value, u16, &str, &str)> = vec![
            ("/api/v1/users", json!({"display_name": "X", "emails": ["x@example.test"], "colour": "red"}), 422, "colour", "unknown-field"),
            ("/api/v1/users", json!({"emails": ["x@example.test"]}), 422, "display_name", "required"),
            ("/api/v1/users", json!({"display_name": "x".repeat(129), "emails": ["x@example.test"]}), 422, "display_name", "max-length"),
            ("/api/v1/users", json!({"display_name": "X", "emails": ["not-an-email"]}), 422, "emails[0]", "email"),
            ("/api/v1/users", json!({"display_name": "X", "emails": []}), 422, "emails", "required"),
            ("/api/v1/users", json!({"display_name": "X", "emails": ["admin@example.test"]}), 409, "emails[0]", "unique"),
            ("/api/v1/users", json!({"display_name": "X", "emails": [7]}), 422, "emails[0]", "type"),
            ("/api/v1/groups", json!({"name": "taken"}), 409, "name", "unique"),
            ("/api/v1/groups", json!({"name": "  "}), 422, "name", "required"),
            ("/api/v1/groups", json!({"name": "G", "description": "d".repeat(2001)}), 422, "description", "max-length"),
            ("/api/v1/roles", json!({"name": "R", "permissions": ["audit:write"]}), 422, "permissions[0]", "one-of"),
            ("/api/v1/roles", json!({"name": "R", "permissions": ["everything"]}), 422, "permissions[0]", "format"),
            ("/api/v1/roles", json!({"name": "System administrator"}), 409, "name", "unique"),
            ("/api/v1/api-tokens", json!({"name": "t", "expires_in_days": 0}), 422, "expires_in_days", "range"),
            ("/api/v1/api-tokens", json!({"name": "t", "expires_in_days": -1}), 422, "expires_in_days", "type"),
        ];
        for (path, input, status, field, rule) in cases {
            let (st, body) = admin.post(path, input.clone()).await;
            assert_eq!(st, status, "{path} {input}: {body}");
            assert_eq!(first_error(&body), (field.to_owned(), rule.to_owned()), "{path} {input}: {body}");
            assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
        }
        let (_, tokens) = admin.get("/api/v1/api-tokens").await;
        assert_eq!(tokens["total"], 1, "no token was created by the bad requests");
        assert_eq!(counts(&s).await, before, "nothing was stored");

        // Query strings too.
        let (st, body) = admin.get("/api/v1/users?limit=0").await;
        assert_eq!((st, first_error(&body)), (400, ("limit".into(), "range".into())), "{body}");
        let (st, body) = admin.get("/api/v1/users?sort=password_hash").await;
        assert_eq!((st, first_error(&body).0), (400, "sort".into()), "{body}");
        let (st, body) = admin.get("/api/v1/users?colour=red").await;
        assert_eq!((st, first_error(&body).0), (400, "colour".into()), "{body}");
        let (st, body) = admin.get("/api/v1/audit?since=yesterday").await;
        assert_eq!((st, first_error(&body).0), (400, "since".into()), "{body}");
        // Unknown ids are 404, malformed ids too.
        assert_eq!(admin.get("/api/v1/users/not-a-uuid").await.0, 404);
        assert_eq!(admin.get("/api/v1/groups/01a2273f-9a87-755a-b9df-6f3b47c7e4dc").await.0, 404);
        let (st, body) = admin.post("/api/v1/groups/01a2273f-9a87-755a-b9df-6f3b47c7e4dc/members", json!({"user_id": "nope"})).await;
        assert_eq!((st, first_error(&body).0), (422, "user_id".into()), "{body}");
        s.stop().await;
    }
}

#[tokio::test]
async fn problems_are_problem_json() {
    let s = TestServer::start(Backend::Sqlite).await;
    let resp = reqwest::Client::new()
        .get(format!("{}/api/v1/users", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    assert!(resp.headers().contains_key("www-authenticate"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        (body["status"].as_u64(), body["type"].as_str()),
        (Some(401), Some("urn:alm:problem:unauthenticated"))
    );
    s.stop().await;
}

/// The content type and body of a raw response, parsed as a problem document.
async fn problem(resp: reqwest::Response) -> (u16, String, Value) {
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, content_type, body)
}

#[tokio::test]
async fn size_method_and_target_errors_are_problems_too() {
    let s = TestServer::start(Backend::Sqlite).await;
    let client = reqwest::Client::new();
    let before = counts(&s).await;

    // A body over the 1 MiB limit is 413, not a malformed request.
    let big = format!(
        "{{\"display_name\": \"{}\", \"emails\": [\"big@example.test\"]}}",
        "x".repeat(1024 * 1024 + 10)
    );
    let resp = client
        .post(format!("{}/api/v1/users", s.base))
        .bearer_auth(&s.admin_token)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    let (st, ct, body) = problem(resp).await;
    assert_eq!(
        (st, ct.as_str()),
        (413, "application/problem+json"),
        "{body}"
    );
    assert_eq!(body["type"], "urn:alm:problem:payload-too-large");
    assert_eq!(first_error(&body), ("body".into(), "max-size".into()));

    // A known path with a method it does not take: 405 with a problem and the Allow header.
    let resp = client
        .delete(format!("{}/api/v1/audit", s.base))
        .bearer_auth(&s.admin_token)
        .send()
        .await
        .unwrap();
    let allow = resp
        .headers()
        .get("allow")
        .map(|v| v.to_str().unwrap().to_owned());
    let (st, ct, body) = problem(resp).await;
    assert_eq!(
        (st, ct.as_str()),
        (405, "application/problem+json"),
        "{body}"
    );
    assert_eq!(
        (body["status"].as_u64(), body["type"].as_str()),
        (Some(405), Some("urn:alm:problem:method-not-allowed"))
    );
    assert!(
        allow.as_deref().is_some_and(|a| a.contains("GET")),
        "{allow:?}"
    );

    // A 10 KiB request target: 414 with a problem.
    let resp = client
        .get(format!(
            "{}/api/v1/users?q={}",
            s.base,
            "a".repeat(10 * 1024)
        ))
        .bearer_auth(&s.admin_token)
        .send()
        .await
        .unwrap();
    let (st, ct, body) = problem(resp).await;
    assert_eq!(
        (st, ct.as_str()),
        (414, "application/problem+json"),
        "{body}"
    );
    assert_eq!(body["type"], "urn:alm:problem:uri-too-long");

    // An audit filter by an actor id that cannot be one names the field.
    let (st, body) = s.admin().get("/api/v1/audit?actor_id=not-a-uuid").await;
    assert_eq!(
        (st, first_error(&body)),
        (400, ("actor_id".into(), "format".into())),
        "{body}"
    );
    let (st, body) = s.admin().get("/api/v1/audit/export?actor_id=1234").await;
    assert_eq!(
        (st, first_error(&body).0),
        (400, "actor_id".into()),
        "{body}"
    );
    assert_eq!(counts(&s).await, before, "nothing was stored");
    s.stop().await;
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let s = TestServer::start(Backend::Sqlite).await;
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let resp = reqwest::Client::new()
            .get(format!("{}/api/v1/me", s.base))
            .header("authorization", format!("{scheme} {}", s.admin_token))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{scheme}");
    }
    let resp = reqwest::Client::new()
        .get(format!("{}/api/v1/me", s.base))
        .header("authorization", format!("Basic {}", s.admin_token))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    s.stop().await;
}

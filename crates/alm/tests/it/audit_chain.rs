//! Audit tampering is detected by `alm db verify-audit`: an altered record, a removed one,
//! two swapped, and records cut from the end. Also: no secret ever reaches the log.

use crate::cli::alm_cli;
use crate::support::server::{ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::support::{on_both_backends, Api, Backend, TestServer};
use serde_json::json;

/// A server with some history, stopped, so the test can tamper with its database.
async fn server_with_history(backend: Backend) -> TestServer {
    let s = TestServer::start(backend).await;
    let admin = s.admin();
    for i in 0..4 {
        let (st, _) = admin
            .post("/api/v1/groups", json!({"name": format!("Group {i}")}))
            .await;
        assert_eq!(st, 201);
    }
    s
}

pub(crate) async fn exec(s: &TestServer, sql: &str) {
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&s.db.url)
        .await
        .unwrap();
    for statement in sql.split(';').filter(|x| !x.trim().is_empty()) {
        sqlx::query(statement)
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
}

fn verify(s: &TestServer) -> (bool, String) {
    let out = alm_cli(&s.db, &["db", "verify-audit"]);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

on_both_backends! {
    async fn an_intact_chain_verifies_and_an_altered_record_is_named(backend: Backend) {
        let s = server_with_history(backend).await;
        let (ok, text) = verify(&s);
        assert!(ok, "{text}");
        assert!(text.contains("audit chain intact"), "{text}");
        // The API's verify is the same check, reserved to audit managers.
        let (st, intact) = s.admin().post_empty("/api/v1/audit/verify").await;
        assert_eq!(st, 200, "{intact}");
        assert_eq!(intact["intact"], true, "{intact}");
        assert!(intact["checked"].as_u64().unwrap() >= 5, "{intact}");
        let (_, token) = s.user_with_token("Reader", "reader@example.test").await;
        let (st, _) = Api::with_token(&s.base, &token).post_empty("/api/v1/audit/verify").await;
        assert_eq!(st, 403);
        exec(&s, "UPDATE audit_log SET summary = '{\"after\":{\"name\":\"forged\"}}' WHERE seq = 5").await;
        let (ok, text) = verify(&s);
        assert!(!ok, "verify must fail: {text}");
        assert!(text.contains("BROKEN at record 5") && text.contains("altered"), "{text}");
        let (st, broken) = s.admin().post_empty("/api/v1/audit/verify").await;
        assert_eq!(st, 200, "{broken}");
        assert_eq!(broken["intact"], false);
        assert_eq!(broken["first_broken"]["seq"], 5, "{broken}");
        assert!(broken["first_broken"]["reason"].as_str().unwrap().contains("altered"), "{broken}");
        s.stop().await;
    }
}

on_both_backends! {
    async fn a_removed_record_is_named(backend: Backend) {
        let s = server_with_history(backend).await;
        exec(&s, "DELETE FROM audit_log WHERE seq = 4").await;
        let (ok, text) = verify(&s);
        assert!(!ok);
        assert!(text.contains("BROKEN at record 4") && text.contains("missing"), "{text}");
        s.stop().await;
    }
}

on_both_backends! {
    async fn two_swapped_records_are_detected(backend: Backend) {
        let s = server_with_history(backend).await;
        exec(&s, "UPDATE audit_log SET seq = -1 WHERE seq = 6; UPDATE audit_log SET seq = 6 WHERE seq = 7; UPDATE audit_log SET seq = 7 WHERE seq = -1").await;
        let (ok, text) = verify(&s);
        assert!(!ok);
        assert!(text.contains("BROKEN at record 6"), "{text}");
        s.stop().await;
    }
}

on_both_backends! {
    async fn records_cut_from_the_end_are_detected(backend: Backend) {
        let s = server_with_history(backend).await;
        exec(&s, "DELETE FROM audit_log WHERE seq >= (SELECT MAX(seq) FROM audit_log) - 1").await;
        let (ok, text) = verify(&s);
        assert!(!ok);
        assert!(text.contains("removed"), "{text}");
        s.stop().await;
    }
}

on_both_backends! {
    async fn secrets_never_reach_the_audit_log(backend: Backend) {
        let s = TestServer::start(backend).await;
        let mut browser = Api::anonymous(&s.base);
        browser.login(ADMIN_EMAIL, "a wrong password").await;
        browser.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let csrf = browser.csrf.clone().unwrap();
        let (_, issued) = s.admin().post("/api/v1/api-tokens", json!({"name": "ci"})).await;
        let secret = issued["token_secret"].as_str().unwrap().to_owned();
        for format in ["json", "csv"] {
            let resp = reqwest::Client::new()
                .get(format!("{}/api/v1/audit/export?format={format}", s.base))
                .bearer_auth(&s.admin_token)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            let text = resp.text().await.unwrap();
            assert!(text.contains("api-token.created") && text.contains("login.password"), "{format}: export has the records");
            for secret_text in [ADMIN_PASSWORD, "a wrong password", &secret, &s.admin_token, &csrf] {
                assert!(!text.contains(secret_text), "{format} export leaks a secret");
            }
        }
        // The export honours filters and the CSV has its header.
        let resp = reqwest::Client::new()
            .get(format!("{}/api/v1/audit/export?format=csv&action=api-token.created", s.base))
            .bearer_auth(&s.admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers()["content-type"], "text/csv; charset=utf-8");
        let csv = resp.text().await.unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert!(lines[0].starts_with("seq,id,at,actor_kind"));
        assert_eq!(lines.len(), 1 + 2, "the admin's bootstrap token and the new one: {csv}");
        s.stop().await;
    }
}

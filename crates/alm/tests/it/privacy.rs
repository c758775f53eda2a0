//! SPEC §13: a person with requests, an approval, an owned account (provisioned in Samba),
//! notifications, a failed login and audit records from their own address is exported — the
//! export holds all of it — then disabled and forgotten: a search of every column of every table
//! finds none of their name, addresses or IP any more, the audit chain still verifies, and the
//! person is a stable pseudonym. Forgetting an enabled person is refused.

use crate::support::{on_both_backends, Api, Backend, TestServer};
use crate::templates::{definition, world};
use serde_json::{json, Value};
use std::time::Duration;

const NAME: &str = "Penelope Quarrington";
const EMAIL: &str = "penelope.q@example.test";
const OTHER_EMAIL: &str = "pq.alt@example.test";
const IP: &str = "203.0.113.77";

/// Everything the person is, as strings a search must not find after forgetting.
const TRACES: &[&str] = &["penelope", "quarrington", EMAIL, OTHER_EMAIL, IP];

/// An API client of the person, coming from their own address (the test runs as the trusted
/// proxy that says so).
fn as_person(base: &str, token: &str) -> Api {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-forwarded-for", IP.parse().unwrap());
    Api {
        client: reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .unwrap(),
        ..Api::with_token(base, token)
    }
}

async fn wait_provisioned(admin: &Api, name: &str) -> Value {
    for _ in 0..600 {
        let (_, list) = admin.get(&format!("/api/v1/accounts?q={name}")).await;
        if let Some(a) = list["items"].as_array().and_then(|i| i.first()) {
            return a.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{name} was not provisioned");
}

/// Every (table, column) holding any of `needles` (case-insensitive), with the value.
async fn traces_in_database(s: &TestServer, needles: &[&str]) -> Vec<String> {
    use sqlx::Row;
    let db = &s.state().db;
    let mut conn = db.read().await.unwrap();
    let sqlite = db.backend() == alm_store::Backend::Sqlite;
    let tables: Vec<String> = sqlx::query_scalar(if sqlite {
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    } else {
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema()"
    })
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let mut found = Vec::new();
    for table in tables {
        let columns: Vec<String> = if sqlite {
            sqlx::query(&format!("SELECT name FROM pragma_table_info('{table}')"))
                .fetch_all(&mut *conn)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<String, _>(0))
                .collect()
        } else {
            sqlx::query_scalar("SELECT column_name::text FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1")
                .bind(&table)
                .fetch_all(&mut *conn)
                .await
                .unwrap()
        };
        for column in columns {
            for needle in needles {
                let sql = format!(
                    "SELECT CAST({column} AS TEXT) FROM {table} WHERE LOWER(CAST({column} AS TEXT)) LIKE $1"
                );
                let hits: Vec<Option<String>> = sqlx::query_scalar(&sql)
                    .bind(format!("%{}%", needle.to_lowercase()))
                    .fetch_all(&mut *conn)
                    .await
                    .unwrap();
                for hit in hits {
                    found.push(format!(
                        "{table}.{column} has {needle:?}: {}",
                        hit.unwrap_or_default()
                    ));
                }
            }
        }
    }
    found
}

on_both_backends! {
    async fn a_forgotten_person_leaves_no_name_address_or_ip_and_the_audit_chain_still_verifies(backend: Backend) {
        let s = TestServer::start_with(backend, &[("ALM_AUTH__TRUSTED_PROXIES", "127.0.0.1")]).await;
        let admin = s.admin();
        let w = world(&s).await;
        let (person, token) = s.user_with_token(NAME, EMAIL).await;
        let (st, body) = admin.patch(&format!("/api/v1/users/{person}"), json!({"emails": [EMAIL, OTHER_EMAIL]})).await;
        assert_eq!(st, 200, "{body}");
        for role in ["requester", "approver"] {
            let role = s.role_id(role).await;
            assert_eq!(admin.post(&format!("/api/v1/roles/{role}/members"), json!({"user_id": person})).await.0, 204);
        }
        let (st, body) = admin.post(&format!("/api/v1/groups/{}/members", w.audience), json!({"user_id": person})).await;
        assert!(st == 200 || st == 201, "{body}");
        let me = as_person(&s.base, &token);

        // A template whose last step the person may approve.
        let mut d = definition(&w);
        d["steps"] = json!([{"groups": [w.approvers], "min_approvals": 2}, {"users": [w.final_approver, person], "min_approvals": 1}]);
        let (st, t) = admin.post("/api/v1/templates", json!({"name": "Privacy drill", "definition": d})).await;
        assert_eq!(st, 201, "{t}");
        let template = t["id"].as_str().unwrap().to_owned();
        assert_eq!(admin.post_empty(&format!("/api/v1/templates/{template}/publish")).await.0, 200);
        let tag = &uuid::Uuid::new_v4().simple().to_string()[..6];
        let request = |api: &Api, name: String, why: &str| {
            let api = api.clone();
            let why = why.to_owned();
            let template = template.clone();
            async move {
                let (st, r) = api.post("/api/v1/requests", json!({"template_id": template, "account_name": name, "interval": "90d",
                    "justification": why, "description": "privacy drill", "attributes": {"department": "IT"}, "terms_accepted": true})).await;
                assert_eq!(st, 201, "{r}");
                let id = r["id"].as_str().unwrap().to_owned();
                assert_eq!(api.post_empty(&format!("/api/v1/requests/{id}/submit")).await.0, 200);
                id
            }
        };
        // The person's own request (their name in its free text), approved by others.
        let own = request(&me, format!("svc-pq{tag}"), &format!("{NAME} runs the nightly export")).await;
        for api in [&w.approver_apis[0], &w.approver_apis[1], &w.final_api] {
            assert_eq!(api.post(&format!("/api/v1/approvals/{own}/approve"), json!({})).await.0, 200);
        }
        let account = wait_provisioned(&admin, &format!("svc-pq{tag}")).await;
        // Someone else's request, decided by the person.
        let other = request(&w.requester, format!("svc-ot{tag}"), "reporting").await;
        for api in [&w.approver_apis[0], &w.approver_apis[1]] {
            assert_eq!(api.post(&format!("/api/v1/approvals/{other}/approve"), json!({})).await.0, 200);
        }
        let (st, body) = me.post(&format!("/api/v1/approvals/{other}/approve"), json!({"reason": "fine by me"})).await;
        assert_eq!(st, 200, "{body}");
        wait_provisioned(&admin, &format!("svc-ot{tag}")).await;
        crate::lifecycle::settled(&s).await;
        // A failed login, typed in capitals, from their address.
        let (st, _) = me.post("/api/v1/auth/login", json!({"email": "Penelope.Q@Example.test", "password": "not my password!"})).await;
        assert_eq!(st, 401);

        // The export holds all of it; the person may export their own data, not someone else's.
        let (st, export) = admin.get(&format!("/api/v1/users/{person}/export")).await;
        assert_eq!(st, 200, "{export}");
        let text = export.to_string();
        for trace in [NAME, EMAIL, OTHER_EMAIL, IP, &own, &other, account["id"].as_str().unwrap()] {
            assert!(text.contains(trace), "the export lacks {trace}: {export}");
        }
        assert_eq!(export["requests"].as_array().unwrap().len(), 1, "{export}");
        assert_eq!(export["approval_decisions"].as_array().unwrap().len(), 1, "{export}");
        assert_eq!(export["owned_accounts"][0]["id"], account["id"], "{export}");
        assert!(export["audit_records"].as_array().unwrap().iter().any(|r| r["action"] == "login.password" && r["result"] == "denied"), "{export}");
        assert!(!text.contains("argon2"), "no password hash in an export");
        let (st, own_export) = me.get("/api/v1/me/export").await;
        assert_eq!((st, own_export["user"]["id"].as_str()), (200, Some(person.as_str())), "{own_export}");
        assert_eq!(me.get(&format!("/api/v1/users/{}/export", w.requester_id)).await.0, 403, "another person's data needs user:read");

        // Forgetting needs a disabled person; disabling needs the account to keep an owner.
        let (st, refused) = admin.post_empty(&format!("/api/v1/users/{person}/forget")).await;
        assert_eq!(st, 409, "{refused}");
        assert!(refused.to_string().contains("disable them first"), "{refused}");
        let (st, body) = admin.post(&format!("/api/v1/accounts/{}/owners", account["id"].as_str().unwrap()), json!({"user_id": w.requester_id})).await;
        assert_eq!(st, 200, "{body}");
        assert_eq!(admin.post_empty(&format!("/api/v1/users/{person}/disable")).await.0, 200);
        assert!(!traces_in_database(&s, TRACES).await.is_empty(), "the search finds the person before");
        let (_, before) = admin.get(&format!("/api/v1/audit?actor_id={person}&limit=1")).await;

        let (st, forgotten) = admin.post_empty(&format!("/api/v1/users/{person}/forget")).await;
        assert_eq!(st, 200, "{forgotten}");
        assert!(forgotten["audit_records"].as_u64().unwrap() > 5 && forgotten["text_fields"].as_u64().unwrap() > 0, "{forgotten}");
        let left = traces_in_database(&s, TRACES).await;
        assert!(left.is_empty(), "traces left:\n{}", left.join("\n"));
        crate::provisioning::audit_verifies(&s).await;
        let out = crate::cli::alm_cli(&s.db, &["db", "verify-audit"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));

        // The person is a stable pseudonym; their history is still theirs, by id.
        let (_, user) = admin.get(&format!("/api/v1/users/{person}")).await;
        let pseudonym = user["display_name"].as_str().unwrap().to_owned();
        assert!(pseudonym.starts_with("Forgotten user "), "{user}");
        assert!(user["emails"][0].as_str().unwrap().ends_with("@forgotten.invalid"), "{user}");
        let (_, after) = admin.get(&format!("/api/v1/audit?actor_id={person}&limit=1")).await;
        assert_eq!(after["total"].as_i64().unwrap(), before["total"].as_i64().unwrap(), "no record of theirs lost");
        let (_, again) = admin.post_empty(&format!("/api/v1/users/{person}/forget")).await;
        assert_eq!(again["audit_records"], 0, "a second forget finds nothing left: {again}");
        let (_, user) = admin.get(&format!("/api/v1/users/{person}")).await;
        assert_eq!(user["display_name"], json!(pseudonym), "the pseudonym is stable");
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_exports_and_refuses_to_forget_an_enabled_or_unknown_person() {
    let s = TestServer::start(Backend::Sqlite).await;
    let (id, _) = s.user_with_token(NAME, EMAIL).await;
    let out = crate::cli::alm_cli(&s.db, &["admin", "forget-user", EMAIL]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.status.success() && text.contains("disable them first"),
        "{text}"
    );
    let out = crate::cli::alm_cli(&s.db, &["admin", "forget-user", "nobody@example.test"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.status.success() && text.contains("no user has the email address nobody@example.test"),
        "{text}"
    );
    let file = s.db.dir.join("export.json");
    let out = crate::cli::alm_cli(
        &s.db,
        &[
            "admin",
            "export-user",
            EMAIL,
            "--output",
            file.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let export: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(
        (
            export["user"]["id"].as_str(),
            export["user"]["display_name"].as_str()
        ),
        (Some(id.as_str()), Some(NAME))
    );
    assert_eq!(crate::data_files::mode(&file), 0o600);
    assert_eq!(
        s.admin()
            .post_empty(&format!("/api/v1/users/{id}/disable"))
            .await
            .0,
        200
    );
    let out = crate::cli::alm_cli(&s.db, &["admin", "forget-user", EMAIL]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success() && text.contains("forgot user") && text.contains("@forgotten.invalid"),
        "{text}"
    );
    s.stop().await;
}

//! Webhooks (SPEC §7.4) end to end against a local receiver: basic and OAuth
//! client-credentials authorization, one signed delivery per event through the outbox, a test
//! call, the history, retries with back-off while the receiver is down, a call whose outcome
//! waits for a database that went away (recorded once it is back, not made again), and
//! secrets that never come back. The event is a real one: a request submitted for approval
//! (`request.step-requires-approval`), on a template whose domain is written as a sync would
//! (no directory needed to submit).

use crate::support::receiver::{Receiver, Recorded};
use crate::support::relay::Relay;
use crate::support::{on_both_backends, Api, TestServer};
use base64::Engine as _;
use hmac::Mac as _;
use serde_json::{json, Value};
use std::time::Duration;

const SIGNING_SECRET: &str = "whsec-test-0123456789abcdef";
const BASIC_PASSWORD: &str = "basic-pa55word-never-shown";
const CLIENT_SECRET: &str = "oauth-client-secret-never-shown";

pub(crate) async fn start(backend: crate::support::Backend) -> TestServer {
    TestServer::start_with(backend, &[("ALM_SCHEDULER__ENABLED", "false")]).await
}

/// A published template with one approval step (a group with one member), on a domain nobody
/// answers for whose one OU is written as a sync would. Returns the template id.
pub(crate) async fn approval_template(s: &TestServer) -> String {
    let admin = s.admin();
    let (approver, _) = s.user_with_token("Approver", "approver@example.test").await;
    let (_, group) = admin
        .post("/api/v1/groups", json!({"name": "Approvers"}))
        .await;
    let group = group["id"].as_str().unwrap().to_owned();
    admin
        .post(
            &format!("/api/v1/groups/{group}/members"),
            json!({"user_id": approver}),
        )
        .await;
    let (st, domain) = admin
        .post(
            "/api/v1/domains",
            json!({"name": "Nowhere", "url": "ldaps://127.0.0.1:1", "bind_identity": "svc@corp.example.test",
                   "bind_password": "x", "base_dn": "DC=corp,DC=example,DC=test"}),
        )
        .await;
    assert_eq!(st, 201, "{domain}");
    let domain = domain["id"].as_str().unwrap().to_owned();
    let (_, vault) = admin.get("/api/v1/vaults").await;
    let vault = vault["items"][0]["id"].as_str().unwrap().to_owned();
    let ou = "OU=Hooks,DC=corp,DC=example,DC=test".to_owned();
    {
        let state = s.state();
        let mut tx = state.db.begin_write().await.unwrap();
        alm_store::directory_sync::store(
            &mut tx,
            domain.parse().unwrap(),
            &alm_store::directory_sync::DirectoryObject {
                guid: uuid::Uuid::new_v4().to_string(),
                kind: "ou".into(),
                dn: ou.clone(),
                name: "Hooks".into(),
                enabled: true,
                usn_changed: 1,
                details: "{}".into(),
                synced_at: alm_core::Clock::now(s.clock.as_ref()),
            },
            false,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    let (_, groups) = admin.get("/api/v1/groups?limit=500").await;
    let everyone = groups["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["builtin"] == true && g["name"] == "Everyone")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let definition = json!({
        "account_type": "ad-user", "eol_action": "disable", "vault_id": vault, "folders": ["svc"],
        "domain_id": domain, "ous": [ou], "audience_groups": [everyone],
        "lifecycle": {"intervals": ["1y"]}, "steps": [{"groups": [group], "min_approvals": 1}],
    });
    let (st, template) = admin
        .post(
            "/api/v1/templates",
            json!({"name": "Hooked", "definition": definition}),
        )
        .await;
    assert_eq!(st, 201, "{template}");
    let template = template["id"].as_str().unwrap().to_owned();
    assert_eq!(
        admin
            .post_empty(&format!("/api/v1/templates/{template}/publish"))
            .await
            .0,
        200
    );
    template
}

/// Submits a request for `name` (by the administrator): the step's approvers are asked.
pub(crate) async fn submit(admin: &Api, template: &str, name: &str) -> String {
    let (st, r) = admin
        .post(
            "/api/v1/requests",
            json!({"template_id": template, "account_name": name, "interval": "1y", "justification": "hooks"}),
        )
        .await;
    assert_eq!(st, 201, "{r}");
    let id = r["id"].as_str().unwrap().to_owned();
    let (st, r) = admin
        .post_empty(&format!("/api/v1/requests/{id}/submit"))
        .await;
    assert_eq!(st, 200, "{r}");
    id
}

fn webhook_body(url: &str, authorization: Value) -> Value {
    json!({
        "description": "tests",
        "event": "request.step-requires-approval",
        "url": url,
        "body_template": "{\"account\": \"{{request.account_name}}\", \"request\": \"{{request.id}}\"}",
        "headers": [{"name": "X-Team", "value": "identity"}],
        "signing_secret": SIGNING_SECRET,
        "authorization": authorization,
    })
}

/// Checks `X-Alm-Signature` with an HMAC implementation independent of alm's.
fn assert_signed(call: &Recorded) {
    let header = call.header("x-alm-signature").expect("signature header");
    let (t, v1) = header.split_once(",v1=").expect("t=…,v1=…");
    let t = t.strip_prefix("t=").expect("t=");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SIGNING_SECRET.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(&call.body);
    mac.verify_slice(&hex::decode(v1).expect("hex"))
        .expect("the signature verifies");
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in [SIGNING_SECRET, BASIC_PASSWORD, CLIENT_SECRET] {
        assert!(!text.contains(secret), "{what} holds a secret: {text}");
    }
}

pub(crate) async fn wait_for<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..300 {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn history(admin: &Api, id: &str) -> Value {
    let (st, page) = admin
        .get(&format!("/api/v1/webhooks/{id}/deliveries?limit=50"))
        .await;
    assert_eq!(st, 200, "{page}");
    page
}

on_both_backends! {
    async fn an_event_reaches_basic_and_oauth_webhooks_once_signed_with_history_and_no_secrets(backend: Backend) {
        let s = start(backend).await;
        let admin = s.admin();
        let receiver = Receiver::start().await;

        // Bad input is refused naming the field.
        let mut bad = webhook_body(&receiver.url("/x"), Value::Null);
        bad["event"] = json!("no.such-event");
        let (st, p) = admin.post("/api/v1/webhooks", bad).await;
        assert_eq!((st, p["errors"][0]["field"].as_str()), (422, Some("event")), "{p}");
        let mut bad = webhook_body(&receiver.url("/x"), Value::Null);
        bad["body_template"] = json!("{{request.nope}}");
        let (st, p) = admin.post("/api/v1/webhooks", bad).await;
        assert_eq!((st, p["errors"][0]["field"].as_str()), (422, Some("body_template")), "{p}");
        let (st, p) = admin.post("/api/v1/webhooks", webhook_body("http://hooks.example.com/alm", Value::Null)).await;
        assert_eq!((st, p["errors"][0]["field"].as_str()), (422, Some("url")), "{p}");

        let (st, basic) = admin
            .post("/api/v1/webhooks", webhook_body(&receiver.url("/basic"),
                json!({"type": "basic", "username": "alm", "password": BASIC_PASSWORD})))
            .await;
        assert_eq!(st, 201, "{basic}");
        assert_no_secret("the created webhook", &basic.to_string());
        assert_eq!(basic["authorization"]["username"], "alm", "{basic}");
        let basic_id = basic["id"].as_str().unwrap().to_owned();
        let (st, oauth) = admin
            .post("/api/v1/webhooks", webhook_body(&receiver.url("/oauth"),
                json!({"type": "oauth_client_credentials", "token_url": receiver.url("/token"),
                       "client_id": "alm-client", "client_secret": CLIENT_SECRET, "extra": {"scope": "hooks"}})))
            .await;
        assert_eq!(st, 201, "{oauth}");
        let oauth_id = oauth["id"].as_str().unwrap().to_owned();
        // A disabled webhook of the same event is not called.
        let mut off = webhook_body(&receiver.url("/off"), Value::Null);
        off["enabled"] = json!(false);
        assert_eq!(admin.post("/api/v1/webhooks", off).await.0, 201);

        let template = approval_template(&s).await;
        let request = submit(&admin, &template, "hooked1").await;

        let calls = wait_for("both calls", async || {
            let c = receiver.calls();
            (c.len() >= 2).then_some(c)
        }).await;
        // Nothing more comes: one delivery per webhook.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let calls_now = receiver.calls();
        assert_eq!(calls_now.len(), 2, "exactly one call per enabled webhook: {:?}", calls_now.iter().map(|c| &c.path).collect::<Vec<_>>());
        for call in &calls {
            assert_signed(call);
            let body: Value = serde_json::from_slice(&call.body).expect("JSON body");
            assert_eq!(body, json!({"account": "hooked1", "request": request}), "rendered: {}", call.text());
            assert_eq!(call.header("x-alm-event"), Some("request.step-requires-approval"));
            assert_eq!(call.header("x-team"), Some("identity"));
            assert_eq!(call.header("content-type"), Some("application/json"));
        }
        let basic_call = calls.iter().find(|c| c.path == "/basic").expect("basic call");
        let expected = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("alm:{BASIC_PASSWORD}")));
        assert_eq!(basic_call.header("authorization"), Some(expected.as_str()));
        let oauth_call = calls.iter().find(|c| c.path == "/oauth").expect("oauth call");
        assert_eq!(oauth_call.header("authorization"), Some("Bearer tok-1"));
        let token_requests: Vec<Recorded> = receiver.all().into_iter().filter(|r| r.path == "/token").collect();
        assert_eq!(token_requests.len(), 1);
        let form = token_requests[0].text();
        assert!(form.contains("grant_type=client_credentials") && form.contains("client_id=alm-client") && form.contains("scope=hooks"), "{form}");

        // History: one attempt, answered 200.
        for id in [&basic_id, &oauth_id] {
            let page = history(&admin, id).await;
            assert_eq!(page["total"], 1, "{page}");
            let d = &page["items"][0];
            assert_eq!((d["attempt"].as_i64(), d["status_code"].as_i64(), d["test"].as_bool()), (Some(1), Some(200), Some(false)), "{d}");
            assert_eq!(d["response_excerpt"], "answered 200");
            assert!(d["error"].is_null(), "{d}");
        }

        // A test call: sent now, reported, kept in the history. The cached token is reused.
        let (st, t) = admin.post_empty(&format!("/api/v1/webhooks/{oauth_id}/test")).await;
        assert_eq!((st, t["delivered"].as_bool(), t["status_code"].as_i64()), (200, Some(true), Some(200)), "{t}");
        let test_call = receiver.calls().into_iter().last().unwrap();
        assert_eq!((test_call.path.as_str(), test_call.header("x-alm-test")), ("/oauth", Some("true")));
        assert_eq!(test_call.header("authorization"), Some("Bearer tok-1"));
        let page = history(&admin, &oauth_id).await;
        let tests = page["items"].as_array().unwrap().iter().filter(|d| d["test"] == true).count();
        assert_eq!((page["total"].as_i64(), tests), (Some(2), 1), "{page}");

        // An edit that leaves the secrets out keeps them (for the same callback URL: a new one
        // needs the password again, see secret_destinations.rs).
        let mut edit = webhook_body(&receiver.url("/basic"), json!({"type": "basic", "username": "alm"}));
        edit["description"] = json!("edited");
        edit.as_object_mut().unwrap().remove("signing_secret");
        let (st, edited) = admin.put(&format!("/api/v1/webhooks/{basic_id}"), edit).await;
        assert_eq!(st, 200, "{edited}");
        let (st, t) = admin.post_empty(&format!("/api/v1/webhooks/{basic_id}/test")).await;
        assert_eq!((st, t["delivered"].as_bool()), (200, Some(true)), "{t}");
        let kept = receiver.calls().into_iter().last().unwrap();
        assert_eq!(kept.header("authorization"), Some(expected.as_str()), "the stored password was kept");
        assert_signed(&kept);

        // No secret in any answer or history row.
        let (_, list) = admin.get("/api/v1/webhooks").await;
        assert_no_secret("the list", &list.to_string());
        assert_no_secret("the basic history", &history(&admin, &basic_id).await.to_string());
        assert_no_secret("the oauth history", &history(&admin, &oauth_id).await.to_string());
        let (_, audit) = admin.get("/api/v1/audit?limit=500").await;
        assert_no_secret("the audit log", &audit.to_string());
        assert_eq!(admin.delete(&format!("/api/v1/webhooks/{basic_id}")).await.0, 204);
        assert_eq!(admin.get(&format!("/api/v1/webhooks/{basic_id}")).await.0, 404);
        s.stop().await;
    }
}

on_both_backends! {
    async fn a_receiver_that_is_down_gets_the_delivery_later_with_every_attempt_in_the_history(backend: Backend) {
        let s = start(backend).await;
        let admin = s.admin();
        let receiver = Receiver::start().await;
        let relay = Relay::start_to(receiver.addr.to_string()).await;
        relay.refuse();
        let url = format!("http://127.0.0.1:{}/hook", relay.port);
        let (st, hook) = admin.post("/api/v1/webhooks", webhook_body(&url, Value::Null)).await;
        assert_eq!(st, 201, "{hook}");
        let id = hook["id"].as_str().unwrap().to_owned();
        let template = approval_template(&s).await;
        submit(&admin, &template, "later1").await;

        // Attempt 1 fails (connection dropped); the next waits for the back-off (10 s).
        let first = wait_for("attempt 1", async || {
            let page = history(&admin, &id).await;
            (page["total"] == 1).then_some(page)
        }).await;
        assert!(first["items"][0]["error"].is_string() && first["items"][0]["status_code"].is_null(), "{first}");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(history(&admin, &id).await["total"], 1, "no retry before the back-off");

        // Attempt 2, after 10 s on the clock: the receiver answers 503 (retryable).
        relay.open();
        receiver.answer_with(503);
        s.clock.advance(time::Duration::seconds(11));
        wait_for("attempt 2", async || (history(&admin, &id).await["total"] == 2).then_some(())).await;
        // Attempt 3, after 20 s more: delivered.
        receiver.answer_with(200);
        s.clock.advance(time::Duration::seconds(21));
        let done = wait_for("attempt 3", async || {
            let page = history(&admin, &id).await;
            (page["total"] == 3).then_some(page)
        }).await;
        let items = done["items"].as_array().unwrap();
        let mut attempts: Vec<(i64, Option<i64>, bool)> = items
            .iter()
            .map(|d| (d["attempt"].as_i64().unwrap(), d["status_code"].as_i64(), d["error"].is_null()))
            .collect();
        attempts.sort();
        assert_eq!(attempts, [(1, None, false), (2, Some(503), false), (3, Some(200), true)], "{done}");
        let delivery = items[0]["delivery_id"].as_str().unwrap();
        assert!(items.iter().all(|d| d["delivery_id"] == delivery), "one delivery id on every attempt: {done}");
        let calls = receiver.calls();
        assert_eq!(calls.len(), 2, "the 503 and the delivery");
        assert!(calls.iter().all(|c| c.header("x-alm-delivery") == Some(delivery)));
        assert_signed(&calls[1]);
        tokio::time::sleep(Duration::from_secs(1)).await;
        s.clock.advance(time::Duration::minutes(5));
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(history(&admin, &id).await["total"], 3, "nothing after the delivery");
        s.stop().await;
    }
}

/// A call the receiver took while the database went away is recorded when the database is back
/// — within seconds, once — instead of staying claimed until its lease (5 minutes) runs out and
/// being made again. Before the fix the outcome's transaction failed, the delivery loop gave up,
/// and the row (with the rest of its batch) stayed claimed — the mailer's bug the crash suite
/// (tests/crash) found, in the webhook path. PostgreSQL only: a database refusing connections
/// is how it goes away here (a SQLite file cannot refuse them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_answered_while_the_database_is_away_is_recorded_once_it_is_back_and_not_made_again()
{
    let s = start(crate::support::Backend::Postgres).await;
    let admin = s.admin();
    let receiver = Receiver::start().await;
    let (st, hook) = admin
        .post(
            "/api/v1/webhooks",
            webhook_body(&receiver.url("/hook"), Value::Null),
        )
        .await;
    assert_eq!(st, 201, "{hook}");
    let id = hook["id"].as_str().unwrap().to_owned();
    let template = approval_template(&s).await;
    // The receiver holds its answer; meanwhile the database goes away.
    receiver.answer_after(Duration::from_secs(3));
    submit(&admin, &template, "away1").await;
    wait_for("the call", async || {
        (!receiver.calls().is_empty()).then_some(())
    })
    .await;
    let name = url::Url::parse(&s.db.url).unwrap().path()[1..].to_owned();
    let mut pg =
        <sqlx::AnyConnection as sqlx::Connection>::connect(&crate::support::db::pg_admin_url())
            .await
            .unwrap();
    let allow = |yes: bool| format!("ALTER DATABASE {name} ALLOW_CONNECTIONS {yes}");
    sqlx::query(&allow(false)).execute(&mut pg).await.unwrap();
    // alm's open connections end: the one that would record the outcome must be new.
    sqlx::query("SELECT CAST(pg_terminate_backend(pid) AS INTEGER) FROM pg_stat_activity WHERE datname = $1")
        .bind(&name)
        .fetch_all(&mut pg)
        .await
        .unwrap();
    // The answer comes 3 s after the call; the database stays away 2 s longer.
    tokio::time::sleep(Duration::from_secs(5)).await;
    sqlx::query(&allow(true)).execute(&mut pg).await.unwrap();
    let page = wait_for("the outcome recorded", async || {
        let (st, page) = admin
            .get(&format!("/api/v1/webhooks/{id}/deliveries?limit=50"))
            .await;
        (st == 200 && page["total"] == 1).then_some(page)
    })
    .await;
    assert_eq!(page["items"][0]["status_code"], 200, "{page}");
    // Past the claim's lease on alm's clock: a row still claimed would be called again now.
    s.clock.advance(time::Duration::minutes(6));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(receiver.calls().len(), 1, "the call was made once");
    assert_eq!(history(&admin, &id).await["total"], 1);
    s.stop().await;
}

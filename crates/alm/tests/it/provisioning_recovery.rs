//! Provisioning that fails (SPEC §2.5, §3): a DC outage longer than any retry budget does not
//! strand an approved request — it stays `retrying` and is provisioned exactly once when the
//! DC is back (a real Samba DC stopped and started: `tests/peers/samba_outage.sh`); a
//! permanent failure ends as `provisioning-failed`, and the requester (or a holder of manage,
//! nobody else) can retry or abandon it; the requester hears once when it starts failing and
//! once when it ends.

use crate::provisioning::{approved, audit_verifies, provisioned};
use crate::support::{ad, on_both_backends, TestServer};
use crate::templates::{definition, world, world_on, World};
use alm_directory::{ActiveDirectory, Directory, DirectoryConfig, Lookup, Secret};
use serde_json::{json, Value};
use std::time::Duration;

fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set (bash scripts/test.sh sets it)"))
}

/// The DC that only outage tests use, and may stop and start.
fn outage_dc() -> DirectoryConfig {
    DirectoryConfig {
        url: env("ALMTEST_OUTAGE_DC_URL"),
        failover_urls: Vec::new(),
        discovery: None,
        bind_identity: env("ALMTEST_OUTAGE_DC_BIND"),
        bind_password: Secret::new(env("ALMTEST_OUTAGE_DC_PASSWORD")),
        ca_pem: Some(std::fs::read_to_string(env("ALMTEST_OUTAGE_DC_CA_FILE")).unwrap()),
        base_dn: env("ALMTEST_OUTAGE_DC_BASE_DN"),
        timeout: Duration::from_secs(20),
    }
}

/// One outage at a time: the SQLite and PostgreSQL runs share the DC.
static OUTAGE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `stop` or `restart` the outage DC (the peer script's own functions, as CI runs them).
fn outage_dc_command(what: &str) {
    let out = std::process::Command::new("bash")
        .arg(env("ALMTEST_OUTAGE_DC_SCRIPT"))
        .arg(what)
        .arg(env("ALMTEST_OUTAGE_DC_DIR"))
        .output()
        .expect("run the outage DC script");
    assert!(
        out.status.success(),
        "{what} the outage DC failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts the outage DC again when the test ends, whatever happened.
struct DcComesBack;

impl Drop for DcComesBack {
    fn drop(&mut self) {
        let dir = env("ALMTEST_OUTAGE_DC_DIR");
        let pid = std::fs::read_to_string(format!("{dir}/samba.pid")).unwrap_or_default();
        let running = std::path::Path::new(&format!("/proc/{}", pid.trim())).exists();
        if !running {
            outage_dc_command("restart");
        }
    }
}

async fn request(w: &World, id: &str) -> Value {
    w.requester.get(&format!("/api/v1/requests/{id}")).await.1
}

/// Polls the request until `done` holds (the in-process engine works on its own time).
async fn until_request(w: &World, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..600 {
        let r = request(w, id).await;
        if done(&r) {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: {}", request(w, id).await);
}

/// The requester's inbox entries about this request, by event.
async fn notices(w: &World, id: &str) -> Vec<String> {
    let (_, inbox) = w.requester.get("/api/v1/inbox").await;
    let mut events: Vec<String> = inbox["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{inbox}"))
        .iter()
        .filter(|e| e["subject_id"] == id)
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .filter(|e| e.starts_with("request.provision"))
        .collect();
    events.sort();
    events
}

on_both_backends! {
    async fn a_dc_outage_longer_than_any_retry_budget_ends_in_one_account_when_the_dc_is_back(backend: Backend) {
        let _one_outage_at_a_time = OUTAGE.lock().await;
        let _comes_back = DcComesBack;
        let s = TestServer::start(backend).await;
        let dc = outage_dc();
        let w = world_on(&s, &dc).await;
        let name_part = format!("out{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);

        // The DC goes down before the final approval.
        outage_dc_command("stop");
        let (id, _) = approved(&s, &w, &w.vault, &name_part).await;
        let first = until_request(&w, &id, "the first attempt fails", |r| r["state"] == "retrying").await;
        assert!(first["failure_reason"].as_str().unwrap().starts_with("unreachable"), "{first}");
        assert_eq!(first["provisioning_attempts"], 1, "{first}");
        let now = alm_core::Clock::now(s.clock.as_ref());
        assert_eq!(first["next_attempt_at"], (now + time::Duration::seconds(10)).format(&time::format_description::well_known::Rfc3339).unwrap(), "{first}");

        // Far past the old budget (5 attempts over ~160 s): 12 attempts over more than an hour
        // of the server's clock, each one failing on the stopped DC, the request still waiting.
        for attempt in 2..=12 {
            s.clock.advance(time::Duration::minutes(11));
            let r = until_request(&w, &id, &format!("attempt {attempt}"), |r| {
                r["provisioning_attempts"] == attempt && r["state"] == "retrying" && r["next_attempt_at"].is_string()
            })
            .await;
            assert!(r["failure_reason"].as_str().unwrap().starts_with("unreachable"), "{r}");
            assert!(r["next_attempt_at"].is_string(), "{r}");
        }
        // The name stays taken meanwhile, and nothing but retry/abandon applies.
        assert_eq!(w.requester.post_empty(&format!("/api/v1/requests/{id}/withdraw")).await.0, 409);
        assert_eq!(notices(&w, &id).await, ["request.provisioning-retrying"], "told once that it started failing");

        // The DC is back: the next attempt makes the account, once.
        outage_dc_command("restart");
        s.clock.advance(time::Duration::minutes(11));
        let done = provisioned(&w, &id).await;
        assert_eq!(done["failure_reason"], Value::Null, "{done}");
        let name = done["account_name"].as_str().unwrap().to_owned();
        let dir = ActiveDirectory::new(dc).unwrap();
        let made = dir.users(Some(&w.ou)).await.unwrap();
        assert_eq!(made.iter().filter(|u| u.sam_account_name.eq_ignore_ascii_case(&name)).count(), 1, "one account in the DC");
        assert!(dir.find(&Lookup::SamAccountName(name.clone())).await.unwrap().unwrap().enabled());
        let (_, accounts) = s.admin().get("/api/v1/accounts").await;
        assert_eq!(accounts["items"].as_array().unwrap().iter().filter(|a| a["name"] == name.as_str()).count(), 1, "one managed account");
        assert_eq!(notices(&w, &id).await, ["request.provisioned", "request.provisioning-retrying"], "and once when it ended");
        // Retrying or abandoning what is provisioned is refused.
        assert_eq!(w.requester.post_empty(&format!("/api/v1/requests/{id}/retry")).await.0, 409);
        assert_eq!(w.requester.post_empty(&format!("/api/v1/requests/{id}/abandon")).await.0, 409);
        audit_verifies(&s).await;
        s.stop().await;
    }
}

/// A gMSA template whose password reader has no directory account: alm's own settings cannot
/// make the account, a permanent failure. Returns (template id, request id).
pub(crate) async fn failing_gmsa_request(s: &TestServer, w: &World, tag: &str) -> (String, String) {
    let admin = s.admin();
    let mut d = definition(w);
    d["account_type"] = json!("gmsa");
    d["eol_action"] = json!("delete");
    d["name_prefix"] = json!("r");
    d["name_regex"] = json!(null);
    d["attributes"] = json!([]);
    d["gmsa"] = json!({"password_reader_users": [w.requester_id], "encryption": "aes128",
                       "service_principal_names": [], "dns_host_name": "{name}.corp.example.test"});
    let (st, t) = admin
        .post(
            "/api/v1/templates",
            json!({"name": format!("gMSA {tag}"), "definition": d}),
        )
        .await;
    assert_eq!(st, 201, "{t}");
    let template = t["id"].as_str().unwrap().to_owned();
    admin
        .post_empty(&format!("/api/v1/templates/{template}/publish"))
        .await;
    let id = new_request(w, &template, tag).await;
    (template, id)
}

async fn new_request(w: &World, template: &str, name: &str) -> String {
    let (st, r) = w
        .requester
        .post(
            "/api/v1/requests",
            json!({"template_id": template, "account_name": name, "interval": "90d",
                   "justification": "recovery", "description": "", "terms_accepted": true}),
        )
        .await;
    assert_eq!(st, 201, "{r}");
    let id = r["id"].as_str().unwrap().to_owned();
    let (st, r) = w
        .requester
        .post_empty(&format!("/api/v1/requests/{id}/submit"))
        .await;
    assert_eq!(st, 200, "{r}");
    for api in [&w.approver_apis[0], &w.approver_apis[1], &w.final_api] {
        let (st, r) = api
            .post(&format!("/api/v1/approvals/{id}/approve"), json!({}))
            .await;
        assert_eq!(st, 200, "{r}");
    }
    id
}

on_both_backends! {
    async fn a_permanently_failed_request_is_retried_or_abandoned_by_its_requester_and_frees_its_name(backend: Backend) {
        let s = TestServer::start(backend).await;
        let w = world(&s).await;
        let tag = uuid::Uuid::new_v4().simple().to_string()[..6].to_owned();
        let (template, id) = failing_gmsa_request(&s, &w, &tag).await;
        let failed = until_request(&w, &id, "fails for good", |r| r["state"] == "provisioning-failed").await;
        assert!(failed["failure_reason"].as_str().unwrap().contains("has no synced account in the domain"), "{failed}");
        assert_eq!(failed["provisioning_attempts"], 1, "a permanent failure is not tried again: {failed}");
        assert_eq!(failed["next_attempt_at"], Value::Null, "{failed}");
        assert_eq!(notices(&w, &id).await, ["request.provisioning-failed"], "one notice: it started and ended failing at once");

        // Nobody else may act on it: not another user (404, the request is not theirs to see),
        // not an approver without manage.
        assert_eq!(w.outsider.post_empty(&format!("/api/v1/requests/{id}/retry")).await.0, 404);
        assert_eq!(w.outsider.post_empty(&format!("/api/v1/requests/{id}/abandon")).await.0, 404);
        assert_eq!(request(&w, &id).await["state"], "provisioning-failed");
        // An unknown id and a malformed one (no such request, as for every route).
        let unknown = uuid::Uuid::new_v4();
        assert_eq!(w.requester.post_empty(&format!("/api/v1/requests/{unknown}/retry")).await.0, 404);
        let (st, bad) = w.requester.post_empty("/api/v1/requests/not-an-id/abandon").await;
        assert_eq!((st, bad["detail"].as_str()), (404, Some("request not found")), "{bad}");

        // Retried by the requester: a new attempt, which fails again for the same reason.
        let (st, r) = w.requester.post_empty(&format!("/api/v1/requests/{id}/retry")).await;
        assert_eq!(st, 200, "{r}");
        assert!(["queued-for-provisioning", "provisioning", "provisioning-failed"].contains(&r["state"].as_str().unwrap()), "{r}");
        let again = until_request(&w, &id, "the retry fails too", |r| {
            r["state"] == "provisioning-failed" && r["provisioning_attempts"] == 1 && r["failure_reason"].is_string()
        }).await;
        assert!(again["failure_reason"].as_str().unwrap().contains("has no synced account"), "{again}");
        let (_, jobs) = s.admin().get("/api/v1/jobs?limit=50").await;
        let runs = jobs["items"].as_array().unwrap().iter().filter(|j| j["subject_id"] == id.as_str()).count();
        assert_eq!(runs, 2, "the retry ran a second job: {jobs}");

        // Abandoned: the name is free for a new request at once.
        let (st, r) = w.requester.post_empty(&format!("/api/v1/requests/{id}/abandon")).await;
        assert_eq!(st, 200, "{r}");
        assert_eq!(r["state"], "abandoned");
        assert_eq!(w.requester.post_empty(&format!("/api/v1/requests/{id}/retry")).await.0, 409, "abandoned is final");
        assert_eq!(w.requester.post_empty(&format!("/api/v1/requests/{id}/abandon")).await.0, 409);
        let (_, audit) = s.admin().get(&format!("/api/v1/audit?action=request.abandoned&object_id={id}")).await;
        let items = audit["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{audit}");
        assert_eq!(items[0]["actor_id"], w.requester_id.as_str(), "the audit says who: {audit}");
        let (_, audit) = s.admin().get(&format!("/api/v1/audit?action=request.provisioning-retried&object_id={id}")).await;
        assert_eq!(audit["items"].as_array().unwrap().len(), 1, "{audit}");
        let second = new_request(&w, &template, &tag).await;
        assert_ne!(second, id);
        assert!(ad::connect().find(&Lookup::SamAccountName(format!("r{tag}$"))).await.unwrap().is_none(), "nothing in AD");
        audit_verifies(&s).await;
        s.stop().await;
    }
}

on_both_backends! {
    async fn an_engine_result_alm_cannot_take_is_recorded_on_the_job_as_a_failed_attempt(backend: Backend) {
        let s = TestServer::start(backend).await;
        let w = world(&s).await;
        let admin = s.admin();
        let anon = s.anonymous();
        // The domain moves to a pool whose only engine is this test, speaking the protocol by hand.
        let (st, pool) = admin.post("/api/v1/engine-pools", json!({"name": "By hand"})).await;
        assert_eq!(st, 201, "{pool}");
        let pool = pool["id"].as_str().unwrap().to_owned();
        let token = crate::engines::activation_token(&admin).await;
        let (st, registered) = anon.post("/api/v1/engine/register", json!({
            "activation_token": token, "name": "by-hand", "host": "h.example.test", "version": "test"})).await;
        assert_eq!(st, 201, "{registered}");
        let engine = registered["engine_id"].as_str().unwrap().to_owned();
        crate::engines::assign(&admin, &engine, &pool).await;
        let (st, moved) = admin.patch(&format!("/api/v1/domains/{}", w.domain), json!({"pool_id": pool})).await;
        assert_eq!(st, 200, "{moved}");
        let by_hand = crate::support::Api::with_token(&s.base, registered["credential"].as_str().unwrap());

        let (request, _) = approved(&s, &w, &w.vault, "nosecret").await;
        let (st, lease) = by_hand.post("/api/v1/engine/lease", json!({"wait_seconds": 5, "max_jobs": 1})).await;
        assert_eq!(st, 200, "{lease}");
        let job = &lease["jobs"][0];
        assert_eq!(job["task"]["kind"], "provision", "{lease}");
        let job_id = job["job_id"].as_str().unwrap().to_owned();

        // The engine says it made the account but hands over no password for the built-in vault.
        let (st, answer) = by_hand.post(&format!("/api/v1/engine/jobs/{job_id}/complete"), json!({
            "outcome": "done", "lease_id": job["lease_id"],
            "result": {"kind": "provisioned", "problem": null, "account": {
                "dn": format!("CN=svc-nosecret,{}", w.ou), "guid": uuid::Uuid::new_v4().to_string(),
                "sid": null, "created": true, "secret_ref": null, "password": null}}})).await;
        assert_eq!(st, 204, "the report is taken (and recorded), not refused as a lost lease: {answer}");

        let (_, j) = admin.get(&format!("/api/v1/jobs/{job_id}")).await;
        assert_eq!(j["attempts"], 1, "{j}");
        assert_ne!(j["status"], "succeeded", "{j}");
        assert_ne!(j["status"], "leased", "the lease is over: {j}");
        let error = j["error"].as_str().unwrap_or_else(|| panic!("the job names why: {j}"));
        assert!(error.contains("could not be applied") && error.contains("no secret"), "{error}");
        let (_, r) = w.requester.get(&format!("/api/v1/requests/{request}")).await;
        assert_ne!(r["state"], "provisioned", "{r}");
        let (_, accounts) = admin.get("/api/v1/accounts?q=nosecret").await;
        assert_eq!(accounts["total"], 0, "no managed account from a refused result: {accounts}");
        s.stop().await;
    }
}

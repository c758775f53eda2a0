//! The engine protocol with real `alm engine` processes (SPEC §5): registration with an
//! activation token (8 hours, one engine), assignment and activation, a job whose engine is
//! killed with SIGKILL while holding the lease going to another engine and completing exactly
//! once, and a removed engine's credential stopping at once.
//!
//! The server runs without its in-process engine, with 5-second leases, and the test moves its
//! clock past a lease instead of waiting for one.

use crate::support::relay::Relay;
use crate::support::{ad, on_both_backends, Api, TestServer};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;

pub(crate) const SETTINGS: &[(&str, &str)] = &[
    ("ALM_ENGINES__IN_PROCESS", "false"),
    ("ALM_ENGINES__LEASE_SECONDS", "5"),
];

/// Polls `check` every 100 ms until it gives a value; fails naming `what` after a minute (a
/// bound against hanging, not a timing assertion).
pub(crate) async fn until<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..600 {
        if let Some(v) = check().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("gave up waiting for {what}");
}

/// An `alm engine` process with its own data directory; its stderr goes to a file there.
pub(crate) struct EngineProcess {
    child: Child,
    dir: PathBuf,
}

impl EngineProcess {
    pub(crate) fn start(base: &str, token: &str, label: &str) -> Self {
        Self::start_with(base, token, label, &[])
    }

    /// With more command-line options (such as `--server-ca FILE`).
    pub(crate) fn start_with(base: &str, token: &str, label: &str, extra: &[&str]) -> Self {
        let dir = crate::support::db::temp_dir(label);
        let log = std::fs::File::create(dir.join("engine.log")).expect("engine log file");
        let child = Command::new(crate::support::process::alm_binary())
            .args(["engine", "--server", base, "--name", label, "--data-dir"])
            .arg(&dir)
            .args(extra)
            .env("ALM_ENGINE_TOKEN", token)
            .env("ALM_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start alm engine");
        Self { child, dir }
    }

    /// Starts the engine again from its data directory (its state file: same engine, same
    /// credential, no token), after [`EngineProcess::kill`]; the log goes on in the same file.
    pub(crate) fn restart(&mut self) {
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.join("engine.log"))
            .expect("engine log file");
        self.child = Command::new(crate::support::process::alm_binary())
            .args(["engine", "--data-dir"])
            .arg(&self.dir)
            .env_remove("ALM_ENGINE_TOKEN")
            .env("ALM_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("restart alm engine");
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("engine.log")).unwrap_or_default()
    }

    /// The credential the engine stored. The server lists an engine as soon as it registers,
    /// a moment before the engine has written its state file: wait for the file (10 s at most).
    fn credential(&self) -> String {
        let path = self.dir.join("engine.json");
        for _ in 0..100 {
            if let Some(state) = std::fs::read_to_string(&path)
                .ok()
                .and_then(|text| serde_json::from_str::<Value>(&text).ok())
            {
                return state["credential"].as_str().unwrap().to_owned();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{} was not written: {}", path.display(), self.log());
    }

    pub(crate) fn kill(&mut self) {
        // std's kill is SIGKILL on Unix: no goodbye, the lease stays where it was.
        self.child.kill().expect("SIGKILL the engine");
        self.child.wait().expect("reap the engine");
    }
}

impl Drop for EngineProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Waits (a minute at most) for the process to exit.
async fn exited(engine: &mut EngineProcess, what: &str) -> std::process::ExitStatus {
    for _ in 0..600 {
        if let Some(status) = engine.child.try_wait().unwrap() {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("gave up waiting for {what} to exit: {}", engine.log());
}

pub(crate) async fn activation_token(admin: &Api) -> String {
    let (st, t) = admin.post_empty("/api/v1/engine-activation-tokens").await;
    assert_eq!(st, 201, "{t}");
    assert!(t["token"].as_str().unwrap().starts_with("alma_"));
    t["token"].as_str().unwrap().to_owned()
}

/// Waits for the engine named `name` to register (unassigned) and returns its id.
pub(crate) async fn registered(admin: &Api, name: &str, engine: &EngineProcess) -> String {
    until(
        &format!("engine {name} to register ({})", engine.log()),
        || async {
            let (_, list) = admin.get("/api/v1/engines?unassigned=true").await;
            list["items"]
                .as_array()?
                .iter()
                .find(|e| e["name"] == name)
                .map(|e| e["id"].as_str().unwrap().to_owned())
        },
    )
    .await
}

pub(crate) async fn assign(admin: &Api, engine: &str, pool: &str) {
    let (st, e) = admin
        .patch(
            &format!("/api/v1/engines/{engine}"),
            json!({"pool_id": pool, "active": true}),
        )
        .await;
    assert_eq!((st, e["status"].as_str()), (200, Some("active")), "{e}");
}

on_both_backends! {
    async fn a_killed_engines_job_goes_to_another_engine_and_completes_once(backend: Backend) {
        let s = TestServer::start_with(backend, SETTINGS).await;
        let admin = s.admin();
        let (st, pool) = admin.post("/api/v1/engine-pools", json!({"name": "Remote site"})).await;
        assert_eq!(st, 201, "{pool}");
        let pool = pool["id"].as_str().unwrap().to_owned();

        // A domain in that pool, reached through the relay, scoped to a fresh OU.
        let dir = ad::connect();
        let ou = ad::test_ou(&dir, "lease").await;
        let relay = Relay::start().await;
        let c = ad::config();
        let (st, domain) = admin.post("/api/v1/domains", json!({
            "name": "Behind the relay", "url": format!("ldaps://127.0.0.1:{}", relay.port),
            "bind_identity": c.bind_identity, "bind_password": c.bind_password.expose(),
            "ca_pem": c.ca_pem, "base_dn": ou, "pool_id": pool,
        })).await;
        assert_eq!(st, 201, "{domain}");
        assert_eq!(domain["pool_id"], pool.as_str());
        let domain = domain["id"].as_str().unwrap().to_owned();

        // Engine A registers, waits unassigned, is assigned and activated.
        let mut a = EngineProcess::start(&s.base, &activation_token(&admin).await, "engine-a");
        let a_id = registered(&admin, "engine-a", &a).await;
        let (_, listed) = admin.get(&format!("/api/v1/engines/{a_id}")).await;
        assert_eq!((listed["status"].as_str(), listed["in_process"].as_bool()), (Some("unassigned"), Some(false)), "{listed}");
        assign(&admin, &a_id, &pool).await;

        // A sync is queued; A leases it and blocks on the silent relay, holding the lease.
        let state = s.state();
        let can = alm_core::permissions::system_capability::<alm_core::permissions::perm::DomainUpdate>();
        let job = alm_server::services::domain_sync::request(
            &state.queue, &can, &alm_server::services::Actor::system(), domain.parse().unwrap(), None,
            time::Duration::days(7),
        ).await.unwrap();
        let job_id = job.id.to_string();
        until(&format!("engine A to lease the job and connect ({})", a.log()), || async {
            let (_, j) = admin.get(&format!("/api/v1/jobs/{job_id}")).await;
            (j["status"] == "leased" && j["leased_by"] == a_id.as_str() && relay.accepted.load(Ordering::SeqCst) > 0).then_some(())
        }).await;
        let a_credential = a.credential();
        a.kill();

        // Engine B joins the pool. The job stays A's until A's lease runs out.
        relay.open();
        let b = EngineProcess::start(&s.base, &activation_token(&admin).await, "engine-b");
        let b_id = registered(&admin, "engine-b", &b).await;
        assign(&admin, &b_id, &pool).await;
        let (_, j) = admin.get(&format!("/api/v1/jobs/{job_id}")).await;
        assert_eq!((j["status"].as_str(), j["leased_by"].as_str()), (Some("leased"), Some(a_id.as_str())), "{j}");
        s.clock.advance(time::Duration::seconds(6));

        let done = until(&format!("engine B to complete the job ({})", b.log()), || async {
            let (_, j) = admin.get(&format!("/api/v1/jobs/{job_id}")).await;
            (j["status"] != "leased" && j["status"] != "queued").then_some(j)
        }).await;
        assert_eq!((done["status"].as_str(), done["leased_by"].as_str(), done["attempts"].as_i64()),
                   (Some("succeeded"), Some(b_id.as_str()), Some(2)), "{done}");

        // Exactly once: one run, one audit record; A's late word is refused and changes nothing.
        let (_, runs) = admin.get(&format!("/api/v1/domains/{domain}/sync-runs")).await;
        assert_eq!(runs["items"].as_array().unwrap().len(), 1, "{runs}");
        assert_eq!((runs["items"][0]["outcome"].as_str(), runs["items"][0]["mode"].as_str()), (Some("succeeded"), Some("full")), "{runs}");
        assert!(runs["items"][0]["added"].as_u64().unwrap() >= 1, "the OU itself was read: {runs}");
        let late = json!({"outcome": "done", "lease_id": "the-lease-a-held",
                          "result": {"kind": "domain-sync", "snapshot": {"objects": [], "highest_usn": 1}, "problem": null}});
        let (st, answer) = Api::with_token(&s.base, &a_credential)
            .post(&format!("/api/v1/engine/jobs/{job_id}/complete"), late).await;
        assert_eq!(st, 409, "{answer}");
        let (_, runs) = admin.get(&format!("/api/v1/domains/{domain}/sync-runs")).await;
        assert_eq!(runs["items"].as_array().unwrap().len(), 1, "{runs}");
        let (_, audit) = admin.get(&format!("/api/v1/audit?action=domain.synced&object_id={domain}")).await;
        assert_eq!(audit["total"], 1, "{audit}");

        // B's abbreviated log reached the server.
        let logged = until("engine B's log lines", || async {
            let (_, lines) = admin.get(&format!("/api/v1/engines/{b_id}/logs")).await;
            let text = lines.to_string();
            text.contains(&format!("job {job_id} (domain-sync) done")).then_some(text)
        }).await;
        assert!(!logged.contains(c.bind_password.expose()), "no password in engine logs");
        s.stop().await;
    }
}

on_both_backends! {
    async fn a_restarted_engine_gives_back_at_once_the_lease_its_killed_process_held(backend: Backend) {
        let s = TestServer::start_with(backend, SETTINGS).await;
        let admin = s.admin();
        let (st, pool) = admin.post("/api/v1/engine-pools", json!({"name": "Restarts"})).await;
        assert_eq!(st, 201, "{pool}");
        let pool = pool["id"].as_str().unwrap().to_owned();
        // The job never gets far: nothing listens at the domain's address.
        let c = ad::config();
        let (st, domain) = admin.post("/api/v1/domains", json!({
            "name": "Nowhere", "url": "ldaps://127.0.0.1:9", "bind_identity": c.bind_identity,
            "bind_password": c.bind_password.expose(), "ca_pem": c.ca_pem, "base_dn": c.base_dn, "pool_id": pool,
        })).await;
        assert_eq!(st, 201, "{domain}");
        let domain: alm_core::DomainId = domain["id"].as_str().unwrap().parse().unwrap();

        // The engine registers; its process dies before it is given work.
        let mut engine = EngineProcess::start(&s.base, &activation_token(&admin).await, "restarts");
        let id = registered(&admin, "restarts", &engine).await;
        let as_engine = Api::with_token(&s.base, &engine.credential());
        engine.kill();
        assign(&admin, &id, &pool).await;

        // Its "previous process" leases the sync and dies with it (the clock stands still: the
        // lease never runs out by time in this test).
        let state = s.state();
        let can = alm_core::permissions::system_capability::<alm_core::permissions::perm::DomainUpdate>();
        let job = alm_server::services::domain_sync::request(
            &state.queue, &can, &alm_server::services::Actor::system(), domain, None, time::Duration::days(7),
        ).await.unwrap();
        let job_id = job.id.to_string();
        let (st, leased) = as_engine.post("/api/v1/engine/lease", json!({"wait_seconds": 0, "max_jobs": 16})).await;
        assert_eq!(st, 200, "{leased}");
        let first = leased["jobs"].as_array().unwrap().iter().find(|j| j["job_id"] == job_id.as_str())
            .unwrap_or_else(|| panic!("the sync was leased: {leased}"))["lease_id"].as_str().unwrap().to_owned();

        // An engine that says nothing of what it runs (an older one) leaves the lease alone, and
        // so does one that names the job.
        for body in [json!({"wait_seconds": 0, "max_jobs": 16}),
                     json!({"wait_seconds": 0, "max_jobs": 16, "running": [job_id]})] {
            let (st, answer) = as_engine.post("/api/v1/engine/lease", body.clone()).await;
            assert_eq!((st, answer["jobs"].as_array().map(Vec::len)), (200, Some(0)), "{body}: {answer}");
            let (_, j) = admin.get(&format!("/api/v1/jobs/{job_id}")).await;
            assert_eq!((j["status"].as_str(), j["attempts"].as_i64()), (Some("leased"), Some(1)), "{body}: {j}");
        }

        // The real engine starts again from its state file, running nothing: its first lease
        // request gives the dead process's lease back and takes the job anew at once.
        engine.restart();
        until(&format!("the restarted engine to run the job again ({})", engine.log()), || async {
            let (_, j) = admin.get(&format!("/api/v1/jobs/{job_id}")).await;
            (j["attempts"] == 2 && j["status"] != "leased").then_some(())
        }).await;
        assert!(engine.log().contains(&format!("job {job_id} (domain-sync) leased")), "{}", engine.log());
        // A completion under the dead process's lease is refused.
        let late = json!({"outcome": "done", "lease_id": first,
                          "result": {"kind": "domain-sync", "snapshot": {"objects": [], "highest_usn": 1}, "problem": null}});
        let (st, answer) = as_engine.post(&format!("/api/v1/engine/jobs/{job_id}/complete"), late).await;
        assert_eq!(st, 409, "{answer}");
        s.stop().await;
    }
}

on_both_backends! {
    async fn activation_tokens_last_eight_hours_and_register_one_engine(backend: Backend) {
        let s = TestServer::start_with(backend, SETTINGS).await;
        let admin = s.admin();
        let anon = s.anonymous();
        let first = activation_token(&admin).await;
        let second = activation_token(&admin).await;
        let register = |token: &str, name: &str| json!({"activation_token": token, "name": name, "host": "h.example.test", "version": "test"});

        s.clock.advance(time::Duration::hours(8) - time::Duration::seconds(1));
        let (st, ok) = anon.post("/api/v1/engine/register", register(&first, "in-time")).await;
        assert_eq!(st, 201, "a token one second short of 8 hours still registers: {ok}");
        assert!(ok["credential"].as_str().unwrap().starts_with("alme_"));
        let (st, again) = anon.post("/api/v1/engine/register", register(&first, "twice")).await;
        assert_eq!(st, 401, "{again}");
        assert!(again["detail"].as_str().unwrap().contains("used already"), "{again}");

        s.clock.advance(time::Duration::seconds(1));
        let (st, late) = anon.post("/api/v1/engine/register", register(&second, "late")).await;
        assert_eq!(st, 401, "{late}");
        assert!(late["detail"].as_str().unwrap().contains("expired"), "{late}");
        let (st, unknown) = anon.post("/api/v1/engine/register", register("alma_not-a-token", "x")).await;
        assert_eq!((st, unknown["detail"].as_str().unwrap().contains("unknown")), (401, true), "{unknown}");

        // The real binary says the same and exits with failure, registering nothing.
        let third = activation_token(&admin).await;
        s.clock.advance(time::Duration::hours(9));
        let mut expired = EngineProcess::start(&s.base, &third, "too-late");
        let status = exited(&mut expired, "the engine with an expired token").await;
        assert!(!status.success());
        assert!(expired.log().contains("expired"), "{}", expired.log());
        assert!(!expired.dir.join("engine.json").exists(), "no credential was stored");

        // Bad registrations name the field.
        let (st, bad) = anon.post("/api/v1/engine/register", json!({"activation_token": first, "name": "", "host": "h", "version": "1"})).await;
        assert_eq!((st, bad["errors"][0]["field"].as_str()), (422, Some("name")), "{bad}");
        let (_, engines) = admin.get("/api/v1/engines").await;
        let names: Vec<&str> = engines["items"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["in-time"], "only the one good registration left an engine");
        s.stop().await;
    }
}

on_both_backends! {
    async fn a_removed_engines_credential_stops_working_at_once(backend: Backend) {
        let s = TestServer::start_with(backend, SETTINGS).await;
        let admin = s.admin();
        let engine = EngineProcess::start(&s.base, &activation_token(&admin).await, "doomed");
        let id = registered(&admin, "doomed", &engine).await;
        let credential = engine.credential();
        let as_engine = Api::with_token(&s.base, &credential);
        let (st, lease) = as_engine.post("/api/v1/engine/lease", json!({"wait_seconds": 0, "max_jobs": 1})).await;
        assert_eq!((st, lease["jobs"].as_array().map(Vec::len)), (200, Some(0)), "an unassigned engine gets no work: {lease}");
        // A person's token is not an engine credential, and an engine credential is no API token.
        assert_eq!(admin.post("/api/v1/engine/lease", json!({"wait_seconds": 0, "max_jobs": 1})).await.0, 401);
        assert_eq!(as_engine.get("/api/v1/me").await.0, 401);

        assert_eq!(admin.delete(&format!("/api/v1/engines/{id}")).await.0, 204);
        let (st, refused) = as_engine.post("/api/v1/engine/heartbeat", json!({"job_ids": []})).await;
        assert_eq!(st, 401, "{refused}");
        assert_eq!(as_engine.post("/api/v1/engine/lease", json!({"wait_seconds": 0, "max_jobs": 1})).await.0, 401);

        // The running process hears it and stops, saying what to do.
        let mut engine = engine;
        let status = exited(&mut engine, "the removed engine").await;
        assert!(!status.success());
        assert!(engine.log().contains("register again"), "{}", engine.log());
        let (_, audit) = admin.get(&format!("/api/v1/audit?object_id={id}&sort=seq")).await;
        let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["engine.registered", "engine.deleted"]);
        s.stop().await;
    }
}

/// The jobs of a `/jobs` page.
fn job_list(v: &Value) -> Vec<Value> {
    v["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a job page: {v}"))
        .clone()
}

on_both_backends! {
    async fn a_restarted_server_takes_up_the_jobs_its_killed_predecessor_held_at_once(backend: Backend) {
        use crate::support::process::{AlmProcess, SharedClock};
        use time::macros::datetime;
        let mut s = TestServer::start(backend).await;
        let admin = s.admin();
        // A domain of the default pool (the in-process engine's), reached through a relay that
        // holds every connection silent: a sync blocks there, its lease held.
        let ou = ad::test_ou(&ad::connect(), "restart").await;
        let relay = Relay::start().await;
        let c = ad::config();
        let (st, domain) = admin.post("/api/v1/domains", json!({
            "name": "Behind a silent relay", "url": format!("ldaps://127.0.0.1:{}", relay.port),
            "bind_identity": c.bind_identity, "bind_password": c.bind_password.expose(),
            "ca_pem": c.ca_pem, "base_dn": ou,
        })).await;
        assert_eq!(st, 201, "{domain}");
        let domain = domain["id"].as_str().unwrap().to_owned();
        s.halt().await; // from here on real `alm serve` processes, killed as a crash would

        let dir = s.db.dir.join("restart");
        std::fs::create_dir_all(&dir).unwrap();
        // The processes' clock stands still: no lease can run out by time in this test.
        let at = datetime!(2026-12-01 10:00 UTC);
        let clock = SharedClock::new(&dir, at);
        let env = vec![
            ("ALM_DATABASE__URL", s.db.url.clone()),
            ("ALM_DATA_DIR", s.db.dir.display().to_string()),
            ("ALM_ADMIN_EMAIL", crate::support::server::ADMIN_EMAIL.to_owned()),
            ("ALM_SCHEDULER__ENABLED", "false".into()),
        ];
        let a = AlmProcess::start("a", &dir, &clock, &env);
        let api_a = Api::with_token(&a.base, &s.admin_token);
        // The sync request waits for its job: let it wait in the background.
        let waiting = tokio::spawn(async move { api_a.post_empty(&format!("/api/v1/domains/{domain}/sync")).await });
        let api = |base: &str| Api::with_token(base, &s.admin_token);
        let first = until(&format!("a's in-process engine to lease the sync ({})", a.log_text()), || async {
            let (_, jobs) = api(&a.base).get("/api/v1/jobs?limit=10").await;
            job_list(&jobs).into_iter().find(|j| j["kind"] == "domain-sync" && j["status"] == "leased"
                && relay.accepted.load(Ordering::SeqCst) > 0)
        }).await;
        let job_id = first["id"].as_str().unwrap().to_owned();
        assert_eq!(first["attempts"], 1, "{first}");
        assert_eq!(first["lease_expires_at"], "2026-12-01T10:01:00Z", "a 60-second lease from the frozen clock: {first}");
        a.kill();
        waiting.abort();

        // Restarted with the clock where it was: the dead process's lease is given back at
        // start and the new process's engine takes the job at once.
        let b = AlmProcess::start("b", &dir, &clock, &env);
        let again = until(&format!("b to take the job up ({})", b.log_text()), || async {
            let (_, j) = api(&b.base).get(&format!("/api/v1/jobs/{job_id}")).await;
            (j["attempts"] == 2 && j["status"] == "leased").then_some(j)
        }).await;
        assert_eq!(again["lease_expires_at"], "2026-12-01T10:01:00Z", "leased anew at the same instant: {again}");
        assert!(b.log_text().contains("gave back the job leases of a server process that stopped"), "{}", b.log_text());
        drop(b);
        relay.open();
        s.stop().await;
    }
}

//! The crash-consistency suite: two real `alm serve` replicas (each with its in-process engine,
//! mailer and scheduler) on one PostgreSQL and a remote `alm engine` that reaches them through
//! a balancer (as a load balancer in front of replicas would), fed approval flows while a
//! random victim — replica A, replica B, the remote engine or PostgreSQL itself — is killed
//! without warning (SIGKILL; PostgreSQL's immediate stop) at a random moment and started
//! again. Each round's provisioning runs on the in-process engines (the domain in the default
//! pool) or on the remote engine (the domain moved to its pool), at random, and always on the
//! remote engine when it is the victim. After every round, once everything has settled, Samba,
//! the built-in vault, the outbox and alm must agree: every submitted request provisioned, one
//! directory object, one alm account and one secret (that binds) per request and none without
//! one, every email once, every webhook event once, and the audit chain intact
//! (`alm db verify-audit`). The webhooks (one per event a request produces: step requires
//! approval, approved, provisioned, provisioning retrying) are set up through the API and call
//! a receiver inside the test process, which no round kills, so it hears every call that
//! leaves a replica (`support::receiver`, shared with the `it` binary through `#[path]`).
//!
//! A killed engine is started again from its data directory (same engine, same credential).
//! Its first lease request says it runs nothing, so the server gives back at once the lease its
//! dead process held (`Queue::lease`, `running`) instead of letting the work wait out
//! `engines.lease_seconds` (60 s); `provision_reruns` on each round's line counts the attempts
//! beyond the first, which is how a kill that hit a running job shows.
//!
//! A test binary of its own (`cargo test -p alm --test crash`): it stops and starts the
//! PostgreSQL server every other test binary shares, so it must never run beside them (cargo
//! runs test binaries one after another).
//!
//! Knobs, from the environment:
//! - `ALMTEST_CRASH_ROUNDS` — rounds. The default, 30, is what `bash scripts/test.sh` (CI) runs:
//!   ≈ 105 s measured on the 2-core machine (3.4 s a round: two flows of five calls with human
//!   pauses, a kill and restart, settling, the comparison), plus ≈ 1–1.5 min to build the
//!   binary. `ALMTEST_CRASH_ROUNDS=1000` is the long run (≈ 1 hour).
//! - `ALMTEST_CRASH_SEED` — the seed of every random choice (replica, victim, engine, moment,
//!   down time, pauses), printed at the start; set it to replay a failing run's choices (the
//!   timing of the machine is not replayed, so a replay hits the same phases only roughly).
//! - `ALMTEST_PG_DIR`, `ALMTEST_PG_BIN` — the data directory and binaries of the PostgreSQL
//!   server behind `ALMTEST_PG_URL` (`scripts/test.sh` exports all three). Its crash is
//!   `pg_ctl stop -m immediate` (every backend killed, no checkpoint: the next start replays
//!   the WAL), run as `postgres` when the tests run as root, as `scripts/lib.sh` starts it.
//! - `ALMTEST_ALM_BIN` (optional) — the `alm` binary to run instead of cargo's. Cargo puts it at
//!   one path per target directory: where several checkouts share one, another's build can
//!   replace it in the middle of a long run, and the replicas started after that run other
//!   code. Point this at a copy of the build under test.
//!
//! What the counts mean (each is asserted 0 after every round):
//! - `lost`: a submitted request not `provisioned` once everything settled, or provisioned
//!   without its directory object, alm account or secret.
//! - `duplicate_objects`: a second directory object or alm account for one request, or one
//!   in the test's OU for no request.
//! - `duplicate_secrets` / `orphan_secrets`: a second built-in vault entry for an account, or
//!   an entry for no provisioned account; `stale_secrets`: a stored password that does not bind
//!   as its account (a retry changed the password after another attempt stored it).
//! - `duplicate_mails`: a (recipient, subject) pair delivered twice — two messages (two
//!   Message-IDs: alm queued the event twice), or one message twice without an excuse (below).
//!   Subjects name the account; the four "Approval needed" mails of a request share a subject
//!   but go to four people, so each pair is still once. Only "Delayed: <account>" may come
//!   again as a new message, once per failure episode (SPEC §3). `missing_mails`: one of the
//!   six mails a provisioned request sends (approval needed ×4, approved, created) never came.
//! - `duplicate_webhooks`: one event (its kind, its request, and for "step requires approval"
//!   the step) told by two deliveries — two `X-Alm-Delivery` ids: alm queued it twice — or one
//!   delivery received twice without an excuse (below), or a call about a request the test
//!   never submitted. Only "provisioning retrying" may come again as a new delivery, once per
//!   failure episode. `missing_webhooks`: one of the four events of a provisioned request
//!   (step 1 and step 2 require approval, approved, provisioned) never called, once both
//!   outboxes are empty. (`count_webhooks`, with unit tests of its own at the end.)
//!
//! Counted, printed, not asserted: `redelivered_mails`. The outbox delivers at least once: a
//! replica killed after the SMTP server took a message (its end sent) but before recording it
//! leaves the message claimed, and it goes out again when the claim's lease
//! (`alm_store::outbox_queue::LEASE`, 5 minutes) runs out. SMTP cannot say whether a message
//! arrived, so no sender can avoid that; alm gives every message its outbox row id as
//! Message-ID, so the copy is recognisably the same message. A second copy is excused only for
//! a message whose claim the test saw die with a killed replica, once per such claim. Seen
//! in practice: nearly every kill that hits a replica holding claimed mail re-sends exactly
//! one (the server's fsync before its reply is the longest part of a send).
//!
//! Counted, printed, not asserted: `redelivered_webhooks`, the same for webhook calls. They go
//! through the same queue (`integration_outbox`, same lease), so a replica killed after the
//! receiver answered but before it recorded the call leaves the call claimed, and it is made
//! again when the claim ends. Every call of one delivery carries the same `X-Alm-Delivery`
//! (the outbox row's id, also on every retry) so receivers can drop the copy; a second copy is
//! excused only for a delivery whose claim the test saw die with a killed replica.
//!
//! The test does not wait those five minutes: it ends such claims itself, in both outboxes
//! (taken before the kill and unchanged 5 s later, while the live replica finishes its own in
//! milliseconds), which is exactly what the lease running out does. The line says how many it
//! ended of each (`dead_mail_claims_released`, `dead_webhook_claims_released`).

#[path = "../it/support/mod.rs"]
#[allow(dead_code, unused_imports, unused_macros)]
mod support;

use alm_core::Clock as _;
use alm_directory::Directory as _;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::process::AlmProcess;
use support::receiver::{Receiver, Recorded};
use support::smtp::SmtpSink;
use support::world::{definition, world};
use support::{Backend, TestServer};

const DEFAULT_ROUNDS: usize = 30;
/// The bound of every wait: an answer, provisioning, the outbox emptying.
const WAIT: Duration = Duration::from_secs(120);
/// Requests per round.
const BATCH: usize = 2;
/// Calls per round: each request created, submitted, and approved by three people.
const STEPS: usize = BATCH * 5;
/// A claim older than the kill and unchanged this long after it belongs to the dead replica.
const DEAD_CLAIM_AFTER: Duration = Duration::from_secs(5);
/// The events a request produces on its way (one webhook each, all to the test's receiver):
/// a provisioned request must bring each of the first four — the approval step asked for,
/// once per step (two steps); approved; provisioned — and may bring "retrying" once per
/// failure episode. Rejected and failed are not hooked: such a request is already `lost`.
const STEP_REQUIRES_APPROVAL: &str = "request.step-requires-approval";
const RETRYING: &str = "request.provisioning-retrying";
const HOOKED_EVENTS: [&str; 4] = [
    STEP_REQUIRES_APPROVAL,
    "request.approved",
    "request.provisioned",
    RETRYING,
];
/// What each webhook sends: enough to tell which event of which request (and which step) a
/// delivery is. The event itself comes as `X-Alm-Event`, the delivery as `X-Alm-Delivery`.
const HOOK_BODY: &str = r#"{"request": "{{request.id}}", "account": "{{request.account_name}}", "step": "{{request.step}}"}"#;

/// xorshift64 (Marsaglia), seeded through splitmix64 so any seed, 0 too, gives a good start.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Self((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn now_micros() -> i64 {
    (alm_core::SystemClock.now().unix_timestamp_nanos() / 1_000) as i64
}

/// The PostgreSQL server of `ALMTEST_PG_URL`, crashed and started with its own `pg_ctl`.
struct Postgres {
    data: String,
    bin: String,
    log: String,
    as_postgres: bool,
}

impl Postgres {
    fn from_env() -> Self {
        let var = |name: &str| {
            std::env::var(name).unwrap_or_else(|_| {
                panic!("{name} is not set: the crash suite restarts the PostgreSQL server that `bash scripts/test.sh` starts (it exports ALMTEST_PG_DIR and ALMTEST_PG_BIN)")
            })
        };
        let data = var("ALMTEST_PG_DIR");
        assert!(
            Path::new(&data).join("postmaster.opts").exists(),
            "ALMTEST_PG_DIR={data} is not the data directory of a running PostgreSQL"
        );
        let log = Path::new(&data)
            .parent()
            .expect("the data directory has a parent")
            .join("server.log")
            .display()
            .to_string();
        let uid = Command::new("id").arg("-u").output().expect("run id -u");
        Self {
            data,
            bin: var("ALMTEST_PG_BIN"),
            log,
            // initdb refuses root: scripts/lib.sh runs the server as postgres.
            as_postgres: String::from_utf8_lossy(&uid.stdout).trim() == "0",
        }
    }

    fn pg_ctl(&self, args: &[&str]) -> std::process::Output {
        let program = format!("{}/pg_ctl", self.bin);
        let mut cmd = if self.as_postgres {
            let line = std::iter::once(program.as_str())
                .chain(args.iter().copied())
                .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
                .collect::<Vec<_>>()
                .join(" ");
            let mut c = Command::new("su");
            c.args(["postgres", "-c", &line]);
            c
        } else {
            let mut c = Command::new(&program);
            c.args(args);
            c
        };
        cmd.output().expect("run pg_ctl")
    }

    /// PostgreSQL's crash: the postmaster and every backend quit at once, no checkpoint.
    fn crash(&self) {
        let out = self.pg_ctl(&["-D", &self.data, "stop", "-m", "immediate"]);
        assert!(
            out.status.success(),
            "pg_ctl stop -m immediate: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts it again with the options it last ran with (`restart` reads postmaster.opts:
    /// port, socket directory, settings) and waits until it accepts connections.
    fn start(&self) {
        let out = self.pg_ctl(&[
            "-D", &self.data, "-l", &self.log, "-w", "-t", "60", "restart",
        ]);
        assert!(
            out.status.success(),
            "pg_ctl restart: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    fn running(&self) -> bool {
        self.pg_ctl(&["-D", &self.data, "status"]).status.success()
    }
}

impl Drop for Postgres {
    /// A failing round must not leave the server the other test binaries use stopped.
    fn drop(&mut self) {
        if !self.running() {
            let _ = self.pg_ctl(&[
                "-D", &self.data, "-l", &self.log, "-w", "-t", "60", "restart",
            ]);
        }
    }
}

const REPLICA_NAMES: [&str; 2] = ["a", "b"];
const VICTIMS: [&str; 4] = ["replica-a", "replica-b", "engine", "postgresql"];
/// The index of the remote engine in [`VICTIMS`] (the replicas are 0 and 1).
const ENGINE: usize = 2;
/// Which engine runs a round's provisioning: the domain sits in the default pool (the replicas'
/// in-process engines) or in the remote engine's pool.
const PATHS: [&str; 2] = ["in-process", "remote"];

struct Replica {
    process: Option<AlmProcess>,
    base: String,
    starts: usize,
}

/// The remote `alm engine` process; a killed one is started again from its data directory
/// (same engine, same credential).
#[derive(Default)]
struct RemoteEngine {
    process: Option<Child>,
    starts: usize,
}

impl Drop for RemoteEngine {
    /// A failing round must not leave the engine running.
    fn drop(&mut self) {
        if let Some(mut p) = self.process.take() {
            let _ = p.kill();
            let _ = p.wait();
        }
    }
}

/// The two `alm serve` processes; a killed one is replaced by a new process (a new port). And
/// the remote engine, which reaches them through the test's balancer.
struct Cluster {
    dir: PathBuf,
    env: Vec<(&'static str, String)>,
    replicas: Mutex<Vec<Replica>>,
    engine: Mutex<RemoteEngine>,
    client: reqwest::Client,
}

impl Cluster {
    /// Starts replica `i` (blocking: waits until it listens).
    fn start(&self, i: usize) {
        let n = {
            let mut r = self.replicas.lock().unwrap();
            r[i].starts += 1;
            r[i].starts
        };
        let name = format!("replica-{}-{n}", REPLICA_NAMES[i]);
        let process = AlmProcess::start_on_real_clock(&name, &self.dir, &self.env);
        let mut r = self.replicas.lock().unwrap();
        r[i].base = process.base.clone();
        r[i].process = Some(process);
    }

    /// SIGKILL, as a crash.
    fn kill(&self, i: usize) {
        let process = self.replicas.lock().unwrap()[i].process.take();
        if let Some(p) = process {
            p.kill();
        }
    }

    fn base(&self, i: usize) -> String {
        self.replicas.lock().unwrap()[i].base.clone()
    }

    /// Starts the remote engine: the first time with the server's address and an activation
    /// token (it registers), later from the state file in its data directory.
    fn start_engine(&self, register: Option<(&str, &str)>) {
        let mut engine = self.engine.lock().unwrap();
        engine.starts += 1;
        let log = self.dir.join(format!("engine-{}.log", engine.starts));
        let mut cmd = Command::new(support::process::alm_binary());
        cmd.args(["engine", "--name", "crash-engine", "--data-dir"])
            .arg(self.dir.join("engine"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("ALM_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("the engine's log file"));
        if let Some((server, token)) = register {
            cmd.args(["--server", server])
                .env("ALM_ENGINE_TOKEN", token);
        }
        engine.process = Some(cmd.spawn().expect("start alm engine"));
    }

    /// SIGKILL, as a crash: the leases it holds stay where they are.
    fn kill_engine(&self) {
        if let Some(mut p) = self.engine.lock().unwrap().process.take() {
            let _ = p.kill();
            let _ = p.wait();
        }
    }

    /// The end of each replica's last two logs (the one killed and its successor).
    fn logs(&self) -> String {
        let starts: Vec<usize> = self
            .replicas
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.starts)
            .collect();
        let engine_starts = self.engine.lock().unwrap().starts;
        let mut paths = Vec::new();
        for (i, n) in starts.iter().enumerate() {
            for k in n.saturating_sub(1).max(1)..=*n {
                paths.push(
                    self.dir
                        .join(format!("replica-{}-{k}.log", REPLICA_NAMES[i])),
                );
            }
        }
        for k in engine_starts.saturating_sub(1).max(1)..=engine_starts {
            paths.push(self.dir.join(format!("engine-{k}.log")));
        }
        let mut out = String::new();
        for path in paths {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(80)..].join("\n");
            out.push_str(&format!(
                "\n--- {} (last 80 lines) ---\n{tail}\n",
                path.display()
            ));
        }
        out
    }
}

/// The replicas' one address for the remote engine, as a load balancer in front of them gives
/// it: each connection goes to a replica (taking turns; the other when that one refuses), and
/// breaks when its replica is killed. Returns the port.
async fn start_balancer(cluster: Arc<Cluster>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the balancer");
    let port = listener.local_addr().expect("the balancer's port").port();
    tokio::spawn(async move {
        let mut turn = 0;
        while let Ok((mut inbound, _)) = listener.accept().await {
            turn = 1 - turn;
            let cluster = cluster.clone();
            tokio::spawn(async move {
                for i in [turn, 1 - turn] {
                    let base = cluster.base(i);
                    let addr = base.trim_start_matches("http://");
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(addr).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        return;
                    }
                }
                // Neither replica listens: the engine sees the connection close, and retries.
            });
        }
    });
    port
}

/// An answer, and whether an earlier try of the same call may have taken effect unseen (its
/// replica died, or PostgreSQL went away, before the answer came back).
struct Answer {
    status: u16,
    body: Value,
    ambiguous: bool,
}

/// Sends the call to replica `at`, and while no replica answers it (connection refused or
/// reset, a 5xx while PostgreSQL restarts) to the other one, until one does or [`WAIT`] ends.
async fn call(
    cluster: &Cluster,
    mut at: usize,
    token: &str,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> Answer {
    let deadline = Instant::now() + WAIT;
    let mut ambiguous = false;
    loop {
        let base = cluster.base(at);
        let mut req = cluster
            .client
            .request(method.clone(), format!("{base}{path}"))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let last = match req.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                match resp.text().await {
                    Ok(text) if status < 500 => {
                        let body = if text.is_empty() {
                            Value::Null
                        } else {
                            serde_json::from_str(&text).unwrap_or(Value::String(text))
                        };
                        return Answer {
                            status,
                            body,
                            ambiguous,
                        };
                    }
                    Ok(text) => format!("{status}: {text}"),
                    Err(e) => format!("{status}, then {e}"),
                }
            }
            Err(e) => e.to_string(),
        };
        ambiguous = true;
        assert!(
            Instant::now() < deadline,
            "{method} {path}: no replica answered within {WAIT:?} (last: {last}){}",
            cluster.logs()
        );
        at = 1 - at;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Creates the draft request for `name`; after an unseen outcome, finds the draft an earlier
/// try made instead of making a second one.
async fn create(cluster: &Cluster, at: usize, token: &str, template: &str, name: &str) -> String {
    let body = json!({"template_id": template, "account_name": name, "interval": "90d",
        "justification": "crash consistency", "attributes": {"department": "IT"}, "terms_accepted": true});
    let a = call(
        cluster,
        at,
        token,
        Method::POST,
        "/api/v1/requests",
        Some(&body),
    )
    .await;
    if a.status == 201 {
        return a.body["id"].as_str().expect("id").to_owned();
    }
    assert!(a.ambiguous, "creating {name}: {} {}", a.status, a.body);
    let found = call(
        cluster,
        at,
        token,
        Method::GET,
        &format!("/api/v1/requests?q={name}"),
        None,
    )
    .await;
    found.body["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["account_name"] == format!("svc-{name}"))
        .and_then(|r| r["id"].as_str())
        .unwrap_or_else(|| {
            panic!(
                "creating {name}: {} {}, and no request of that name: {}",
                a.status, a.body, found.body
            )
        })
        .to_owned()
}

async fn state_of(cluster: &Cluster, at: usize, token: &str, id: &str) -> String {
    let a = call(
        cluster,
        at,
        token,
        Method::GET,
        &format!("/api/v1/requests/{id}"),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "request {id}: {}", a.body);
    a.body["state"].as_str().unwrap_or_default().to_owned()
}

/// Submits; after an unseen outcome, a refusal is fine if the request left its draft state.
async fn submit(cluster: &Cluster, at: usize, token: &str, id: &str) {
    let path = format!("/api/v1/requests/{id}/submit");
    let a = call(cluster, at, token, Method::POST, &path, None).await;
    if a.status == 200 {
        return;
    }
    assert!(
        a.ambiguous && state_of(cluster, at, token, id).await != "draft",
        "submitting {id}: {} {}",
        a.status,
        a.body
    );
}

/// Approves; after an unseen outcome, a refusal ("you decided at this step already", or the
/// request moved on) means the earlier try counted. Whether it did shows in the end state.
async fn approve(cluster: &Cluster, at: usize, token: &str, id: &str) {
    let path = format!("/api/v1/approvals/{id}/approve");
    let a = call(cluster, at, token, Method::POST, &path, Some(&json!({}))).await;
    assert!(
        a.status == 200 || (a.ambiguous && (400..500).contains(&a.status)),
        "approving {id}: {} {}",
        a.status,
        a.body
    );
}

/// Waits until the request is provisioned, or ends otherwise; returns its last state.
async fn settled_state(cluster: &Cluster, at: usize, token: &str, id: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let state = state_of(cluster, at, token, id).await;
        let finished = matches!(
            state.as_str(),
            "provisioned" | "provisioning-failed" | "rejected" | "withdrawn" | "abandoned"
        );
        if finished || Instant::now() > deadline {
            return state;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn connect(url: &str) -> sqlx::AnyConnection {
    let deadline = Instant::now() + WAIT;
    loop {
        match <sqlx::AnyConnection as sqlx::Connection>::connect(url).await {
            Ok(c) => return c,
            Err(e) => assert!(
                Instant::now() < deadline,
                "PostgreSQL did not come back: {e}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The two outboxes (alm_store::outbox_queue: one queue, two tables) and what each carries.
const OUTBOXES: [(&str, &str); 2] = [("outbox", "mail"), ("integration_outbox", "webhook")];

/// Waits until nothing is pending in either outbox (mail; webhooks). Claims the killed replica
/// held (taken before `killed_at`, unchanged [`DEAD_CLAIM_AFTER`] later) are ended as their
/// lease would end them; returns those rows: which outbox's (`mail`, `webhook`) and their ids.
async fn outbox_drained(
    url: &str,
    killed_replica_at: Option<i64>,
    cluster: &Cluster,
) -> Vec<(&'static str, String)> {
    let lease = alm_store::outbox_queue::LEASE.whole_microseconds() as i64;
    let deadline = Instant::now() + WAIT;
    let mut released = Vec::new();
    loop {
        let mut conn = connect(url).await;
        let mut waiting = Vec::new();
        for (table, what) in OUTBOXES {
            let pending: Vec<(String, Option<i64>)> = sqlx::query_as(&format!(
                "SELECT id, lease_until FROM {table} WHERE status = 'pending'"
            ))
            .fetch_all(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("reading the {table}: {e}"));
            if let Some(killed) = killed_replica_at {
                let dead_for = (now_micros() - killed) as u128;
                if dead_for > DEAD_CLAIM_AFTER.as_micros() {
                    for (id, until) in &pending {
                        let Some(until) = until else { continue };
                        if until - lease <= killed && *until > killed {
                            let ended = sqlx::query(&format!(
                                "UPDATE {table} SET lease_until = NULL WHERE id = $1 AND lease_until = $2 AND status = 'pending'"
                            ))
                            .bind(id)
                            .bind(until)
                            .execute(&mut conn)
                            .await
                            .expect("end a dead claim")
                            .rows_affected();
                            if ended == 1 {
                                released.push((what, id.clone()));
                            }
                        }
                    }
                }
            }
            waiting.extend(pending.into_iter().map(|p| (what, p)));
        }
        if waiting.is_empty() {
            return released;
        }
        assert!(
            Instant::now() < deadline,
            "the outboxes still have {} pending message(s) after {WAIT:?}: {waiting:?}{}",
            waiting.len(),
            cluster.logs()
        );
        drop(conn);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// How many attempts beyond the first the provisioning jobs of these requests took: a kill
/// that hit an engine holding the job (or the server answering it) shows here.
async fn provision_reruns(url: &str, requests: &[String]) -> i64 {
    let mut conn = connect(url).await;
    let mut reruns = 0;
    for id in requests {
        let attempts: Vec<i64> = sqlx::query_scalar(
            "SELECT CAST(attempts AS BIGINT) FROM jobs WHERE kind = 'provision' AND subject_id = $1",
        )
        .bind(id)
        .fetch_all(&mut conn)
        .await
        .expect("read the provisioning jobs");
        reruns += attempts.iter().map(|a| a - 1).sum::<i64>();
    }
    reruns
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Counts {
    lost: usize,
    duplicate_objects: usize,
    duplicate_secrets: usize,
    orphan_secrets: usize,
    stale_secrets: usize,
    duplicate_mails: usize,
    missing_mails: usize,
    duplicate_webhooks: usize,
    missing_webhooks: usize,
    audit_ok: bool,
    /// Second copies of one message (same Message-ID) whose claim died with a killed replica:
    /// at-least-once delivery, not asserted (see the module header).
    redelivered_mails: usize,
    /// The same for webhook calls (same `X-Alm-Delivery`).
    redelivered_webhooks: usize,
}

impl Counts {
    fn clean(&self) -> bool {
        *self
            == Counts {
                audit_ok: true,
                redelivered_mails: self.redelivered_mails,
                redelivered_webhooks: self.redelivered_webhooks,
                ..Counts::default()
            }
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "lost={}, duplicate_objects={}, duplicate_secrets={}, orphan_secrets={}, stale_secrets={}, duplicate_mails={}, missing_mails={}, duplicate_webhooks={}, missing_webhooks={}, audit={}, redelivered_mails={}, redelivered_webhooks={}",
            self.lost,
            self.duplicate_objects,
            self.duplicate_secrets,
            self.orphan_secrets,
            self.stale_secrets,
            self.duplicate_mails,
            self.missing_mails,
            self.duplicate_webhooks,
            self.missing_webhooks,
            if self.audit_ok { "ok" } else { "BROKEN" },
            self.redelivered_mails,
            self.redelivered_webhooks
        )
    }
}

/// What the test knows, for comparing the three stores.
struct Ledger<'a> {
    url: &'a str,
    data_dir: &'a Path,
    vault: &'a str,
    domain: &'a str,
    ou: &'a str,
    /// Every request the test submitted: id → account name (`svc-…`).
    submitted: &'a BTreeMap<String, String>,
    /// This round's accounts (their passwords are bound with).
    round: &'a [String],
    sink: &'a SmtpSink,
    /// Every call the webhooks made.
    hooks: &'a Receiver,
    /// Outbox rows (mail and webhook) whose claim died with a killed replica, and how many
    /// times.
    released: &'a BTreeMap<String, usize>,
    builtin: &'a alm_server::services::vaults::BuiltinVault,
}

/// Compares Samba, the built-in vault, the outbox's deliveries and alm; `why` collects what
/// each count is made of.
async fn inspect(l: &Ledger<'_>, why: &mut Vec<String>) -> Counts {
    let mut c = Counts::default();
    let mut conn = connect(l.url).await;

    // alm: every submitted request provisioned, one account each.
    let requests: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT id, account_name, state FROM requests WHERE submitted_at IS NOT NULL",
    )
    .fetch_all(&mut conn)
    .await
    .expect("read requests");
    let state: BTreeMap<&str, &str> = requests
        .iter()
        .map(|(id, _, s)| (id.as_str(), s.as_str()))
        .collect();
    let mut provisioned = BTreeSet::new();
    let mut provisioned_ids = BTreeSet::new();
    for (id, name) in l.submitted {
        match state.get(id.as_str()) {
            Some(&"provisioned") => {
                provisioned.insert(name.to_lowercase());
                provisioned_ids.insert(id.clone());
            }
            other => {
                c.lost += 1;
                why.push(format!("request {id} ({name}) is {other:?}"));
            }
        }
    }
    for (id, name, s) in &requests {
        if !l.submitted.contains_key(id) {
            c.lost += usize::from(s != "provisioned");
            why.push(format!(
                "a request the test did not submit: {id} {name} {s}"
            ));
        }
    }
    let accounts: Vec<(String,)> =
        sqlx::query_as("SELECT name FROM managed_accounts WHERE domain_id = $1")
            .bind(l.domain)
            .fetch_all(&mut conn)
            .await
            .expect("read accounts");
    let in_alm = tally(accounts.into_iter().map(|(n,)| n));

    // Samba: the objects in the template's OU.
    let dir = support::ad::connect();
    let users = dir.users(Some(l.ou)).await.expect("list the test OU");
    let dns: BTreeMap<String, String> = users
        .iter()
        .map(|u| (u.sam_account_name.to_lowercase(), u.dn.clone()))
        .collect();
    let in_ad = tally(users.iter().map(|u| u.sam_account_name.clone()));

    // The built-in vault.
    let entries: Vec<(String, String)> =
        sqlx::query_as("SELECT folder, name FROM builtin_vault_entries WHERE vault_id = $1")
            .bind(l.vault)
            .fetch_all(&mut conn)
            .await
            .expect("read the built-in vault");
    let folders: BTreeMap<String, String> = entries
        .iter()
        .map(|(f, n)| (n.to_lowercase(), f.clone()))
        .collect();
    let in_vault = tally(entries.into_iter().map(|(_, n)| n));

    for (what, found) in [("alm account", &in_alm), ("directory object", &in_ad)] {
        for name in &provisioned {
            match found.get(name).copied().unwrap_or(0) {
                0 => {
                    c.lost += 1;
                    why.push(format!("{name}: provisioned, but no {what}"));
                }
                1 => {}
                n => {
                    c.duplicate_objects += n - 1;
                    why.push(format!("{name}: {n} of {what}"));
                }
            }
        }
        for (name, n) in found {
            if !provisioned.contains(name) {
                c.duplicate_objects += n;
                why.push(format!(
                    "{name}: {n} {what}(s) without a provisioned request"
                ));
            }
        }
    }
    for name in &provisioned {
        match in_vault.get(name).copied().unwrap_or(0) {
            0 => {
                c.lost += 1;
                why.push(format!("{name}: provisioned, but no secret"));
            }
            1 => {}
            n => {
                c.duplicate_secrets += n - 1;
                why.push(format!("{name}: {n} secrets"));
            }
        }
    }
    for (name, n) in &in_vault {
        if !provisioned.contains(name) {
            c.orphan_secrets += n;
            why.push(format!("{name}: a secret for no provisioned account"));
        }
    }
    // The stored password is the account's: it binds.
    for name in l.round {
        let key = name.to_lowercase();
        let (Some(dn), Some(folder)) = (dns.get(&key), folders.get(&key)) else {
            continue; // counted as lost above
        };
        let secret =
            alm_vault::Vault::get(l.builtin, &alm_vault::SecretRef(format!("{folder}/{name}")))
                .await
                .expect("read the built-in vault")
                .expect("the entry just listed");
        let mut config = support::ad::config();
        config.bind_identity = dn.clone();
        config.bind_password = alm_core::Secret::new(secret.password.expose());
        let bound = alm_directory::ActiveDirectory::new(config)
            .expect("directory settings")
            .check()
            .await;
        if let Err(e) = bound {
            c.stale_secrets += 1;
            why.push(format!("{name}: the stored password does not bind: {e}"));
        }
    }

    // Mail: each (recipient, subject) one message, delivered once — except a second copy of a
    // message whose claim died with a killed replica; the six of every provisioned request there.
    let mails = l.sink.mails();
    let mut pairs: BTreeMap<String, BTreeMap<&str, usize>> = BTreeMap::new();
    for m in &mails {
        assert!(
            !m.message_id.is_empty(),
            "a mail without a Message-ID: {m:?}"
        );
        *pairs
            .entry(format!("{} | {}", m.to, m.subject).to_lowercase())
            .or_default()
            .entry(m.message_id.as_str())
            .or_insert(0) += 1;
    }
    for (pair, messages) in &pairs {
        if messages.len() > 1 && !pair.contains(" | delayed: ") {
            c.duplicate_mails += messages.len() - 1;
            why.push(format!(
                "{} messages for one event: {pair} {messages:?}",
                messages.len()
            ));
        }
        for (message_id, copies) in messages {
            let row = message_id
                .trim_start_matches('<')
                .split('@')
                .next()
                .unwrap_or_default();
            let excused = l.released.get(row).copied().unwrap_or(0);
            let extra = copies - 1;
            c.redelivered_mails += extra.min(excused);
            if extra > excused {
                c.duplicate_mails += extra - excused;
                why.push(format!(
                    "mail delivered {copies} times: {pair} {message_id}"
                ));
            }
        }
    }
    for name in &provisioned {
        let expected = [
            ("appr1@example.test", "approval needed"),
            ("appr2@example.test", "approval needed"),
            ("appr3@example.test", "approval needed"),
            ("final@example.test", "approval needed"),
            ("req@example.test", "approved"),
            ("req@example.test", "created"),
        ];
        for (to, subject) in expected {
            if !pairs.contains_key(&format!("{to} | {subject}: {name}")) {
                c.missing_mails += 1;
                why.push(format!("no mail \"{subject}: {name}\" to {to}"));
            }
        }
    }

    // Webhooks: each event one delivery, that delivery received once — except a second copy
    // of a delivery whose claim died with a killed replica; the four of every provisioned
    // request there.
    let hooks: Vec<Hook> = l.hooks.calls().iter().map(Hook::from_call).collect();
    let h = count_webhooks(&hooks, l.submitted, &provisioned_ids, l.released, why);
    c.duplicate_webhooks = h.duplicate;
    c.missing_webhooks = h.missing;
    c.redelivered_webhooks = h.redelivered;

    // The audit chain, as an operator checks it.
    let out = Command::new(support::process::alm_binary())
        .args(["db", "verify-audit", "--data-dir"])
        .arg(l.data_dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ALM_DATABASE__URL", l.url)
        .output()
        .expect("run alm db verify-audit");
    c.audit_ok = out.status.success();
    if !c.audit_ok {
        why.push(format!(
            "alm db verify-audit: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    c
}

/// One webhook call as the receiver saw it.
#[derive(Debug, Clone)]
struct Hook {
    /// `X-Alm-Delivery`: alm's id of one delivery (its outbox row), the same on every attempt.
    delivery: String,
    /// `X-Alm-Event`.
    event: String,
    /// From the body ([`HOOK_BODY`]).
    request: String,
    step: String,
}

impl Hook {
    fn from_call(call: &Recorded) -> Self {
        let body: Value = serde_json::from_slice(&call.body)
            .unwrap_or_else(|e| panic!("a webhook body that is not JSON ({e}): {}", call.text()));
        let header = |name: &str| {
            call.header(name)
                .unwrap_or_else(|| panic!("a webhook call without {name}: {call:?}"))
                .to_owned()
        };
        let field = |name: &str| body[name].as_str().unwrap_or_default().to_owned();
        Self {
            delivery: header("x-alm-delivery"),
            event: header("x-alm-event"),
            request: field("request"),
            step: field("step"),
        }
    }

    /// The event this call tells of: its kind and request, and for "step requires approval"
    /// the step (one such event per step).
    fn event_key(&self) -> String {
        if self.event == STEP_REQUIRES_APPROVAL {
            format!("{} {} step {}", self.event, self.request, self.step)
        } else {
            format!("{} {}", self.event, self.request)
        }
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
struct HookCounts {
    duplicate: usize,
    missing: usize,
    redelivered: usize,
}

/// Counts the webhook calls against what the requests must have produced:
/// - duplicate: an event told by two deliveries (alm queued it twice; only "retrying" may come
///   again, once per failure episode), one delivery received again without a dead claim to
///   excuse it (`released`: its outbox row's claim died with a killed replica, so the copy is
///   at-least-once delivery — `redelivered`), or a call about a request the test never
///   submitted;
/// - missing: one of the four events of a provisioned request that never came.
fn count_webhooks(
    hooks: &[Hook],
    submitted: &BTreeMap<String, String>,
    provisioned: &BTreeSet<String>,
    released: &BTreeMap<String, usize>,
    why: &mut Vec<String>,
) -> HookCounts {
    let mut c = HookCounts::default();
    // event → delivery → copies received.
    let mut events: BTreeMap<String, BTreeMap<&str, usize>> = BTreeMap::new();
    for h in hooks {
        if !submitted.contains_key(&h.request) {
            c.duplicate += 1;
            why.push(format!("a webhook call for no submitted request: {h:?}"));
            continue;
        }
        *events
            .entry(h.event_key())
            .or_default()
            .entry(h.delivery.as_str())
            .or_insert(0) += 1;
    }
    for (event, deliveries) in &events {
        if deliveries.len() > 1 && !event.starts_with(RETRYING) {
            c.duplicate += deliveries.len() - 1;
            why.push(format!(
                "{} deliveries for one event: {event} {deliveries:?}",
                deliveries.len()
            ));
        }
        for (delivery, copies) in deliveries {
            let excused = released.get(*delivery).copied().unwrap_or(0);
            let extra = copies - 1;
            c.redelivered += extra.min(excused);
            if extra > excused {
                c.duplicate += extra - excused;
                why.push(format!(
                    "webhook delivery received {copies} times: {event} {delivery}"
                ));
            }
        }
    }
    for request in provisioned {
        let expected = [
            format!("{STEP_REQUIRES_APPROVAL} {request} step 1"),
            format!("{STEP_REQUIRES_APPROVAL} {request} step 2"),
            format!("request.approved {request}"),
            format!("request.provisioned {request}"),
        ];
        for event in expected {
            if !events.contains_key(&event) {
                c.missing += 1;
                why.push(format!("no webhook call for {event}"));
            }
        }
    }
    c
}

/// How often each (lowercased) value occurs.
fn tally(items: impl IntoIterator<Item = String>) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for i in items {
        *out.entry(i.to_lowercase()).or_insert(0) += 1;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_engine_and_postgresql_killed_at_random_lose_and_duplicate_nothing() {
    let rounds: usize = std::env::var("ALMTEST_CRASH_ROUNDS")
        .map(|v| v.parse().expect("ALMTEST_CRASH_ROUNDS is a number"))
        .unwrap_or(DEFAULT_ROUNDS);
    let seed: u64 = std::env::var("ALMTEST_CRASH_SEED")
        .map(|v| v.parse().expect("ALMTEST_CRASH_SEED is a number"))
        .unwrap_or_else(|_| alm_core::SystemClock.now().unix_timestamp_nanos() as u64);
    println!("crash suite: {rounds} rounds, ALMTEST_CRASH_SEED={seed}");
    let mut rng = XorShift::new(seed);
    let pg = Arc::new(Postgres::from_env());
    sqlx::any::install_default_drivers();

    // The world, set up by an in-process server that then stops.
    let sink = SmtpSink::start().await;
    let smtp = [
        ("ALM_SMTP__HOST", "127.0.0.1".to_string()),
        ("ALM_SMTP__PORT", sink.port.to_string()),
        ("ALM_SMTP__SECURITY", "none".into()),
        ("ALM_SMTP__FROM", "alm@example.test".into()),
    ];
    let mut settings: Vec<(&str, &str)> = smtp.iter().map(|(k, v)| (*k, v.as_str())).collect();
    settings.push(("ALM_SCHEDULER__ENABLED", "false"));
    let mut s = TestServer::start_with(Backend::Postgres, &settings).await;
    let w = world(&s).await;
    let (st, t) = s
        .admin()
        .post(
            "/api/v1/templates",
            json!({"name": "Crash consistency", "definition": definition(&w)}),
        )
        .await;
    assert_eq!(st, 201, "{t}");
    let template = t["id"].as_str().unwrap().to_owned();
    let (st, _) = s
        .admin()
        .post_empty(&format!("/api/v1/templates/{template}/publish"))
        .await;
    assert_eq!(st, 200);
    // A webhook for each event the requests produce, all to one receiver in this process —
    // the one process no round kills, so it hears every call that leaves a replica.
    let hooks = Receiver::start().await;
    for event in HOOKED_EVENTS {
        let (st, hook) = s
            .admin()
            .post(
                "/api/v1/webhooks",
                json!({"description": "crash suite", "event": event,
                       "url": hooks.url(&format!("/{event}")), "body_template": HOOK_BODY,
                       "signing_secret": "crash-suite-signing-secret"}),
            )
            .await;
        assert_eq!(st, 201, "the {event} webhook: {hook}");
    }
    // The remote engine's pool; the domain starts in the default pool (the in-process
    // engines').
    let (st, pool) = s
        .admin()
        .post("/api/v1/engine-pools", json!({"name": "Remote engine"}))
        .await;
    assert_eq!(st, 201, "{pool}");
    let remote_pool = pool["id"].as_str().unwrap().to_owned();
    let (st, domain) = s
        .admin()
        .get(&format!("/api/v1/domains/{}", w.domain))
        .await;
    assert_eq!(st, 200, "{domain}");
    let default_pool = domain["pool_id"]
        .as_str()
        .expect("the domain's pool")
        .to_owned();
    let admin = s.admin_token.clone();
    let key = s.state().master_key.clone();
    s.halt().await;
    let db = alm_store::Db::connect(&s.db.url)
        .await
        .expect("the test's own connection");
    let builtin = alm_server::services::vaults::BuiltinVault::new(
        db.clone(),
        key,
        Arc::new(alm_core::SystemClock),
        w.vault.parse().unwrap(),
    );

    let mut env = vec![
        ("ALM_DATABASE__URL", s.db.url.clone()),
        ("ALM_SCHEDULER__INTERVAL_SECONDS", "1".into()),
    ];
    env.extend(smtp.iter().cloned());
    let cluster = Arc::new(Cluster {
        dir: s.db.dir.clone(),
        env,
        replicas: Mutex::new(
            (0..2)
                .map(|_| Replica {
                    process: None,
                    base: String::new(),
                    starts: 0,
                })
                .collect(),
        ),
        engine: Mutex::default(),
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap(),
    });
    cluster.start(0);
    cluster.start(1);

    // The remote engine, through the balancer: registered (with a token a replica makes: the
    // set-up server's clock is not the machine's), then put in its pool.
    let activation = call(
        &cluster,
        0,
        &admin,
        Method::POST,
        "/api/v1/engine-activation-tokens",
        None,
    )
    .await;
    assert_eq!(activation.status, 201, "{}", activation.body);
    let activation = activation.body["token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let balancer = start_balancer(cluster.clone()).await;
    cluster.start_engine(Some((&format!("http://127.0.0.1:{balancer}"), &activation)));
    let engine_id = {
        let deadline = Instant::now() + WAIT;
        loop {
            let list = call(
                &cluster,
                0,
                &admin,
                Method::GET,
                "/api/v1/engines?unassigned=true",
                None,
            )
            .await;
            let found = list.body["items"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|e| e["name"] == "crash-engine")
                .and_then(|e| e["id"].as_str().map(str::to_owned));
            if let Some(id) = found {
                break id;
            }
            assert!(
                Instant::now() < deadline,
                "the remote engine did not register within {WAIT:?}{}",
                cluster.logs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let assigned = call(
        &cluster,
        0,
        &admin,
        Method::PATCH,
        &format!("/api/v1/engines/{engine_id}"),
        Some(&json!({"pool_id": remote_pool, "active": true})),
    )
    .await;
    assert_eq!(
        assigned.status, 200,
        "assigning the engine: {}",
        assigned.body
    );
    let mut domain_path = 0;

    let token = |api: &support::Api| api.token.clone().expect("a token");
    let requester = token(&w.requester);
    let approvers = [
        token(&w.approver_apis[0]),
        token(&w.approver_apis[1]),
        token(&w.final_api),
    ];
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..6];
    let mut submitted: BTreeMap<String, String> = BTreeMap::new();
    let mut released: BTreeMap<String, usize> = BTreeMap::new();
    let mut released_by = BTreeMap::<&str, usize>::new();
    let mut victims = [0; 4];
    let mut paths = [0; 2];
    let mut reruns_by_victim = [0; 4];
    let mut slowest = Duration::ZERO;
    let (mut redelivered, mut redelivered_hooks) = (0, 0);
    let started = Instant::now();
    for round in 1..=rounds {
        let round_started = Instant::now();
        let at = rng.below(2) as usize;
        let victim = rng.below(4) as usize;
        // Killing the engine only tells something when it runs the round's provisioning.
        let path = if victim == ENGINE {
            1
        } else {
            rng.below(2) as usize
        };
        let delay = Duration::from_millis(rng.below(2001));
        let down = Duration::from_millis(rng.below(1001));
        let victim_name = VICTIMS[victim];
        victims[victim] += 1;
        paths[path] += 1;
        if path != domain_path {
            let pool = [&default_pool, &remote_pool][path];
            let moved = call(
                &cluster,
                at,
                &admin,
                Method::PATCH,
                &format!("/api/v1/domains/{}", w.domain),
                Some(&json!({ "pool_id": pool })),
            )
            .await;
            assert_eq!(
                moved.status, 200,
                "moving the domain to the {} pool: {}",
                PATHS[path], moved.body
            );
            domain_path = path;
        }
        // The people take their time (0–300 ms before each call), so the flow spans most of
        // the two seconds the kill may fall in.
        let pauses: Vec<Duration> = (0..STEPS)
            .map(|_| Duration::from_millis(rng.below(301)))
            .collect();
        let steps_done = Arc::new(AtomicUsize::new(0));
        let kill = {
            let (cluster, pg, steps_done) = (cluster.clone(), pg.clone(), steps_done.clone());
            tokio::task::spawn_blocking(move || {
                std::thread::sleep(delay);
                let at = now_micros();
                let step = steps_done.load(Ordering::SeqCst);
                if victim < 2 {
                    cluster.kill(victim);
                    std::thread::sleep(down);
                    cluster.start(victim);
                } else if victim == ENGINE {
                    cluster.kill_engine();
                    std::thread::sleep(down);
                    cluster.start_engine(None);
                } else {
                    pg.crash();
                    std::thread::sleep(down);
                    pg.start();
                }
                (at, step)
            })
        };

        // Two requests through the chosen replica: created, submitted, approved in two steps.
        let names: Vec<String> = (0..BATCH).map(|k| format!("c{tag}r{round}n{k}")).collect();
        let mut pause = pauses.into_iter();
        let mut ids = Vec::new();
        for name in &names {
            tokio::time::sleep(pause.next().expect("a pause per call")).await;
            let id = create(&cluster, at, &requester, &template, name).await;
            steps_done.fetch_add(1, Ordering::SeqCst);
            ids.push(id);
        }
        for id in &ids {
            tokio::time::sleep(pause.next().expect("a pause per call")).await;
            submit(&cluster, at, &requester, id).await;
            steps_done.fetch_add(1, Ordering::SeqCst);
        }
        for (id, name) in ids.iter().zip(&names) {
            submitted.insert(id.clone(), format!("svc-{name}"));
        }
        for id in &ids {
            for approver in &approvers {
                tokio::time::sleep(pause.next().expect("a pause per call")).await;
                approve(&cluster, at, approver, id).await;
                steps_done.fetch_add(1, Ordering::SeqCst);
            }
        }
        let flow_ms = round_started.elapsed().as_millis();
        let (killed_at, killed_after) = kill.await.expect("the kill and restart");

        // Quiescence: every request of the round settled, nothing left in the outbox.
        for id in &ids {
            settled_state(&cluster, at, &requester, id).await;
        }
        let ended = outbox_drained(&s.db.url, (victim < 2).then_some(killed_at), &cluster).await;
        let mut ended_by = BTreeMap::<&str, usize>::new();
        for (what, id) in &ended {
            *released.entry(id.clone()).or_insert(0) += 1;
            *ended_by.entry(*what).or_insert(0) += 1;
            *released_by.entry(*what).or_insert(0) += 1;
        }

        let reruns = provision_reruns(&s.db.url, &ids).await;
        reruns_by_victim[victim] += reruns;

        let round_accounts: Vec<String> = names.iter().map(|n| format!("svc-{n}")).collect();
        let mut why = Vec::new();
        let counts = inspect(
            &Ledger {
                url: &s.db.url,
                data_dir: &s.db.dir,
                vault: &w.vault,
                domain: &w.domain,
                ou: &w.ou,
                submitted: &submitted,
                round: &round_accounts,
                sink: &sink,
                hooks: &hooks,
                released: &released,
                builtin: &builtin,
            },
            &mut why,
        )
        .await;
        println!(
            "round {round}/{rounds}: victim={victim_name} engine={} at {} ms (after call {killed_after}/{STEPS}; flow {flow_ms} ms, down {} ms), {counts}, dead_mail_claims_released={}, dead_webhook_claims_released={}, provision_reruns={reruns} ({:.1} s)",
            PATHS[path],
            delay.as_millis(),
            down.as_millis(),
            ended_by.get("mail").copied().unwrap_or(0),
            ended_by.get("webhook").copied().unwrap_or(0),
            round_started.elapsed().as_secs_f64()
        );
        slowest = slowest.max(round_started.elapsed());
        redelivered = counts.redelivered_mails;
        redelivered_hooks = counts.redelivered_webhooks;
        assert!(
            counts.clean(),
            "round {round} (ALMTEST_CRASH_SEED={seed}): {counts}\n{}\n{}",
            why.join("\n"),
            cluster.logs()
        );
    }
    let total = started.elapsed().as_secs_f64();
    println!(
        "crash suite: {rounds} rounds in {total:.0} s ({:.1} s a round, the slowest {:.1} s), seed {seed}; victims: {}; provisioning by engine: {}; provision jobs run again after a kill of: {}; mail claims ended with a killed replica: {}, of which sent twice: {redelivered}; webhook claims ended with a killed replica: {}, of which delivered twice: {redelivered_hooks}; webhook calls received: {}",
        total / rounds as f64,
        slowest.as_secs_f64(),
        VICTIMS
            .iter()
            .zip(victims)
            .map(|(v, n)| format!("{v} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        PATHS
            .iter()
            .zip(paths)
            .map(|(p, n)| format!("{p} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        VICTIMS
            .iter()
            .zip(reruns_by_victim)
            .map(|(v, n)| format!("{v} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        released_by.get("mail").copied().unwrap_or(0),
        released_by.get("webhook").copied().unwrap_or(0),
        hooks.calls().len(),
    );
    cluster.kill_engine();
    for i in 0..2 {
        cluster.kill(i);
    }
    db.close().await;
    s.stop().await;
}

/// The webhook counts on made-up calls: each case says by construction what it must count,
/// so a counting function that let a doubled delivery through fails here, without a crash.
#[cfg(test)]
mod webhook_counts {
    use super::*;

    fn hook(delivery: &str, event: &str, request: &str, step: &str) -> Hook {
        Hook {
            delivery: delivery.into(),
            event: event.into(),
            request: request.into(),
            step: step.into(),
        }
    }

    /// Every event of request `r` once, delivery ids `r-1` … `r-4`.
    fn complete(r: &str) -> Vec<Hook> {
        vec![
            hook(&format!("{r}-1"), STEP_REQUIRES_APPROVAL, r, "1"),
            hook(&format!("{r}-2"), STEP_REQUIRES_APPROVAL, r, "2"),
            hook(&format!("{r}-3"), "request.approved", r, ""),
            hook(&format!("{r}-4"), "request.provisioned", r, ""),
        ]
    }

    fn count(hooks: &[Hook], released: &[(&str, usize)]) -> HookCounts {
        let submitted: BTreeMap<String, String> = ["r1", "r2"]
            .iter()
            .map(|r| (r.to_string(), format!("svc-{r}")))
            .collect();
        let provisioned: BTreeSet<String> = submitted.keys().cloned().collect();
        let released = released
            .iter()
            .map(|(id, n)| (id.to_string(), *n))
            .collect();
        count_webhooks(hooks, &submitted, &provisioned, &released, &mut Vec::new())
    }

    fn both() -> Vec<Hook> {
        [complete("r1"), complete("r2")].concat()
    }

    #[test]
    fn each_event_once_counts_nothing() {
        assert_eq!(count(&both(), &[]), HookCounts::default());
    }

    #[test]
    fn one_delivery_received_twice_is_a_duplicate_unless_its_claim_died() {
        let mut hooks = both();
        hooks.push(hook("r1-3", "request.approved", "r1", ""));
        let doubled = HookCounts {
            duplicate: 1,
            ..HookCounts::default()
        };
        assert_eq!(count(&hooks, &[]), doubled);
        // Another delivery's dead claim excuses nothing.
        assert_eq!(count(&hooks, &[("r1-4", 1)]), doubled);
        let excused = HookCounts {
            redelivered: 1,
            ..HookCounts::default()
        };
        assert_eq!(count(&hooks, &[("r1-3", 1)]), excused);
        // One dead claim excuses one copy: a third copy is a duplicate.
        hooks.push(hook("r1-3", "request.approved", "r1", ""));
        assert_eq!(
            count(&hooks, &[("r1-3", 1)]),
            HookCounts {
                duplicate: 1,
                redelivered: 1,
                ..HookCounts::default()
            }
        );
    }

    #[test]
    fn one_event_in_two_deliveries_is_a_duplicate_except_retrying() {
        let mut hooks = both();
        hooks.push(hook("r2-9", "request.provisioned", "r2", ""));
        assert_eq!(
            count(&hooks, &[]),
            HookCounts {
                duplicate: 1,
                ..HookCounts::default()
            }
        );
        // Two failure episodes, two "retrying" events.
        let mut hooks = both();
        hooks.push(hook("r2-7", RETRYING, "r2", ""));
        hooks.push(hook("r2-8", RETRYING, "r2", ""));
        assert_eq!(count(&hooks, &[]), HookCounts::default());
        // But one of them received twice is still a duplicate.
        hooks.push(hook("r2-8", RETRYING, "r2", ""));
        assert_eq!(count(&hooks, &[]).duplicate, 1);
    }

    #[test]
    fn the_two_steps_are_two_events_and_a_missing_one_is_counted() {
        let mut hooks = both();
        // Step 2's call of r1 never came; a step-1 call in its place does not stand in for it.
        hooks.retain(|h| h.delivery != "r1-2");
        assert_eq!(
            count(&hooks, &[]),
            HookCounts {
                missing: 1,
                ..HookCounts::default()
            }
        );
        hooks.push(hook("r1-9", STEP_REQUIRES_APPROVAL, "r1", "1"));
        assert_eq!(
            count(&hooks, &[]),
            HookCounts {
                missing: 1,
                duplicate: 1,
                ..HookCounts::default()
            }
        );
    }

    #[test]
    fn a_call_for_no_submitted_request_is_counted() {
        let mut hooks = both();
        hooks.push(hook("x-1", "request.approved", "r3", ""));
        assert_eq!(count(&hooks, &[]).duplicate, 1);
    }
}

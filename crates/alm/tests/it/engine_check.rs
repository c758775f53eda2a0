//! `alm engine check` (SPEC §5), the real binary run from an engine's data directory: the
//! way to the server, each domain controller of the pool's domains (the Samba DC, a port
//! nothing listens on, a wrong bind password) and each vault (OpenBao, a dead port, a TLS
//! certificate not trusted), one line
//! each with the fix, no secret printed, exit 1 while anything fails and 0 once all pass; an
//! engine not yet in a pool, a removed one, an unregistered one, an unreachable server and a
//! server whose certificate is not trusted each get their own line and exit 1. The check records nothing on the server but an audit record
//! of what it was given.

use crate::engines::{activation_token, SETTINGS};
use crate::oidc::free_port;
use crate::support::{ad, Backend, TestServer};
use alm_engine::protocol::Secret;
use alm_engine::state_file::{self, EngineState};
use serde_json::json;
use std::path::Path;
use std::process::Command;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: the engine check test needs the peers `bash scripts/test.sh` starts")
    })
}

/// What one run of `alm engine check` gave.
struct Run {
    success: bool,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The line about `what` (its start after the mark), or a failure showing every line.
    fn line(&self, what: &str) -> &str {
        self.stdout
            .lines()
            .find(|l| l.get(6..).is_some_and(|rest| rest.starts_with(what)))
            .unwrap_or_else(|| panic!("no line about {what:?}:\n{}{}", self.stdout, self.stderr))
    }

    fn ok(&self, what: &str) {
        let line = self.line(what);
        assert!(line.starts_with("ok    "), "{line}\n{}", self.stdout);
    }

    /// Asserts the line about `what` failed and says each of `words`.
    fn failed(&self, what: &str, words: &[&str]) {
        let line = self.line(what);
        assert!(line.starts_with("FAIL  "), "{line}\n{}", self.stdout);
        for w in words {
            assert!(line.contains(w), "{w:?} not in: {line}");
        }
    }
}

fn check(data_dir: &Path) -> Run {
    check_with(data_dir, &[])
}

fn check_with(data_dir: &Path, extra: &[&str]) -> Run {
    let out = Command::new(crate::support::process::alm_binary())
        .args(["engine", "check", "--timeout", "3", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .env_remove("ALM_ENGINE_SERVER")
        .env_remove("ALM_ENGINE_DATA_DIR")
        .env_remove("ALM_ENGINE_SERVER_CA")
        .output()
        .expect("run alm engine check");
    Run {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_check_tests_each_dc_and_vault_from_the_engine_host_and_says_how_to_fix_them() {
    let s = TestServer::start_with(Backend::Sqlite, SETTINGS).await;
    let admin = s.admin();
    let (st, pool) = admin
        .post("/api/v1/engine-pools", json!({"name": "Check site"}))
        .await;
    assert_eq!(st, 201, "{pool}");
    let pool = pool["id"].as_str().unwrap().to_owned();

    // A domain with two controllers: the Samba DC, and one at a port nothing listens on.
    let c = ad::config();
    let dead_dc = format!("ldaps://127.0.0.1:{}", free_port());
    let (st, domain) = admin
        .post(
            "/api/v1/domains",
            json!({
                "name": "Corp", "url": c.url, "failover_urls": [dead_dc],
                "bind_identity": c.bind_identity, "bind_password": c.bind_password.expose(),
                "ca_pem": c.ca_pem, "base_dn": c.base_dn, "pool_id": pool,
            }),
        )
        .await;
    assert_eq!(st, 201, "{domain}");
    let domain = domain["id"].as_str().unwrap().to_owned();
    // The same DC with a wrong password.
    let wrong_password = "not-the-password-4711";
    let (st, wrong) = admin
        .post(
            "/api/v1/domains",
            json!({
                "name": "Wrong password", "url": c.url, "bind_identity": c.bind_identity,
                "bind_password": wrong_password, "ca_pem": c.ca_pem, "base_dn": c.base_dn,
                "pool_id": pool,
            }),
        )
        .await;
    assert_eq!(st, 201, "{wrong}");
    let wrong = wrong["id"].as_str().unwrap().to_owned();
    // OpenBao, and an OpenBao address nothing answers on.
    let token = env("ALMTEST_OPENBAO_ALM_TOKEN");
    let bao_address = env("ALMTEST_OPENBAO_ADDR");
    let (st, bao) = admin
        .post(
            "/api/v1/vaults",
            json!({"name": "Bao", "kind": "openbao", "address": bao_address, "credential": token, "pool_id": pool}),
        )
        .await;
    assert_eq!(st, 201, "{bao}");
    let dead_bao_address = format!("http://127.0.0.1:{}", free_port());
    let (st, dead_bao) = admin
        .post(
            "/api/v1/vaults",
            json!({"name": "Dead bao", "kind": "openbao", "address": dead_bao_address, "credential": token, "pool_id": pool}),
        )
        .await;
    assert_eq!(st, 201, "{dead_bao}");
    let dead_bao = dead_bao["id"].as_str().unwrap().to_owned();
    // A vault address that speaks TLS with a certificate this host does not trust: the DC's
    // LDAPS port (signed by the test CA, which the system's store lacks).
    let dc = url::Url::parse(&c.url).unwrap();
    let untrusted_tls = format!(
        "https://{}:{}",
        dc.host_str().unwrap(),
        dc.port().unwrap_or(636)
    );
    let (st, untrusted_bao) = admin
        .post(
            "/api/v1/vaults",
            json!({"name": "Untrusted bao", "kind": "openbao", "address": untrusted_tls, "credential": token, "pool_id": pool}),
        )
        .await;
    assert_eq!(st, 201, "{untrusted_bao}");
    let untrusted_bao = untrusted_bao["id"].as_str().unwrap().to_owned();

    // The engine registers (as `alm engine` does on its first start) and keeps its state file.
    let (st, registered) = s
        .anonymous()
        .post(
            "/api/v1/engine/register",
            json!({"activation_token": activation_token(&admin).await, "name": "checker",
                   "host": "engine-host.example.test", "version": "test"}),
        )
        .await;
    assert_eq!(st, 201, "{registered}");
    let engine = registered["engine_id"].as_str().unwrap().to_owned();
    let credential = registered["credential"].as_str().unwrap().to_owned();
    let data_dir = crate::support::db::temp_dir("engine-check");
    state_file::save(
        &data_dir,
        &EngineState {
            server: s.base.clone(),
            engine_id: engine.clone(),
            credential: Secret::new(credential.clone()),
        },
    )
    .unwrap();
    let secrets = [
        c.bind_password.expose(),
        wrong_password,
        token.as_str(),
        credential.as_str(),
    ];
    let no_secret = |run: &Run| {
        for secret in secrets {
            assert!(
                !run.stdout.contains(secret) && !run.stderr.contains(secret),
                "a secret was printed:\n{}{}",
                run.stdout,
                run.stderr
            );
        }
    };
    let server_line = format!("server {}", s.base.trim_end_matches('/'));

    // Unassigned, then assigned but inactive: the server is reached, the pool line says what
    // the administrator does, and nothing else is checked.
    let run = check(&data_dir);
    assert!(!run.success, "{}", run.stdout);
    run.ok(&server_line);
    run.failed(
        "pool",
        &["not assigned to a pool", "activates it under Engines"],
    );
    run.failed("domains and vaults", &["not checked"]);
    assert!(!run.stdout.contains("domain Corp"), "{}", run.stdout);
    let (st, e) = admin
        .patch(
            &format!("/api/v1/engines/{engine}"),
            json!({"pool_id": pool, "active": false}),
        )
        .await;
    assert_eq!(st, 200, "{e}");
    let run = check(&data_dir);
    assert!(!run.success, "{}", run.stdout);
    run.failed("pool", &["Check site", "not active"]);

    // Active: one line per DC and per vault.
    crate::engines::assign(&admin, &engine, &pool).await;
    let run = check(&data_dir);
    assert!(!run.success, "{}\n{}", run.stdout, run.stderr);
    run.ok(&server_line);
    run.ok("pool Check site");
    // Each DC is named with its port made explicit, as the directory client checks it.
    let samba = url::Url::parse(&c.url).unwrap();
    let samba = format!(
        "ldaps://{}:{}",
        samba.host_str().unwrap(),
        samba.port().unwrap_or(636)
    );
    run.ok(&format!("domain Corp, DC {samba}"));
    assert!(
        run.line(&format!("domain Corp, DC {samba}"))
            .contains(&format!("bound as {}", c.bind_identity)),
        "{}",
        run.stdout
    );
    run.failed(
        &format!("domain Corp, DC {dead_dc}"),
        &["unreachable", "Fix:", "open from this host"],
    );
    run.failed(
        &format!("domain Wrong password, DC {samba}"),
        &[
            "refused the credentials",
            "password is wrong",
            "domain's page",
        ],
    );
    run.ok(&format!("vault Bao ({bao_address})"));
    run.failed(
        &format!("vault Dead bao ({dead_bao_address})"),
        &[
            "unreachable",
            "Connection refused",
            "Fix:",
            "reachable from this host",
        ],
    );
    run.failed(
        &format!("vault Untrusted bao ({untrusted_tls})"),
        &[
            "TLS problem",
            "UnknownIssuer",
            "Fix:",
            "vault's CA certificate",
        ],
    );
    assert!(
        run.stdout.trim_end().ends_with("4 of 8 checks failed"),
        "{}",
        run.stdout
    );
    no_secret(&run);
    // The check records nothing of its own on the server (no calibration), only the audit
    // record of what the engine was given.
    let (_, calibration) = admin
        .get(&format!("/api/v1/domains/{domain}/calibration"))
        .await;
    assert_eq!(
        calibration["items"].as_array().map(Vec::len),
        Some(0),
        "{calibration}"
    );
    let (_, audit) = admin
        .get(&format!(
            "/api/v1/audit?action=engine.check-targets-given&object_id={engine}"
        ))
        .await;
    assert_eq!(audit["total"], 1, "{audit}");
    assert!(!audit.to_string().contains(token.as_str()), "{audit}");

    // Mended: the dead DC and vault gone, the password fixed by removing that domain.
    let (st, d) = admin
        .patch(
            &format!("/api/v1/domains/{domain}"),
            json!({"failover_urls": []}),
        )
        .await;
    assert_eq!(st, 200, "{d}");
    assert_eq!(
        admin.delete(&format!("/api/v1/domains/{wrong}")).await.0,
        204
    );
    assert_eq!(
        admin.delete(&format!("/api/v1/vaults/{dead_bao}")).await.0,
        204
    );
    assert_eq!(
        admin
            .delete(&format!("/api/v1/vaults/{untrusted_bao}"))
            .await
            .0,
        204
    );
    let run = check(&data_dir);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    assert!(!run.stdout.contains("FAIL"), "{}", run.stdout);
    run.ok(&format!("domain Corp, DC {samba}"));
    run.ok("vault Bao");
    assert!(
        run.stdout.trim_end().ends_with("0 of 4 checks failed"),
        "{}",
        run.stdout
    );
    no_secret(&run);

    // A server nothing answers at: said so, and that nothing else could be checked.
    let elsewhere = crate::support::db::temp_dir("engine-check-elsewhere");
    let dead_server = format!("http://127.0.0.1:{}", free_port());
    state_file::save(
        &elsewhere,
        &EngineState {
            server: dead_server.clone(),
            engine_id: engine.clone(),
            credential: Secret::new(credential.clone()),
        },
    )
    .unwrap();
    let run = check(&elsewhere);
    assert!(!run.success, "{}", run.stdout);
    run.failed(
        &format!("server {dead_server}"),
        &["cannot connect", "is the server up"],
    );
    run.failed(
        "domains and vaults",
        &["not checked", "could not be reached"],
    );
    no_secret(&run);

    // A server whose certificate this host does not trust (the DC's LDAPS port again).
    let untrusted = untrusted_tls.clone();
    state_file::save(
        &elsewhere,
        &EngineState {
            server: untrusted.clone(),
            engine_id: engine.clone(),
            credential: Secret::new(credential.clone()),
        },
    )
    .unwrap();
    let run = check(&elsewhere);
    assert!(!run.success, "{}", run.stdout);
    run.failed(
        &format!("server {untrusted}"),
        &["TLS", "not trusted", "--server-ca"],
    );
    run.failed("domains and vaults", &["not checked"]);
    no_secret(&run);

    // A --server-ca file with no certificate in it is the operator's mistake, named as such.
    let not_pem = elsewhere.join("not-a-ca.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    let run = check_with(&elsewhere, &["--server-ca", not_pem.to_str().unwrap()]);
    assert!(!run.success, "{}", run.stdout);
    assert!(
        run.stderr.contains("--server-ca") && run.stderr.contains("no certificate"),
        "{}",
        run.stderr
    );

    // A removed engine: its credential is refused, and the line says to register again.
    assert_eq!(
        admin.delete(&format!("/api/v1/engines/{engine}")).await.0,
        204
    );
    let run = check(&data_dir);
    assert!(!run.success, "{}", run.stdout);
    run.failed(
        &server_line,
        &["refused this engine's credential", "register again"],
    );
    no_secret(&run);

    // No state file: not registered, with what to run.
    let empty = crate::support::db::temp_dir("engine-check-empty");
    let run = check(&empty);
    assert!(!run.success, "{}", run.stdout);
    run.failed("engine", &["not registered", "alm engine --server"]);

    for dir in [data_dir, elsewhere, empty] {
        let _ = std::fs::remove_dir_all(dir);
    }
    s.stop().await;
}

//! The `alm` binary itself: configuration errors, admin tools and database tools.

use crate::support::db::temp_dir;
use crate::support::server::ADMIN_EMAIL;
use crate::support::{on_both_backends, Api, Backend, TestDb, TestServer};
use std::process::{Command, Output};

/// Runs `alm ARGS` against the test database, with no inherited `ALM_*` variables.
pub fn alm_cli(db: &TestDb, args: &[&str]) -> Output {
    alm_cli_env(db, args, &[])
}

pub fn alm_cli_env(db: &TestDb, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_alm"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("ALM_")) {
        cmd.env_remove(k);
    }
    cmd.args(args)
        .arg("--data-dir")
        .arg(&db.dir)
        .env("ALM_DATABASE__URL", &db.url);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run alm")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

on_both_backends! {
    async fn admin_tools_issue_tokens_and_reset_passwords(backend: Backend) {
        let s = TestServer::start(backend).await;
        let out = alm_cli(&s.db, &["admin", "create-token", ADMIN_EMAIL, "--name", "automation", "--expires", "30"]);
        assert!(out.status.success(), "{}", text(&out));
        let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        assert!(token.starts_with("alm_"), "only the token on stdout: {token:?}");
        let (st, me) = Api::with_token(&s.base, &token).get("/api/v1/me").await;
        assert_eq!((st, me["user"]["emails"][0].as_str()), (200, Some(ADMIN_EMAIL)));

        let out = alm_cli(&s.db, &["admin", "create-token", "nobody@example.test", "--name", "x"]);
        assert!(!out.status.success());
        assert!(text(&out).contains("nobody@example.test"), "{}", text(&out));
        let out = alm_cli(&s.db, &["admin", "create-token", ADMIN_EMAIL, "--name", "x", "--expires", "0"]);
        assert!(!out.status.success() && text(&out).contains("expires_in_days"), "{}", text(&out));

        let out = alm_cli(&s.db, &["admin", "reset-password", ADMIN_EMAIL]);
        assert!(out.status.success(), "{}", text(&out));
        let stdout = String::from_utf8(out.stdout).unwrap();
        let password = stdout.lines().next().unwrap().rsplit(": ").next().unwrap().to_owned();
        assert_eq!(password.len(), 20, "{stdout}");
        assert_eq!(Api::anonymous(&s.base).login(ADMIN_EMAIL, &password).await.0, 200);
        let out = alm_cli_env(&s.db, &["admin", "reset-password", ADMIN_EMAIL], &[("ALM_ADMIN_PASSWORD", "short")]);
        assert!(!out.status.success() && text(&out).contains("12 characters"), "{}", text(&out));
        s.stop().await;
    }
}

#[test]
fn configuration_mistakes_are_refused_by_name() {
    let db_dir = temp_dir("cfg");
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_alm"));
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("ALM_")) {
            cmd.env_remove(k);
        }
        cmd.args(args)
            .arg("--data-dir")
            .arg(&db_dir)
            .envs(env.iter().copied());
        cmd.output().unwrap()
    };
    let out = run(
        &["db", "migrate"],
        &[("ALM_DATABSE__URL", "sqlite:///tmp/x.db")],
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("ALM_DATABSE__URL: unknown environment variable"),
        "{}",
        text(&out)
    );
    let out = run(&["db", "migrate"], &[("ALM_DATABASE__URL", "mysql://x")]);
    assert!(
        !out.status.success()
            && text(&out).contains("database.url")
            && text(&out).contains("mysql"),
        "{}",
        text(&out)
    );
    let cfg = db_dir.join("alm.toml");
    std::fs::write(&cfg, "listen = \"127.0.0.1:1\"\n[auth]\nsession_hour = 3\n").unwrap();
    let out = run(&["serve", "--config", cfg.to_str().unwrap()], &[]);
    assert!(
        !out.status.success() && text(&out).contains("session_hour"),
        "{}",
        text(&out)
    );
    let out = run(&["db", "migrate"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "schema is at version {}",
            alm_store::migrations::latest_version()
        )) && text(&out).contains("applied migrations [1, "),
        "{}",
        text(&out)
    );
    let out = run(&["db", "migrate"], &[]);
    assert!(text(&out).contains("schema is current"), "{}", text(&out));
    let _ = std::fs::remove_dir_all(&db_dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_backup_is_a_pg_dump_archive() {
    let s = TestServer::start(Backend::Postgres).await;
    let target = s.db.dir.join("backup.pgdump");
    let out = alm_cli(
        &s.db,
        &["db", "backup", "--output", target.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        crate::data_files::mode(&target),
        0o600,
        "a backup is readable by its owner only"
    );
    let listing = Command::new("pg_restore")
        .arg("--list")
        .arg(&target)
        .output()
        .expect("pg_restore");
    assert!(listing.status.success(), "{}", text(&listing));
    let toc = String::from_utf8_lossy(&listing.stdout);
    assert!(
        toc.contains("TABLE DATA public audit_log") && toc.contains("TABLE DATA public users"),
        "{toc}"
    );
    s.stop().await;
}

#[tokio::test]
async fn sqlite_backup_is_a_consistent_readable_copy() {
    let s = TestServer::start(Backend::Sqlite).await;
    let target = s.db.dir.join("backup.db");
    let out = alm_cli(
        &s.db,
        &["db", "backup", "--output", target.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out));
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&format!(
        "sqlite://{}",
        target.display()
    ))
    .await
    .unwrap();
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(users, 1);
    let out = alm_cli(
        &s.db,
        &["db", "backup", "--output", target.to_str().unwrap()],
    );
    assert!(
        !out.status.success() && text(&out).contains("exists already"),
        "never overwrites: {}",
        text(&out)
    );
    s.stop().await;
}

// Multi-threaded: the blocking `alm healthcheck` call must not stall the in-process server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_answers_health_and_metrics() {
    let s = TestServer::start(Backend::Sqlite).await;
    let get = |p: &'static str| {
        let base = s.base.clone();
        async move {
            let r = reqwest::get(format!("{base}{p}")).await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    assert_eq!(get("/healthz").await, (200, "ok".into()));
    // No smtp.host in the test server: ready, and it says that no email is sent.
    assert_eq!(
        get("/readyz").await,
        (200, "ready; email off: smtp.host is not set, no email is sent (messages wait in the outbox)".into())
    );
    let (st, metrics) = get("/metrics").await;
    assert_eq!(st, 200);
    assert!(metrics.contains("alm_http_requests_total"), "{metrics}");
    let out = Command::new(env!("CARGO_BIN_EXE_alm"))
        .args(["healthcheck", "--url", &s.base])
        .output()
        .unwrap();
    assert!(out.status.success());
    s.stop().await;
    let out = Command::new(env!("CARGO_BIN_EXE_alm"))
        .args(["healthcheck", "--url", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn version_names_the_release_and_the_commit_it_was_built_from() {
    let out = Command::new(env!("CARGO_BIN_EXE_alm"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let head = String::from_utf8(head.stdout).unwrap();
    assert_eq!(head.trim().len(), 12, "the tests run in a Git checkout");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        format!("alm {} (commit {})", env!("CARGO_PKG_VERSION"), head.trim())
    );
}

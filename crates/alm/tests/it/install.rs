//! `alm install` (issue 16): non-interactively from flags, interactively on a pseudo-terminal
//! (answers typed at its prompts, a wrong one asked again), and re-run to change SMTP — the
//! administrator and the master key stay. Each refused answer (PostgreSQL that does not answer,
//! a URL that is no OIDC issuer, a data directory that cannot be written, no administrator)
//! names the flag and leaves the configuration file as it was (or absent).

use crate::support::db::temp_dir;
use crate::support::process::AlmProcess;
use crate::support::smtp::SmtpSink;
use crate::support::{Api, Backend, TestServer};
use std::path::Path;
use std::process::{Command, Output};

fn install(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_alm"))
        .arg("install")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .expect("run alm install")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The one-time password `alm install` printed.
fn one_time_password(out: &str) -> String {
    out.lines()
        .find_map(|l| l.trim().strip_prefix("one-time password: "))
        .unwrap_or_else(|| panic!("no one-time password printed: {out}"))
        .trim()
        .to_owned()
}

fn config_of(path: &Path) -> toml::Table {
    std::fs::read_to_string(path).unwrap().parse().unwrap()
}

async fn users_in(data: &Path) -> Vec<(String, String)> {
    use sqlx::Row;
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&format!(
        "sqlite://{}",
        data.join("alm.db").display()
    ))
    .await
    .unwrap();
    let rows = sqlx::query("SELECT id, display_name FROM users")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    rows.iter().map(|r| (r.get(0), r.get(1))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_from_flags_then_change_smtp_keeps_the_administrator_and_the_key() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = temp_dir("install");
    let (config, data) = (dir.join("etc/alm.toml"), dir.join("data"));
    let sink = SmtpSink::start().await;
    let port = crate::oidc::free_port();
    let smtp_port = sink.port.to_string();
    let listen = format!("127.0.0.1:{port}");
    let public = format!("http://{listen}");
    let first = [
        "--non-interactive",
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
        "--public-url",
        &public,
        "--listen",
        &listen,
        "--tls",
        "none",
        "--admin-name",
        "Ada Admin",
        "--admin-email",
        "ada@example.test",
        "--no-oidc",
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        &smtp_port,
        "--smtp-security",
        "none",
        "--smtp-from",
        "alm@example.test",
    ];
    let out = install(&first);
    assert!(out.status.success(), "{}", text(&out));
    let printed = text(&out);
    let password = one_time_password(&printed);
    assert!(
        printed.contains(&format!("Sign in at {public}/sign-in"))
            && printed.contains("alm serve --config"),
        "{printed}"
    );
    assert_eq!(
        crate::data_files::mode(&config),
        0o600,
        "the file holds secrets"
    );
    assert_eq!(crate::data_files::mode(&data.join("master.key")), 0o600);
    let key = std::fs::read(data.join("master.key")).unwrap();
    let written = config_of(&config);
    assert_eq!(written["public_url"].as_str(), Some(public.as_str()));
    assert_eq!(
        written["smtp"]["port"].as_integer(),
        Some(i64::from(sink.port))
    );
    let users = users_in(&data).await;
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].1, "Ada Admin");

    // The configuration runs: the administrator signs in with the printed password.
    let server = AlmProcess::start_on_real_clock(
        "alm-installed",
        &data,
        &[("ALM_CONFIG", config.display().to_string())],
    );
    let mut api = Api::anonymous(&server.base);
    let (st, body) = api.login("ada@example.test", &password).await;
    assert_eq!(st, 200, "{body}");
    let (_, me) = api.get("/api/v1/me").await;
    assert_eq!(
        me["password_must_change"], true,
        "a one-time password: {me}"
    );
    let ready = reqwest::get(format!("{}/readyz", server.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(ready, "ready", "SMTP is configured");
    drop(server);

    // Re-run to change SMTP only: everything else, the administrator and the key stay.
    let other_sink = SmtpSink::start().await;
    let other_port = other_sink.port.to_string();
    let out = install(&[
        "--non-interactive",
        "--config",
        config.to_str().unwrap(),
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        &other_port,
        "--smtp-security",
        "none",
        "--smtp-from",
        "alm@example.test",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("The administrator exists already: unchanged."),
        "{}",
        text(&out)
    );
    let rewritten = config_of(&config);
    assert_eq!(
        rewritten["smtp"]["port"].as_integer(),
        Some(i64::from(other_sink.port))
    );
    assert_eq!(
        (
            rewritten["public_url"].as_str(),
            rewritten["listen"].as_str()
        ),
        (Some(public.as_str()), Some(listen.as_str()))
    );
    assert_eq!(
        std::fs::read(data.join("master.key")).unwrap(),
        key,
        "the master key is kept"
    );
    assert_eq!(users_in(&data).await, users, "the administrator is kept");

    // Refused answers leave the file exactly as it was.
    let before = std::fs::read(&config).unwrap();
    let web = TestServer::start(Backend::Sqlite).await;
    let refusals: Vec<(Vec<String>, String)> = vec![
        (
            vec![
                "--database-url".into(),
                "postgres://alm:secret@127.0.0.1:1/none".into(),
            ],
            "--database-url: cannot connect to postgres://alm:".into(),
        ),
        (
            vec![
                "--oidc-issuer".into(),
                web.base.clone(),
                "--oidc-client-id".into(),
                "alm".into(),
                "--oidc-client-secret".into(),
                "s".into(),
            ],
            format!(
                "--oidc-issuer: {}/.well-known/openid-configuration answered 404",
                web.base
            ),
        ),
        (
            vec![
                "--oidc-issuer".into(),
                "http://127.0.0.1:1".into(),
                "--oidc-client-id".into(),
                "alm".into(),
                "--oidc-client-secret".into(),
                "s".into(),
            ],
            "--oidc-issuer: http://127.0.0.1:1/.well-known/openid-configuration cannot be fetched"
                .into(),
        ),
        (
            vec![
                "--smtp-host".into(),
                "127.0.0.1".into(),
                "--smtp-port".into(),
                "1".into(),
                "--smtp-security".into(),
                "none".into(),
            ],
            "--smtp-host: cannot use 127.0.0.1:1".into(),
        ),
        (
            vec![
                "--tls".into(),
                "files".into(),
                "--tls-cert".into(),
                "/nonexistent.pem".into(),
                "--tls-key".into(),
                "/nonexistent.key".into(),
            ],
            "--public-url: an https:// URL".into(),
        ),
    ];
    for (extra, expected) in refusals {
        let mut args = vec![
            "--non-interactive".to_owned(),
            "--config".into(),
            config.display().to_string(),
        ];
        args.extend(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = install(&args);
        assert!(
            !out.status.success() && text(&out).contains(&expected),
            "{args:?}: expected {expected:?} in {}",
            text(&out)
        );
        assert!(
            !text(&out).contains("secret@"),
            "no password in the message: {}",
            text(&out)
        );
        assert_eq!(
            std::fs::read(&config).unwrap(),
            before,
            "{args:?} changed the configuration"
        );
    }
    web.stop().await;

    // A first install that cannot write its data directory, or has no administrator: no file.
    let fresh = dir.join("fresh/alm.toml");
    for (extra, expected) in [
        (
            vec![
                "--data-dir",
                "/proc/alm-nope",
                "--admin-email",
                "ada@example.test",
            ],
            "--data-dir: cannot create /proc/alm-nope",
        ),
        (
            vec!["--data-dir", data.to_str().unwrap()],
            "--admin-email: required",
        ),
    ] {
        let mut args = vec![
            "--non-interactive",
            "--config",
            fresh.to_str().unwrap(),
            "--public-url",
            "http://127.0.0.1:8080",
            "--no-smtp",
            "--no-oidc",
        ];
        args.extend(extra);
        let out = install(&args);
        assert!(
            !out.status.success() && text(&out).contains(expected),
            "{args:?}: {}",
            text(&out)
        );
        assert!(!fresh.exists(), "{args:?} left a configuration file");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_asks_on_a_terminal_and_asks_again_after_a_wrong_answer() {
    let dir = temp_dir("install-tty");
    let (config, data) = (dir.join("alm.toml"), dir.join("data"));
    let sink = SmtpSink::start().await;
    let answers = serde_json::json!([
        ["Data directory", data.display().to_string()],
        ["Public URL", "alm.example.com"],
        [
            "expected an http:// or https:// URL",
            "http://127.0.0.1:18080"
        ],
        ["TLS: none", ""],
        ["Listen on", ""],
        ["Database:", ""],
        ["First administrator's name", "Ivy Interactive"],
        ["First administrator's email address", "ivy@example.test"],
        ["Sign in with an OpenID Connect provider?", "no"],
        ["Send email through an SMTP server?", "yes"],
        ["SMTP host", "127.0.0.1"],
        ["SMTP security", "none"],
        ["SMTP port", sink.port.to_string()],
        ["SMTP user name", ""],
        ["Sender address", "alm@example.test"],
    ]);
    let answers_file = dir.join("answers.json");
    std::fs::write(&answers_file, answers.to_string()).unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/peers/pty_answer.py"
    );
    let out = Command::new("python3")
        .arg(script)
        .arg(&answers_file)
        .args(["--", env!("CARGO_BIN_EXE_alm"), "install", "--config"])
        .arg(&config)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap();
    let transcript = text(&out);
    assert!(out.status.success(), "{transcript}");
    assert!(
        transcript.contains("[127.0.0.1:8080]"),
        "defaults are offered: {transcript}"
    );
    assert!(!one_time_password(&transcript).is_empty());
    let written = config_of(&config);
    assert_eq!(
        written["public_url"].as_str(),
        Some("http://127.0.0.1:18080")
    );
    assert_eq!(written["listen"].as_str(), Some("127.0.0.1:8080"));
    assert_eq!(
        written["smtp"]["port"].as_integer(),
        Some(i64::from(sink.port))
    );
    assert!(
        written.get("auth").is_none() && written.get("database").is_none(),
        "{written:?}"
    );
    assert_eq!(users_in(&data).await[0].1, "Ivy Interactive");
    let _ = std::fs::remove_dir_all(&dir);
}

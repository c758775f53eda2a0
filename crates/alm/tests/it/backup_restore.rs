//! Backups that restore (issue 16): a server with people, groups, templates, requests, a
//! provisioned account (in Samba, its password in the built-in vault) and audit records is backed
//! up online with its master key sealed under a passphrase, restored into a fresh data directory
//! or a fresh PostgreSQL database, and started there: the same data answers to the same API
//! token, the secrets open (a domain check needs the bind password), and the audit chain
//! verifies. And what a restore refuses: a non-empty database without --force, a wrong
//! passphrase, a backup newer than the binary, a backup of the other backend. Then the server's
//! own timed SQLite backups.

use crate::cli::alm_cli_env;
use crate::lifecycle::provisioned_from;
use crate::support::db::TestDb;
use crate::support::{on_both_backends, Api, Backend, TestServer};
use crate::templates::{definition, world};
use serde_json::Value;
use std::path::Path;
use std::process::Output;

const PASSPHRASE: &str = "correct horse battery backup";

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// What the API answers about the data a backup must carry (ids, names, states, counts).
async fn answers(api: &Api) -> Vec<Value> {
    let mut all = Vec::new();
    for path in [
        "/api/v1/users?limit=500",
        "/api/v1/groups?limit=500",
        "/api/v1/templates?limit=500",
        "/api/v1/requests?limit=500",
        "/api/v1/accounts?limit=500",
        "/api/v1/domains",
        "/api/v1/vaults",
    ] {
        let (st, body) = api.get(path).await;
        assert_eq!(st, 200, "{path}: {body}");
        all.push(body);
    }
    let (st, audit) = api.get("/api/v1/audit?limit=1").await;
    assert_eq!(st, 200, "{audit}");
    all.push(audit["total"].clone());
    all
}

/// `alm db restore` into `target` (its own data dir and database URL).
fn restore(target: &TestDb, backup: &Path, extra: &[&str], passphrase: &str) -> Output {
    let mut args = vec!["db", "restore", "--input", backup.to_str().unwrap()];
    args.extend_from_slice(extra);
    alm_cli_env(target, &args, &[("ALM_BACKUP_PASSPHRASE", passphrase)])
}

on_both_backends! {
    async fn a_backup_with_its_key_restores_into_a_fresh_database_and_answers_the_same(backend: Backend) {
        let s = TestServer::start(backend).await;
        let w = world(&s).await;
        let name = format!("svc-bk{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
        let account = provisioned_from(&s, &w, definition(&w), &name).await;
        // And a request still waiting for approval.
        let template = account["template_id"].as_str().unwrap().to_owned();
        let (st, r) = w.requester.post("/api/v1/requests", serde_json::json!({"template_id": template,
            "account_name": format!("{name}-2"), "interval": "90d", "justification": "backup drill",
            "description": "waits", "attributes": {"department": "IT"}, "terms_accepted": true})).await;
        assert_eq!(st, 201, "{r}");
        let before = answers(&s.admin()).await;

        // Online: the server keeps running while the copy is taken.
        // Outside the server's data dir, which goes with it.
        let kept = crate::support::db::temp_dir("drill");
        let backup = kept.join("drill.backup");
        let out = alm_cli_env(&s.db, &["db", "backup", "--with-key", "--output", backup.to_str().unwrap()],
            &[("ALM_BACKUP_PASSPHRASE", PASSPHRASE)]);
        assert!(out.status.success(), "{}", text(&out));
        let key_file = kept.join("drill.backup.key");
        let sealed = std::fs::read_to_string(&key_file).unwrap();
        let key = std::fs::read_to_string(s.db.dir.join("master.key")).unwrap();
        assert!(!sealed.contains(key.trim()), "the key is sealed, not copied");
        assert_eq!(crate::data_files::mode(&key_file), 0o600);
        let admin_token = s.admin_token.clone();
        let clock = s.clock.clone();
        let domain = w.domain.clone();
        s.stop().await;

        let fresh = TestDb::new(backend).await;
        // A wrong passphrase is refused before anything is written.
        let out = restore(&fresh, &backup, &["--key-file", key_file.to_str().unwrap()], "not the passphrase");
        assert!(!out.status.success() && text(&out).contains("wrong passphrase"), "{}", text(&out));
        assert!(!fresh.dir.join("master.key").exists());
        let out = restore(&fresh, &backup, &["--key-file", key_file.to_str().unwrap()], PASSPHRASE);
        assert!(out.status.success(), "{}", text(&out));
        assert!(text(&out).contains("audit chain intact"), "{}", text(&out));
        assert_eq!(std::fs::read_to_string(fresh.dir.join("master.key")).unwrap().trim(), key.trim());
        let out = alm_cli_env(&fresh, &["db", "verify-audit"], &[]);
        assert!(out.status.success(), "{}", text(&out));

        // The restored database is not empty any more: a second restore needs --force.
        let out = restore(&fresh, &backup, &[], PASSPHRASE);
        assert!(!out.status.success() && text(&out).contains("is not empty") && text(&out).contains("--force"), "{}", text(&out));

        let restored = TestServer::start_in(fresh, &[], "127.0.0.1:0", clock).await;
        let same_token = Api::with_token(&restored.base, &admin_token);
        let after = answers(&same_token).await;
        assert_eq!(after[..7], before[..7], "the same data answers");
        assert!(after[7].as_i64() >= before[7].as_i64(), "every audit record came back: {} then {}", before[7], after[7]);
        // The secrets open with the restored key: the domain check reads the bind password.
        let (st, check) = same_token.post_empty(&format!("/api/v1/domains/{domain}/check")).await;
        assert_eq!(st, 200, "{check}");
        assert_eq!(check["ok"], true, "{check}");
        crate::provisioning::audit_verifies(&restored).await;
        restored.stop().await;
        let _ = std::fs::remove_dir_all(&kept);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restores_refuse_what_does_not_fit_and_change_nothing() {
    let s = TestServer::start(Backend::Sqlite).await;
    let backup = s.db.dir.join("plain.backup");
    let out = crate::cli::alm_cli(
        &s.db,
        &["db", "backup", "--output", backup.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("the master key is NOT in this backup"),
        "{}",
        text(&out)
    );
    let out = crate::cli::alm_cli(
        &s.db,
        &[
            "db",
            "backup",
            "--with-key",
            "--output",
            s.db.dir.join("k.backup").to_str().unwrap(),
        ],
    );
    assert!(
        !out.status.success() && text(&out).contains("ALM_BACKUP_PASSPHRASE"),
        "{}",
        text(&out)
    );
    assert!(
        !s.db.dir.join("k.backup").exists(),
        "nothing written when refused"
    );

    // A backup from a newer alm (one more migration than this binary knows).
    let newer = s.db.dir.join("newer.backup");
    std::fs::copy(&backup, &newer).unwrap();
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&format!(
        "sqlite://{}",
        newer.display()
    ))
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', 0)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::Connection::close(conn).await.unwrap();
    let fresh = TestDb::new(Backend::Sqlite).await;
    let out = restore(&fresh, &newer, &[], PASSPHRASE);
    assert!(
        !out.status.success() && text(&out).contains("schema version 9999"),
        "{}",
        text(&out)
    );
    assert!(
        !fresh.dir.join("alm.db").exists(),
        "nothing written when refused"
    );
    // Another backend's backup, and a file that is no backup at all.
    let pg_target = TestDb {
        url: "postgres://alm@127.0.0.1:1/none".into(),
        dir: fresh.dir.clone(),
    };
    let out = restore(&pg_target, &backup, &[], PASSPHRASE);
    assert!(
        !out.status.success()
            && text(&out).contains("is a sqlite backup, but database.url is a postgres database"),
        "{}",
        text(&out)
    );
    let junk = s.db.dir.join("junk");
    std::fs::write(&junk, "hello").unwrap();
    let out = restore(&fresh, &junk, &[], PASSPHRASE);
    assert!(
        !out.status.success()
            && text(&out).contains("neither a SQLite database nor a pg_dump archive"),
        "{}",
        text(&out)
    );
    // Restoring over the running server's own database without --force is refused.
    let out = restore(&s.db, &backup, &[], PASSPHRASE);
    assert!(
        !out.status.success() && text(&out).contains("is not empty"),
        "{}",
        text(&out)
    );
    s.stop().await;
}

fn backups_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Waits (30 s at most) until `dir` holds exactly the backups `want`.
async fn wait_for_backups(dir: &Path, want: &[&str]) {
    for _ in 0..300 {
        if backups_in(dir) == want {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("backups: {:?}, expected {want:?}", backups_in(dir));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_backs_up_sqlite_on_its_interval_and_keeps_the_newest() {
    let s = TestServer::start_with(
        Backend::Sqlite,
        &[
            ("ALM_BACKUP__INTERVAL_HOURS", "1"),
            ("ALM_BACKUP__KEEP", "2"),
            ("ALM_BACKUP__CHECK_SECONDS", "1"),
        ],
    )
    .await;
    let dir = s.db.dir.join("backups");
    let listed = || backups_in(&dir);
    let wait_for = |want: &'static [&'static str]| wait_for_backups(&dir, want);
    // The first at start (none existed), named by the server's clock.
    wait_for(&["alm-20261129T100000Z.db"]).await;
    s.clock.advance(time::Duration::minutes(59));
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(
        listed(),
        ["alm-20261129T100000Z.db"],
        "not due before the interval"
    );
    s.clock.advance(time::Duration::minutes(1));
    wait_for(&["alm-20261129T100000Z.db", "alm-20261129T110000Z.db"]).await;
    s.clock.advance(time::Duration::hours(1));
    wait_for(&["alm-20261129T110000Z.db", "alm-20261129T120000Z.db"]).await;
    assert_eq!(
        crate::data_files::mode(&dir.join("alm-20261129T120000Z.db")),
        0o600
    );
    // And one restores (the key stayed in the data dir: copy it alongside, as the docs say).
    let fresh = TestDb::new(Backend::Sqlite).await;
    std::fs::copy(s.db.dir.join("master.key"), fresh.dir.join("master.key")).unwrap();
    let out = restore(
        &fresh,
        &dir.join("alm-20261129T120000Z.db"),
        &[],
        PASSPHRASE,
    );
    assert!(
        out.status.success() && text(&out).contains("audit chain intact"),
        "{}",
        text(&out)
    );
    s.stop().await;

    // PostgreSQL is backed up by its own tools: a timer there is refused by name.
    let e = alm_server::Config::load(
        None,
        &[
            (
                "ALM_DATABASE__URL".to_owned(),
                "postgres://a@b/c".to_owned(),
            ),
            ("ALM_BACKUP__INTERVAL_HOURS".to_owned(), "24".to_owned()),
        ]
        .into(),
        &Default::default(),
    )
    .unwrap_err();
    assert!(e.to_string().starts_with("backup.interval_hours:"), "{e}");
}

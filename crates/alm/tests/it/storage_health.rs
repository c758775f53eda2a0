//! Storage that stops taking writes is seen, not hidden: a data directory alm cannot write
//! stops the start naming it, its mode and owner (the tests run as root, whom permission bits do
//! not stop: the directory is made immutable with `chattr +i`); a database that turns read-only
//! while alm runs (PostgreSQL's `default_transaction_read_only`, as on a standby after a
//! failover) turns `/readyz` red naming where the data is, and green again when it takes writes.

use crate::support::db::{pg_admin_url, temp_dir};
use crate::support::{Backend, TestServer};
use alm_core::FixedClock;
use alm_server::config::{Config, Overrides};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

fn chattr(flag: &str, paths: &[&Path]) {
    let out = std::process::Command::new("chattr")
        .arg(flag)
        .args(paths)
        .output()
        .expect("chattr (Debian e2fsprogs) runs");
    assert!(
        out.status.success(),
        "chattr {flag}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_dir_alm_cannot_write_stops_the_start_naming_it() {
    let root = temp_dir("unwritable");
    let data = root.join("data");
    std::fs::create_dir_all(&data).unwrap();
    chattr("+i", &[&data]);
    let config = Config::load(
        None,
        &BTreeMap::new(),
        &Overrides {
            listen: Some("127.0.0.1:0".into()),
            data_dir: Some(data.clone()),
        },
    )
    .unwrap();
    let clock = Arc::new(FixedClock::new(
        time::macros::datetime!(2026-12-03 10:00 UTC),
    ));
    let started = alm_server::build_state(config, clock).await;
    chattr("-i", &[&data]);
    let e = format!("{:#}", started.err().expect("refused"));
    assert!(
        e.contains(&data.display().to_string())
            && e.contains("not writable")
            && e.contains("mode 755"),
        "{e}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

/// Sets the test database read-only (as a PostgreSQL standby after a failover would be) or
/// writable again, and ends the server's sessions so its pool reconnects under the setting.
async fn database_read_only(url: &str, read_only: bool) {
    let name = url::Url::parse(url)
        .unwrap()
        .path()
        .trim_start_matches('/')
        .to_owned();
    sqlx::any::install_default_drivers();
    let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(&pg_admin_url())
        .await
        .unwrap();
    let setting = if read_only { "on" } else { "off" };
    sqlx::query(&format!(
        "ALTER DATABASE {name} SET default_transaction_read_only = {setting}"
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    sqlx::query(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    ))
    .execute(&mut admin)
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_that_stops_taking_writes_turns_readiness_red_naming_it() {
    let s = TestServer::start(Backend::Postgres).await;
    let readyz = || async {
        let r = reqwest::get(format!("{}/readyz", s.base)).await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    assert_eq!(readyz().await.0, 200);
    database_read_only(&s.db.url, true).await;
    // The pool reconnects at its own pace: the first answers may be about the ended sessions.
    let mut seen = (0, String::new());
    for _ in 0..100 {
        seen = readyz().await;
        if seen.1.contains("does not take writes") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let name = url::Url::parse(&s.db.url)
        .unwrap()
        .path()
        .trim_start_matches('/')
        .to_owned();
    assert_eq!(seen.0, 503, "{seen:?}");
    assert!(
        seen.1.contains("does not take writes")
            && seen.1.contains(&name)
            && seen.1.contains("read-only"),
        "{seen:?}"
    );
    database_read_only(&s.db.url, false).await;
    let mut back = (0, String::new());
    for _ in 0..100 {
        back = readyz().await;
        if back.0 == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        back.0, 200,
        "green again once storage takes writes: {back:?}"
    );
    s.stop().await;
}

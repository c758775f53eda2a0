//! alm's files on disk: the data directory and everything in it private to alm's user.

use crate::support::db::temp_dir;
use alm_core::FixedClock;
use alm_server::config::{Config, Overrides};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use time::macros::datetime;

pub fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// A configuration with everything in `data_dir` (the SQLite default), plus `env`.
pub fn config_in(data_dir: &Path, env: &[(&str, &str)]) -> Config {
    let env: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::load(
        None,
        &env,
        &Overrides {
            listen: Some("127.0.0.1:0".into()),
            data_dir: Some(data_dir.to_owned()),
        },
    )
    .expect("valid configuration")
}

pub async fn state_in(data_dir: &Path) -> anyhow::Result<alm_server::AppState> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    alm_server::build_state(
        config_in(data_dir, &[]),
        Arc::new(FixedClock::new(datetime!(2026-11-29 10:00 UTC))),
    )
    .await
}

/// Runs `alm ARGS --data-dir DATA` with no `ALM_*` variable but the ones given.
pub fn alm_in(data: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_alm"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("ALM_")) {
        cmd.env_remove(k);
    }
    cmd.args(args).arg("--data-dir").arg(data);
    cmd.output().expect("run alm")
}

fn db_files(data: &Path) -> Vec<PathBuf> {
    ["alm.db", "alm.db-wal", "alm.db-shm", "master.key"]
        .iter()
        .map(|f| data.join(f))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_dir_and_every_file_in_it_are_private_backups_too() {
    let root = temp_dir("modes");
    let data = root.join("var/lib/alm");
    let state = state_in(&data).await.expect("starts");
    alm_server::app::bootstrap_admin(
        &state,
        "admin@example.test",
        Some("a long enough password".into()),
    )
    .await
    .unwrap();
    // While the server runs (SQLite removes -wal and -shm when the last connection closes).
    assert_eq!(mode(&data), 0o700, "the data directory");
    assert_eq!(
        mode(&root.join("var")),
        0o700,
        "and the parents alm created"
    );
    for f in db_files(&data) {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
    let backup = root.join("alm-backup.db");
    let out = alm_in(
        &data,
        &["db", "backup", "--output", backup.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        mode(&backup),
        0o600,
        "the backup holds everything the database does"
    );
    let users: i64 = {
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&format!(
            "sqlite://{}",
            backup.display()
        ))
        .await
        .unwrap();
        sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&mut conn)
            .await
            .unwrap()
    };
    assert_eq!(users, 1, "the backup is a full copy");
    state.db.close().await;

    // Files an older alm left readable by everyone are made private at the next start.
    std::fs::set_permissions(data.join("alm.db"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let state = state_in(&data).await.expect("starts again");
    for f in db_files(&data) {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
    state.db.close().await;
    let _ = std::fs::remove_dir_all(&root);
}

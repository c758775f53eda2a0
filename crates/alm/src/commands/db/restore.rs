//! `alm db restore`: puts a backup back, with the server stopped.
//!
//! Everything is checked before anything changes: the backup's kind matches the configured
//! backend, its schema is not newer than this alm, a sealed key opens with its passphrase, and
//! the target database is empty (or `--force`). Then SQLite: the copy is written beside the
//! database and renamed over it (its `-wal`/`-shm` removed first), so a failure leaves the old
//! file; PostgreSQL: `pg_restore` in one transaction. At the end the audit chain is verified.
//! An older schema is brought up to date at the next `alm serve` (or `alm db migrate`).

use super::backup::PASSPHRASE_ENV;
use super::connect;
use crate::commands::env_secret;
use alm_store::backup::BackupKind;
use alm_store::{migrations, Backend, Db};
use anyhow::Context;
use std::path::Path;
use std::process::{Command, ExitCode};

/// Gives `cmd` the PostgreSQL URL with its password moved to the environment (never on a
/// command line, where other users can see it).
pub fn with_pg_url(cmd: &mut Command, url: &str) -> anyhow::Result<()> {
    let mut parsed = url::Url::parse(url).context("database.url is not a URL")?;
    let password = parsed.password().map(|p| p.to_owned());
    let _ = parsed.set_password(None);
    cmd.arg(parsed.as_str());
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    Ok(())
}

/// The schema version inside a pg_dump archive: the data of its `schema_migrations` table.
fn pg_dump_schema_version(input: &Path) -> anyhow::Result<i64> {
    let out = Command::new("pg_restore")
        .args(["--data-only", "--table=schema_migrations", "--file=-"])
        .arg(input)
        .output()
        .context("cannot run pg_restore; install the PostgreSQL client tools")?;
    if !out.status.success() {
        anyhow::bail!(
            "--input: pg_restore cannot read {}: {}",
            input.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    // COPY public.schema_migrations (version, name, applied_at) FROM stdin; then rows, then \.
    let text = String::from_utf8_lossy(&out.stdout);
    let mut rows = text
        .lines()
        .skip_while(|l| !l.starts_with("COPY "))
        .skip(1)
        .take_while(|l| *l != "\\.");
    let max = rows.try_fold(None::<i64>, |max, row| {
        let v: i64 = row.split('\t').next().unwrap_or("").parse().ok()?;
        Some(Some(max.map_or(v, |m: i64| m.max(v))))
    });
    match max {
        Some(Some(v)) => Ok(v),
        _ => anyhow::bail!("--input: {} holds no alm schema", input.display()),
    }
}

pub async fn run(
    config: &alm_server::Config,
    input: &Path,
    key_file: Option<&Path>,
    force: bool,
) -> anyhow::Result<ExitCode> {
    let kind = BackupKind::of_file(input)
        .with_context(|| format!("--input: cannot read {}", input.display()))?
        .with_context(|| {
            format!(
                "--input: {} is neither a SQLite database nor a pg_dump archive",
                input.display()
            )
        })?;
    let url = config.database_url();
    let backend = Backend::from_url(&url)?;
    if kind.backend() != backend {
        anyhow::bail!(
            "--input: {} is a {} backup, but database.url is a {} database; restore it into the backend it came from",
            input.display(),
            kind.backend().name(),
            backend.name()
        );
    }
    let version = match kind {
        BackupKind::Sqlite => alm_store::backup::sqlite_file_schema_version(input)
            .await
            .with_context(|| format!("--input: {}", input.display()))?,
        BackupKind::PgDump => pg_dump_schema_version(input)?,
    };
    if version > migrations::latest_version() {
        anyhow::bail!(
            "--input: the backup is at schema version {version}, newer than this alm knows (up to {}); restore it with the alm that wrote it, or a newer one",
            migrations::latest_version()
        );
    }
    let key = match key_file {
        Some(path) => {
            let sealed = std::fs::read_to_string(path)
                .with_context(|| format!("--key-file: cannot read {}", path.display()))?;
            let passphrase = env_secret(PASSPHRASE_ENV)?.with_context(|| {
                format!("--key-file: set {PASSPHRASE_ENV} (or {PASSPHRASE_ENV}_FILE) to the passphrase it was sealed with")
            })?;
            let key = alm_store::key_backup::open(&sealed, &passphrase)
                .map_err(|e| anyhow::anyhow!("--key-file: {}: {e}", path.display()))?;
            Some(key)
        }
        None => None,
    };
    let key_target = config.master_key_file();
    if let (Some(key), None) = (&key, &config.secrets.master_key) {
        if let Ok(existing) = std::fs::read_to_string(&key_target) {
            if existing.trim() != key.trim() && !force {
                anyhow::bail!(
                    "--key-file: {} already holds another master key; add --force to replace it (the secrets sealed with it become unreadable)",
                    key_target.display()
                );
            }
        }
    }

    if config.database.url.is_none() {
        alm_store::files::create_private_dir_all(&config.data_dir)
            .with_context(|| format!("data_dir: cannot create {}", config.data_dir.display()))?;
    }
    let target = Db::connect(&url)
        .await
        .context("cannot open the database")?;
    let tables = alm_store::backup::table_count(&target).await?;
    if tables > 0 && !force {
        target.close().await;
        anyhow::bail!(
            "database.url: {} is not empty ({tables} tables); stop alm and add --force to replace it",
            target.location()
        );
    }
    match backend {
        Backend::Sqlite => {
            target.close().await;
            let file = alm_store::db::sqlite_file(&url).context("database.url: no SQLite file")?;
            replace_sqlite_file(input, &file)?;
        }
        Backend::Postgres => {
            target.close().await;
            pg_restore(&url, input, tables > 0)?;
        }
    }
    if let Some(key) = &key {
        match &config.secrets.master_key {
            Some(_) => println!(
                "the sealed key opened; this configuration gives secrets.master_key directly, so it was not written to a file: make sure it is the same key"
            ),
            None => {
                write_key(&key_target, key)?;
                println!("master key installed in {}", key_target.display());
            }
        }
    }

    println!(
        "restored {} (schema version {version}{})",
        input.display(),
        if version < migrations::latest_version() {
            "; alm serve brings it up to date"
        } else {
            ""
        }
    );
    let db = connect(config).await?;
    let code = super::verify_audit(&db).await?;
    db.close().await;
    Ok(code)
}

/// Copies `input` beside `file`, then renames it over `file`: the database is either the old
/// one or the whole backup, never half of it.
fn replace_sqlite_file(input: &Path, file: &Path) -> anyhow::Result<()> {
    let mut staging_name = file.as_os_str().to_owned();
    staging_name.push(".restoring");
    let staging = std::path::PathBuf::from(staging_name);
    let _ = std::fs::remove_file(&staging);
    let copied = (|| -> std::io::Result<()> {
        let mut out = alm_store::files::create_private_file(&staging)?;
        let mut from = std::fs::File::open(input)?;
        std::io::copy(&mut from, &mut out)?;
        out.sync_all()
    })();
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&staging);
        anyhow::bail!(
            "cannot copy {} to {}: {e}",
            input.display(),
            staging.display()
        );
    }
    // The old database's journal must not be replayed onto the restored file.
    for side in alm_store::files::sqlite_files(file).iter().skip(1) {
        match std::fs::remove_file(side) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => anyhow::bail!("cannot remove {}: {e}", side.display()),
        }
    }
    std::fs::rename(&staging, file)
        .with_context(|| format!("cannot move {} to {}", staging.display(), file.display()))?;
    Ok(())
}

/// pg_restore in one transaction: all of the backup or none of it. Over a database that holds
/// data (`--force`), the backup's objects are dropped first (`--clean --if-exists`).
fn pg_restore(url: &str, input: &Path, clean: bool) -> anyhow::Result<()> {
    let mut cmd = Command::new("pg_restore");
    cmd.args([
        "--single-transaction",
        "--exit-on-error",
        "--no-owner",
        "--no-privileges",
    ]);
    if clean {
        cmd.args(["--clean", "--if-exists"]);
    }
    cmd.arg(input).arg("--dbname");
    with_pg_url(&mut cmd, url)?;
    let out = cmd
        .output()
        .context("cannot run pg_restore; install the PostgreSQL client tools")?;
    if !out.status.success() {
        anyhow::bail!(
            "pg_restore failed ({}); the database is unchanged: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Writes the master key file with mode 600 (replacing one, which --force allowed).
fn write_key(path: &Path, key: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        alm_store::files::create_private_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let mut staging_name = path.as_os_str().to_owned();
    staging_name.push(".restoring");
    let staging = std::path::PathBuf::from(staging_name);
    let _ = std::fs::remove_file(&staging);
    let mut f = alm_store::files::create_private_file(&staging)
        .with_context(|| format!("cannot create {}", staging.display()))?;
    use std::io::Write;
    f.write_all(key.trim().as_bytes())
        .and_then(|()| f.write_all(b"\n"))
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", staging.display()))?;
    std::fs::rename(&staging, path)
        .with_context(|| format!("cannot move {} to {}", staging.display(), path.display()))?;
    Ok(())
}

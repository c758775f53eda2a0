//! `alm db backup`: a consistent copy of the database (SQLite `VACUUM INTO` while the server
//! runs; PostgreSQL `pg_dump --format=custom`), created mode 600, and — with `--with-key` — the
//! master key sealed under a passphrase beside it. Without the key a backup's secrets (bind
//! passwords, vault credentials, webhook secrets) cannot be read, so the command says where the
//! key is when it is not included.

use super::connect;
use crate::commands::env_secret;
use alm_store::Backend;
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The environment variable (or `…_FILE`) holding the passphrase of a sealed key.
pub const PASSPHRASE_ENV: &str = "ALM_BACKUP_PASSPHRASE";

/// Where `--with-key` writes the sealed key: the backup's name with `.key` added.
pub fn key_path(output: &Path) -> PathBuf {
    let mut name = output.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}

/// Creates `path` empty with mode 600, refusing an existing file; the error names `flag`.
fn create_new_private(path: &Path, flag: &str) -> anyhow::Result<std::fs::File> {
    alm_store::files::create_private_file(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow::anyhow!(
                "{flag}: {} exists already; choose a new file",
                path.display()
            )
        } else {
            anyhow::anyhow!("{flag}: cannot create {}: {e}", path.display())
        }
    })
}

/// The master key's text as alm reads it, and where it comes from (for people).
pub fn master_key_text(
    config: &alm_server::Config,
) -> anyhow::Result<(zeroize::Zeroizing<String>, String)> {
    match &config.secrets.master_key {
        Some(text) => Ok((text.clone().into(), "secrets.master_key".into())),
        None => {
            let path = config.master_key_file();
            let text = std::fs::read_to_string(&path).with_context(|| {
                format!("secrets.master_key_file: cannot read {}", path.display())
            })?;
            Ok((text.into(), path.display().to_string()))
        }
    }
}

pub async fn run(
    config: &alm_server::Config,
    output: &Path,
    with_key: bool,
) -> anyhow::Result<ExitCode> {
    // Everything that can be refused is checked before a file is written.
    let sealed_key = if with_key {
        let passphrase = env_secret(PASSPHRASE_ENV)?.with_context(|| {
            format!("--with-key: set {PASSPHRASE_ENV} (or {PASSPHRASE_ENV}_FILE) to the passphrase that seals the key")
        })?;
        let (key, _) = master_key_text(config)?;
        alm_store::crypto::MasterKey::from_text(&key)
            .map_err(|e| anyhow::anyhow!("the master key cannot be read: {e}"))?;
        Some(
            alm_store::key_backup::seal(&key, &passphrase)
                .map_err(|e| anyhow::anyhow!("{PASSPHRASE_ENV}: {e}"))?,
        )
    } else {
        None
    };
    let db = connect(config).await?;
    // The copy holds everything the database does: it is created empty with mode 600 before
    // anything is written into it (VACUUM INTO and pg_dump both accept an empty file and keep
    // its mode). Creating it also refuses an existing file.
    create_new_private(output, "--output")?;
    let key_file = key_path(output);
    if sealed_key.is_some() {
        if let Err(e) = create_new_private(&key_file, "--with-key") {
            let _ = std::fs::remove_file(output);
            return Err(e);
        }
    }
    let written = match db.backend() {
        Backend::Sqlite => alm_store::backup::sqlite_copy(&db, output)
            .await
            .context("backup failed"),
        Backend::Postgres => pg_dump(&config.database_url(), output),
    };
    db.close().await;
    let written = written.and_then(|()| match &sealed_key {
        Some(sealed) => std::fs::write(&key_file, sealed)
            .with_context(|| format!("cannot write {}", key_file.display())),
        None => Ok(()),
    });
    if let Err(e) = written {
        // No half-written file is left to be mistaken for a backup.
        let _ = std::fs::remove_file(output);
        if sealed_key.is_some() {
            let _ = std::fs::remove_file(&key_file);
        }
        return Err(e);
    }
    println!("backup written to {}", output.display());
    if sealed_key.is_some() {
        println!(
            "master key sealed under the passphrase in {} (restore both with `alm db restore --input {} --key-file {}`)",
            key_file.display(),
            output.display(),
            key_file.display()
        );
    } else {
        let (_, source) = master_key_text(config).unwrap_or_else(|_| {
            (
                String::new().into(),
                config.master_key_file().display().to_string(),
            )
        });
        println!(
            "the master key is NOT in this backup: without it ({source}) the stored secrets cannot be read; keep a copy of it apart from the backup, or back up with --with-key"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs pg_dump with the password in the environment, not on the command line.
fn pg_dump(url: &str, output: &Path) -> anyhow::Result<()> {
    let mut cmd = std::process::Command::new("pg_dump");
    cmd.arg("--format=custom").arg("--file").arg(output);
    super::restore::with_pg_url(&mut cmd, url)?;
    let status = cmd
        .status()
        .context("cannot run pg_dump; install the PostgreSQL client tools")?;
    if !status.success() {
        anyhow::bail!("pg_dump failed ({status})");
    }
    Ok(())
}

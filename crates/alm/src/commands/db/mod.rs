//! `alm db`: migrate the schema, back up and restore (`backup.rs`, `restore.rs`), verify the
//! audit chain.

mod backup;
mod restore;

use super::load_config;
use crate::ConfigArgs;
use alm_store::{migrations, Db};
use anyhow::Context;
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum DbCommand {
    /// Bring the schema up to date (also done by `alm serve` at start).
    Migrate {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Write a consistent copy of the database to FILE (SQLite: online copy; PostgreSQL:
    /// pg_dump). The master key is not in it: keep the key apart, or add --with-key.
    Backup {
        #[arg(long, value_name = "FILE")]
        output: PathBuf,
        /// Also write FILE.key: the master key sealed under a passphrase from
        /// ALM_BACKUP_PASSPHRASE (or ALM_BACKUP_PASSPHRASE_FILE), at least 12 characters.
        #[arg(long)]
        with_key: bool,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Restore a backup (from `alm db backup` or the server's timed backups) into the configured
    /// database, with the server stopped. Refuses a backup newer than this alm, and a database
    /// that is not empty unless --force.
    Restore {
        /// The backup file: a SQLite copy, or a pg_dump archive for PostgreSQL.
        #[arg(long, value_name = "FILE")]
        input: PathBuf,
        /// The sealed master key written by `alm db backup --with-key` (passphrase from
        /// ALM_BACKUP_PASSPHRASE); installed as the master key file.
        #[arg(long, value_name = "FILE")]
        key_file: Option<PathBuf>,
        /// Replace a database that holds data (and a different master key file).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Check the audit log's hash chain; exits 1 and names the first broken record.
    VerifyAudit {
        #[command(flatten)]
        config: ConfigArgs,
    },
}

pub(super) async fn connect(config: &alm_server::Config) -> anyhow::Result<Db> {
    let db = Db::connect(&config.database_url())
        .await
        .context("cannot open the database")?;
    let current = migrations::current_version(&db).await?;
    if current > migrations::latest_version() {
        anyhow::bail!(alm_store::StoreError::SchemaTooNew {
            database: current,
            binary: migrations::latest_version()
        });
    }
    Ok(db)
}

pub async fn run(command: DbCommand) -> anyhow::Result<ExitCode> {
    match command {
        DbCommand::Migrate { config } => {
            let config = load_config(&config, None)?;
            if config.database.url.is_none() {
                alm_store::files::create_private_dir_all(&config.data_dir).with_context(|| {
                    format!("data_dir: cannot create {}", config.data_dir.display())
                })?;
            }
            let db = connect(&config).await?;
            let applied =
                migrations::migrate(&db, alm_core::Clock::now(&alm_core::SystemClock)).await?;
            if applied.is_empty() {
                println!(
                    "schema is current (version {})",
                    migrations::latest_version()
                );
            } else {
                println!(
                    "applied migrations {applied:?}; schema is at version {}",
                    migrations::latest_version()
                );
            }
            db.close().await;
            Ok(ExitCode::SUCCESS)
        }
        DbCommand::Backup {
            output,
            with_key,
            config,
        } => {
            let config = load_config(&config, None)?;
            backup::run(&config, &output, with_key).await
        }
        DbCommand::Restore {
            input,
            key_file,
            force,
            config,
        } => {
            let config = load_config(&config, None)?;
            restore::run(&config, &input, key_file.as_deref(), force).await
        }
        DbCommand::VerifyAudit { config } => {
            let config = load_config(&config, None)?;
            let db = connect(&config).await?;
            let code = verify_audit(&db).await?;
            db.close().await;
            Ok(code)
        }
    }
}

/// Walks the audit chain and prints the verdict; the exit code says it (1: broken).
pub(super) async fn verify_audit(db: &Db) -> anyhow::Result<ExitCode> {
    let mut conn = db.read().await?;
    let report = alm_store::audit_log::verify(&mut conn).await?;
    drop(conn);
    match report.first_broken {
        None => {
            println!("audit chain intact: {} records verified", report.checked);
            Ok(ExitCode::SUCCESS)
        }
        Some(broken) => {
            println!(
                "audit chain BROKEN at record {}: {}",
                broken.seq, broken.reason
            );
            println!("({} records before it verified)", report.checked);
            Ok(ExitCode::FAILURE)
        }
    }
}

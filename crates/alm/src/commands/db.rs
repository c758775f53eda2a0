//! `alm db`: migrate the schema, back up, verify the audit chain.

use super::load_config;
use crate::ConfigArgs;
use alm_store::{migrations, Backend, Db};
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
    /// Write a consistent copy of the database to FILE (SQLite: online copy; PostgreSQL: pg_dump).
    Backup {
        #[arg(long, value_name = "FILE")]
        output: PathBuf,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Check the audit log's hash chain; exits 1 and names the first broken record.
    VerifyAudit {
        #[command(flatten)]
        config: ConfigArgs,
    },
}

async fn connect(config: &alm_server::Config) -> anyhow::Result<Db> {
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
        DbCommand::Backup { output, config } => {
            let config = load_config(&config, None)?;
            let path = output
                .to_str()
                .context("--output: the path must be valid UTF-8")?
                .to_owned();
            let db = connect(&config).await?;
            // The copy holds everything the database does: it is created empty with mode 600
            // before anything is written into it (VACUUM INTO and pg_dump both accept an empty
            // file and keep its mode). Creating it also refuses an existing file.
            alm_store::files::create_private_file(&output).map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    anyhow::anyhow!(
                        "--output: {} exists already; choose a new file",
                        output.display()
                    )
                } else {
                    anyhow::anyhow!("--output: cannot create {}: {e}", output.display())
                }
            })?;
            let written = match db.backend() {
                // VACUUM INTO writes a consistent snapshot while the server keeps running.
                Backend::Sqlite => sqlx::query("VACUUM INTO $1")
                    .bind(&path)
                    .execute(db.pool())
                    .await
                    .map(|_| ())
                    .context("backup failed"),
                Backend::Postgres => pg_dump(&config.database_url(), &output),
            };
            db.close().await;
            if let Err(e) = written {
                // No half-written file is left to be mistaken for a backup.
                let _ = std::fs::remove_file(&output);
                return Err(e);
            }
            println!("backup written to {}", output.display());
            Ok(ExitCode::SUCCESS)
        }
        DbCommand::VerifyAudit { config } => {
            let config = load_config(&config, None)?;
            let db = connect(&config).await?;
            let mut conn = db.read().await?;
            let report = alm_store::audit_log::verify(&mut conn).await?;
            drop(conn);
            db.close().await;
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
    }
}

/// Runs pg_dump with the password in the environment, not on the command line.
fn pg_dump(url: &str, output: &std::path::Path) -> anyhow::Result<()> {
    let mut parsed = url::Url::parse(url).context("database.url is not a URL")?;
    let password = parsed.password().map(|p| p.to_owned());
    let _ = parsed.set_password(None);
    let mut cmd = std::process::Command::new("pg_dump");
    cmd.arg("--format=custom")
        .arg("--file")
        .arg(output)
        .arg(parsed.as_str());
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    let status = cmd
        .status()
        .context("cannot run pg_dump; install the PostgreSQL client tools")?;
    if !status.success() {
        anyhow::bail!("pg_dump failed ({status})");
    }
    Ok(())
}

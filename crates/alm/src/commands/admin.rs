//! `alm admin`: reset a local password, issue an API token for automation, forget a person and
//! export what alm holds about them (SPEC §13).

use super::{env_secret, load_config};
use crate::ConfigArgs;
use alm_core::SystemClock;
use alm_server::services::bootstrap;
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Set a new local password for EMAIL (from ALM_ADMIN_PASSWORD, or generated and printed).
    ResetPassword {
        email: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Print a new API token for the user with EMAIL (for scripts and automation).
    CreateToken {
        email: String,
        /// What the token is for.
        #[arg(long)]
        name: String,
        /// Days until it expires (1–3650); without it the token does not expire.
        #[arg(long, value_name = "DAYS")]
        expires: Option<u32>,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Erase a disabled person's name, email addresses and source IPs everywhere, replacing
    /// them with a stable pseudonym (the audit chain still verifies).
    ForgetUser {
        email: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Write everything alm holds about the person with EMAIL as JSON (to stdout, or FILE).
    ExportUser {
        email: String,
        /// A new file (mode 600) instead of standard output.
        #[arg(long, value_name = "FILE")]
        output: Option<std::path::PathBuf>,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

/// The database of `config`, and the user with this address in it (any state).
async fn open_with_user(
    config: &ConfigArgs,
    email: &str,
) -> anyhow::Result<(alm_store::Db, alm_core::UserId)> {
    let config = load_config(config, None)?;
    let db = alm_server::app::open_database(&config, &SystemClock).await?;
    let id = user_by_email(&db, email).await?;
    Ok((db, id))
}

/// The user with this address (any state), or an error naming the address.
async fn user_by_email(db: &alm_store::Db, email: &str) -> anyhow::Result<alm_core::UserId> {
    let parsed = alm_core::Email::parse("EMAIL", email).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut conn = db.read().await?;
    alm_store::users::find_by_email(&mut conn, &parsed)
        .await?
        .map(|u| u.id)
        .ok_or_else(|| anyhow::anyhow!("EMAIL: no user has the email address {parsed}"))
}

pub async fn run(command: AdminCommand) -> anyhow::Result<ExitCode> {
    match command {
        AdminCommand::ResetPassword { email, config } => {
            let config = load_config(&config, None)?;
            let clock = SystemClock;
            let db = alm_server::app::open_database(&config, &clock).await?;
            let given = env_secret("ALM_ADMIN_PASSWORD")?;
            let from_env = given.is_some();
            let password = bootstrap::reset_password(&db, &clock, &email, given).await?;
            if from_env {
                println!(
                    "password of {email} set from ALM_ADMIN_PASSWORD; their sessions have ended"
                );
            } else {
                println!("new password of {email}: {password}");
                println!(
                    "(good for one sign-in: they choose their own then; their sessions have ended)"
                );
            }
            db.close().await;
            Ok(ExitCode::SUCCESS)
        }
        AdminCommand::CreateToken {
            email,
            name,
            expires,
            config,
        } => {
            let config = load_config(&config, None)?;
            let clock = SystemClock;
            let db = alm_server::app::open_database(&config, &clock).await?;
            let issued = bootstrap::create_token_for(&db, &clock, &email, &name, expires).await?;
            // Only the token on stdout, so `TOKEN=$(alm admin create-token …)` works.
            println!("{}", issued.secret);
            db.close().await;
            Ok(ExitCode::SUCCESS)
        }
        AdminCommand::ForgetUser { email, config } => {
            let clock = SystemClock;
            let (db, id) = open_with_user(&config, &email).await?;
            let can = alm_core::permissions::system_capability();
            let erased = alm_server::services::privacy::forget(
                &db,
                &clock,
                &can,
                &alm_server::services::Actor::system(),
                id,
            )
            .await?;
            let (name, address) = alm_server::services::privacy::pseudonym(id);
            println!("forgot user {id}: now \"{name}\" <{address}>");
            println!(
                "  audit records pseudonymised: {}; jobs: {}; text fields: {}; anonymous records from their addresses: {}; sessions ended: {}",
                erased.audit_records, erased.jobs, erased.text_fields, erased.source_ips, erased.sessions
            );
            println!("  not reachable from here: backups, logs, and what was already sent by email, webhook or SIEM; a directory user comes back with the next sync while AD has them in a synced group");
            db.close().await;
            Ok(ExitCode::SUCCESS)
        }
        AdminCommand::ExportUser {
            email,
            output,
            config,
        } => {
            let clock = SystemClock;
            let (db, id) = open_with_user(&config, &email).await?;
            let can = alm_core::permissions::system_capability();
            let document = alm_server::services::privacy::export(
                &db,
                &clock,
                &can,
                &alm_server::services::Actor::system(),
                id,
            )
            .await?;
            db.close().await;
            let text = serde_json::to_string_pretty(&document)? + "\n";
            match output {
                None => print!("{text}"),
                Some(path) => {
                    use std::io::Write;
                    let mut file = alm_store::files::create_private_file(&path).map_err(|e| {
                        anyhow::anyhow!(
                            "--output: cannot create {} ({e}); choose a new file",
                            path.display()
                        )
                    })?;
                    file.write_all(text.as_bytes())?;
                    eprintln!("exported to {}", path.display());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

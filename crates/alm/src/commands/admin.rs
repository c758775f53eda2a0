//! `alm admin`: reset a local password, issue an API token for automation.

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
    }
}

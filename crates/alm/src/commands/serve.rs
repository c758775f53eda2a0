//! `alm serve`: start-up, the first administrator's one-time password, and graceful shutdown
//! on Ctrl-C or SIGTERM.

use super::{env_secret, init_logging, load_config};
use crate::ConfigArgs;
use alm_core::SystemClock;
use alm_server::services::bootstrap::AdminBootstrap;
use std::process::ExitCode;
use std::sync::Arc;

/// Used when `ALM_ADMIN_EMAIL` is not set on first start.
pub const DEFAULT_ADMIN_EMAIL: &str = "admin@alm.localhost";

pub async fn run(args: ConfigArgs, listen: Option<String>) -> anyhow::Result<ExitCode> {
    let config = load_config(&args, listen)?;
    init_logging(&config);
    let listen = config.listen.clone();
    let local_login = config.auth.local_login;
    let state = alm_server::build_state(config, Arc::new(SystemClock)).await?;
    let email = std::env::var("ALM_ADMIN_EMAIL").unwrap_or_else(|_| DEFAULT_ADMIN_EMAIL.to_owned());
    let password = env_secret("ALM_ADMIN_PASSWORD")?;
    match alm_server::app::bootstrap_admin(&state, &email, password).await? {
        AdminBootstrap::Existing => {}
        AdminBootstrap::Created { email } => {
            tracing::info!(%email, "created the first administrator with the password from ALM_ADMIN_PASSWORD");
        }
        AdminBootstrap::CreatedWithGenerated { email, password } => {
            // Printed on the terminal once, never logged: the log may be shipped elsewhere.
            println!("First start: created the administrator {email}");
            println!("  one-time password: {password}");
            println!("  (shown only now and good for one sign-in: you choose your own then; `alm admin reset-password {email}` sets a new one)");
        }
    }
    let server = alm_server::start(state.clone(), &listen).await?;
    let scheduler = alm_server::workers::scheduled_sync::spawn(state.clone());
    let base = state
        .config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("{}://{}", server.scheme, server.addr));
    if let Some(plain) = server.redirect_addr {
        println!("alm redirects http://{plain} to HTTPS");
    }
    println!(
        "alm is listening on {}://{} — sign in at {base}{}",
        server.scheme,
        server.addr,
        if local_login {
            "/sign-in"
        } else {
            "/auth/oidc/login"
        }
    );
    tracing::info!(addr = %server.addr, backend = state.db.backend().name(), "alm serving");
    shutdown_signal().await;
    tracing::info!("shutting down");
    scheduler.abort();
    server.shutdown().await?;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

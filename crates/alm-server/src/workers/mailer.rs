//! The email outbox's delivery loop (SPEC §7.2), and the SMTP sender it uses.

use crate::config::Config;
use crate::state::AppState;
use anyhow::Context;
/// The SMTP sender from the configuration (`None` without `smtp.host`).
pub fn smtp_sender(config: &Config) -> anyhow::Result<Option<alm_notify::smtp::SmtpSender>> {
    let c = &config.smtp;
    let Some(host) = &c.host else {
        return Ok(None);
    };
    let ca_pem = match &c.ca_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("smtp.ca_file: cannot read {}", path.display()))?,
        ),
        None => None,
    };
    let sender = alm_notify::smtp::SmtpSender::new(&alm_notify::smtp::SmtpConfig {
        host: host.clone(),
        port: c.port,
        security: alm_notify::smtp::Security::parse(&c.security)
            .context("smtp.security: none, starttls or tls")?,
        username: c.username.clone(),
        password: c.password.as_deref().map(alm_core::Secret::new),
        from: c.from.clone(),
        ca_pem,
        timeout: std::time::Duration::from_secs(30),
    })
    .map_err(anyhow::Error::msg)?;
    Ok(Some(sender))
}

/// Delivers the outbox for the life of the process (SPEC §7.2): due messages every half
/// second, failures retried with back-off. Without SMTP settings mail waits in the outbox.
pub(crate) fn spawn(state: &AppState) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    let Some(sender) = smtp_sender(&state.config)? else {
        tracing::warn!("no smtp.host configured: emails wait in the outbox");
        return Ok(None);
    };
    let state = state.clone();
    Ok(Some(tokio::spawn(async move {
        loop {
            match crate::services::notifications::deliver_due(
                &state.db,
                state.clock.as_ref(),
                &sender,
            )
            .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(sent = n, "emails sent"),
                Err(e) => tracing::error!(error = %e, "the outbox could not be read"),
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    })))
}

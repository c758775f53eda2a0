//! The webhook and SIEM delivery loop (SPEC §7.3, §7.4) and the name alm gives itself there.

use crate::config::Config;
use crate::state::AppState;
/// The name alm gives itself in SIEM messages: the host of its base URL.
pub fn siem_hostname(config: &Config) -> String {
    url::Url::parse(&config.base_url())
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "alm".to_owned())
}

/// The webhook and SIEM delivery loop (see `services/integration_outbox.rs`). Always runs:
/// with nothing configured a round is one indexed query.
pub(crate) fn spawn(state: &AppState) -> tokio::task::JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        let mut deliverer = crate::services::integration_outbox::Deliverer::new(
            state.webhook_sender.clone(),
            siem_hostname(&state.config),
        );
        loop {
            match deliverer
                .deliver_due(&state.db, state.clock.as_ref(), &state.master_key)
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(delivered = n, "webhook and SIEM messages delivered"),
                Err(e) => tracing::error!(error = %e, "the integration outbox could not be read"),
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    })
}

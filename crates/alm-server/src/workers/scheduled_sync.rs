//! The hourly check for scheduled domain and vault syncs (SPEC §6.1, §7.6).

use crate::state::AppState;
/// Checks scheduled domain syncs at the top of each hour, for the life of the process. Every
/// replica may do it: the queue keeps one live sync per domain (dedupe key), so two replicas
/// queue one sync. (The lifecycle sweep, which must run once, is `workers::lifecycle_scheduler`.)
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let now = state.clock.now();
            let wait = alm_core::schedule::next_top_of_hour(now) - now;
            tokio::time::sleep(
                wait.try_into()
                    .unwrap_or(std::time::Duration::from_secs(60)),
            )
            .await;
            match crate::services::scheduled_sync::queue_due(
                &state.queue,
                state.config.scheduler.full_sync_every(),
            )
            .await
            {
                Ok(jobs) if !jobs.is_empty() => {
                    tracing::info!(jobs = jobs.len(), "scheduled domain syncs queued")
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "scheduled domain syncs could not be queued"),
            }
            // Each claimed vault sync waits for its engines (a minute or two at most): run
            // apart, so one slow vault holds up neither the others nor the next check.
            match crate::services::scheduled_sync::claim_due_vaults(&state.queue).await {
                Ok(ids) => {
                    for id in ids {
                        let queue = state.queue.clone();
                        tokio::spawn(async move {
                            match crate::services::scheduled_sync::run_vault_sync(&queue, id).await
                            {
                                Ok(o) if crate::services::scheduled_sync::vault_read(&o) => {
                                    tracing::info!(vault = %id, checked = o.checked, missing = o.missing.len(), "scheduled vault sync done")
                                }
                                Ok(o) => {
                                    tracing::warn!(vault = %id, error = ?o.error, calibration = ?o.calibration.map(|c| c.message), "scheduled vault sync could not read the vault; tried again next hour")
                                }
                                Err(e) => {
                                    tracing::warn!(vault = %id, error = %e, "scheduled vault sync refused; next try tomorrow")
                                }
                            }
                        });
                    }
                }
                Err(e) => tracing::error!(error = %e, "scheduled vault syncs could not be claimed"),
            }
        }
    })
}

//! The hourly check for scheduled domain syncs (SPEC §6.1).

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
        }
    })
}

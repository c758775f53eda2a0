//! Writes the counts of anonymous refusals minute by minute (issue 12: floods are summed, not logged one by one).

use crate::state::AppState;
/// Writes the anonymous-refusal counts of minutes that are over, for the life of the process
/// (a flood's last minute is written even when no further refusal comes).
pub(crate) fn spawn(state: &AppState) -> tokio::task::JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            if let Err(e) =
                crate::services::anonymous_denials::flush(&state.db, state.clock.as_ref()).await
            {
                tracing::error!(error = %e, "anonymous refusal counts could not be written");
            }
        }
    })
}

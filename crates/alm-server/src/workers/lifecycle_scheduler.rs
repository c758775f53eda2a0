//! The lifecycle scheduler's loop (SPEC §4, §12): one leader at a time sweeps EOL actions and reminders.

use crate::state::AppState;
/// The scheduler (SPEC §4, §12): every interval, try to lead (a PostgreSQL advisory lock; the
/// process itself on SQLite) and, while leading, sweep.
pub(crate) fn spawn(state: &AppState) -> Option<tokio::task::JoinHandle<()>> {
    if !state.config.scheduler.enabled {
        return None;
    }
    let state = state.clone();
    let every =
        std::time::Duration::from_secs(u64::from(state.config.scheduler.interval_seconds.max(1)));
    Some(tokio::spawn(async move {
        let mut leadership: Option<alm_store::leader::Leadership> = None;
        loop {
            if let Some(l) = leadership.as_mut() {
                if !l.still_held().await {
                    tracing::warn!("scheduler: lost the leader lock's connection");
                    leadership = None;
                }
            }
            if leadership.is_none() {
                match alm_store::leader::Leadership::acquire(&state.db).await {
                    Ok(l) => {
                        if l.is_some() {
                            // Operators (and the replica tests) see where the sweeps run now.
                            tracing::info!("scheduler: this process leads the lifecycle sweeps");
                        }
                        leadership = l
                    }
                    Err(e) => tracing::error!(error = %e, "scheduler: cannot ask for leadership"),
                }
            }
            if leadership.is_some() {
                match crate::services::lifecycle::sweep(&state.queue).await {
                    Ok(r) if r.eol_processed + r.reminders_sent > 0 => tracing::info!(
                        eol = r.eol_processed,
                        reminders = r.reminders_sent,
                        "scheduler: sweep"
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "scheduler: sweep failed"),
                }
            }
            tokio::time::sleep(every).await;
        }
    }))
}

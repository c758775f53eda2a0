//! The work a server process does in the background, beside answering HTTP: the in-process
//! engine, the mailer, the lifecycle scheduler, webhook/SIEM delivery, the anonymous
//! refusal counts and SQLite's timed backups. Each loop lives in its own module; [`Workers`] starts and stops them together.
//! (The hourly scheduled-sync check, [`scheduled_sync`], is started by `alm serve` itself, so
//! that tests drive it by hand.)

pub mod backups;
pub mod denial_flusher;
pub mod integrations;
pub mod lifecycle_scheduler;
pub mod mailer;
pub mod scheduled_sync;

use crate::state::AppState;
use tokio::task::JoinHandle;

/// The running background loops of one server process.
#[derive(Default)]
pub struct Workers {
    engine: Option<JoinHandle<()>>,
    mailer: Option<JoinHandle<()>>,
    scheduler: Option<JoinHandle<()>>,
    integrations: Option<JoinHandle<()>>,
    denial_flusher: Option<JoinHandle<()>>,
    backups: Option<JoinHandle<()>>,
}

impl Workers {
    /// Starts every loop the configuration asks for. A server open read-only for recovery runs
    /// none: each would write, and could not open the secrets it needs.
    pub async fn start(state: &AppState) -> anyhow::Result<Self> {
        if state.read_only.is_some() {
            return Ok(Self::default());
        }
        let engine = if state.config.engines.in_process {
            Some(crate::engine_host::spawn(state.clone()).await?)
        } else {
            None
        };
        Ok(Self {
            engine,
            mailer: mailer::spawn(state)?,
            scheduler: lifecycle_scheduler::spawn(state),
            integrations: Some(integrations::spawn(state)),
            denial_flusher: Some(denial_flusher::spawn(state)),
            backups: backups::spawn(state),
        })
    }

    /// Stops every loop and waits for each to end. The in-process engine's jobs go back to
    /// the queue (their leases are given back at the next start, or run out).
    pub async fn stop(&mut self) {
        for handle in [
            self.mailer.take(),
            self.denial_flusher.take(),
            self.backups.take(),
            self.integrations.take(),
            self.scheduler.take(),
            self.engine.take(),
        ]
        .into_iter()
        .flatten()
        {
            handle.abort();
            let _ = handle.await;
        }
    }
}

//! The engine's loop: lease jobs (long poll), run them side by side up to a limit, report each
//! result, and send heartbeats that keep the leases of running jobs alive. A short log of what
//! it did goes to the server with each heartbeat (SPEC §5 "abbreviated log").
//!
//! The runner stops only when the server refuses the engine (removed, or credential revoked);
//! an unreachable server is retried with a growing pause.

use crate::executor::Executor;
use crate::protocol::{Completion, Heartbeat, LeaseRequest, LogBatch, LogLine};
use crate::transport::{Transport, TransportError};
use alm_core::Clock;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct RunnerConfig {
    /// Long-poll wait per lease request.
    pub wait_seconds: u32,
    /// Jobs run at once.
    pub concurrency: usize,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            wait_seconds: 25,
            concurrency: 4,
        }
    }
}

/// Longest message kept in a log line: the log is a summary, not a dump.
const MAX_LOG_MESSAGE: usize = 500;

#[derive(Clone)]
struct Shared {
    /// The jobs running now, each with how many of its leases run (two when a lease ran out
    /// while its attempt went on and the job came back to this engine).
    held: Arc<Mutex<HashMap<String, usize>>>,
    log: Arc<Mutex<Vec<LogLine>>>,
    clock: Arc<dyn Clock>,
}

impl Shared {
    fn log(&self, level: &str, message: String) {
        let mut message = message;
        if message.chars().count() > MAX_LOG_MESSAGE {
            message = message.chars().take(MAX_LOG_MESSAGE).collect::<String>() + "…";
        }
        match level {
            "error" => tracing::error!("{message}"),
            "warn" => tracing::warn!("{message}"),
            _ => tracing::info!("{message}"),
        }
        self.log.lock().expect("log lock").push(LogLine {
            at: self.clock.now(),
            level: level.into(),
            message,
        });
    }

    fn take_log(&self) -> Vec<LogLine> {
        std::mem::take(&mut *self.log.lock().expect("log lock"))
    }

    fn held(&self) -> Vec<String> {
        self.held
            .lock()
            .expect("held lock")
            .keys()
            .cloned()
            .collect()
    }

    fn hold(&self, job_id: &str) {
        *self
            .held
            .lock()
            .expect("held lock")
            .entry(job_id.to_owned())
            .or_insert(0) += 1;
    }

    fn let_go(&self, job_id: &str) {
        let mut held = self.held.lock().expect("held lock");
        if let Some(n) = held.get_mut(job_id) {
            *n -= 1;
            if *n == 0 {
                held.remove(job_id);
            }
        }
    }
}

/// Runs until the server refuses the engine; returns that refusal.
pub async fn run(
    transport: Arc<dyn Transport>,
    executor: Arc<Executor>,
    clock: Arc<dyn Clock>,
    config: RunnerConfig,
) -> TransportError {
    let shared = Shared {
        held: Arc::default(),
        log: Arc::default(),
        clock,
    };
    let (refused_tx, mut refused_rx) = tokio::sync::mpsc::channel::<TransportError>(4);
    let heartbeat_every = Arc::new(Mutex::new(Duration::from_secs(10)));
    let beat = {
        let (transport, shared, refused_tx, every) = (
            transport.clone(),
            shared.clone(),
            refused_tx.clone(),
            heartbeat_every.clone(),
        );
        tokio::spawn(async move {
            loop {
                let pause = *every.lock().expect("interval lock");
                tokio::time::sleep(pause).await;
                if let Err(e) = send_heartbeat(transport.as_ref(), &shared).await {
                    if matches!(e, TransportError::Refused(_)) {
                        let _ = refused_tx.send(e).await;
                        return;
                    }
                    tracing::warn!(error = %e, "heartbeat not delivered");
                }
            }
        })
    };
    let slots = Arc::new(tokio::sync::Semaphore::new(config.concurrency.max(1)));
    let mut pause = Duration::from_millis(500);
    shared.log("info", "engine started; waiting for jobs".into());
    let refusal = loop {
        if let Ok(e) = refused_rx.try_recv() {
            break e;
        }
        let free = slots.available_permits();
        if free == 0 {
            // Every slot is busy: wait for one before asking for more work.
            let permit = slots.clone().acquire_owned().await.expect("open semaphore");
            drop(permit);
            continue;
        }
        // Every job leased before is in `held` by now (added below before asking again), so
        // a lease of this engine the server has and `running` lacks is nobody's.
        let request = LeaseRequest {
            wait_seconds: config.wait_seconds,
            max_jobs: free as u32,
            running: Some(shared.held()),
        };
        let answer = tokio::select! {
            answer = transport.lease(request) => answer,
            Some(e) = refused_rx.recv() => break e,
        };
        let response = match answer {
            Ok(r) => {
                pause = Duration::from_millis(500);
                r
            }
            Err(TransportError::Refused(m)) => break TransportError::Refused(m),
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?pause, "lease request failed");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        *heartbeat_every.lock().expect("interval lock") =
            Duration::from_secs(u64::from(response.heartbeat_seconds.max(1)));
        for job in response.jobs {
            let permit = slots.clone().acquire_owned().await.expect("open semaphore");
            shared.hold(&job.job_id);
            shared.log(
                "info",
                format!("job {} ({}) leased", job.job_id, job.task.kind()),
            );
            let (transport, executor, shared, refused_tx) = (
                transport.clone(),
                executor.clone(),
                shared.clone(),
                refused_tx.clone(),
            );
            tokio::spawn(async move {
                let started = std::time::Instant::now();
                let result = executor.run(&job.task).await;
                let completion = Completion::Done {
                    lease_id: job.lease_id.clone(),
                    result,
                };
                match deliver(transport.as_ref(), &job.job_id, completion).await {
                    Ok(()) => shared.log(
                        "info",
                        format!(
                            "job {} ({}) done in {} ms",
                            job.job_id,
                            job.task.kind(),
                            started.elapsed().as_millis()
                        ),
                    ),
                    Err(TransportError::Refused(m)) => {
                        let _ = refused_tx.send(TransportError::Refused(m)).await;
                    }
                    Err(e) => shared.log("warn", format!("job {}: {e}", job.job_id)),
                }
                shared.let_go(&job.job_id);
                drop(permit);
            });
        }
    };
    beat.abort();
    shared.log("error", format!("engine stopped: {refusal}"));
    refusal
}

/// Reports a result, retrying while the server is unavailable (the lease may run out
/// meanwhile; the server then says so and the job runs again elsewhere).
async fn deliver(
    transport: &dyn Transport,
    job_id: &str,
    completion: Completion,
) -> Result<(), TransportError> {
    let mut pause = Duration::from_millis(500);
    for _ in 0..8 {
        match transport.complete(job_id, completion.clone()).await {
            Err(TransportError::Unavailable(m)) => {
                tracing::warn!(job = job_id, error = %m, "result not delivered yet");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(15));
            }
            other => return other,
        }
    }
    Err(TransportError::Unavailable(
        "gave up delivering the result".into(),
    ))
}

async fn send_heartbeat(transport: &dyn Transport, shared: &Shared) -> Result<(), TransportError> {
    transport
        .heartbeat(Heartbeat {
            job_ids: shared.held(),
        })
        .await?;
    let lines = shared.take_log();
    if !lines.is_empty() {
        transport.logs(LogBatch { lines }).await?;
    }
    Ok(())
}

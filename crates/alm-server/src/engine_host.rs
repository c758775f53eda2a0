//! The engine inside `alm serve` (SPEC §5 single-process mode): the same runner a remote
//! engine uses, talking to the queue by direct calls instead of HTTPS. It is an engine like
//! any other (listed, in the default pool, removable); `engines.in_process = false` turns it off.

use crate::services::engines::{self, ensure_in_process_engine};
use crate::services::jobs::Queue;
use crate::services::ServiceError;
use crate::state::AppState;
use alm_core::{EngineId, JobId};
use alm_engine::protocol::{Completion, Heartbeat, LeaseRequest, LeaseResponse, LogBatch};
use alm_engine::runner::{self, RunnerConfig};
use alm_engine::{Executor, Transport, TransportError};
use alm_store::engines::EngineRecord;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

struct InProcess {
    queue: Arc<Queue>,
    engine: EngineId,
}

fn transport_error(e: ServiceError) -> TransportError {
    match e {
        ServiceError::Unauthenticated(m) => TransportError::Refused(m),
        ServiceError::NotAllowed(m) => TransportError::LeaseLost(m),
        other => TransportError::Unavailable(other.to_string()),
    }
}

impl InProcess {
    /// The engine as stored now; gone when an administrator removed it.
    async fn me(&self) -> Result<EngineRecord, TransportError> {
        let mut conn = self
            .queue
            .db
            .read()
            .await
            .map_err(|e| TransportError::Unavailable(e.to_string()))?;
        let found = alm_store::engines::engine(&mut conn, self.engine)
            .await
            .map_err(|e| TransportError::Unavailable(e.to_string()))?;
        drop(conn);
        let engine = found
            .ok_or_else(|| TransportError::Refused("the in-process engine was removed".into()))?;
        let mut tx = self
            .queue
            .db
            .begin_write()
            .await
            .map_err(|e| TransportError::Unavailable(e.to_string()))?;
        alm_store::engines::touch(&mut tx, engine.id, self.queue.clock.now(), None)
            .await
            .map_err(|e| TransportError::Unavailable(e.to_string()))?;
        tx.commit()
            .await
            .map_err(|e| TransportError::Unavailable(e.to_string()))?;
        Ok(engine)
    }
}

#[async_trait]
impl Transport for InProcess {
    async fn lease(&self, request: LeaseRequest) -> Result<LeaseResponse, TransportError> {
        let me = self.me().await?;
        self.queue
            .lease(
                &me,
                Duration::from_secs(u64::from(request.wait_seconds)),
                request.max_jobs,
            )
            .await
            .map_err(transport_error)
    }

    async fn complete(&self, job_id: &str, completion: Completion) -> Result<(), TransportError> {
        let me = self.me().await?;
        let id: JobId = job_id
            .parse()
            .map_err(|_| TransportError::LeaseLost(format!("no job {job_id}")))?;
        self.queue
            .complete(&me, id, completion)
            .await
            .map_err(transport_error)
    }

    async fn heartbeat(&self, heartbeat: Heartbeat) -> Result<(), TransportError> {
        let me = self.me().await?;
        self.queue
            .heartbeat(&me, &heartbeat.job_ids)
            .await
            .map_err(transport_error)
    }

    async fn logs(&self, batch: LogBatch) -> Result<(), TransportError> {
        let me = self.me().await?;
        engines::append_logs(&self.queue.db, &me, batch.lines)
            .await
            .map_err(transport_error)
    }
}

/// Registers (first start) and starts the in-process engine.
pub async fn spawn(state: AppState) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let pool = engines::ensure_default_pool(&state.db, state.clock.as_ref())
        .await
        .map_err(|e| anyhow::anyhow!("cannot find the default engine pool: {e}"))?;
    let engine = ensure_in_process_engine(&state.db, state.clock.as_ref(), pool.id)
        .await
        .map_err(|e| anyhow::anyhow!("cannot register the in-process engine: {e}"))?;
    let transport = Arc::new(InProcess {
        queue: state.queue.clone(),
        engine: engine.id,
    });
    let executor = Arc::new(Executor::new(state.clock.clone()));
    let clock = state.clock.clone();
    Ok(tokio::spawn(async move {
        let stopped = runner::run(transport, executor, clock, RunnerConfig::default()).await;
        tracing::warn!(reason = %stopped, "the in-process engine stopped");
    }))
}

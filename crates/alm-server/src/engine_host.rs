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
use alm_store::instance_lock::InstanceLock;
use alm_store::jobs;
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
        e @ ServiceError::LeaseLost => TransportError::LeaseLost(e.to_string()),
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
                // This process's own leases: a stopped process's are given back at start
                // (below), by its instance lock.
                None,
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
    // Claim this process's leases as alive before looking at others' (two processes starting
    // together then see each other as alive).
    let alive = InstanceLock::acquire(&state.db, &state.queue.instance)
        .await
        .map_err(|e| anyhow::anyhow!("cannot take this process's instance lock: {e}"))?;
    give_back_leases_of_stopped_processes(&state, engine.id)
        .await
        .map_err(|e| anyhow::anyhow!("cannot give back the leases of a stopped process: {e}"))?;
    let transport = Arc::new(InProcess {
        queue: state.queue.clone(),
        engine: engine.id,
    });
    let nameservers = state
        .config
        .engines
        .nameservers
        .iter()
        .map(|n| n.0)
        .collect();
    let executor = Arc::new(Executor::new(state.clock.clone()).with_nameservers(nameservers));
    let clock = state.clock.clone();
    Ok(tokio::spawn(async move {
        let _alive = alive;
        let stopped = runner::run(transport, executor, clock, RunnerConfig::default()).await;
        tracing::warn!(reason = %stopped, "the in-process engine stopped");
    }))
}

/// Leases this host's in-process engine holds for server processes that are gone (killed,
/// crashed) can never be completed: they go back to the queue now instead of when their
/// deadline passes, so a restarted server picks its work up at once.
async fn give_back_leases_of_stopped_processes(
    state: &AppState,
    engine: EngineId,
) -> Result<(), alm_store::StoreError> {
    let others = {
        let mut conn = state.db.read().await?;
        jobs::lease_instances(&mut conn, engine, &state.queue.instance).await?
    };
    let mut given_back = 0;
    for instance in others {
        if InstanceLock::is_gone(&state.db, &instance).await? {
            let mut tx = state.db.begin_write().await?;
            given_back +=
                jobs::release_instance(&mut tx, engine, &instance, state.clock.now()).await?;
            tx.commit().await?;
        }
    }
    if given_back > 0 {
        tracing::info!(
            jobs = given_back,
            "gave back the job leases of a server process that stopped; they run again now"
        );
        state.queue.wake();
    }
    Ok(())
}

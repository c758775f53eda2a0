//! The job queue as the server runs it (SPEC §5): services queue jobs for a pool; engines
//! lease them (long poll), keep them with heartbeats and complete them. The queue knows no
//! feature: each kind's owner implements [`JobHandler`] (its task, what starting, success and
//! failure mean for its subject) and `job_handlers.rs` registers them, so the features import
//! the queue and the queue imports none of them. A result is applied by its handler in the same
//! transaction that marks the job done, so it counts once.
//!
//! A job's payload holds no secret: the connection an engine needs is opened from the sealed
//! settings when the job is leased, and handed only to the engine holding the lease.

use super::audit::{record, Subject};
use super::{Actor, ServiceError, ServiceResult};
use alm_core::job_kind::JobKind;
use alm_core::job_kind::JobStatus;
use alm_core::permissions::{perm, Can};
use alm_core::retry::{FailureClass, NextStep, RetryPolicy};
use alm_core::{Clock, EngineId, JobId, PoolId};
use alm_engine::protocol::{Completion, LeaseResponse, LeasedJob, Problem, Task, TaskResult};
use alm_store::crypto::MasterKey;
use alm_store::engines::{self, EngineRecord};
use alm_store::jobs::{self, JobRecord};
use alm_store::{Conn, Db, WriteTx};
use async_trait::async_trait;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::Notify;

/// The longest a lease request is held open.
const MAX_WAIT: Duration = Duration::from_secs(30);
/// How often a waiting request looks at the queue when no wake-up came (jobs queued by
/// another replica wake nobody here).
const POLL: Duration = Duration::from_millis(500);

/// What the owner of a kind of job does at each point of its life. Registered once per kind
/// (`job_handlers.rs`); the queue calls it and never names a feature.
#[async_trait]
pub trait JobHandler: Send + Sync {
    /// The task an engine runs for a leased job, with connections opened from sealed settings
    /// for this lease only. An error means alm's own data cannot make the task.
    async fn task(&self, conn: &mut Conn, key: &MasterKey, job: &JobRecord)
        -> Result<Task, String>;

    /// Whether a job whose task cannot be made fails through [`JobHandler::failed`] (its
    /// subject shows why, a person fixes it) rather than silently.
    fn reports_unmade_tasks(&self) -> bool {
        false
    }

    /// An engine took the job (inside the lease's transaction).
    async fn started(
        &self,
        _tx: &mut WriteTx,
        _job: &JobRecord,
        _now: OffsetDateTime,
    ) -> ServiceResult<()> {
        Ok(())
    }

    /// Applies the engine's result: finishes the job under `lease_id` and records what it
    /// means, in one transaction — or hands a failure to [`Queue::failed`].
    async fn complete(&self, done: Done<'_>, result: TaskResult) -> ServiceResult<()>;

    /// An attempt failed (inside the transaction that queued the job again or failed it).
    async fn failed(&self, _tx: &mut WriteTx, _attempt: &FailedAttempt<'_>) -> ServiceResult<()> {
        Ok(())
    }

    /// The problem in a result that means the way to the domain controller is broken (network,
    /// certificate, bind), for the SIEM alert `engine.cannot-reach-domain`.
    fn way_to_the_dc_broken<'r>(
        &self,
        _job: &JobRecord,
        _result: &'r TaskResult,
    ) -> Option<&'r Problem> {
        None
    }
}

/// The job kinds' handlers.
pub type Handlers = BTreeMap<JobKind, Arc<dyn JobHandler>>;

/// A completion as a handler receives it.
pub struct Done<'a> {
    pub queue: &'a Queue,
    pub job: &'a JobRecord,
    pub lease_id: &'a str,
    pub engine: &'a EngineRecord,
    /// The engine, as the actor of the audit records the result writes.
    pub actor: &'a Actor,
}

impl Done<'_> {
    /// The engine answered with a result of another kind: a failed attempt.
    pub async fn unexpected(&self, result: TaskResult) -> ServiceResult<()> {
        let error = format!(
            "the engine answered a {} job with a result of another kind ({result:?})",
            self.job.kind
        );
        self.queue
            .failed(self.job, self.lease_id, Failure::unclassified(error))
            .await
    }
}

/// The directory problems that mean the way to the DC is broken, not the task.
pub const WAY_TO_THE_DC: [&str; 3] = ["unreachable", "tls", "bad-credentials"];

/// `problem` when it says the way to the DC is broken.
pub fn way_to_the_dc(problem: Option<&Problem>) -> Option<&Problem> {
    problem.filter(|p| WAY_TO_THE_DC.contains(&p.problem.as_str()))
}

/// Why an attempt failed, and whether waiting can help.
#[derive(Debug, Clone)]
pub struct Failure {
    pub class: FailureClass,
    pub message: String,
}

impl Failure {
    /// An engine's problem report (`unreachable: …`).
    pub fn from_problem(p: &Problem) -> Self {
        Self {
            class: FailureClass::of_problem(&p.problem),
            message: format!("{}: {}", p.problem, p.message),
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            class: FailureClass::Permanent,
            message: message.into(),
        }
    }

    pub fn unclassified(message: impl Into<String>) -> Self {
        Self {
            class: FailureClass::Unclassified,
            message: message.into(),
        }
    }
}

/// A failed attempt as the kind's handler hears of it.
pub struct FailedAttempt<'a> {
    pub queue: &'a Queue,
    pub job: &'a JobRecord,
    /// Why it failed (at most 2,000 characters).
    pub reason: &'a str,
    pub now: OffsetDateTime,
    pub after: AfterFailure,
}

/// What became of a job after a failed attempt, for the feature that owns its subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Queued again; the next attempt is not before this instant.
    RetryAt(OffsetDateTime),
    /// Failed for good.
    GaveUp,
}

/// What a service asks for.
pub struct NewJob<'a> {
    pub kind: JobKind,
    pub pool: PoolId,
    /// Only this engine may run it (calibration).
    pub engine: Option<EngineId>,
    pub subject_type: &'static str,
    pub subject_id: String,
    pub payload: serde_json::Value,
    /// At most one live job per key.
    pub dedupe_key: Option<String>,
    pub actor: &'a Actor,
}

/// The queue, shared by the API, the scheduler and the in-process engine.
pub struct Queue {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub key: Arc<MasterKey>,
    pub lease: Duration,
    /// alm's public base URL, for links in notifications.
    pub base_url: String,
    handlers: Handlers,
    /// This server process (random at each start): the in-process engine's leases carry it,
    /// so the next process can tell its dead predecessor's leases from a live replica's.
    pub instance: String,
    queued: Notify,
    finished: Notify,
}

impl Queue {
    pub fn new(
        db: Db,
        clock: Arc<dyn Clock>,
        key: Arc<MasterKey>,
        lease: Duration,
        base_url: String,
        handlers: Handlers,
    ) -> Self {
        Self {
            db,
            clock,
            key,
            lease,
            base_url,
            handlers,
            instance: uuid::Uuid::new_v4().to_string(),
            queued: Notify::new(),
            finished: Notify::new(),
        }
    }

    /// Queues a job inside the caller's transaction; call [`Queue::wake`] after the commit.
    pub async fn enqueue(&self, tx: &mut Conn, new: NewJob<'_>) -> ServiceResult<JobRecord> {
        let now = self.clock.now();
        let policy = new.kind.retry_policy();
        let job = JobRecord {
            id: JobId::new_v7(now),
            kind: new.kind,
            pool_id: new.pool,
            engine_id: new.engine,
            subject_type: new.subject_type.into(),
            subject_id: new.subject_id,
            payload: new.payload.to_string(),
            dedupe_key: new.dedupe_key,
            status: JobStatus::Queued,
            attempts: 0,
            max_attempts: i64::from(policy.max_attempts),
            retry_until_done: policy.until_done,
            not_before: now,
            lease_id: None,
            leased_by: None,
            leased_at: None,
            lease_expires_at: None,
            lease_instance: None,
            result: None,
            error: None,
            requested_by: super::actor_to_json(new.actor),
            created_at: now,
            updated_at: now,
            finished_at: None,
        };
        Ok(jobs::enqueue(tx, &job).await?)
    }

    /// Wakes engines waiting for work in this process.
    pub fn wake(&self) {
        self.queued.notify_waiters();
    }

    /// Waits until every job is finished or `timeout` passes; returns them as they are then.
    pub async fn wait(&self, ids: &[JobId], timeout: Duration) -> ServiceResult<Vec<JobRecord>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.finished.notified();
            let current = {
                let mut conn = self.db.read().await?;
                let mut out = Vec::with_capacity(ids.len());
                for id in ids {
                    if let Some(j) = jobs::get(&mut conn, *id).await? {
                        out.push(j);
                    }
                }
                out
            };
            if current.iter().all(JobRecord::is_finished) || tokio::time::Instant::now() >= deadline
            {
                return Ok(current);
            }
            let _ =
                tokio::time::timeout_at(deadline.min(tokio::time::Instant::now() + POLL), notified)
                    .await;
        }
    }

    /// Leases jobs of the engine's pool, waiting up to `wait` for one to arrive. `running`: the
    /// jobs a remote engine's process says it is running; its other leases go back to the
    /// queue first (see [`Queue::give_back_not_running`]).
    pub async fn lease(
        &self,
        engine: &EngineRecord,
        wait: Duration,
        max: u32,
        running: Option<&[String]>,
    ) -> ServiceResult<LeaseResponse> {
        let deadline = tokio::time::Instant::now() + wait.min(MAX_WAIT);
        let max = i64::from(max.clamp(1, 16));
        if let Some(running) = running.filter(|_| !engine.in_process) {
            self.give_back_not_running(engine, running).await?;
        }
        loop {
            let notified = self.queued.notified();
            let leased = self.lease_now(engine, max).await?;
            if !leased.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(LeaseResponse {
                    jobs: leased,
                    heartbeat_seconds: self.heartbeat_seconds(),
                });
            }
            let _ =
                tokio::time::timeout_at(deadline.min(tokio::time::Instant::now() + POLL), notified)
                    .await;
        }
    }

    /// Gives back to the queue the leases a remote engine holds on jobs it is not running: a
    /// process of the engine killed while holding them (the engine restarted with its state
    /// file), or an answer carrying them that never arrived. Nobody would complete them, and
    /// their deadline (`engines.lease_seconds`) would hold the work up for nothing — the same
    /// reasoning as the in-process engine's leases of a stopped server process
    /// (`engine_host.rs`). Read first, so an engine holding nothing stale writes nothing.
    async fn give_back_not_running(
        &self,
        engine: &EngineRecord,
        running: &[String],
    ) -> ServiceResult<()> {
        let stale: Vec<(String, String)> = {
            let mut conn = self.db.read().await?;
            jobs::remote_engine_leases(&mut conn, engine.id)
                .await?
                .into_iter()
                .filter(|(id, _)| !running.contains(id))
                .collect()
        };
        if stale.is_empty() {
            return Ok(());
        }
        let now = self.clock.now();
        let mut tx = self.db.begin_write().await?;
        let mut given_back = 0;
        for (id, lease_id) in &stale {
            given_back += usize::from(jobs::release_lease(&mut tx, id, lease_id, now).await?);
        }
        tx.commit().await?;
        if given_back > 0 {
            tracing::info!(
                engine = %engine.id,
                jobs = given_back,
                "gave back the job leases an engine is not running (it restarted, or never got them); they run again now"
            );
            self.wake();
        }
        Ok(())
    }

    /// A third of the lease, so two heartbeats may be lost before a lease runs out.
    pub fn heartbeat_seconds(&self) -> u32 {
        (self.lease.as_secs() / 3).max(1) as u32
    }

    async fn lease_now(&self, engine: &EngineRecord, max: i64) -> ServiceResult<Vec<LeasedJob>> {
        let now = self.clock.now();
        {
            let mut conn = self.db.read().await?;
            let Some(current) = engines::engine(&mut conn, engine.id).await? else {
                // Removed while it waited: its credential is gone, and so is this request.
                return Err(ServiceError::Unauthenticated(
                    "the engine was removed".into(),
                ));
            };
            let pool = current.pool_id.filter(|_| current.active);
            if !jobs::anything_due(&mut conn, pool, engine.id, now).await? {
                return Ok(Vec::new());
            }
        }
        let mut tx = self.db.begin_write().await?;
        let expired = jobs::expire_leases(&mut tx, now).await?;
        // Only an active engine of a pool gets work (read again inside the transaction).
        let current = engines::engine(&mut tx, engine.id).await?;
        let current_in_process = current.as_ref().is_some_and(|c| c.in_process);
        let leased = match current.and_then(|c| c.pool_id.filter(|_| c.active)) {
            Some(pool) => {
                let until = now + self.lease;
                let instance = current_in_process.then_some(self.instance.as_str());
                jobs::lease(&mut tx, pool, engine.id, instance, max, now, until).await?
            }
            None => Vec::new(),
        };
        // The subjects show the work started in the lease's own transaction, so nobody reads a
        // new attempt counted while its subject still shows the last one's outcome.
        for job in &leased {
            self.handler(job.kind)?.started(&mut tx, job, now).await?;
        }
        tx.commit().await?;
        if expired > 0 {
            tracing::warn!(expired, "job leases expired; the jobs are queued again");
        }
        let mut out = Vec::new();
        for job in leased {
            let handler = self.handler(job.kind)?;
            let task = {
                let mut conn = self.db.read().await?;
                handler.task(&mut conn, &self.key, &job).await
            };
            let lease_id = job.lease_id.clone().unwrap_or_default();
            match task {
                Ok(task) => out.push(LeasedJob {
                    job_id: job.id.to_string(),
                    lease_id,
                    lease_expires_at: job.lease_expires_at.unwrap_or(now),
                    task,
                }),
                // alm's own settings cannot make the task (a gMSA reader without a synced
                // account, a template whose vault is gone): failed with the reason on the
                // subject, for a person to fix and retry.
                Err(why) if handler.reports_unmade_tasks() => {
                    self.failed(&job, &lease_id, Failure::permanent(why))
                        .await?;
                }
                Err(why) => {
                    // The subject is gone or unreadable: the job can never run.
                    let mut tx = self.db.begin_write().await?;
                    jobs::finish(
                        &mut tx,
                        job.id,
                        &lease_id,
                        JobStatus::Failed,
                        None,
                        Some(&why),
                        now,
                    )
                    .await?;
                    tx.commit().await?;
                    self.finished.notify_waiters();
                }
            }
        }
        Ok(out)
    }

    fn handler(&self, kind: JobKind) -> ServiceResult<Arc<dyn JobHandler>> {
        self.handlers.get(&kind).cloned().ok_or_else(|| {
            ServiceError::Store(alm_store::StoreError::Corrupt(format!(
                "no handler is registered for {kind} jobs"
            )))
        })
    }

    /// Extends the leases of the jobs the engine is still working on.
    pub async fn heartbeat(&self, engine: &EngineRecord, job_ids: &[String]) -> ServiceResult<()> {
        let ids: Vec<JobId> = job_ids.iter().filter_map(|j| j.parse().ok()).collect();
        if ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.db.begin_write().await?;
        jobs::extend(&mut tx, engine.id, &ids, self.clock.now() + self.lease).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Takes an engine's report on a job it holds. Refused (409) when the lease is not the
    /// engine's any more: the job was given to another engine, or it finished.
    pub async fn complete(
        &self,
        engine: &EngineRecord,
        job_id: JobId,
        completion: Completion,
    ) -> ServiceResult<()> {
        let job = {
            let mut conn = self.db.read().await?;
            jobs::get(&mut conn, job_id)
                .await?
                .ok_or(ServiceError::NotFound { what: "job" })?
        };
        if job.status != JobStatus::Leased
            || job.leased_by != Some(engine.id)
            || job.lease_id.as_deref() != Some(completion.lease_id())
        {
            return Err(lease_lost());
        }
        let actor = Actor::of_engine(engine);
        let handler = self.handler(job.kind)?;
        let outcome = match completion {
            Completion::Failed { lease_id, error } => {
                self.failed(&job, &lease_id, Failure::unclassified(error))
                    .await
            }
            Completion::Done { lease_id, result } => {
                // Alerted before the result is applied, so whoever waits for the job finds the
                // alert recorded when it sees the job done (the engine's finding stands even if
                // its lease was lost meanwhile).
                if let Some(p) = handler.way_to_the_dc_broken(&job, &result) {
                    self.alert_cannot_reach(&job, engine, &actor, p).await?;
                }
                let done = Done {
                    queue: self,
                    job: &job,
                    lease_id: &lease_id,
                    engine,
                    actor: &actor,
                };
                match handler.complete(done, result).await {
                    // A result that cannot be applied (alm's data refuses it, or the store
                    // fails) is recorded on the job as a failed attempt, not dropped with the
                    // engine's report; only a lost lease leaves the job to its new holder.
                    Err(ServiceError::LeaseLost) => Err(ServiceError::LeaseLost),
                    Err(e) => {
                        tracing::warn!(job = %job.id, error = %e, "an engine's result could not be applied");
                        let why = format!("the engine's result could not be applied: {e}");
                        self.failed(&job, &lease_id, Failure::unclassified(why))
                            .await
                            .map_err(|_| e)
                    }
                    other => other,
                }
            }
        };
        self.finished.notify_waiters();
        outcome
    }

    /// SPEC §7.5 "engine cannot reach its domain": an alert in the audit log (and so in every
    /// SIEM) naming the engine, the job and the kind of failure, each time a directory task
    /// finds the way to the DC broken.
    async fn alert_cannot_reach(
        &self,
        job: &JobRecord,
        engine: &EngineRecord,
        actor: &Actor,
        p: &Problem,
    ) -> ServiceResult<()> {
        let mut tx = self.db.begin_write().await?;
        record(
            &mut tx,
            self.clock.as_ref(),
            actor,
            "engine.cannot-reach-domain",
            Subject::new(&job.subject_type, &job.subject_id),
            json!({"alert": true, "engine_id": engine.id.to_string(), "engine": engine.name,
                   "job_id": job.id.to_string(), "job_kind": job.kind, "problem": p.problem,
                   "message": p.message.chars().take(500).collect::<String>()}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The engine could not run the job: queued again after a pause that doubles with each
    /// attempt (for as long as the failure is transient, for directory and vault changes), or
    /// failed for good (core's `RetryPolicy` decides).
    pub(crate) async fn failed(
        &self,
        job: &JobRecord,
        lease_id: &str,
        failure: Failure,
    ) -> ServiceResult<()> {
        let now = self.clock.now();
        let error: String = failure.message.chars().take(2000).collect();
        let policy = RetryPolicy {
            until_done: job.retry_until_done,
            max_attempts: u32::try_from(job.max_attempts).unwrap_or(1),
            ..RetryPolicy::BOUNDED
        };
        let attempts = u32::try_from(job.attempts).unwrap_or(u32::MAX);
        let after = match policy.after_failure(failure.class, attempts) {
            NextStep::RetryAfter(pause) => AfterFailure::RetryAt(now + pause),
            NextStep::GiveUp => AfterFailure::GaveUp,
        };
        let mut tx = self.db.begin_write().await?;
        let held = match after {
            AfterFailure::GaveUp => {
                jobs::finish(
                    &mut tx,
                    job.id,
                    lease_id,
                    JobStatus::Failed,
                    None,
                    Some(&error),
                    now,
                )
                .await?
            }
            AfterFailure::RetryAt(at) => {
                jobs::retry_later(&mut tx, job.id, lease_id, &error, at, now).await?
            }
        };
        if !held {
            return Err(lease_lost());
        }
        let attempt = FailedAttempt {
            queue: self,
            job,
            reason: &error,
            now,
            after,
        };
        self.handler(job.kind)?.failed(&mut tx, &attempt).await?;
        tx.commit().await?;
        self.wake();
        Ok(())
    }

    /// A job for people to read.
    pub async fn get(&self, can: &Can<perm::EngineRead>, id: JobId) -> ServiceResult<JobRecord> {
        let _ = can;
        let mut conn = self.db.read().await?;
        jobs::get(&mut conn, id)
            .await?
            .ok_or(ServiceError::NotFound { what: "job" })
    }

    /// One page of jobs (of one status), and how many match.
    pub async fn list(
        &self,
        can: &Can<perm::EngineRead>,
        status: Option<alm_core::job_kind::JobStatus>,
        page: &alm_core::paging::PageRequest,
    ) -> ServiceResult<(Vec<JobRecord>, u64)> {
        let _ = can;
        let mut conn = self.db.read().await?;
        Ok(jobs::page(&mut conn, status, page).await?)
    }

    /// Tells waiters that jobs finished (used after an out-of-band change).
    pub fn notify_finished(&self) {
        self.finished.notify_waiters();
    }
}

pub fn lease_lost() -> ServiceError {
    ServiceError::LeaseLost
}

/// The active engines of a pool (for calibration), or a clear refusal when there are none.
pub async fn active_engines(db: &Db, pool: PoolId) -> ServiceResult<Vec<EngineRecord>> {
    let mut conn = db.read().await?;
    Ok(engines::active_engines(&mut conn, pool).await?)
}

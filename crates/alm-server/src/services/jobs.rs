//! The job queue as the server runs it (SPEC §5): services queue jobs for a pool; engines
//! lease them (long poll), keep them with heartbeats and complete them; each kind of result is
//! applied here in the same transaction that marks the job done, so a result counts once.
//!
//! A job's payload holds no secret: the connection an engine needs is opened from the sealed
//! settings when the job is leased, and handed only to the engine holding the lease.

use super::audit::{record, Subject};
use super::{Actor, ServiceError, ServiceResult};
use alm_core::permissions::{perm, Can};
use alm_core::{Clock, EngineId, JobId, PoolId};
use alm_engine::protocol::{Completion, LeaseResponse, LeasedJob, SyncMode, Task, TaskResult};
use alm_store::crypto::MasterKey;
use alm_store::engines::{self, EngineRecord};
use alm_store::jobs::{self, JobRecord, FAILED, LEASED, QUEUED, SUCCEEDED};
use alm_store::{domains, vaults, Conn, Db};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

pub const KIND_DOMAIN_CHECK: &str = "domain-check";
pub const KIND_DOMAIN_SYNC: &str = "domain-sync";
pub const KIND_VAULT_CHECK: &str = "vault-check";
pub const KIND_PROVISION: &str = "provision";
pub const KIND_VAULT_SYNC: &str = "vault-sync";

/// Attempts before a job fails for good.
pub const MAX_ATTEMPTS: i64 = 5;
/// The longest a lease request is held open.
const MAX_WAIT: Duration = Duration::from_secs(30);
/// How often a waiting request looks at the queue when no wake-up came (jobs queued by
/// another replica wake nobody here).
const POLL: Duration = Duration::from_millis(500);

/// What a service asks for.
pub struct NewJob<'a> {
    pub kind: &'static str,
    pub pool: PoolId,
    /// Only this engine may run it (calibration).
    pub engine: Option<EngineId>,
    pub subject_type: &'static str,
    pub subject_id: String,
    pub payload: Value,
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
    ) -> Self {
        Self {
            db,
            clock,
            key,
            lease,
            base_url,
            queued: Notify::new(),
            finished: Notify::new(),
        }
    }

    /// Queues a job inside the caller's transaction; call [`Queue::wake`] after the commit.
    pub async fn enqueue(&self, tx: &mut Conn, new: NewJob<'_>) -> ServiceResult<JobRecord> {
        let now = self.clock.now();
        let job = JobRecord {
            id: JobId::new_v7(now),
            kind: new.kind.into(),
            pool_id: new.pool,
            engine_id: new.engine,
            subject_type: new.subject_type.into(),
            subject_id: new.subject_id,
            payload: new.payload.to_string(),
            dedupe_key: new.dedupe_key,
            status: QUEUED.into(),
            attempts: 0,
            max_attempts: MAX_ATTEMPTS,
            not_before: now,
            lease_id: None,
            leased_by: None,
            leased_at: None,
            lease_expires_at: None,
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

    /// Leases jobs of the engine's pool, waiting up to `wait` for one to arrive.
    pub async fn lease(
        &self,
        engine: &EngineRecord,
        wait: Duration,
        max: u32,
    ) -> ServiceResult<LeaseResponse> {
        let deadline = tokio::time::Instant::now() + wait.min(MAX_WAIT);
        let max = i64::from(max.clamp(1, 16));
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
        let leased = match current.and_then(|c| c.pool_id.filter(|_| c.active)) {
            Some(pool) => {
                let until = now + self.lease;
                jobs::lease(&mut tx, pool, engine.id, max, now, until).await?
            }
            None => Vec::new(),
        };
        tx.commit().await?;
        if expired > 0 {
            tracing::warn!(expired, "job leases expired; the jobs are queued again");
        }
        let mut out = Vec::new();
        for job in leased {
            if job.kind == KIND_PROVISION {
                let mut tx = self.db.begin_write().await?;
                super::provisioning::started(&mut tx, &job, now).await?;
                tx.commit().await?;
            }
            match self.task_for(&job).await {
                Ok(task) => out.push(LeasedJob {
                    job_id: job.id.to_string(),
                    lease_id: job.lease_id.clone().unwrap_or_default(),
                    lease_expires_at: job.lease_expires_at.unwrap_or(now),
                    task,
                }),
                Err(why) if job.kind == KIND_PROVISION => {
                    // What provisioning needs may come right (a gMSA reader synced later):
                    // retried with back-off, and the request shows the reason meanwhile.
                    self.failed(&job, job.lease_id.as_deref().unwrap_or_default(), &why)
                        .await?;
                }
                Err(why) => {
                    // The subject is gone or unreadable: the job can never run.
                    let mut tx = self.db.begin_write().await?;
                    jobs::finish(
                        &mut tx,
                        job.id,
                        job.lease_id.as_deref().unwrap_or_default(),
                        FAILED,
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

    /// The task an engine runs for a job, with the connection opened from sealed settings.
    async fn task_for(&self, job: &JobRecord) -> Result<Task, String> {
        let mut conn = self.db.read().await.map_err(|e| e.to_string())?;
        let unreadable = |e: ServiceError| e.to_string();
        match job.kind.as_str() {
            KIND_DOMAIN_CHECK | KIND_DOMAIN_SYNC => {
                let id = job
                    .subject_id
                    .parse()
                    .map_err(|_| format!("bad domain id {:?}", job.subject_id))?;
                let domain = domains::get(&mut conn, id)
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or("the domain was removed")?;
                let connection =
                    super::domains::connection(&domain, &self.key).map_err(unreadable)?;
                if job.kind == KIND_DOMAIN_CHECK {
                    return Ok(Task::DomainCheck { domain: connection });
                }
                let payload: Value = serde_json::from_str(&job.payload).unwrap_or_default();
                let mode = match payload["mode"].as_str() {
                    Some("full") => SyncMode::Full,
                    _ => SyncMode::Incremental,
                };
                Ok(Task::DomainSync {
                    domain: connection,
                    mode,
                    since_usn: payload["since_usn"].as_i64().unwrap_or(0),
                })
            }
            KIND_VAULT_CHECK => {
                let id = job
                    .subject_id
                    .parse()
                    .map_err(|_| format!("bad vault id {:?}", job.subject_id))?;
                let vault = vaults::get(&mut conn, id)
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or("the vault was removed")?;
                Ok(Task::VaultCheck {
                    vault: super::vaults::connection(&vault, &self.key).map_err(unreadable)?,
                })
            }
            KIND_PROVISION => super::provisioning::task(&mut conn, &self.key, job).await,
            super::lifecycle::KIND_ACCOUNT_CHANGE => {
                super::lifecycle::task(&mut conn, &self.key, job).await
            }
            KIND_VAULT_SYNC => super::vault_sync::task(&mut conn, &self.key, job).await,
            other => Err(format!("unknown job kind {other:?}")),
        }
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
        if job.status != LEASED
            || job.leased_by != Some(engine.id)
            || job.lease_id.as_deref() != Some(completion.lease_id())
        {
            return Err(lease_lost());
        }
        let actor = super::engines::engine_actor(engine);
        let cannot_reach = cannot_reach_domain(&job, &completion);
        let outcome = match completion {
            Completion::Failed { lease_id, error } => self.failed(&job, &lease_id, &error).await,
            Completion::Done { lease_id, result } => match (job.kind.as_str(), result) {
                (KIND_DOMAIN_CHECK | KIND_VAULT_CHECK, TaskResult::Check { message, problem }) => {
                    self.calibrated(&job, &lease_id, engine, &actor, &message, problem)
                        .await
                }
                (KIND_DOMAIN_SYNC, TaskResult::DomainSync { snapshot, problem }) => {
                    let read = match (snapshot, problem) {
                        (Some(s), _) => Ok(s),
                        (None, Some(p)) => Err(p.message),
                        (None, None) => Err("the engine read nothing".into()),
                    };
                    super::domain_sync::apply(self, &job, &lease_id, &actor, read)
                        .await
                        .map(drop)
                }
                (KIND_VAULT_SYNC, TaskResult::VaultSync { missing, problem }) => {
                    let result = match problem {
                        Some(p) => Err(p),
                        None => Ok(missing),
                    };
                    super::vault_sync::complete(self, &job, &lease_id, &actor, result).await
                }
                (KIND_PROVISION, TaskResult::Provisioned { account, problem }) => {
                    let result = match (account, problem) {
                        (Some(a), None) => Ok(a),
                        (_, Some(p)) => Err(p),
                        (None, None) => Err(alm_engine::protocol::Problem {
                            problem: "other".into(),
                            message: "the engine reported nothing".into(),
                        }),
                    };
                    super::provisioning::complete(self, &job, &lease_id, &actor, result).await
                }
                (
                    super::lifecycle::KIND_ACCOUNT_CHANGE,
                    TaskResult::AccountChanged { dn, problem },
                ) => {
                    let result = match problem {
                        Some(p) => Err(p),
                        None => Ok(dn),
                    };
                    super::lifecycle::complete(self, &job, &lease_id, &actor, result).await
                }
                (_, other) => {
                    let error = format!(
                        "the engine answered a {} job with a result of another kind ({other:?})",
                        job.kind
                    );
                    self.failed(&job, &lease_id, &error).await
                }
            },
        };
        self.finished.notify_waiters();
        if let (Ok(()), Some(p)) = (&outcome, cannot_reach) {
            self.alert_cannot_reach(&job, engine, &actor, &p).await?;
        }
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
        p: &alm_engine::protocol::Problem,
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
    /// attempt, or failed for good after the last one.
    pub(crate) async fn failed(
        &self,
        job: &JobRecord,
        lease_id: &str,
        error: &str,
    ) -> ServiceResult<()> {
        let now = self.clock.now();
        let error: String = error.chars().take(2000).collect();
        let mut tx = self.db.begin_write().await?;
        let held = if job.attempts >= job.max_attempts {
            jobs::finish(&mut tx, job.id, lease_id, FAILED, None, Some(&error), now).await?
        } else {
            let pause = time::Duration::seconds(5 * 2_i64.pow(job.attempts.clamp(0, 10) as u32));
            jobs::retry_later(&mut tx, job.id, lease_id, &error, now + pause, now).await?
        };
        if !held {
            return Err(lease_lost());
        }
        if job.kind == KIND_PROVISION {
            super::provisioning::failed(self, &mut tx, job, &error, now).await?;
        }
        if job.kind == super::lifecycle::KIND_ACCOUNT_CHANGE {
            super::lifecycle::failed(&mut tx, job, &error, now).await?;
        }
        tx.commit().await?;
        self.wake();
        Ok(())
    }

    /// A calibration answer: which engine can reach the domain or vault, recorded per engine.
    async fn calibrated(
        &self,
        job: &JobRecord,
        lease_id: &str,
        engine: &EngineRecord,
        actor: &Actor,
        message: &str,
        problem: Option<alm_engine::protocol::Problem>,
    ) -> ServiceResult<()> {
        let now = self.clock.now();
        let target = if job.kind == KIND_VAULT_CHECK {
            "vault"
        } else {
            "domain"
        };
        let ok = problem.is_none();
        let kind = problem.as_ref().map(|p| p.problem.clone());
        let summary = json!({"ok": ok, "problem": kind, "message": message});
        let mut tx = self.db.begin_write().await?;
        if !jobs::finish(
            &mut tx,
            job.id,
            lease_id,
            SUCCEEDED,
            Some(&summary.to_string()),
            None,
            now,
        )
        .await?
        {
            return Err(lease_lost());
        }
        let message: String = message.chars().take(2000).collect();
        engines::record_calibration(
            &mut tx,
            &engines::CalibrationAnswer {
                target_type: target,
                target_id: &job.subject_id,
                engine_id: engine.id,
                ok,
                problem: kind.as_deref(),
                message: &message,
                at: now,
            },
        )
        .await?;
        record(
            &mut tx,
            self.clock.as_ref(),
            actor,
            &format!("{target}.calibrated"),
            Subject::new(target, &job.subject_id),
            json!({"engine_id": engine.id.to_string(), "ok": ok, "problem": kind}),
        )
        .await?;
        tx.commit().await?;
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
        status: Option<&str>,
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
    ServiceError::NotAllowed(
        "this engine no longer holds the job's lease (it expired and the job went to another engine, or the job has finished)"
            .into(),
    )
}

/// The active engines of a pool (for calibration), or a clear refusal when there are none.
pub async fn active_engines(db: &Db, pool: PoolId) -> ServiceResult<Vec<EngineRecord>> {
    let mut conn = db.read().await?;
    Ok(engines::active_engines(&mut conn, pool).await?)
}

/// The directory failure in an engine's report that means the way to the domain controller is
/// broken (network, certificate, bind), not the task itself: for domain checks, syncs and
/// account changes (a secret move is vault work).
fn cannot_reach_domain(
    job: &JobRecord,
    completion: &Completion,
) -> Option<alm_engine::protocol::Problem> {
    const WAY_TO_THE_DC: [&str; 3] = ["unreachable", "tls", "bad-credentials"];
    let Completion::Done { result, .. } = completion else {
        return None;
    };
    let problem = match (job.kind.as_str(), result) {
        (KIND_DOMAIN_CHECK, TaskResult::Check { problem, .. }) => problem.as_ref(),
        (KIND_DOMAIN_SYNC, TaskResult::DomainSync { problem, .. }) => problem.as_ref(),
        (super::lifecycle::KIND_ACCOUNT_CHANGE, TaskResult::AccountChanged { problem, .. })
            if serde_json::from_str::<Value>(&job.payload).unwrap_or_default()["change"]
                != "move-secret" =>
        {
            problem.as_ref()
        }
        _ => None,
    }?;
    WAY_TO_THE_DC
        .contains(&problem.problem.as_str())
        .then(|| problem.clone())
}

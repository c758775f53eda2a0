//! Calibration (SPEC §5): every active engine of a pool is asked to authenticate to a domain
//! or vault, and the answer of each is recorded. A check answers with the per-engine results
//! and is good when at least one engine can reach the target (that one will get the work).

use super::audit::{record, Subject};
use super::jobs::{lease_lost, way_to_the_dc, Done, JobHandler, NewJob, Queue};
use super::{Actor, ServiceResult};
use alm_core::job_kind::JobKind;
use alm_core::job_kind::JobStatus;
use alm_core::{EngineId, PoolId};
use alm_engine::protocol::{DomainConnection, Problem, Task, TaskResult, VaultConnection};
use alm_store::crypto::MasterKey;
use alm_store::engines;
use alm_store::jobs::{self, JobRecord};
use alm_store::{domains, vaults, Conn};
use serde::Serialize;
use serde_json::json;
use std::time::Duration;

/// The connection to the domain a job is about, opened from its sealed settings.
pub(crate) async fn domain_connection(
    conn: &mut Conn,
    key: &MasterKey,
    job: &JobRecord,
) -> Result<DomainConnection, String> {
    let id = job
        .subject_id
        .parse()
        .map_err(|_| format!("bad domain id {:?}", job.subject_id))?;
    let domain = domains::get(conn, id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the domain was removed")?;
    super::domains::connection(&domain, key).map_err(|e| e.to_string())
}

/// The connection to the vault a job is about, opened from its sealed settings.
async fn vault_connection(
    conn: &mut Conn,
    key: &MasterKey,
    job: &JobRecord,
) -> Result<VaultConnection, String> {
    let id = job
        .subject_id
        .parse()
        .map_err(|_| format!("bad vault id {:?}", job.subject_id))?;
    let vault = vaults::get(conn, id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the vault was removed")?;
    super::vaults::connection(&vault, key).map_err(|e| e.to_string())
}

/// `domain-check` jobs: one engine binds with the domain's stored credentials.
pub(crate) struct DomainCheckJobs;

#[async_trait::async_trait]
impl JobHandler for DomainCheckJobs {
    async fn task(
        &self,
        conn: &mut Conn,
        key: &MasterKey,
        job: &JobRecord,
    ) -> Result<Task, String> {
        Ok(Task::DomainCheck {
            domain: domain_connection(conn, key, job).await?,
        })
    }

    async fn complete(&self, done: Done<'_>, result: TaskResult) -> ServiceResult<()> {
        match result {
            TaskResult::Check { message, problem } => {
                calibrated(done, "domain", &message, problem).await
            }
            other => done.unexpected(other).await,
        }
    }

    fn way_to_the_dc_broken<'r>(
        &self,
        _job: &JobRecord,
        result: &'r TaskResult,
    ) -> Option<&'r Problem> {
        match result {
            TaskResult::Check { problem, .. } => way_to_the_dc(problem.as_ref()),
            _ => None,
        }
    }
}

/// `vault-check` jobs: one engine reaches the vault with its stored credential.
pub(crate) struct VaultCheckJobs;

#[async_trait::async_trait]
impl JobHandler for VaultCheckJobs {
    async fn task(
        &self,
        conn: &mut Conn,
        key: &MasterKey,
        job: &JobRecord,
    ) -> Result<Task, String> {
        Ok(Task::VaultCheck {
            vault: vault_connection(conn, key, job).await?,
        })
    }

    async fn complete(&self, done: Done<'_>, result: TaskResult) -> ServiceResult<()> {
        match result {
            TaskResult::Check { message, problem } => {
                calibrated(done, "vault", &message, problem).await
            }
            other => done.unexpected(other).await,
        }
    }
}

/// A calibration answer: which engine can reach the domain or vault, recorded per engine.
async fn calibrated(
    done: Done<'_>,
    target: &'static str,
    message: &str,
    problem: Option<Problem>,
) -> ServiceResult<()> {
    let Done {
        queue,
        job,
        lease_id,
        engine,
        actor,
    } = done;
    let now = queue.clock.now();
    let ok = problem.is_none();
    let kind = problem.as_ref().map(|p| p.problem.clone());
    let summary = json!({"ok": ok, "problem": kind, "message": message});
    let mut tx = queue.db.begin_write().await?;
    if !jobs::finish(
        &mut tx,
        job.id,
        lease_id,
        JobStatus::Succeeded,
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
        queue.clock.as_ref(),
        actor,
        &format!("{target}.calibrated"),
        Subject::new(target, &job.subject_id),
        json!({"engine_id": engine.id.to_string(), "ok": ok, "problem": kind}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// How long a check waits for the engines' answers before it reports what it has.
pub const CHECK_WAIT: Duration = Duration::from_secs(45);

/// One engine's answer.
#[derive(Debug, Clone, Serialize)]
pub struct EngineCheck {
    pub engine_id: EngineId,
    pub engine_name: String,
    pub ok: bool,
    pub problem: Option<String>,
    pub message: String,
}

/// The outcome of a connection test.
#[derive(Debug, Clone, Serialize)]
pub struct CheckOutcome {
    pub ok: bool,
    /// `unreachable`, `tls`, `bad-credentials`, `no-engine`, `timeout`, … when it failed.
    pub problem: Option<String>,
    pub message: String,
    /// What each engine of the pool found (empty for the built-in vault, checked by alm).
    pub engines: Vec<EngineCheck>,
}

fn answer(job: Option<&JobRecord>, name: &str) -> (bool, Option<String>, String) {
    match job {
        Some(j) if j.status == JobStatus::Succeeded => {
            match j
                .result
                .as_deref()
                .map(serde_json::from_str::<serde_json::Value>)
            {
                Some(Ok(v)) => (
                    v["ok"].as_bool().unwrap_or(false),
                    v["problem"].as_str().map(str::to_owned),
                    v["message"].as_str().unwrap_or_default().to_owned(),
                ),
                // Never read as a pass: the stored outcome is not what alm wrote.
                _ => (
                    false,
                    Some("corrupt".into()),
                    format!("the stored outcome of engine {name}'s check does not read back"),
                ),
            }
        }
        Some(j) if j.status == JobStatus::Failed => (
            false,
            Some("engine-failed".into()),
            format!(
                "engine {name} could not run the check: {}",
                j.error.as_deref().unwrap_or("no reason given")
            ),
        ),
        Some(j) => (
            false,
            Some("timeout".into()),
            format!(
                "engine {name} has not answered yet (job {}, {}); is it running?",
                j.id, j.status
            ),
        ),
        None => (
            false,
            Some("timeout".into()),
            format!("engine {name}: no job"),
        ),
    }
}

/// Asks every active engine of `pool` to check the target and waits for their answers.
pub async fn calibrate(
    queue: &Queue,
    actor: &Actor,
    kind: JobKind,
    target: &'static str,
    subject_id: String,
    pool: PoolId,
    wait: Duration,
) -> ServiceResult<CheckOutcome> {
    let engines = super::jobs::active_engines(&queue.db, pool).await?;
    if engines.is_empty() {
        return Ok(CheckOutcome {
            ok: false,
            problem: Some("no-engine".into()),
            message: format!(
                "no active engine serves this {target}'s pool: register one (`alm engine --server URL --token T`) and activate it, or move the {target} to a pool with an active engine"
            ),
            engines: vec![],
        });
    }
    let mut tx = queue.db.begin_write().await?;
    let mut ids = Vec::new();
    for engine in &engines {
        let job = queue
            .enqueue(
                &mut tx,
                NewJob {
                    kind,
                    pool,
                    engine: Some(engine.id),
                    subject_type: target,
                    subject_id: subject_id.clone(),
                    payload: json!({}),
                    dedupe_key: Some(format!("{kind}:{subject_id}:{}", engine.id)),
                    actor,
                },
            )
            .await?;
        ids.push(job.id);
    }
    tx.commit().await?;
    queue.wake();
    let jobs = queue.wait(&ids, wait).await?;
    let results: Vec<EngineCheck> = engines
        .iter()
        .zip(&ids)
        .map(|(engine, id)| {
            let (ok, problem, message) = answer(jobs.iter().find(|j| j.id == *id), &engine.name);
            EngineCheck {
                engine_id: engine.id,
                engine_name: engine.name.clone(),
                ok,
                problem,
                message,
            }
        })
        .collect();
    let good = results.iter().filter(|r| r.ok).count();
    let outcome = match results.iter().find(|r| r.ok) {
        Some(first) => CheckOutcome {
            ok: true,
            problem: None,
            message: format!(
                "{good} of {} engine(s) can reach it; {}",
                results.len(),
                first.message
            ),
            engines: results,
        },
        None => CheckOutcome {
            ok: false,
            problem: results[0].problem.clone(),
            message: results[0].message.clone(),
            engines: results,
        },
    };
    Ok(outcome)
}

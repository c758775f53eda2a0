//! Calibration (SPEC §5): every active engine of a pool is asked to authenticate to a domain
//! or vault, and the answer of each is recorded. A check answers with the per-engine results
//! and is good when at least one engine can reach the target (that one will get the work).

use super::jobs::{NewJob, Queue};
use super::{Actor, ServiceResult};
use alm_core::{EngineId, PoolId};
use alm_store::jobs::{JobRecord, FAILED, SUCCEEDED};
use serde::Serialize;
use serde_json::json;
use std::time::Duration;

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
        Some(j) if j.status == SUCCEEDED => {
            let v: serde_json::Value =
                serde_json::from_str(j.result.as_deref().unwrap_or("{}")).unwrap_or_default();
            (
                v["ok"].as_bool().unwrap_or(false),
                v["problem"].as_str().map(str::to_owned),
                v["message"].as_str().unwrap_or_default().to_owned(),
            )
        }
        Some(j) if j.status == FAILED => (
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
    kind: &'static str,
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

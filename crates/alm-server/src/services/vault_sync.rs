//! Vault sync (SPEC §7.6, §5): finds managed accounts whose secret is missing from their vault.
//! The built-in vault is checked here (it is alm's database); an external vault is checked by
//! an engine of its pool (a `vault-sync` job listing the secret ids), after the pool's engines
//! are calibrated against it, as SPEC §5 asks of every vault sync. Each account's
//! `secret_state` is updated, and an account whose secret went missing raises an alert.

use super::audit::{record, Subject};
use super::calibration::{calibrate, CheckOutcome, CHECK_WAIT};
use super::jobs::{lease_lost, Done, JobHandler, NewJob, Queue};
use super::refusal::Refusal;
use super::{Actor, ServiceError, ServiceResult};
use alm_core::account_state::SecretState;
use alm_core::dependencies::{Found, Source};
use alm_core::job_kind::JobKind;
use alm_core::job_kind::JobStatus;
use alm_core::permissions::{perm, Can};
use alm_core::VaultId;
use alm_engine::protocol::{Problem, SecretDependencies, Task, TaskResult, VaultService};
use alm_store::accounts::{self, AccountRecord};
use alm_store::dependencies as deps;
use alm_store::jobs::{self, JobRecord};
use alm_store::{vaults, Conn, WriteTx};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// What a vault sync found.
#[derive(Debug, Clone)]
pub struct VaultSyncOutcome {
    /// Accounts whose secret was looked for.
    pub checked: usize,
    /// Names of the accounts whose secret is missing.
    pub missing: Vec<String>,
    /// Services the vault records as using the accounts' secrets (SPEC §2.7), now kept as
    /// their dependencies; `None` for a kind of vault that keeps no such records.
    pub dependencies: Option<usize>,
    /// Calibration of the pool's engines (external vaults).
    pub calibration: Option<CheckOutcome>,
    /// Why the vault could not be read (nothing was changed then).
    pub error: Option<String>,
}

/// Updates each account's secret state and alerts on new losses; returns the missing names.
async fn apply(
    tx: &mut WriteTx,
    queue: &Queue,
    actor: &Actor,
    vault: VaultId,
    all: &[AccountRecord],
    missing_refs: &HashSet<String>,
    dependencies: Option<usize>,
) -> ServiceResult<Vec<String>> {
    let mut missing = Vec::new();
    for a in all {
        let now_missing = missing_refs.contains(&a.secret_ref);
        let state = if now_missing {
            SecretState::Missing
        } else {
            SecretState::Present
        };
        if now_missing {
            missing.push(a.name.clone());
        }
        if a.secret_state != state {
            accounts::set_secret_state(tx, a.id, state).await?;
            record(
                tx,
                queue.clock.as_ref(),
                actor,
                "account.secret-state-changed",
                Subject::new("account", a.id),
                json!({"name": a.name, "vault_id": vault.to_string(), "before": a.secret_state,
                       "after": state, "alert": now_missing}),
            )
            .await?;
        }
    }
    record(
        tx,
        queue.clock.as_ref(),
        actor,
        "vault.synced",
        Subject::new("vault", vault),
        json!({"checked": all.len(), "missing": missing.len(), "dependencies": dependencies}),
    )
    .await?;
    Ok(missing)
}

/// Runs a vault sync now and waits (a minute at most) for its answer.
pub async fn sync(
    queue: &Queue,
    can: &Can<perm::VaultUpdate>,
    actor: &Actor,
    id: VaultId,
) -> ServiceResult<VaultSyncOutcome> {
    let _ = can;
    let (vault, all) = {
        let mut conn = queue.db.read().await?;
        let vault = vaults::get(&mut conn, id)
            .await?
            .ok_or(ServiceError::NotFound { what: "vault" })?;
        (vault, accounts::in_vault(&mut conn, id).await?)
    };
    if vault.kind == super::vaults::KIND_BUILTIN {
        let mut tx = queue.db.begin_write().await?;
        let mut gone = HashSet::new();
        for a in &all {
            let present = match a.secret_ref.rsplit_once('/') {
                Some((folder, name)) => vaults::entry(&mut tx, id, folder, name).await?.is_some(),
                None => false,
            };
            if !present {
                gone.insert(a.secret_ref.clone());
            }
        }
        let missing = apply(&mut tx, queue, actor, id, &all, &gone, None).await?;
        tx.commit().await?;
        return Ok(VaultSyncOutcome {
            checked: all.len(),
            missing,
            dependencies: None,
            calibration: None,
            error: None,
        });
    }
    let pool = vault.pool_id.ok_or_else(|| {
        ServiceError::Refused(Refusal::Unconfigured("the vault has no engine pool".into()))
    })?;
    let calibration = calibrate(
        queue,
        actor,
        JobKind::VaultCheck,
        "vault",
        id.to_string(),
        pool,
        CHECK_WAIT,
    )
    .await?;
    let mut tx = queue.db.begin_write().await?;
    let job = queue
        .enqueue(
            &mut tx,
            NewJob {
                kind: JobKind::VaultSync,
                pool,
                engine: None,
                subject_type: "vault",
                subject_id: id.to_string(),
                payload: json!({}),
                dedupe_key: Some(format!("{}:{id}", JobKind::VaultSync)),
                actor,
            },
        )
        .await?;
    tx.commit().await?;
    queue.wake();
    let done = queue
        .wait(&[job.id], Duration::from_secs(60))
        .await?
        .pop()
        .unwrap_or(job);
    let result: SyncSummary = match (done.status, done.result.as_deref()) {
        (JobStatus::Succeeded, Some(text)) => serde_json::from_str(text).map_err(|e| {
            ServiceError::Store(alm_store::StoreError::Corrupt(format!(
                "jobs.result of job {}: {e}",
                done.id
            )))
        })?,
        _ => SyncSummary::default(),
    };
    let error = match done.status {
        JobStatus::Succeeded => result.error,
        JobStatus::Failed => Some(done.error.unwrap_or_else(|| "the vault sync failed".into())),
        _ => Some(format!("no engine answered yet (job {})", done.id)),
    };
    Ok(VaultSyncOutcome {
        checked: result.checked,
        missing: result.missing,
        dependencies: result.dependencies,
        calibration: Some(calibration),
        error,
    })
}

/// What a finished vault sync recorded on its job.
#[derive(Debug, Default, Serialize, Deserialize)]
struct SyncSummary {
    #[serde(default)]
    checked: usize,
    #[serde(default)]
    missing: Vec<String>,
    /// Services the vault records as using the accounts' secrets; absent for a kind of vault
    /// that keeps no such records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dependencies: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Replaces each account's vault-recorded dependencies with what the vault lists now (none
/// for a secret it no longer has); returns how many services it lists in all.
async fn store_dependencies(
    tx: &mut WriteTx,
    all: &[AccountRecord],
    records: &[SecretDependencies],
    now: time::OffsetDateTime,
    job_id: &str,
) -> ServiceResult<usize> {
    let by_secret: HashMap<&str, &[VaultService]> = records
        .iter()
        .map(|r| (r.secret_id.as_str(), r.services.as_slice()))
        .collect();
    let mut recorded = 0;
    for a in all {
        let guid = a.guid.to_ascii_lowercase();
        let found: Vec<Found> = by_secret
            .get(a.secret_ref.as_str())
            .map(|services| {
                services
                    .iter()
                    .map(|s| Found {
                        guid: guid.clone(),
                        host: s.host.trim().to_owned(),
                        service_name: s.service_name.trim().to_owned(),
                        display_name: s.kind.trim().to_owned(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        recorded += found.len();
        deps::replace(tx, a.domain_id, Source::Vault, &guid, &found, now, job_id).await?;
    }
    Ok(recorded)
}

/// `vault-sync` jobs.
pub(crate) struct VaultSyncJobs;

#[async_trait::async_trait]
impl JobHandler for VaultSyncJobs {
    async fn task(
        &self,
        conn: &mut Conn,
        key: &alm_store::crypto::MasterKey,
        job: &JobRecord,
    ) -> Result<Task, String> {
        task(conn, key, job).await
    }

    async fn complete(&self, done: Done<'_>, result: TaskResult) -> ServiceResult<()> {
        match result {
            TaskResult::VaultSync {
                missing,
                problem,
                dependencies,
            } => {
                let result = match problem {
                    Some(p) => Err(p),
                    None => Ok((missing, dependencies)),
                };
                complete(done.queue, done.job, done.lease_id, done.actor, result).await
            }
            other => done.unexpected(other).await,
        }
    }
}

/// The task of a leased vault-sync job: the vault's connection and its accounts' secret ids.
async fn task(
    conn: &mut Conn,
    key: &alm_store::crypto::MasterKey,
    job: &JobRecord,
) -> Result<Task, String> {
    let id: VaultId = job
        .subject_id
        .parse()
        .map_err(|_| "bad vault id".to_owned())?;
    let vault = vaults::get(conn, id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the vault was removed")?;
    let secret_ids = accounts::in_vault(conn, id)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|a| a.secret_ref)
        .collect();
    Ok(Task::VaultSync {
        vault: super::vaults::connection(&vault, key).map_err(|e| e.to_string())?,
        secret_ids,
    })
}

/// Applies an engine's answer, once (with the job's completion).
async fn complete(
    queue: &Queue,
    job: &JobRecord,
    lease_id: &str,
    engine_actor: &Actor,
    result: Result<(Vec<String>, Option<Vec<SecretDependencies>>), Problem>,
) -> ServiceResult<()> {
    let id: VaultId = job
        .subject_id
        .parse()
        .map_err(|_| ServiceError::NotFound { what: "vault" })?;
    let now = queue.clock.now();
    let mut tx = queue.db.begin_write().await?;
    // The vault could not be read: nothing changes, the run says why.
    let summary = match &result {
        Err(p) => SyncSummary {
            error: Some(format!("{}: {}", p.problem, p.message)),
            ..SyncSummary::default()
        },
        Ok((missing, dependencies)) => {
            let all = accounts::in_vault(&mut tx, id).await?;
            let gone: HashSet<String> = missing.iter().cloned().collect();
            let recorded = match dependencies {
                Some(records) => Some(
                    store_dependencies(&mut tx, &all, records, now, &job.id.to_string()).await?,
                ),
                None => None,
            };
            let names = apply(&mut tx, queue, engine_actor, id, &all, &gone, recorded).await?;
            SyncSummary {
                checked: all.len(),
                missing: names,
                dependencies: recorded,
                error: None,
            }
        }
    };
    let summary = serde_json::to_string(&summary).expect("a summary serialises");
    if !jobs::finish(
        &mut tx,
        job.id,
        lease_id,
        JobStatus::Succeeded,
        Some(&summary),
        None,
        now,
    )
    .await?
    {
        return Err(lease_lost());
    }
    tx.commit().await?;
    Ok(())
}

//! The directory side of a managed account's lifecycle (SPEC §4): a status changes at once in
//! the transaction that decides it (owner actions, the EOL sweep, renewals, migration), and
//! the directory follows through an `account-change` job — found by objectGUID, idempotent,
//! retried for as long as the DC is unreachable. A job that fails leaves a failure indicator on
//! the account (`problem`), cleared by the next success.

use super::audit::{record, Subject};
use super::jobs::{
    lease_lost, way_to_the_dc, AfterFailure, Done, FailedAttempt, Failure, JobHandler, NewJob,
    Queue,
};
use super::{Actor, ServiceError, ServiceResult};
use alm_core::job_kind::JobKind;
use alm_core::job_kind::JobStatus;
use alm_engine::protocol::{AccountChange, AccountChangeTask, Problem, Task, TaskResult};
use alm_store::accounts::{self, AccountRecord};
use alm_store::crypto::MasterKey;
use alm_store::jobs::{self, JobRecord};
use alm_store::{domains, vaults, Conn, WriteTx};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

/// What an `account-change` job is to do (its payload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "kebab-case")]
pub(crate) enum ChangeOrder {
    /// Disable, and move to the retirement OU when there is one.
    Disable {
        move_to: Option<String>,
    },
    Enable,
    /// Move to another OU.
    Move {
        to: String,
    },
    /// Write the account's EOL instant to `accountExpires`.
    SetExpires,
    /// Delete the directory object and its secret.
    Delete,
    /// Move the secret to another folder of the same (external) vault.
    MoveSecret {
        folder: String,
    },
}

impl ChangeOrder {
    /// The name the account's failure indicator and audit records use.
    fn name(&self) -> &'static str {
        match self {
            Self::Disable { .. } => "disable",
            Self::Enable => "enable",
            Self::Move { .. } => "move",
            Self::SetExpires => "set-expires",
            Self::Delete => "delete",
            Self::MoveSecret { .. } => "move-secret",
        }
    }

    fn of(job: &JobRecord) -> Result<Self, String> {
        serde_json::from_str(&job.payload)
            .map_err(|e| format!("job {}: unreadable account change ({e})", job.id))
    }
}

/// Queues the directory side of a lifecycle change.
pub(crate) async fn queue_change(
    queue: &Queue,
    tx: &mut Conn,
    a: &AccountRecord,
    change: ChangeOrder,
    actor: &Actor,
) -> ServiceResult<()> {
    let pool = super::domains::pool_of(tx, a.domain_id).await?;
    queue
        .enqueue(
            tx,
            NewJob {
                kind: JobKind::AccountChange,
                pool,
                engine: None,
                subject_type: "account",
                subject_id: a.id.to_string(),
                payload: json!(change),
                dedupe_key: None,
                actor,
            },
        )
        .await?;
    Ok(())
}

/// `account-change` jobs.
pub(crate) struct AccountChangeJobs;

#[async_trait::async_trait]
impl JobHandler for AccountChangeJobs {
    async fn task(
        &self,
        conn: &mut Conn,
        key: &MasterKey,
        job: &JobRecord,
    ) -> Result<Task, String> {
        task(conn, key, job).await
    }

    async fn complete(&self, done: Done<'_>, result: TaskResult) -> ServiceResult<()> {
        match result {
            TaskResult::AccountChanged { dn, problem } => {
                let result = match problem {
                    Some(p) => Err(p),
                    None => Ok(dn),
                };
                complete(done.queue, done.job, done.lease_id, done.actor, result).await
            }
            other => done.unexpected(other).await,
        }
    }

    /// The account shows the failure, and whether the job runs again.
    async fn failed(&self, tx: &mut WriteTx, attempt: &FailedAttempt<'_>) -> ServiceResult<()> {
        let FailedAttempt {
            job,
            reason,
            now,
            after,
            ..
        } = *attempt;
        let Ok(id) = job.subject_id.parse::<Uuid>() else {
            return Ok(());
        };
        if let Some(mut a) = accounts::get(tx, id).await? {
            let what = ChangeOrder::of(job).map_or("change", |c| c.name());
            let next = match after {
                AfterFailure::RetryAt(_) => "retrying",
                AfterFailure::GaveUp => "not retried",
            };
            a.problem = Some(format!(
                "{what} failed ({next}): {}",
                reason.chars().take(500).collect::<String>()
            ));
            a.updated_at = now;
            accounts::update_lifecycle(tx, &a).await?;
        }
        Ok(())
    }

    /// A secret move is vault work: its failures say nothing about the way to the DC.
    fn way_to_the_dc_broken<'r>(
        &self,
        job: &JobRecord,
        result: &'r TaskResult,
    ) -> Option<&'r Problem> {
        match (ChangeOrder::of(job), result) {
            (Ok(ChangeOrder::MoveSecret { .. }), _) => None,
            (_, TaskResult::AccountChanged { problem, .. }) => way_to_the_dc(problem.as_ref()),
            _ => None,
        }
    }
}

/// The task for a leased change: the domain's connection (and, to delete, the external
/// vault's) opened for this lease only.
async fn task(conn: &mut Conn, key: &MasterKey, job: &JobRecord) -> Result<Task, String> {
    let err = |e: ServiceError| e.to_string();
    let id: Uuid = job
        .subject_id
        .parse()
        .map_err(|_| "bad account id".to_owned())?;
    let a = accounts::get(conn, id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the account was removed")?;
    let domain = domains::get(conn, a.domain_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the domain was removed")?;
    let change = match ChangeOrder::of(job)? {
        ChangeOrder::Disable { move_to } => AccountChange::Disable { move_to },
        ChangeOrder::Enable => AccountChange::Enable,
        ChangeOrder::Move { to } => AccountChange::Move { to },
        ChangeOrder::SetExpires => AccountChange::SetExpires { at: a.eol_at },
        ChangeOrder::Delete => {
            let vault = vaults::get(conn, a.vault_id)
                .await
                .map_err(|e| e.to_string())?;
            match vault {
                Some(v) if v.kind != super::vaults::KIND_BUILTIN && !a.secret_ref.is_empty() => {
                    AccountChange::Delete {
                        vault: Some(super::vaults::connection(&v, key).map_err(err)?),
                        secret_ref: Some(a.secret_ref.clone()),
                    }
                }
                // The built-in vault's entry goes in the completion's transaction.
                _ => AccountChange::Delete {
                    vault: None,
                    secret_ref: None,
                },
            }
        }
        ChangeOrder::MoveSecret { folder } => {
            let v = vaults::get(conn, a.vault_id)
                .await
                .map_err(|e| e.to_string())?
                .ok_or("the vault was removed")?;
            AccountChange::MoveSecret {
                vault: super::vaults::connection(&v, key).map_err(err)?,
                from: a.secret_ref.clone(),
                folder,
                name: a.name.clone(),
            }
        }
    };
    Ok(Task::AccountChange(Box::new(AccountChangeTask {
        domain: super::domains::connection(&domain, key).map_err(err)?,
        guid: a.guid.clone(),
        change,
    })))
}

/// Records a change the engine made, with the job's completion.
async fn complete(
    queue: &Queue,
    job: &JobRecord,
    lease_id: &str,
    engine_actor: &Actor,
    result: Result<Option<String>, Problem>,
) -> ServiceResult<()> {
    let dn = match result {
        Ok(dn) => dn,
        Err(p) => return queue.failed(job, lease_id, Failure::from_problem(&p)).await,
    };
    let change =
        ChangeOrder::of(job).map_err(|e| ServiceError::Store(alm_store::StoreError::Corrupt(e)))?;
    let now = queue.clock.now();
    let mut tx = queue.db.begin_write().await?;
    if !jobs::finish(
        &mut tx,
        job.id,
        lease_id,
        JobStatus::Succeeded,
        Some("{}"),
        None,
        now,
    )
    .await?
    {
        return Err(lease_lost());
    }
    let id: Uuid = job
        .subject_id
        .parse()
        .map_err(|_| ServiceError::NotFound { what: "account" })?;
    if let Some(mut a) = accounts::get(&mut tx, id).await? {
        let moves_secret = matches!(change, ChangeOrder::MoveSecret { .. });
        match &dn {
            // A secret move answers with the secret's new reference, not a DN.
            Some(moved) if moves_secret => a.secret_ref = moved.clone(),
            Some(dn) => a.dn = dn.clone(),
            None => {}
        }
        if change == ChangeOrder::Delete {
            let vault = vaults::get(&mut tx, a.vault_id).await?;
            if vault.is_some_and(|v| v.kind == super::vaults::KIND_BUILTIN) {
                if let Some((folder, name)) = a.secret_ref.rsplit_once('/') {
                    vaults::delete_entry(&mut tx, a.vault_id, folder, name).await?;
                }
            }
        }
        a.problem = None;
        a.updated_at = now;
        accounts::update_lifecycle(&mut tx, &a).await?;
        let (action, summary) = if moves_secret {
            (
                "account.secret-moved",
                json!({"change": change.name(), "secret_ref": a.secret_ref}),
            )
        } else {
            (
                "account.directory-changed",
                json!({"change": change.name(), "dn": dn}),
            )
        };
        record(
            &mut tx,
            queue.clock.as_ref(),
            engine_actor,
            action,
            Subject::new("account", a.id),
            summary,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::ChangeOrder;
    use serde_json::json;

    /// Jobs queued before the payload was typed read back the same.
    #[test]
    fn change_orders_keep_the_stored_shape() {
        let cases = [
            (
                json!({"change": "disable", "move_to": "OU=Retired,DC=x"}),
                ChangeOrder::Disable {
                    move_to: Some("OU=Retired,DC=x".into()),
                },
            ),
            (
                json!({"change": "disable"}),
                ChangeOrder::Disable { move_to: None },
            ),
            (json!({"change": "enable"}), ChangeOrder::Enable),
            (
                json!({"change": "move", "to": "OU=A,DC=x"}),
                ChangeOrder::Move {
                    to: "OU=A,DC=x".into(),
                },
            ),
            (json!({"change": "set-expires"}), ChangeOrder::SetExpires),
            (json!({"change": "delete"}), ChangeOrder::Delete),
            (
                json!({"change": "move-secret", "folder": "a/b"}),
                ChangeOrder::MoveSecret {
                    folder: "a/b".into(),
                },
            ),
        ];
        for (stored, order) in cases {
            assert_eq!(
                serde_json::from_value::<ChangeOrder>(stored.clone()).unwrap(),
                order,
                "{stored}"
            );
        }
        assert!(serde_json::from_value::<ChangeOrder>(json!({"change": "explode"})).is_err());
        assert!(
            serde_json::from_value::<ChangeOrder>(json!({"change": "move"})).is_err(),
            "a move needs its OU"
        );
    }
}

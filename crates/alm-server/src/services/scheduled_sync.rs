//! Scheduled domain and vault syncs (SPEC §6.1, §7.6): checked at the top of each hour.
//!
//! Domains: each domain whose
//! daily sync is due gets a sync job, asked for by the system. A successful sync moves the due
//! time to the same time the next day ([`super::domain_sync::apply`]); a failed one stays due
//! and is queued again at the next hourly check (never twice at once: one live sync job per
//! domain). Each is incremental, or full when the last full one is
//! `scheduler.full_sync_every_days` old ([`super::domain_sync::choose_mode`]).
//!
//! Vaults (daily by default, [`super::vaults::DEFAULT_SYNC_TIME`]): a due vault's next sync is
//! first moved to its next occurrence — a conditional update, so of several replicas one runs
//! it — and then run as the system ([`super::vault_sync::sync`]: the pool's engines are
//! calibrated, then the vault is read). A sync that could not read the vault (it or the
//! engines unreachable) is due again at the next hourly check; a vault that cannot be synced
//! at all (no engine pool) waits for the next day. A vault not yet placed (migrated, or the
//! built-in one at first start) is only placed.

use super::domain_sync;
use super::jobs::Queue;
use super::vault_sync::{self, VaultSyncOutcome};
use super::ServiceError;
use super::{Actor, ServiceResult};
use alm_core::permissions::{perm, system_capability};
use alm_core::VaultId;
use alm_store::jobs::JobRecord;
use alm_store::{domains, vaults, StoreError};

/// Queues every sync that is due now; returns the jobs.
pub async fn queue_due(queue: &Queue, full_every: time::Duration) -> ServiceResult<Vec<JobRecord>> {
    let now = queue.clock.now();
    let due = {
        let mut conn = queue.db.read().await?;
        domains::due_for_sync(&mut conn, now).await?
    };
    let can = system_capability::<perm::DomainUpdate>();
    let mut jobs = Vec::new();
    for id in due {
        jobs.push(domain_sync::request(queue, &can, &Actor::system(), id, None, full_every).await?);
    }
    Ok(jobs)
}

/// The vaults whose sync is due now, each claimed by this process (moved to its next day);
/// run each with [`run_vault_sync`].
pub async fn claim_due_vaults(queue: &Queue) -> ServiceResult<Vec<VaultId>> {
    let now = queue.clock.now();
    let due = {
        let mut conn = queue.db.read().await?;
        vaults::due_for_sync(&mut conn, now).await?
    };
    let mut claimed = Vec::new();
    for v in due {
        let text = v.sync_time.as_deref().unwrap_or_default();
        // A stored time alm wrote that does not parse is corruption, not "no schedule".
        let t = alm_core::schedule::parse_time_of_day("sync_time", text).map_err(|_| {
            ServiceError::Store(StoreError::Corrupt(format!(
                "vaults.sync_time of {}: {text:?}",
                v.id
            )))
        })?;
        let next = alm_core::schedule::next_daily_run(now, t);
        let mut tx = queue.db.begin_write().await?;
        let won = vaults::move_next_sync(&mut tx, v.id, v.next_sync_at, next).await?;
        tx.commit().await?;
        if won && v.next_sync_at.is_some() {
            claimed.push(v.id);
        }
    }
    Ok(claimed)
}

/// Whether a sync reached its vault: read it without error, and (an external vault) some
/// engine of the pool could authenticate to it. A vault holding no account's secret is not
/// listed, so the calibration is what says it was reached.
pub fn vault_read(outcome: &VaultSyncOutcome) -> bool {
    outcome.error.is_none() && outcome.calibration.as_ref().is_none_or(|c| c.ok)
}

/// Runs a claimed vault sync as the system. One that could not read the vault is put back to
/// the next hourly check; a refusal (no pool) leaves it for tomorrow and is returned.
pub async fn run_vault_sync(queue: &Queue, id: VaultId) -> ServiceResult<VaultSyncOutcome> {
    let can = system_capability::<perm::VaultUpdate>();
    let outcome = vault_sync::sync(queue, &can, &Actor::system(), id).await?;
    if !vault_read(&outcome) {
        let mut tx = queue.db.begin_write().await?;
        if let Some(v) = vaults::get(&mut tx, id).await? {
            if let Some(next) = v.next_sync_at {
                vaults::move_next_sync(&mut tx, id, Some(next), queue.clock.now()).await?;
            }
        }
        tx.commit().await?;
    }
    Ok(outcome)
}

//! Scheduled domain syncs (SPEC §6.1): checked at the top of each hour; each domain whose
//! daily sync is due gets a sync job, asked for by the system. A successful sync moves the due
//! time to the same time the next day ([`super::domain_sync::apply`]); a failed one stays due
//! and is queued again at the next hourly check (never twice at once: one live sync job per
//! domain). Each is incremental, or full when the last full one is
//! `scheduler.full_sync_every_days` old ([`super::domain_sync::choose_mode`]).

use super::domain_sync;
use super::jobs::Queue;
use super::{Actor, ServiceResult};
use alm_core::permissions::{perm, system_capability};
use alm_store::domains;
use alm_store::jobs::JobRecord;

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

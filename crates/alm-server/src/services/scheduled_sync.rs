//! Scheduled domain syncs (SPEC §6.1): checked at the top of each hour; each domain whose
//! daily sync is due is synced as the system. A successful sync is next due at the same time
//! the next day; a failed one stays due and is tried again at the next hourly check.

use super::domain_sync::{self, SyncMode};
use super::{Actor, ServiceResult};
use alm_core::permissions::{perm, system_capability};
use alm_core::schedule::{next_daily_run, parse_time_of_day};
use alm_core::Clock;
use alm_store::crypto::MasterKey;
use alm_store::directory_sync::SyncRun;
use alm_store::{domains, Db};

/// Runs every sync that is due now; returns their runs.
pub async fn run_due(db: &Db, clock: &dyn Clock, key: &MasterKey) -> ServiceResult<Vec<SyncRun>> {
    let now = clock.now();
    let due = {
        let mut conn = db.read().await?;
        domains::due_for_sync(&mut conn, now).await?
    };
    let can = system_capability::<perm::DomainUpdate>();
    let mut runs = Vec::new();
    for id in due {
        let run =
            domain_sync::run(db, clock, key, &can, &Actor::system(), id, None::<SyncMode>).await?;
        if run.outcome == "succeeded" {
            let mut tx = db.begin_write().await?;
            let time = domains::get(&mut tx, id).await?.and_then(|d| d.sync_time);
            let next = time
                .and_then(|t| parse_time_of_day("sync_time", &t).ok())
                .map(|t| next_daily_run(now, t));
            domains::set_next_sync(&mut tx, id, next).await?;
            tx.commit().await?;
        }
        runs.push(run);
    }
    Ok(runs)
}

//! The scheduler's sweep (SPEC §4.2, §4.4): accounts whose EOL has come get their EOL action,
//! then the reminders that are due go out. Safe to run in several places at once.

use super::*;

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Accounts whose EOL action ran.
    pub eol_processed: u64,
    /// Reminder emails/inbox entries sent (one per account and slot).
    pub reminders_sent: u64,
    /// Accounts the sweep could not handle (each shows why as its `problem`).
    pub failed: u64,
}

/// Batch size of one sweep step; a sweep loops until a step finds less.
const BATCH: u32 = 1000;

/// One sweep (SPEC §4.2, §4.4): the accounts whose EOL has come, then the due reminders.
/// Safe to run in several places at once: each account's change is a compare-and-set on its
/// status, and each reminder is keyed by (account, kind, slot).
pub async fn sweep(queue: &Queue) -> ServiceResult<SweepReport> {
    let mut report = SweepReport::default();
    let system = Actor::system();
    loop {
        let now = queue.clock.now();
        let due = {
            let mut conn = queue.db.read().await?;
            accounts::eol_due(&mut conn, now, BATCH).await?
        };
        let n = due.len();
        let mut progress = false;
        for a in due {
            let id = a.id;
            match eol_one(queue, &system, a, now).await {
                Ok(true) => {
                    report.eol_processed += 1;
                    progress = true;
                }
                Ok(false) => {}
                // One account's trouble (its domain lost its pool, say) never stops the rest.
                Err(e) => {
                    report.failed += 1;
                    mark_problem(queue, id, &format!("end of lifecycle could not run: {e}"))
                        .await?;
                }
            }
        }
        // A full batch that changed nothing would come back the same: stop.
        if n < BATCH as usize || !progress {
            break;
        }
    }
    loop {
        let now = queue.clock.now();
        let due = {
            let mut conn = queue.db.read().await?;
            accounts::reminders_due(&mut conn, now, BATCH).await?
        };
        let n = due.len();
        let mut handled = 0;
        for id in due {
            match remind_one(queue, id, now).await {
                Ok(sent) => {
                    report.reminders_sent += sent;
                    handled += 1;
                }
                // Left due: the next sweep tries again (a busy database, say).
                Err(e) => {
                    report.failed += 1;
                    mark_problem(queue, id, &format!("reminders could not be sent: {e}")).await?;
                }
            }
        }
        if n < BATCH as usize || handled == 0 {
            break;
        }
    }
    if report.eol_processed > 0 {
        queue.wake();
    }
    Ok(report)
}

async fn mark_problem(queue: &Queue, id: Uuid, why: &str) -> ServiceResult<()> {
    tracing::warn!(account = %id, problem = why, "lifecycle sweep");
    let mut tx = queue.db.begin_write().await?;
    if let Some(mut a) = accounts::get(&mut tx, id).await? {
        a.problem = Some(why.chars().take(500).collect());
        accounts::update_lifecycle(&mut tx, &a).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn eol_one(
    queue: &Queue,
    system: &Actor,
    mut a: AccountRecord,
    now: OffsetDateTime,
) -> ServiceResult<bool> {
    let Some(outcome) = at_eol(a.eol_action) else {
        return Ok(false);
    };
    let mut tx = queue.db.begin_write().await?;
    // Compare-and-set: another sweep (a replica, the endpoint) may have been first.
    let Some(current) = accounts::get(&mut tx, a.id).await? else {
        return Ok(false);
    };
    if current.status != Status::Active || current.eol_at > now {
        return Ok(false);
    }
    // Once per EOL instant (SPEC §4.2): an account its owner enabled again after its EOL
    // disabled it (§4.1: Enable at/after EOL) is active with the same `eol_at`, and was
    // disabled again by the next sweep — found by the model-based test
    // (tests/it/model_lifecycle.rs). A renewal's new EOL instant arms it again.
    if !accounts::claim_eol(&mut tx, a.id).await? {
        return Ok(false);
    }
    let d = super::super::requests::definition(&mut tx, a.template_id, a.template_version).await?;
    a.status = outcome.status;
    a.updated_at = now;
    accounts::update_lifecycle(&mut tx, &a).await?;
    if outcome.disable_in_directory {
        queue_change(
            queue,
            &mut tx,
            &a,
            ChangeOrder::Disable {
                move_to: d.retirement_ou.clone(),
            },
            system,
        )
        .await?;
    }
    schedule(&mut tx, &a, &d, now, false).await?;
    record(
        &mut tx,
        queue.clock.as_ref(),
        system,
        "account.eol-reached",
        Subject::new("account", a.id),
        json!({"eol_action": a.eol_action, "status": a.status, "eol_at": a.eol_at.unix_timestamp()}),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

async fn remind_one(queue: &Queue, id: Uuid, now: OffsetDateTime) -> ServiceResult<u64> {
    let mut tx = queue.db.begin_write().await?;
    let Some(a) = accounts::get(&mut tx, id).await? else {
        return Ok(0);
    };
    let d = super::super::requests::definition(&mut tx, a.template_id, a.template_version).await?;
    let plan = ReminderPlan::new(a.eol_at, &d.lifecycle);
    let mut sent = 0;
    if a.status == Status::Active {
        for slot in plan.due(now) {
            // Keyed by the EOL date too: a renewed account's next period has its own slots.
            let key = format!("{}:{}", slot.kind.as_str(), a.eol_at.date());
            if !accounts::record_reminder(&mut tx, a.id, &key, slot.slot, now).await? {
                continue;
            }
            super::super::notifications::remind(&mut tx, &queue.base_url, &a, &d, slot.kind, now)
                .await?;
            sent += 1;
        }
    }
    schedule(&mut tx, &a, &d, now, false).await?;
    tx.commit().await?;
    Ok(sent)
}

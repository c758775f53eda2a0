//! The lifecycle of managed accounts (SPEC §4): where an account stands, its schedule, and the
//! actions owners take (renew, disable, enable, delete account & secret); the EOL sweep
//! (`eol_sweep.rs`), renewals through approval (`renewals.rs`) and clone as new request
//! (`clone.rs`) beside it, and the directory changes all of them cause (`account_changes.rs`).
//!
//! A status changes at once, in the transaction that decides it; the directory follows
//! through an `account-change` job (found by objectGUID, idempotent, retried with back-off).
//! A job that keeps failing leaves a failure indicator on the account (`problem`), cleared by
//! the next success. The rules themselves (which action when, what EOL does) are in
//! `alm_core::lifecycle`; this module applies them.

use super::account_changes::{queue_change, ChangeOrder};
use super::audit::{record, Subject};
use super::jobs::Queue;
use super::{Actor, ServiceError, ServiceResult};
use crate::services::refusal::Refusal;
use alm_core::lifecycle::{
    at_eol, renewal_at, renewed_eol, Action, ReminderPlan, Standing, Status,
};
use alm_core::permissions::{perm, Can, Scope};
use alm_core::templates::{EolAction, Interval, TemplateDefinition};
use alm_store::accounts::{self, AccountRecord};
use alm_store::{users, Conn, WriteTx};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

/// Where the account stands (its renewal date from its schedule, or from the template).
pub(crate) async fn standing(conn: &mut Conn, a: &AccountRecord) -> ServiceResult<Standing> {
    let scheduled = accounts::renewal_at(conn, a.id).await?;
    standing_with(conn, a, scheduled).await
}

/// [`standing`] with the renewal date from the account's schedule already read (`None`: it
/// has no schedule), so a page of accounts reads their schedules in one statement.
pub(crate) async fn standing_with(
    conn: &mut Conn,
    a: &AccountRecord,
    scheduled: Option<OffsetDateTime>,
) -> ServiceResult<Standing> {
    let renewal = match scheduled {
        Some(r) => r,
        None => {
            let d = super::requests::definition(conn, a.template_id, a.template_version).await?;
            renewal_at(a.eol_at, d.lifecycle.renewal_window_days)
        }
    };
    Ok(Standing {
        eol_action: a.eol_action,
        status: a.status,
        eol_at: a.eol_at,
        renewal_at: renewal,
    })
}

/// Sets the account's renewal date and next reminder instant from its template's settings.
/// `catch_up`: a slot already due (a new account whose renewal date has passed, a renewal)
/// goes out at the next sweep; after a sweep sent what was due, only later slots count.
pub(crate) async fn schedule(
    conn: &mut Conn,
    a: &AccountRecord,
    d: &TemplateDefinition,
    now: OffsetDateTime,
    catch_up: bool,
) -> ServiceResult<()> {
    let plan = ReminderPlan::new(a.eol_at, &d.lifecycle);
    let due = if a.status != Status::Active {
        None
    } else if catch_up && !plan.due(now).is_empty() {
        Some(now)
    } else {
        plan.next_due(now)
    };
    accounts::set_schedule(conn, a.id, plan.renewal_at, due).await?;
    Ok(())
}

/// The account if the caller may act on it (an owner, or `manage`).
async fn actionable(
    conn: &mut Conn,
    can: &Can<perm::AccountUpdate>,
    id: Uuid,
) -> ServiceResult<AccountRecord> {
    let a = accounts::get(conn, id)
        .await?
        .ok_or(ServiceError::NotFound { what: "account" })?;
    if can.scope() != Scope::All {
        let groups = users::enabled_group_ids(conn, can.actor()).await?;
        if !accounts::is_owner(conn, id, can.actor(), &groups).await? {
            return Err(ServiceError::out_of_scope(
                "account",
                "account",
                can.actor(),
                id,
            ));
        }
    }
    Ok(a)
}

/// Runs one owner action (§4.1): checked against the table (409 with the reason when not
/// available), the status changed at once, the directory change queued.
pub async fn act(
    queue: &Queue,
    can: &Can<perm::AccountUpdate>,
    actor: &Actor,
    id: Uuid,
    action: Action,
    confirm: Option<&str>,
) -> ServiceResult<AccountRecord> {
    let now = queue.clock.now();
    let mut tx = queue.db.begin_write().await?;
    let mut a = actionable(&mut tx, can, id).await?;
    let d = super::requests::definition(&mut tx, a.template_id, a.template_version).await?;
    let standing = standing(&mut tx, &a).await?;
    standing
        .check(action, now)
        .map_err(|m| ServiceError::Refused(Refusal::InState(m)))?;
    let before = a.clone();
    match action {
        Action::Renew => {
            let interval: Interval = a.interval;
            a.eol_at = renewed_eol(a.eol_at, interval);
            if a.status == Status::Disabled {
                queue_change(queue, &mut tx, &a, ChangeOrder::Enable, actor).await?;
            }
            a.status = Status::Active;
        }
        Action::Disable => {
            a.status = Status::Disabled;
            queue_change(
                queue,
                &mut tx,
                &a,
                ChangeOrder::Disable { move_to: None },
                actor,
            )
            .await?;
        }
        Action::Enable => {
            // An expire account past its EOL stays expired: the directory refuses it anyway.
            a.status = if a.eol_action == EolAction::Expire && now >= a.eol_at {
                Status::Expired
            } else {
                Status::Active
            };
            queue_change(queue, &mut tx, &a, ChangeOrder::Enable, actor).await?;
        }
        Action::Delete => {
            if confirm != Some(a.name.as_str()) {
                return Err(alm_core::FieldError::new(
                    "confirm",
                    "equals-name",
                    format!(
                        "type the account's name ({}) to confirm deleting it and its secret",
                        a.name
                    ),
                )
                .into());
            }
            a.status = Status::Deleted;
            queue_change(queue, &mut tx, &a, ChangeOrder::Delete, actor).await?;
        }
        Action::SubmitRenewal | Action::Clone => {
            return Err(ServiceError::Refused(Refusal::InState(format!(
                "{} is not available through this endpoint",
                action.as_str()
            ))))
        }
    }
    a.updated_at = now;
    accounts::update_lifecycle(&mut tx, &a).await?;
    schedule(&mut tx, &a, &d, now, true).await?;
    record(
        &mut tx,
        queue.clock.as_ref(),
        actor,
        &format!("account.{}", action.as_str()),
        Subject::new("account", a.id),
        json!({"before": {"status": before.status, "eol_at": before.eol_at.unix_timestamp()},
               "after": {"status": a.status, "eol_at": a.eol_at.unix_timestamp()}}),
    )
    .await?;
    tx.commit().await?;
    queue.wake();
    Ok(a)
}

mod clone;
mod eol_sweep;
mod renewals;

pub use clone::{clone_as_request, CloneInput};
pub use eol_sweep::{sweep, SweepReport};
pub use renewals::submit_renewal;
pub(crate) use renewals::{renewal_approved, renewal_denied};

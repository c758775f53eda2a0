//! The lifecycle of managed accounts (SPEC §4): the actions owners take (renew, disable,
//! enable, delete account & secret), the EOL sweep, and the directory changes both cause.
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

fn eol_action(a: &AccountRecord) -> ServiceResult<EolAction> {
    super::stored(
        serde_json::from_value(json!(a.eol_action)).ok(),
        "accounts.eol_action",
        a.id,
        &a.eol_action,
    )
}

fn status(a: &AccountRecord) -> ServiceResult<Status> {
    super::stored(Status::parse(&a.status), "accounts.status", a.id, &a.status)
}

fn interval(a: &AccountRecord) -> ServiceResult<Interval> {
    super::stored(
        a.interval.parse().ok(),
        "accounts.interval",
        a.id,
        &a.interval,
    )
}

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
        eol_action: eol_action(a)?,
        status: status(a)?,
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
    let due = if status(a)? != Status::Active {
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
        let groups = users::group_ids(conn, can.actor()).await?;
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
        .map_err(ServiceError::NotAllowed)?;
    let before = a.clone();
    match action {
        Action::Renew => {
            let interval: Interval = interval(&a)?;
            a.eol_at = renewed_eol(a.eol_at, interval);
            if status(&a)? == Status::Disabled {
                queue_change(queue, &mut tx, &a, ChangeOrder::Enable, actor).await?;
            }
            a.status = Status::Active.as_str().into();
        }
        Action::Disable => {
            a.status = Status::Disabled.as_str().into();
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
            a.status = if eol_action(&a)? == EolAction::Expire && now >= a.eol_at {
                Status::Expired
            } else {
                Status::Active
            }
            .as_str()
            .into();
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
            a.status = Status::Deleted.as_str().into();
            queue_change(queue, &mut tx, &a, ChangeOrder::Delete, actor).await?;
        }
        Action::SubmitRenewal | Action::Clone => {
            return Err(ServiceError::NotAllowed(format!(
                "{} is not available through this endpoint",
                action.as_str()
            )))
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
    let Some(outcome) = at_eol(eol_action(&a)?) else {
        return Ok(false);
    };
    let mut tx = queue.db.begin_write().await?;
    // Compare-and-set: another sweep (a replica, the endpoint) may have been first.
    let Some(current) = accounts::get(&mut tx, a.id).await? else {
        return Ok(false);
    };
    if current.status != Status::Active.as_str() || current.eol_at > now {
        return Ok(false);
    }
    let d = super::requests::definition(&mut tx, a.template_id, a.template_version).await?;
    a.status = outcome.status.as_str().into();
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
    let d = super::requests::definition(&mut tx, a.template_id, a.template_version).await?;
    let plan = ReminderPlan::new(a.eol_at, &d.lifecycle);
    let mut sent = 0;
    if status(&a)? == Status::Active {
        for slot in plan.due(now) {
            // Keyed by the EOL date too: a renewed account's next period has its own slots.
            let key = format!("{}:{}", slot.kind.as_str(), a.eol_at.date());
            if !accounts::record_reminder(&mut tx, a.id, &key, slot.slot, now).await? {
                continue;
            }
            super::notifications::remind(&mut tx, &queue.base_url, &a, &d, slot.kind, now).await?;
            sent += 1;
        }
    }
    schedule(&mut tx, &a, &d, now, false).await?;
    tx.commit().await?;
    Ok(sent)
}

/// Submit for approval to renew (SPEC §4.2, `expire` accounts): a request of kind `renewal`
/// runs the template's approval steps again; the account is `renewing` meanwhile.
pub async fn submit_renewal(
    queue: &Queue,
    can: &Can<perm::AccountUpdate>,
    actor: &Actor,
    id: Uuid,
    reason: Option<&str>,
) -> ServiceResult<alm_store::requests::RequestRecord> {
    use alm_core::requests::{Owners, RequestDetails, RequestState};
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    let Some(reason) = reason else {
        return Err(alm_core::FieldError::new(
            "reason",
            "required",
            "say why the account should be renewed",
        )
        .into());
    };
    if reason.chars().count() > 2000 {
        return Err(
            alm_core::FieldError::new("reason", "max-length", "at most 2000 characters").into(),
        );
    }
    let now = queue.clock.now();
    let mut tx = queue.db.begin_write().await?;
    let mut a = actionable(&mut tx, can, id).await?;
    let d = super::requests::definition(&mut tx, a.template_id, a.template_version).await?;
    standing(&mut tx, &a)
        .await?
        .check(Action::SubmitRenewal, now)
        .map_err(ServiceError::NotAllowed)?;
    let details = RequestDetails {
        interval: interval(&a)?,
        justification: reason.to_owned(),
        description: a.description.clone(),
        attributes: Default::default(),
        owners: Owners::default(),
        ou: a
            .dn
            .split_once(',')
            .map(|(_, p)| p.to_owned())
            .unwrap_or_default(),
        folder: a
            .secret_ref
            .rsplit_once('/')
            .map(|(f, _)| f.to_owned())
            .unwrap_or_default(),
        terms_accepted: true,
    };
    let r = alm_store::requests::RequestRecord {
        id: alm_core::ids::uuid_v7_at(now),
        template_id: a.template_id,
        template_version: a.template_version,
        requester_id: can.actor(),
        domain_id: a.domain_id,
        account_name: a.name.clone(),
        state: RequestState::PendingApproval.as_str().into(),
        current_step: Some(1),
        details: serde_json::to_string(&details).expect("plain data"),
        rejection_reason: None,
        failure_reason: None,
        created_at: now,
        updated_at: now,
        submitted_at: Some(now),
        decided_at: None,
        kind: "renewal".into(),
        account_id: Some(a.id),
    };
    alm_store::requests::insert(&mut tx, &r)
        .await
        .map_err(|e| match e {
            alm_store::StoreError::Conflict { .. } => ServiceError::NotAllowed(
                "a renewal of this account waits for approval already".into(),
            ),
            other => other.into(),
        })?;
    a.status_before = Some(a.status.clone());
    a.status = Status::Renewing.as_str().into();
    a.problem = None;
    a.updated_at = now;
    accounts::update_lifecycle(&mut tx, &a).await?;
    schedule(&mut tx, &a, &d, now, false).await?;
    super::requests::notify_step(&mut tx, &queue.base_url, &r, &d, now).await?;
    record(
        &mut tx,
        queue.clock.as_ref(),
        actor,
        "account.submit-renewal",
        Subject::new("account", a.id),
        json!({"request_id": r.id.to_string(), "before": {"status": a.status_before}}),
    )
    .await?;
    tx.commit().await?;
    Ok(r)
}

/// A renewal approved at its last step: the EOL moves by the interval, `accountExpires`
/// follows in the directory, the account is active again (inside the approval's transaction).
pub(crate) async fn renewal_approved(
    queue: &Queue,
    tx: &mut WriteTx,
    r: &mut alm_store::requests::RequestRecord,
    actor: &Actor,
) -> ServiceResult<()> {
    let now = queue.clock.now();
    r.state = alm_core::requests::RequestState::Approved.as_str().into();
    let Some(mut a) = (match r.account_id {
        Some(id) => accounts::get(tx, id).await?,
        None => None,
    }) else {
        return Err(ServiceError::NotFound { what: "account" });
    };
    let d = super::requests::definition(tx, a.template_id, a.template_version).await?;
    let interval: Interval = interval(&a)?;
    let before = a.eol_at;
    a.eol_at = renewed_eol(a.eol_at, interval);
    a.status = Status::Active.as_str().into();
    a.status_before = None;
    a.problem = None;
    a.updated_at = now;
    accounts::update_lifecycle(tx, &a).await?;
    queue_change(queue, tx, &a, ChangeOrder::SetExpires, actor).await?;
    schedule(tx, &a, &d, now, true).await?;
    record(
        tx,
        queue.clock.as_ref(),
        actor,
        "account.renewed",
        Subject::new("account", a.id),
        json!({"request_id": r.id.to_string(), "before": {"eol_at": before.unix_timestamp()},
               "after": {"eol_at": a.eol_at.unix_timestamp()}}),
    )
    .await?;
    Ok(())
}

/// A renewal denied: the account goes back to the status it had, and the option is offered
/// again; the denial shows as its failure indicator.
pub(crate) async fn renewal_denied(
    queue: &Queue,
    tx: &mut WriteTx,
    r: &alm_store::requests::RequestRecord,
    reason: Option<&str>,
) -> ServiceResult<()> {
    let Some(id) = r.account_id else {
        return Ok(());
    };
    if let Some(mut a) = accounts::get(tx, id).await? {
        a.status = a
            .status_before
            .take()
            .unwrap_or_else(|| Status::Active.as_str().into());
        a.problem = Some(format!(
            "renewal rejected: {}",
            reason.unwrap_or("no reason given")
        ));
        a.updated_at = queue.clock.now();
        accounts::update_lifecycle(tx, &a).await?;
    }
    Ok(())
}

/// What the caller adds to a clone: everything else comes from the account.
#[derive(Debug, Clone, Default)]
pub struct CloneInput {
    /// A new name (without the template's prefix); the account's own when absent — which only
    /// a deleted account frees (§2.5 name uniqueness).
    pub account_name: Option<String>,
    /// Why the new account is needed; the original request's justification when absent.
    pub justification: Option<String>,
    /// The template's terms, accepted anew by the caller.
    pub terms_accepted: bool,
}

/// *Clone as new request* (§4.1, every column): a new draft by the caller, prefilled from the
/// account — template, interval, description, owners, and the attributes, OU and folder of the
/// request that made it (an imported or migrated account has none: the template's defaults).
/// The draft is checked like any other (name uniqueness included) and, like any draft, is
/// checked against the template's published version (submit does the same), so a clone of an
/// account made under an older version follows the template as it is now.
pub async fn clone_as_request(
    queue: &Queue,
    can_account: &Can<perm::AccountUpdate>,
    can_request: &Can<perm::RequestCreate>,
    actor: &Actor,
    id: Uuid,
    input: CloneInput,
) -> ServiceResult<super::requests::RequestInfo> {
    use alm_core::requests::Owners;
    let now = queue.clock.now();
    let mut tx = queue.db.begin_write().await?;
    let a = actionable(&mut tx, can_account, id).await?;
    standing(&mut tx, &a)
        .await?
        .check(Action::Clone, now)
        .map_err(ServiceError::NotAllowed)?;
    let original = match a.request_id {
        Some(r) => match alm_store::requests::get(&mut tx, r).await? {
            Some(r) => Some(super::requests::details_of(&r)?),
            None => None,
        },
        None => None,
    };
    let d = super::requests::definition(&mut tx, a.template_id, a.template_version).await?;
    let mut owners = Owners::default();
    for o in accounts::owners_of(&mut tx, &[a.id])
        .await?
        .remove(&a.id)
        .unwrap_or_default()
    {
        // The caller is the requester, the first owner already; owners disabled since are
        // left out (the draft could not be saved with them, and the caller cannot pick
        // owners here: they edit the draft afterwards).
        match o {
            accounts::Owner::User(u) if u == can_request.actor() => {}
            accounts::Owner::User(u) => {
                if users::get(&mut tx, u).await?.is_some_and(|u| u.enabled) {
                    owners.users.push(u);
                }
            }
            accounts::Owner::Group(g) => {
                if alm_store::groups::get(&mut tx, g)
                    .await?
                    .is_some_and(|g| g.enabled)
                {
                    owners.groups.push(g);
                }
            }
        }
    }
    let name = input.account_name.unwrap_or_else(|| {
        a.name
            .strip_prefix(&d.name_prefix)
            .unwrap_or(&a.name)
            .to_owned()
    });
    let justification = input
        .justification
        .or_else(|| original.as_ref().map(|o| o.justification.clone()))
        .unwrap_or_default();
    let request = super::requests::RequestInput {
        template_id: a.template_id,
        account_name: name,
        interval: interval(&a)?,
        justification,
        description: a.description.clone(),
        attributes: original
            .as_ref()
            .map(|o| o.attributes.clone())
            .unwrap_or_default(),
        owners,
        ou: original.as_ref().map(|o| o.ou.clone()),
        folder: original.as_ref().map(|o| o.folder.clone()),
        terms_accepted: input.terms_accepted,
    };
    let r = super::requests::create_in(&mut tx, queue.clock.as_ref(), can_request, actor, request)
        .await?;
    record(
        &mut tx,
        queue.clock.as_ref(),
        actor,
        "account.clone",
        Subject::new("account", a.id),
        json!({"request_id": r.record.id.to_string()}),
    )
    .await?;
    tx.commit().await?;
    Ok(r)
}

//! Writing audit records from services, and reading them back (SPEC §8).
//!
//! `record` is called inside the transaction of the change it describes. Summaries carry
//! ids and non-secret fields only; the store also strips secret-named keys as a last guard.

use super::{Actor, ServiceResult};
use alm_core::paging::{PageRequest, SortDirection};
use alm_core::permissions::{perm, Can, Scope};
use alm_core::Clock;
use alm_core::{Email, FieldError, UserId};
use alm_store::audit_log::{
    self, ActorKind, AuditFilter, AuditRecord, NewRecord, Outcome, Personal,
};
use alm_store::{Db, WriteTx};
use serde_json::Value;

/// What a record is about.
pub struct Subject<'a> {
    pub object_type: &'a str,
    pub object_id: Option<String>,
}

impl<'a> Subject<'a> {
    pub fn new(object_type: &'a str, id: impl ToString) -> Self {
        Self {
            object_type,
            object_id: Some(id.to_string()),
        }
    }
}

fn personal(actor: &Actor) -> Personal {
    Personal {
        actor_name: actor.name.clone(),
        actor_email: actor.email.clone(),
        source_ip: actor.source_ip.clone(),
    }
}

fn new_record(
    actor: &Actor,
    action: &str,
    subject: Subject<'_>,
    outcome: Outcome,
    summary: Value,
) -> NewRecord {
    NewRecord {
        actor_kind: if actor.user_id.is_some() {
            ActorKind::User
        } else if actor.source_ip.is_some() {
            ActorKind::Anonymous
        } else {
            ActorKind::System
        },
        actor_id: actor.user_id.map(|u| u.to_string()),
        action: action.to_owned(),
        object_type: subject.object_type.to_owned(),
        object_id: subject.object_id,
        outcome,
        summary,
        personal: personal(actor),
    }
}

/// Records a successful change inside `tx`.
pub async fn record(
    tx: &mut WriteTx,
    clock: &dyn Clock,
    actor: &Actor,
    action: &str,
    subject: Subject<'_>,
    summary: Value,
) -> ServiceResult<()> {
    let r = audit_log::append(
        tx,
        clock.now(),
        new_record(actor, action, subject, Outcome::Success, summary),
    )
    .await?;
    // Every audit record also goes to SIEM, committed with it.
    super::integration_outbox::enqueue_audit(tx, &r).await
}

/// Records a refused or failed attempt in a transaction of its own.
pub async fn record_refusal(
    db: &Db,
    clock: &dyn Clock,
    actor: &Actor,
    action: &str,
    subject: Subject<'_>,
    outcome: Outcome,
    summary: Value,
) -> ServiceResult<()> {
    let mut tx = db.begin_write().await?;
    record_refusal_in(&mut tx, clock, actor, action, subject, outcome, summary).await?;
    tx.commit().await?;
    Ok(())
}

/// Records a refused or failed attempt inside `tx`.
pub async fn record_refusal_in(
    tx: &mut WriteTx,
    clock: &dyn Clock,
    actor: &Actor,
    action: &str,
    subject: Subject<'_>,
    outcome: Outcome,
    summary: Value,
) -> ServiceResult<()> {
    let r = audit_log::append(
        tx,
        clock.now(),
        new_record(actor, action, subject, outcome, summary),
    )
    .await?;
    super::integration_outbox::enqueue_audit(tx, &r).await
}

/// Audit records in scope: with `audit:manage` everything, otherwise the caller's own actions.
pub async fn search(
    db: &Db,
    can: &Can<perm::AuditRead>,
    mut filter: AuditFilter,
    page: &PageRequest,
) -> ServiceResult<(Vec<AuditRecord>, u64)> {
    if can.scope() == Scope::Own {
        let own = can.actor().to_string();
        if filter.actor_id.as_deref().is_some_and(|a| a != own) {
            return Ok((Vec::new(), 0));
        }
        filter.actor_id = Some(own);
    }
    let mut conn = db.read().await?;
    let descending = page.direction == SortDirection::Descending;
    Ok(audit_log::list(&mut conn, &filter, descending, page.limit, page.offset).await?)
}

/// The user who has `email` among their addresses, enabled or not (a disabled person's past
/// actions stay in the log): how the audit page's actor filter names someone.
pub async fn actor_by_email(
    db: &Db,
    _can: &Can<perm::AuditRead>,
    field: &str,
    email: &str,
) -> ServiceResult<UserId> {
    let email = Email::parse(field, email)?;
    let mut conn = db.read().await?;
    match alm_store::users::find_by_email(&mut conn, &email).await? {
        Some(u) => Ok(u.id),
        None => Err(FieldError::new(
            field,
            "exists",
            format!("no user has the email address {email}"),
        )
        .into()),
    }
}

/// Walks the whole chain (the check of `alm db verify-audit`): reserved to `audit` managers,
/// since it reads every record.
pub async fn verify_chain(
    db: &Db,
    can: &Can<perm::AuditRead>,
) -> ServiceResult<audit_log::VerifyReport> {
    can.require_manage().map_err(super::denied(can.actor()))?;
    let mut conn = db.read().await?;
    Ok(audit_log::verify(&mut conn).await?)
}

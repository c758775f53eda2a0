//! Approvals (SPEC §2.6): an approver sees the requests waiting at a step that lists them
//! (directly or through a group; with `provision-approval:manage`, all of them), approves, or
//! denies with a reason. A step is complete when K distinct eligible approvers approved; then
//! the next step starts, or the request is approved. A denial at any step rejects it.
//! Separation of duties: a requester never approves their own request.

use super::audit::{record, Subject};
use super::refusal::Refusal;
use super::requests::{decision, definition, info, RequestInfo};
use super::templates::step_reach;
use super::{Actor, ServiceError, ServiceResult};
use alm_core::permissions::{perm, Can, Scope};
use alm_core::requests::{step_complete, Decision, RequestKind, RequestState};
use alm_core::{FieldError, UserId};
use alm_store::requests as store;
use alm_store::{Conn, Db};
use serde_json::json;
use std::collections::HashSet;
use uuid::Uuid;

/// Who may decide at the request's current step.
async fn eligible_now(
    conn: &mut Conn,
    r: &store::RequestRecord,
) -> ServiceResult<Option<(usize, u32, HashSet<UserId>)>> {
    if r.state != RequestState::PendingApproval {
        return Ok(None);
    }
    let Some(step) = r.current_step else {
        return Ok(None);
    };
    let d = definition(conn, r.template_id, r.template_version).await?;
    let Some(s) = d.steps.get((step - 1) as usize) else {
        return Ok(None);
    };
    let (reach, _) = step_reach(conn, s).await?;
    Ok(Some((d.steps.len(), s.min_approvals, reach)))
}

/// The requests waiting for the caller (all waiting requests with `manage`).
pub async fn pending(db: &Db, can: &Can<perm::ApprovalRead>) -> ServiceResult<Vec<RequestInfo>> {
    let mut conn = db.read().await?;
    let waiting = store::list(&mut conn, None, Some(RequestState::PendingApproval), 1000).await?;
    let mut out = Vec::new();
    let mut shared = super::requests::Shared::default();
    for r in waiting {
        let mine = match eligible_now(&mut conn, &r).await? {
            Some((_, _, reach)) => reach.contains(&can.actor()) && r.requester_id != can.actor(),
            None => false,
        };
        if mine || can.scope() == Scope::All {
            out.push(
                super::requests::info_with(&mut conn, &mut shared, r, can.actor(), Scope::All)
                    .await?,
            );
        }
    }
    Ok(out)
}

/// Approves (`reason` optional) or denies (`reason` required) at the current step.
pub async fn decide(
    queue: &super::jobs::Queue,
    can: &Can<perm::ApprovalUpdate>,
    actor: &Actor,
    id: Uuid,
    approve: bool,
    reason: Option<String>,
) -> ServiceResult<RequestInfo> {
    let (db, clock) = (&queue.db, queue.clock.as_ref());
    let now = clock.now();
    let reason = reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if !approve && reason.is_none() {
        return Err(FieldError::new("reason", "required", "say why the request is denied").into());
    }
    if reason.as_ref().is_some_and(|r| r.chars().count() > 2000) {
        return Err(FieldError::new("reason", "max-length", "at most 2000 characters").into());
    }
    let mut tx = db.begin_write().await?;
    let mut r = store::get(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound { what: "request" })?;
    let Some((steps, k, eligible)) = eligible_now(&mut tx, &r).await? else {
        return Err(ServiceError::Refused(Refusal::InState(format!(
            "the request is {}, not waiting for approval",
            r.state
        ))));
    };
    let me = can.actor();
    if !eligible.contains(&me) {
        if can.scope() != Scope::All {
            return Err(ServiceError::out_of_scope("request", "request", me, id));
        }
        return Err(ServiceError::Refused(Refusal::ApprovalRule(
            "you are not an approver of the request's current step".into(),
        )));
    }
    if r.requester_id == me {
        return Err(ServiceError::Refused(Refusal::ApprovalRule(
            "separation of duties: a requester never approves their own request".into(),
        )));
    }
    let step = r.current_step.unwrap_or(1);
    if !store::add_decision(
        &mut tx,
        &decision(&r, step, me, approve, reason.clone(), now),
    )
    .await?
    {
        return Err(ServiceError::Refused(Refusal::ApprovalRule(
            "you decided at this step already; the same approver counts once".into(),
        )));
    }
    let action = if !approve {
        r.state = RequestState::Rejected;
        r.rejection_reason = reason.clone();
        r.current_step = None;
        r.decided_at = Some(now);
        if r.kind == RequestKind::Renewal {
            super::lifecycle::renewal_denied(queue, &mut tx, &r, reason.as_deref()).await?;
        }
        "request.rejected"
    } else {
        let approved: Vec<UserId> = store::decisions(&mut tx, id)
            .await?
            .into_iter()
            .filter(|a| a.step == step && a.decision == Decision::Approved)
            .map(|a| a.approver_id)
            .collect();
        if !step_complete(&approved, &eligible, r.requester_id, k) {
            "request.approval-recorded"
        } else if (step as usize) < steps {
            r.current_step = Some(step + 1);
            "request.step-approved"
        } else {
            // Approved: provisioning is queued in the same transaction (SPEC §3).
            r.current_step = None;
            r.decided_at = Some(now);
            if r.kind == RequestKind::Renewal {
                // A renewal changes the account it names instead of making one.
                super::lifecycle::renewal_approved(queue, &mut tx, &mut r, actor).await?;
            } else {
                super::provisioning::queue(queue, &mut tx, &mut r, actor).await?;
            }
            "request.approved"
        }
    };
    r.updated_at = now;
    store::update(&mut tx, &r).await?;
    match action {
        "request.step-approved" => {
            let d = definition(&mut tx, r.template_id, r.template_version).await?;
            super::requests::notify_step(&mut tx, &queue.base_url, &r, &d, now).await?;
        }
        "request.approved" => {
            super::requests::notify_requester(
                &mut tx,
                &queue.base_url,
                &r,
                alm_notify::events::REQUEST_APPROVED,
                None,
                now,
            )
            .await?;
        }
        "request.rejected" => {
            super::requests::notify_requester(
                &mut tx,
                &queue.base_url,
                &r,
                alm_notify::events::REQUEST_REJECTED,
                reason.as_deref(),
                now,
            )
            .await?;
        }
        _ => {}
    }
    record(
        &mut tx,
        clock,
        actor,
        action,
        Subject::new("request", id),
        json!({"account_name": r.account_name, "step": step, "state": r.state, "approve": approve}),
    )
    .await?;
    tx.commit().await?;
    queue.wake();
    let mut conn = db.read().await?;
    info(&mut conn, r, me, Scope::All).await
}

/// The caller's own newest decisions (`limit` of them), with each request's account name.
pub async fn decided_by_me(
    db: &Db,
    can: &Can<perm::ApprovalRead>,
    limit: u32,
) -> ServiceResult<Vec<(store::ApprovalRecord, String)>> {
    let mut conn = db.read().await?;
    Ok(store::decided_by(&mut conn, can.actor(), limit).await?)
}

/// One request waiting for the caller (or, with `manage`, for anyone): what the approver
/// reads before deciding. Any other request is "not found".
pub async fn waiting(
    db: &Db,
    can: &Can<perm::ApprovalRead>,
    id: Uuid,
) -> ServiceResult<RequestInfo> {
    pending(db, can)
        .await?
        .into_iter()
        .find(|r| r.record.id == id)
        .ok_or(ServiceError::NotFound { what: "request" })
}

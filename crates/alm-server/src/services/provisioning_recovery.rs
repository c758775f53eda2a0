//! What a person does with provisioning that failed (SPEC §2.5, §3): **retry** it now (after
//! fixing what the reason names, or to skip the wait of a `retrying` request once the outage is
//! over) or **abandon** it (its account name is free again). Allowed to the requester and to
//! holders of `provision-request:manage` (the scope of `provision-request:update`); the audit
//! record says who.
//!
//! An attempt running right now is never interfered with: both answer 409 until it ends.

use super::audit::{record, Subject};
use super::jobs::Queue;
use super::refusal::Refusal;
use super::requests::{info, reachable, RequestInfo};
use super::{Actor, ServiceError, ServiceResult};
use alm_core::job_kind::JobKind;
use alm_core::job_kind::JobStatus;
use alm_core::permissions::{perm, Can};
use alm_core::requests::RequestState;
use alm_store::jobs::{self, JobRecord};
use alm_store::requests::{self as store, RequestRecord};
use alm_store::Conn;
use serde_json::json;
use uuid::Uuid;

fn not_recoverable(r: &RequestRecord) -> ServiceError {
    ServiceError::Refused(Refusal::InState(format!(
        "a {} request cannot be retried or abandoned: only a retrying or failed one can",
        r.state
    )))
}

fn attempt_running() -> ServiceError {
    ServiceError::Refused(Refusal::InState(
        "an attempt to provision this request is running right now; try again when it ends".into(),
    ))
}

/// The request's latest provisioning job.
async fn provision_job(conn: &mut Conn, r: &RequestRecord) -> ServiceResult<Option<JobRecord>> {
    let newest = jobs::list(conn, None, Some(("request", &r.id.to_string())), 10).await?;
    Ok(newest.into_iter().find(|j| j.kind == JobKind::Provision))
}

/// Runs provisioning again now: a failed request gets a new job (the engine looks before it
/// creates, so nothing is made twice); a retrying one has its waiting job moved to now.
pub async fn retry(
    queue: &Queue,
    can: &Can<perm::RequestUpdate>,
    actor: &Actor,
    id: Uuid,
) -> ServiceResult<RequestInfo> {
    let now = queue.clock.now();
    let mut tx = queue.db.begin_write().await?;
    let mut r = reachable(&mut tx, can, id).await?;
    let before = r.state;
    if !before.recoverable() {
        return Err(not_recoverable(&r));
    }
    let job = provision_job(&mut tx, &r).await?;
    match (before, job) {
        (_, Some(j)) if j.status == JobStatus::Leased => return Err(attempt_running()),
        (RequestState::Retrying, Some(j)) if j.status == JobStatus::Queued => {
            jobs::run_now(&mut tx, j.id, now).await?;
        }
        _ => {
            // Failed for good (or its job is gone): a new episode, which the requester hears
            // of again if it fails again.
            super::provisioning::queue(queue, &mut tx, &mut r, actor).await?;
            r.failure_reason = None;
        }
    }
    let reason = r.failure_reason.clone();
    r.updated_at = now;
    store::update(&mut tx, &r).await?;
    record(
        &mut tx,
        queue.clock.as_ref(),
        actor,
        "request.provisioning-retried",
        Subject::new("request", id),
        json!({"account_name": r.account_name, "state_before": before.as_str(), "state": r.state,
               "failure_reason": reason}),
    )
    .await?;
    let out = info(&mut tx, r, can.actor(), can.scope()).await?;
    tx.commit().await?;
    queue.wake();
    Ok(out)
}

/// Gives the request up: its waiting job is cancelled, it becomes `abandoned`, and its
/// account name is free for another request. An object a partial attempt left in the
/// directory stays there (the next sync shows it); the audit record names the request.
pub async fn abandon(
    queue: &Queue,
    can: &Can<perm::RequestUpdate>,
    actor: &Actor,
    id: Uuid,
) -> ServiceResult<RequestInfo> {
    let now = queue.clock.now();
    let mut tx = queue.db.begin_write().await?;
    let mut r = reachable(&mut tx, can, id).await?;
    let before = r.state;
    if !before.recoverable() {
        return Err(not_recoverable(&r));
    }
    if let Some(j) = provision_job(&mut tx, &r).await? {
        if j.status == JobStatus::Leased {
            return Err(attempt_running());
        }
        if j.status == JobStatus::Queued {
            jobs::cancel_queued(&mut tx, j.id, "the request was abandoned", now).await?;
        }
    }
    r.state = RequestState::Abandoned;
    r.decided_at = Some(now);
    r.updated_at = now;
    store::update(&mut tx, &r).await?;
    store::release_name(&mut tx, r.id, now).await?;
    record(
        &mut tx,
        queue.clock.as_ref(),
        actor,
        "request.abandoned",
        Subject::new("request", id),
        json!({"account_name": r.account_name, "state_before": before.as_str(),
               "failure_reason": r.failure_reason}),
    )
    .await?;
    let out = info(&mut tx, r, can.actor(), can.scope()).await?;
    tx.commit().await?;
    queue.notify_finished();
    Ok(out)
}

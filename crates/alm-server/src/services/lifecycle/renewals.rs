//! Submit for approval to renew (SPEC §4.2, `expire` accounts): a renewal request runs the
//! template's approval steps again; approved, the EOL moves on; denied, the account goes back.

use super::*;
use crate::services::refusal::Refusal;
use alm_core::requests::{AccountName, RequestKind};

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
    let d = super::super::requests::definition(&mut tx, a.template_id, a.template_version).await?;
    standing(&mut tx, &a)
        .await?
        .check(Action::SubmitRenewal, now)
        .map_err(|m| ServiceError::Refused(Refusal::InState(m)))?;
    let details = RequestDetails {
        interval: a.interval,
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
        // The account's own name, as it exists: no template rule applies to it again.
        account_name: AccountName::existing(a.name.clone()),
        state: RequestState::PendingApproval,
        current_step: Some(1),
        details: serde_json::to_string(&details).expect("plain data"),
        rejection_reason: None,
        failure_reason: None,
        created_at: now,
        updated_at: now,
        submitted_at: Some(now),
        decided_at: None,
        kind: RequestKind::Renewal,
        account_id: Some(a.id),
    };
    alm_store::requests::insert(&mut tx, &r)
        .await
        .map_err(|e| match e {
            alm_store::StoreError::Conflict { .. } => ServiceError::Refused(Refusal::InState(
                "a renewal of this account waits for approval already".into(),
            )),
            other => other.into(),
        })?;
    a.status_before = Some(a.status);
    a.status = Status::Renewing;
    a.problem = None;
    a.updated_at = now;
    accounts::update_lifecycle(&mut tx, &a).await?;
    schedule(&mut tx, &a, &d, now, false).await?;
    super::super::requests::notify_step(&mut tx, &queue.base_url, &r, &d, now).await?;
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
    r.state = alm_core::requests::RequestState::Approved;
    let Some(mut a) = (match r.account_id {
        Some(id) => accounts::get(tx, id).await?,
        None => None,
    }) else {
        return Err(ServiceError::NotFound { what: "account" });
    };
    let d = super::super::requests::definition(tx, a.template_id, a.template_version).await?;
    let interval: Interval = a.interval;
    let before = a.eol_at;
    a.eol_at = renewed_eol(a.eol_at, interval);
    a.status = Status::Active;
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
        let now = queue.clock.now();
        let d = super::super::requests::definition(tx, a.template_id, a.template_version).await?;
        a.status = a.status_before.take().unwrap_or(Status::Active);
        a.problem = Some(format!(
            "renewal rejected: {}",
            reason.unwrap_or("no reason given")
        ));
        a.updated_at = now;
        accounts::update_lifecycle(tx, &a).await?;
        // Submitting cleared the reminder schedule (no reminders while renewing); back to its
        // status, the account is reminded again (SPEC §4.4: none only once it is renewed or
        // retired). Without this a denied renewal silenced its reminders for good — found by
        // the model-based test (tests/it/model_lifecycle.rs).
        schedule(tx, &a, &d, now, true).await?;
    }
    Ok(())
}

//! Requests (SPEC §2.5): a requester asks for an account through a published template whose
//! audience includes them. Drafts can be edited and deleted; submitting pins the template's
//! published version and starts approval step 1; a request can be withdrawn until approved.
//!
//! The account name is unique per domain: a live request, or an object of that name in the
//! domain's last sync, blocks it (managed accounts join the check when they exist). The
//! partial unique index on `requests` closes the race between two submits.

mod checks;
mod notices;
mod reading;

pub(crate) use checks::{checked, offered};
use checks::{name_is_free, spns_are_free};
pub(crate) use notices::{notify_requester, notify_step};
pub(crate) use reading::{decision, info, info_with, Shared};
pub use reading::{get, list};

use super::audit::{record, Subject};
use super::refusal::Refusal;
use super::{Actor, ServiceError, ServiceResult};
use alm_core::permissions::{perm, Can, Scope};
use alm_core::requests::{
    check_details, AccountName, Decision, Owners, RequestDetails, RequestKind, RequestState,
};
use alm_core::templates::{Interval, TemplateDefinition, TemplateState};
use alm_core::{Clock, FieldError, GroupId, UserId, ValidationErrors};
use alm_store::requests::{self as store, ApprovalRecord, RequestRecord};
use alm_store::{directory_sync, groups, templates, users, Conn, Db};
use serde_json::json;
use std::collections::{BTreeMap, HashSet};
use uuid::Uuid;

/// What a requester fills in.
#[derive(Debug, Clone)]
pub struct RequestInput {
    pub template_id: Uuid,
    pub account_name: String,
    pub interval: Interval,
    pub justification: String,
    pub description: String,
    pub attributes: BTreeMap<String, String>,
    pub owners: Owners,
    pub ou: Option<String>,
    pub folder: Option<String>,
    pub terms_accepted: bool,
}

/// A decision as a reader may see it (approver hidden from requesters when the template says so).
#[derive(Debug, Clone)]
pub struct DecisionInfo {
    pub step: i64,
    pub approver_id: Option<UserId>,
    pub approver_name: Option<String>,
    pub decision: String,
    pub reason: Option<String>,
    pub decided_at: time::OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct RequestInfo {
    pub record: RequestRecord,
    pub details: RequestDetails,
    pub template_name: String,
    pub steps: usize,
    pub decisions: Vec<DecisionInfo>,
    pub provisioning: Option<ProvisioningProgress>,
}

/// Where provisioning stands, from the request's provisioning job (once approved).
#[derive(Debug, Clone)]
pub struct ProvisioningProgress {
    /// Attempts started so far.
    pub attempts: i64,
    /// When the next attempt may start, while one waits.
    pub next_attempt_at: Option<time::OffsetDateTime>,
}

/// The progress of the request's latest provisioning job, if it has one.
async fn provisioning_progress(
    conn: &mut Conn,
    r: &RequestRecord,
) -> ServiceResult<Option<ProvisioningProgress>> {
    let job = alm_store::jobs::list(conn, None, Some(("request", &r.id.to_string())), 10)
        .await?
        .into_iter()
        .find(|j| j.kind == alm_core::job_kind::JobKind::Provision);
    Ok(job.map(|j| ProvisioningProgress {
        attempts: j.attempts,
        next_attempt_at: (j.status == alm_core::job_kind::JobStatus::Queued)
            .then_some(j.not_before),
    }))
}

fn not_found() -> ServiceError {
    ServiceError::NotFound { what: "request" }
}

pub(crate) fn details_of(r: &RequestRecord) -> ServiceResult<RequestDetails> {
    serde_json::from_str(&r.details).map_err(|e| {
        ServiceError::Store(alm_store::StoreError::Corrupt(format!(
            "request {}: {e}",
            r.id
        )))
    })
}

/// The definition of a template version.
pub(crate) async fn definition(
    conn: &mut Conn,
    template: Uuid,
    version: i64,
) -> ServiceResult<TemplateDefinition> {
    let v = templates::version(conn, template, version)
        .await?
        .ok_or(ServiceError::NotFound { what: "template" })?;
    serde_json::from_str(&v.definition).map_err(|e| {
        ServiceError::Store(alm_store::StoreError::Corrupt(format!(
            "template {template} version {version}: {e}"
        )))
    })
}

fn conflict_or(e: alm_store::StoreError) -> ServiceError {
    match e {
        alm_store::StoreError::Conflict { what } => ServiceError::Conflict(FieldError::new(
            "account_name",
            "unique",
            format!("{what} exists already"),
        )),
        other => other.into(),
    }
}

fn summary(r: &RequestRecord) -> serde_json::Value {
    json!({"account_name": r.account_name, "state": r.state, "template_id": r.template_id.to_string(),
           "template_version": r.template_version, "step": r.current_step})
}

/// Saves a new draft.
pub async fn create(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::RequestCreate>,
    actor: &Actor,
    input: RequestInput,
    on_behalf_of: Option<UserId>,
) -> ServiceResult<RequestInfo> {
    let mut tx = db.begin_write().await?;
    let requester = match on_behalf_of {
        None => can.actor(),
        Some(person) => requester_for_client(&mut tx, can.actor(), person).await?,
    };
    let r = create_in(&mut tx, clock, can, actor, input, requester).await?;
    if requester != can.actor() {
        alm_store::api_clients::record_submission(&mut tx, r.record.id, can.actor()).await?;
    }
    tx.commit().await?;
    Ok(r)
}

/// The requester an API client names (SPEC §7.7: a ticketing system submits for the person
/// who asked): only an API client may name one, and it must be an enabled person. The
/// template's audience and rules are then checked for that person, as if they had asked.
async fn requester_for_client(
    conn: &mut Conn,
    client: UserId,
    person: UserId,
) -> ServiceResult<UserId> {
    use alm_store::users::UserSource;
    let is_client = users::get(conn, client)
        .await?
        .is_some_and(|u| u.source == UserSource::ApiClient);
    if !is_client {
        return Err(FieldError::new(
            "requester_id",
            "api-client-only",
            "only an API client submits a request for someone else; leave it out to ask for yourself",
        )
        .into());
    }
    if !users::get(conn, person)
        .await?
        .is_some_and(|u| u.enabled && u.source != UserSource::ApiClient)
    {
        return Err(
            FieldError::new("requester_id", "exists", "no enabled person has this id").into(),
        );
    }
    Ok(person)
}

/// Saves a new draft for `requester` in the caller's transaction (a new request, or a clone
/// of an account).
pub(crate) async fn create_in(
    tx: &mut alm_store::WriteTx,
    clock: &dyn Clock,
    _can: &Can<perm::RequestCreate>,
    actor: &Actor,
    input: RequestInput,
    requester: UserId,
) -> ServiceResult<RequestInfo> {
    let now = clock.now();
    let id = alm_core::ids::uuid_v7_at(now);
    let (template_name, version, d) = offered(tx, input.template_id, requester).await?;
    let (name, details) = checked(tx, &d, requester, &input, id).await?;
    let r = RequestRecord {
        id,
        template_id: input.template_id,
        template_version: version,
        requester_id: requester,
        domain_id: d.domain_id,
        account_name: name,
        state: RequestState::Draft,
        current_step: None,
        details: serde_json::to_string(&details).expect("plain data"),
        rejection_reason: None,
        failure_reason: None,
        created_at: now,
        updated_at: now,
        submitted_at: None,
        decided_at: None,
        kind: RequestKind::New,
        account_id: None,
    };
    store::insert(tx, &r).await.map_err(conflict_or)?;
    record(
        tx,
        clock,
        actor,
        "request.created",
        Subject::new("request", id),
        summary(&r),
    )
    .await?;
    Ok(RequestInfo {
        record: r,
        details,
        template_name,
        steps: d.steps.len(),
        decisions: vec![],
        provisioning: None,
    })
}

/// The request if the capability reaches it (its requester, or `manage`).
pub(crate) async fn reachable<P: alm_core::permissions::PermissionMarker>(
    conn: &mut Conn,
    can: &Can<P>,
    id: Uuid,
) -> ServiceResult<RequestRecord> {
    let r = store::get(conn, id).await?.ok_or_else(not_found)?;
    // An API client reaches what it submitted for someone (SPEC §7.7).
    if !can.reaches(r.requester_id)
        && !alm_store::api_clients::submitted(conn, id, can.actor()).await?
    {
        return Err(ServiceError::out_of_scope(
            "request",
            "request",
            can.actor(),
            id,
        ));
    }
    Ok(r)
}

/// Changes a draft.
pub async fn update(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::RequestUpdate>,
    actor: &Actor,
    id: Uuid,
    input: RequestInput,
) -> ServiceResult<RequestInfo> {
    let now = clock.now();
    let mut tx = db.begin_write().await?;
    let mut r = reachable(&mut tx, can, id).await?;
    if r.state != RequestState::Draft {
        return Err(ServiceError::Refused(Refusal::InState(format!(
            "a {} request cannot change; withdraw it and make a new one",
            r.state
        ))));
    }
    let (template_name, version, d) = offered(&mut tx, input.template_id, r.requester_id).await?;
    let (name, details) = checked(&mut tx, &d, r.requester_id, &input, id).await?;
    r.template_id = input.template_id;
    r.template_version = version;
    r.domain_id = d.domain_id;
    r.account_name = name;
    r.details = serde_json::to_string(&details).expect("plain data");
    r.updated_at = now;
    store::update(&mut tx, &r).await.map_err(conflict_or)?;
    record(
        &mut tx,
        clock,
        actor,
        "request.updated",
        Subject::new("request", id),
        summary(&r),
    )
    .await?;
    tx.commit().await?;
    Ok(RequestInfo {
        record: r,
        details,
        template_name,
        steps: d.steps.len(),
        decisions: vec![],
        provisioning: None,
    })
}

/// Submits a draft: checked again against the template's newest published version, the name
/// taken, approval step 1 started.
pub async fn submit(
    queue: &super::jobs::Queue,
    can: &Can<perm::RequestUpdate>,
    actor: &Actor,
    id: Uuid,
) -> ServiceResult<RequestInfo> {
    let (db, clock) = (&queue.db, queue.clock.as_ref());
    let now = clock.now();
    let mut tx = db.begin_write().await?;
    let mut r = reachable(&mut tx, can, id).await?;
    if r.state != RequestState::Draft {
        return Err(ServiceError::Refused(Refusal::InState(format!(
            "only a draft can be submitted; this request is {}",
            r.state
        ))));
    }
    let details = details_of(&r)?;
    let input = RequestInput {
        template_id: r.template_id,
        account_name: r.account_name.to_string(),
        interval: details.interval,
        justification: details.justification.clone(),
        description: details.description.clone(),
        attributes: details.attributes.clone(),
        owners: details.owners.clone(),
        ou: Some(details.ou.clone()),
        folder: Some(details.folder.clone()),
        terms_accepted: details.terms_accepted,
    };
    let (template_name, version, d) = offered(&mut tx, r.template_id, r.requester_id).await?;
    // The stored name has the prefix applied already: check it again as what was typed.
    let mut unprefixed = input.clone();
    unprefixed.account_name = AccountName::typed_part(r.account_name.as_str(), &d).to_owned();
    let (name, details) = checked(&mut tx, &d, r.requester_id, &unprefixed, id).await?;
    r.account_name = name;
    r.template_version = version;
    r.details = serde_json::to_string(&details).expect("plain data");
    r.state = RequestState::PendingApproval;
    r.current_step = Some(1);
    r.submitted_at = Some(now);
    r.updated_at = now;
    store::update(&mut tx, &r).await.map_err(conflict_or)?;
    record(
        &mut tx,
        clock,
        actor,
        "request.submitted",
        Subject::new("request", id),
        summary(&r),
    )
    .await?;
    notify_step(&mut tx, &queue.base_url, &r, &d, now).await?;
    let params =
        crate::services::notifications::request_params(&mut tx, &queue.base_url, &r, None).await?;
    crate::services::notifications::tell_administrators_if_enabled(
        &mut tx,
        now,
        alm_notify::events::REQUEST_SUBMITTED,
        &params,
        ("request", id.to_string()),
    )
    .await?;
    tx.commit().await?;
    Ok(RequestInfo {
        record: r,
        details,
        template_name,
        steps: d.steps.len(),
        decisions: vec![],
        provisioning: None,
    })
}

/// Withdraws a draft or a request waiting for approval (its name is free again).
pub async fn withdraw(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::RequestUpdate>,
    actor: &Actor,
    id: Uuid,
) -> ServiceResult<()> {
    let now = clock.now();
    let mut tx = db.begin_write().await?;
    let mut r = reachable(&mut tx, can, id).await?;
    if !r.state.withdrawable() {
        return Err(ServiceError::Refused(Refusal::InState(format!(
            "a {} request cannot be withdrawn",
            r.state
        ))));
    }
    r.state = RequestState::Withdrawn;
    r.current_step = None;
    r.decided_at = Some(now);
    r.updated_at = now;
    store::update(&mut tx, &r).await?;
    record(
        &mut tx,
        clock,
        actor,
        "request.withdrawn",
        Subject::new("request", id),
        summary(&r),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes a draft.
pub async fn delete(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::RequestDelete>,
    actor: &Actor,
    id: Uuid,
) -> ServiceResult<()> {
    let mut tx = db.begin_write().await?;
    let r = reachable(&mut tx, can, id).await?;
    if r.state != RequestState::Draft {
        return Err(ServiceError::Refused(Refusal::InState(
            "only a draft can be deleted; withdraw a submitted request instead".into(),
        )));
    }
    store::delete(&mut tx, id).await?;
    record(
        &mut tx,
        clock,
        actor,
        "request.deleted",
        Subject::new("request", id),
        summary(&r),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The terms of service of the template's published version (what a requester accepts), or
/// empty when it is not published.
pub async fn terms_of(db: &Db, template: Uuid) -> ServiceResult<String> {
    let mut conn = db.read().await?;
    let Some(t) = templates::get(&mut conn, template).await? else {
        return Err(not_found_template());
    };
    match (t.state, t.published_version) {
        (TemplateState::Published, Some(v)) => Ok(definition(&mut conn, template, v).await?.terms),
        _ => Ok(String::new()),
    }
}

fn not_found_template() -> ServiceError {
    ServiceError::NotFound { what: "template" }
}

/// A published template the caller may request with: the same rule as a new draft's
/// ([`offered`]), for the new-request page.
#[derive(Debug, Clone)]
pub struct OfferedTemplate {
    pub id: Uuid,
    pub name: String,
    pub version: i64,
    pub definition: TemplateDefinition,
}

/// The templates offered to the caller now, by name.
pub async fn offered_templates(
    db: &Db,
    can: &Can<perm::RequestCreate>,
) -> ServiceResult<Vec<OfferedTemplate>> {
    let mut conn = db.read().await?;
    let mut out = Vec::new();
    for t in templates::list(&mut conn, None).await? {
        if t.state != TemplateState::Published {
            continue;
        }
        match offered(&mut conn, t.id, can.actor()).await {
            Ok((name, version, definition)) => out.push(OfferedTemplate {
                id: t.id,
                name,
                version,
                definition,
            }),
            // Not offered to this caller (a field error of `template_id`): left out.
            Err(ServiceError::Validation(_)) => {}
            Err(e) => return Err(e),
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// One template offered to the caller, or the reason it is not (a field error).
pub async fn offered_template(
    db: &Db,
    can: &Can<perm::RequestCreate>,
    id: Uuid,
) -> ServiceResult<OfferedTemplate> {
    let mut conn = db.read().await?;
    let (name, version, definition) = offered(&mut conn, id, can.actor()).await?;
    Ok(OfferedTemplate {
        id,
        name,
        version,
        definition,
    })
}

/// The live check of a name as the requester types it (SPEC §2.5): the template's prefix,
/// pattern and length rules, then whether the name is free on the domain (live requests
/// other than `this`, managed accounts, the last directory sync). Reads only.
pub async fn check_name(
    db: &Db,
    can: &Can<perm::RequestCreate>,
    template: Uuid,
    typed: &str,
    this: Option<Uuid>,
) -> ServiceResult<AccountName> {
    let mut conn = db.read().await?;
    let (_, _, d) = offered(&mut conn, template, can.actor()).await?;
    let name = AccountName::requested("account_name", typed, &d)?;
    let this = this.unwrap_or(Uuid::nil());
    name_is_free(&mut conn, &d, &name, this).await?;
    spns_are_free(&mut conn, &d, &name, this).await?;
    Ok(name)
}

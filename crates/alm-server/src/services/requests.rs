//! Requests (SPEC §2.5): a requester asks for an account through a published template whose
//! audience includes them. Drafts can be edited and deleted; submitting pins the template's
//! published version and starts approval step 1; a request can be withdrawn until approved.
//!
//! The account name is unique per domain: a live request, or an object of that name in the
//! domain's last sync, blocks it (managed accounts join the check when they exist). The
//! partial unique index on `requests` closes the race between two submits.

use super::audit::{record, Subject};
use super::refusal::Refusal;
use super::{Actor, ServiceError, ServiceResult};
use alm_core::permissions::{perm, Can, Scope};
use alm_core::requests::{
    check_details, full_account_name, Decision, Owners, RequestDetails, RequestKind, RequestState,
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

/// The published template version the caller may request with, or why not (as a field error).
async fn offered(
    conn: &mut Conn,
    template: Uuid,
    caller: UserId,
) -> ServiceResult<(String, i64, TemplateDefinition)> {
    let refused = |message: &str| -> ServiceError {
        FieldError::new("template_id", "offered", message.to_owned()).into()
    };
    let t = templates::get(conn, template)
        .await?
        .ok_or_else(|| refused("no template has this id"))?;
    let version = match (t.state, t.published_version) {
        (TemplateState::Published, Some(v)) => v,
        _ => return Err(refused("the template is not published")),
    };
    let d = definition(conn, template, version).await?;
    let mine: HashSet<GroupId> = users::group_ids(conn, caller).await?.into_iter().collect();
    if !d.audience_groups.iter().any(|g| mine.contains(g)) {
        return Err(refused(
            "the template is not offered to you (you are in none of its audience groups)",
        ));
    }
    Ok((t.name, version, d))
}

/// Validates the input against the template and the database; returns the full name and
/// the details to store.
async fn checked(
    conn: &mut Conn,
    d: &TemplateDefinition,
    requester: UserId,
    input: &RequestInput,
    this: Uuid,
) -> ServiceResult<(String, RequestDetails)> {
    let mut errors = ValidationErrors::new();
    let name = errors.check(full_account_name("account_name", &input.account_name, d));
    let mut details = RequestDetails {
        interval: input.interval,
        justification: input.justification.trim().to_owned(),
        description: input.description.trim().to_owned(),
        attributes: input
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), v.trim().to_owned()))
            .collect(),
        owners: input.owners.clone(),
        ou: input
            .ou
            .clone()
            .unwrap_or_else(|| d.ous.first().cloned().unwrap_or_default()),
        folder: input
            .folder
            .clone()
            .unwrap_or_else(|| d.folders.first().cloned().unwrap_or_default()),
        terms_accepted: input.terms_accepted,
    };
    let known_ous = super::templates::synced_ous(conn, d.domain_id).await?;
    match check_details(d, requester, &details, &known_ous) {
        // Keep the OU as the directory spells it: the DN checked is the DN provisioned.
        Ok(()) => {
            let synced = alm_core::requests::check_ou(d, &details.ou, &known_ous)?;
            details.ou = synced.to_string();
        }
        Err(e) => errors.0.extend(e.0),
    }
    for (i, u) in details.owners.users.iter().enumerate() {
        if !users::get(conn, *u).await?.is_some_and(|u| u.enabled) {
            errors.push(FieldError::new(
                format!("owners.users[{i}]"),
                "exists",
                "no enabled user has this id",
            ));
        }
    }
    for (i, g) in details.owners.groups.iter().enumerate() {
        if !groups::get(conn, *g).await?.is_some_and(|g| g.enabled) {
            errors.push(FieldError::new(
                format!("owners.groups[{i}]"),
                "exists",
                "no enabled group has this id",
            ));
        }
    }
    errors.into_result()?;
    let name = name.expect("checked");
    name_is_free(conn, d, &name, this).await?;
    spns_are_free(conn, d, &name, this).await?;
    Ok((name, details))
}

/// A gMSA's service principal names (the template's, `{name}` filled in) must be unique
/// across requests on the domain (SPEC §2.4): checked against every live request's, so a
/// template with a fixed SPN serves one account at a time and the directory's own refusal at
/// provisioning never has to be the first word.
async fn spns_are_free(
    conn: &mut Conn,
    d: &TemplateDefinition,
    name: &str,
    this: Uuid,
) -> ServiceResult<()> {
    let Some(gmsa) = d.gmsa.as_ref() else {
        return Ok(());
    };
    let (_, mine) = gmsa.for_account(name);
    let mine: std::collections::HashSet<String> = mine.iter().map(|s| s.to_lowercase()).collect();
    if mine.is_empty() {
        return Ok(());
    }
    let mut seen: std::collections::HashMap<
        (Uuid, i64),
        Option<alm_core::templates::GmsaSettings>,
    > = std::collections::HashMap::new();
    for (template, version, other) in store::live_on_domain(conn, d.domain_id, this).await? {
        if let std::collections::hash_map::Entry::Vacant(slot) = seen.entry((template, version)) {
            slot.insert(definition(conn, template, version).await?.gmsa);
        }
        let Some(theirs) = seen.get(&(template, version)).and_then(Option::as_ref) else {
            continue;
        };
        if let Some(clash) = theirs
            .for_account(&other)
            .1
            .into_iter()
            .find(|spn| mine.contains(&spn.to_lowercase()))
        {
            return Err(ServiceError::Conflict(FieldError::new(
                "account_name",
                "unique",
                format!(
                    "the service principal name {clash} is already claimed by the request for {other}; \
                     SPNs must be unique (a template SPN with {{name}} in it is unique per account)"
                ),
            )));
        }
    }
    Ok(())
}

/// No live request and no directory object may already have the name on the domain.
async fn name_is_free(
    conn: &mut Conn,
    d: &TemplateDefinition,
    name: &str,
    this: Uuid,
) -> ServiceResult<()> {
    if store::name_held_by_other(conn, d.domain_id, name, this).await? {
        return Err(ServiceError::Conflict(FieldError::new(
            "account_name",
            "unique",
            format!("{name} is taken by another request on this domain"),
        )));
    }
    if alm_store::accounts::name_in_use(conn, d.domain_id, name).await? {
        return Err(ServiceError::Conflict(FieldError::new(
            "account_name",
            "unique",
            format!("a managed account named {name} exists on this domain"),
        )));
    }
    let in_directory = directory_sync::all_of_kinds(conn, d.domain_id, &["user", "gmsa", "msa"])
        .await?
        .iter()
        .any(|o| {
            o.name.eq_ignore_ascii_case(name)
                || o.name.trim_end_matches('$').eq_ignore_ascii_case(name)
        });
    if in_directory {
        return Err(ServiceError::Conflict(FieldError::new(
            "account_name",
            "unique",
            format!("an account named {name} exists in the directory already"),
        )));
    }
    Ok(())
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
) -> ServiceResult<RequestInfo> {
    let mut tx = db.begin_write().await?;
    let r = create_in(&mut tx, clock, can, actor, input).await?;
    tx.commit().await?;
    Ok(r)
}

/// Saves a new draft in the caller's transaction (a new request, or a clone of an account).
pub(crate) async fn create_in(
    tx: &mut alm_store::WriteTx,
    clock: &dyn Clock,
    can: &Can<perm::RequestCreate>,
    actor: &Actor,
    input: RequestInput,
) -> ServiceResult<RequestInfo> {
    let now = clock.now();
    let id = alm_core::ids::uuid_v7_at(now);
    let (template_name, version, d) = offered(tx, input.template_id, can.actor()).await?;
    let (name, details) = checked(tx, &d, can.actor(), &input, id).await?;
    let r = RequestRecord {
        id,
        template_id: input.template_id,
        template_version: version,
        requester_id: can.actor(),
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
    if !can.reaches(r.requester_id) {
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
        account_name: r.account_name.clone(),
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
    // The stored name has the prefix applied already: check it as the full name.
    let mut unprefixed = input.clone();
    unprefixed.account_name = r
        .account_name
        .strip_prefix(&d.name_prefix)
        .unwrap_or(&r.account_name)
        .to_owned();
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

/// A request with its decisions; approver names hidden from a requester (without `manage`)
/// when the template hides them.
pub(crate) async fn info(
    conn: &mut Conn,
    r: RequestRecord,
    reader: UserId,
    scope: Scope,
) -> ServiceResult<RequestInfo> {
    let d = definition(conn, r.template_id, r.template_version).await?;
    let name = templates::get(conn, r.template_id)
        .await?
        .map(|t| t.name)
        .unwrap_or_default();
    let hide = d.hide_approver_names && reader == r.requester_id && scope != Scope::All;
    let mut decisions = Vec::new();
    for a in store::decisions(conn, r.id).await? {
        let approver_name = if hide {
            None
        } else {
            users::get(conn, a.approver_id)
                .await?
                .map(|u| u.display_name)
        };
        decisions.push(DecisionInfo {
            step: a.step,
            approver_id: (!hide).then_some(a.approver_id),
            approver_name,
            decision: a.decision.as_str().to_owned(),
            reason: a.reason,
            decided_at: a.decided_at,
        });
    }
    let provisioning = match r.state {
        RequestState::QueuedForProvisioning
        | RequestState::Provisioning
        | RequestState::Retrying
        | RequestState::ProvisioningFailed => provisioning_progress(conn, &r).await?,
        _ => None,
    };
    Ok(RequestInfo {
        details: details_of(&r)?,
        record: r,
        template_name: name,
        steps: d.steps.len(),
        decisions,
        provisioning,
    })
}

pub async fn get(db: &Db, can: &Can<perm::RequestRead>, id: Uuid) -> ServiceResult<RequestInfo> {
    let mut conn = db.read().await?;
    let r = reachable(&mut conn, can, id).await?;
    info(&mut conn, r, can.actor(), can.scope()).await
}

/// One page of the caller's requests (everyone's with `manage`), of one state and with
/// `query` in the account name, and how many match.
pub async fn list(
    db: &Db,
    can: &Can<perm::RequestRead>,
    state: Option<RequestState>,
    query: Option<&str>,
    page: &alm_core::paging::PageRequest,
) -> ServiceResult<(Vec<RequestInfo>, u64)> {
    let mut conn = db.read().await?;
    let who = (can.scope() != Scope::All).then_some(can.actor());
    let (records, total) = store::page(&mut conn, who, state, query, page).await?;
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        out.push(info(&mut conn, r, can.actor(), can.scope()).await?);
    }
    Ok((out, total))
}

pub(crate) fn decision(
    r: &RequestRecord,
    step: i64,
    approver: UserId,
    approve: bool,
    reason: Option<String>,
    at: time::OffsetDateTime,
) -> ApprovalRecord {
    ApprovalRecord {
        request_id: r.id,
        step,
        approver_id: approver,
        decision: if approve {
            Decision::Approved
        } else {
            Decision::Denied
        },
        reason,
        decided_at: at,
    }
}

/// Tells the approvers of the request's current step that it waits for them (the requester
/// never approves their own request, so is never told).
pub(crate) async fn notify_step(
    conn: &mut Conn,
    base_url: &str,
    r: &RequestRecord,
    d: &TemplateDefinition,
    now: time::OffsetDateTime,
) -> ServiceResult<()> {
    let Some(step) = r.current_step.and_then(|s| d.steps.get((s - 1) as usize)) else {
        return Ok(());
    };
    let (reach, _) = super::templates::step_reach(conn, step).await?;
    let params = super::notifications::request_params(conn, base_url, r, None).await?;
    super::notifications::emit(
        conn,
        now,
        alm_notify::events::REQUEST_STEP_REQUIRES_APPROVAL,
        &params,
        reach.into_iter().filter(|u| *u != r.requester_id),
        Some(("request", r.id.to_string())),
    )
    .await
}

/// Tells the requester about their request.
pub(crate) async fn notify_requester(
    conn: &mut Conn,
    base_url: &str,
    r: &RequestRecord,
    event: alm_notify::events::EventKind,
    reason: Option<&str>,
    now: time::OffsetDateTime,
) -> ServiceResult<()> {
    let params = super::notifications::request_params(conn, base_url, r, reason).await?;
    super::notifications::emit(
        conn,
        now,
        event,
        &params,
        [r.requester_id],
        Some(("request", r.id.to_string())),
    )
    .await
}

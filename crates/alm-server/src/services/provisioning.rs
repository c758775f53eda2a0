//! Provisioning (SPEC §3): the final approval queues a `provision` job for the domain's pool
//! in the same transaction; an engine makes the account and stores its credential
//! (`alm_engine::provision`, look before you create); the result becomes, in one transaction
//! with the job's completion, the managed account (`active`, lifecycle from 00:00 UTC of the
//! provisioning day, the requester first owner), the request `provisioned`, and the audit
//! records. A failed attempt whose cause passes (the DC or vault unreachable) leaves the
//! request `retrying` with the reason while the job runs again with capped back-off, for as
//! long as the outage lasts; a permanent failure marks it `provisioning-failed` with the reason.
//! Either way a person can retry it now or abandon it (`recovery.rs`). The requester hears
//! once when it starts failing and once when it ends (provisioned or failed).

use super::audit::{record, Subject};
use super::jobs::{AfterFailure, Done, FailedAttempt, Failure, JobHandler, NewJob, Queue};
use super::refusal::Refusal;
use super::requests::{definition, details_of};
use super::{Actor, ServiceError, ServiceResult};
use alm_core::account_state::{DirectoryState, SecretState};
use alm_core::filetime::eol_instant;
use alm_core::job_kind::JobKind;
use alm_core::job_kind::JobStatus;
use alm_core::lifecycle::Status;
use alm_core::requests::RequestState;
use alm_core::templates::{AccountType, EolAction};
use alm_engine::protocol::{
    AccountSpec, GmsaSpec, Problem, ProvisionTask, ProvisionedAccount, SecretSpec, Task, TaskResult,
};
use alm_store::accounts::{self, AccountRecord, Owner};
use alm_store::crypto::MasterKey;
use alm_store::jobs::{self, JobRecord};
use alm_store::requests::{self as store, RequestRecord};
use alm_store::{directory_sync, domains, groups, vaults, Conn, WriteTx};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

/// `provision` jobs.
pub(crate) struct ProvisionJobs;

#[async_trait::async_trait]
impl JobHandler for ProvisionJobs {
    async fn task(
        &self,
        conn: &mut Conn,
        key: &MasterKey,
        job: &JobRecord,
    ) -> Result<Task, String> {
        task(conn, key, job).await
    }

    fn reports_unmade_tasks(&self) -> bool {
        true
    }

    async fn started(
        &self,
        tx: &mut WriteTx,
        job: &JobRecord,
        now: OffsetDateTime,
    ) -> ServiceResult<()> {
        started(tx, job, now).await
    }

    async fn complete(&self, done: Done<'_>, result: TaskResult) -> ServiceResult<()> {
        match result {
            TaskResult::Provisioned { account, problem } => {
                let result = match (account, problem) {
                    (Some(a), None) => Ok(a),
                    (_, Some(p)) => Err(p),
                    (None, None) => Err(Problem {
                        problem: "other".into(),
                        message: "the engine reported nothing".into(),
                    }),
                };
                complete(done.queue, done.job, done.lease_id, done.actor, result).await
            }
            other => done.unexpected(other).await,
        }
    }

    /// The request shows the reason, and `retrying` (the job runs again) or
    /// `provisioning-failed` (it does not). The requester hears of the first failure of an
    /// episode (no reason recorded yet) and of its end, never of each attempt.
    async fn failed(&self, tx: &mut WriteTx, attempt: &FailedAttempt<'_>) -> ServiceResult<()> {
        let FailedAttempt {
            queue,
            job,
            reason,
            now,
            after,
        } = *attempt;
        let Ok(id) = job.subject_id.parse::<Uuid>() else {
            return Ok(());
        };
        let Some(mut r) = store::get(tx, id).await? else {
            return Ok(());
        };
        let first_failure = r.failure_reason.is_none();
        let (state, event) = match after {
            AfterFailure::RetryAt(_) => (
                RequestState::Retrying,
                first_failure.then_some(alm_notify::events::REQUEST_PROVISIONING_RETRYING),
            ),
            AfterFailure::GaveUp => (
                RequestState::ProvisioningFailed,
                Some(alm_notify::events::REQUEST_PROVISIONING_FAILED),
            ),
        };
        r.state = state;
        r.failure_reason = Some(reason.chars().take(2000).collect());
        r.updated_at = now;
        store::update(tx, &r).await?;
        if let Some(event) = event {
            super::requests::notify_requester(tx, &queue.base_url, &r, event, Some(reason), now)
                .await?;
        }
        Ok(())
    }
}

/// Queues provisioning of an approved request (inside the approval's transaction).
pub(crate) async fn queue(
    queue: &Queue,
    tx: &mut Conn,
    r: &mut RequestRecord,
    actor: &Actor,
) -> ServiceResult<()> {
    let pool = super::domains::pool_of(tx, r.domain_id).await?;
    queue
        .enqueue(
            tx,
            NewJob {
                kind: JobKind::Provision,
                pool,
                engine: None,
                subject_type: "request",
                subject_id: r.id.to_string(),
                payload: json!({}),
                dedupe_key: Some(format!("{}:{}", JobKind::Provision, r.id)),
                actor,
            },
        )
        .await?;
    r.state = RequestState::QueuedForProvisioning;
    let params = super::notifications::request_params(tx, &queue.base_url, r, None).await?;
    super::notifications::tell_administrators_if_enabled(
        tx,
        queue.clock.now(),
        alm_notify::events::REQUEST_QUEUED_FOR_PROVISIONING,
        &params,
        ("request", r.id.to_string()),
    )
    .await
}

/// The lifecycle of an account provisioned at `at`: it starts at 00:00 UTC of that day and
/// ends at the EOL instant of the interval's end date.
fn lifecycle(
    at: OffsetDateTime,
    interval: alm_core::templates::Interval,
) -> (OffsetDateTime, OffsetDateTime) {
    let start = eol_instant(at.date());
    (start, eol_instant(interval.end_date(at.date())))
}

/// The task for a leased provisioning job: everything the engine needs, the domain's bind
/// password and the vault's credential opened for this lease only.
async fn task(conn: &mut Conn, key: &MasterKey, job: &JobRecord) -> Result<Task, String> {
    let err = |e: ServiceError| e.to_string();
    let id: Uuid = job
        .subject_id
        .parse()
        .map_err(|_| "bad request id".to_owned())?;
    let r = store::get(conn, id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the request was removed")?;
    let d = definition(conn, r.template_id, r.template_version)
        .await
        .map_err(err)?;
    let details = details_of(&r).map_err(err)?;
    let domain = domains::get(conn, r.domain_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the domain was removed")?;
    let connection = super::domains::connection(&domain, key).map_err(err)?;
    let rules: super::domains::PasswordRules = serde_json::from_str(&domain.password_policy)
        .map_err(|e| format!("domains.password_policy of {}: unreadable ({e})", domain.id))?;
    let at = job.leased_at.unwrap_or(job.created_at);
    let (_, eol) = lifecycle(at, details.interval);
    let attributes = d
        .attributes
        .iter()
        .filter_map(|rule| {
            let given = details
                .attributes
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(&rule.name))
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty());
            given
                .or_else(|| rule.default.clone())
                .map(|v| (rule.name.clone(), v))
        })
        .collect();
    let vault = vaults::get(conn, d.vault_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the template's vault was removed")?;
    let vault_connection = if vault.kind == super::vaults::KIND_BUILTIN {
        None
    } else {
        Some(super::vaults::connection(&vault, key).map_err(err)?)
    };
    let gmsa = match (&d.gmsa, d.account_type) {
        (Some(g), AccountType::Gmsa) => {
            let (dns_host_name, service_principal_names) = g.for_account(r.account_name.as_str());
            Some(GmsaSpec {
                dns_host_name,
                service_principal_names,
                encryption: g.encryption,
                password_readers: reader_sids(conn, r.domain_id, g).await?,
                password_interval_days: GMSA_PASSWORD_INTERVAL_DAYS,
            })
        }
        (None, AccountType::Gmsa) => return Err("the gmsa template has no gMSA settings".into()),
        _ => None,
    };
    // The UPN suffix is the domain's DNS name, from the DC components of its base DN.
    let base_dn = alm_core::Dn::parse(&domain.base_dn)
        .map_err(|e| format!("the domain's stored base DN does not parse: {e}"))?;
    let upn = r.account_name.upn(&base_dn).map_err(|e| e.message)?;
    Ok(Task::Provision(Box::new(ProvisionTask {
        domain: connection,
        account: AccountSpec {
            sam_account_name: r.account_name.clone(),
            user_principal_name: upn.to_string(),
            description: details.description.clone(),
            ou: details.ou.clone(),
            attributes,
            expires_at: (d.eol_action == EolAction::Expire).then_some(eol),
            password_rules: rules,
            cannot_change_password: d.cannot_change_password && gmsa.is_none(),
            gmsa,
        },
        vault: vault_connection,
        secret: SecretSpec {
            folder: details.folder.clone(),
            name: r.account_name.to_string(),
            domain: domain.name.clone(),
            notes: format!("Managed by alm (request {})", r.id),
        },
    })))
}

/// Active Directory's default for `msDS-ManagedPasswordInterval` (the template has no field
/// for it, SPEC §2.4).
const GMSA_PASSWORD_INTERVAL_DAYS: u32 = 30;

/// The SIDs of the principals that may retrieve a gMSA's password. Template readers are alm
/// users and groups (SPEC §2.4; alm groups are not directory groups, §2.2), so each becomes
/// the directory account user sync linked it to in this domain: a reader user must have one;
/// members of reader groups without one are passed over. Resolved when the job is leased, so
/// group membership counts as it is at provisioning.
async fn reader_sids(
    conn: &mut Conn,
    domain: alm_core::DomainId,
    g: &alm_core::templates::GmsaSettings,
) -> Result<Vec<String>, String> {
    let sid_of = |details: Option<serde_json::Value>| {
        details.and_then(|v| v["sid"].as_str().map(str::to_owned))
    };
    let mut sids = Vec::new();
    for user in &g.password_reader_users {
        let details = directory_sync::linked_account_details(conn, domain, *user)
            .await
            .map_err(|e| e.to_string())?;
        let sid = sid_of(details).ok_or_else(|| {
            format!("gMSA password reader (user {user}) has no synced account in the domain: add them to the domain's user sync")
        })?;
        sids.push(sid);
    }
    for group in &g.password_reader_groups {
        for member in groups::enabled_member_ids(conn, *group)
            .await
            .map_err(|e| e.to_string())?
        {
            let details = directory_sync::linked_account_details(conn, domain, member)
                .await
                .map_err(|e| e.to_string())?;
            if let Some(sid) = sid_of(details) {
                sids.push(sid);
            }
        }
    }
    sids.sort();
    sids.dedup();
    if sids.is_empty() {
        return Err("none of the gMSA's password readers has a synced account in the domain: add them to the domain's user sync".into());
    }
    Ok(sids)
}

/// Marks the request as being provisioned when an engine takes the job.
async fn started(tx: &mut WriteTx, job: &JobRecord, now: OffsetDateTime) -> ServiceResult<()> {
    let Ok(id) = job.subject_id.parse::<Uuid>() else {
        return Ok(());
    };
    if let Some(mut r) = store::get(tx, id).await? {
        r.state = RequestState::Provisioning;
        r.updated_at = now;
        store::update(tx, &r).await?;
    }
    Ok(())
}

/// Records what the engine made, exactly once (with the job's completion).
async fn complete(
    queue: &Queue,
    job: &JobRecord,
    lease_id: &str,
    engine_actor: &Actor,
    result: Result<ProvisionedAccount, Problem>,
) -> ServiceResult<()> {
    let made = match result {
        Ok(made) => made,
        Err(problem) => {
            return queue
                .failed(job, lease_id, Failure::from_problem(&problem))
                .await
        }
    };
    let now = queue.clock.now();
    let id: Uuid = job
        .subject_id
        .parse()
        .map_err(|_| ServiceError::NotFound { what: "request" })?;
    let account_id = alm_core::ids::uuid_v7_at(now);
    let mut tx = queue.db.begin_write().await?;
    let summary =
        json!({"account_id": account_id.to_string(), "created": made.created}).to_string();
    if !jobs::finish(
        &mut tx,
        job.id,
        lease_id,
        JobStatus::Succeeded,
        Some(&summary),
        None,
        now,
    )
    .await?
    {
        return Err(super::jobs::lease_lost());
    }
    let mut r = store::get(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound { what: "request" })?;
    let d = definition(&mut tx, r.template_id, r.template_version).await?;
    let details = details_of(&r)?;
    let secret_ref = match (&made.secret_ref, &made.password) {
        (Some(reference), _) => reference.clone(),
        (None, Some(password)) => {
            let domain = domains::get(&mut tx, r.domain_id)
                .await?
                .map(|d| d.name)
                .unwrap_or_default();
            let sealed = super::vaults::seal_entry(
                &queue.key,
                d.vault_id,
                &details.folder,
                &r.account_name,
                &alm_vault::VaultSecret {
                    domain,
                    username: r.account_name.to_string(),
                    password: alm_core::Secret::new(password.expose()),
                    notes: format!("Managed by alm (request {})", r.id),
                },
            );
            vaults::put_entry(
                &mut tx,
                d.vault_id,
                &details.folder,
                &r.account_name,
                &sealed,
                now,
            )
            .await?;
            format!("{}/{}", details.folder, r.account_name)
        }
        // A gMSA's password is the directory's own: there is nothing to store.
        (None, None) if d.account_type == AccountType::Gmsa => String::new(),
        (None, None) => {
            return Err(ServiceError::Refused(Refusal::EngineResult(
                "the engine reported no secret for the account".into(),
            )))
        }
    };
    let gmsa = d.account_type == AccountType::Gmsa;
    let (start, eol) = lifecycle(job.leased_at.unwrap_or(now), details.interval);
    let account = AccountRecord {
        id: account_id,
        domain_id: r.domain_id,
        name: r.account_name.to_string(),
        dn: made.dn.clone(),
        guid: made.guid.clone(),
        account_type: d.account_type,
        description: details.description.clone(),
        status: Status::Active,
        template_id: r.template_id,
        template_version: r.template_version,
        request_id: Some(r.id),
        interval: details.interval,
        eol_action: d.eol_action,
        lifecycle_start: start,
        eol_at: eol,
        vault_id: d.vault_id,
        secret_ref,
        directory_state: DirectoryState::Present,
        // `none`: nothing in a vault to look for (vault sync passes it over).
        secret_state: if gmsa {
            SecretState::None
        } else {
            SecretState::Present
        },
        created_at: now,
        updated_at: now,
        status_before: None,
        problem: None,
    };
    accounts::insert(&mut tx, &account).await?;
    super::lifecycle::schedule(&mut tx, &account, &d, now, true).await?;
    accounts::add_owner(&mut tx, account.id, Owner::User(r.requester_id), now).await?;
    for u in details
        .owners
        .users
        .iter()
        .filter(|u| **u != r.requester_id)
    {
        accounts::add_owner(&mut tx, account.id, Owner::User(*u), now).await?;
    }
    for g in &details.owners.groups {
        accounts::add_owner(&mut tx, account.id, Owner::Group(*g), now).await?;
    }
    r.state = RequestState::Provisioned;
    r.failure_reason = None;
    r.updated_at = now;
    store::update(&mut tx, &r).await?;
    super::requests::notify_requester(
        &mut tx,
        &queue.base_url,
        &r,
        alm_notify::events::REQUEST_PROVISIONED,
        None,
        now,
    )
    .await?;
    let requester = super::requester_of(job)?;
    record(
        &mut tx,
        queue.clock.as_ref(),
        engine_actor,
        "account.created",
        Subject::new("account", account.id),
        json!({"name": account.name, "dn": account.dn, "request_id": r.id.to_string(), "created": made.created,
               "eol_at": account.eol_at.unix_timestamp(), "vault_id": account.vault_id.to_string()}),
    )
    .await?;
    record(
        &mut tx,
        queue.clock.as_ref(),
        &requester,
        "request.provisioned",
        Subject::new("request", r.id),
        json!({"account_id": account.id.to_string(), "account_name": account.name}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_lifecycle_starts_at_midnight_of_the_provisioning_day() {
        let (start, eol) = lifecycle(
            datetime!(2026-11-29 23:59:59 UTC),
            alm_core::templates::Interval::Days(90),
        );
        assert_eq!(start, datetime!(2026-11-29 00:00 UTC));
        assert_eq!(eol, datetime!(2027-02-27 00:00 UTC));
    }
}

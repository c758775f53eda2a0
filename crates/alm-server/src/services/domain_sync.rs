//! Syncing a domain's directory into alm (SPEC §6.1): OUs, users and managed service accounts,
//! and groups with their members. The first sync is full; later ones ask only for objects
//! changed since the last one (`uSNChanged`), and a full sync can be asked for at any time.
//!
//! A sync is a job: an engine of the domain's pool reads the directory and hands back what it
//! read; [`apply`] writes it in one transaction together with marking the job done, so a
//! result counts once even if an engine died and another one ran the job again.
//!
//! Safety: everything is read from the directory before anything is written, so a sync that
//! fails midway or cannot reach the directory changes nothing in alm; the run is recorded
//! either way.

use super::audit::{record, Subject};
use super::jobs::{way_to_the_dc, Done, JobHandler, NewJob, Queue};
use super::refusal::Refusal;
use super::{Actor, ServiceError, ServiceResult};
use alm_core::account_state::DirectoryState;
use alm_core::job_kind::JobKind;
use alm_core::job_kind::JobStatus;
use alm_core::permissions::{perm, Can};
use alm_core::DomainId;
pub use alm_engine::protocol::SyncMode;
use alm_engine::protocol::{Problem, SyncSnapshot, Task, TaskResult};
use alm_store::directory_sync::{self, DirectoryObject, SyncRun};
use alm_store::jobs::{self, JobRecord};
use alm_store::{domains, Db};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;

/// What a `domain-sync` job asks for (its payload).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct SyncOrder {
    pub mode: SyncMode,
    /// For an incremental sync: objects changed since this `uSNChanged`.
    pub since_usn: i64,
}

impl SyncOrder {
    fn of(job: &JobRecord) -> Result<Self, String> {
        serde_json::from_str(&job.payload)
            .map_err(|e| format!("job {}: unreadable sync order ({e})", job.id))
    }
}

/// `domain-sync` jobs.
pub(crate) struct DomainSyncJobs;

#[async_trait::async_trait]
impl JobHandler for DomainSyncJobs {
    async fn task(
        &self,
        conn: &mut alm_store::Conn,
        key: &alm_store::crypto::MasterKey,
        job: &JobRecord,
    ) -> Result<Task, String> {
        let order = SyncOrder::of(job)?;
        Ok(Task::DomainSync {
            domain: super::calibration::domain_connection(conn, key, job).await?,
            mode: order.mode,
            since_usn: order.since_usn,
        })
    }

    async fn complete(&self, done: Done<'_>, result: TaskResult) -> ServiceResult<()> {
        match result {
            TaskResult::DomainSync { snapshot, problem } => {
                let read = match (snapshot, problem) {
                    (Some(s), _) => Ok(s),
                    (None, Some(p)) => Err(p.message),
                    (None, None) => Err("the engine read nothing".into()),
                };
                apply(done.queue, done.job, done.lease_id, done.actor, read)
                    .await
                    .map(drop)
            }
            other => done.unexpected(other).await,
        }
    }

    fn way_to_the_dc_broken<'r>(
        &self,
        _job: &JobRecord,
        result: &'r TaskResult,
    ) -> Option<&'r Problem> {
        match result {
            TaskResult::DomainSync { problem, .. } => way_to_the_dc(problem.as_ref()),
            _ => None,
        }
    }
}

/// The kind of sync to run. Without a previous sync there is nothing to be incremental from;
/// without a mode asked for, a sync is incremental unless the last full one is `full_every`
/// old or older: the safety net for what incremental reads cannot see (an object moved out of
/// the domain's base DN, a tombstone the directory already purged).
pub fn choose_mode(
    requested: Option<SyncMode>,
    state: Option<(i64, OffsetDateTime)>,
    now: OffsetDateTime,
    full_every: time::Duration,
) -> SyncMode {
    match (requested, state) {
        (_, None) | (Some(SyncMode::Full), _) => SyncMode::Full,
        (Some(SyncMode::Incremental), Some(_)) => SyncMode::Incremental,
        (None, Some((_, last_full))) if now - last_full >= full_every => SyncMode::Full,
        (None, Some(_)) => SyncMode::Incremental,
    }
}

/// Queues a sync of the domain (or returns the one already queued or running). `requested`
/// `None` lets [`choose_mode`] decide, with a full sync every `full_every`.
pub async fn request(
    queue: &Queue,
    can: &Can<perm::DomainUpdate>,
    actor: &Actor,
    id: DomainId,
    requested: Option<SyncMode>,
    full_every: time::Duration,
) -> ServiceResult<JobRecord> {
    let _ = can;
    let mut tx = queue.db.begin_write().await?;
    let domain = domains::get(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound { what: "domain" })?;
    let state = directory_sync::state(&mut tx, id).await?;
    let mode = choose_mode(requested, state, queue.clock.now(), full_every);
    let pool = domain.pool_id.ok_or_else(|| {
        ServiceError::Refused(Refusal::Unconfigured(
            "the domain has no engine pool".into(),
        ))
    })?;
    let job = queue
        .enqueue(
            &mut tx,
            NewJob {
                kind: JobKind::DomainSync,
                pool,
                engine: None,
                subject_type: "domain",
                subject_id: id.to_string(),
                payload: json!(SyncOrder {
                    mode,
                    since_usn: state.map(|s| s.0).unwrap_or(0)
                }),
                dedupe_key: Some(format!("{}:{id}", JobKind::DomainSync)),
                actor,
            },
        )
        .await?;
    tx.commit().await?;
    queue.wake();
    Ok(job)
}

/// The run a finished sync job recorded.
pub async fn run_of(db: &Db, job: &JobRecord) -> ServiceResult<Option<SyncRun>> {
    let Some(run_id) = job
        .result
        .as_deref()
        .and_then(|r| serde_json::from_str::<serde_json::Value>(r).ok())
        .and_then(|v| v["run_id"].as_str().map(str::to_owned))
    else {
        return Ok(None);
    };
    let id: DomainId = job
        .subject_id
        .parse()
        .map_err(|_| ServiceError::NotFound { what: "domain" })?;
    let mut conn = db.read().await?;
    Ok(directory_sync::runs(&mut conn, id, 100)
        .await?
        .into_iter()
        .find(|r| r.id == run_id))
}

/// An object as the engine read it, to store: its details must be the JSON the engine
/// protocol promises, or the whole result is refused (recorded on the job), never stored
/// half-understood.
fn stored(
    o: alm_engine::protocol::SyncedObject,
    at: OffsetDateTime,
) -> ServiceResult<DirectoryObject> {
    let details = serde_json::from_str(&o.details).map_err(|e| {
        ServiceError::Refused(super::refusal::Refusal::EngineResult(format!(
            "the details of object {} are not JSON: {e}",
            o.guid
        )))
    })?;
    Ok(DirectoryObject {
        guid: o.guid,
        kind: o.kind,
        dn: o.dn,
        name: o.name,
        enabled: o.enabled,
        usn_changed: o.usn_changed,
        details,
        synced_at: at,
    })
}

/// Tells the system administrators which unmanaged accounts appeared in the directory since
/// the last sync (SPEC §7.1 "new external (unmanaged) accounts"), for import or follow-up.
async fn notify_new_external(
    tx: &mut alm_store::WriteTx,
    queue: &Queue,
    domain: &alm_store::domains::DomainRecord,
    names: &[String],
) -> ServiceResult<()> {
    let admins = super::notifications::system_administrators(tx).await?;
    let mut listed: Vec<&str> = names.iter().take(50).map(String::as_str).collect();
    listed.sort_unstable();
    let more = names.len().saturating_sub(listed.len());
    let accounts = if more > 0 {
        format!("{} and {more} more", listed.join(", "))
    } else {
        listed.join(", ")
    };
    super::notifications::emit(
        tx,
        queue.clock.now(),
        alm_notify::events::DOMAIN_NEW_EXTERNAL_ACCOUNTS,
        &serde_json::json!({
            "domain": {"name": domain.name, "url": format!("{}/api/v1/domains/{}", queue.base_url, domain.id)},
            "sync": {"new_count": names.len().to_string(), "new_accounts": accounts},
        }),
        admins,
        Some(("domain", domain.id.to_string())),
    )
    .await
}

/// Tells the system administrators whom a sync disabled and which accounts lost their last
/// enabled owner (SPEC §7.1 "users disabled by sync", §2.7 orphan alert).
async fn notify_users_disabled(
    tx: &mut alm_store::WriteTx,
    queue: &Queue,
    domain: &alm_store::domains::DomainRecord,
    users: &super::user_sync::UserSyncOutcome,
) -> ServiceResult<()> {
    let admins = super::notifications::system_administrators(tx).await?;
    let orphaned = if users.orphaned.is_empty() {
        "none".to_owned()
    } else {
        users.orphaned.join(", ")
    };
    super::notifications::emit(
        tx,
        queue.clock.now(),
        alm_notify::events::DOMAIN_USERS_DISABLED_BY_SYNC,
        &serde_json::json!({
            "domain": {"name": domain.name, "url": format!("{}/api/v1/domains/{}", queue.base_url, domain.id)},
            "sync": {"users_disabled": users.disabled.to_string(),
                     "orphaned_count": users.orphaned.len().to_string(),
                     "orphaned_accounts": orphaned},
        }),
        admins,
        Some(("domain", domain.id.to_string())),
    )
    .await
}

/// Writes what an engine read (or records why it could not), marking the job done in the
/// same transaction. Refused when the lease is no longer the engine's.
pub async fn apply(
    queue: &Queue,
    job: &JobRecord,
    lease_id: &str,
    engine_actor: &Actor,
    read: Result<SyncSnapshot, String>,
) -> ServiceResult<SyncRun> {
    let db = &queue.db;
    let clock = queue.clock.as_ref();
    let actor = super::requester_of(job)?;
    let id: DomainId = job
        .subject_id
        .parse()
        .map_err(|_| ServiceError::NotFound { what: "domain" })?;
    let mode = SyncOrder::of(job)
        .map_err(|e| ServiceError::Store(alm_store::StoreError::Corrupt(e)))?
        .mode;
    let started_at = job.leased_at.unwrap_or(job.created_at);
    let now = clock.now();
    let mut run = SyncRun {
        id: alm_core::ids::uuid_v7_at(started_at).to_string(),
        domain_id: id,
        mode: mode.as_str().into(),
        started_at,
        finished_at: now,
        outcome: "failed".into(),
        added: 0,
        updated: 0,
        removed: 0,
        users_created: 0,
        users_disabled: 0,
        error: None,
    };
    let mut tx = db.begin_write().await?;
    let summary = json!({"run_id": run.id}).to_string();
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
    let Some(domain) = domains::get(&mut tx, id).await? else {
        // Removed while the engine was reading: keep nothing but the finished job.
        tx.commit().await?;
        return Err(ServiceError::NotFound { what: "domain" });
    };
    let state = directory_sync::state(&mut tx, id).await?;
    match read {
        Err(error) => {
            // Nothing read, nothing written: only the failed run is recorded.
            run.error = Some(error);
        }
        Ok(snapshot) => {
            // A full sync reads every object, most of them as alm holds them already: compared
            // with the stored rows (one query), only new and changed ones are written, in
            // multi-row statements, and the rest is marked seen with one statement (measured:
            // bench/RESULTS.md "Directory sync"). An incremental read holds only objects
            // changed since the last sync, so all of it is written.
            let held = match mode {
                SyncMode::Full => directory_sync::stored_objects(&mut tx, id).await?,
                SyncMode::Incremental => Default::default(),
            };
            let before: std::collections::HashSet<String> = match mode {
                SyncMode::Full => held.keys().cloned().collect(),
                SyncMode::Incremental => directory_sync::guids(&mut tx, id).await?,
            };
            let mut seen = std::collections::HashSet::new();
            let mut writes = Vec::new();
            // Accounts that appeared since the last sync (not on the first: everything is new).
            let mut appeared: Vec<(String, String)> = Vec::new();
            for object in snapshot.objects {
                // An object listed twice in one read is stored as its last occurrence.
                let first_time = seen.insert(object.guid.clone());
                let known = before.contains(&object.guid) || !first_time;
                if !known
                    && state.is_some()
                    && matches!(object.kind.as_str(), "user" | "gmsa" | "msa")
                {
                    appeared.push((object.guid.clone(), object.name.clone()));
                }
                let object = stored(object, now)?;
                // A repeat is always written: it may differ from the occurrence before it.
                if !first_time || directory_sync::needs_write(held.get(&object.guid), &object) {
                    writes.push(object);
                }
                // `updated` keeps its meaning: known objects read again, changed or not.
                if known {
                    run.updated += 1;
                } else {
                    run.added += 1;
                }
            }
            directory_sync::upsert(&mut tx, id, &writes.iter().collect::<Vec<_>>()).await?;
            let mut external = Vec::new();
            for (guid, name) in appeared {
                // Accounts alm made itself are managed already (provisioning recorded them).
                if !alm_store::accounts::guid_managed(&mut tx, id, &guid).await? {
                    external.push(name);
                }
            }
            if !external.is_empty() {
                notify_new_external(&mut tx, queue, &domain, &external).await?;
            }
            if mode == SyncMode::Full && !snapshot.attribute_names.is_empty() {
                directory_sync::replace_attributes(&mut tx, id, &snapshot.attribute_names).await?;
            }
            // Deletions: a full read lacks them; an incremental one names them (tombstones).
            // An object both deleted and read live in one incremental read was restored
            // (recycle bin): the live read wins.
            let gone: Vec<&String> = match mode {
                SyncMode::Full => before.difference(&seen).collect(),
                SyncMode::Incremental => snapshot
                    .deleted
                    .iter()
                    .filter(|g| before.contains(*g) && !seen.contains(*g))
                    .collect(),
            };
            for guid in gone {
                directory_sync::remove(&mut tx, id, guid).await?;
                run.removed += 1;
            }
            if mode == SyncMode::Full {
                // Every object left was in this read, the unchanged ones too.
                directory_sync::mark_seen(&mut tx, id, now).await?;
            }
            // Managed accounts disabled, deleted or moved outside alm (SPEC §6.1), by either
            // kind of sync.
            let changes = alm_store::accounts::reconcile_directory(&mut tx, id, now).await?;
            for c in &changes {
                record(
                    &mut tx,
                    clock,
                    engine_actor,
                    "account.directory-changed",
                    Subject::new("account", c.id),
                    json!({"name": c.name, "before": c.before, "after": c.after,
                           "old_dn": c.old_dn, "new_dn": c.new_dn, "alert": c.after != DirectoryState::Present}),
                )
                .await?;
            }
            if let Some(config) = directory_sync::user_sync_config(&mut tx, id).await? {
                match super::user_sync::apply(&mut tx, clock, id, &config, &queue.base_url).await? {
                    Ok(users) => {
                        run.users_created = users.created;
                        run.users_disabled = users.disabled;
                        if users.disabled > 0 {
                            notify_users_disabled(&mut tx, queue, &domain, &users).await?;
                        }
                    }
                    Err(guard) => {
                        drop(tx);
                        return stopped_by_guard(
                            queue, job, lease_id, &summary, &actor, run, guard,
                        )
                        .await;
                    }
                }
            }
            let last_full = if mode == SyncMode::Full {
                started_at
            } else {
                state.map(|s| s.1).unwrap_or(started_at)
            };
            directory_sync::set_state(&mut tx, id, snapshot.highest_usn, last_full).await?;
            run.outcome = "succeeded".into();
            // A scheduled sync that was due is next due at its time tomorrow; a failed one
            // stays due and runs again at the next hourly check.
            if let (Some(time), Some(due)) = (&domain.sync_time, domain.next_sync_at) {
                if due <= now {
                    if let Ok(t) = alm_core::schedule::parse_time_of_day("sync_time", time) {
                        let next = alm_core::schedule::next_daily_run(now, t);
                        domains::set_next_sync(&mut tx, id, Some(next)).await?;
                    }
                }
            }
        }
    }
    run.finished_at = clock.now();
    directory_sync::insert_run(&mut tx, &run).await?;
    record(
        &mut tx,
        clock,
        &actor,
        "domain.synced",
        Subject::new("domain", id),
        json!({"mode": run.mode, "outcome": run.outcome, "added": run.added, "updated": run.updated,
               "removed": run.removed, "error": run.error, "job_id": job.id.to_string(), "engine": engine_actor.name}),
    )
    .await?;
    tx.commit().await?;
    Ok(run)
}

/// The mass-disable guard tripped: everything this sync did is rolled back; only the failed
/// run, the finished job and the alert are recorded.
async fn stopped_by_guard(
    queue: &Queue,
    job: &JobRecord,
    lease_id: &str,
    summary: &str,
    actor: &Actor,
    mut run: SyncRun,
    guard: super::user_sync::GuardTripped,
) -> ServiceResult<SyncRun> {
    let clock = queue.clock.as_ref();
    run.outcome = "failed".into();
    (
        run.added,
        run.updated,
        run.removed,
        run.users_created,
        run.users_disabled,
    ) = (0, 0, 0, 0, 0);
    run.error = Some(guard.to_string());
    run.finished_at = clock.now();
    let mut tx = queue.db.begin_write().await?;
    if !jobs::finish(
        &mut tx,
        job.id,
        lease_id,
        JobStatus::Succeeded,
        Some(summary),
        None,
        clock.now(),
    )
    .await?
    {
        return Err(super::jobs::lease_lost());
    }
    directory_sync::insert_run(&mut tx, &run).await?;
    record(
        &mut tx,
        clock,
        actor,
        "domain.user-sync-stopped",
        Subject::new("domain", run.domain_id),
        json!({"alert": true, "would_disable": guard.would_disable, "synced_users": guard.synced_enabled, "max_percent": guard.max_percent}),
    )
    .await?;
    tx.commit().await?;
    tracing::warn!(domain = %run.domain_id, would_disable = guard.would_disable, "user sync stopped by the mass-disable guard");
    Ok(run)
}

/// One page of the domain's sync runs, and how many there are.
pub async fn runs(
    db: &Db,
    can: &Can<perm::DomainRead>,
    id: DomainId,
    page: &alm_core::paging::PageRequest,
) -> ServiceResult<(Vec<SyncRun>, u64)> {
    let _ = can;
    let mut conn = db.read().await?;
    domains::get(&mut conn, id)
        .await?
        .ok_or(ServiceError::NotFound { what: "domain" })?;
    Ok(directory_sync::runs_page(&mut conn, id, page).await?)
}

pub async fn objects(
    db: &Db,
    can: &Can<perm::DomainRead>,
    id: DomainId,
    kind: Option<&str>,
    query: Option<&str>,
    page: &alm_core::paging::PageRequest,
) -> ServiceResult<(Vec<DirectoryObject>, u64)> {
    let _ = can;
    let mut conn = db.read().await?;
    domains::get(&mut conn, id)
        .await?
        .ok_or(ServiceError::NotFound { what: "domain" })?;
    Ok(directory_sync::list(&mut conn, id, kind, query, page).await?)
}

/// One page of the schema attribute names the domain's last full sync found.
pub async fn attributes(
    db: &Db,
    can: &Can<perm::DomainRead>,
    id: DomainId,
    query: Option<&str>,
    page: &alm_core::paging::PageRequest,
) -> ServiceResult<(Vec<String>, u64)> {
    let _ = can;
    let mut conn = db.read().await?;
    domains::get(&mut conn, id)
        .await?
        .ok_or(ServiceError::NotFound { what: "domain" })?;
    Ok(directory_sync::attributes_page(&mut conn, id, query, page).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const WEEK: time::Duration = time::Duration::days(7);

    #[test]
    fn the_first_sync_is_full_whatever_was_asked() {
        let now = datetime!(2026-12-04 10:00 UTC);
        for asked in [None, Some(SyncMode::Incremental), Some(SyncMode::Full)] {
            assert_eq!(choose_mode(asked, None, now, WEEK), SyncMode::Full);
        }
    }

    #[test]
    fn an_automatic_sync_is_full_once_the_last_full_one_is_a_period_old() {
        let last_full = datetime!(2026-11-27 10:00 UTC);
        let state = Some((4711, last_full));
        let just_before = datetime!(2026-12-04 09:59:59 UTC);
        let at = datetime!(2026-12-04 10:00 UTC);
        assert_eq!(
            choose_mode(None, state, just_before, WEEK),
            SyncMode::Incremental
        );
        assert_eq!(choose_mode(None, state, at, WEEK), SyncMode::Full);
        // What was asked for is what runs.
        assert_eq!(
            choose_mode(Some(SyncMode::Incremental), state, at, WEEK),
            SyncMode::Incremental
        );
        assert_eq!(
            choose_mode(Some(SyncMode::Full), state, just_before, WEEK),
            SyncMode::Full
        );
    }
}

//! Syncing a domain's directory into alm (SPEC §6.1): OUs, users and managed service accounts,
//! and groups with their members. The first sync is full; later ones ask only for objects
//! changed since the last one (`uSNChanged`), and a full sync can be asked for at any time.
//!
//! Safety: everything is read from the directory before anything is written, and the writes
//! happen in one transaction, so a sync that fails midway or cannot reach the directory
//! changes nothing in alm; the run is recorded either way. Until the engine protocol exists
//! the sync runs in the server process.

use super::audit::{record, Subject};
use super::domains::directory_client;
use super::{Actor, ServiceError, ServiceResult};
use alm_core::filetime::AccountExpires;
use alm_core::permissions::{perm, Can};
use alm_core::{Clock, DomainId};
use alm_directory::{Directory, DirectoryEntry, DirectoryError, EntryKind, GroupEntry, OuEntry};
use alm_store::crypto::MasterKey;
use alm_store::directory_sync::{self, DirectoryObject, SyncRun};
use alm_store::{domains, Db};
use serde_json::json;
use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    Full,
    Incremental,
}

impl SyncMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncMode::Full => "full",
            SyncMode::Incremental => "incremental",
        }
    }
}

/// What was read from the directory, before anything is written.
struct Snapshot {
    objects: Vec<DirectoryObject>,
    /// The directory's highest USN read before the search: the next sync starts after it.
    highest_usn: i64,
}

fn account(e: &DirectoryEntry, at: OffsetDateTime) -> DirectoryObject {
    let kind = match e.kind {
        EntryKind::Gmsa => "gmsa",
        EntryKind::Msa => "msa",
        _ => "user",
    };
    let expires = match e.account_expires {
        AccountExpires::Never => serde_json::Value::Null,
        AccountExpires::At(t) => json!(t
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()),
    };
    DirectoryObject {
        guid: e.guid.to_string(),
        kind: kind.into(),
        dn: e.dn.clone(),
        name: e.sam_account_name.clone(),
        enabled: e.enabled(),
        usn_changed: e.usn_changed,
        details: json!({
            "user_principal_name": e.user_principal_name,
            "description": e.description,
            "user_account_control": e.user_account_control,
            "account_expires": expires,
            "sid": e.sid.as_ref().map(|s| s.to_string()),
            "display_name": e.first("displayName"),
            "mail": e.first("mail"),
        })
        .to_string(),
        synced_at: at,
    }
}

fn group(g: &GroupEntry, at: OffsetDateTime) -> DirectoryObject {
    DirectoryObject {
        guid: g.guid.to_string(),
        kind: "group".into(),
        dn: g.dn.clone(),
        name: g.sam_account_name.clone(),
        enabled: true,
        usn_changed: g.usn_changed,
        details: json!({"members": g.members, "sid": g.sid.as_ref().map(|s| s.to_string())})
            .to_string(),
        synced_at: at,
    }
}

fn ou(o: &OuEntry, at: OffsetDateTime) -> DirectoryObject {
    DirectoryObject {
        guid: o.guid.to_string(),
        kind: "ou".into(),
        dn: o.dn.clone(),
        name: o.name.clone(),
        enabled: true,
        usn_changed: o.usn_changed,
        details: "{}".into(),
        synced_at: at,
    }
}

async fn read_directory(
    directory: &dyn Directory,
    mode: SyncMode,
    since: i64,
    at: OffsetDateTime,
) -> Result<Snapshot, DirectoryError> {
    let highest_usn = directory.highest_usn().await?;
    let mut objects = Vec::new();
    match mode {
        SyncMode::Full => {
            objects.extend(
                directory
                    .organizational_units(None)
                    .await?
                    .iter()
                    .map(|o| ou(o, at)),
            );
            objects.extend(directory.users(None).await?.iter().map(|u| account(u, at)));
            objects.extend(directory.groups(None).await?.iter().map(|g| group(g, at)));
        }
        SyncMode::Incremental => {
            let changes = directory.changes_since(since + 1).await?;
            objects.extend(changes.organizational_units.iter().map(|o| ou(o, at)));
            objects.extend(changes.users.iter().map(|u| account(u, at)));
            objects.extend(changes.groups.iter().map(|g| group(g, at)));
        }
    }
    Ok(Snapshot {
        objects,
        highest_usn,
    })
}

/// Runs a sync now and returns its record (also when it failed).
pub async fn run(
    db: &Db,
    clock: &dyn Clock,
    key: &MasterKey,
    can: &Can<perm::DomainUpdate>,
    actor: &Actor,
    id: DomainId,
    requested: Option<SyncMode>,
) -> ServiceResult<SyncRun> {
    let _ = can;
    let (domain, state) = {
        let mut conn = db.read().await?;
        let domain = domains::get(&mut conn, id)
            .await?
            .ok_or(ServiceError::NotFound { what: "domain" })?;
        (domain, directory_sync::state(&mut conn, id).await?)
    };
    // Without a previous sync there is nothing to be incremental from.
    let mode = match (requested, state) {
        (Some(SyncMode::Incremental), Some(_)) | (None, Some(_)) => SyncMode::Incremental,
        _ => SyncMode::Full,
    };
    let started_at = clock.now();
    let read = match directory_client(&domain, key) {
        Ok(ad) => read_directory(&ad, mode, state.map(|s| s.0).unwrap_or(0), started_at)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let mut run = SyncRun {
        id: alm_core::ids::uuid_v7_at(started_at).to_string(),
        domain_id: id,
        mode: mode.as_str().into(),
        started_at,
        finished_at: clock.now(),
        outcome: "failed".into(),
        added: 0,
        updated: 0,
        removed: 0,
        users_created: 0,
        users_disabled: 0,
        error: None,
    };
    let mut tx = db.begin_write().await?;
    match read {
        Err(error) => {
            // Nothing read, nothing written: only the failed run is recorded.
            run.error = Some(error);
        }
        Ok(snapshot) => {
            let before = directory_sync::guids(&mut tx, id).await?;
            let mut seen = std::collections::HashSet::new();
            for object in &snapshot.objects {
                // An object listed twice in one read is stored once, then updated.
                let first_time = seen.insert(object.guid.clone());
                let known = before.contains(&object.guid) || !first_time;
                directory_sync::store(&mut tx, id, object, known).await?;
                if known {
                    run.updated += 1;
                } else {
                    run.added += 1;
                }
            }
            if mode == SyncMode::Full {
                for gone in before.difference(&seen) {
                    directory_sync::remove(&mut tx, id, gone).await?;
                    run.removed += 1;
                }
            }
            if let Some(config) = directory_sync::user_sync_config(&mut tx, id).await? {
                match super::user_sync::apply(&mut tx, clock, id, &config).await? {
                    Ok(users) => {
                        run.users_created = users.created;
                        run.users_disabled = users.disabled;
                    }
                    Err(guard) => return stopped_by_guard(db, clock, actor, tx, run, guard).await,
                }
            }
            let last_full = if mode == SyncMode::Full {
                started_at
            } else {
                state.map(|s| s.1).unwrap_or(started_at)
            };
            directory_sync::set_state(&mut tx, id, snapshot.highest_usn, last_full).await?;
            run.outcome = "succeeded".into();
        }
    }
    run.finished_at = clock.now();
    directory_sync::insert_run(&mut tx, &run).await?;
    record(
        &mut tx,
        clock,
        actor,
        "domain.synced",
        Subject::new("domain", id),
        json!({"mode": run.mode, "outcome": run.outcome, "added": run.added, "updated": run.updated, "removed": run.removed, "error": run.error}),
    )
    .await?;
    tx.commit().await?;
    Ok(run)
}

/// The mass-disable guard tripped: everything this sync did is rolled back; only the failed
/// run and the alert are recorded.
async fn stopped_by_guard(
    db: &Db,
    clock: &dyn Clock,
    actor: &Actor,
    tx: alm_store::WriteTx,
    mut run: SyncRun,
    guard: super::user_sync::GuardTripped,
) -> ServiceResult<SyncRun> {
    drop(tx);
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
    let mut tx = db.begin_write().await?;
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

pub async fn runs(
    db: &Db,
    can: &Can<perm::DomainRead>,
    id: DomainId,
) -> ServiceResult<Vec<SyncRun>> {
    let _ = can;
    let mut conn = db.read().await?;
    domains::get(&mut conn, id)
        .await?
        .ok_or(ServiceError::NotFound { what: "domain" })?;
    Ok(directory_sync::runs(&mut conn, id, 100).await?)
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
    Ok(directory_sync::list(&mut conn, id, kind, query, page.limit, page.offset).await?)
}

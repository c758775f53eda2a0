//! What alm holds of a domain's directory: synced objects, the sync high-water mark, and the
//! record of every sync run.

use crate::error::{StoreError, StoreResult};
use crate::time_codec::{from_db, to_db};
use crate::users::like_pattern;
use alm_core::DomainId;
use sqlx::{AnyConnection, Row};
use std::collections::HashSet;
use time::OffsetDateTime;

mod object_batches;
pub use object_batches::{
    mark_seen, needs_write, stored_objects, upsert, StoredObject, UPSERT_BATCH_ROWS,
};

/// One synced directory object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryObject {
    pub guid: String,
    /// `user`, `gmsa`, `msa`, `group` or `ou`.
    pub kind: String,
    pub dn: String,
    /// sAMAccountName, or the OU's name.
    pub name: String,
    pub enabled: bool,
    pub usn_changed: i64,
    /// The kind's details (UPN, description, members, …), stored as JSON.
    pub details: serde_json::Value,
    pub synced_at: OffsetDateTime,
}

fn json_column(text: &str, column: &str, row: &str) -> StoreResult<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| {
        StoreError::Corrupt(format!(
            "directory_objects.{column} of row {row} is not JSON: {e}"
        ))
    })
}

/// The objects with the time their domain's last full sync saw them all (SPEC §6.1: a full
/// sync records that once, in `directory_seen`, instead of rewriting every unchanged row).
const OBJECTS_SEEN: &str =
    "directory_objects o LEFT JOIN directory_seen s ON s.domain_id = o.domain_id";

/// When an object was last synced: the last full sync that saw it, or the later write of its
/// row by an incremental sync.
const SYNCED_AT: &str = "CASE WHEN s.seen_at > o.synced_at THEN s.seen_at ELSE o.synced_at END";

/// The columns [`decode`] reads, from [`OBJECTS_SEEN`].
const OBJECT_COLUMNS: &str = "o.guid AS guid, o.kind AS kind, o.dn AS dn, o.name AS name, \
     o.enabled AS enabled, o.usn_changed AS usn_changed, o.details AS details, \
     CASE WHEN s.seen_at > o.synced_at THEN s.seen_at ELSE o.synced_at END AS synced_at";

fn decode(row: &sqlx::any::AnyRow) -> StoreResult<DirectoryObject> {
    let guid: String = row.try_get("guid")?;
    let details: String = row.try_get("details")?;
    Ok(DirectoryObject {
        details: json_column(&details, "details", &guid)?,
        guid,
        kind: row.try_get("kind")?,
        dn: row.try_get("dn")?,
        name: row.try_get("name")?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        usn_changed: row.try_get("usn_changed")?,
        synced_at: from_db(row.try_get("synced_at")?)?,
    })
}

/// Stores the object, inserting or updating as `known` says (the caller read the domain's
/// GUIDs once with [`guids`]: one statement per object instead of two, which matters at tens
/// of thousands of objects — measured in bench/RESULTS.md).
pub async fn store(
    conn: &mut AnyConnection,
    domain: DomainId,
    o: &DirectoryObject,
    known: bool,
) -> StoreResult<()> {
    let sql = if known {
        "UPDATE directory_objects SET kind = $3, dn = $4, name = $5, enabled = $6, usn_changed = $7, details = $8, \
         synced_at = $9 WHERE domain_id = $1 AND guid = $2"
    } else {
        "INSERT INTO directory_objects (domain_id, guid, kind, dn, name, enabled, usn_changed, details, synced_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    };
    sqlx::query(sql)
        .bind(domain.to_string())
        .bind(&o.guid)
        .bind(&o.kind)
        .bind(&o.dn)
        .bind(&o.name)
        .bind(i64::from(o.enabled))
        .bind(o.usn_changed)
        .bind(o.details.to_string())
        .bind(to_db(o.synced_at))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn guids(conn: &mut AnyConnection, domain: DomainId) -> StoreResult<HashSet<String>> {
    let all: Vec<String> =
        sqlx::query_scalar("SELECT guid FROM directory_objects WHERE domain_id = $1")
            .bind(domain.to_string())
            .fetch_all(&mut *conn)
            .await?;
    Ok(all.into_iter().collect())
}

pub async fn remove(conn: &mut AnyConnection, domain: DomainId, guid: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM directory_objects WHERE domain_id = $1 AND guid = $2")
        .bind(domain.to_string())
        .bind(guid)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The keys `GET /domains/{id}/objects` sorts by (`name`: by kind, then name).
pub const OBJECT_SORT_KEYS: &[&str] = &["name", "dn", "synced_at"];

/// Objects of a domain, by kind and name, filtered and paged.
pub async fn list(
    conn: &mut AnyConnection,
    domain: DomainId,
    kind: Option<&str>,
    query: Option<&str>,
    page: &alm_core::paging::PageRequest,
) -> StoreResult<(Vec<DirectoryObject>, u64)> {
    let mut conditions = vec!["o.domain_id = $1".to_owned()];
    let mut binds = vec![domain.to_string()];
    if let Some(k) = kind {
        binds.push(k.to_owned());
        conditions.push(format!("kind = ${}", binds.len()));
    }
    if let Some(q) = query {
        binds.push(like_pattern(q));
        let n = binds.len();
        conditions.push(format!(
            "(LOWER(name) LIKE ${n} ESCAPE '\\' OR LOWER(dn) LIKE ${n} ESCAPE '\\')"
        ));
    }
    let from_where = format!("FROM {OBJECTS_SEEN} WHERE {}", conditions.join(" AND "));
    // The default keeps each kind together (OUs, then accounts and groups by name).
    let column = match page.sort {
        "dn" => "LOWER(dn)",
        "synced_at" => SYNCED_AT,
        _ => "kind, LOWER(name)",
    };
    let columns = OBJECT_COLUMNS;
    let (rows, total) =
        crate::fetch_page(conn, columns, &from_where, &binds, (column, "guid"), page).await?;
    Ok((rows.iter().map(decode).collect::<StoreResult<_>>()?, total))
}

/// Where the last sync stopped: (highest USN seen, time of the last full sync).
pub async fn state(
    conn: &mut AnyConnection,
    domain: DomainId,
) -> StoreResult<Option<(i64, OffsetDateTime)>> {
    let row = sqlx::query(
        "SELECT highest_usn, last_full_sync_at FROM domain_sync_state WHERE domain_id = $1",
    )
    .bind(domain.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| -> StoreResult<_> {
        Ok((
            r.try_get("highest_usn")?,
            from_db(r.try_get("last_full_sync_at")?)?,
        ))
    })
    .transpose()
}

pub async fn set_state(
    conn: &mut AnyConnection,
    domain: DomainId,
    highest_usn: i64,
    last_full_sync_at: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query("DELETE FROM domain_sync_state WHERE domain_id = $1")
        .bind(domain.to_string())
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO domain_sync_state (domain_id, highest_usn, last_full_sync_at) VALUES ($1, $2, $3)")
        .bind(domain.to_string())
        .bind(highest_usn)
        .bind(to_db(last_full_sync_at))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRun {
    pub id: String,
    pub domain_id: DomainId,
    /// `full` or `incremental`.
    pub mode: String,
    pub started_at: OffsetDateTime,
    pub finished_at: OffsetDateTime,
    /// `succeeded` or `failed`.
    pub outcome: String,
    pub added: u64,
    pub updated: u64,
    pub removed: u64,
    /// Users the user sync created and disabled in alm.
    pub users_created: u64,
    pub users_disabled: u64,
    pub error: Option<String>,
}

pub async fn insert_run(conn: &mut AnyConnection, run: &SyncRun) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO domain_sync_runs (id, domain_id, mode, started_at, finished_at, outcome, added, updated, removed, \
         users_created, users_disabled, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&run.id)
    .bind(run.domain_id.to_string())
    .bind(&run.mode)
    .bind(to_db(run.started_at))
    .bind(to_db(run.finished_at))
    .bind(&run.outcome)
    .bind(run.added as i64)
    .bind(run.updated as i64)
    .bind(run.removed as i64)
    .bind(run.users_created as i64)
    .bind(run.users_disabled as i64)
    .bind(run.error.as_deref())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The latest runs of a domain, newest first.
pub async fn runs(
    conn: &mut AnyConnection,
    domain: DomainId,
    limit: u32,
) -> StoreResult<Vec<SyncRun>> {
    let rows = sqlx::query(&format!(
        "SELECT {RUN_COLUMNS} FROM domain_sync_runs WHERE domain_id = $1 \
         ORDER BY started_at DESC, id DESC LIMIT $2"
    ))
    .bind(domain.to_string())
    .bind(i64::from(limit))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(decode_run).collect()
}

const RUN_COLUMNS: &str = "id, domain_id, mode, started_at, finished_at, outcome, added, updated, \
    removed, users_created, users_disabled, error";

fn decode_run(r: &sqlx::any::AnyRow) -> StoreResult<SyncRun> {
    let domain: String = r.try_get("domain_id")?;
    Ok(SyncRun {
        id: r.try_get("id")?,
        domain_id: domain
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("domain id {domain:?}")))?,
        mode: r.try_get("mode")?,
        started_at: from_db(r.try_get("started_at")?)?,
        finished_at: from_db(r.try_get("finished_at")?)?,
        outcome: r.try_get("outcome")?,
        added: r.try_get::<i64, _>("added")? as u64,
        updated: r.try_get::<i64, _>("updated")? as u64,
        removed: r.try_get::<i64, _>("removed")? as u64,
        users_created: r.try_get::<i64, _>("users_created")? as u64,
        users_disabled: r.try_get::<i64, _>("users_disabled")? as u64,
        error: r.try_get("error")?,
    })
}

/// The keys `GET /domains/{id}/sync-runs` sorts by.
pub const RUN_SORT_KEYS: &[&str] = &["started_at", "outcome"];

/// One page of a domain's sync runs, and how many there are.
pub async fn runs_page(
    conn: &mut AnyConnection,
    domain: DomainId,
    page: &alm_core::paging::PageRequest,
) -> StoreResult<(Vec<SyncRun>, u64)> {
    let column = match page.sort {
        "outcome" => "outcome",
        _ => "started_at",
    };
    let (rows, total) = crate::fetch_page(
        conn,
        RUN_COLUMNS,
        "FROM domain_sync_runs WHERE domain_id = $1",
        &[domain.to_string()],
        (column, "id"),
        page,
    )
    .await?;
    Ok((
        rows.iter().map(decode_run).collect::<StoreResult<_>>()?,
        total,
    ))
}

/// Removes everything synced for a domain (when the domain is removed).
pub async fn forget_domain(conn: &mut AnyConnection, domain: DomainId) -> StoreResult<()> {
    sqlx::query("DELETE FROM directory_attributes WHERE domain_id = $1")
        .bind(domain.to_string())
        .execute(&mut *conn)
        .await?;
    for sql in [
        "DELETE FROM discovered_accounts WHERE domain_id = $1",
        "DELETE FROM account_dependencies WHERE domain_id = $1",
        "DELETE FROM dependency_scans WHERE domain_id = $1",
        "DELETE FROM discovery_runs WHERE domain_id = $1",
        "DELETE FROM directory_objects WHERE domain_id = $1",
        "DELETE FROM directory_seen WHERE domain_id = $1",
        "DELETE FROM domain_sync_state WHERE domain_id = $1",
        "DELETE FROM domain_sync_runs WHERE domain_id = $1",
        "DELETE FROM domain_user_sync WHERE domain_id = $1",
    ] {
        sqlx::query(sql)
            .bind(domain.to_string())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Which directory groups feed alm's users for a domain, and the mass-disable guard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSyncConfig {
    pub group_guids: Vec<String>,
    pub max_disable_percent: u32,
}

pub async fn user_sync_config(
    conn: &mut AnyConnection,
    domain: DomainId,
) -> StoreResult<Option<UserSyncConfig>> {
    let row = sqlx::query(
        "SELECT group_guids, max_disable_percent FROM domain_user_sync WHERE domain_id = $1",
    )
    .bind(domain.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| -> StoreResult<UserSyncConfig> {
        let text: String = r.try_get("group_guids")?;
        Ok(UserSyncConfig {
            group_guids: serde_json::from_str(&text)
                .map_err(|e| StoreError::Corrupt(format!("group_guids: {e}")))?,
            max_disable_percent: r.try_get::<i64, _>("max_disable_percent")? as u32,
        })
    })
    .transpose()
}

pub async fn set_user_sync_config(
    conn: &mut AnyConnection,
    domain: DomainId,
    config: &UserSyncConfig,
    at: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query("DELETE FROM domain_user_sync WHERE domain_id = $1")
        .bind(domain.to_string())
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO domain_user_sync (domain_id, group_guids, max_disable_percent, updated_at) VALUES ($1, $2, $3, $4)")
        .bind(domain.to_string())
        .bind(serde_json::to_string(&config.group_guids).expect("strings"))
        .bind(i64::from(config.max_disable_percent))
        .bind(to_db(at))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Every object of the given kinds in a domain (user sync works on the stored picture).
pub async fn all_of_kinds(
    conn: &mut AnyConnection,
    domain: DomainId,
    kinds: &[&str],
) -> StoreResult<Vec<DirectoryObject>> {
    let placeholders = crate::in_list(2, kinds.len());
    let sql = format!(
        "SELECT {OBJECT_COLUMNS} FROM {OBJECTS_SEEN} \
         WHERE o.domain_id = $1 AND kind IN ({placeholders})"
    );
    let mut q = sqlx::query(&sql).bind(domain.to_string());
    for k in kinds {
        q = q.bind(k.to_string());
    }
    q.fetch_all(&mut *conn).await?.iter().map(decode).collect()
}

/// Replaces the domain's schema attribute names. A schema rarely changes, so the names stored
/// are read first and nothing is written when they are the same; otherwise they are written
/// in statements of [`UPSERT_BATCH_ROWS`] rows (a schema has well over a thousand names).
pub async fn replace_attributes(
    conn: &mut AnyConnection,
    domain: DomainId,
    names: &[String],
) -> StoreResult<()> {
    // The first spelling of a name wins; names differing only in case are one name.
    let mut seen = HashSet::new();
    let unique: Vec<&String> = names
        .iter()
        .filter(|n| seen.insert(n.to_lowercase()))
        .collect();
    let mut stored: Vec<String> =
        sqlx::query_scalar("SELECT name FROM directory_attributes WHERE domain_id = $1")
            .bind(domain.to_string())
            .fetch_all(&mut *conn)
            .await?;
    let mut wanted: Vec<&str> = unique.iter().map(|n| n.as_str()).collect();
    stored.sort_unstable();
    wanted.sort_unstable();
    if stored.iter().map(String::as_str).eq(wanted.iter().copied()) {
        return Ok(());
    }
    sqlx::query("DELETE FROM directory_attributes WHERE domain_id = $1")
        .bind(domain.to_string())
        .execute(&mut *conn)
        .await?;
    let domain = domain.to_string();
    for chunk in unique.chunks(UPSERT_BATCH_ROWS) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
            .collect();
        let sql = format!(
            "INSERT INTO directory_attributes (domain_id, name, name_key) VALUES {}",
            rows.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for name in chunk {
            q = q
                .bind(&domain)
                .bind(name.as_str())
                .bind(name.to_lowercase());
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The domain's schema attribute names (all, or those containing `query`), sorted.
pub async fn attributes(
    conn: &mut AnyConnection,
    domain: DomainId,
    query: Option<&str>,
) -> StoreResult<Vec<String>> {
    let pattern = format!(
        "%{}%",
        query
            .unwrap_or_default()
            .to_lowercase()
            .replace(['%', '_'], "")
    );
    Ok(sqlx::query_scalar(
        "SELECT name FROM directory_attributes WHERE domain_id = $1 AND name_key LIKE $2 ORDER BY name_key",
    )
    .bind(domain.to_string())
    .bind(pattern)
    .fetch_all(&mut *conn)
    .await?)
}

/// One page of the schema's attribute names with `query` in them, by name, and how many
/// there are.
pub async fn attributes_page(
    conn: &mut AnyConnection,
    domain: DomainId,
    query: Option<&str>,
    page: &alm_core::paging::PageRequest,
) -> StoreResult<(Vec<String>, u64)> {
    let mut binds = vec![domain.to_string()];
    let mut from_where = "FROM directory_attributes WHERE domain_id = $1".to_owned();
    if let Some(q) = query {
        binds.push(like_pattern(q));
        from_where.push_str(" AND name_key LIKE $2 ESCAPE '\\'");
    }
    let (rows, total) = crate::fetch_page(
        conn,
        "name",
        &from_where,
        &binds,
        ("name_key", "name"),
        page,
    )
    .await?;
    let names = rows
        .iter()
        .map(|r| r.try_get::<String, _>("name"))
        .collect::<Result<_, _>>()?;
    Ok((names, total))
}

/// The synced directory account of an alm user in this domain (user sync links them), as its
/// details JSON; `None` when the user has no account there.
pub async fn linked_account_details(
    conn: &mut AnyConnection,
    domain: DomainId,
    user: alm_core::UserId,
) -> StoreResult<Option<serde_json::Value>> {
    let found: Option<(String, String)> = sqlx::query_as(
        "SELECT o.guid, o.details FROM users u JOIN directory_objects o \
         ON o.domain_id = u.directory_domain AND o.guid = u.directory_guid \
         WHERE u.id = $1 AND u.directory_domain = $2",
    )
    .bind(user.to_string())
    .bind(domain.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    found
        .map(|(guid, details)| json_column(&details, "details", &guid))
        .transpose()
}

/// One synced object of a domain by objectGUID.
pub async fn object(
    conn: &mut AnyConnection,
    domain: DomainId,
    guid: &str,
) -> StoreResult<Option<DirectoryObject>> {
    sqlx::query(&format!(
        "SELECT {OBJECT_COLUMNS} FROM {OBJECTS_SEEN} WHERE o.domain_id = $1 AND guid = $2"
    ))
    .bind(domain.to_string())
    .bind(guid)
    .fetch_optional(&mut *conn)
    .await?
    .as_ref()
    .map(decode)
    .transpose()
}

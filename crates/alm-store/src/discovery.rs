//! Discovery runs and the unmanaged accounts they found (`alm discover --import`, migration
//! 0019). Rows only: the rules (what a run may hold, which accounts are skipped) are the
//! server's and alm-core's. reasons, findings and hosts are kept as the JSON text the service
//! gives; this module does not look inside them.

use crate::error::{StoreError, StoreResult};
use crate::time_codec::{from_db, to_db};
use alm_core::paging::PageRequest;
use alm_core::{DomainId, UserId};
use sqlx::{AnyConnection, Row};
use std::collections::HashSet;
use time::OffsetDateTime;
use uuid::Uuid;

/// One received scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    pub id: Uuid,
    pub domain_id: DomainId,
    pub sent_by: Option<UserId>,
    pub received_at: OffsetDateTime,
    pub scanned_at: OffsetDateTime,
    pub tool_version: String,
    pub fqdn: String,
    pub base_dn: String,
    pub host_scan_complete: bool,
    pub received: u64,
    pub new_accounts: u64,
    pub updated_accounts: u64,
    pub skipped_managed: u64,
}

/// One unmanaged account as the latest scan that named it saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredRecord {
    pub domain_id: DomainId,
    /// Lowercase hyphenated, as `directory_objects` and `managed_accounts` keep it.
    pub guid: String,
    pub sam_account_name: String,
    pub dn: String,
    pub sid: Option<String>,
    pub kind: String,
    /// JSON arrays.
    pub reasons: String,
    pub findings: String,
    pub hosts: String,
    /// 0 critical … 3 low, 4 without findings.
    pub top_severity: i64,
    pub first_seen_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    pub first_run_id: Uuid,
    pub last_run_id: Uuid,
    pub sent_by: Option<UserId>,
}

pub async fn insert_run(conn: &mut AnyConnection, r: &RunRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO discovery_runs (id, domain_id, sent_by, received_at, scanned_at, tool_version, fqdn, base_dn, \
         host_scan_complete, received, new_accounts, updated_accounts, skipped_managed) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(r.id.to_string())
    .bind(r.domain_id.to_string())
    .bind(r.sent_by.map(|u| u.to_string()))
    .bind(to_db(r.received_at))
    .bind(to_db(r.scanned_at))
    .bind(&r.tool_version)
    .bind(&r.fqdn)
    .bind(&r.base_dn)
    .bind(i64::from(r.host_scan_complete))
    .bind(r.received as i64)
    .bind(r.new_accounts as i64)
    .bind(r.updated_accounts as i64)
    .bind(r.skipped_managed as i64)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn get_run(conn: &mut AnyConnection, id: Uuid) -> StoreResult<Option<RunRecord>> {
    let row = sqlx::query(
        "SELECT id, domain_id, sent_by, received_at, scanned_at, tool_version, fqdn, base_dn, host_scan_complete, \
         received, new_accounts, updated_accounts, skipped_managed FROM discovery_runs WHERE id = $1",
    )
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let count = |name: &str| -> StoreResult<u64> { Ok(row.try_get::<i64, _>(name)? as u64) };
    Ok(Some(RunRecord {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        domain_id: DomainId(parse_uuid(&row.try_get::<String, _>("domain_id")?)?),
        sent_by: parse_user(row.try_get("sent_by")?)?,
        received_at: from_db(row.try_get("received_at")?)?,
        scanned_at: from_db(row.try_get("scanned_at")?)?,
        tool_version: row.try_get("tool_version")?,
        fqdn: row.try_get("fqdn")?,
        base_dn: row.try_get("base_dn")?,
        host_scan_complete: row.try_get::<i64, _>("host_scan_complete")? != 0,
        received: count("received")?,
        new_accounts: count("new_accounts")?,
        updated_accounts: count("updated_accounts")?,
        skipped_managed: count("skipped_managed")?,
    }))
}

/// The objectGUIDs of the domain's discovered accounts (managed ones included).
pub async fn known_guids(
    conn: &mut AnyConnection,
    domain: DomainId,
) -> StoreResult<HashSet<String>> {
    let guids: Vec<String> =
        sqlx::query_scalar("SELECT guid FROM discovered_accounts WHERE domain_id = $1")
            .bind(domain.to_string())
            .fetch_all(&mut *conn)
            .await?;
    Ok(guids.into_iter().collect())
}

/// The objectGUIDs of the domain's live (not deleted) managed accounts: a scan's copy of
/// those is not an unmanaged account.
pub async fn managed_guids(
    conn: &mut AnyConnection,
    domain: DomainId,
) -> StoreResult<HashSet<String>> {
    let guids: Vec<String> = sqlx::query_scalar(
        "SELECT guid FROM managed_accounts WHERE domain_id = $1 AND status <> 'deleted'",
    )
    .bind(domain.to_string())
    .fetch_all(&mut *conn)
    .await?;
    Ok(guids.into_iter().map(|g| g.to_ascii_lowercase()).collect())
}

/// A new account; should another run have stored it meanwhile (two runs of one domain at
/// once on PostgreSQL), it is updated as [`update_account`] would, instead of failing.
pub async fn insert_account(conn: &mut AnyConnection, a: &DiscoveredRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO discovered_accounts (domain_id, guid, sam_account_name, name_key, dn, sid, kind, reasons, findings, \
         hosts, top_severity, first_seen_at, last_seen_at, first_run_id, last_run_id, sent_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
         ON CONFLICT (domain_id, guid) DO UPDATE SET sam_account_name = excluded.sam_account_name, \
         name_key = excluded.name_key, dn = excluded.dn, sid = excluded.sid, kind = excluded.kind, \
         reasons = excluded.reasons, findings = excluded.findings, hosts = excluded.hosts, \
         top_severity = excluded.top_severity, last_seen_at = excluded.last_seen_at, \
         last_run_id = excluded.last_run_id, sent_by = excluded.sent_by",
    )
    .bind(a.domain_id.to_string())
    .bind(&a.guid)
    .bind(&a.sam_account_name)
    .bind(a.sam_account_name.to_lowercase())
    .bind(&a.dn)
    .bind(a.sid.clone())
    .bind(&a.kind)
    .bind(&a.reasons)
    .bind(&a.findings)
    .bind(&a.hosts)
    .bind(a.top_severity)
    .bind(to_db(a.first_seen_at))
    .bind(to_db(a.last_seen_at))
    .bind(a.first_run_id.to_string())
    .bind(a.last_run_id.to_string())
    .bind(a.sent_by.map(|u| u.to_string()))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A later scan's view of a known account: everything but when and by which run it was
/// first seen.
pub async fn update_account(conn: &mut AnyConnection, a: &DiscoveredRecord) -> StoreResult<()> {
    sqlx::query(
        "UPDATE discovered_accounts SET sam_account_name = $3, name_key = $4, dn = $5, sid = $6, kind = $7, \
         reasons = $8, findings = $9, hosts = $10, top_severity = $11, last_seen_at = $12, last_run_id = $13, \
         sent_by = $14 WHERE domain_id = $1 AND guid = $2",
    )
    .bind(a.domain_id.to_string())
    .bind(&a.guid)
    .bind(&a.sam_account_name)
    .bind(a.sam_account_name.to_lowercase())
    .bind(&a.dn)
    .bind(a.sid.clone())
    .bind(&a.kind)
    .bind(&a.reasons)
    .bind(&a.findings)
    .bind(&a.hosts)
    .bind(a.top_severity)
    .bind(to_db(a.last_seen_at))
    .bind(a.last_run_id.to_string())
    .bind(a.sent_by.map(|u| u.to_string()))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

const COLUMNS: &str = "d.domain_id, d.guid, d.sam_account_name, d.dn, d.sid, d.kind, d.reasons, d.findings, d.hosts, \
    d.top_severity, d.first_seen_at, d.last_seen_at, d.first_run_id, d.last_run_id, d.sent_by";

/// Not managed: no live managed account of the domain has the objectGUID (an account
/// imported after the scan drops out of the list at once).
const UNMANAGED: &str =
    "NOT EXISTS (SELECT 1 FROM managed_accounts m WHERE m.domain_id = d.domain_id \
    AND m.guid = d.guid AND m.status <> 'deleted')";

/// One page of the unmanaged discovered accounts (of one domain, or all; with `query` in the
/// name or DN), ordered by
/// `severity` (highest first, then name) or `name`; and how many there are in all.
pub async fn page(
    conn: &mut AnyConnection,
    domain: Option<DomainId>,
    query: Option<&str>,
    page: &PageRequest,
) -> StoreResult<(Vec<DiscoveredRecord>, u64)> {
    let mut conditions = vec![UNMANAGED.to_owned()];
    let mut binds = Vec::new();
    if let Some(d) = domain {
        binds.push(d.to_string());
        conditions.push(format!("d.domain_id = ${}", binds.len()));
    }
    if let Some(q) = query {
        binds.push(crate::users::like_pattern(q));
        let n = binds.len();
        conditions.push(format!(
            "(d.name_key LIKE ${n} ESCAPE '\\' OR LOWER(d.dn) LIKE ${n} ESCAPE '\\')"
        ));
    }
    let where_clause = format!("WHERE {}", conditions.join(" AND "));
    let count_sql = format!("SELECT COUNT(*) FROM discovered_accounts d {where_clause}");
    let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
    for b in &binds {
        count = count.bind(b.clone());
    }
    let total = count.fetch_one(&mut *conn).await?;
    // Severity ascending is highest first (0 = critical); the name breaks ties, then the guid.
    let dir = match page.direction {
        alm_core::paging::SortDirection::Ascending => "ASC",
        alm_core::paging::SortDirection::Descending => "DESC",
    };
    let order = match page.sort {
        "name" => format!("d.name_key {dir}, d.guid {dir}"),
        _ => format!("d.top_severity {dir}, d.name_key {dir}, d.guid {dir}"),
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM discovered_accounts d {where_clause} ORDER BY {order} LIMIT ${} OFFSET ${}",
        binds.len() + 1,
        binds.len() + 2
    );
    let mut q = sqlx::query(&sql);
    for b in &binds {
        q = q.bind(b.clone());
    }
    let rows = q
        .bind(i64::from(page.limit))
        .bind(page.offset as i64)
        .fetch_all(&mut *conn)
        .await?;
    let items = rows.iter().map(decode).collect::<StoreResult<Vec<_>>>()?;
    Ok((items, total as u64))
}

fn parse_uuid(text: &str) -> StoreResult<Uuid> {
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("id {text:?}")))
}

fn parse_user(text: Option<String>) -> StoreResult<Option<UserId>> {
    text.map(|t| parse_uuid(&t).map(UserId)).transpose()
}

fn decode(row: &sqlx::any::AnyRow) -> StoreResult<DiscoveredRecord> {
    Ok(DiscoveredRecord {
        domain_id: DomainId(parse_uuid(&row.try_get::<String, _>("domain_id")?)?),
        guid: row.try_get("guid")?,
        sam_account_name: row.try_get("sam_account_name")?,
        dn: row.try_get("dn")?,
        sid: row.try_get("sid")?,
        kind: row.try_get("kind")?,
        reasons: row.try_get("reasons")?,
        findings: row.try_get("findings")?,
        hosts: row.try_get("hosts")?,
        top_severity: row.try_get("top_severity")?,
        first_seen_at: from_db(row.try_get("first_seen_at")?)?,
        last_seen_at: from_db(row.try_get("last_seen_at")?)?,
        first_run_id: parse_uuid(&row.try_get::<String, _>("first_run_id")?)?,
        last_run_id: parse_uuid(&row.try_get::<String, _>("last_run_id")?)?,
        sent_by: parse_user(row.try_get("sent_by")?)?,
    })
}

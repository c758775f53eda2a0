//! Directory domains. The bind password is stored sealed (`crypto.rs`); this module never
//! sees it in the clear.

use crate::error::{StoreError, StoreResult};
use crate::time_codec::{from_db, to_db};
use crate::users::conflict_or;
use alm_core::DomainId;
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainRecord {
    pub id: DomainId,
    pub name: String,
    /// `active-directory` (Azure AD comes later).
    pub kind: String,
    pub url: String,
    /// Other domain controllers, tried in order when `url` cannot be reached.
    pub failover_urls: Vec<String>,
    /// Whether engines also try the controllers the domain's DNS names (SRV records).
    pub discover_dcs: bool,
    pub bind_identity: String,
    pub bind_password_sealed: String,
    pub ca_pem: Option<String>,
    pub base_dn: String,
    /// The password policy as JSON text (the server owns its shape).
    pub password_policy: String,
    /// The daily sync time, `HH:MM` UTC; `None`: no scheduled sync.
    pub sync_time: Option<String>,
    /// When the scheduled sync is next due.
    pub next_sync_at: Option<OffsetDateTime>,
    /// The engine pool that serves this domain (`None` only before the default pool exists).
    pub pool_id: Option<alm_core::PoolId>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

const COLUMNS: &str =
    "id, name, kind, url, failover_urls, discover_dcs, bind_identity, bind_password_sealed, ca_pem, base_dn, password_policy, \
    sync_time, next_sync_at, pool_id, created_at, updated_at";

fn decode(row: &sqlx::any::AnyRow) -> StoreResult<DomainRecord> {
    let id: String = row.try_get("id")?;
    Ok(DomainRecord {
        id: id
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("domain id {id:?}")))?,
        name: row.try_get("name")?,
        kind: row.try_get("kind")?,
        url: row.try_get("url")?,
        failover_urls: {
            // Written by alm as a JSON array of strings; anything else is corruption, not
            // "no failover" (which would quietly stop using the other controllers).
            let text: String = row.try_get("failover_urls")?;
            serde_json::from_str(&text)
                .map_err(|e| StoreError::Corrupt(format!("domains.failover_urls of {id}: {e}")))?
        },
        discover_dcs: match row.try_get::<i64, _>("discover_dcs")? {
            0 => false,
            1 => true,
            other => {
                return Err(StoreError::Corrupt(format!(
                    "domains.discover_dcs of {id}: {other} (alm writes 0 or 1)"
                )))
            }
        },
        bind_identity: row.try_get("bind_identity")?,
        bind_password_sealed: row.try_get("bind_password_sealed")?,
        ca_pem: row.try_get("ca_pem")?,
        base_dn: row.try_get("base_dn")?,
        password_policy: row.try_get("password_policy")?,
        sync_time: row.try_get("sync_time")?,
        next_sync_at: crate::time_codec::opt_from_db(row.try_get("next_sync_at")?)?,
        pool_id: row
            .try_get::<Option<String>, _>("pool_id")?
            .map(|p| {
                p.parse()
                    .map_err(|_| StoreError::Corrupt(format!("pool id {p:?}")))
            })
            .transpose()?,
        created_at: from_db(row.try_get("created_at")?)?,
        updated_at: from_db(row.try_get("updated_at")?)?,
    })
}

pub async fn insert(conn: &mut AnyConnection, d: &DomainRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO domains (id, name, name_key, kind, url, bind_identity, bind_password_sealed, ca_pem, base_dn, \
         password_policy, sync_time, next_sync_at, created_at, updated_at, pool_id, failover_urls, discover_dcs) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
    )
    .bind(d.id.to_string())
    .bind(&d.name)
    .bind(d.name.to_lowercase())
    .bind(&d.kind)
    .bind(&d.url)
    .bind(&d.bind_identity)
    .bind(&d.bind_password_sealed)
    .bind(d.ca_pem.as_deref())
    .bind(&d.base_dn)
    .bind(&d.password_policy)
    .bind(d.sync_time.as_deref())
    .bind(d.next_sync_at.map(to_db))
    .bind(to_db(d.created_at))
    .bind(to_db(d.updated_at))
    .bind(d.pool_id.map(|p| p.to_string()))
    .bind(urls_json(&d.failover_urls))
    .bind(i64::from(d.discover_dcs))
    .execute(&mut *conn)
    .await
    .map_err(|e| conflict_or(e, "a domain with this name"))?;
    Ok(())
}

fn urls_json(urls: &[String]) -> String {
    serde_json::to_string(urls).expect("a list of strings")
}

pub async fn update(conn: &mut AnyConnection, d: &DomainRecord) -> StoreResult<()> {
    sqlx::query(
        "UPDATE domains SET name = $1, name_key = $2, url = $3, bind_identity = $4, bind_password_sealed = $5, \
         ca_pem = $6, base_dn = $7, password_policy = $8, sync_time = $9, next_sync_at = $10, updated_at = $11, pool_id = $13, failover_urls = $14, discover_dcs = $15 WHERE id = $12",
    )
    .bind(&d.name)
    .bind(d.name.to_lowercase())
    .bind(&d.url)
    .bind(&d.bind_identity)
    .bind(&d.bind_password_sealed)
    .bind(d.ca_pem.as_deref())
    .bind(&d.base_dn)
    .bind(&d.password_policy)
    .bind(d.sync_time.as_deref())
    .bind(d.next_sync_at.map(to_db))
    .bind(to_db(d.updated_at))
    .bind(d.id.to_string())
    .bind(d.pool_id.map(|p| p.to_string()))
    .bind(urls_json(&d.failover_urls))
    .bind(i64::from(d.discover_dcs))
    .execute(&mut *conn)
    .await
    .map_err(|e| conflict_or(e, "a domain with this name"))?;
    Ok(())
}

pub async fn get(conn: &mut AnyConnection, id: DomainId) -> StoreResult<Option<DomainRecord>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM domains WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(decode).transpose()
}

pub async fn find_by_name(conn: &mut AnyConnection, name: &str) -> StoreResult<Option<DomainId>> {
    let id: Option<String> = sqlx::query_scalar("SELECT id FROM domains WHERE name_key = $1")
        .bind(name.to_lowercase())
        .fetch_optional(&mut *conn)
        .await?;
    id.map(|s| {
        s.parse()
            .map_err(|_| StoreError::Corrupt(format!("domain id {s:?}")))
    })
    .transpose()
}

/// Every domain, by name (there are few: one per directory).
pub async fn list(conn: &mut AnyConnection) -> StoreResult<Vec<DomainRecord>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM domains ORDER BY name_key, id"
    ))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(decode).collect()
}

/// Removes the domain and everything synced from it.
pub async fn delete(conn: &mut AnyConnection, id: DomainId) -> StoreResult<()> {
    crate::directory_sync::forget_domain(conn, id).await?;
    sqlx::query("DELETE FROM domains WHERE id = $1")
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Domains whose scheduled sync is due at `now` (by the `next_sync_at` index).
pub async fn due_for_sync(
    conn: &mut AnyConnection,
    now: OffsetDateTime,
) -> StoreResult<Vec<DomainId>> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM domains WHERE next_sync_at IS NOT NULL AND next_sync_at <= $1 ORDER BY next_sync_at, id",
    )
    .bind(to_db(now))
    .fetch_all(&mut *conn)
    .await?;
    ids.iter()
        .map(|s| {
            s.parse()
                .map_err(|_| StoreError::Corrupt(format!("domain id {s:?}")))
        })
        .collect()
}

pub async fn set_next_sync(
    conn: &mut AnyConnection,
    id: DomainId,
    at: Option<OffsetDateTime>,
) -> StoreResult<()> {
    sqlx::query("UPDATE domains SET next_sync_at = $1 WHERE id = $2")
        .bind(at.map(to_db))
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

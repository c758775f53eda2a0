//! Vault settings and the built-in vault's entries. Credentials and entries are stored sealed
//! (`crypto.rs`); this module never sees them in the clear.

use crate::error::{StoreError, StoreResult};
use crate::time_codec::{from_db, to_db};
use crate::users::conflict_or;
use alm_core::VaultId;
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultRecord {
    pub id: VaultId,
    pub name: String,
    /// `builtin`, `openbao` or `aws-secrets-manager`.
    pub kind: String,
    /// Non-secret settings as JSON (the server owns their shape).
    pub settings: String,
    pub credential_sealed: Option<String>,
    /// The engine pool that reaches this vault (`None` only before the default pool exists).
    pub pool_id: Option<alm_core::PoolId>,
    /// The daily sync's time of day (`HH:MM`, UTC), if scheduled.
    pub sync_time: Option<String>,
    /// When the scheduled sync is next due (`None`: not scheduled, or not yet placed).
    pub next_sync_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

const COLUMNS: &str =
    "id, name, kind, settings, credential_sealed, pool_id, sync_time, next_sync_at, created_at, updated_at";

fn decode(row: &sqlx::any::AnyRow) -> StoreResult<VaultRecord> {
    let id: String = row.try_get("id")?;
    Ok(VaultRecord {
        id: id
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("vault id {id:?}")))?,
        name: row.try_get("name")?,
        kind: row.try_get("kind")?,
        settings: row.try_get("settings")?,
        credential_sealed: row.try_get("credential_sealed")?,
        pool_id: row
            .try_get::<Option<String>, _>("pool_id")?
            .map(|p| {
                p.parse()
                    .map_err(|_| StoreError::Corrupt(format!("pool id {p:?}")))
            })
            .transpose()?,
        sync_time: row.try_get("sync_time")?,
        next_sync_at: crate::time_codec::opt_from_db(row.try_get("next_sync_at")?)?,
        created_at: from_db(row.try_get("created_at")?)?,
        updated_at: from_db(row.try_get("updated_at")?)?,
    })
}

pub async fn insert(conn: &mut AnyConnection, v: &VaultRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO vaults (id, name, name_key, kind, settings, credential_sealed, created_at, updated_at, pool_id, sync_time, next_sync_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(v.id.to_string())
    .bind(&v.name)
    .bind(v.name.to_lowercase())
    .bind(&v.kind)
    .bind(&v.settings)
    .bind(v.credential_sealed.as_deref())
    .bind(to_db(v.created_at))
    .bind(to_db(v.updated_at))
    .bind(v.pool_id.map(|p| p.to_string()))
    .bind(v.sync_time.as_deref())
    .bind(v.next_sync_at.map(to_db))
    .execute(&mut *conn)
    .await
    .map_err(|e| conflict_or(e, "a vault with this name"))?;
    Ok(())
}

pub async fn update(conn: &mut AnyConnection, v: &VaultRecord) -> StoreResult<()> {
    sqlx::query(
        "UPDATE vaults SET name = $1, name_key = $2, settings = $3, credential_sealed = $4, updated_at = $5, pool_id = $7, \
         sync_time = $8, next_sync_at = $9 WHERE id = $6",
    )
    .bind(&v.name)
    .bind(v.name.to_lowercase())
    .bind(&v.settings)
    .bind(v.credential_sealed.as_deref())
    .bind(to_db(v.updated_at))
    .bind(v.id.to_string())
    .bind(v.pool_id.map(|p| p.to_string()))
    .bind(v.sync_time.as_deref())
    .bind(v.next_sync_at.map(to_db))
    .execute(&mut *conn)
    .await
    .map_err(|e| conflict_or(e, "a vault with this name"))?;
    Ok(())
}

/// Scheduled vaults whose sync is due at `now`, or not yet placed (`next_sync_at` NULL), with
/// their due instant (by the `next_sync_at` index).
pub async fn due_for_sync(
    conn: &mut AnyConnection,
    now: OffsetDateTime,
) -> StoreResult<Vec<VaultRecord>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM vaults WHERE sync_time IS NOT NULL \
         AND (next_sync_at IS NULL OR next_sync_at <= $1) ORDER BY next_sync_at, id"
    ))
    .bind(to_db(now))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(decode).collect()
}

/// Moves a vault's next sync from `from` (what the caller read; `None` for not yet placed) to
/// `to`; false when another replica moved it first (so one replica runs each due sync).
pub async fn move_next_sync(
    conn: &mut AnyConnection,
    id: VaultId,
    from: Option<OffsetDateTime>,
    to: OffsetDateTime,
) -> StoreResult<bool> {
    let result = match from {
        Some(from) => {
            sqlx::query("UPDATE vaults SET next_sync_at = $1 WHERE id = $2 AND next_sync_at = $3")
                .bind(to_db(to))
                .bind(id.to_string())
                .bind(to_db(from))
                .execute(&mut *conn)
                .await?
        }
        None => {
            sqlx::query(
                "UPDATE vaults SET next_sync_at = $1 WHERE id = $2 AND next_sync_at IS NULL",
            )
            .bind(to_db(to))
            .bind(id.to_string())
            .execute(&mut *conn)
            .await?
        }
    };
    Ok(result.rows_affected() == 1)
}

pub async fn get(conn: &mut AnyConnection, id: VaultId) -> StoreResult<Option<VaultRecord>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM vaults WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(decode).transpose()
}

pub async fn find_by_name(conn: &mut AnyConnection, name: &str) -> StoreResult<Option<VaultId>> {
    let id: Option<String> = sqlx::query_scalar("SELECT id FROM vaults WHERE name_key = $1")
        .bind(name.to_lowercase())
        .fetch_optional(&mut *conn)
        .await?;
    id.map(|s| {
        s.parse()
            .map_err(|_| StoreError::Corrupt(format!("vault id {s:?}")))
    })
    .transpose()
}

pub async fn find_builtin(conn: &mut AnyConnection) -> StoreResult<Option<VaultId>> {
    let id: Option<String> = sqlx::query_scalar(
        "SELECT id FROM vaults WHERE kind = 'builtin' ORDER BY created_at LIMIT 1",
    )
    .fetch_optional(&mut *conn)
    .await?;
    id.map(|s| {
        s.parse()
            .map_err(|_| StoreError::Corrupt(format!("vault id {s:?}")))
    })
    .transpose()
}

pub async fn list(conn: &mut AnyConnection) -> StoreResult<Vec<VaultRecord>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM vaults ORDER BY name_key, id"
    ))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(decode).collect()
}

pub async fn delete(conn: &mut AnyConnection, id: VaultId) -> StoreResult<()> {
    for sql in [
        "DELETE FROM builtin_vault_entries WHERE vault_id = $1",
        "DELETE FROM vaults WHERE id = $1",
    ] {
        sqlx::query(sql)
            .bind(id.to_string())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// A built-in vault entry, still sealed.
pub async fn entry(
    conn: &mut AnyConnection,
    vault: VaultId,
    folder: &str,
    name: &str,
) -> StoreResult<Option<String>> {
    Ok(sqlx::query_scalar("SELECT payload_sealed FROM builtin_vault_entries WHERE vault_id = $1 AND folder = $2 AND name = $3")
        .bind(vault.to_string())
        .bind(folder)
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?)
}

/// Stores an entry (replacing one at the same place).
pub async fn put_entry(
    conn: &mut AnyConnection,
    vault: VaultId,
    folder: &str,
    name: &str,
    sealed: &str,
    at: OffsetDateTime,
) -> StoreResult<()> {
    let exists = entry(conn, vault, folder, name).await?.is_some();
    let sql = if exists {
        "UPDATE builtin_vault_entries SET payload_sealed = $4, updated_at = $5 WHERE vault_id = $1 AND folder = $2 AND name = $3"
    } else {
        "INSERT INTO builtin_vault_entries (vault_id, folder, name, payload_sealed, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5)"
    };
    sqlx::query(sql)
        .bind(vault.to_string())
        .bind(folder)
        .bind(name)
        .bind(sealed)
        .bind(to_db(at))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn delete_entry(
    conn: &mut AnyConnection,
    vault: VaultId,
    folder: &str,
    name: &str,
) -> StoreResult<()> {
    sqlx::query(
        "DELETE FROM builtin_vault_entries WHERE vault_id = $1 AND folder = $2 AND name = $3",
    )
    .bind(vault.to_string())
    .bind(folder)
    .bind(name)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn entry_names(
    conn: &mut AnyConnection,
    vault: VaultId,
    folder: &str,
) -> StoreResult<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT name FROM builtin_vault_entries WHERE vault_id = $1 AND folder = $2 ORDER BY name",
    )
    .bind(vault.to_string())
    .bind(folder)
    .fetch_all(&mut *conn)
    .await?)
}

//! Engine pools, activation tokens, engines, their logs and calibration results (SPEC §5).
//! Tokens and engine credentials arrive here already hashed; this module never sees them.

use crate::error::{StoreError, StoreResult};
use crate::time_codec::{from_db, opt_from_db, to_db};
use crate::users::conflict_or;
use alm_core::{EngineId, PoolId};
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolRecord {
    pub id: PoolId,
    pub name: String,
    pub description: String,
    /// The pool alm creates at first start; new domains and vaults land in it, and the
    /// in-process engine serves it.
    pub is_default: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineRecord {
    pub id: EngineId,
    pub name: String,
    pub host: String,
    pub version: String,
    /// `None`: unassigned.
    pub pool_id: Option<PoolId>,
    pub active: bool,
    pub in_process: bool,
    pub registered_at: OffsetDateTime,
    pub last_seen_at: Option<OffsetDateTime>,
    pub last_address: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivationToken {
    pub id: String,
    pub expires_at: OffsetDateTime,
    pub used_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub engine_id: EngineId,
    pub at: OffsetDateTime,
    pub level: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calibration {
    pub engine_id: EngineId,
    pub engine_name: String,
    pub ok: bool,
    pub problem: Option<String>,
    pub message: String,
    pub checked_at: OffsetDateTime,
}

fn parse<T: std::str::FromStr>(text: String, what: &str) -> StoreResult<T> {
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("{what} {text:?}")))
}

// ---- pools ----

const POOL_COLUMNS: &str = "id, name, description, is_default, created_at, updated_at";

fn decode_pool(row: &sqlx::any::AnyRow) -> StoreResult<PoolRecord> {
    Ok(PoolRecord {
        id: parse(row.try_get("id")?, "pool id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        is_default: row.try_get::<i32, _>("is_default")? != 0,
        created_at: from_db(row.try_get("created_at")?)?,
        updated_at: from_db(row.try_get("updated_at")?)?,
    })
}

pub async fn insert_pool(conn: &mut AnyConnection, p: &PoolRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO engine_pools (id, name, name_key, description, is_default, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(p.id.to_string())
    .bind(&p.name)
    .bind(p.name.to_lowercase())
    .bind(&p.description)
    .bind(i32::from(p.is_default))
    .bind(to_db(p.created_at))
    .bind(to_db(p.updated_at))
    .execute(&mut *conn)
    .await
    .map_err(|e| conflict_or(e, "a pool with this name"))?;
    Ok(())
}

pub async fn update_pool(conn: &mut AnyConnection, p: &PoolRecord) -> StoreResult<()> {
    sqlx::query(
        "UPDATE engine_pools SET name = $1, name_key = $2, description = $3, updated_at = $4 WHERE id = $5",
    )
    .bind(&p.name)
    .bind(p.name.to_lowercase())
    .bind(&p.description)
    .bind(to_db(p.updated_at))
    .bind(p.id.to_string())
    .execute(&mut *conn)
    .await
    .map_err(|e| conflict_or(e, "a pool with this name"))?;
    Ok(())
}

pub async fn delete_pool(conn: &mut AnyConnection, id: PoolId) -> StoreResult<()> {
    sqlx::query("DELETE FROM engine_pools WHERE id = $1")
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn pool(conn: &mut AnyConnection, id: PoolId) -> StoreResult<Option<PoolRecord>> {
    sqlx::query(&format!(
        "SELECT {POOL_COLUMNS} FROM engine_pools WHERE id = $1"
    ))
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await?
    .as_ref()
    .map(decode_pool)
    .transpose()
}

pub async fn default_pool(conn: &mut AnyConnection) -> StoreResult<Option<PoolRecord>> {
    sqlx::query(&format!(
        "SELECT {POOL_COLUMNS} FROM engine_pools WHERE is_default = 1"
    ))
    .fetch_optional(&mut *conn)
    .await?
    .as_ref()
    .map(decode_pool)
    .transpose()
}

pub async fn pools(conn: &mut AnyConnection) -> StoreResult<Vec<PoolRecord>> {
    sqlx::query(&format!(
        "SELECT {POOL_COLUMNS} FROM engine_pools ORDER BY name_key"
    ))
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(decode_pool)
    .collect()
}

/// How many domains, vaults and engines use the pool (a pool in use cannot be removed).
pub async fn pool_usage(conn: &mut AnyConnection, id: PoolId) -> StoreResult<(i64, i64, i64)> {
    let row = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM domains WHERE pool_id = $1) AS domains, \
                (SELECT COUNT(*) FROM vaults WHERE pool_id = $1) AS vaults, \
                (SELECT COUNT(*) FROM engines WHERE pool_id = $1) AS engines",
    )
    .bind(id.to_string())
    .fetch_one(&mut *conn)
    .await?;
    Ok((
        row.try_get("domains")?,
        row.try_get("vaults")?,
        row.try_get("engines")?,
    ))
}

/// Puts domains and vaults stored before pools existed into the default pool.
pub async fn adopt_unpooled(conn: &mut AnyConnection, default: PoolId) -> StoreResult<()> {
    for table in ["domains", "vaults"] {
        sqlx::query(&format!(
            "UPDATE {table} SET pool_id = $1 WHERE pool_id IS NULL"
        ))
        .bind(default.to_string())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

// ---- activation tokens ----

pub async fn insert_activation_token(
    conn: &mut AnyConnection,
    id: &str,
    token_hash: &str,
    created_by: Option<&str>,
    created_at: OffsetDateTime,
    expires_at: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO engine_activation_tokens (id, token_hash, created_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(token_hash)
    .bind(created_by)
    .bind(to_db(created_at))
    .bind(to_db(expires_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn activation_token(
    conn: &mut AnyConnection,
    token_hash: &str,
) -> StoreResult<Option<ActivationToken>> {
    let row = sqlx::query(
        "SELECT id, expires_at, used_at FROM engine_activation_tokens WHERE token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(ActivationToken {
            id: r.try_get("id")?,
            expires_at: from_db(r.try_get("expires_at")?)?,
            used_at: opt_from_db(r.try_get("used_at")?)?,
        })
    })
    .transpose()
}

/// Marks a token used; false when another registration used it first.
pub async fn use_activation_token(
    conn: &mut AnyConnection,
    id: &str,
    engine: EngineId,
    at: OffsetDateTime,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE engine_activation_tokens SET used_at = $1, engine_id = $2 WHERE id = $3 AND used_at IS NULL",
    )
    .bind(to_db(at))
    .bind(engine.to_string())
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

// ---- engines ----

const ENGINE_COLUMNS: &str = "id, name, host, version, pool_id, active, in_process, registered_at, last_seen_at, last_address";

fn decode_engine(row: &sqlx::any::AnyRow) -> StoreResult<EngineRecord> {
    let pool: Option<String> = row.try_get("pool_id")?;
    Ok(EngineRecord {
        id: parse(row.try_get("id")?, "engine id")?,
        name: row.try_get("name")?,
        host: row.try_get("host")?,
        version: row.try_get("version")?,
        pool_id: pool.map(|p| parse(p, "pool id")).transpose()?,
        active: row.try_get::<i32, _>("active")? != 0,
        in_process: row.try_get::<i32, _>("in_process")? != 0,
        registered_at: from_db(row.try_get("registered_at")?)?,
        last_seen_at: opt_from_db(row.try_get("last_seen_at")?)?,
        last_address: row.try_get("last_address")?,
    })
}

pub async fn insert_engine(
    conn: &mut AnyConnection,
    e: &EngineRecord,
    credential_hash: &str,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO engines (id, name, host, version, pool_id, active, in_process, credential_hash, \
         registered_at, last_seen_at, last_address) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(e.id.to_string())
    .bind(&e.name)
    .bind(&e.host)
    .bind(&e.version)
    .bind(e.pool_id.map(|p| p.to_string()))
    .bind(i32::from(e.active))
    .bind(i32::from(e.in_process))
    .bind(credential_hash)
    .bind(to_db(e.registered_at))
    .bind(e.last_seen_at.map(to_db))
    .bind(e.last_address.as_deref())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn engine(conn: &mut AnyConnection, id: EngineId) -> StoreResult<Option<EngineRecord>> {
    sqlx::query(&format!(
        "SELECT {ENGINE_COLUMNS} FROM engines WHERE id = $1"
    ))
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await?
    .as_ref()
    .map(decode_engine)
    .transpose()
}

pub async fn engine_by_credential(
    conn: &mut AnyConnection,
    credential_hash: &str,
) -> StoreResult<Option<EngineRecord>> {
    sqlx::query(&format!(
        "SELECT {ENGINE_COLUMNS} FROM engines WHERE credential_hash = $1"
    ))
    .bind(credential_hash)
    .fetch_optional(&mut *conn)
    .await?
    .as_ref()
    .map(decode_engine)
    .transpose()
}

/// Engines, optionally only the unassigned ones or those of one pool.
pub async fn engines(
    conn: &mut AnyConnection,
    unassigned_only: bool,
    pool: Option<PoolId>,
) -> StoreResult<Vec<EngineRecord>> {
    let mut sql = format!("SELECT {ENGINE_COLUMNS} FROM engines WHERE 1 = 1");
    if unassigned_only {
        sql.push_str(" AND pool_id IS NULL");
    }
    if pool.is_some() {
        sql.push_str(" AND pool_id = $1");
    }
    sql.push_str(" ORDER BY registered_at, id");
    let mut q = sqlx::query(&sql);
    if let Some(p) = pool {
        q = q.bind(p.to_string());
    }
    q.fetch_all(&mut *conn)
        .await?
        .iter()
        .map(decode_engine)
        .collect()
}

/// The active engines of a pool.
pub async fn active_engines(
    conn: &mut AnyConnection,
    pool: PoolId,
) -> StoreResult<Vec<EngineRecord>> {
    Ok(engines(conn, false, Some(pool))
        .await?
        .into_iter()
        .filter(|e| e.active)
        .collect())
}

pub async fn set_assignment(
    conn: &mut AnyConnection,
    id: EngineId,
    pool: Option<PoolId>,
    active: bool,
) -> StoreResult<()> {
    sqlx::query("UPDATE engines SET pool_id = $1, active = $2 WHERE id = $3")
        .bind(pool.map(|p| p.to_string()))
        .bind(i32::from(active))
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn set_credential(
    conn: &mut AnyConnection,
    id: EngineId,
    credential_hash: &str,
) -> StoreResult<()> {
    sqlx::query("UPDATE engines SET credential_hash = $1 WHERE id = $2")
        .bind(credential_hash)
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn touch(
    conn: &mut AnyConnection,
    id: EngineId,
    at: OffsetDateTime,
    address: Option<&str>,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE engines SET last_seen_at = $1, last_address = COALESCE($2, last_address) WHERE id = $3",
    )
    .bind(to_db(at))
    .bind(address)
    .bind(id.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Removes an engine and its calibrations; its logs stay readable for the audit trail.
pub async fn delete_engine(conn: &mut AnyConnection, id: EngineId) -> StoreResult<()> {
    sqlx::query("DELETE FROM calibrations WHERE engine_id = $1")
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM engines WHERE id = $1")
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

// ---- logs ----

/// Appends log lines and keeps only the newest `keep` lines of the engine.
pub async fn append_logs(
    conn: &mut AnyConnection,
    lines: &[LogLine],
    keep: i64,
) -> StoreResult<()> {
    let Some(first) = lines.first() else {
        return Ok(());
    };
    for line in lines {
        sqlx::query(
            "INSERT INTO engine_logs (id, engine_id, at, level, message) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(alm_core::ids::uuid_v7_at(line.at).to_string())
        .bind(line.engine_id.to_string())
        .bind(to_db(line.at))
        .bind(&line.level)
        .bind(&line.message)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query(
        "DELETE FROM engine_logs WHERE engine_id = $1 AND id NOT IN \
         (SELECT id FROM engine_logs WHERE engine_id = $1 ORDER BY at DESC, id DESC LIMIT $2)",
    )
    .bind(first.engine_id.to_string())
    .bind(keep)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The keys `GET /engines/{id}/logs` sorts by.
pub const LOG_SORT_KEYS: &[&str] = &["at", "level"];

/// One page of an engine's log (lines with `query` in the message), and how many match.
pub async fn logs(
    conn: &mut AnyConnection,
    engine: EngineId,
    query: Option<&str>,
    page: &alm_core::paging::PageRequest,
) -> StoreResult<(Vec<LogLine>, u64)> {
    let mut from_where = "FROM engine_logs WHERE engine_id = $1".to_owned();
    let mut binds = vec![engine.to_string()];
    if let Some(q) = query {
        binds.push(crate::users::like_pattern(q));
        from_where.push_str(" AND LOWER(message) LIKE $2 ESCAPE '\\'");
    }
    let column = match page.sort {
        "level" => "level",
        _ => "at",
    };
    let (rows, total) = crate::fetch_page(
        conn,
        "engine_id, at, level, message",
        &from_where,
        &binds,
        (column, "id"),
        page,
    )
    .await?;
    let lines = rows
        .iter()
        .map(|r| {
            Ok(LogLine {
                engine_id: parse(r.try_get("engine_id")?, "engine id")?,
                at: from_db(r.try_get("at")?)?,
                level: r.try_get("level")?,
                message: r.try_get("message")?,
            })
        })
        .collect::<StoreResult<_>>()?;
    Ok((lines, total))
}

// ---- calibrations ----

/// One engine's answer to a calibration job.
pub struct CalibrationAnswer<'a> {
    /// `domain` or `vault`.
    pub target_type: &'a str,
    pub target_id: &'a str,
    pub engine_id: EngineId,
    pub ok: bool,
    pub problem: Option<&'a str>,
    pub message: &'a str,
    pub at: OffsetDateTime,
}

/// Keeps the engine's latest answer for the target (replacing its previous one).
pub async fn record_calibration(
    conn: &mut AnyConnection,
    c: &CalibrationAnswer<'_>,
) -> StoreResult<()> {
    sqlx::query(
        "DELETE FROM calibrations WHERE target_type = $1 AND target_id = $2 AND engine_id = $3",
    )
    .bind(c.target_type)
    .bind(c.target_id)
    .bind(c.engine_id.to_string())
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO calibrations (target_type, target_id, engine_id, ok, problem, message, checked_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(c.target_type)
    .bind(c.target_id)
    .bind(c.engine_id.to_string())
    .bind(i32::from(c.ok))
    .bind(c.problem)
    .bind(c.message)
    .bind(to_db(c.at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The latest calibration of each engine for a domain or vault, engines still registered only.
pub async fn calibrations(
    conn: &mut AnyConnection,
    target_type: &str,
    target_id: &str,
) -> StoreResult<Vec<Calibration>> {
    sqlx::query(
        "SELECT c.engine_id, e.name, c.ok, c.problem, c.message, c.checked_at FROM calibrations c \
         JOIN engines e ON e.id = c.engine_id WHERE c.target_type = $1 AND c.target_id = $2 \
         ORDER BY e.name, c.engine_id",
    )
    .bind(target_type)
    .bind(target_id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        Ok(Calibration {
            engine_id: parse(r.try_get("engine_id")?, "engine id")?,
            engine_name: r.try_get("name")?,
            ok: r.try_get::<i32, _>("ok")? != 0,
            problem: r.try_get("problem")?,
            message: r.try_get("message")?,
            checked_at: from_db(r.try_get("checked_at")?)?,
        })
    })
    .collect()
}

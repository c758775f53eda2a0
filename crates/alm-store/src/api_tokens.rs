//! API tokens: shown once, stored as a SHA-256 hash (they are 256-bit random values, so a
//! fast hash is enough; a slow password hash would only cost time on every request).

use crate::error::{StoreError, StoreResult};
use crate::order_by;
use crate::time_codec::{from_db, opt_from_db, to_db};
use alm_core::paging::PageRequest;
use alm_core::{TokenId, UserId};
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: TokenId,
    pub user_id: UserId,
    pub name: String,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub last_used_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

pub const SORT_KEYS: &[&str] = &["created_at", "name", "expires_at"];

pub async fn insert(
    conn: &mut AnyConnection,
    token: &TokenRecord,
    token_hash: &str,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO api_tokens (id, user_id, name, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(token.id.to_string())
    .bind(token.user_id.to_string())
    .bind(&token.name)
    .bind(token_hash)
    .bind(to_db(token.created_at))
    .bind(token.expires_at.map(to_db))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

const COLUMNS: &str = "id, user_id, name, created_at, expires_at, last_used_at, revoked_at";

fn decode(row: &sqlx::any::AnyRow) -> StoreResult<TokenRecord> {
    let id: String = row.try_get("id")?;
    let user: String = row.try_get("user_id")?;
    Ok(TokenRecord {
        id: id
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("token id {id:?}")))?,
        user_id: user
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("user id {user:?}")))?,
        name: row.try_get("name")?,
        created_at: from_db(row.try_get("created_at")?)?,
        expires_at: opt_from_db(row.try_get("expires_at")?)?,
        last_used_at: opt_from_db(row.try_get("last_used_at")?)?,
        revoked_at: opt_from_db(row.try_get("revoked_at")?)?,
    })
}

/// The usable token with this hash: not revoked, not expired, and its user enabled. A
/// disabled user's tokens stop working at once and work again when the user is enabled.
pub async fn find_usable(
    conn: &mut AnyConnection,
    token_hash: &str,
    now: OffsetDateTime,
) -> StoreResult<Option<TokenRecord>> {
    let row = sqlx::query(
        "SELECT t.id, t.user_id, t.name, t.created_at, t.expires_at, t.last_used_at, t.revoked_at \
         FROM api_tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $2) \
         AND u.enabled = 1",
    )
    .bind(token_hash)
    .bind(to_db(now))
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(decode).transpose()
}

pub async fn get(conn: &mut AnyConnection, id: TokenId) -> StoreResult<Option<TokenRecord>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM api_tokens WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(decode).transpose()
}

/// Tokens, of one user or of everyone, with `query` in the name.
pub async fn list(
    conn: &mut AnyConnection,
    user: Option<UserId>,
    query: Option<&str>,
    page: &PageRequest,
) -> StoreResult<(Vec<TokenRecord>, u64)> {
    let mut conditions = Vec::new();
    let mut binds = Vec::new();
    if let Some(u) = user {
        binds.push(u.to_string());
        conditions.push(format!("user_id = ${}", binds.len()));
    }
    if let Some(q) = query {
        binds.push(crate::users::like_pattern(q));
        conditions.push(format!("LOWER(name) LIKE ${} ESCAPE '\\'", binds.len()));
    }
    let where_clause = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let count_sql = format!("SELECT COUNT(*) FROM api_tokens {where_clause}");
    let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
    for b in &binds {
        count = count.bind(b.clone());
    }
    let total = count.fetch_one(&mut *conn).await?;
    let column = match page.sort {
        "name" => "LOWER(name)",
        "expires_at" => "expires_at",
        _ => "created_at",
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM api_tokens {where_clause} {}",
        order_by(column, "id", page, binds.len())
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
    Ok((
        rows.iter().map(decode).collect::<StoreResult<_>>()?,
        total as u64,
    ))
}

pub async fn revoke(
    conn: &mut AnyConnection,
    id: TokenId,
    at: OffsetDateTime,
) -> StoreResult<bool> {
    let done =
        sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(to_db(at))
            .bind(id.to_string())
            .execute(&mut *conn)
            .await?;
    Ok(done.rows_affected() > 0)
}

pub async fn touch(conn: &mut AnyConnection, id: TokenId, at: OffsetDateTime) -> StoreResult<()> {
    sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
        .bind(to_db(at))
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

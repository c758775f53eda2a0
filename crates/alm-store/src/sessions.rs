//! Login sessions. Only a SHA-256 hash of the cookie value is stored, so a copy of the
//! database does not let anyone log in.

use crate::error::{StoreError, StoreResult};
use crate::time_codec::{from_db, to_db};
use alm_core::{SessionId, UserId};
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: SessionId,
    pub user_id: UserId,
    /// How the user logged in: `password` or `oidc`.
    pub method: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

pub async fn insert(
    conn: &mut AnyConnection,
    session: &SessionRecord,
    token_hash: &str,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO sessions (id, token_hash, user_id, method, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(session.id.to_string())
    .bind(token_hash)
    .bind(session.user_id.to_string())
    .bind(&session.method)
    .bind(to_db(session.created_at))
    .bind(to_db(session.expires_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The unexpired session whose cookie hashes to `token_hash`.
pub async fn find_live(
    conn: &mut AnyConnection,
    token_hash: &str,
    now: OffsetDateTime,
) -> StoreResult<Option<SessionRecord>> {
    let row = sqlx::query(
        "SELECT id, user_id, method, created_at, expires_at FROM sessions WHERE token_hash = $1 AND expires_at > $2",
    )
    .bind(token_hash)
    .bind(to_db(now))
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|row| -> StoreResult<SessionRecord> {
        let id: String = row.try_get("id")?;
        let user: String = row.try_get("user_id")?;
        Ok(SessionRecord {
            id: id
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("session id {id:?}")))?,
            user_id: user
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("user id {user:?}")))?,
            method: row.try_get("method")?,
            created_at: from_db(row.try_get("created_at")?)?,
            expires_at: from_db(row.try_get("expires_at")?)?,
        })
    })
    .transpose()
}

pub async fn delete(conn: &mut AnyConnection, id: SessionId) -> StoreResult<()> {
    sqlx::query("DELETE FROM sessions WHERE id = $1")
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Ends every session of a user (on disable, password reset). Returns how many ended.
pub async fn delete_for_user(conn: &mut AnyConnection, user: UserId) -> StoreResult<u64> {
    let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected())
}

pub async fn purge_expired(conn: &mut AnyConnection, now: OffsetDateTime) -> StoreResult<u64> {
    let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(to_db(now))
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected())
}

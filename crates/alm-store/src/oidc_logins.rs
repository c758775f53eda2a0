//! OpenID Connect logins in flight: the PKCE verifier and nonce between the redirect to the
//! provider and its callback. Kept in the database (not in memory) so the callback may reach
//! another replica; keyed by a hash of `state`; each is taken at most once.

use crate::error::StoreResult;
use crate::time_codec::to_db;
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLogin {
    pub pkce_verifier: String,
    pub nonce: String,
    pub return_to: String,
}

pub async fn insert(
    conn: &mut AnyConnection,
    state_hash: &str,
    login: &PendingLogin,
    expires_at: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO oidc_logins (state_hash, pkce_verifier, nonce, return_to, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(state_hash)
    .bind(&login.pkce_verifier)
    .bind(&login.nonce)
    .bind(&login.return_to)
    .bind(to_db(expires_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Removes and returns the unexpired login for this state (a replayed callback finds nothing).
pub async fn take(
    conn: &mut AnyConnection,
    state_hash: &str,
    now: OffsetDateTime,
) -> StoreResult<Option<PendingLogin>> {
    let row = sqlx::query(
        "SELECT pkce_verifier, nonce, return_to, expires_at FROM oidc_logins WHERE state_hash = $1",
    )
    .bind(state_hash)
    .fetch_optional(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM oidc_logins WHERE state_hash = $1 OR expires_at <= $2")
        .bind(state_hash)
        .bind(to_db(now))
        .execute(&mut *conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    if row.try_get::<i64, _>("expires_at")? <= to_db(now) {
        return Ok(None);
    }
    Ok(Some(PendingLogin {
        pkce_verifier: row.try_get("pkce_verifier")?,
        nonce: row.try_get("nonce")?,
        return_to: row.try_get("return_to")?,
    }))
}

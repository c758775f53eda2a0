//! Failed-login counters shared by every replica (table `login_throttle`). The policy — how
//! many failures, how long a wait — is the server's (`auth/rate_limit.rs`); this module only
//! counts, atomically, so two replicas never lose a failure between them.

use crate::error::StoreResult;
use crate::time_codec::{from_db, to_db};
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

/// One key's count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    pub failures: i64,
    pub last_failure_at: OffsetDateTime,
    /// The next attempt is allowed from then on (the epoch when never blocked).
    pub blocked_until: OffsetDateTime,
}

/// The counter of `key`, if any.
pub async fn get(conn: &mut AnyConnection, key: &str) -> StoreResult<Option<Counter>> {
    let row = sqlx::query(
        "SELECT failures, last_failure_at, blocked_until FROM login_throttle WHERE throttle_key = $1",
    )
    .bind(key)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(Counter {
            failures: r.try_get("failures")?,
            last_failure_at: from_db(r.try_get("last_failure_at")?)?,
            blocked_until: from_db(r.try_get("blocked_until")?)?,
        })
    })
    .transpose()
}

/// Adds a failure to `key` at `now` and returns the count; a count whose last failure is
/// before `forget_before` starts again at 1. One statement, so concurrent failures (on
/// PostgreSQL, from several replicas) each count; the row stays locked until the caller's
/// transaction ends, so the caller's following `block_until` sees its own count.
pub async fn add_failure(
    conn: &mut AnyConnection,
    key: &str,
    now: OffsetDateTime,
    forget_before: OffsetDateTime,
) -> StoreResult<i64> {
    sqlx::query(
        "INSERT INTO login_throttle (throttle_key, failures, last_failure_at, blocked_until) \
         VALUES ($1, 1, $2, 0) \
         ON CONFLICT (throttle_key) DO UPDATE SET \
           failures = CASE WHEN login_throttle.last_failure_at < $3 THEN 1 \
                           ELSE login_throttle.failures + 1 END, \
           last_failure_at = $2",
    )
    .bind(key)
    .bind(to_db(now))
    .bind(to_db(forget_before))
    .execute(&mut *conn)
    .await?;
    Ok(
        sqlx::query_scalar("SELECT failures FROM login_throttle WHERE throttle_key = $1")
            .bind(key)
            .fetch_one(&mut *conn)
            .await?,
    )
}

/// Sets when the next attempt of `key` is allowed.
pub async fn block_until(
    conn: &mut AnyConnection,
    key: &str,
    until: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query("UPDATE login_throttle SET blocked_until = $2 WHERE throttle_key = $1")
        .bind(key)
        .bind(to_db(until))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Forgets `key` (a successful login from that pair).
pub async fn clear(conn: &mut AnyConnection, key: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM login_throttle WHERE throttle_key = $1")
        .bind(key)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Removes the counters whose last failure is before `forget_before` (they count as zero).
pub async fn purge(conn: &mut AnyConnection, forget_before: OffsetDateTime) -> StoreResult<u64> {
    Ok(
        sqlx::query("DELETE FROM login_throttle WHERE last_failure_at < $1")
            .bind(to_db(forget_before))
            .execute(&mut *conn)
            .await?
            .rows_affected(),
    )
}

//! Per-address, per-minute counts of refused anonymous requests (table `anonymous_denials`):
//! the server counts here instead of writing an audit record per refusal, and turns each
//! closed minute into one audit record (`services/anonymous_denials.rs`).

use crate::error::StoreResult;
use crate::time_codec::{from_db, to_db};
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

/// What was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenialKind {
    /// A request without a valid credential (401).
    Unauthenticated,
    /// A password login refused unread while its key waits (429).
    ThrottledLogin,
}

/// The counts of one address in one window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub source: String,
    pub start: OffsetDateTime,
    pub unauthenticated: i64,
    pub throttled_logins: i64,
}

/// Adds one refusal of `kind` from `source` to the window starting at `window_start`.
pub async fn count(
    conn: &mut AnyConnection,
    source: &str,
    window_start: OffsetDateTime,
    kind: DenialKind,
) -> StoreResult<()> {
    let (u, t) = match kind {
        DenialKind::Unauthenticated => (1_i64, 0_i64),
        DenialKind::ThrottledLogin => (0, 1),
    };
    sqlx::query(
        "INSERT INTO anonymous_denials (source, window_start, unauthenticated, throttled_logins) \
         VALUES ($1, $2, $3, $4) \
         ON CONFLICT (source, window_start) DO UPDATE SET \
           unauthenticated = anonymous_denials.unauthenticated + $3, \
           throttled_logins = anonymous_denials.throttled_logins + $4",
    )
    .bind(source)
    .bind(to_db(window_start))
    .bind(u)
    .bind(t)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Up to `limit` windows that started before `before`, oldest first.
pub async fn started_before(
    conn: &mut AnyConnection,
    before: OffsetDateTime,
    limit: i64,
) -> StoreResult<Vec<Window>> {
    let rows = sqlx::query(
        "SELECT source, window_start, unauthenticated, throttled_logins FROM anonymous_denials \
         WHERE window_start < $1 ORDER BY window_start, source LIMIT $2",
    )
    .bind(to_db(before))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Window {
                source: r.try_get("source")?,
                start: from_db(r.try_get("window_start")?)?,
                unauthenticated: r.try_get("unauthenticated")?,
                throttled_logins: r.try_get("throttled_logins")?,
            })
        })
        .collect()
}

/// Deletes the window and returns whether this caller deleted it (of two replicas flushing
/// at once, only one writes its audit record).
pub async fn take(conn: &mut AnyConnection, w: &Window) -> StoreResult<bool> {
    Ok(sqlx::query(
        "DELETE FROM anonymous_denials WHERE source = $1 AND window_start = $2 \
         AND unauthenticated = $3 AND throttled_logins = $4",
    )
    .bind(&w.source)
    .bind(to_db(w.start))
    .bind(w.unauthenticated)
    .bind(w.throttled_logins)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}

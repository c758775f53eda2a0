//! The delivery queue both outboxes share (email `outbox`, webhook/SIEM `integration_outbox`):
//! claim due rows under a lease, record an attempt (sent, retry at, or given up), give a row
//! back. Each table keeps its own columns for what it carries; these are the columns of the
//! queue itself: `id`, `status` (`pending`/`sent`/`failed`), `attempts`, `next_attempt_at`,
//! `lease_until`, `last_error`, `sent_at`.
//!
//! A claim is a conditional UPDATE per row, so replicas never hold one row at once; a lease
//! that runs out (a replica died mid-delivery) makes the row due again.

use crate::error::StoreResult;
use crate::time_codec::to_db;
use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use time::OffsetDateTime;

/// How long a claim holds its rows.
pub const LEASE: time::Duration = time::Duration::minutes(5);

/// Until when, after a claim, a worker may still *start* a delivery of a claimed row; the
/// rest are released. A delivery started later could outlive the lease (a slow server taking
/// every timeout), and another replica would then claim and send the same row again. The
/// three minutes between this and [`LEASE`] are the longest one delivery may take.
pub const START_WITHIN: std::time::Duration = std::time::Duration::from_secs(120);

/// One outbox table: its name and the columns its rows are read with. Constants of this
/// crate, never input.
#[derive(Debug, Clone, Copy)]
pub struct OutboxTable {
    pub name: &'static str,
    pub columns: &'static str,
}

pub const EMAIL: OutboxTable = OutboxTable {
    name: "outbox",
    columns: crate::notifications::MESSAGE_COLUMNS,
};
pub const INTEGRATIONS: OutboxTable = OutboxTable {
    name: "integration_outbox",
    columns: crate::integrations::ITEM_COLUMNS,
};

/// Claims up to `max` due rows until `lease_until`, oldest first (a row another worker holds
/// is skipped); returns the rows won, read with `decode`.
pub async fn claim_due<T>(
    conn: &mut AnyConnection,
    table: OutboxTable,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
    max: i64,
    decode: fn(&AnyRow) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let mut rows = Vec::new();
    for id in claim_due_ids(conn, table, now, lease_until, max).await? {
        let row = sqlx::query(&format!(
            "SELECT {} FROM {} WHERE id = $1",
            table.columns, table.name
        ))
        .bind(&id)
        .fetch_one(&mut *conn)
        .await?;
        rows.push(decode(&row)?);
    }
    Ok(rows)
}

async fn claim_due_ids(
    conn: &mut AnyConnection,
    table: OutboxTable,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
    max: i64,
) -> StoreResult<Vec<String>> {
    let t = table.name;
    let ids: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT id FROM {t} WHERE status = 'pending' AND next_attempt_at <= $1 \
         AND (lease_until IS NULL OR lease_until < $1) ORDER BY next_attempt_at, id LIMIT $2"
    ))
    .bind(to_db(now))
    .bind(max)
    .fetch_all(&mut *conn)
    .await?;
    let mut won = Vec::new();
    for id in ids {
        let claimed = sqlx::query(&format!(
            "UPDATE {t} SET lease_until = $1 WHERE id = $2 AND status = 'pending' \
             AND (lease_until IS NULL OR lease_until < $3)"
        ))
        .bind(to_db(lease_until))
        .bind(&id)
        .bind(to_db(now))
        .execute(&mut *conn)
        .await?
        .rows_affected()
            == 1;
        if claimed {
            won.push(id);
        }
    }
    Ok(won)
}

/// Records an attempt: sent (`error` none), or failed (`retry_at` set: due again then;
/// `None`: given up, `failed`).
pub async fn record_attempt(
    conn: &mut AnyConnection,
    table: OutboxTable,
    id: &str,
    now: OffsetDateTime,
    error: Option<&str>,
    retry_at: Option<OffsetDateTime>,
) -> StoreResult<()> {
    let (status, next) = match (error, retry_at) {
        (None, _) => ("sent", now),
        (Some(_), Some(at)) => ("pending", at),
        (Some(_), None) => ("failed", now),
    };
    sqlx::query(&format!(
        "UPDATE {} SET status = $1, attempts = attempts + 1, next_attempt_at = $2, \
         lease_until = NULL, last_error = $3, sent_at = $4 WHERE id = $5",
        table.name
    ))
    .bind(status)
    .bind(to_db(next))
    .bind(error)
    .bind(error.is_none().then(|| to_db(now)))
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Gives a claimed row back without counting an attempt: due again at `at`.
pub async fn release(
    conn: &mut AnyConnection,
    table: OutboxTable,
    id: &str,
    at: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query(&format!(
        "UPDATE {} SET lease_until = NULL, next_attempt_at = $1 WHERE id = $2",
        table.name
    ))
    .bind(to_db(at))
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

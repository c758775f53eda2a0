//! Refusals of anonymous callers — requests without a valid credential (401) and password
//! logins refused unread while throttled (429) — are counted per client address and minute
//! instead of each writing a hash-chained audit record: a flood of 20,000 requests from one
//! address in a minute costs one counter row and, once the minute is over, one audit record
//! `auth.anonymous-denied` with the counts. Refusals of authenticated callers and checked
//! wrong passwords (bounded by the login throttle) are still audited one by one.
//!
//! A minute is written when it is over: by the next anonymous refusal from anyone, or by the
//! flusher every few seconds (`app.rs`). The counter row is deleted in the same transaction
//! as the audit record is appended, so each minute is written once, also with several
//! replicas, and the audit chain is only ever appended to.

use super::audit::{record_refusal_in, Subject};
use super::{Actor, ServiceResult};
use alm_core::Clock;
use alm_store::anonymous_denials::{self, DenialKind, Window};
use alm_store::audit_log::Outcome;
use alm_store::{Db, WriteTx};
use serde_json::json;
use time::{Duration, OffsetDateTime};

/// The length of a counting window.
const WINDOW: Duration = Duration::minutes(1);

/// Windows written per transaction (the rest wait for the next round).
const FLUSH_BATCH: i64 = 100;

/// The start of the window `at` falls in.
fn window_start(at: OffsetDateTime) -> OffsetDateTime {
    let secs = at.unix_timestamp();
    let start = secs - secs.rem_euclid(WINDOW.whole_seconds());
    OffsetDateTime::from_unix_timestamp(start).unwrap_or(at)
}

/// Counts one refusal from `source` now, and writes the windows that are over.
pub async fn count(
    db: &Db,
    clock: &dyn Clock,
    source: &str,
    kind: DenialKind,
) -> ServiceResult<()> {
    let now = clock.now();
    let mut tx = db.begin_write().await?;
    anonymous_denials::count(&mut tx, source, window_start(now), kind).await?;
    flush_in(&mut tx, clock, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Writes the windows that are over; returns how many.
pub async fn flush(db: &Db, clock: &dyn Clock) -> ServiceResult<usize> {
    let now = clock.now();
    {
        // Most rounds find nothing: look before taking the (SQLite: process-wide) write lock.
        let mut conn = db.read().await?;
        if anonymous_denials::started_before(&mut conn, window_start(now), 1)
            .await?
            .is_empty()
        {
            return Ok(0);
        }
    }
    let mut tx = db.begin_write().await?;
    let n = flush_in(&mut tx, clock, now).await?;
    tx.commit().await?;
    Ok(n)
}

async fn flush_in(
    tx: &mut WriteTx,
    clock: &dyn Clock,
    now: OffsetDateTime,
) -> ServiceResult<usize> {
    let over = anonymous_denials::started_before(tx, window_start(now), FLUSH_BATCH).await?;
    let mut written = 0;
    for w in over {
        if !anonymous_denials::take(tx, &w).await? {
            continue;
        }
        write(tx, clock, &w).await?;
        written += 1;
    }
    Ok(written)
}

async fn write(tx: &mut WriteTx, clock: &dyn Clock, w: &Window) -> ServiceResult<()> {
    let fmt = |t: OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    let actor = Actor {
        user_id: None,
        name: None,
        email: None,
        source_ip: Some(w.source.clone()),
    };
    record_refusal_in(
        tx,
        clock,
        &actor,
        "auth.anonymous-denied",
        Subject {
            object_type: "client-address",
            object_id: None,
        },
        Outcome::Denied,
        json!({
            "count": w.unauthenticated + w.throttled_logins,
            "unauthenticated": w.unauthenticated,
            "throttled_logins": w.throttled_logins,
            "from": fmt(w.start),
            "until": fmt(w.start + WINDOW),
        }),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn windows_are_whole_minutes() {
        assert_eq!(
            window_start(datetime!(2026-11-29 10:00:59.999 UTC)),
            datetime!(2026-11-29 10:00 UTC)
        );
        assert_eq!(
            window_start(datetime!(2026-11-29 10:01 UTC)),
            datetime!(2026-11-29 10:01 UTC)
        );
        assert_eq!(
            window_start(datetime!(1969-12-31 23:59:30 UTC)),
            datetime!(1969-12-31 23:59 UTC)
        );
    }
}

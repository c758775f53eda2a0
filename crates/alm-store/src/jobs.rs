//! The engine job queue (SPEC §5): jobs are queued for a pool (or one engine of it), leased
//! by one engine at a time until a deadline, and completed only by the holder of the current
//! lease. A lease whose deadline passed goes back to the queue (or fails the job after its
//! last attempt), so a job whose engine died runs again elsewhere, and its first holder can no
//! longer complete it: every lease has a fresh id, and completion names it.
//!
//! Exactly-once completion rests on one conditional UPDATE (`… WHERE lease_id = $n AND
//! status = 'leased'`), which both backends serialise on the row.

use crate::error::decode_state;
use crate::error::{StoreError, StoreResult};
use crate::time_codec::{from_db, opt_from_db, to_db};
use alm_core::job_kind::{JobKind, JobStatus};
use alm_core::{EngineId, JobId, PoolId};
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecord {
    pub id: JobId,
    pub kind: JobKind,
    pub pool_id: PoolId,
    /// Only this engine may lease the job (calibration targets each engine of a pool).
    pub engine_id: Option<EngineId>,
    pub subject_type: String,
    pub subject_id: String,
    /// Non-secret parameters, JSON.
    pub payload: String,
    /// At most one queued or leased job per key.
    pub dedupe_key: Option<String>,
    pub status: JobStatus,
    pub attempts: i64,
    pub max_attempts: i64,
    /// Transient failures are retried without a bound on attempts (directory and vault
    /// changes); `max_attempts` then bounds the other failures only.
    pub retry_until_done: bool,
    pub not_before: OffsetDateTime,
    pub lease_id: Option<String>,
    pub leased_by: Option<EngineId>,
    pub leased_at: Option<OffsetDateTime>,
    pub lease_expires_at: Option<OffsetDateTime>,
    /// The server process whose in-process engine holds the lease (none for remote engines).
    pub lease_instance: Option<String>,
    /// A short JSON summary of the outcome.
    pub result: Option<String>,
    pub error: Option<String>,
    /// The actor who asked for it, JSON (for the audit record written at completion).
    pub requested_by: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub finished_at: Option<OffsetDateTime>,
}

impl JobRecord {
    pub fn is_finished(&self) -> bool {
        self.status.finished()
    }
}

const COLUMNS: &str = "id, kind, pool_id, engine_id, subject_type, subject_id, payload, dedupe_key, status, \
    attempts, max_attempts, not_before, lease_id, leased_by, leased_at, lease_expires_at, result, error, \
    requested_by, created_at, updated_at, finished_at, retry_until_done, lease_instance";

fn parse<T: std::str::FromStr>(text: String, what: &str) -> StoreResult<T> {
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("{what} {text:?}")))
}

fn decode(row: &sqlx::any::AnyRow) -> StoreResult<JobRecord> {
    let engine: Option<String> = row.try_get("engine_id")?;
    let leased_by: Option<String> = row.try_get("leased_by")?;
    let id: String = row.try_get("id")?;
    let kind: String = row.try_get("kind")?;
    Ok(JobRecord {
        kind: decode_state(kind, "jobs", "kind", &id, JobKind::parse)?,
        status: decode_state(
            row.try_get("status")?,
            "jobs",
            "status",
            &id,
            JobStatus::parse,
        )?,
        id: parse(id, "job id")?,
        pool_id: parse(row.try_get("pool_id")?, "pool id")?,
        engine_id: engine.map(|e| parse(e, "engine id")).transpose()?,
        subject_type: row.try_get("subject_type")?,
        subject_id: row.try_get("subject_id")?,
        payload: row.try_get("payload")?,
        dedupe_key: row.try_get("dedupe_key")?,
        attempts: row.try_get("attempts")?,
        max_attempts: row.try_get("max_attempts")?,
        not_before: from_db(row.try_get("not_before")?)?,
        lease_id: row.try_get("lease_id")?,
        leased_by: leased_by.map(|e| parse(e, "engine id")).transpose()?,
        leased_at: opt_from_db(row.try_get("leased_at")?)?,
        lease_expires_at: opt_from_db(row.try_get("lease_expires_at")?)?,
        result: row.try_get("result")?,
        error: row.try_get("error")?,
        requested_by: row.try_get("requested_by")?,
        created_at: from_db(row.try_get("created_at")?)?,
        updated_at: from_db(row.try_get("updated_at")?)?,
        finished_at: opt_from_db(row.try_get("finished_at")?)?,
        retry_until_done: match row.try_get::<i64, _>("retry_until_done")? {
            0 => false,
            1 => true,
            other => {
                return Err(StoreError::Corrupt(format!(
                    "jobs.retry_until_done {other}"
                )))
            }
        },
        lease_instance: row.try_get("lease_instance")?,
    })
}

/// Queues a job. With a dedupe key already live, returns the live job instead.
pub async fn enqueue(conn: &mut AnyConnection, job: &JobRecord) -> StoreResult<JobRecord> {
    if let Some(key) = &job.dedupe_key {
        if let Some(live) = live_by_key(conn, key).await? {
            return Ok(live);
        }
    }
    sqlx::query(&format!(
        "INSERT INTO jobs ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
         $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)"
    ))
    .bind(job.id.to_string())
    .bind(job.kind.as_str())
    .bind(job.pool_id.to_string())
    .bind(job.engine_id.map(|e| e.to_string()))
    .bind(&job.subject_type)
    .bind(&job.subject_id)
    .bind(&job.payload)
    .bind(job.dedupe_key.as_deref())
    .bind(job.status.as_str())
    .bind(job.attempts)
    .bind(job.max_attempts)
    .bind(to_db(job.not_before))
    .bind(job.lease_id.as_deref())
    .bind(job.leased_by.map(|e| e.to_string()))
    .bind(job.leased_at.map(to_db))
    .bind(job.lease_expires_at.map(to_db))
    .bind(job.result.as_deref())
    .bind(job.error.as_deref())
    .bind(&job.requested_by)
    .bind(to_db(job.created_at))
    .bind(to_db(job.updated_at))
    .bind(job.finished_at.map(to_db))
    .bind(i64::from(job.retry_until_done))
    .bind(job.lease_instance.as_deref())
    .execute(&mut *conn)
    .await?;
    Ok(job.clone())
}

async fn live_by_key(conn: &mut AnyConnection, key: &str) -> StoreResult<Option<JobRecord>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM jobs WHERE dedupe_key = $1 AND status IN ('queued', 'leased')"
    ))
    .bind(key)
    .fetch_optional(&mut *conn)
    .await?
    .as_ref()
    .map(decode)
    .transpose()
}

pub async fn get(conn: &mut AnyConnection, id: JobId) -> StoreResult<Option<JobRecord>> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM jobs WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(decode)
        .transpose()
}

/// Jobs, newest first, optionally filtered by status and subject.
pub async fn list(
    conn: &mut AnyConnection,
    status: Option<JobStatus>,
    subject: Option<(&str, &str)>,
    limit: i64,
) -> StoreResult<Vec<JobRecord>> {
    let mut sql = format!("SELECT {COLUMNS} FROM jobs WHERE 1 = 1");
    let mut n = 0;
    if status.is_some() {
        n += 1;
        sql.push_str(&format!(" AND status = ${n}"));
    }
    if subject.is_some() {
        sql.push_str(&format!(
            " AND subject_type = ${} AND subject_id = ${}",
            n + 1,
            n + 2
        ));
        n += 2;
    }
    sql.push_str(&format!(
        " ORDER BY created_at DESC, id DESC LIMIT ${}",
        n + 1
    ));
    let mut q = sqlx::query(&sql);
    if let Some(s) = status {
        q = q.bind(s.as_str());
    }
    if let Some((t, id)) = subject {
        q = q.bind(t).bind(id);
    }
    q.bind(limit)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(decode)
        .collect()
}

/// Returns expired leases to the queue, or fails their jobs after the last attempt (an engine
/// that stops answering is a transient failure: jobs retried until done are never failed
/// here). Returns how many leases expired.
pub async fn expire_leases(conn: &mut AnyConnection, now: OffsetDateTime) -> StoreResult<u64> {
    let failed = sqlx::query(
        "UPDATE jobs SET status = 'failed', error = 'the engine stopped answering on the last attempt', \
         lease_id = NULL, finished_at = $1, updated_at = $1 \
         WHERE status = 'leased' AND lease_expires_at < $1 AND attempts >= max_attempts \
         AND retry_until_done = 0",
    )
    .bind(to_db(now))
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let requeued = sqlx::query(
        "UPDATE jobs SET status = 'queued', lease_id = NULL, leased_by = NULL, lease_expires_at = NULL, \
         lease_instance = NULL, error = 'the engine stopped answering; queued again', updated_at = $1 \
         WHERE status = 'leased' AND lease_expires_at < $1",
    )
    .bind(to_db(now))
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(failed + requeued)
}

/// Leases up to `max` queued jobs of the pool to the engine until `expires_at`; `instance`
/// names the server process when the engine is its in-process one.
pub async fn lease(
    conn: &mut AnyConnection,
    pool: PoolId,
    engine: EngineId,
    instance: Option<&str>,
    max: i64,
    now: OffsetDateTime,
    expires_at: OffsetDateTime,
) -> StoreResult<Vec<JobRecord>> {
    let candidates: Vec<String> = sqlx::query(
        "SELECT id FROM jobs WHERE status = 'queued' AND pool_id = $1 AND not_before <= $2 \
         AND (engine_id IS NULL OR engine_id = $3) ORDER BY created_at, id LIMIT $4",
    )
    .bind(pool.to_string())
    .bind(to_db(now))
    .bind(engine.to_string())
    .bind(max)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| r.try_get("id"))
    .collect::<Result<_, _>>()?;
    let mut leased = Vec::new();
    for id in candidates {
        let lease_id = uuid::Uuid::new_v4().to_string();
        // The status condition makes a twin lease of the same row lose.
        let won = sqlx::query(
            "UPDATE jobs SET status = 'leased', lease_id = $1, leased_by = $2, leased_at = $3, \
             lease_expires_at = $4, attempts = attempts + 1, updated_at = $3, lease_instance = $6 \
             WHERE id = $5 AND status = 'queued'",
        )
        .bind(&lease_id)
        .bind(engine.to_string())
        .bind(to_db(now))
        .bind(to_db(expires_at))
        .bind(&id)
        .bind(instance)
        .execute(&mut *conn)
        .await?
        .rows_affected()
            == 1;
        if won {
            if let Some(job) = get(conn, parse(id, "job id")?).await? {
                leased.push(job);
            }
        }
    }
    Ok(leased)
}

/// Extends the leases the engine still holds on these jobs.
pub async fn extend(
    conn: &mut AnyConnection,
    engine: EngineId,
    jobs: &[JobId],
    expires_at: OffsetDateTime,
) -> StoreResult<()> {
    for id in jobs {
        sqlx::query(
            "UPDATE jobs SET lease_expires_at = $1 WHERE id = $2 AND leased_by = $3 AND status = 'leased'",
        )
        .bind(to_db(expires_at))
        .bind(id.to_string())
        .bind(engine.to_string())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Finishes a job held under `lease_id`: `succeeded` with a result, or `failed`. False when
/// the lease is not current (expired and re-leased, or the job already finished).
pub async fn finish(
    conn: &mut AnyConnection,
    id: JobId,
    lease_id: &str,
    status: JobStatus,
    result: Option<&str>,
    error: Option<&str>,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE jobs SET status = $1, result = $2, error = $3, finished_at = $4, updated_at = $4, \
         lease_expires_at = NULL WHERE id = $5 AND lease_id = $6 AND status = 'leased'",
    )
    .bind(status.as_str())
    .bind(result)
    .bind(error)
    .bind(to_db(now))
    .bind(id.to_string())
    .bind(lease_id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives a held job back to the queue, to run again not before `not_before`. False when the
/// lease is not current.
pub async fn retry_later(
    conn: &mut AnyConnection,
    id: JobId,
    lease_id: &str,
    error: &str,
    not_before: OffsetDateTime,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE jobs SET status = 'queued', lease_id = NULL, leased_by = NULL, lease_expires_at = NULL, \
         lease_instance = NULL, error = $1, not_before = $2, updated_at = $3 \
         WHERE id = $4 AND lease_id = $5 AND status = 'leased'",
    )
    .bind(error)
    .bind(to_db(not_before))
    .bind(to_db(now))
    .bind(id.to_string())
    .bind(lease_id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Returns the jobs an engine holds to the queue at once (the engine was removed or moved).
pub async fn release_engine(
    conn: &mut AnyConnection,
    engine: EngineId,
    now: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE jobs SET status = 'queued', lease_id = NULL, leased_by = NULL, lease_expires_at = NULL, \
         lease_instance = NULL, updated_at = $1 WHERE leased_by = $2 AND status = 'leased'",
    )
    .bind(to_db(now))
    .bind(engine.to_string())
    .execute(&mut *conn)
    .await?;
    // Jobs addressed to this engine alone can never run now.
    sqlx::query(
        "UPDATE jobs SET status = 'failed', error = 'the engine was removed', finished_at = $1, updated_at = $1 \
         WHERE engine_id = $2 AND status = 'queued'",
    )
    .bind(to_db(now))
    .bind(engine.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Whether a lease call has anything to write: a job this engine may take now, or a lease
/// that ran out. Lets an idle long poll stay read-only (SQLite has one writer).
pub async fn anything_due(
    conn: &mut AnyConnection,
    pool: Option<PoolId>,
    engine: EngineId,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT id FROM jobs WHERE (status = 'leased' AND lease_expires_at < $1) \
         OR (status = 'queued' AND pool_id = $2 AND not_before <= $1 AND (engine_id IS NULL OR engine_id = $3)) \
         LIMIT 1) due",
    )
    .bind(to_db(now))
    .bind(pool.map(|p| p.to_string()).unwrap_or_default())
    .bind(engine.to_string())
    .fetch_one(&mut *conn)
    .await?;
    Ok(n > 0)
}

/// Moves a queued job's next attempt to `now` (a person asked to retry it now). False when
/// the job is not queued (an attempt runs, or it finished).
pub async fn run_now(
    conn: &mut AnyConnection,
    id: JobId,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE jobs SET not_before = $1, updated_at = $1 WHERE id = $2 AND status = 'queued'",
    )
    .bind(to_db(now))
    .bind(id.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends a queued job without running it again (a person abandoned its work). False when the
/// job is not queued.
pub async fn cancel_queued(
    conn: &mut AnyConnection,
    id: JobId,
    error: &str,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE jobs SET status = 'failed', error = $1, finished_at = $2, updated_at = $2 \
         WHERE id = $3 AND status = 'queued'",
    )
    .bind(error)
    .bind(to_db(now))
    .bind(id.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The server processes (other than `mine`) whose in-process engine `engine` holds leases.
pub async fn lease_instances(
    conn: &mut AnyConnection,
    engine: EngineId,
    mine: &str,
) -> StoreResult<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT lease_instance FROM jobs WHERE status = 'leased' AND leased_by = $1 \
         AND lease_instance IS NOT NULL AND lease_instance <> $2",
    )
    .bind(engine.to_string())
    .bind(mine)
    .fetch_all(&mut *conn)
    .await?)
}

/// Returns to the queue at once the leases a stopped server process held through its
/// in-process engine (it can complete none of them). Returns how many.
pub async fn release_instance(
    conn: &mut AnyConnection,
    engine: EngineId,
    instance: &str,
    now: OffsetDateTime,
) -> StoreResult<u64> {
    Ok(sqlx::query(
        "UPDATE jobs SET status = 'queued', lease_id = NULL, leased_by = NULL, lease_expires_at = NULL, \
         lease_instance = NULL, error = 'the server process holding it stopped; queued again', updated_at = $1 \
         WHERE status = 'leased' AND leased_by = $2 AND lease_instance = $3",
    )
    .bind(to_db(now))
    .bind(engine.to_string())
    .bind(instance)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

/// The leases a remote engine holds: (job id, lease id).
pub async fn remote_engine_leases(
    conn: &mut AnyConnection,
    engine: EngineId,
) -> StoreResult<Vec<(String, String)>> {
    Ok(sqlx::query_as(
        "SELECT id, lease_id FROM jobs WHERE status = 'leased' AND leased_by = $1 \
         AND lease_instance IS NULL AND lease_id IS NOT NULL",
    )
    .bind(engine.to_string())
    .fetch_all(&mut *conn)
    .await?)
}

/// Returns a leased job to the queue at once, if it is still held under `lease_id`: its engine
/// says it is not running it (an earlier process of the engine was killed holding it, or the
/// answer that carried it never arrived), so nobody would complete it before its deadline.
/// False when the lease is not current any more (completed, expired, leased again).
pub async fn release_lease(
    conn: &mut AnyConnection,
    id: &str,
    lease_id: &str,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE jobs SET status = 'queued', lease_id = NULL, leased_by = NULL, lease_expires_at = NULL, \
         lease_instance = NULL, error = 'the engine was not running it (restarted, or the lease never reached it); queued again', \
         updated_at = $1 WHERE id = $2 AND lease_id = $3 AND status = 'leased'",
    )
    .bind(to_db(now))
    .bind(id)
    .bind(lease_id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The keys `GET /jobs` sorts by.
pub const SORT_KEYS: &[&str] = &["created_at", "kind", "status"];

/// One page of jobs, optionally of one status, and how many there are.
pub async fn page(
    conn: &mut AnyConnection,
    status: Option<JobStatus>,
    page: &alm_core::paging::PageRequest,
) -> StoreResult<(Vec<JobRecord>, u64)> {
    let mut binds = Vec::new();
    let mut from_where = "FROM jobs".to_owned();
    if let Some(s) = status {
        binds.push(s.as_str().to_owned());
        from_where.push_str(" WHERE status = $1");
    }
    let column = match page.sort {
        "kind" => "kind",
        "status" => "status",
        _ => "created_at",
    };
    let (rows, total) =
        crate::fetch_page(conn, COLUMNS, &from_where, &binds, (column, "id"), page).await?;
    Ok((rows.iter().map(decode).collect::<StoreResult<_>>()?, total))
}

//! Requests and their approvals. The details a requester fills in are JSON text; their shape
//! and rules belong to `alm_core::requests`.

use crate::error::decode_state;
use crate::error::{StoreError, StoreResult};
use crate::time_codec::{from_db, opt_from_db, to_db};
use alm_core::requests::{AccountName, Decision, RequestKind, RequestState};
use alm_core::{DomainId, UserId};
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub id: Uuid,
    pub template_id: Uuid,
    pub template_version: i64,
    pub requester_id: UserId,
    pub domain_id: DomainId,
    /// The full account name (prefix applied), checked against the template when it was made.
    pub account_name: AccountName,
    pub state: RequestState,
    /// 1-based, while pending approval.
    pub current_step: Option<i64>,
    /// JSON text (`RequestDetails`).
    pub details: String,
    pub rejection_reason: Option<String>,
    /// Why the last provisioning attempt failed (it is retried with back-off).
    pub failure_reason: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub submitted_at: Option<OffsetDateTime>,
    pub decided_at: Option<OffsetDateTime>,
    /// A renewal is of `account_id` (SPEC §4.2).
    pub kind: RequestKind,
    pub account_id: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalRecord {
    pub request_id: Uuid,
    pub step: i64,
    pub approver_id: UserId,
    pub decision: Decision,
    pub reason: Option<String>,
    pub decided_at: OffsetDateTime,
}

const COLUMNS: &str =
    "id, template_id, template_version, requester_id, domain_id, account_name, state, \
    current_step, details, rejection_reason, created_at, updated_at, submitted_at, decided_at, failure_reason, \
    kind, account_id";

fn parse<T: std::str::FromStr>(text: String, what: &str) -> StoreResult<T> {
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("{what} {text:?}")))
}

fn decode(row: &sqlx::any::AnyRow) -> StoreResult<RequestRecord> {
    let id: String = row.try_get("id")?;
    Ok(RequestRecord {
        state: decode_state(
            row.try_get("state")?,
            "requests",
            "state",
            &id,
            RequestState::parse,
        )?,
        kind: decode_state(
            row.try_get("kind")?,
            "requests",
            "kind",
            &id,
            RequestKind::parse,
        )?,
        id: parse(id.clone(), "request id")?,
        template_id: parse(row.try_get("template_id")?, "template id")?,
        template_version: row.try_get("template_version")?,
        requester_id: parse(row.try_get("requester_id")?, "user id")?,
        domain_id: parse(row.try_get("domain_id")?, "domain id")?,
        account_name: AccountName::existing(row.try_get::<String, _>("account_name")?),
        current_step: row.try_get("current_step")?,
        details: row.try_get("details")?,
        rejection_reason: row.try_get("rejection_reason")?,
        failure_reason: row.try_get("failure_reason")?,
        created_at: from_db(row.try_get("created_at")?)?,
        updated_at: from_db(row.try_get("updated_at")?)?,
        submitted_at: opt_from_db(row.try_get("submitted_at")?)?,
        decided_at: opt_from_db(row.try_get("decided_at")?)?,
        account_id: row
            .try_get::<Option<String>, _>("account_id")?
            .map(|a| parse(a, "account id"))
            .transpose()?,
    })
}

fn name_held(e: sqlx::Error) -> StoreError {
    let err = StoreError::from(e);
    if err.is_unique_violation() {
        StoreError::Conflict {
            what: "a request or account with this name on this domain",
        }
    } else {
        err
    }
}

pub async fn insert(conn: &mut AnyConnection, r: &RequestRecord) -> StoreResult<()> {
    sqlx::query(&format!(
        "INSERT INTO requests ({COLUMNS}, name_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
    ))
    .bind(r.id.to_string())
    .bind(r.template_id.to_string())
    .bind(r.template_version)
    .bind(r.requester_id.to_string())
    .bind(r.domain_id.to_string())
    .bind(r.account_name.as_str())
    .bind(r.state.as_str())
    .bind(r.current_step)
    .bind(&r.details)
    .bind(r.rejection_reason.as_deref())
    .bind(to_db(r.created_at))
    .bind(to_db(r.updated_at))
    .bind(r.submitted_at.map(to_db))
    .bind(r.decided_at.map(to_db))
    .bind(r.failure_reason.as_deref())
    .bind(r.kind.as_str())
    .bind(r.account_id.map(|a| a.to_string()))
    .bind(r.account_name.as_str().to_lowercase())
    .execute(&mut *conn)
    .await
    .map_err(name_held)?;
    Ok(())
}

pub async fn update(conn: &mut AnyConnection, r: &RequestRecord) -> StoreResult<()> {
    sqlx::query(
        "UPDATE requests SET template_version = $1, account_name = $2, name_key = $3, state = $4, \
         current_step = $5, details = $6, rejection_reason = $7, updated_at = $8, submitted_at = $9, \
         decided_at = $10, failure_reason = $12 WHERE id = $11",
    )
    .bind(r.template_version)
    .bind(r.account_name.as_str())
    .bind(r.account_name.as_str().to_lowercase())
    .bind(r.state.as_str())
    .bind(r.current_step)
    .bind(&r.details)
    .bind(r.rejection_reason.as_deref())
    .bind(to_db(r.updated_at))
    .bind(r.submitted_at.map(to_db))
    .bind(r.decided_at.map(to_db))
    .bind(r.id.to_string())
    .bind(r.failure_reason.as_deref())
    .execute(&mut *conn)
    .await
    .map_err(name_held)?;
    Ok(())
}

pub async fn get(conn: &mut AnyConnection, id: Uuid) -> StoreResult<Option<RequestRecord>> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM requests WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(decode)
        .transpose()
}

pub async fn delete(conn: &mut AnyConnection, id: Uuid) -> StoreResult<()> {
    sqlx::query("DELETE FROM requests WHERE id = $1")
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Requests, newest first: one requester's, or everyone's.
pub async fn list(
    conn: &mut AnyConnection,
    requester: Option<UserId>,
    state: Option<RequestState>,
    limit: i64,
) -> StoreResult<Vec<RequestRecord>> {
    let mut sql = format!("SELECT {COLUMNS} FROM requests WHERE 1 = 1");
    let mut n = 0;
    if requester.is_some() {
        n += 1;
        sql.push_str(&format!(" AND requester_id = ${n}"));
    }
    if state.is_some() {
        n += 1;
        sql.push_str(&format!(" AND state = ${n}"));
    }
    sql.push_str(&format!(
        " ORDER BY created_at DESC, id DESC LIMIT ${}",
        n + 1
    ));
    let mut q = sqlx::query(&sql);
    if let Some(r) = requester {
        q = q.bind(r.to_string());
    }
    if let Some(s) = state {
        q = q.bind(s.as_str());
    }
    q.bind(limit)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(decode)
        .collect()
}

/// Whether a live request (not this one) holds the name on the domain.
pub async fn name_held_by_other(
    conn: &mut AnyConnection,
    domain: DomainId,
    full_name: &str,
    except: Uuid,
) -> StoreResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM requests WHERE domain_id = $1 AND name_key = $2 AND id <> $3 \
         AND state NOT IN ('draft', 'rejected', 'withdrawn') AND kind = 'new' AND name_released_at IS NULL",
    )
    .bind(domain.to_string())
    .bind(full_name.to_lowercase())
    .bind(except.to_string())
    .fetch_one(&mut *conn)
    .await?;
    Ok(n > 0)
}

/// The request stops holding its account name (it was abandoned): another request may take it.
pub async fn release_name(
    conn: &mut AnyConnection,
    id: Uuid,
    at: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE requests SET name_released_at = $1 WHERE id = $2 AND name_released_at IS NULL",
    )
    .bind(to_db(at))
    .bind(id.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// How many requests on the domain are still on their way to an account (submitted, waiting
/// for approval, approved, provisioning, retrying or failed and not yet abandoned).
pub async fn in_flight_on_domain(conn: &mut AnyConnection, domain: DomainId) -> StoreResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM requests WHERE domain_id = $1 \
         AND state NOT IN ('draft', 'rejected', 'withdrawn', 'provisioned', 'abandoned')",
    )
    .bind(domain.to_string())
    .fetch_one(&mut *conn)
    .await?)
}

/// The live requests (not `except`) on a domain, as (template, version, account name): what
/// the per-domain uniqueness of derived names (gMSA SPNs) is checked against.
pub async fn live_on_domain(
    conn: &mut AnyConnection,
    domain: DomainId,
    except: Uuid,
) -> StoreResult<Vec<(Uuid, i64, String)>> {
    let rows: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT template_id, template_version, account_name FROM requests WHERE domain_id = $1 AND id <> $2 \
         AND state NOT IN ('draft', 'rejected', 'withdrawn') AND kind = 'new' AND name_released_at IS NULL",
    )
    .bind(domain.to_string())
    .bind(except.to_string())
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|(t, v, n)| {
            t.parse()
                .map(|t| (t, v, n))
                .map_err(|_| StoreError::Corrupt(format!("template id {t:?}")))
        })
        .collect()
}

/// Adds an approval or denial; false when this approver already decided at this step.
pub async fn add_decision(conn: &mut AnyConnection, a: &ApprovalRecord) -> StoreResult<bool> {
    let exists: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM request_approvals WHERE request_id = $1 AND step = $2 AND approver_id = $3",
    )
    .bind(a.request_id.to_string())
    .bind(a.step)
    .bind(a.approver_id.to_string())
    .fetch_one(&mut *conn)
    .await?;
    if exists > 0 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO request_approvals (request_id, step, approver_id, decision, reason, decided_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(a.request_id.to_string())
    .bind(a.step)
    .bind(a.approver_id.to_string())
    .bind(a.decision.as_str())
    .bind(a.reason.as_deref())
    .bind(to_db(a.decided_at))
    .execute(&mut *conn)
    .await?;
    Ok(true)
}

pub async fn decisions(
    conn: &mut AnyConnection,
    request: Uuid,
) -> StoreResult<Vec<ApprovalRecord>> {
    sqlx::query(
        "SELECT request_id, step, approver_id, decision, reason, decided_at FROM request_approvals \
         WHERE request_id = $1 ORDER BY step, decided_at, approver_id",
    )
    .bind(request.to_string())
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(decision_of)
    .collect()
}

/// The decisions of several requests (a page), by request, in one statement; each request's
/// in the order of [`decisions`]. Requests without decisions are absent from the map.
pub async fn decisions_of(
    conn: &mut AnyConnection,
    requests: &[Uuid],
) -> StoreResult<std::collections::HashMap<Uuid, Vec<ApprovalRecord>>> {
    let mut out: std::collections::HashMap<Uuid, Vec<ApprovalRecord>> = Default::default();
    if requests.is_empty() {
        return Ok(out);
    }
    let marks = (1..=requests.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT request_id, step, approver_id, decision, reason, decided_at FROM request_approvals \
         WHERE request_id IN ({marks}) ORDER BY request_id, step, decided_at, approver_id"
    );
    let mut query = sqlx::query(&sql);
    for id in requests {
        query = query.bind(id.to_string());
    }
    for row in query.fetch_all(&mut *conn).await? {
        let d = decision_of(&row)?;
        out.entry(d.request_id).or_default().push(d);
    }
    Ok(out)
}

/// A `request_approvals` row as a record; a decision alm did not write is corruption, named.
fn decision_of(r: &sqlx::any::AnyRow) -> StoreResult<ApprovalRecord> {
    let request_id: String = r.try_get("request_id")?;
    Ok(ApprovalRecord {
        decision: decode_state(
            r.try_get("decision")?,
            "request_approvals",
            "decision",
            &request_id,
            Decision::parse,
        )?,
        request_id: parse(request_id, "request id")?,
        step: r.try_get("step")?,
        approver_id: parse(r.try_get("approver_id")?, "user id")?,
        reason: r.try_get("reason")?,
        decided_at: from_db(r.try_get("decided_at")?)?,
    })
}

/// The newest `limit` decisions of one approver, each with the request's account name.
pub async fn decided_by(
    conn: &mut AnyConnection,
    approver: UserId,
    limit: u32,
) -> StoreResult<Vec<(ApprovalRecord, String)>> {
    sqlx::query(
        "SELECT a.request_id, a.step, a.approver_id, a.decision, a.reason, a.decided_at, r.account_name \
         FROM request_approvals a JOIN requests r ON r.id = a.request_id \
         WHERE a.approver_id = $1 ORDER BY a.decided_at DESC, a.request_id LIMIT $2",
    )
    .bind(approver.to_string())
    .bind(i64::from(limit))
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| Ok((decision_of(r)?, r.try_get("account_name")?)))
    .collect()
}

/// How many requests are in each state (one requester's, or everyone's); states without a
/// request are left out. A state alm did not write is corruption, named.
pub async fn count_by_state(
    conn: &mut AnyConnection,
    requester: Option<UserId>,
) -> StoreResult<Vec<(RequestState, u64)>> {
    let rows =
        match requester {
            Some(r) => sqlx::query(
                "SELECT state, COUNT(*) AS n FROM requests WHERE requester_id = $1 GROUP BY state",
            )
            .bind(r.to_string())
            .fetch_all(&mut *conn)
            .await?,
            None => {
                sqlx::query("SELECT state, COUNT(*) AS n FROM requests GROUP BY state")
                    .fetch_all(&mut *conn)
                    .await?
            }
        };
    rows.iter()
        .map(|row| {
            let state: String = row.try_get("state")?;
            let n: i64 = row.try_get("n")?;
            Ok((
                decode_state(
                    state,
                    "requests",
                    "state",
                    "(a count by state)",
                    RequestState::parse,
                )?,
                n as u64,
            ))
        })
        .collect()
}

/// The keys `GET /requests` sorts by.
pub const SORT_KEYS: &[&str] = &["created_at", "updated_at", "account_name", "state"];

/// One page of requests (one requester's, or everyone's), optionally in one state and with
/// `query` in the account name, and how many there are.
pub async fn page(
    conn: &mut AnyConnection,
    requester: Option<UserId>,
    state: Option<RequestState>,
    query: Option<&str>,
    page: &alm_core::paging::PageRequest,
) -> StoreResult<(Vec<RequestRecord>, u64)> {
    let mut conditions = Vec::new();
    let mut binds = Vec::new();
    if let Some(r) = requester {
        // Theirs: as requester, or submitted by them for someone (an API client, SPEC §7.7).
        binds.push(r.to_string());
        let n = binds.len();
        // One set of ids from two indexed look-ups: an `OR` of the two made PostgreSQL scan
        // every request (bench/load.sh).
        conditions.push(format!(
            "id IN (SELECT id FROM requests WHERE requester_id = ${n} \
             UNION SELECT request_id FROM request_submitters WHERE user_id = ${n})"
        ));
    }
    if let Some(s) = state {
        binds.push(s.as_str().to_owned());
        conditions.push(format!("state = ${}", binds.len()));
    }
    if let Some(q) = query {
        binds.push(crate::users::like_pattern(q));
        conditions.push(format!("name_key LIKE ${} ESCAPE '\\'", binds.len()));
    }
    let from_where = if conditions.is_empty() {
        "FROM requests".to_owned()
    } else {
        format!("FROM requests WHERE {}", conditions.join(" AND "))
    };
    let column = match page.sort {
        "updated_at" => "updated_at",
        "account_name" => "name_key",
        "state" => "state",
        _ => "created_at",
    };
    let (rows, total) =
        crate::fetch_page(conn, COLUMNS, &from_where, &binds, (column, "id"), page).await?;
    Ok((rows.iter().map(decode).collect::<StoreResult<_>>()?, total))
}

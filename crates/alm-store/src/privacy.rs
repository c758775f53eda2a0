//! Personal data of one person (SPEC §13): everything alm holds about them, for an export, and
//! the erasure that replaces their name, email addresses and source IPs with a pseudonym.
//!
//! The erasure works where the data is: structured places (the user row, the audit log's
//! erasable `personal` part, the actor stored with queued jobs) are rewritten field by field;
//! free text that other records carry (rendered emails and inbox messages, webhook and SIEM
//! payloads, request texts, reasons, error texts) has each of the person's strings replaced.
//! The audit chain stays verifiable: the chain covers ids and a salted hash of `personal`, and a
//! record whose `personal` is rewritten is marked `personal_erased` (its salt blanked, so the old
//! values cannot be confirmed by guessing either). Summaries inside the chain are not touched.
//!
//! Not reachable from here, and said so in docs/PRIVACY.md: the copy of the person's directory
//! object (`directory_objects`, refreshed from AD by every sync), backups, process logs, and what
//! was already delivered by email, webhook or SIEM.

use crate::audit_log::Personal;
use crate::error::StoreResult;
use alm_core::UserId;
use serde_json::{json, Map, Value};
use sqlx::{AnyConnection, Column, Row};
use time::OffsetDateTime;

/// Free-text columns in which a person's strings are replaced wherever they occur.
const TEXT_COLUMNS: &[(&str, &str)] = &[
    ("outbox", "recipient"),
    ("outbox", "subject"),
    ("outbox", "body"),
    ("outbox", "last_error"),
    ("inbox", "title"),
    ("inbox", "body"),
    ("integration_outbox", "payload"),
    ("integration_outbox", "last_error"),
    ("webhook_deliveries", "response_excerpt"),
    ("webhook_deliveries", "error"),
    ("requests", "details"),
    ("requests", "rejection_reason"),
    ("requests", "failure_reason"),
    ("request_approvals", "reason"),
    ("managed_accounts", "description"),
    ("managed_accounts", "problem"),
    ("jobs", "error"),
    ("api_tokens", "name"),
];

/// What is erased and what takes its place.
#[derive(Debug, Clone)]
pub struct Erasure {
    pub user: UserId,
    /// The person's name as alm holds it.
    pub name: String,
    /// Every email address alm holds for them (lowercase).
    pub emails: Vec<String>,
    pub pseudonym_name: String,
    pub pseudonym_email: String,
}

/// What an erasure changed, by place (counts only: the report itself holds nothing personal).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Erased {
    pub audit_records: u64,
    pub jobs: u64,
    pub text_fields: u64,
    pub source_ips: u64,
    pub sessions: u64,
}

fn candidates_like(strings: &[String]) -> Vec<String> {
    strings
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| {
            format!(
                "%{}%",
                s.replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            )
        })
        .collect()
}

/// The audit records about the person: theirs by id, and any whose personal part names one of
/// their addresses (failed and refused logins carry the typed address without an id).
async fn audit_candidates(
    conn: &mut AnyConnection,
    user: UserId,
    emails: &[String],
) -> StoreResult<Vec<(String, Option<String>, String)>> {
    let mut sql = String::from(
        "SELECT id, actor_id, personal FROM audit_log WHERE personal_erased = 0 AND (actor_id = $1",
    );
    let patterns = candidates_like(emails);
    for i in 0..patterns.len() {
        sql.push_str(&format!(" OR LOWER(personal) LIKE ${} ESCAPE '\\'", i + 2));
    }
    sql.push(')');
    let mut q = sqlx::query(&sql).bind(user.to_string());
    for p in &patterns {
        q = q.bind(p.clone());
    }
    let rows = q.fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect()
}

fn is_theirs(
    actor_id: &Option<String>,
    personal: &Personal,
    user: UserId,
    emails: &[String],
) -> bool {
    actor_id.as_deref() == Some(user.to_string().as_str())
        || personal
            .actor_email
            .as_deref()
            .is_some_and(|e| emails.iter().any(|m| m.eq_ignore_ascii_case(e.trim())))
}

/// The source addresses alm recorded for the person's own actions.
pub async fn source_ips(
    conn: &mut AnyConnection,
    user: UserId,
    emails: &[String],
) -> StoreResult<Vec<String>> {
    let mut ips = std::collections::BTreeSet::new();
    for (_, actor_id, personal) in audit_candidates(conn, user, emails).await? {
        let Ok(p) = serde_json::from_str::<Personal>(&personal) else {
            continue;
        };
        if is_theirs(&actor_id, &p, user, emails) {
            if let Some(ip) = p.source_ip {
                ips.insert(ip);
            }
        }
    }
    Ok(ips.into_iter().collect())
}

/// Rewrites every place that holds the person's name, addresses and `ips` (inside the caller's
/// write transaction).
pub async fn erase(
    conn: &mut AnyConnection,
    e: &Erasure,
    ips: &[String],
    now: OffsetDateTime,
) -> StoreResult<Erased> {
    let mut erased = Erased::default();
    let user = e.user.to_string();
    let at = crate::time_codec::to_db(now);

    sqlx::query("UPDATE users SET display_name = $1, directory_account = NULL, password_hash = NULL, updated_at = $2 WHERE id = $3")
        .bind(&e.pseudonym_name)
        .bind(at)
        .bind(&user)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM user_emails WHERE user_id = $1")
        .bind(&user)
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO user_emails (user_id, email, position) VALUES ($1, $2, 0)")
        .bind(&user)
        .bind(&e.pseudonym_email)
        .execute(&mut *conn)
        .await?;
    erased.sessions = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(&user)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
        .bind(at)
        .bind(&user)
        .execute(&mut *conn)
        .await?;

    // Audit: the person's records get the pseudonym; anonymous records from their addresses
    // lose the address. Other people's records from a shared address keep theirs.
    for (id, actor_id, personal) in audit_candidates(conn, e.user, &e.emails).await? {
        let Ok(mut p) = serde_json::from_str::<Personal>(&personal) else {
            continue;
        };
        if !is_theirs(&actor_id, &p, e.user, &e.emails) {
            continue;
        }
        p.actor_name = p.actor_name.map(|_| e.pseudonym_name.clone());
        p.actor_email = p.actor_email.map(|_| e.pseudonym_email.clone());
        p.source_ip = None;
        rewrite_personal(conn, &id, &p).await?;
        erased.audit_records += 1;
    }
    for ip in ips {
        let rows = sqlx::query("SELECT id, personal FROM audit_log WHERE personal_erased = 0 AND actor_id IS NULL AND personal LIKE $1 ESCAPE '\\'")
            .bind(candidates_like(std::slice::from_ref(ip)).remove(0))
            .fetch_all(&mut *conn)
            .await?;
        for r in rows {
            let (id, personal): (String, String) = (r.try_get(0)?, r.try_get(1)?);
            let Ok(mut p) = serde_json::from_str::<Personal>(&personal) else {
                continue;
            };
            if p.source_ip.as_deref() == Some(ip.as_str()) {
                p.source_ip = None;
                rewrite_personal(conn, &id, &p).await?;
                erased.source_ips += 1;
            }
        }
    }

    // Queued and finished jobs keep who asked for them (for the audit record of the outcome).
    let patterns = candidates_like(&[format!("\"user_id\":\"{user}\"")]);
    let rows =
        sqlx::query("SELECT id, requested_by FROM jobs WHERE requested_by LIKE $1 ESCAPE '\\'")
            .bind(&patterns[0])
            .fetch_all(&mut *conn)
            .await?;
    for r in rows {
        let (id, by): (String, String) = (r.try_get(0)?, r.try_get(1)?);
        let Ok(mut v) = serde_json::from_str::<Value>(&by) else {
            continue;
        };
        if v["user_id"] != json!(user) {
            continue;
        }
        if v.get("name").is_some_and(|n| !n.is_null()) {
            v["name"] = json!(e.pseudonym_name);
        }
        if v.get("email").is_some_and(|n| !n.is_null()) {
            v["email"] = json!(e.pseudonym_email);
        }
        if v.get("source_ip").is_some() {
            v["source_ip"] = Value::Null;
        }
        sqlx::query("UPDATE jobs SET requested_by = $1 WHERE id = $2")
            .bind(v.to_string())
            .bind(&id)
            .execute(&mut *conn)
            .await?;
        erased.jobs += 1;
    }

    // Free text: each of the person's strings, longest first (an address before the name in it).
    let mut replacements: Vec<(String, String)> = Vec::new();
    for email in &e.emails {
        replacements.push((email.clone(), e.pseudonym_email.clone()));
    }
    // A very short name would match inside other words; such names are left in free text.
    if e.name.chars().count() >= 3 {
        replacements.push((e.name.clone(), e.pseudonym_name.clone()));
    }
    for ip in ips {
        replacements.push((ip.clone(), "[erased address]".into()));
    }
    replacements.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
    for (table, column) in TEXT_COLUMNS {
        for (from, to) in &replacements {
            let sql = format!("UPDATE {table} SET {column} = REPLACE({column}, $1, $2) WHERE {column} <> REPLACE({column}, $1, $2)");
            erased.text_fields += sqlx::query(&sql)
                .bind(from)
                .bind(to)
                .execute(&mut *conn)
                .await?
                .rows_affected();
        }
    }

    // Throttle state and unflushed refusal counts keyed by the person's address.
    for ip in ips {
        sqlx::query("DELETE FROM login_throttle WHERE throttle_key = $1 OR throttle_key LIKE $2 ESCAPE '\\'")
            .bind(format!("source:{ip}"))
            .bind(format!("pair:%@{}", ip.replace('%', "\\%").replace('_', "\\_")))
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM anonymous_denials WHERE source = $1")
            .bind(ip)
            .execute(&mut *conn)
            .await?;
    }
    Ok(erased)
}

async fn rewrite_personal(conn: &mut AnyConnection, id: &str, p: &Personal) -> StoreResult<()> {
    sqlx::query(
        "UPDATE audit_log SET personal = $1, personal_salt = '', personal_erased = 1 WHERE id = $2",
    )
    .bind(serde_json::to_string(p).expect("plain JSON"))
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A row as a JSON object: text columns as strings (JSON text parsed), numbers as numbers.
fn row_json(row: &sqlx::any::AnyRow) -> Value {
    let mut object = Map::new();
    for (i, column) in row.columns().iter().enumerate() {
        let value = if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
            v.map_or(Value::Null, Value::from)
        } else if let Ok(v) = row.try_get::<Option<i32>, _>(i) {
            v.map_or(Value::Null, Value::from)
        } else if let Ok(v) = row.try_get::<Option<bool>, _>(i) {
            v.map_or(Value::Null, Value::from)
        } else if let Ok(v) = row.try_get::<Option<String>, _>(i) {
            match v {
                None => Value::Null,
                Some(text) if text.starts_with('{') || text.starts_with('[') => {
                    serde_json::from_str(&text).unwrap_or(Value::String(text))
                }
                Some(text) => Value::String(text),
            }
        } else if let Ok(v) = row.try_get::<Option<f64>, _>(i) {
            v.map_or(Value::Null, Value::from)
        } else {
            Value::Null
        };
        object.insert(column.name().to_owned(), value);
    }
    Value::Object(object)
}

async fn rows(conn: &mut AnyConnection, sql: &str, binds: &[String]) -> StoreResult<Value> {
    let mut q = sqlx::query(sql);
    for b in binds {
        q = q.bind(b.clone());
    }
    let rows = q.fetch_all(&mut *conn).await?;
    Ok(Value::Array(rows.iter().map(row_json).collect()))
}

/// Everything alm holds about the person, section by section (times as stored: microseconds
/// since the Unix epoch, UTC). Secrets are left out: password and token hashes.
pub async fn export(conn: &mut AnyConnection, user: UserId) -> StoreResult<Value> {
    let id = user.to_string();
    let emails: Vec<String> =
        sqlx::query_scalar("SELECT email FROM user_emails WHERE user_id = $1 ORDER BY position")
            .bind(&id)
            .fetch_all(&mut *conn)
            .await?;
    let one = |sql: &'static str| (sql, vec![id.clone()]);
    let mut sections = vec![
        ("user", one("SELECT id, display_name, enabled, source, directory_domain, directory_account, directory_guid, password_hash IS NOT NULL AS has_password, created_at, updated_at FROM users WHERE id = $1")),
        ("emails", one("SELECT email, position FROM user_emails WHERE user_id = $1 ORDER BY position")),
        ("groups", one("SELECT g.id, g.name FROM group_members m JOIN alm_groups g ON g.id = m.group_id WHERE m.user_id = $1 ORDER BY g.name")),
        ("roles", one("SELECT r.id, r.name FROM user_roles u JOIN roles r ON r.id = u.role_id WHERE u.user_id = $1 ORDER BY r.name")),
        ("sessions", one("SELECT id, method, created_at, expires_at FROM sessions WHERE user_id = $1 ORDER BY created_at")),
        ("api_tokens", one("SELECT id, name, created_at, expires_at, last_used_at, revoked_at FROM api_tokens WHERE user_id = $1 ORDER BY created_at")),
        ("requests", one("SELECT * FROM requests WHERE requester_id = $1 ORDER BY created_at")),
        ("approval_decisions", one("SELECT * FROM request_approvals WHERE approver_id = $1")),
        ("owned_accounts", one("SELECT a.id, a.name, a.status FROM account_owners o JOIN managed_accounts a ON a.id = o.account_id WHERE o.owner_type = 'user' AND o.owner_id = $1 ORDER BY a.name")),
        ("inbox", one("SELECT id, category, event, title, body, subject_type, subject_id, created_at, read_at FROM inbox WHERE user_id = $1 ORDER BY created_at")),
        ("jobs_requested", (
            "SELECT id, kind, subject_type, subject_id, status, requested_by, created_at FROM jobs WHERE requested_by LIKE $1 ORDER BY created_at",
            vec![format!("%\"user_id\":\"{id}\"%")],
        )),
    ];
    let mut audit_sql = String::from("SELECT seq, id, at, actor_kind, actor_id, action, object_type, object_id, result, summary, personal, personal_erased FROM audit_log WHERE actor_id = $1");
    let mut audit_binds = vec![id.clone()];
    let mut outbox_sql = String::from("SELECT id, event, recipient, subject, body, status, created_at, sent_at FROM outbox WHERE 1 = 0");
    let mut outbox_binds = Vec::new();
    for (i, email) in emails.iter().enumerate() {
        audit_sql.push_str(&format!(" OR LOWER(personal) LIKE ${} ESCAPE '\\'", i + 2));
        audit_binds.push(candidates_like(std::slice::from_ref(email)).remove(0));
        outbox_sql.push_str(&format!(" OR LOWER(recipient) = ${}", i + 1));
        outbox_binds.push(email.clone());
    }
    audit_sql.push_str(" ORDER BY seq");
    outbox_sql.push_str(" ORDER BY created_at");
    let mut out = Map::new();
    out.insert("format".into(), json!("alm-personal-data-export-v1"));
    for (name, (sql, binds)) in sections.drain(..) {
        out.insert(name.into(), rows(conn, sql, &binds).await?);
    }
    out.insert(
        "audit_records".into(),
        rows(conn, &audit_sql, &audit_binds).await?,
    );
    out.insert(
        "emails_sent".into(),
        rows(conn, &outbox_sql, &outbox_binds).await?,
    );
    if let Some(user) = out
        .get_mut("user")
        .and_then(|u| u.as_array_mut())
        .and_then(|a| a.pop())
    {
        out.insert("user".into(), user);
    }
    Ok(Value::Object(out))
}

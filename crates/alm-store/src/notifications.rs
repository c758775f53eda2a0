//! Email templates, the outbox and the inbox (SPEC §7.1–§7.3).

use crate::error::{StoreError, StoreResult};
use crate::outbox_queue;
use crate::time_codec::{from_db, opt_from_db, to_db};
use alm_core::UserId;
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailTemplate {
    pub event: String,
    pub subject: String,
    pub body: String,
    pub enabled: bool,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    pub id: String,
    pub channel: String,
    pub event: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    /// `pending`, `sent` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: OffsetDateTime,
    pub last_error: Option<String>,
    pub created_at: OffsetDateTime,
    pub sent_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxEntry {
    pub id: String,
    pub user_id: UserId,
    pub category: String,
    pub event: String,
    pub title: String,
    pub body: String,
    pub subject_type: Option<String>,
    pub subject_id: Option<String>,
    pub created_at: OffsetDateTime,
    pub read_at: Option<OffsetDateTime>,
}

// ---- templates ----

pub async fn template(conn: &mut AnyConnection, event: &str) -> StoreResult<Option<EmailTemplate>> {
    let row = sqlx::query(
        "SELECT event, subject, body, enabled, updated_at FROM email_templates WHERE event = $1",
    )
    .bind(event)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(EmailTemplate {
            event: r.try_get("event")?,
            subject: r.try_get("subject")?,
            body: r.try_get("body")?,
            enabled: r.try_get::<i32, _>("enabled")? != 0,
            updated_at: from_db(r.try_get("updated_at")?)?,
        })
    })
    .transpose()
}

/// Writes a template (insert or replace).
pub async fn put_template(conn: &mut AnyConnection, t: &EmailTemplate) -> StoreResult<()> {
    sqlx::query("DELETE FROM email_templates WHERE event = $1")
        .bind(&t.event)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO email_templates (event, subject, body, enabled, updated_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&t.event)
    .bind(&t.subject)
    .bind(&t.body)
    .bind(i32::from(t.enabled))
    .bind(to_db(t.updated_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

// ---- outbox ----

pub async fn enqueue(conn: &mut AnyConnection, m: &OutboxMessage) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO outbox (id, channel, event, recipient, subject, body, status, attempts, next_attempt_at, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&m.id)
    .bind(&m.channel)
    .bind(&m.event)
    .bind(&m.recipient)
    .bind(&m.subject)
    .bind(&m.body)
    .bind(&m.status)
    .bind(m.attempts)
    .bind(to_db(m.next_attempt_at))
    .bind(to_db(m.created_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn decode_message(r: &sqlx::any::AnyRow) -> StoreResult<OutboxMessage> {
    Ok(OutboxMessage {
        id: r.try_get("id")?,
        channel: r.try_get("channel")?,
        event: r.try_get("event")?,
        recipient: r.try_get("recipient")?,
        subject: r.try_get("subject")?,
        body: r.try_get("body")?,
        status: r.try_get("status")?,
        attempts: r.try_get("attempts")?,
        next_attempt_at: from_db(r.try_get("next_attempt_at")?)?,
        last_error: r.try_get("last_error")?,
        created_at: from_db(r.try_get("created_at")?)?,
        sent_at: opt_from_db(r.try_get("sent_at")?)?,
    })
}

pub(crate) const MESSAGE_COLUMNS: &str =
    "id, channel, event, recipient, subject, body, status, attempts, \
    next_attempt_at, last_error, created_at, sent_at";

/// Claims up to `max` due messages until `lease_until`, oldest first (the shared outbox
/// queue: a message another replica holds is skipped).
pub async fn claim_due(
    conn: &mut AnyConnection,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
    max: i64,
) -> StoreResult<Vec<OutboxMessage>> {
    outbox_queue::claim_due(
        conn,
        outbox_queue::EMAIL,
        now,
        lease_until,
        max,
        decode_message,
    )
    .await
}

/// Records an attempt: sent, or failed (`retry_at` set: try again then; `None`: given up).
pub async fn record_attempt(
    conn: &mut AnyConnection,
    id: &str,
    now: OffsetDateTime,
    error: Option<&str>,
    retry_at: Option<OffsetDateTime>,
) -> StoreResult<()> {
    outbox_queue::record_attempt(conn, outbox_queue::EMAIL, id, now, error, retry_at).await
}

/// The keys `GET /outbox` sorts by.
pub const MESSAGE_SORT_KEYS: &[&str] = &["created_at", "status", "recipient"];

/// One page of the outbox, optionally of one status and with `query` in the recipient or
/// subject, and how many messages match.
pub async fn messages(
    conn: &mut AnyConnection,
    status: Option<&str>,
    query: Option<&str>,
    page: &alm_core::paging::PageRequest,
) -> StoreResult<(Vec<OutboxMessage>, u64)> {
    let mut conditions = Vec::new();
    let mut binds = Vec::new();
    if let Some(s) = status {
        binds.push(s.to_owned());
        conditions.push(format!("status = ${}", binds.len()));
    }
    if let Some(q) = query {
        binds.push(crate::users::like_pattern(q));
        let n = binds.len();
        conditions.push(format!(
            "(LOWER(recipient) LIKE ${n} ESCAPE '\\' OR LOWER(subject) LIKE ${n} ESCAPE '\\')"
        ));
    }
    let from_where = if conditions.is_empty() {
        "FROM outbox".to_owned()
    } else {
        format!("FROM outbox WHERE {}", conditions.join(" AND "))
    };
    let column = match page.sort {
        "status" => "status",
        "recipient" => "LOWER(recipient)",
        _ => "created_at",
    };
    let (rows, total) = crate::fetch_page(
        conn,
        MESSAGE_COLUMNS,
        &from_where,
        &binds,
        (column, "id"),
        page,
    )
    .await?;
    Ok((
        rows.iter()
            .map(decode_message)
            .collect::<StoreResult<_>>()?,
        total,
    ))
}

// ---- inbox ----

pub async fn add_inbox(conn: &mut AnyConnection, e: &InboxEntry) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO inbox (id, user_id, category, event, title, body, subject_type, subject_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&e.id)
    .bind(e.user_id.to_string())
    .bind(&e.category)
    .bind(&e.event)
    .bind(&e.title)
    .bind(&e.body)
    .bind(e.subject_type.as_deref())
    .bind(e.subject_id.as_deref())
    .bind(to_db(e.created_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The keys `GET /inbox` sorts by.
pub const INBOX_SORT_KEYS: &[&str] = &["created_at", "category"];

/// One page of a user's inbox (only unread entries, if asked; with `query` in the title),
/// and how many entries match.
pub async fn inbox(
    conn: &mut AnyConnection,
    user: UserId,
    unread_only: bool,
    query: Option<&str>,
    page: &alm_core::paging::PageRequest,
) -> StoreResult<(Vec<InboxEntry>, u64)> {
    let mut from_where = "FROM inbox WHERE user_id = $1".to_owned();
    let mut binds = vec![user.to_string()];
    if unread_only {
        from_where.push_str(" AND read_at IS NULL");
    }
    if let Some(q) = query {
        binds.push(crate::users::like_pattern(q));
        from_where.push_str(" AND LOWER(title) LIKE $2 ESCAPE '\\'");
    }
    let column = match page.sort {
        "category" => "category",
        _ => "created_at",
    };
    let columns =
        "id, user_id, category, event, title, body, subject_type, subject_id, created_at, read_at";
    let (rows, total) =
        crate::fetch_page(conn, columns, &from_where, &binds, (column, "id"), page).await?;
    let entries = rows
        .iter()
        .map(|r| {
            let user: String = r.try_get("user_id")?;
            Ok(InboxEntry {
                id: r.try_get("id")?,
                user_id: user
                    .parse()
                    .map_err(|_| StoreError::Corrupt(format!("user id {user:?}")))?,
                category: r.try_get("category")?,
                event: r.try_get("event")?,
                title: r.try_get("title")?,
                body: r.try_get("body")?,
                subject_type: r.try_get("subject_type")?,
                subject_id: r.try_get("subject_id")?,
                created_at: from_db(r.try_get("created_at")?)?,
                read_at: opt_from_db(r.try_get("read_at")?)?,
            })
        })
        .collect::<StoreResult<_>>()?;
    Ok((entries, total))
}

/// Unread entries per category.
pub async fn unread_counts(
    conn: &mut AnyConnection,
    user: UserId,
) -> StoreResult<Vec<(String, i64)>> {
    sqlx::query(
        "SELECT category, COUNT(*) AS n FROM inbox WHERE user_id = $1 AND read_at IS NULL GROUP BY category ORDER BY category",
    )
    .bind(user.to_string())
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| Ok((r.try_get("category")?, r.try_get("n")?)))
    .collect()
}

/// Marks one entry (or all of the user's, with `None`) read; returns how many changed.
pub async fn mark_read(
    conn: &mut AnyConnection,
    user: UserId,
    id: Option<&str>,
    at: OffsetDateTime,
) -> StoreResult<u64> {
    let done =
        match id {
            Some(id) => sqlx::query(
                "UPDATE inbox SET read_at = $1 WHERE user_id = $2 AND id = $3 AND read_at IS NULL",
            )
            .bind(to_db(at))
            .bind(user.to_string())
            .bind(id)
            .execute(&mut *conn)
            .await?,
            None => {
                sqlx::query("UPDATE inbox SET read_at = $1 WHERE user_id = $2 AND read_at IS NULL")
                    .bind(to_db(at))
                    .bind(user.to_string())
                    .execute(&mut *conn)
                    .await?
            }
        };
    Ok(done.rows_affected())
}

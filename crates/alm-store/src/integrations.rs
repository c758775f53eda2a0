//! Webhooks, their delivery history, SIEM integrations and the integration outbox
//! (SPEC §7.4, §7.5). Plain rows: sealing the webhook definitions and deciding what to send
//! is the server's business.

use crate::error::StoreResult;
use crate::outbox_queue;
use crate::time_codec::{from_db, opt_from_db, to_db};
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

// ---- webhooks ----

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRecord {
    pub id: String,
    pub event: String,
    pub enabled: bool,
    /// The definition's JSON, sealed with the master key (context `webhook:<id>:definition`).
    pub definition_sealed: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

const WEBHOOK_COLUMNS: &str = "id, event, enabled, definition_sealed, created_at, updated_at";

fn decode_webhook(r: &sqlx::any::AnyRow) -> StoreResult<WebhookRecord> {
    Ok(WebhookRecord {
        id: r.try_get("id")?,
        event: r.try_get("event")?,
        enabled: r.try_get::<i32, _>("enabled")? != 0,
        definition_sealed: r.try_get("definition_sealed")?,
        created_at: from_db(r.try_get("created_at")?)?,
        updated_at: from_db(r.try_get("updated_at")?)?,
    })
}

pub async fn insert_webhook(conn: &mut AnyConnection, w: &WebhookRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO webhooks (id, event, enabled, definition_sealed, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&w.id)
    .bind(&w.event)
    .bind(i32::from(w.enabled))
    .bind(&w.definition_sealed)
    .bind(to_db(w.created_at))
    .bind(to_db(w.updated_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn update_webhook(conn: &mut AnyConnection, w: &WebhookRecord) -> StoreResult<()> {
    sqlx::query(
        "UPDATE webhooks SET event = $1, enabled = $2, definition_sealed = $3, updated_at = $4 WHERE id = $5",
    )
    .bind(&w.event)
    .bind(i32::from(w.enabled))
    .bind(&w.definition_sealed)
    .bind(to_db(w.updated_at))
    .bind(&w.id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn get_webhook(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<WebhookRecord>> {
    sqlx::query(&format!(
        "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .as_ref()
    .map(decode_webhook)
    .transpose()
}

pub async fn list_webhooks(conn: &mut AnyConnection) -> StoreResult<Vec<WebhookRecord>> {
    sqlx::query(&format!(
        "SELECT {WEBHOOK_COLUMNS} FROM webhooks ORDER BY created_at, id"
    ))
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(decode_webhook)
    .collect()
}

/// The enabled webhooks subscribed to `event` (through the `webhooks_event` index).
pub async fn subscribed_webhooks(
    conn: &mut AnyConnection,
    event: &str,
) -> StoreResult<Vec<String>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM webhooks WHERE event = $1 AND enabled = 1 ORDER BY id")
            .bind(event)
            .fetch_all(&mut *conn)
            .await?,
    )
}

/// Deletes a webhook with its history and what waits for it; whether it existed.
pub async fn delete_webhook(conn: &mut AnyConnection, id: &str) -> StoreResult<bool> {
    sqlx::query("DELETE FROM webhook_deliveries WHERE webhook_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM integration_outbox WHERE target_id = $1 AND channel = 'webhook'")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(sqlx::query("DELETE FROM webhooks WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?
        .rows_affected()
        == 1)
}

// ---- webhook history ----

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    pub id: String,
    pub webhook_id: String,
    /// The delivery's id (the outbox row's, or `test-…`), the same on every attempt.
    pub delivery_id: String,
    pub event: String,
    pub attempt: i64,
    pub at: OffsetDateTime,
    pub status_code: Option<i64>,
    pub duration_ms: i64,
    pub response_excerpt: String,
    pub error: Option<String>,
    pub test: bool,
}

pub async fn add_delivery(conn: &mut AnyConnection, d: &WebhookDelivery) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO webhook_deliveries (id, webhook_id, delivery_id, event, attempt, at, status_code, \
         duration_ms, response_excerpt, error, test) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&d.id)
    .bind(&d.webhook_id)
    .bind(&d.delivery_id)
    .bind(&d.event)
    .bind(d.attempt)
    .bind(to_db(d.at))
    .bind(d.status_code)
    .bind(d.duration_ms)
    .bind(&d.response_excerpt)
    .bind(d.error.as_deref())
    .bind(i32::from(d.test))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// One page of a webhook's history (by time), and the total.
pub async fn deliveries(
    conn: &mut AnyConnection,
    webhook_id: &str,
    page: &alm_core::paging::PageRequest,
) -> StoreResult<(Vec<WebhookDelivery>, u64)> {
    let (rows, total) = crate::fetch_page(
        conn,
        "id, webhook_id, delivery_id, event, attempt, at, status_code, duration_ms, \
         response_excerpt, error, test",
        "FROM webhook_deliveries WHERE webhook_id = $1",
        &[webhook_id.to_owned()],
        ("at", "id"),
        page,
    )
    .await?;
    let items = rows
        .iter()
        .map(|r| {
            Ok(WebhookDelivery {
                id: r.try_get("id")?,
                webhook_id: r.try_get("webhook_id")?,
                delivery_id: r.try_get("delivery_id")?,
                event: r.try_get("event")?,
                attempt: r.try_get("attempt")?,
                at: from_db(r.try_get("at")?)?,
                status_code: r.try_get("status_code")?,
                duration_ms: r.try_get("duration_ms")?,
                response_excerpt: r.try_get("response_excerpt")?,
                error: r.try_get("error")?,
                test: r.try_get::<i32, _>("test")? != 0,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Ok((items, total))
}

// ---- SIEM integrations ----

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiemRecord {
    pub id: String,
    pub name: String,
    pub server: String,
    pub port: i64,
    /// `udp`, `tcp` or `tls`.
    pub protocol: String,
    /// `rfc5424`, `cef` or `json-lines`.
    pub format: String,
    pub ca_pem: Option<String>,
    pub enabled: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

const SIEM_COLUMNS: &str =
    "id, name, server, port, protocol, format, ca_pem, enabled, created_at, updated_at";

fn decode_siem(r: &sqlx::any::AnyRow) -> StoreResult<SiemRecord> {
    Ok(SiemRecord {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        server: r.try_get("server")?,
        port: r.try_get("port")?,
        protocol: r.try_get("protocol")?,
        format: r.try_get("format")?,
        ca_pem: r.try_get("ca_pem")?,
        enabled: r.try_get::<i32, _>("enabled")? != 0,
        created_at: from_db(r.try_get("created_at")?)?,
        updated_at: from_db(r.try_get("updated_at")?)?,
    })
}

pub async fn insert_siem(conn: &mut AnyConnection, s: &SiemRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO siem_integrations (id, name, server, port, protocol, format, ca_pem, enabled, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&s.id)
    .bind(&s.name)
    .bind(&s.server)
    .bind(s.port)
    .bind(&s.protocol)
    .bind(&s.format)
    .bind(s.ca_pem.as_deref())
    .bind(i32::from(s.enabled))
    .bind(to_db(s.created_at))
    .bind(to_db(s.updated_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn update_siem(conn: &mut AnyConnection, s: &SiemRecord) -> StoreResult<()> {
    sqlx::query(
        "UPDATE siem_integrations SET name = $1, server = $2, port = $3, protocol = $4, format = $5, \
         ca_pem = $6, enabled = $7, updated_at = $8 WHERE id = $9",
    )
    .bind(&s.name)
    .bind(&s.server)
    .bind(s.port)
    .bind(&s.protocol)
    .bind(&s.format)
    .bind(s.ca_pem.as_deref())
    .bind(i32::from(s.enabled))
    .bind(to_db(s.updated_at))
    .bind(&s.id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn get_siem(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<SiemRecord>> {
    sqlx::query(&format!(
        "SELECT {SIEM_COLUMNS} FROM siem_integrations WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .as_ref()
    .map(decode_siem)
    .transpose()
}

pub async fn siem_by_name(conn: &mut AnyConnection, name: &str) -> StoreResult<Option<SiemRecord>> {
    sqlx::query(&format!(
        "SELECT {SIEM_COLUMNS} FROM siem_integrations WHERE name = $1"
    ))
    .bind(name)
    .fetch_optional(&mut *conn)
    .await?
    .as_ref()
    .map(decode_siem)
    .transpose()
}

pub async fn list_siem(conn: &mut AnyConnection) -> StoreResult<Vec<SiemRecord>> {
    sqlx::query(&format!(
        "SELECT {SIEM_COLUMNS} FROM siem_integrations ORDER BY name, id"
    ))
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(decode_siem)
    .collect()
}

/// The ids of the enabled SIEM integrations.
pub async fn enabled_siem(conn: &mut AnyConnection) -> StoreResult<Vec<String>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM siem_integrations WHERE enabled = 1 ORDER BY id")
            .fetch_all(&mut *conn)
            .await?,
    )
}

pub async fn delete_siem(conn: &mut AnyConnection, id: &str) -> StoreResult<bool> {
    sqlx::query("DELETE FROM integration_outbox WHERE target_id = $1 AND channel = 'siem'")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(sqlx::query("DELETE FROM siem_integrations WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?
        .rows_affected()
        == 1)
}

// ---- the integration outbox ----

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    pub id: String,
    /// `webhook` or `siem`.
    pub channel: String,
    /// The webhook's or SIEM integration's id.
    pub target_id: String,
    pub event: String,
    /// What to send, as JSON: the event's parameters (webhooks) or the SIEM event.
    pub payload: String,
    /// `pending`, `sent` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: OffsetDateTime,
    pub last_error: Option<String>,
    pub created_at: OffsetDateTime,
    pub sent_at: Option<OffsetDateTime>,
}

pub(crate) const ITEM_COLUMNS: &str = "id, channel, target_id, event, payload, status, attempts, \
    next_attempt_at, last_error, created_at, sent_at";

fn decode_item(r: &sqlx::any::AnyRow) -> StoreResult<OutboxItem> {
    Ok(OutboxItem {
        id: r.try_get("id")?,
        channel: r.try_get("channel")?,
        target_id: r.try_get("target_id")?,
        event: r.try_get("event")?,
        payload: r.try_get("payload")?,
        status: r.try_get("status")?,
        attempts: r.try_get("attempts")?,
        next_attempt_at: from_db(r.try_get("next_attempt_at")?)?,
        last_error: r.try_get("last_error")?,
        created_at: from_db(r.try_get("created_at")?)?,
        sent_at: opt_from_db(r.try_get("sent_at")?)?,
    })
}

pub async fn enqueue(conn: &mut AnyConnection, i: &OutboxItem) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO integration_outbox (id, channel, target_id, event, payload, status, attempts, \
         next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&i.id)
    .bind(&i.channel)
    .bind(&i.target_id)
    .bind(&i.event)
    .bind(&i.payload)
    .bind(&i.status)
    .bind(i.attempts)
    .bind(to_db(i.next_attempt_at))
    .bind(to_db(i.created_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Claims up to `max` due items until `lease_until`, oldest first (the shared outbox queue).
pub async fn claim_due(
    conn: &mut AnyConnection,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
    max: i64,
) -> StoreResult<Vec<OutboxItem>> {
    outbox_queue::claim_due(
        conn,
        outbox_queue::INTEGRATIONS,
        now,
        lease_until,
        max,
        decode_item,
    )
    .await
}

/// Records an attempt: sent (`error` none), or failed (`retry_at` set: try again then;
/// `None`: given up).
pub async fn record_attempt(
    conn: &mut AnyConnection,
    id: &str,
    now: OffsetDateTime,
    error: Option<&str>,
    retry_at: Option<OffsetDateTime>,
) -> StoreResult<()> {
    outbox_queue::record_attempt(conn, outbox_queue::INTEGRATIONS, id, now, error, retry_at).await
}

/// Gives a leased item back without counting an attempt (e.g. a sender that could not be
/// built this time): due again at `at`.
pub async fn release(conn: &mut AnyConnection, id: &str, at: OffsetDateTime) -> StoreResult<()> {
    outbox_queue::release(conn, outbox_queue::INTEGRATIONS, id, at).await
}

/// The items of one target, newest first (for tests and diagnostics).
pub async fn items_for(conn: &mut AnyConnection, target_id: &str) -> StoreResult<Vec<OutboxItem>> {
    sqlx::query(&format!(
        "SELECT {ITEM_COLUMNS} FROM integration_outbox WHERE target_id = $1 ORDER BY created_at DESC, id DESC"
    ))
    .bind(target_id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(decode_item)
    .collect()
}

/// What waits for one target: how many messages are not delivered yet, and the error of the
/// most recent failed attempt among them (`None` when nothing has failed yet).
pub async fn backlog(
    conn: &mut AnyConnection,
    target_id: &str,
) -> StoreResult<(i64, Option<String>)> {
    let waiting: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM integration_outbox WHERE target_id = $1 AND status = 'pending'",
    )
    .bind(target_id)
    .fetch_one(&mut *conn)
    .await?;
    let last_error: Option<Option<String>> = sqlx::query_scalar(
        "SELECT last_error FROM integration_outbox WHERE target_id = $1 AND status = 'pending' \
         AND last_error IS NOT NULL ORDER BY next_attempt_at DESC, id DESC LIMIT 1",
    )
    .bind(target_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok((waiting, last_error.flatten()))
}

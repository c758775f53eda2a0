//! Webhook and SIEM delivery through the integration outbox (SPEC §7.4, §7.5).
//!
//! Enqueueing happens in the caller's transaction, so a change and what the world hears about
//! it commit together: [`enqueue_event`] (from `notifications::emit`) writes one row per enabled
//! webhook subscribed to the event and one per enabled SIEM integration; [`enqueue_audit`]
//! (from `audit::record`) one per enabled SIEM integration. Rows carry what to send (the
//! event's parameters, or the SIEM event) as JSON; secrets stay in the sealed webhook
//! definition and are read only when sending.
//!
//! [`Deliverer::deliver_due`] claims due rows under a lease (two replicas never send one row
//! at once) and sends them. Retry policy:
//! - webhooks: an outcome that is `retryable` (connection failure, timeout, 408, 429, 5xx) is
//!   tried again after [`backoff`] (10 s doubling to at most 1 h) up to [`WEBHOOK_MAX_ATTEMPTS`]
//!   attempts; a non-retryable outcome (another 4xx, a broken definition) or the last attempt
//!   marks the row `failed` and records an alert in the audit log. Every attempt, successful or
//!   not, is a row of the webhook's history. A call once made is recorded even while the
//!   database is away for a moment (`notifications::UntilRecorded`), so it is not made again
//!   when its claim runs out.
//! - SIEM: a SIEM exists to hold every event, so a row is never given up: every failure
//!   reschedules it with the same back-off (capped at 1 h); after [`SIEM_ALERT_AFTER`] failed
//!   attempts one alert is recorded. A failed row also holds back the later rows of the same
//!   integration in that round (they are released, not counted), so a dead receiver costs one
//!   connection attempt per round.
//!
//! Rows are kept after delivery (`sent`), like the email outbox, as the record of what left.

use super::audit::{record, Subject};
use super::notifications::backoff;
use super::{Actor, ServiceResult};
use alm_core::Clock;
use alm_notify::events::EventKind;
use alm_siem::{
    Format, FormatOptions, Origin, Sender, SenderConfig, Severity, SiemEvent, Transport,
};
use alm_store::audit_log::AuditRecord;
use alm_store::crypto::MasterKey;
use alm_store::integrations::{self as store, OutboxItem, WebhookDelivery};
use alm_store::{outbox_queue, Conn, Db};
use alm_webhook::{WebhookDefinition, WebhookSender};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use time::OffsetDateTime;

/// Attempts of one webhook delivery before it is given up.
pub const WEBHOOK_MAX_ATTEMPTS: i64 = 12;
/// Failed attempts of one SIEM message after which an alert is recorded (it is still retried).
pub const SIEM_ALERT_AFTER: i64 = 12;
/// Audit actions that are not forwarded to SIEM: the alert about a stuck SIEM message would
/// otherwise queue another message to the receiver that is down, for ever.
const NOT_FORWARDED: &[&str] = &["siem.delivery-stuck"];

fn new_item(
    now: OffsetDateTime,
    channel: &str,
    target: &str,
    event: &str,
    payload: &Value,
) -> OutboxItem {
    OutboxItem {
        id: alm_core::ids::uuid_v7_at(now).to_string(),
        channel: channel.into(),
        target_id: target.into(),
        event: event.into(),
        payload: payload.to_string(),
        status: "pending".into(),
        attempts: 0,
        next_attempt_at: now,
        last_error: None,
        created_at: now,
        sent_at: None,
    }
}

/// Queues `event` for its webhooks and for every SIEM integration (caller's transaction).
pub(crate) async fn enqueue_event(
    conn: &mut Conn,
    now: OffsetDateTime,
    event: EventKind,
    params: &Value,
) -> ServiceResult<()> {
    for id in store::subscribed_webhooks(conn, event.key).await? {
        store::enqueue(conn, &new_item(now, "webhook", &id, event.key, params)).await?;
    }
    let siem = store::enabled_siem(conn).await?;
    if !siem.is_empty() {
        let severity = match event.key {
            "request.provisioning-failed" => Severity::Error,
            "domain.users-disabled-by-sync"
            | "account.urgent-reminder"
            | "request.provisioning-retrying" => Severity::Warning,
            _ => Severity::Info,
        };
        let mut fields = BTreeMap::new();
        flatten("", params, &mut fields);
        for target in siem {
            let item = new_item(now, "siem", &target, event.key, &Value::Null);
            let payload = siem_payload(&item.id, now, event.key, severity, event.title, &fields);
            store::enqueue(
                conn,
                &OutboxItem {
                    payload: payload.to_string(),
                    ..item
                },
            )
            .await?;
        }
    }
    Ok(())
}

/// Queues an audit record for every SIEM integration (caller's transaction).
pub(crate) async fn enqueue_audit(conn: &mut Conn, r: &AuditRecord) -> ServiceResult<()> {
    if NOT_FORWARDED.contains(&r.action.as_str()) {
        return Ok(());
    }
    let siem = store::enabled_siem(conn).await?;
    if siem.is_empty() {
        return Ok(());
    }
    // Ids and outcome only: the personal part (names, emails, addresses) stays in alm, where
    // it can be erased (SPEC §8); the summary is already free of secrets.
    let mut fields = BTreeMap::new();
    for (k, v) in [
        ("seq", json!(r.seq)),
        ("audit_id", json!(r.id)),
        ("action", json!(r.action)),
        ("actor_kind", json!(r.actor_kind.as_str())),
        ("actor_id", json!(r.actor_id.clone().unwrap_or_default())),
        ("object_type", json!(r.object_type)),
        ("object_id", json!(r.object_id.clone().unwrap_or_default())),
        ("outcome", json!(r.outcome.as_str())),
        ("summary", r.summary.clone()),
    ] {
        fields.insert(k.to_owned(), v);
    }
    let severity = if r.outcome.as_str() == "success" {
        Severity::Info
    } else {
        Severity::Warning
    };
    let message = format!(
        "{} {} {} ({})",
        r.action,
        r.object_type,
        r.object_id.as_deref().unwrap_or("-"),
        r.outcome.as_str()
    );
    for target in siem {
        let item = new_item(r.at, "siem", &target, "audit.record", &Value::Null);
        let payload = siem_payload(
            &format!("audit-{}", r.seq),
            r.at,
            "audit.record",
            severity,
            &message,
            &fields,
        );
        store::enqueue(
            conn,
            &OutboxItem {
                payload: payload.to_string(),
                ..item
            },
        )
        .await?;
    }
    Ok(())
}

/// `{"request": {"id": 1}}` as `request.id = 1`.
fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        other if !prefix.is_empty() => {
            out.insert(prefix.to_owned(), other.clone());
        }
        _ => {}
    }
}

fn siem_payload(
    id: &str,
    at: OffsetDateTime,
    kind: &str,
    severity: Severity,
    message: &str,
    fields: &BTreeMap<String, Value>,
) -> Value {
    json!({"id": id, "at": at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(), "kind": kind,
           "severity": severity.as_str(), "message": message, "fields": fields})
}

/// The alert that a webhook delivery was given up (SPEC §7.4): the event, the delivery and
/// `more` (attempts, status, error).
async fn delivery_failed(
    tx: &mut alm_store::WriteTx,
    clock: &dyn Clock,
    webhook: &str,
    item: &OutboxItem,
    more: Value,
) -> ServiceResult<()> {
    let mut details = json!({"alert": true, "event": item.event, "delivery": item.id});
    if let (Some(d), Value::Object(more)) = (details.as_object_mut(), more) {
        d.extend(more);
    }
    record(
        tx,
        clock,
        &Actor::system(),
        "webhook.delivery-failed",
        Subject::new("webhook", webhook),
        details,
    )
    .await
}

/// The SIEM event a row carries.
pub(crate) fn siem_event(payload: &str) -> Option<SiemEvent> {
    let v: Value = serde_json::from_str(payload).ok()?;
    let at = OffsetDateTime::parse(
        v["at"].as_str()?,
        &time::format_description::well_known::Rfc3339,
    )
    .ok()?;
    let severity = match v["severity"].as_str()? {
        "error" => Severity::Error,
        "warning" => Severity::Warning,
        _ => Severity::Info,
    };
    let fields = match &v["fields"] {
        Value::Object(m) => m.clone().into_iter().collect(),
        _ => Map::new().into_iter().collect(),
    };
    Some(SiemEvent {
        id: v["id"].as_str()?.to_owned(),
        at,
        kind: v["kind"].as_str()?.to_owned(),
        severity,
        message: v["message"].as_str()?.to_owned(),
        fields,
    })
}

/// The sender settings of a stored SIEM integration.
pub(crate) fn siem_config(r: &store::SiemRecord, hostname: &str) -> Option<SenderConfig> {
    let transport = match r.protocol.as_str() {
        "udp" => Transport::Udp,
        "tcp" => Transport::Tcp,
        "tls" => Transport::Tls,
        _ => return None,
    };
    let format = match r.format.as_str() {
        "rfc5424" => Format::Rfc5424,
        "cef" => Format::Cef,
        "json-lines" => Format::JsonLines,
        _ => return None,
    };
    let options = FormatOptions {
        origin: Origin::alm(hostname),
        facility: alm_siem::Facility::AUTHPRIV,
    };
    let mut c = SenderConfig::new(
        r.server.clone(),
        u16::try_from(r.port).ok()?,
        transport,
        format,
        options,
    );
    c.ca_pem = r.ca_pem.clone();
    Some(c)
}

/// The context a webhook's sealed definition is bound to.
pub(crate) fn definition_context(id: &str) -> String {
    format!("webhook:{id}:definition")
}

/// Opens a stored webhook's definition.
pub(crate) fn open_definition(
    key: &MasterKey,
    w: &store::WebhookRecord,
) -> ServiceResult<WebhookDefinition> {
    let text = key
        .open(&w.definition_sealed, &definition_context(&w.id))
        .map_err(|e| alm_store::StoreError::Corrupt(format!("webhook {}: {e}", w.id)))?;
    serde_json::from_str(&text)
        .map_err(|e| alm_store::StoreError::Corrupt(format!("webhook {}: {e}", w.id)).into())
}

/// A history row for one attempt.
pub(crate) fn history_row(
    webhook_id: &str,
    event: &str,
    o: &alm_webhook::DeliveryOutcome,
    test: bool,
) -> WebhookDelivery {
    WebhookDelivery {
        id: alm_core::ids::uuid_v7_at(o.started_at).to_string(),
        webhook_id: webhook_id.into(),
        delivery_id: o.delivery_id.clone(),
        event: event.into(),
        attempt: i64::from(o.attempt),
        at: o.started_at,
        status_code: o.status.map(i64::from),
        duration_ms: i64::try_from(o.duration.as_millis()).unwrap_or(i64::MAX),
        response_excerpt: o.response_excerpt.clone(),
        error: o.error.as_ref().map(|e| e.message.clone()),
        test,
    }
}

/// The delivery loop's state: the webhook client (with its token cache) and one SIEM sender
/// per integration, kept across rounds so TCP/TLS connections are reused.
pub struct Deliverer {
    pub webhooks: WebhookSender,
    /// The name alm gives itself in SIEM messages.
    pub hostname: String,
    siem: HashMap<String, (OffsetDateTime, Sender)>,
}

impl Deliverer {
    pub fn new(webhooks: WebhookSender, hostname: String) -> Self {
        Self {
            webhooks,
            hostname,
            siem: HashMap::new(),
        }
    }

    /// Sends what is due now; returns how many rows were delivered.
    pub async fn deliver_due(
        &mut self,
        db: &Db,
        clock: &dyn Clock,
        key: &MasterKey,
    ) -> ServiceResult<usize> {
        let now = clock.now();
        let due = {
            let mut tx = db.begin_write().await?;
            let due = store::claim_due(&mut tx, now, now + outbox_queue::LEASE, 50).await?;
            tx.commit().await?;
            due
        };
        let claimed = std::time::Instant::now();
        let mut delivered = 0;
        // Targets that failed this round, with when to try again.
        let mut held: HashMap<String, OffsetDateTime> = HashMap::new();
        let mut gone: HashSet<String> = HashSet::new();
        for item in due {
            // Too late in the lease to start a delivery: given back, due at once.
            let late = (claimed.elapsed() > outbox_queue::START_WITHIN).then(|| clock.now());
            if let Some(at) = late.or_else(|| held.get(&item.target_id).copied()) {
                let mut tx = db.begin_write().await?;
                store::release(&mut tx, &item.id, at).await?;
                tx.commit().await?;
                continue;
            }
            let ok = match item.channel.as_str() {
                "webhook" => {
                    self.webhook(db, clock, key, &item, claimed, &mut held)
                        .await?
                }
                _ => self.siem(db, clock, &item, &mut held, &mut gone).await?,
            };
            delivered += usize::from(ok);
        }
        // Integrations deleted since: drop their connections.
        self.siem.retain(|id, _| !gone.contains(id));
        Ok(delivered)
    }

    async fn webhook(
        &mut self,
        db: &Db,
        clock: &dyn Clock,
        key: &MasterKey,
        item: &OutboxItem,
        claimed: std::time::Instant,
        held: &mut HashMap<String, OffsetDateTime>,
    ) -> ServiceResult<bool> {
        let w = {
            let mut conn = db.read().await?;
            store::get_webhook(&mut conn, &item.target_id).await?
        };
        let now = clock.now();
        let attempts = item.attempts + 1;
        let Some(w) = w.filter(|w| w.enabled) else {
            let mut tx = db.begin_write().await?;
            store::record_attempt(
                &mut tx,
                &item.id,
                now,
                Some("the webhook was disabled or deleted before delivery"),
                None,
            )
            .await?;
            tx.commit().await?;
            return Ok(false);
        };
        let definition = open_definition(key, &w)?;
        let params: Value = match serde_json::from_str(&item.payload) {
            Ok(params) => params,
            Err(e) => {
                // Not what alm wrote: never sent as an empty or guessed body. The row ends
                // failed, with the reason, and the audit log alerts.
                let why = format!("the stored event does not parse ({e}); nothing was sent");
                let mut tx = db.begin_write().await?;
                store::record_attempt(&mut tx, &item.id, now, Some(&why), None).await?;
                delivery_failed(
                    &mut tx,
                    clock,
                    &w.id,
                    item,
                    json!({"attempts": attempts, "error": why}),
                )
                .await?;
                tx.commit().await?;
                return Ok(false);
            }
        };
        let attempt = u32::try_from(attempts).unwrap_or(u32::MAX);
        let outcome = self
            .webhooks
            .send(&definition, &params, &item.id, attempt, now)
            .await;
        let done = clock.now();
        let ok = outcome.delivered();
        let give_up = !ok && (!outcome.retryable || attempts >= WEBHOOK_MAX_ATTEMPTS);
        let retry = (!ok && !give_up).then(|| done + backoff(item.attempts));
        // `None` records the row sent; a failure is recorded with its reason (or none).
        let text = (!ok).then(|| {
            outcome
                .error
                .as_ref()
                .map(|e| e.message.clone())
                .unwrap_or_default()
        });
        // The call has been made: what it did is recorded whatever the database does for a
        // moment, else the row stays claimed and is called again when the claim runs out.
        let mut again = super::notifications::UntilRecorded::new(claimed);
        loop {
            let recorded: ServiceResult<()> = async {
                let mut tx = db.begin_write().await?;
                store::add_delivery(&mut tx, &history_row(&w.id, &item.event, &outcome, false))
                    .await?;
                store::record_attempt(&mut tx, &item.id, done, text.as_deref(), retry).await?;
                if give_up {
                    delivery_failed(
                        &mut tx,
                        clock,
                        &w.id,
                        item,
                        json!({"attempts": attempts, "status": outcome.status, "error": text}),
                    )
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }
            .await;
            match recorded {
                Ok(()) => break,
                Err(e) => again.wait(e, &item.id).await?,
            }
        }
        if let Some(at) = retry {
            held.insert(w.id.clone(), at);
        }
        Ok(ok)
    }

    async fn siem(
        &mut self,
        db: &Db,
        clock: &dyn Clock,
        item: &OutboxItem,
        held: &mut HashMap<String, OffsetDateTime>,
        gone: &mut HashSet<String>,
    ) -> ServiceResult<bool> {
        let r = {
            let mut conn = db.read().await?;
            store::get_siem(&mut conn, &item.target_id).await?
        };
        let Some(r) = r else {
            // Deleted with its rows; this one was claimed in between.
            gone.insert(item.target_id.clone());
            return Ok(false);
        };
        let result = match (siem_event(&item.payload), siem_config(&r, &self.hostname)) {
            (Some(event), Some(config)) => {
                // A changed integration gets a new sender (and connection).
                if self
                    .siem
                    .get(&r.id)
                    .is_none_or(|(at, _)| *at != r.updated_at)
                {
                    match Sender::new(config) {
                        Ok(s) => {
                            self.siem.insert(r.id.clone(), (r.updated_at, s));
                        }
                        Err(e) => {
                            self.siem.remove(&r.id);
                            return self
                                .siem_failed(db, clock, item, &r, &e.to_string(), held)
                                .await;
                        }
                    }
                }
                let (_, sender) = self.siem.get_mut(&r.id).expect("just made");
                sender.send(&event).await.map_err(|e| e.to_string())
            }
            _ => Err("the stored message or settings cannot be read".to_owned()),
        };
        match result {
            Ok(()) => {
                let mut tx = db.begin_write().await?;
                store::record_attempt(&mut tx, &item.id, clock.now(), None, None).await?;
                tx.commit().await?;
                Ok(true)
            }
            Err(text) => self.siem_failed(db, clock, item, &r, &text, held).await,
        }
    }

    async fn siem_failed(
        &mut self,
        db: &Db,
        clock: &dyn Clock,
        item: &OutboxItem,
        r: &store::SiemRecord,
        text: &str,
        held: &mut HashMap<String, OffsetDateTime>,
    ) -> ServiceResult<bool> {
        let now = clock.now();
        let attempts = item.attempts + 1;
        let retry = now + backoff(item.attempts);
        held.insert(r.id.clone(), retry);
        let mut tx = db.begin_write().await?;
        store::record_attempt(&mut tx, &item.id, now, Some(text), Some(retry)).await?;
        if attempts == SIEM_ALERT_AFTER {
            record(
                &mut tx,
                clock,
                &Actor::system(),
                "siem.delivery-stuck",
                Subject::new("siem-integration", &r.id),
                json!({"alert": true, "event": item.event, "message": item.id, "attempts": attempts, "error": text}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(false)
    }
}

//! Webhooks (SPEC §7.4): create, change, delete, list, a test call, and the history. The
//! definition is sealed as one JSON value with the master key, bound to the webhook's id;
//! everything this module returns is redacted (secrets empty). On a change, a secret left
//! empty keeps the stored one, so a client may send back what it read.

use super::audit::{record, Subject};
use super::integration_outbox::{definition_context, history_row, open_definition};
use super::{Actor, ServiceError, ServiceResult};
use alm_core::permissions::{perm, Can};
use alm_core::{Clock, FieldError, ValidationErrors};
use alm_store::crypto::MasterKey;
use alm_store::integrations::{self as store, WebhookDelivery, WebhookRecord};
use alm_store::Db;
use alm_webhook::{Authorization, DeliveryOutcome, WebhookDefinition, WebhookSender};
use serde_json::json;
use time::OffsetDateTime;

/// A webhook as shown: the definition with its secrets emptied.
pub struct WebhookInfo {
    pub id: String,
    pub definition: WebhookDefinition,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

fn not_found() -> ServiceError {
    ServiceError::NotFound { what: "webhook" }
}

fn info(w: &WebhookRecord, d: &WebhookDefinition) -> WebhookInfo {
    WebhookInfo {
        id: w.id.clone(),
        definition: d.redacted(),
        created_at: w.created_at,
        updated_at: w.updated_at,
    }
}

/// The event must exist; the body may use only its parameters.
fn check(d: &WebhookDefinition) -> ServiceResult<()> {
    let Some(event) = alm_notify::events::by_key(&d.event) else {
        let keys: Vec<&str> = alm_notify::events::ALL.iter().map(|e| e.key).collect();
        let mut errors = ValidationErrors::new();
        errors.push(FieldError::new(
            "event",
            "one-of",
            format!(
                "unknown event {:?}; expected one of {}",
                d.event,
                keys.join(", ")
            ),
        ));
        if let Err(more) = d.validate(&[]) {
            // The other fields' problems too, except the placeholders (no event, no list).
            for e in more.0 {
                if e.field != "event" && e.field != "body_template" {
                    errors.push(e);
                }
            }
        }
        return Err(errors.into());
    };
    Ok(d.validate(event.parameters)?)
}

/// Secrets left empty in `new` take the stored ones (same kind of authorization only) — but
/// never for a new destination: a basic password goes to the callback URL, an OAuth client
/// secret to the token URL and the token it buys to the callback URL, so changing those URLs
/// needs the secret again (else anyone allowed to edit a webhook could capture it). The
/// signing secret only signs (an HMAC reveals nothing of it), so it is kept.
fn keep_secrets(new: &mut WebhookDefinition, old: &WebhookDefinition) -> ServiceResult<()> {
    if new.signing_secret.expose().is_empty() {
        new.signing_secret = old.signing_secret.clone();
    }
    let same_url = new.url == old.url;
    match (&mut new.authorization, &old.authorization) {
        (
            Some(Authorization::Basic { password, .. }),
            Some(Authorization::Basic { password: p, .. }),
        ) if password.expose().is_empty() => {
            if !same_url {
                return Err(resend("authorization.password", "url"));
            }
            *password = p.clone();
        }
        (
            Some(Authorization::OauthClientCredentials(n)),
            Some(Authorization::OauthClientCredentials(o)),
        ) if n.client_secret.expose().is_empty() => {
            if !same_url || n.token_url != o.token_url {
                return Err(resend(
                    "authorization.client_secret",
                    "url or authorization.token_url",
                ));
            }
            n.client_secret = o.client_secret.clone();
        }
        _ => {}
    }
    Ok(())
}

fn resend(field: &str, changed: &str) -> ServiceError {
    alm_core::FieldError::new(
        field,
        "required",
        format!("give it again when the {changed} changes: a stored secret is never sent to a destination it was not given for"),
    )
    .into()
}

fn seal(key: &MasterKey, id: &str, d: &WebhookDefinition) -> ServiceResult<String> {
    let text = definition_json(d)?;
    Ok(key.seal(&text, &definition_context(id)))
}

fn definition_json(d: &WebhookDefinition) -> ServiceResult<String> {
    serde_json::to_string(d).map_err(|e| alm_store::StoreError::Corrupt(e.to_string()).into())
}

/// What an audit record says about a webhook (no secrets, no body).
fn summary(d: &WebhookDefinition) -> serde_json::Value {
    json!({"event": d.event, "url": d.url, "enabled": d.enabled,
    "authorization": match &d.authorization {
        None => "none",
        Some(Authorization::Basic { .. }) => "basic",
        Some(Authorization::OauthClientCredentials(_)) => "oauth_client_credentials",
    }})
}

pub async fn create(
    db: &Db,
    clock: &dyn Clock,
    key: &MasterKey,
    can: &Can<perm::WebhookCreate>,
    actor: &Actor,
    d: WebhookDefinition,
) -> ServiceResult<WebhookInfo> {
    let _ = can;
    check(&d)?;
    let now = clock.now();
    let id = alm_core::ids::uuid_v7_at(now).to_string();
    let w = WebhookRecord {
        id: id.clone(),
        event: d.event.clone(),
        enabled: d.enabled,
        definition_sealed: seal(key, &id, &d)?,
        created_at: now,
        updated_at: now,
    };
    let mut tx = db.begin_write().await?;
    store::insert_webhook(&mut tx, &w).await?;
    record(
        &mut tx,
        clock,
        actor,
        "webhook.created",
        Subject::new("webhook", &id),
        summary(&d),
    )
    .await?;
    tx.commit().await?;
    Ok(info(&w, &d))
}

pub async fn list(
    db: &Db,
    key: &MasterKey,
    can: &Can<perm::WebhookRead>,
) -> ServiceResult<Vec<WebhookInfo>> {
    let _ = can;
    let mut conn = db.read().await?;
    let mut out = Vec::new();
    for w in store::list_webhooks(&mut conn).await? {
        out.push(info(&w, &open_definition(key, &w)?));
    }
    Ok(out)
}

async fn load(db: &Db, id: &str) -> ServiceResult<WebhookRecord> {
    let mut conn = db.read().await?;
    store::get_webhook(&mut conn, id)
        .await?
        .ok_or_else(not_found)
}

pub async fn get(
    db: &Db,
    key: &MasterKey,
    can: &Can<perm::WebhookRead>,
    id: &str,
) -> ServiceResult<WebhookInfo> {
    let _ = can;
    let w = load(db, id).await?;
    Ok(info(&w, &open_definition(key, &w)?))
}

pub async fn update(
    db: &Db,
    clock: &dyn Clock,
    key: &MasterKey,
    can: &Can<perm::WebhookUpdate>,
    actor: &Actor,
    id: &str,
    mut d: WebhookDefinition,
) -> ServiceResult<WebhookInfo> {
    let _ = can;
    let mut tx = db.begin_write().await?;
    let mut w = store::get_webhook(&mut tx, id)
        .await?
        .ok_or_else(not_found)?;
    keep_secrets(&mut d, &open_definition(key, &w)?)?;
    check(&d)?;
    w.event = d.event.clone();
    w.enabled = d.enabled;
    w.definition_sealed = seal(key, id, &d)?;
    w.updated_at = clock.now();
    store::update_webhook(&mut tx, &w).await?;
    record(
        &mut tx,
        clock,
        actor,
        "webhook.updated",
        Subject::new("webhook", id),
        summary(&d),
    )
    .await?;
    tx.commit().await?;
    Ok(info(&w, &d))
}

pub async fn delete(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::WebhookDelete>,
    actor: &Actor,
    id: &str,
) -> ServiceResult<()> {
    let _ = can;
    let mut tx = db.begin_write().await?;
    if !store::delete_webhook(&mut tx, id).await? {
        return Err(not_found());
    }
    record(
        &mut tx,
        clock,
        actor,
        "webhook.deleted",
        Subject::new("webhook", id),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Sends one test call now (sample values, `X-Alm-Test: true`), records it in the history,
/// and returns the outcome.
pub async fn test(
    db: &Db,
    clock: &dyn Clock,
    key: &MasterKey,
    sender: &WebhookSender,
    can: &Can<perm::WebhookUpdate>,
    actor: &Actor,
    id: &str,
) -> ServiceResult<DeliveryOutcome> {
    let _ = can;
    let w = load(db, id).await?;
    let d = open_definition(key, &w)?;
    let outcome = sender.send_test(&d, clock.now()).await;
    let mut tx = db.begin_write().await?;
    store::add_delivery(&mut tx, &history_row(id, &d.event, &outcome, true)).await?;
    record(
        &mut tx,
        clock,
        actor,
        "webhook.tested",
        Subject::new("webhook", id),
        json!({"status": outcome.status, "delivered": outcome.delivered()}),
    )
    .await?;
    tx.commit().await?;
    Ok(outcome)
}

/// One page of the history, newest first, and the total.
pub async fn deliveries(
    db: &Db,
    can: &Can<perm::WebhookRead>,
    id: &str,
    page: &alm_core::paging::PageRequest,
) -> ServiceResult<(Vec<WebhookDelivery>, u64)> {
    let _ = can;
    load(db, id).await?;
    let mut conn = db.read().await?;
    Ok(store::deliveries(&mut conn, id, page).await?)
}

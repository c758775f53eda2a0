//! SIEM integrations (SPEC §7.5): server, port, protocol (UDP, TCP, TLS), format (RFC 5424,
//! CEF, JSON lines), an optional CA certificate for TLS, on/off; and a test message. Nothing
//! here is secret (a CA certificate is public), so nothing is sealed.

use super::audit::{record, Subject};
use super::integration_outbox::siem_config;
use super::{ServiceError, ServiceResult};
use crate::services::Actor;
use alm_core::permissions::{perm, Can};
use alm_core::{Clock, FieldError, ValidationErrors};
use alm_store::integrations::{self as store, SiemRecord};
use alm_store::Db;
use serde_json::json;

/// What a client gives; `None` keeps the stored value on a change.
#[derive(Debug, Default)]
pub struct SiemInput {
    pub name: Option<String>,
    pub server: Option<String>,
    pub port: Option<i64>,
    pub protocol: Option<String>,
    pub format: Option<String>,
    /// `Some("")` removes the CA certificate (the system's trust store is used).
    pub ca_pem: Option<String>,
    pub enabled: Option<bool>,
}

/// The outcome of a test message.
pub struct SiemTestResult {
    pub delivered: bool,
    pub error: Option<String>,
    /// Whether sending again later may succeed without a change (unreachable, timeout).
    pub transient: bool,
}

fn not_found() -> ServiceError {
    ServiceError::NotFound {
        what: "SIEM integration",
    }
}

fn apply(r: &mut SiemRecord, i: SiemInput) {
    if let Some(v) = i.name {
        r.name = v.trim().to_owned();
    }
    if let Some(v) = i.server {
        r.server = v.trim().to_owned();
    }
    if let Some(v) = i.port {
        r.port = v;
    }
    if let Some(v) = i.protocol {
        r.protocol = v;
    }
    if let Some(v) = i.format {
        r.format = v;
    }
    if let Some(v) = i.ca_pem {
        r.ca_pem = (!v.trim().is_empty()).then_some(v);
    }
    if let Some(v) = i.enabled {
        r.enabled = v;
    }
}

fn check(r: &SiemRecord, hostname: &str) -> ServiceResult<()> {
    let mut errors = ValidationErrors::new();
    if r.name.is_empty() || r.name.chars().count() > 128 || r.name.chars().any(char::is_control) {
        errors.push(FieldError::new(
            "name",
            "format",
            "1 to 128 characters, no control characters",
        ));
    }
    if r.server.is_empty()
        || r.server.len() > 253
        || r.server
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '/')
    {
        errors.push(FieldError::new(
            "server",
            "format",
            "a host name or IP address such as siem.example.com",
        ));
    }
    if !(1..=65535).contains(&r.port) {
        errors.push(FieldError::new("port", "range", "between 1 and 65535"));
    }
    if !["udp", "tcp", "tls"].contains(&r.protocol.as_str()) {
        errors.push(FieldError::new("protocol", "one-of", "udp, tcp or tls"));
    }
    if !["rfc5424", "cef", "json-lines"].contains(&r.format.as_str()) {
        errors.push(FieldError::new(
            "format",
            "one-of",
            "rfc5424, cef or json-lines",
        ));
    }
    if let Some(pem) = &r.ca_pem {
        if alm_tls::client_config(Some(pem)).is_err() {
            errors.push(FieldError::new(
                "ca_pem",
                "format",
                "not a PEM CA certificate",
            ));
        }
    }
    errors.into_result()?;
    // The sender's own checks (e.g. a TLS server name a certificate can carry).
    if let Some(c) = siem_config(r, hostname) {
        if let Err(e) = alm_siem::Sender::new(c) {
            return Err(
                ValidationErrors::from(FieldError::new("server", "format", e.to_string())).into(),
            );
        }
    }
    Ok(())
}

async fn name_free(conn: &mut alm_store::Conn, r: &SiemRecord) -> ServiceResult<()> {
    match store::siem_by_name(conn, &r.name).await? {
        Some(other) if other.id != r.id => Err(ServiceError::Conflict(FieldError::new(
            "name",
            "unique",
            format!("a SIEM integration named {:?} exists", r.name),
        ))),
        _ => Ok(()),
    }
}

fn summary(r: &SiemRecord) -> serde_json::Value {
    json!({"name": r.name, "server": r.server, "port": r.port, "protocol": r.protocol,
           "format": r.format, "enabled": r.enabled})
}

pub async fn create(
    db: &Db,
    clock: &dyn Clock,
    hostname: &str,
    can: &Can<perm::SiemCreate>,
    actor: &Actor,
    input: SiemInput,
) -> ServiceResult<SiemRecord> {
    let _ = can;
    let now = clock.now();
    let mut errors = ValidationErrors::new();
    for (field, missing) in [
        ("name", input.name.is_none()),
        ("server", input.server.is_none()),
        ("port", input.port.is_none()),
        ("protocol", input.protocol.is_none()),
        ("format", input.format.is_none()),
    ] {
        if missing {
            errors.push(FieldError::new(
                field,
                "required",
                format!("{field} is required"),
            ));
        }
    }
    errors.into_result()?;
    let mut r = SiemRecord {
        id: alm_core::ids::uuid_v7_at(now).to_string(),
        name: String::new(),
        server: String::new(),
        port: 0,
        protocol: String::new(),
        format: String::new(),
        ca_pem: None,
        enabled: true,
        created_at: now,
        updated_at: now,
    };
    apply(&mut r, input);
    check(&r, hostname)?;
    let mut tx = db.begin_write().await?;
    name_free(&mut tx, &r).await?;
    store::insert_siem(&mut tx, &r).await?;
    record(
        &mut tx,
        clock,
        actor,
        "siem-integration.created",
        Subject::new("siem-integration", &r.id),
        summary(&r),
    )
    .await?;
    tx.commit().await?;
    Ok(r)
}

pub async fn list(db: &Db, can: &Can<perm::SiemRead>) -> ServiceResult<Vec<SiemRecord>> {
    let _ = can;
    let mut conn = db.read().await?;
    Ok(store::list_siem(&mut conn).await?)
}

/// What waits in the outbox for this integration: messages not delivered yet, and the error
/// of the latest failed attempt (the receiver down, a certificate problem, …).
pub async fn backlog(db: &Db, id: &str) -> ServiceResult<(i64, Option<String>)> {
    let mut conn = db.read().await?;
    Ok(store::backlog(&mut conn, id).await?)
}

pub async fn get(db: &Db, can: &Can<perm::SiemRead>, id: &str) -> ServiceResult<SiemRecord> {
    let _ = can;
    let mut conn = db.read().await?;
    store::get_siem(&mut conn, id).await?.ok_or_else(not_found)
}

pub async fn update(
    db: &Db,
    clock: &dyn Clock,
    hostname: &str,
    can: &Can<perm::SiemUpdate>,
    actor: &Actor,
    id: &str,
    input: SiemInput,
) -> ServiceResult<SiemRecord> {
    let _ = can;
    let mut tx = db.begin_write().await?;
    let mut r = store::get_siem(&mut tx, id).await?.ok_or_else(not_found)?;
    apply(&mut r, input);
    check(&r, hostname)?;
    name_free(&mut tx, &r).await?;
    r.updated_at = clock.now();
    store::update_siem(&mut tx, &r).await?;
    record(
        &mut tx,
        clock,
        actor,
        "siem-integration.updated",
        Subject::new("siem-integration", id),
        summary(&r),
    )
    .await?;
    tx.commit().await?;
    Ok(r)
}

pub async fn delete(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::SiemDelete>,
    actor: &Actor,
    id: &str,
) -> ServiceResult<()> {
    let _ = can;
    let mut tx = db.begin_write().await?;
    if !store::delete_siem(&mut tx, id).await? {
        return Err(not_found());
    }
    record(
        &mut tx,
        clock,
        actor,
        "siem-integration.deleted",
        Subject::new("siem-integration", id),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Sends the test message now on a connection of its own, and says how it went.
pub async fn test(
    db: &Db,
    clock: &dyn Clock,
    hostname: &str,
    can: &Can<perm::SiemUpdate>,
    actor: &Actor,
    id: &str,
) -> ServiceResult<SiemTestResult> {
    let _ = can;
    let r = {
        let mut conn = db.read().await?;
        store::get_siem(&mut conn, id)
            .await?
            .ok_or_else(not_found)?
    };
    let now = clock.now();
    let event = alm_siem::test_message(format!("test-{}", uuid::Uuid::new_v4()), now, &r.name);
    let result = match siem_config(&r, hostname).map(alm_siem::Sender::new) {
        Some(Ok(mut sender)) => {
            let sent = sender.send(&event).await;
            sender.close().await;
            sent
        }
        Some(Err(e)) => Err(e),
        None => {
            return Err(alm_store::StoreError::Corrupt(format!(
                "SIEM integration {id}: bad settings"
            ))
            .into())
        }
    };
    let out = SiemTestResult {
        delivered: result.is_ok(),
        transient: result.as_ref().err().is_some_and(|e| e.is_transient()),
        error: result.err().map(|e| e.to_string()),
    };
    let mut tx = db.begin_write().await?;
    record(
        &mut tx,
        clock,
        actor,
        "siem-integration.tested",
        Subject::new("siem-integration", id),
        json!({"delivered": out.delivered}),
    )
    .await?;
    tx.commit().await?;
    Ok(out)
}

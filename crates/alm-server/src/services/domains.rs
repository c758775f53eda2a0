//! Directory domains (SPEC §6.1): add, edit, remove, and test the connection.
//!
//! The bind password is sealed with the master key before it is stored, with the domain's id
//! as associated data; it is opened only to hand it to an engine of the domain's pool with a
//! leased job, and never returned, logged or audited. The server itself never binds: the
//! connection test is a calibration job for every active engine of the pool.

use super::audit::{record, Subject};
use super::{Actor, ServiceError, ServiceResult};
use crate::services::refusal::Refusal;
use alm_core::permissions::{perm, Can};
use alm_core::{Clock, DomainId, FieldError, ObjectName, Secret, ValidationErrors};
use alm_directory::{ActiveDirectory, DirectoryConfig};
use alm_engine::protocol::DomainConnection;
use alm_store::crypto::MasterKey;
use alm_store::domains::{self, DomainRecord};
use alm_store::Db;
use serde_json::json;
use std::time::Duration;

pub const KIND_ACTIVE_DIRECTORY: &str = "active-directory";
/// Domain controllers a domain may list besides its first.
pub const MAX_FAILOVER_URLS: usize = 8;

/// The generated-password rules of a domain, as stored and as the API shows them.
pub use alm_core::password_rules::PasswordRules;

/// A domain as callers see it: everything but the password.
#[derive(Debug, Clone)]
pub struct DomainInfo {
    pub record: DomainRecord,
    pub password_rules: PasswordRules,
}

pub struct DomainInput {
    pub name: Option<String>,
    pub url: Option<String>,
    /// Other domain controllers in the order they are tried; `None` on update keeps them.
    pub failover_urls: Option<Vec<String>>,
    /// Also find the domain's controllers in DNS; `None` on update keeps the setting.
    pub discover_dcs: Option<bool>,
    pub bind_identity: Option<String>,
    /// `None` on update keeps the stored password.
    pub bind_password: Option<Secret>,
    /// `Some(None)` removes a configured CA (then the system's store is trusted).
    pub ca_pem: Option<Option<String>>,
    pub base_dn: Option<String>,
    pub password_rules: Option<PasswordRules>,
    /// `Some(Some("HH:MM"))` sets the daily sync time (UTC), `Some(None)` turns it off.
    pub sync_time: Option<Option<String>>,
    /// The engine pool that serves the domain; `None`: the default pool (on create) or the
    /// current one (on update).
    pub pool_id: Option<alm_core::PoolId>,
}

pub use super::calibration::CheckOutcome;

/// Whether the stored bind password would go somewhere else than where it was given for: another
/// host, a server trusted through another CA, or another identity (issue: anyone allowed to edit
/// a domain could point it at a listener of theirs and capture the password at the next check).
fn sends_elsewhere(before: &DomainRecord, after: &DomainRecord) -> bool {
    before.url != after.url
        || after
            .failover_urls
            .iter()
            .any(|u| !before.failover_urls.contains(u) && *u != before.url)
        // DNS names controllers nobody listed: turning that on widens where the password goes.
        || (after.discover_dcs && !before.discover_dcs)
        || before.ca_pem != after.ca_pem
        || !before
            .bind_identity
            .eq_ignore_ascii_case(&after.bind_identity)
}

pub(crate) fn password_context(id: DomainId) -> String {
    format!("domain:{id}:bind_password")
}

fn text_field(
    errors: &mut ValidationErrors,
    field: &str,
    value: &str,
    max: usize,
) -> Option<String> {
    let v = value.trim();
    if v.is_empty() {
        errors.push(FieldError::new(field, "required", "must not be empty"));
        None
    } else if v.chars().count() > max {
        errors.push(FieldError::new(
            field,
            "max-length",
            format!("must have at most {max} characters"),
        ));
        None
    } else {
        Some(v.to_owned())
    }
}

/// How an engine reaches a stored domain (opens the password, for a leased job only).
/// The engine pool that serves a domain (jobs for it go there); refused when it has none.
pub(crate) async fn pool_of(
    conn: &mut alm_store::Conn,
    domain: alm_core::DomainId,
) -> ServiceResult<alm_core::PoolId> {
    alm_store::domains::get(conn, domain)
        .await?
        .ok_or(ServiceError::NotFound { what: "domain" })?
        .pool_id
        .ok_or_else(|| {
            ServiceError::Refused(Refusal::Unconfigured(
                "the domain has no engine pool".into(),
            ))
        })
}

pub(crate) fn connection(
    record: &DomainRecord,
    key: &MasterKey,
) -> ServiceResult<DomainConnection> {
    let password = key
        .open(&record.bind_password_sealed, &password_context(record.id))
        .map_err(|e| {
            ServiceError::Refused(Refusal::Unconfigured(format!(
                "the domain's stored password cannot be read: {e}"
            )))
        })?;
    Ok(DomainConnection {
        url: record.url.clone(),
        failover_urls: record.failover_urls.clone(),
        discover_dcs: record.discover_dcs,
        bind_identity: record.bind_identity.clone(),
        bind_password: Secret::new(password.as_str()),
        ca_pem: record.ca_pem.clone(),
        base_dn: record.base_dn.clone(),
    })
}

/// Validates the merged fields of a domain and builds the record to store.
fn build_record(
    id: DomainId,
    input: DomainInput,
    before: Option<&DomainRecord>,
    key: &MasterKey,
    now: time::OffsetDateTime,
) -> ServiceResult<DomainInfo> {
    let mut errors = ValidationErrors::new();
    let pick = |new: Option<String>, old: Option<&String>| new.or_else(|| old.cloned());
    let name = match pick(input.name, before.map(|b| &b.name)) {
        Some(n) => errors
            .check(ObjectName::parse("name", &n))
            .map(|n| n.as_str().to_owned()),
        None => {
            errors.push(FieldError::new("name", "required", "a name is required"));
            None
        }
    };
    let mut required =
        |field: &str, new: Option<String>, old: Option<&String>, max: usize| match pick(new, old) {
            Some(v) => text_field(&mut errors, field, &v, max),
            None => {
                errors.push(FieldError::new(
                    field,
                    "required",
                    format!("{field} is required"),
                ));
                None
            }
        };
    let url = required("url", input.url, before.map(|b| &b.url), 512);
    let bind_identity = required(
        "bind_identity",
        input.bind_identity,
        before.map(|b| &b.bind_identity),
        512,
    );
    let base_dn = required("base_dn", input.base_dn, before.map(|b| &b.base_dn), 1024);
    let failover_urls: Vec<String> = input
        .failover_urls
        .or_else(|| before.map(|b| b.failover_urls.clone()))
        .unwrap_or_default()
        .iter()
        .map(|u| u.trim().to_owned())
        .collect();
    if failover_urls.len() > MAX_FAILOVER_URLS {
        errors.push(FieldError::new(
            "failover_urls",
            "max-items",
            format!("at most {MAX_FAILOVER_URLS} other domain controllers"),
        ));
    }
    let discover_dcs = input
        .discover_dcs
        .or(before.map(|b| b.discover_dcs))
        .unwrap_or(false);
    if let Some(b) = &base_dn {
        if !b.contains('=') {
            errors.push(FieldError::new(
                "base_dn",
                "format",
                "expected a DN such as DC=corp,DC=example,DC=com",
            ));
        } else if discover_dcs {
            // The DNS name the controllers are looked up under comes from the naming context.
            if let Err(e) = alm_directory::dc_discovery::dns_name_of(b) {
                errors.push(FieldError::new("discover_dcs", "base-dn", e.to_string()));
            }
        }
    }
    let sealed = match (&input.bind_password, before) {
        (Some(p), _) if p.expose().is_empty() => {
            errors.push(FieldError::new(
                "bind_password",
                "required",
                "must not be empty",
            ));
            None
        }
        (Some(p), _) if p.expose().len() > 512 => {
            errors.push(FieldError::new(
                "bind_password",
                "max-length",
                "must have at most 512 bytes",
            ));
            None
        }
        (Some(p), _) => Some(key.seal(p.expose(), &password_context(id))),
        (None, Some(b)) => Some(b.bind_password_sealed.clone()),
        (None, None) => {
            errors.push(FieldError::new(
                "bind_password",
                "required",
                "the bind identity's password is required",
            ));
            None
        }
    };
    let ca_pem = match input.ca_pem {
        Some(ca) => ca.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()),
        None => before.and_then(|b| b.ca_pem.clone()),
    };
    // New rules, else the stored ones, else (a new domain) the defaults.
    let rules = match (input.password_rules, before) {
        (Some(rules), _) => rules,
        (None, Some(b)) => stored_rules(b)?,
        (None, None) => PasswordRules::default(),
    };
    errors.check(rules.validate("password_rules"));
    let before_schedule = before.map(|b| (b.sync_time.clone(), b.next_sync_at));
    let (sync_time, next_sync_at) = errors
        .check(alm_core::schedule::edit_daily(
            "sync_time",
            input.sync_time.as_ref().map(|t| t.as_deref()),
            before_schedule.as_ref(),
            now,
        ))
        .unwrap_or((None, None));
    // The URL and the CA certificate are checked by building the client, without connecting.
    if let (Some(url), Some(identity), Some(base)) = (&url, &bind_identity, &base_dn) {
        let probe = DirectoryConfig {
            url: url.clone(),
            failover_urls: failover_urls.clone(),
            discovery: None,
            bind_identity: identity.clone(),
            bind_password: Secret::new("-"),
            ca_pem: ca_pem.clone(),
            base_dn: base.clone(),
            timeout: Duration::from_secs(1),
        };
        // The URL is checked on its own; with a valid URL, what remains to fail is the CA.
        if let Err(e) = probe.validated_url() {
            errors.push(FieldError::new("url", "format", e.to_string()));
        } else if let Some((field, e)) = failover_error(&probe) {
            errors.push(FieldError::new(&field, "format", e));
        } else if let Err(e) = ActiveDirectory::new(probe) {
            errors.push(FieldError::new("ca_pem", "format", e.to_string()));
        }
    }
    errors.into_result()?;
    let created_at = before.map(|b| b.created_at).unwrap_or(now);
    Ok(DomainInfo {
        record: DomainRecord {
            id,
            name: name.expect("checked"),
            kind: KIND_ACTIVE_DIRECTORY.into(),
            url: url.expect("checked"),
            failover_urls,
            discover_dcs,
            bind_identity: bind_identity.expect("checked"),
            bind_password_sealed: sealed.expect("checked"),
            ca_pem,
            base_dn: base_dn.expect("checked"),
            password_policy: serde_json::to_string(&rules).expect("plain struct"),
            sync_time,
            next_sync_at,
            pool_id: before.and_then(|b| b.pool_id),
            created_at,
            updated_at: now,
        },
        password_rules: rules,
    })
}

/// The first failover URL that is not an LDAPS URL (or repeats one before it): its field,
/// `failover_urls[i]`, and the reason.
fn failover_error(probe: &DirectoryConfig) -> Option<(String, String)> {
    // The list grown one URL at a time: the first prefix refused ends at the culprit.
    (1..=probe.failover_urls.len()).find_map(|n| {
        let prefix = DirectoryConfig {
            failover_urls: probe.failover_urls[..n].to_vec(),
            ..probe.clone()
        };
        prefix
            .validated_urls()
            .err()
            .map(|e| (format!("failover_urls[{}]", n - 1), e.to_string()))
    })
}

/// A domain's stored password rules, read back strictly (JSON alm did not write is corruption).
fn stored_rules(record: &DomainRecord) -> ServiceResult<PasswordRules> {
    serde_json::from_str(&record.password_policy).map_err(|e| {
        ServiceError::Store(alm_store::StoreError::Corrupt(format!(
            "domains.password_policy of {}: {e}",
            record.id
        )))
    })
}

fn info(record: DomainRecord) -> ServiceResult<DomainInfo> {
    let password_rules = stored_rules(&record)?;
    Ok(DomainInfo {
        record,
        password_rules,
    })
}

fn name_taken() -> ServiceError {
    ServiceError::Conflict(FieldError::new(
        "name",
        "unique",
        "a domain with this name already exists",
    ))
}

fn summary(d: &DomainRecord) -> serde_json::Value {
    json!({"name": d.name, "url": d.url, "failover_urls": d.failover_urls, "bind_identity": d.bind_identity, "base_dn": d.base_dn, "has_ca": d.ca_pem.is_some(),
           "pool_id": d.pool_id.map(|p| p.to_string())})
}

pub async fn create(
    db: &Db,
    clock: &dyn Clock,
    key: &MasterKey,
    can: &Can<perm::DomainCreate>,
    actor: &Actor,
    input: DomainInput,
) -> ServiceResult<DomainInfo> {
    let _ = can;
    let now = clock.now();
    let requested_pool = input.pool_id;
    let mut built = build_record(DomainId::new_v7(now), input, None, key, now)?;
    let mut tx = db.begin_write().await?;
    built.record.pool_id = Some(super::engines::resolve_pool(&mut tx, requested_pool).await?);
    if domains::find_by_name(&mut tx, &built.record.name)
        .await?
        .is_some()
    {
        return Err(name_taken());
    }
    domains::insert(&mut tx, &built.record).await.map_err(|e| {
        if e.is_unique_violation() {
            name_taken()
        } else {
            e.into()
        }
    })?;
    record(
        &mut tx,
        clock,
        actor,
        "domain.created",
        Subject::new("domain", built.record.id),
        json!({"after": summary(&built.record)}),
    )
    .await?;
    tx.commit().await?;
    Ok(built)
}

pub async fn list(db: &Db, can: &Can<perm::DomainRead>) -> ServiceResult<Vec<DomainInfo>> {
    let _ = can;
    let mut conn = db.read().await?;
    domains::list(&mut conn)
        .await?
        .into_iter()
        .map(info)
        .collect()
}

pub async fn get(db: &Db, can: &Can<perm::DomainRead>, id: DomainId) -> ServiceResult<DomainInfo> {
    let _ = can;
    let mut conn = db.read().await?;
    domains::get(&mut conn, id)
        .await?
        .map(info)
        .ok_or(ServiceError::NotFound { what: "domain" })?
}

pub async fn update(
    db: &Db,
    clock: &dyn Clock,
    key: &MasterKey,
    can: &Can<perm::DomainUpdate>,
    actor: &Actor,
    id: DomainId,
    input: DomainInput,
) -> ServiceResult<DomainInfo> {
    let _ = can;
    let password_changed = input.bind_password.is_some();
    let mut tx = db.begin_write().await?;
    let before = domains::get(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound { what: "domain" })?;
    let requested_pool = input.pool_id;
    let mut built = build_record(id, input, Some(&before), key, clock.now())?;
    if !password_changed && sends_elsewhere(&before, &built.record) {
        return Err(alm_core::FieldError::new(
            "bind_password",
            "required",
            "give the bind password again when the url, ca_pem or bind_identity change, a domain controller is added or discover_dcs is turned on: a stored password is never sent to a destination it was not given for",
        )
        .into());
    }
    built.record.pool_id =
        Some(super::engines::resolve_pool(&mut tx, requested_pool.or(before.pool_id)).await?);
    if let Some(other) = domains::find_by_name(&mut tx, &built.record.name).await? {
        if other != id {
            return Err(name_taken());
        }
    }
    domains::update(&mut tx, &built.record).await?;
    record(
        &mut tx,
        clock,
        actor,
        "domain.updated",
        Subject::new("domain", id),
        json!({"before": summary(&before), "after": summary(&built.record), "bind_password_changed": password_changed}),
    )
    .await?;
    tx.commit().await?;
    Ok(built)
}

pub async fn delete(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::DomainDelete>,
    actor: &Actor,
    id: DomainId,
) -> ServiceResult<()> {
    let _ = can;
    let mut tx = db.begin_write().await?;
    let before = domains::get(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound { what: "domain" })?;
    // Nothing may be left pointing at a domain that is gone: its managed accounts would have
    // no directory to be reviewed, disabled or deleted in, its requests none to be made in.
    let accounts = alm_store::accounts::live_on_domain(&mut tx, id).await?;
    let requests = alm_store::requests::in_flight_on_domain(&mut tx, id).await?;
    if accounts > 0 || requests > 0 {
        return Err(ServiceError::Refused(Refusal::InUse(format!(
            "the domain still has {accounts} managed account(s) and {requests} request(s) in progress; \
             delete or migrate the accounts and finish or withdraw the requests first"
        ))));
    }
    domains::delete(&mut tx, id).await?;
    record(
        &mut tx,
        clock,
        actor,
        "domain.deleted",
        Subject::new("domain", id),
        json!({"before": summary(&before)}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Asks every active engine of the domain's pool to bind with the stored credentials, and
/// says what each found.
pub async fn check(
    queue: &super::jobs::Queue,
    can: &Can<perm::DomainRead>,
    actor: &Actor,
    id: DomainId,
) -> ServiceResult<CheckOutcome> {
    let domain = get(&queue.db, can, id).await?;
    let pool = domain.record.pool_id.ok_or_else(|| {
        ServiceError::Refused(Refusal::Unconfigured(
            "the domain has no engine pool".into(),
        ))
    })?;
    let outcome = super::calibration::calibrate(
        queue,
        actor,
        alm_core::job_kind::JobKind::DomainCheck,
        "domain",
        id.to_string(),
        pool,
        super::calibration::CHECK_WAIT,
    )
    .await?;
    let mut tx = queue.db.begin_write().await?;
    record(
        &mut tx,
        queue.clock.as_ref(),
        actor,
        "domain.checked",
        Subject::new("domain", id),
        json!({"ok": outcome.ok, "problem": outcome.problem}),
    )
    .await?;
    tx.commit().await?;
    Ok(outcome)
}

/// The latest calibration of each engine for the domain.
pub async fn calibrations(
    db: &Db,
    can: &Can<perm::DomainRead>,
    id: DomainId,
) -> ServiceResult<Vec<alm_store::engines::Calibration>> {
    get(db, can, id).await?;
    let mut conn = db.read().await?;
    Ok(alm_store::engines::calibrations(&mut conn, "domain", &id.to_string()).await?)
}

//! Engines and pools (SPEC §5): pools, activation tokens, registration, assignment and
//! activation, removal, the engines' abbreviated logs, and what `alm engine check` tests.
//!
//! An activation token is valid for 8 hours and registers one engine (a leaked token cannot
//! mint engines without end; every registered engine still waits, unassigned, for an
//! administrator). Registration returns the engine's own credential once; alm keeps its hash.
//! Removing an engine deletes that hash, so the credential stops working at once.

mod check_targets;
mod logs;
mod pools;

pub use check_targets::check_targets;
pub use logs::{append_logs, logs};
pub use pools::{
    create_pool, delete_pool, ensure_default_pool, pool, pools, resolve_pool, update_pool,
    PoolInput,
};

use super::audit::{record, Subject};
use super::{Actor, ServiceError, ServiceResult};
use crate::auth::secret_token;
use alm_core::permissions::{perm, Can};
use alm_core::{Clock, EngineId, FieldError, ObjectName, PoolId, ValidationErrors};
use alm_engine::protocol::{LogLine as WireLogLine, RegisterRequest, RegisterResponse, Secret};
use alm_store::engines::{self, EngineRecord, LogLine, PoolRecord};
use alm_store::{jobs, Db};
use serde_json::json;
use time::{Duration, OffsetDateTime};

/// How long an activation token can register an engine.
pub const ACTIVATION_TOKEN_HOURS: i64 = 8;
/// Activation tokens start with this.
pub const ACTIVATION_PREFIX: &str = "alma_";
/// Log lines kept per engine (older ones are dropped).
pub const LOG_LINES_KEPT: i64 = 1000;
/// Lines and characters accepted in one log batch.
const MAX_LINES_PER_BATCH: usize = 200;
const MAX_LOG_MESSAGE: usize = 1000;

pub const DEFAULT_POOL_NAME: &str = "Default";

// ---- pools ----

pub struct ActivationToken {
    pub token: String,
    pub expires_at: OffsetDateTime,
}

/// Makes an activation token; the secret is returned once and stored hashed.
pub async fn create_activation_token(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::EngineCreate>,
    actor: &Actor,
) -> ServiceResult<ActivationToken> {
    let _ = can;
    let now = clock.now();
    let token = format!("{ACTIVATION_PREFIX}{}", secret_token::random_secret());
    let expires_at = now + Duration::hours(ACTIVATION_TOKEN_HOURS);
    let id = alm_core::ids::uuid_v7_at(now).to_string();
    let mut tx = db.begin_write().await?;
    engines::insert_activation_token(
        &mut tx,
        &id,
        &secret_token::hash(&token),
        actor.user_id.map(|u| u.to_string()).as_deref(),
        now,
        expires_at,
    )
    .await?;
    record(
        &mut tx,
        clock,
        actor,
        "engine.activation-token-created",
        Subject::new("engine-activation-token", &id),
        json!({"expires_at": expires_at.unix_timestamp()}),
    )
    .await?;
    tx.commit().await?;
    Ok(ActivationToken { token, expires_at })
}

fn text(field: &str, value: &str, max: usize, errors: &mut ValidationErrors) -> String {
    let v = value.trim();
    if v.is_empty() || v.chars().any(char::is_control) || v.chars().count() > max {
        errors.push(FieldError::new(
            field,
            "format",
            format!("1 to {max} printable characters"),
        ));
    }
    v.to_owned()
}

/// Registers an engine with an activation token. Refused: unknown, used or expired tokens.
pub async fn register(
    db: &Db,
    clock: &dyn Clock,
    request: RegisterRequest,
    address: Option<String>,
) -> ServiceResult<RegisterResponse> {
    let mut errors = ValidationErrors::new();
    let name = text("name", &request.name, 128, &mut errors);
    let host = text("host", &request.host, 255, &mut errors);
    let version = text("version", &request.version, 64, &mut errors);
    errors.into_result()?;
    let now = clock.now();
    let refused = |why: &str| {
        ServiceError::Unauthenticated(format!(
            "the activation token {why}; create a new one (valid {ACTIVATION_TOKEN_HOURS} hours, one engine each)"
        ))
    };
    let mut tx = db.begin_write().await?;
    let token = engines::activation_token(
        &mut tx,
        &secret_token::hash(request.activation_token.expose()),
    )
    .await?
    .ok_or_else(|| refused("is unknown"))?;
    if token.used_at.is_some() {
        return Err(refused("was used already"));
    }
    if token.expires_at <= now {
        return Err(refused("has expired"));
    }
    let id = EngineId::new_v7(now);
    if !engines::use_activation_token(&mut tx, &token.id, id, now).await? {
        return Err(refused("was used already"));
    }
    let credential = format!(
        "{}{}",
        alm_engine::protocol::CREDENTIAL_PREFIX,
        secret_token::random_secret()
    );
    let engine = EngineRecord {
        id,
        name,
        host,
        version,
        pool_id: None,
        active: false,
        in_process: false,
        registered_at: now,
        last_seen_at: Some(now),
        last_address: address,
    };
    engines::insert_engine(&mut tx, &engine, &secret_token::hash(&credential)).await?;
    record(
        &mut tx,
        clock,
        &engine_actor(&engine),
        "engine.registered",
        Subject::new("engine", id),
        json!({"name": engine.name, "host": engine.host, "version": engine.version}),
    )
    .await?;
    tx.commit().await?;
    Ok(RegisterResponse {
        engine_id: id.to_string(),
        credential: Secret::new(credential),
    })
}

/// The actor of what an engine does, for audit records.
pub fn engine_actor(engine: &EngineRecord) -> Actor {
    Actor::of_engine(engine)
}

/// The engine a credential belongs to, seen now from `address`.
pub async fn authenticate(
    db: &Db,
    clock: &dyn Clock,
    credential: &str,
    address: Option<&str>,
) -> ServiceResult<EngineRecord> {
    let found = {
        let mut conn = db.read().await?;
        engines::engine_by_credential(&mut conn, &secret_token::hash(credential)).await?
    };
    let engine = found.ok_or_else(|| {
        ServiceError::Unauthenticated(
            "the engine credential is unknown (the engine was removed, or never registered)".into(),
        )
    })?;
    let mut tx = db.begin_write().await?;
    engines::touch(&mut tx, engine.id, clock.now(), address).await?;
    tx.commit().await?;
    Ok(engine)
}

/// The engine inside `alm serve` on this host: created (in the default pool, active) at the
/// first start, found again at later ones. Its credential is never used over HTTP.
pub async fn ensure_in_process_engine(
    db: &Db,
    clock: &dyn Clock,
    pool: PoolId,
) -> ServiceResult<EngineRecord> {
    let host = alm_engine::host_name();
    let mut tx = db.begin_write().await?;
    let existing = engines::engines(&mut tx, false, None)
        .await?
        .into_iter()
        .find(|e| e.in_process && e.host == host);
    let engine = match existing {
        Some(e) => e,
        None => {
            let now = clock.now();
            let engine = EngineRecord {
                id: EngineId::new_v7(now),
                name: format!("in-process ({host})"),
                host: host.clone(),
                version: env!("CARGO_PKG_VERSION").into(),
                pool_id: Some(pool),
                active: true,
                in_process: true,
                registered_at: now,
                last_seen_at: Some(now),
                last_address: None,
            };
            let unused = secret_token::hash(&secret_token::random_secret());
            engines::insert_engine(&mut tx, &engine, &unused).await?;
            record(
                &mut tx,
                clock,
                &Actor::system(),
                "engine.registered",
                Subject::new("engine", engine.id),
                json!({"name": engine.name, "in_process": true}),
            )
            .await?;
            engine
        }
    };
    tx.commit().await?;
    Ok(engine)
}

// ---- administration ----

pub async fn list(
    db: &Db,
    can: &Can<perm::EngineRead>,
    unassigned_only: bool,
    pool: Option<PoolId>,
) -> ServiceResult<Vec<EngineRecord>> {
    let _ = can;
    let mut conn = db.read().await?;
    Ok(engines::engines(&mut conn, unassigned_only, pool).await?)
}

pub async fn get(
    db: &Db,
    can: &Can<perm::EngineRead>,
    id: EngineId,
) -> ServiceResult<EngineRecord> {
    let _ = can;
    let mut conn = db.read().await?;
    engines::engine(&mut conn, id)
        .await?
        .ok_or(ServiceError::NotFound { what: "engine" })
}

pub struct EngineChange {
    /// `Some(None)` unassigns.
    pub pool_id: Option<Option<PoolId>>,
    pub active: Option<bool>,
}

/// Assigns an engine to a pool and activates or deactivates it. An unassigned engine cannot
/// be active. Jobs it holds go back to the queue when it leaves its pool or is deactivated.
pub async fn update(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::EngineUpdate>,
    actor: &Actor,
    id: EngineId,
    change: EngineChange,
) -> ServiceResult<EngineRecord> {
    let _ = can;
    let mut tx = db.begin_write().await?;
    let before = engines::engine(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound { what: "engine" })?;
    let pool_id = match change.pool_id {
        Some(Some(p)) => Some(resolve_pool(&mut tx, Some(p)).await?),
        Some(None) => None,
        None => before.pool_id,
    };
    let active = change.active.unwrap_or(before.active && pool_id.is_some());
    if active && pool_id.is_none() {
        return Err(FieldError::new(
            "active",
            "needs-pool",
            "assign the engine to a pool before activating it",
        )
        .into());
    }
    engines::set_assignment(&mut tx, id, pool_id, active).await?;
    if !active || pool_id != before.pool_id {
        jobs::release_engine(&mut tx, id, clock.now()).await?;
    }
    record(
        &mut tx,
        clock,
        actor,
        "engine.updated",
        Subject::new("engine", id),
        json!({"before": {"pool_id": before.pool_id.map(|p| p.to_string()), "active": before.active},
               "after": {"pool_id": pool_id.map(|p| p.to_string()), "active": active}}),
    )
    .await?;
    tx.commit().await?;
    Ok(EngineRecord {
        pool_id,
        active,
        ..before
    })
}

/// Removes an engine: its credential stops working at once and its jobs go back to the queue.
pub async fn delete(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::EngineDelete>,
    actor: &Actor,
    id: EngineId,
) -> ServiceResult<()> {
    let _ = can;
    let mut tx = db.begin_write().await?;
    let before = engines::engine(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound { what: "engine" })?;
    jobs::release_engine(&mut tx, id, clock.now()).await?;
    engines::delete_engine(&mut tx, id).await?;
    record(
        &mut tx,
        clock,
        actor,
        "engine.deleted",
        Subject::new("engine", id),
        json!({"name": before.name, "host": before.host}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

//! Engines and pools (SPEC §5): pools, activation tokens, registration, assignment and
//! activation, removal, and the engines' abbreviated logs.
//!
//! An activation token is valid for 8 hours and registers one engine (a leaked token cannot
//! mint engines without end; every registered engine still waits, unassigned, for an
//! administrator). Registration returns the engine's own credential once; alm keeps its hash.
//! Removing an engine deletes that hash, so the credential stops working at once.

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

/// Creates the default pool at first start and puts earlier domains and vaults in it.
pub async fn ensure_default_pool(db: &Db, clock: &dyn Clock) -> ServiceResult<PoolRecord> {
    let mut tx = db.begin_write().await?;
    let pool = match engines::default_pool(&mut tx).await? {
        Some(p) => p,
        None => {
            let now = clock.now();
            let pool = PoolRecord {
                id: PoolId::new_v7(now),
                name: DEFAULT_POOL_NAME.into(),
                description: "Created by alm. New domains and vaults join it; the engine inside alm serves it.".into(),
                is_default: true,
                created_at: now,
                updated_at: now,
            };
            engines::insert_pool(&mut tx, &pool).await?;
            record(
                &mut tx,
                clock,
                &Actor::system(),
                "engine-pool.created",
                Subject::new("engine-pool", pool.id),
                json!({"name": pool.name, "default": true}),
            )
            .await?;
            pool
        }
    };
    engines::adopt_unpooled(&mut tx, pool.id).await?;
    tx.commit().await?;
    Ok(pool)
}

/// The pool a new domain or vault joins when none is named, or the named one if it exists.
pub async fn resolve_pool(
    conn: &mut alm_store::Conn,
    requested: Option<PoolId>,
) -> ServiceResult<PoolId> {
    match requested {
        Some(id) => engines::pool(conn, id).await?.map(|p| p.id).ok_or_else(|| {
            FieldError::new("pool_id", "exists", "no engine pool has this id").into()
        }),
        None => engines::default_pool(conn)
            .await?
            .map(|p| p.id)
            .ok_or_else(|| ServiceError::NotAllowed("the default engine pool is missing".into())),
    }
}

pub struct PoolInput {
    pub name: Option<String>,
    pub description: Option<String>,
}

fn build_pool(
    id: PoolId,
    input: PoolInput,
    before: Option<&PoolRecord>,
    now: OffsetDateTime,
) -> ServiceResult<PoolRecord> {
    let mut errors = ValidationErrors::new();
    let name = match input.name.or_else(|| before.map(|b| b.name.clone())) {
        Some(n) => errors
            .check(ObjectName::parse("name", &n))
            .map(|n| n.as_str().to_owned()),
        None => {
            errors.push(FieldError::new("name", "required", "a name is required"));
            None
        }
    };
    let description = input
        .description
        .or_else(|| before.map(|b| b.description.clone()))
        .unwrap_or_default();
    if description.chars().count() > 1000 {
        errors.push(FieldError::new(
            "description",
            "max-length",
            "must have at most 1000 characters",
        ));
    }
    errors.into_result()?;
    Ok(PoolRecord {
        id,
        name: name.expect("checked"),
        description,
        is_default: before.is_some_and(|b| b.is_default),
        created_at: before.map(|b| b.created_at).unwrap_or(now),
        updated_at: now,
    })
}

fn pool_name_taken() -> ServiceError {
    ServiceError::Conflict(FieldError::new(
        "name",
        "unique",
        "a pool with this name already exists",
    ))
}

fn unique_or(e: alm_store::StoreError) -> ServiceError {
    if e.is_unique_violation() || matches!(e, alm_store::StoreError::Conflict { .. }) {
        pool_name_taken()
    } else {
        e.into()
    }
}

pub async fn create_pool(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::EngineCreate>,
    actor: &Actor,
    input: PoolInput,
) -> ServiceResult<PoolRecord> {
    let _ = can;
    let now = clock.now();
    let pool = build_pool(PoolId::new_v7(now), input, None, now)?;
    let mut tx = db.begin_write().await?;
    engines::insert_pool(&mut tx, &pool)
        .await
        .map_err(unique_or)?;
    record(
        &mut tx,
        clock,
        actor,
        "engine-pool.created",
        Subject::new("engine-pool", pool.id),
        json!({"name": pool.name}),
    )
    .await?;
    tx.commit().await?;
    Ok(pool)
}

pub async fn pools(db: &Db, can: &Can<perm::EngineRead>) -> ServiceResult<Vec<PoolRecord>> {
    let _ = can;
    let mut conn = db.read().await?;
    Ok(engines::pools(&mut conn).await?)
}

pub async fn pool(db: &Db, can: &Can<perm::EngineRead>, id: PoolId) -> ServiceResult<PoolRecord> {
    let _ = can;
    let mut conn = db.read().await?;
    engines::pool(&mut conn, id)
        .await?
        .ok_or(ServiceError::NotFound {
            what: "engine pool",
        })
}

pub async fn update_pool(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::EngineUpdate>,
    actor: &Actor,
    id: PoolId,
    input: PoolInput,
) -> ServiceResult<PoolRecord> {
    let _ = can;
    let mut tx = db.begin_write().await?;
    let before = engines::pool(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound {
            what: "engine pool",
        })?;
    let pool = build_pool(id, input, Some(&before), clock.now())?;
    engines::update_pool(&mut tx, &pool)
        .await
        .map_err(unique_or)?;
    record(
        &mut tx,
        clock,
        actor,
        "engine-pool.updated",
        Subject::new("engine-pool", id),
        json!({"before": {"name": before.name}, "after": {"name": pool.name}}),
    )
    .await?;
    tx.commit().await?;
    Ok(pool)
}

/// Removes a pool no domain, vault or engine uses; the default pool stays.
pub async fn delete_pool(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::EngineDelete>,
    actor: &Actor,
    id: PoolId,
) -> ServiceResult<()> {
    let _ = can;
    let mut tx = db.begin_write().await?;
    let pool = engines::pool(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound {
            what: "engine pool",
        })?;
    if pool.is_default {
        return Err(ServiceError::NotAllowed(
            "the default pool cannot be removed".into(),
        ));
    }
    let (domains, vaults, engines_in) = engines::pool_usage(&mut tx, id).await?;
    if domains + vaults + engines_in > 0 {
        return Err(ServiceError::NotAllowed(format!(
            "the pool is in use by {domains} domain(s), {vaults} vault(s) and {engines_in} engine(s); move them first"
        )));
    }
    engines::delete_pool(&mut tx, id).await?;
    record(
        &mut tx,
        clock,
        actor,
        "engine-pool.deleted",
        Subject::new("engine-pool", id),
        json!({"name": pool.name}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

// ---- activation and registration ----

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

/// Stores a batch of an engine's log lines, shortened to what a summary needs.
pub async fn append_logs(
    db: &Db,
    engine: &EngineRecord,
    lines: Vec<WireLogLine>,
) -> ServiceResult<()> {
    if lines.len() > MAX_LINES_PER_BATCH {
        return Err(FieldError::new(
            "lines",
            "max-items",
            format!("at most {MAX_LINES_PER_BATCH} lines per batch"),
        )
        .into());
    }
    let lines: Vec<LogLine> = lines
        .into_iter()
        .map(|l| LogLine {
            engine_id: engine.id,
            at: l.at,
            level: match l.level.as_str() {
                "error" | "warn" => l.level,
                _ => "info".into(),
            },
            message: l
                .message
                .chars()
                .filter(|c| !c.is_control())
                .take(MAX_LOG_MESSAGE)
                .collect(),
        })
        .collect();
    let mut tx = db.begin_write().await?;
    engines::append_logs(&mut tx, &lines, LOG_LINES_KEPT).await?;
    tx.commit().await?;
    Ok(())
}

/// One page of the engine's log lines (with `query` in the message), and how many match.
pub async fn logs(
    db: &Db,
    can: &Can<perm::EngineRead>,
    id: EngineId,
    query: Option<&str>,
    page: &alm_core::paging::PageRequest,
) -> ServiceResult<(Vec<LogLine>, u64)> {
    let _ = can;
    // A removed engine's lines stay readable (the audit trail of what it did).
    let mut conn = db.read().await?;
    Ok(engines::logs(&mut conn, id, query, page).await?)
}

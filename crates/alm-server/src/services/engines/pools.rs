//! Engine pools (SPEC §5): the default pool made at first start, named pools created, renamed
//! and removed (never the default, never one in use).

use super::*;
use crate::services::refusal::Refusal;

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
            .ok_or_else(|| {
                ServiceError::Refused(Refusal::Unconfigured(
                    "the default engine pool is missing".into(),
                ))
            }),
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

pub(crate) fn unique_or(e: alm_store::StoreError) -> ServiceError {
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
        return Err(ServiceError::Refused(Refusal::Protected(
            "the default pool cannot be removed".into(),
        )));
    }
    let (domains, vaults, engines_in) = engines::pool_usage(&mut tx, id).await?;
    if domains + vaults + engines_in > 0 {
        return Err(ServiceError::Refused(Refusal::InUse(format!(
            "the pool is in use by {domains} domain(s), {vaults} vault(s) and {engines_in} engine(s); move them first"
        ))));
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

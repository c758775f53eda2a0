//! What `alm engine check` tests from an engine's host (SPEC §5): the domains and external
//! vaults of the engine's pool, their stored secrets opened for this engine as a leased job
//! would carry them. Only an active engine assigned to a pool gets them; each hand-out is
//! audited (which domains and vaults, never a secret). Calibration records are not touched:
//! the check's results stay on the engine's host.

use super::*;
use crate::services::refusal::Refusal;
use alm_engine::protocol::{CheckTargets, DomainTarget, VaultTarget};
use alm_store::crypto::MasterKey;
use alm_store::{domains, vaults};

/// The check targets of `engine`'s pool; refused (409) to an engine that is unassigned or not
/// active, saying what the administrator does about it.
pub async fn check_targets(
    db: &Db,
    clock: &dyn Clock,
    key: &MasterKey,
    engine: &EngineRecord,
) -> ServiceResult<CheckTargets> {
    let refused = |why: String| ServiceError::Refused(Refusal::InState(why));
    let pool_id = engine.pool_id.ok_or_else(|| {
        refused(format!(
            "engine {} is not assigned to a pool yet: an administrator assigns it to a pool and activates it under Engines in alm",
            engine.name
        ))
    })?;
    let (pool, domain_records, vault_records) = {
        let mut conn = db.read().await?;
        let pool = engines::pool(&mut conn, pool_id).await?.ok_or_else(|| {
            refused(format!(
                "engine {}'s pool no longer exists: an administrator assigns it to a pool and activates it under Engines in alm",
                engine.name
            ))
        })?;
        (
            pool,
            domains::list(&mut conn).await?,
            vaults::list(&mut conn).await?,
        )
    };
    if !engine.active {
        return Err(refused(format!(
            "engine {} is in pool {} but not active: an administrator activates it under Engines in alm",
            engine.name, pool.name
        )));
    }
    let domains: Vec<DomainTarget> = domain_records
        .iter()
        .filter(|d| d.pool_id == Some(pool_id))
        .map(|d| {
            let opened = crate::services::domains::connection(d, key);
            DomainTarget {
                id: d.id.to_string(),
                name: d.name.clone(),
                problem: opened.as_ref().err().map(ToString::to_string),
                connection: opened.ok(),
            }
        })
        .collect();
    let vaults: Vec<VaultTarget> = vault_records
        .iter()
        .filter(|v| v.pool_id == Some(pool_id) && v.kind != crate::services::vaults::KIND_BUILTIN)
        .map(|v| {
            let opened = crate::services::vaults::connection(v, key);
            VaultTarget {
                id: v.id.to_string(),
                name: v.name.clone(),
                problem: opened.as_ref().err().map(ToString::to_string),
                connection: opened.ok(),
            }
        })
        .collect();
    let mut tx = db.begin_write().await?;
    record(
        &mut tx,
        clock,
        &engine_actor(engine),
        "engine.check-targets-given",
        Subject::new("engine", engine.id),
        json!({
            "pool_id": pool_id.to_string(),
            "domains": domains.iter().filter(|d| d.connection.is_some()).map(|d| &d.id).collect::<Vec<_>>(),
            "vaults": vaults.iter().filter(|v| v.connection.is_some()).map(|v| &v.id).collect::<Vec<_>>(),
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(CheckTargets {
        engine_name: engine.name.clone(),
        pool_name: pool.name,
        domains,
        vaults,
    })
}

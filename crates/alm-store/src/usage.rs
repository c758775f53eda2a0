//! Counts for the usage page (SPEC §6.3): how many users and engines are in use.

use crate::error::StoreResult;
use sqlx::{AnyConnection, Row};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub users: i64,
    pub users_enabled: i64,
    pub users_synced: i64,
    pub engines: i64,
    pub engines_active: i64,
    pub engines_unassigned: i64,
    pub domains: i64,
    pub vaults: i64,
}

/// People only: the user rows API clients act as are not users of the installation.
pub async fn usage(conn: &mut AnyConnection) -> StoreResult<Usage> {
    let row = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM users WHERE source <> 'api-client') AS users, \
                (SELECT COUNT(*) FROM users WHERE enabled = 1 AND source <> 'api-client') AS users_enabled, \
                (SELECT COUNT(*) FROM users WHERE source = 'synced') AS users_synced, \
                (SELECT COUNT(*) FROM engines) AS engines, \
                (SELECT COUNT(*) FROM engines WHERE active = 1 AND pool_id IS NOT NULL) AS engines_active, \
                (SELECT COUNT(*) FROM engines WHERE pool_id IS NULL) AS engines_unassigned, \
                (SELECT COUNT(*) FROM domains) AS domains, \
                (SELECT COUNT(*) FROM vaults) AS vaults",
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(Usage {
        users: row.try_get("users")?,
        users_enabled: row.try_get("users_enabled")?,
        users_synced: row.try_get("users_synced")?,
        engines: row.try_get("engines")?,
        engines_active: row.try_get("engines_active")?,
        engines_unassigned: row.try_get("engines_unassigned")?,
        domains: row.try_get("domains")?,
        vaults: row.try_get("vaults")?,
    })
}

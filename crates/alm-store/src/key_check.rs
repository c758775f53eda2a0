//! The master key's check value (one row), and samples of what the key sealed before the
//! check value existed: the store only reads and writes them; the server decides.

use crate::error::StoreResult;
use sqlx::AnyConnection;

/// The sealed check value, if one was written.
pub async fn get(conn: &mut AnyConnection) -> StoreResult<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT sealed FROM key_check WHERE id = 1")
            .fetch_optional(&mut *conn)
            .await?,
    )
}

/// Writes the check value (once: a second start finds it).
pub async fn put(conn: &mut AnyConnection, sealed: &str) -> StoreResult<()> {
    sqlx::query("INSERT INTO key_check (id, sealed) VALUES (1, $1) ON CONFLICT (id) DO NOTHING")
        .bind(sealed)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// One domain's sealed bind password, as (domain id, sealed), if there is a domain.
pub async fn a_domain_password(conn: &mut AnyConnection) -> StoreResult<Option<(String, String)>> {
    Ok(
        sqlx::query_as("SELECT id, bind_password_sealed FROM domains ORDER BY id LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?,
    )
}

/// One vault's sealed credential, as (vault id, sealed), if a vault has one.
pub async fn a_vault_credential(conn: &mut AnyConnection) -> StoreResult<Option<(String, String)>> {
    Ok(sqlx::query_as(
        "SELECT id, credential_sealed FROM vaults WHERE credential_sealed IS NOT NULL ORDER BY id LIMIT 1",
    )
    .fetch_optional(&mut *conn)
    .await?)
}

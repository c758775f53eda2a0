//! The dependency records a vault sync reads (SPEC §7.6: "vault sync refreshes dependencies"):
//! for each secret the vault still has, the services it records as using it — from a kind of
//! vault that keeps such records (Secret Server); the others answer `None` at the first secret
//! and none is asked again.

use crate::protocol::{SecretDependencies, VaultService};
use alm_vault::{SecretRef, Vault, VaultError};

/// The records of `present` (secret ids the vault has), or `None` for a kind that keeps none.
pub async fn read(
    vault: &dyn Vault,
    present: Vec<String>,
) -> Result<Option<Vec<SecretDependencies>>, VaultError> {
    let mut out = Vec::with_capacity(present.len());
    for secret_id in present {
        let Some(found) = vault.dependencies(&SecretRef(secret_id.clone())).await? else {
            return Ok(None);
        };
        out.push(SecretDependencies {
            secret_id,
            services: found
                .into_iter()
                .map(|d| VaultService {
                    host: d.host,
                    service_name: d.service_name,
                    kind: d.kind,
                })
                .collect(),
        });
    }
    Ok(Some(out))
}

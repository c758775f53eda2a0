//! alm-vault: where the credentials alm creates are kept.
//!
//! The `Vault` trait stores a secret {domain, username, password, notes} under a folder and a
//! name, and finds it again by the id the vault gave it. Implementations: OpenBao / HashiCorp
//! Vault (KV v2, token), AWS Secrets Manager (SigV4), Azure Key Vault (Entra ID client
//! credentials), Delinea Secret Server (password grant or token) and Delinea DevOps Secrets
//! Vault (client credentials). The built-in vault (encrypted in alm's own database) lives with
//! the server, which owns that database. The trait has no type of any one product in it.

pub mod aws;
pub mod azure;
mod bearer_token;
#[cfg(test)]
mod delinea_flow_tests;
pub mod devops_secrets_vault;
pub mod error;
pub mod http_client;
pub mod openbao;
pub mod secret_server;
#[cfg(test)]
mod test_http;

pub use error::{VaultError, VaultResult};

use alm_core::Secret;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// What alm keeps about a credential.
#[derive(Debug, Clone)]
pub struct VaultSecret {
    pub domain: String,
    pub username: String,
    pub password: Secret,
    pub notes: String,
}

/// A service the vault records as using a secret (Secret Server's "secret dependencies"): where
/// the account behind the secret runs. No password or command line: a machine and a name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultDependency {
    /// The machine the service runs on.
    pub host: String,
    /// The service (or application pool, or task) name.
    pub service_name: String,
    /// What kind of dependency the vault says it is ("Windows Service"); may be empty.
    pub kind: String,
}

/// The stored form (the password exposed only inside the request to the vault).
#[derive(Serialize, Deserialize)]
pub(crate) struct Payload {
    pub domain: String,
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub notes: String,
}

impl From<&VaultSecret> for Payload {
    fn from(s: &VaultSecret) -> Self {
        Self {
            domain: s.domain.clone(),
            username: s.username.clone(),
            password: s.password.expose().to_owned(),
            notes: s.notes.clone(),
        }
    }
}

impl From<Payload> for VaultSecret {
    fn from(p: Payload) -> Self {
        Self {
            domain: p.domain,
            username: p.username,
            password: Secret::new(p.password),
            notes: p.notes,
        }
    }
}

/// Where a secret is: the vault's own id for it (a KV path, an ARN).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SecretRef(pub String);

/// Checks a folder or name given by people: non-empty segments of letters, digits and
/// `-_.@`, separated by `/`; no `..`, no leading or trailing slash.
pub fn check_path(field: &str, path: &str) -> Result<(), alm_core::FieldError> {
    let ok = !path.is_empty()
        && path.len() <= 256
        && path.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
        });
    if ok {
        Ok(())
    } else {
        Err(alm_core::FieldError::new(
            field,
            "format",
            "segments of letters, digits and -_.@ separated by /, at most 256 characters",
        ))
    }
}

#[async_trait]
pub trait Vault: Send + Sync {
    /// Proves the way to the vault and the credentials (calibration).
    async fn check(&self) -> VaultResult<()>;
    /// Stores a new secret, or replaces the one already at (folder, name); returns its id.
    async fn put(&self, folder: &str, name: &str, secret: &VaultSecret) -> VaultResult<SecretRef>;
    /// The id of the secret at (folder, name), if there is one (look before you create).
    async fn find(&self, folder: &str, name: &str) -> VaultResult<Option<SecretRef>>;
    async fn get(&self, id: &SecretRef) -> VaultResult<Option<VaultSecret>>;
    /// Deletes the secret; deleting one that is gone is not an error.
    async fn delete(&self, id: &SecretRef) -> VaultResult<()>;
    /// The names of the secrets in a folder (for vault sync).
    async fn list(&self, folder: &str) -> VaultResult<Vec<String>>;
    /// Where the vault records the secret as used (for vault sync, SPEC §7.6); `None` when
    /// this kind of vault keeps no such records. Required, not defaulted: each kind says which.
    async fn dependencies(&self, id: &SecretRef) -> VaultResult<Option<Vec<VaultDependency>>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_plain_segments() {
        for ok in ["alm", "alm/prod", "team-a/svc_db.01@corp"] {
            assert!(check_path("folder", ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "/alm", "alm/", "alm//x", "../etc", "alm/../x", "a b", "a?b", "x\u{0}",
        ] {
            assert_eq!(
                check_path("folder", bad).unwrap_err().field,
                "folder",
                "{bad:?}"
            );
        }
    }
}

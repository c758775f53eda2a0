//! Vault errors as kinds, each saying what to do; never a secret in a message.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum VaultError {
    #[error("{url}: unreachable ({detail}); check the address and the network")]
    Unreachable { url: String, detail: String },
    #[error("{url}: TLS problem ({detail}); check the CA certificate configured for this vault")]
    Tls { url: String, detail: String },
    #[error("the vault refused the credentials ({detail})")]
    Unauthorized { detail: String },
    #[error("the vault's policy does not allow this ({detail})")]
    Forbidden { detail: String },
    #[error("the secret was changed by someone else meanwhile ({detail}); retry")]
    Conflict { detail: String },
    #[error("invalid vault configuration: {0}")]
    Config(String),
    #[error("the vault answered unexpectedly: {0}")]
    Other(String),
}

pub type VaultResult<T> = Result<T, VaultError>;

/// Classifies a transport error from reqwest.
pub(crate) fn from_transport(url: &str, e: reqwest::Error) -> VaultError {
    use std::error::Error as _;
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(tls) = s.downcast_ref::<rustls::Error>() {
            return VaultError::Tls {
                url: url.to_owned(),
                detail: tls.to_string(),
            };
        }
        source = s.source();
    }
    VaultError::Unreachable {
        url: url.to_owned(),
        detail: e.without_url().to_string(),
    }
}

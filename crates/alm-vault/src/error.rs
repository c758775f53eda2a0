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
    if let Some(tls) = alm_tls::tls_error_in(&e) {
        return VaultError::Tls {
            url: url.to_owned(),
            detail: tls.to_string(),
        };
    }
    VaultError::Unreachable {
        url: url.to_owned(),
        // With its causes: reqwest's own text ("error sending request") hides the reason.
        detail: alm_core::error_chain::error_chain(&e.without_url()),
    }
}

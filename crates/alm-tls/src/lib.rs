//! alm-tls: the TLS client configuration every outbound connection of alm uses (directories,
//! vaults): rustls with the ring provider, TLS 1.2 or newer, server certificates always
//! verified against the configured CA certificate(s) or, without one, the system's store.
//! One place, so no connection can quietly differ (TESTING.md: one TLS stack).

use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsConfigError {
    #[error("ca certificate: not PEM ({0})")]
    NotPem(String),
    #[error("ca certificate: no certificate in the PEM text")]
    Empty,
    #[error("ca certificate: {0}")]
    Invalid(String),
    #[error("no CA certificate configured and the system trust store is empty")]
    NoSystemRoots,
}

/// The trust anchors: the PEM certificates given, or the system's store.
pub fn roots(ca_pem: Option<&str>) -> Result<RootCertStore, TlsConfigError> {
    let mut roots = RootCertStore::empty();
    match ca_pem {
        Some(pem) => {
            let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| TlsConfigError::NotPem(e.to_string()))?;
            if certs.is_empty() {
                return Err(TlsConfigError::Empty);
            }
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| TlsConfigError::Invalid(e.to_string()))?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err(TlsConfigError::NoSystemRoots);
            }
        }
    }
    Ok(roots)
}

/// A client configuration trusting `ca_pem` (or the system's store).
pub fn client_config(ca_pem: Option<&str>) -> Result<ClientConfig, TlsConfigError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsConfigError::Invalid(e.to_string()))?
        .with_root_certificates(roots(ca_pem)?)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_pem_is_refused_and_no_pem_means_the_system_store() {
        assert_eq!(
            client_config(Some("hello")).unwrap_err(),
            TlsConfigError::Empty
        );
        assert!(matches!(
            client_config(Some(
                "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n"
            ))
            .unwrap_err(),
            TlsConfigError::NotPem(_) | TlsConfigError::Invalid(_)
        ));
        // This machine has a system store (ca-certificates); a fresh container might not.
        match client_config(None) {
            Ok(_) | Err(TlsConfigError::NoSystemRoots) => {}
            Err(e) => panic!("unexpected: {e}"),
        }
    }
}

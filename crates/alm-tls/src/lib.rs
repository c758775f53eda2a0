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

/// The TLS error somewhere in `e`'s causes, if a handshake failed (an untrusted certificate,
/// a wrong name), to tell it from a closed port. rustls's error often travels inside an
/// `io::Error` (at times one inside another), whose `source()` skips the error it wraps: the
/// walk goes into the wrapped error instead.
pub fn tls_error_in<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(cause) = next {
        if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        next = match cause
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(wrapped) => Some(wrapped as &(dyn std::error::Error + 'static)),
            None => cause.source(),
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("error sending request")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn a_tls_error_is_found_inside_io_errors_and_a_refused_connection_is_not_one() {
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let inner = std::io::Error::new(std::io::ErrorKind::InvalidData, tls);
        let wrapped = Outer(std::io::Error::other(inner));
        assert_eq!(
            tls_error_in(&wrapped).map(ToString::to_string).as_deref(),
            Some("invalid peer certificate: UnknownIssuer")
        );
        let refused = Outer(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(tls_error_in(&refused).is_none());
    }

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

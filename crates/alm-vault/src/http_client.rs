//! The HTTPS client vaults use: rustls with ring, TLS 1.2+, the configured CA or the system's
//! store, no redirects (a vault answer that redirects elsewhere is refused, not followed).

use crate::error::VaultError;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};
use std::sync::Arc;
use std::time::Duration;

pub fn build(ca_pem: Option<&str>, timeout: Duration) -> Result<reqwest::Client, VaultError> {
    let mut roots = RootCertStore::empty();
    match ca_pem {
        Some(pem) => {
            let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| VaultError::Config(format!("ca certificate: not PEM ({e})")))?;
            if certs.is_empty() {
                return Err(VaultError::Config(
                    "ca certificate: no certificate in the PEM text".into(),
                ));
            }
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| VaultError::Config(format!("ca certificate: {e}")))?;
            }
        }
        None => {
            for c in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(c);
            }
        }
    }
    let tls =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| VaultError::Config(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .build()
        .map_err(|e| VaultError::Config(e.to_string()))
}

//! HTTPS served by alm itself: the rustls server configuration (TLS 1.2 and 1.3 only, rustls's
//! modern cipher suites, HTTP/1.1 by ALPN), the certificate it serves — from files it reloads
//! (`cert_files.rs`) or from an ACME CA (`acme.rs`) —, the `Strict-Transport-Security` header,
//! and the plain-HTTP listener that only redirects and answers ACME's HTTP-01 (`redirect.rs`).

pub mod acme;
pub mod cert_files;
pub mod redirect;

use crate::config::Config;
use alm_core::Clock;
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

/// What the TCP listener needs to speak TLS: the acceptor and the task that keeps its
/// certificate current (file watcher or ACME renewal).
pub struct ServerTls {
    pub acceptor: TlsAcceptor,
    keeper: tokio::task::JoinHandle<()>,
}

impl ServerTls {
    /// The certificate from `tls.cert_file`/`key_file` (errors name the key and the file), or
    /// from ACME (obtained now when none is stored or it is due; `challenges` must already be
    /// answered on the redirect listener). None when alm serves plain HTTP.
    pub async fn start(
        config: &Config,
        challenges: acme::Challenges,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Option<Self>> {
        let tls = &config.tls;
        let (resolver, keeper) = if let (Some(cert), Some(key)) = (&tls.cert_file, &tls.key_file) {
            let files = cert_files::CertFiles::new(cert.clone(), key.clone());
            let resolver = Arc::new(cert_files::ReloadingResolver::load(files.clone())?);
            let keeper = cert_files::watch(resolver.clone(), files);
            (resolver, keeper)
        } else if let Some(settings) = &tls.acme {
            let acme = Arc::new(acme::Acme::new(
                settings,
                &config.data_dir,
                challenges,
                clock,
            )?);
            let key = acme
                .current()
                .await
                .map_err(|e| anyhow::anyhow!("tls.acme: {e:#}"))?;
            let resolver = Arc::new(cert_files::ReloadingResolver::serving(key));
            let keeper = acme::spawn_renewal(acme, resolver.clone());
            (resolver, keeper)
        } else {
            return Ok(None);
        };
        Ok(Some(Self {
            acceptor: TlsAcceptor::from(Arc::new(server_config(resolver))),
            keeper,
        }))
    }
}

impl Drop for ServerTls {
    fn drop(&mut self) {
        self.keeper.abort();
    }
}

/// rustls's safe defaults are TLS 1.2 and 1.3 with AEAD suites and forward secrecy only; no
/// older protocol or suite can be turned on, so a client offering TLS 1.0/1.1 is refused.
pub fn server_config(
    resolver: Arc<dyn rustls::server::ResolvesServerCert>,
) -> rustls::ServerConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default protocol versions")
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    // The server speaks HTTP/1.1 only (see serve.rs).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

/// The `Strict-Transport-Security` value for `max_age` seconds (None when 0).
pub fn hsts_value(max_age: u32) -> Option<HeaderValue> {
    (max_age > 0).then(|| {
        HeaderValue::from_str(&format!("max-age={max_age}"))
            .expect("a number is a valid header value")
    })
}

/// Adds `Strict-Transport-Security` to every response (only mounted when alm serves HTTPS:
/// browsers ignore it over plain HTTP anyway, and a proxy in front sets its own).
pub async fn add_hsts(value: HeaderValue, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    response
        .headers_mut()
        .entry(header::STRICT_TRANSPORT_SECURITY)
        .or_insert(value);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsts_is_left_out_at_zero() {
        assert!(hsts_value(0).is_none());
        assert_eq!(hsts_value(31_536_000).unwrap(), "max-age=31536000");
    }
}

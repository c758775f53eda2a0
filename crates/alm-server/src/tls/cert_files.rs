//! The certificate and key alm serves, read from PEM files and read again when they change:
//! polled every two seconds (a renewal tool such as certbot replaces them in place) and at
//! once on SIGHUP. Connections being served keep the certificate they started with; only new
//! handshakes see the new one, so nothing is dropped.
//!
//! A renewal writes two files one after the other: a pair that does not load, or whose key does
//! not match the certificate, is not served; the old pair stays until the next change makes a
//! good one, and the log says why.

use anyhow::Context;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

/// How often the files are looked at for a change.
const POLL: Duration = Duration::from_secs(2);

/// The two files of the pair.
#[derive(Debug, Clone)]
pub struct CertFiles {
    cert: PathBuf,
    key: PathBuf,
}

/// What tells that a file changed: its modification time, size and inode.
type Stamp = Vec<Option<(SystemTime, u64, u64)>>;

impl CertFiles {
    pub fn new(cert: PathBuf, key: PathBuf) -> Self {
        Self { cert, key }
    }

    fn stamp(&self) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        [&self.cert, &self.key]
            .iter()
            .map(|p| {
                let m = std::fs::metadata(p).ok()?;
                Some((m.modified().ok()?, m.len(), m.ino()))
            })
            .collect()
    }

    /// Reads and checks the pair; errors name the configuration key and the file.
    pub fn load(&self) -> anyhow::Result<CertifiedKey> {
        let cert_pem = std::fs::read(&self.cert)
            .with_context(|| format!("tls.cert_file: cannot read {}", self.cert.display()))?;
        let key_pem = std::fs::read(&self.key)
            .with_context(|| format!("tls.key_file: cannot read {}", self.key.display()))?;
        certified_key(
            &cert_pem,
            &key_pem,
            &format!("tls.cert_file: {}", self.cert.display()),
            &format!("tls.key_file: {}", self.key.display()),
        )
    }
}

/// A certificate chain and its key from PEM, checked to go together; errors start with the
/// labels given (which name where the PEM came from).
pub fn certified_key(
    cert_pem: &[u8],
    key_pem: &[u8],
    cert_label: &str,
    key_label: &str,
) -> anyhow::Result<CertifiedKey> {
    let chain: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut &cert_pem[..])
        .collect::<Result<_, _>>()
        .with_context(|| format!("{cert_label} is not PEM"))?;
    if chain.is_empty() {
        anyhow::bail!("{cert_label} holds no certificate (expected PEM \"BEGIN CERTIFICATE\")");
    }
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut &key_pem[..])
        .with_context(|| format!("{key_label} is not PEM"))?
        .with_context(|| {
            format!("{key_label} holds no private key (expected PEM \"BEGIN PRIVATE KEY\")")
        })?;
    let provider = rustls::crypto::ring::default_provider();
    CertifiedKey::from_der(chain, key, &provider).map_err(|e| {
        anyhow::anyhow!("{key_label} does not go with the certificate in {cert_label}: {e}")
    })
}

/// Serves the certificate last put in: loaded from files, or obtained by ACME.
#[derive(Debug)]
pub struct ReloadingResolver {
    files: Option<CertFiles>,
    current: RwLock<Arc<CertifiedKey>>,
}

impl ReloadingResolver {
    /// Loads the pair once; alm does not start without a good one.
    pub fn load(files: CertFiles) -> anyhow::Result<Self> {
        let key = files.load()?;
        Ok(Self {
            files: Some(files),
            current: RwLock::new(Arc::new(key)),
        })
    }

    /// Serves `key` (a certificate that comes from elsewhere than files).
    pub fn serving(key: CertifiedKey) -> Self {
        Self {
            files: None,
            current: RwLock::new(Arc::new(key)),
        }
    }

    /// Serves `key` from the next handshake on.
    pub fn set(&self, key: CertifiedKey) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(key);
    }

    /// Loads the pair again; on failure the one being served stays.
    pub fn reload(&self) -> anyhow::Result<()> {
        let files = self
            .files
            .as_ref()
            .context("this certificate does not come from files")?;
        self.set(files.load()?);
        Ok(())
    }
}

impl ResolvesServerCert for ReloadingResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

/// Reloads the pair when the files change or on SIGHUP, until aborted.
pub fn watch(resolver: Arc<ReloadingResolver>, files: CertFiles) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut hangup =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let mut seen = files.stamp();
        // The stamp of a pair that failed to load: not tried again (nor logged) until it changes.
        let mut failed: Option<Stamp> = None;
        loop {
            let forced = tokio::select! {
                _ = tokio::time::sleep(POLL) => false,
                Some(()) = async {
                    match hangup.as_mut() {
                        Some(h) => h.recv().await,
                        None => std::future::pending().await,
                    }
                } => true,
            };
            let now = files.stamp();
            if !forced && (now == seen || failed.as_ref() == Some(&now)) {
                continue;
            }
            match resolver.reload() {
                Ok(()) => {
                    tracing::info!(
                        cert = %files.cert.display(),
                        "TLS certificate reloaded; new connections get it"
                    );
                    seen = now;
                    failed = None;
                }
                Err(e) => {
                    tracing::warn!(
                        error = %format!("{e:#}"),
                        "TLS certificate not reloaded; still serving the previous one"
                    );
                    failed = Some(now);
                }
            }
        }
    })
}

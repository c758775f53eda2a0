//! A certificate from an ACME CA (RFC 8555; Let's Encrypt by default) with the HTTP-01
//! challenge: the CA fetches `http://<domain>/.well-known/acme-challenge/<token>`, which the
//! redirect listener (`tls.redirect_listen`, port 80 of the domains) answers from
//! [`Challenges`] before redirecting anything else.
//!
//! Everything lives in `<data_dir>/acme/` (mode 700): `account.json` (the ACME account's key and
//! id, mode 600), `cert.pem` (the chain) and `key.pem` (its key, mode 600), each written whole
//! under a temporary name and renamed. At start a stored certificate is served when it covers
//! the configured domains and is not yet due; otherwise one is obtained before alm listens (a
//! failure then stops the start, naming the CA's answer — unless a stored, still valid one can
//! be served meanwhile). A task looks every `check_seconds` and renews when less than
//! `renew_when_remaining_percent` of the lifetime is left; new handshakes get the new
//! certificate, nothing is dropped. Time comes from the injected clock.

use super::cert_files::{certified_key, ReloadingResolver};
use crate::config::AcmeConfig;
use alm_core::Clock;
use anyhow::Context;
use bytes::Bytes;
use http_body_util::BodyExt;
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, BodyWrapper, BytesResponse, ChallengeType,
    HttpClient, Identifier, NewAccount, NewOrder, OrderStatus, RetryPolicy,
};
use rustls::sign::CertifiedKey;
use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use time::OffsetDateTime;

/// The HTTP-01 answers being offered: token → key authorization.
pub type Challenges = Arc<RwLock<HashMap<String, String>>>;

/// When a certificate is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

/// Whether a certificate valid over `v` is due for renewal at `now`: less than `percent` of its
/// lifetime left (or expired, or not valid yet by a clock gone wrong).
pub fn due(v: Validity, now: OffsetDateTime, percent: u32) -> bool {
    let lifetime = v.not_after - v.not_before;
    let left = v.not_after - now;
    now < v.not_before || left * 100 < lifetime * i32::try_from(percent).unwrap_or(100)
}

/// The leaf's validity and DNS names, from the first certificate of a PEM chain.
fn leaf_facts(chain_pem: &[u8]) -> anyhow::Result<(Validity, Vec<String>)> {
    let der = rustls_pemfile::certs(&mut &chain_pem[..])
        .next()
        .context("no certificate in the chain")??;
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref())
        .map_err(|e| anyhow::anyhow!("the certificate cannot be read: {e}"))?;
    let at = |t: x509_parser::time::ASN1Time| OffsetDateTime::from_unix_timestamp(t.timestamp());
    let validity = Validity {
        not_before: at(cert.validity().not_before)?,
        not_after: at(cert.validity().not_after)?,
    };
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::DNSName(d) = name {
                names.push(d.to_ascii_lowercase());
            }
        }
    }
    Ok((validity, names))
}

/// instant-acme's HTTP client over alm's reqwest (rustls with ring, the configured CA).
struct ReqwestClient(reqwest::Client);

impl HttpClient for ReqwestClient {
    fn request(
        &self,
        req: http::Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>> {
        let client = self.0.clone();
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| instant_acme::Error::Other(Box::new(e)))?
                .to_bytes();
            let req = reqwest::Request::try_from(http::Request::from_parts(parts, body))
                .map_err(|e| instant_acme::Error::Other(Box::new(e)))?;
            let response = client
                .execute(req)
                .await
                .map_err(|e| instant_acme::Error::Other(Box::new(e)))?;
            Ok(BytesResponse::from(http::Response::<reqwest::Body>::from(
                response,
            )))
        })
    }
}

/// The ACME side of alm: its account, its stored certificate, and obtaining a new one.
pub struct Acme {
    config: AcmeConfig,
    dir: PathBuf,
    http: reqwest::Client,
    challenges: Challenges,
    clock: Arc<dyn Clock>,
}

impl Acme {
    pub fn new(
        config: &AcmeConfig,
        data_dir: &Path,
        challenges: Challenges,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(30));
        if let Some(ca) = &config.directory_ca_file {
            let pem = std::fs::read(ca).with_context(|| {
                format!("tls.acme.directory_ca_file: cannot read {}", ca.display())
            })?;
            let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| {
                anyhow::anyhow!(
                    "tls.acme.directory_ca_file: {} is not a PEM certificate: {e}",
                    ca.display()
                )
            })?;
            builder = builder
                .tls_built_in_root_certs(false)
                .add_root_certificate(cert);
        }
        let dir = data_dir.join("acme");
        alm_store::files::create_private_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Self {
            config: config.clone(),
            dir,
            http: builder.build().context("the ACME client cannot be built")?,
            challenges,
            clock,
        })
    }

    fn domains(&self) -> Vec<String> {
        self.config
            .domains
            .iter()
            .map(|d| d.to_ascii_lowercase())
            .collect()
    }

    /// The stored certificate, its key and validity, when they load and cover the domains.
    fn stored(&self) -> Option<(CertifiedKey, Validity)> {
        let chain = std::fs::read(self.dir.join("cert.pem")).ok()?;
        let key = std::fs::read(self.dir.join("key.pem")).ok()?;
        let certified = match certified_key(&chain, &key, "acme/cert.pem", "acme/key.pem") {
            Ok(k) => k,
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "the stored ACME certificate does not load; a new one will be obtained");
                return None;
            }
        };
        let (validity, names) = leaf_facts(&chain).ok()?;
        self.domains()
            .iter()
            .all(|d| names.contains(d))
            .then_some((certified, validity))
    }

    /// The certificate to serve at start: the stored one when it is not due, else a new one
    /// (the stored one still served when obtaining fails and it has not expired).
    pub async fn current(&self) -> anyhow::Result<CertifiedKey> {
        let now = self.clock.now();
        let stored = self.stored();
        match stored {
            Some((key, v)) if !due(v, now, self.config.renew_when_remaining_percent) => Ok(key),
            stored => match self.obtain().await {
                Ok((key, _)) => Ok(key),
                Err(e) => match stored {
                    Some((key, v)) if v.not_after > now => {
                        tracing::warn!(error = %format!("{e:#}"), not_after = %v.not_after, "ACME renewal failed at start; serving the stored certificate meanwhile");
                        Ok(key)
                    }
                    _ => Err(e),
                },
            },
        }
    }

    /// Renews when due; returns the new certificate, if one was obtained.
    pub async fn renew_if_due(&self) -> anyhow::Result<Option<CertifiedKey>> {
        let due_now = match self.stored() {
            Some((_, v)) => due(
                v,
                self.clock.now(),
                self.config.renew_when_remaining_percent,
            ),
            None => true,
        };
        if !due_now {
            return Ok(None);
        }
        Ok(Some(self.obtain().await?.0))
    }

    /// The ACME account: the stored one, or a new one registered (and stored) now.
    async fn account(&self) -> anyhow::Result<Account> {
        let path = self.dir.join("account.json");
        let builder = || Account::builder_with_http(Box::new(ReqwestClient(self.http.clone())));
        if let Ok(text) = std::fs::read_to_string(&path) {
            let credentials: AccountCredentials = serde_json::from_str(&text)
                .with_context(|| format!("{} is not an ACME account alm wrote", path.display()))?;
            return builder()
                .from_credentials(credentials)
                .await
                .with_context(|| {
                    format!(
                        "the ACME CA at {} refuses the stored account",
                        self.config.directory_url
                    )
                });
        }
        let contact = format!("mailto:{}", self.config.email);
        let (account, credentials) = builder()
            .create(
                &NewAccount {
                    contact: &[contact.as_str()],
                    terms_of_service_agreed: true,
                    only_return_existing: false,
                },
                self.config.directory_url.clone(),
                None,
            )
            .await
            .with_context(|| {
                format!(
                    "cannot register an ACME account at {}",
                    self.config.directory_url
                )
            })?;
        write_private(&path, serde_json::to_string(&credentials)?.as_bytes())?;
        tracing::info!(directory = %self.config.directory_url, "ACME account registered");
        Ok(account)
    }

    /// Orders a certificate for the domains, answers HTTP-01, and stores the result.
    pub async fn obtain(&self) -> anyhow::Result<(CertifiedKey, Validity)> {
        let account = self.account().await?;
        let domains = self.domains();
        let identifiers: Vec<Identifier> = domains.iter().cloned().map(Identifier::Dns).collect();
        let mut order = account
            .new_order(&NewOrder::new(&identifiers))
            .await
            .context("the ACME CA refused the order")?;
        let mut offered = Vec::new();
        let mut authorizations = order.authorizations();
        while let Some(authorization) = authorizations.next().await {
            let mut authorization = authorization.context("cannot read an ACME authorization")?;
            if authorization.status == AuthorizationStatus::Valid {
                continue;
            }
            let mut challenge = authorization
                .challenge(ChallengeType::Http01)
                .context("the ACME CA offers no HTTP-01 challenge")?;
            let answer = challenge.key_authorization().as_str().to_owned();
            self.challenges
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(challenge.token.clone(), answer);
            offered.push(challenge.token.clone());
            challenge
                .set_ready()
                .await
                .context("the ACME CA did not take the challenge")?;
        }
        let policy = RetryPolicy::new()
            .initial_delay(Duration::from_millis(250))
            .backoff(1.5)
            .timeout(Duration::from_secs(90));
        let status = order.poll_ready(&policy).await;
        let finished = async {
            let status = status.context("the ACME order did not become ready")?;
            if status != OrderStatus::Ready {
                anyhow::bail!("the ACME CA did not validate {}: order {status:?} (is port 80 of each domain reaching tls.redirect_listen?)", domains.join(", "));
            }
            let key = rcgen::KeyPair::generate().context("cannot make a key")?;
            let mut params = rcgen::CertificateParams::new(domains.clone())?;
            params.distinguished_name = rcgen::DistinguishedName::new();
            let csr = params.serialize_request(&key)?;
            order.finalize_csr(csr.der()).await.context("the ACME CA refused the CSR")?;
            let chain = order
                .poll_certificate(&policy)
                .await
                .context("the ACME CA issued no certificate")?;
            Ok::<_, anyhow::Error>((chain, key.serialize_pem()))
        }
        .await;
        {
            let mut map = self.challenges.write().unwrap_or_else(|e| e.into_inner());
            for token in &offered {
                map.remove(token);
            }
        }
        let (chain, key_pem) = finished?;
        let certified = certified_key(
            chain.as_bytes(),
            key_pem.as_bytes(),
            "the issued certificate",
            "its key",
        )?;
        let (validity, _) = leaf_facts(chain.as_bytes())?;
        write_private(&self.dir.join("key.pem"), key_pem.as_bytes())?;
        write_private(&self.dir.join("cert.pem"), chain.as_bytes())?;
        tracing::info!(domains = %domains.join(","), not_after = %validity.not_after, "ACME certificate obtained");
        Ok((certified, validity))
    }
}

/// Writes `bytes` to `path` (mode 600) under a temporary name, then renames it in place.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".new");
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    let mut file = alm_store::files::create_private_file(&tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot move {} to {}", tmp.display(), path.display()))?;
    Ok(())
}

/// Looks every `check_seconds` and renews when due, for the life of the server.
pub fn spawn_renewal(
    acme: Arc<Acme>,
    resolver: Arc<ReloadingResolver>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let every = Duration::from_secs(u64::from(acme.config.check_seconds));
        loop {
            tokio::time::sleep(every).await;
            match acme.renew_if_due().await {
                Ok(Some(key)) => {
                    resolver.set(key);
                    tracing::info!("ACME certificate renewed; new connections get it");
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "ACME renewal failed; trying again at the next check")
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn renewal_is_due_when_a_third_of_the_lifetime_is_left() {
        let v = Validity {
            not_before: datetime!(2026-12-01 00:00 UTC),
            not_after: datetime!(2027-03-01 00:00 UTC),
        };
        assert!(!due(v, datetime!(2026-12-02 00:00 UTC), 33));
        assert!(!due(v, datetime!(2027-01-29 00:00 UTC), 33));
        assert!(due(v, datetime!(2027-02-01 00:00 UTC), 33));
        assert!(due(v, datetime!(2027-03-02 00:00 UTC), 33), "expired");
        assert!(due(v, datetime!(2026-11-01 00:00 UTC), 33), "not valid yet");
    }
}

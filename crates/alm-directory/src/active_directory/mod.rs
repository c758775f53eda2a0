//! Active Directory over LDAPS (ldap3 + rustls with ring). One bound connection is kept and
//! shared by operations (LDAP multiplexes them); it is dropped and made anew after a
//! connection-level failure.

mod errors;
mod read;
mod write;

pub use read::{ACCOUNT_ATTRIBUTES, ACCOUNT_FILTER};

use crate::config::DirectoryConfig;
use crate::dc_discovery;
use crate::entry::{ChangeSet, DirectoryEntry, GroupEntry, NewGmsa, NewUser, OuEntry};
use crate::error::{DirectoryError, DirectoryResult};
use crate::{Directory, Lookup};
use alm_core::filetime::AccountExpires;
use alm_core::Secret;
use async_trait::async_trait;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError};
use rustls::ClientConfig;
use std::sync::Arc;
use tokio::sync::Mutex;

pub struct ActiveDirectory {
    config: DirectoryConfig,
    /// The domain controllers in the order they are tried (the configured `url` first).
    urls: Vec<String>,
    /// The controller the shared connection goes to (the first until one fails over; it may
    /// be one found in DNS).
    current: std::sync::Mutex<String>,
    /// The LDAPS port of `url`: controllers found in DNS are reached on it too.
    ldaps_port: u16,
    tls: Arc<ClientConfig>,
    connection: Mutex<Option<Ldap>>,
}

impl std::fmt::Debug for ActiveDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActiveDirectory")
            .field("url", &self.url())
            .field("bind", &self.config.bind_identity)
            .finish()
    }
}

/// The shared TLS client configuration (alm-tls), errors as configuration problems.
fn tls_config(ca_pem: Option<&str>) -> DirectoryResult<ClientConfig> {
    alm_tls::client_config(ca_pem).map_err(|e| DirectoryError::Config(e.to_string()))
}

impl ActiveDirectory {
    /// Checks the configuration; connects lazily, on the first operation.
    pub fn new(config: DirectoryConfig) -> DirectoryResult<Self> {
        let urls = config.validated_urls()?;
        // validated_urls makes every port explicit.
        let ldaps_port = url::Url::parse(&urls[0])
            .ok()
            .and_then(|u| u.port())
            .ok_or_else(|| DirectoryError::Config(format!("url: {} has no port", urls[0])))?;
        let tls = Arc::new(tls_config(config.ca_pem.as_deref())?);
        Ok(Self {
            config,
            current: std::sync::Mutex::new(urls[0].clone()),
            urls,
            ldaps_port,
            tls,
            connection: Mutex::new(None),
        })
    }

    pub fn base_dn(&self) -> &str {
        &self.config.base_dn
    }

    /// The domain controller the shared connection goes to (or went to last).
    pub fn url(&self) -> String {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A bound connection to the first domain controller that answers, in the configured
    /// order, then (when the domain asks for it) the ones DNS names for the domain. DNS is
    /// asked only when every listed controller failed: the usual connection does not depend on
    /// it. Only a controller that cannot be reached (or fails TLS) sends the attempt to the
    /// next: credentials the directory refuses are refused by every controller of the domain.
    /// When none answers, the error names each one and why.
    async fn connect(&self) -> DirectoryResult<Ldap> {
        let mut failed: Vec<DirectoryError> = Vec::new();
        for (i, url) in self.urls.iter().enumerate() {
            let next = self.urls.get(i + 1).cloned().or_else(|| {
                self.config
                    .discovery
                    .as_ref()
                    .map(|d| format!("the controllers DNS names for {}", d.dns_name))
            });
            match self.attempt(url, None, next.as_deref()).await {
                Ok(ldap) => return Ok(ldap),
                Err(e) if fails_over(&e) => failed.push(e),
                Err(e) => return Err(e),
            }
        }
        if let Some(discovery) = &self.config.discovery {
            match dc_discovery::find_dcs(discovery, self.config.timeout).await {
                Ok(found) => {
                    let port = self.ldaps_port;
                    let found: Vec<_> = found
                        .into_iter()
                        .map(|dc| {
                            (
                                format!("ldaps://{}:{port}", dc.host.to_ascii_lowercase()),
                                dc.addrs,
                            )
                        })
                        .filter(|(url, _)| !self.urls.contains(url))
                        .collect();
                    for (i, (url, addrs)) in found.iter().enumerate() {
                        let next = found.get(i + 1).map(|(u, _)| u.as_str());
                        match self.attempt(url, Some(addrs), next).await {
                            Ok(ldap) => return Ok(ldap),
                            Err(e) if fails_over(&e) => failed.push(e),
                            Err(e) => return Err(e),
                        }
                    }
                }
                Err(e) => failed.push(e),
            }
        }
        Err(none_answered(failed))
    }

    /// Every controller of the domain on its own, each with a fresh connection and bind (not
    /// the first that answers, as [`Directory::check`] does): the listed ones in order, then,
    /// when the domain asks for it, those its DNS names (a failed DNS look-up is one entry,
    /// named after the SRV name asked). For `alm engine check`, which must show each broken
    /// way to a DC even when another works.
    pub async fn check_each_controller(&self) -> Vec<(String, DirectoryResult<()>)> {
        let mut out = Vec::new();
        for url in &self.urls {
            let outcome = match self.connect_to(url, None).await {
                Ok(mut ldap) => {
                    let _ = ldap.unbind().await;
                    Ok(())
                }
                Err(e) => Err(e),
            };
            out.push((url.clone(), outcome));
        }
        if let Some(discovery) = &self.config.discovery {
            match dc_discovery::find_dcs(discovery, self.config.timeout).await {
                Ok(found) => {
                    for dc in found {
                        let url = format!(
                            "ldaps://{}:{}",
                            dc.host.to_ascii_lowercase(),
                            self.ldaps_port
                        );
                        if self.urls.contains(&url) {
                            continue;
                        }
                        let outcome = match self.connect_to(&url, Some(&dc.addrs)).await {
                            Ok(mut ldap) => {
                                let _ = ldap.unbind().await;
                                Ok(())
                            }
                            Err(e) => Err(e),
                        };
                        out.push((url, outcome));
                    }
                }
                Err(e) => out.push((
                    format!("DNS SRV {}", dc_discovery::srv_name(&discovery.dns_name)),
                    Err(e),
                )),
            }
        }
        out
    }

    /// One controller: connected and bound, remembered as the current one; or its failure
    /// (logged with the controller tried next, when there is one).
    async fn attempt(
        &self,
        url: &str,
        addrs: Option<&[std::net::IpAddr]>,
        next: Option<&str>,
    ) -> DirectoryResult<Ldap> {
        match self.connect_to(url, addrs).await {
            Ok(ldap) => {
                *self.current.lock().unwrap_or_else(|e| e.into_inner()) = url.to_owned();
                Ok(ldap)
            }
            Err(e) => {
                if let (true, Some(next)) = (fails_over(&e), next) {
                    tracing::warn!(error = %e, next = %next, "domain controller failed; trying the next");
                }
                Err(e)
            }
        }
    }

    /// Connects and binds to `url`; to one of `addrs` (under `url`'s name, which its
    /// certificate must carry) when DNS gave them, else to what the machine resolves.
    async fn connect_to(
        &self,
        url: &str,
        addrs: Option<&[std::net::IpAddr]>,
    ) -> DirectoryResult<Ldap> {
        let mut settings = LdapConnSettings::new()
            .set_config(self.tls.clone())
            .set_conn_timeout(self.config.timeout);
        if let Some(addrs) = addrs {
            settings =
                settings.set_std_stream(ldap3::StdStream::Tcp(self.tcp_to_any(url, addrs).await?));
        }
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, url)
            .await
            .map_err(|e| errors::from_ldap(e, url, ""))?;
        ldap3::drive!(conn);
        let result = ldap
            .with_timeout(self.config.timeout)
            .simple_bind(
                &self.config.bind_identity,
                self.config.bind_password.expose(),
            )
            .await
            .map_err(|e| errors::from_ldap(e, url, &self.config.bind_identity))?;
        if result.rc != 0 {
            return Err(errors::from_result(&result, &self.config.bind_identity));
        }
        Ok(ldap)
    }

    /// A TCP connection to the first of `addrs` that accepts one, on `url`'s port.
    async fn tcp_to_any(
        &self,
        url: &str,
        addrs: &[std::net::IpAddr],
    ) -> DirectoryResult<std::net::TcpStream> {
        let port = self.ldaps_port;
        let mut why = Vec::new();
        for addr in addrs {
            let target = std::net::SocketAddr::new(*addr, port);
            match tokio::time::timeout(self.config.timeout, tokio::net::TcpStream::connect(target))
                .await
            {
                Ok(Ok(stream)) => {
                    return stream.into_std().map_err(|e| DirectoryError::Unreachable {
                        url: url.to_owned(),
                        detail: e.to_string(),
                    })
                }
                Ok(Err(e)) => why.push(format!("{target}: {e}")),
                Err(_) => why.push(format!("{target}: no answer in {:?}", self.config.timeout)),
            }
        }
        Err(DirectoryError::Unreachable {
            url: url.to_owned(),
            detail: why.join("; "),
        })
    }

    /// The shared bound connection, made on first use or after a failure.
    pub(crate) async fn handle(&self) -> DirectoryResult<Ldap> {
        let mut slot = self.connection.lock().await;
        if let Some(ldap) = slot.as_mut() {
            if !ldap.is_closed() {
                let mut ldap = ldap.clone();
                ldap.with_timeout(self.config.timeout);
                return Ok(ldap);
            }
        }
        let ldap = self.connect().await?;
        *slot = Some(ldap.clone());
        let mut ldap = ldap;
        ldap.with_timeout(self.config.timeout);
        Ok(ldap)
    }

    /// Maps an ldap3 error; after a connection-level failure the next call reconnects.
    pub(crate) fn fail(&self, error: LdapError, dn: &str) -> DirectoryError {
        let mapped = errors::from_ldap(error, &self.url(), dn);
        if fails_over(&mapped) {
            if let Ok(mut slot) = self.connection.try_lock() {
                *slot = None;
            }
        }
        mapped
    }
}

/// Whether a failure is the controller's own (the next one may answer), not the domain's.
fn fails_over(e: &DirectoryError) -> bool {
    matches!(
        e,
        DirectoryError::Unreachable { .. } | DirectoryError::Tls { .. }
    )
}

/// One controller's failure as it is; several as one error of the last one's kind that names
/// each controller and its reason.
fn none_answered(mut failed: Vec<DirectoryError>) -> DirectoryError {
    if failed.len() == 1 {
        return failed.remove(0);
    }
    let urls: Vec<String> = failed
        .iter()
        .map(|e| match e {
            DirectoryError::Unreachable { url, .. } | DirectoryError::Tls { url, .. } => {
                url.clone()
            }
            _ => String::new(),
        })
        .collect();
    let detail = failed
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("; ");
    let url = format!("none of {}", urls.join(", "));
    match failed.last() {
        Some(DirectoryError::Tls { .. }) => DirectoryError::Tls { url, detail },
        _ => DirectoryError::Unreachable { url, detail },
    }
}

#[async_trait]
impl Directory for ActiveDirectory {
    async fn check(&self) -> DirectoryResult<()> {
        // A fresh bind, not the cached connection: this is the test of the way in.
        let mut ldap = self.connect().await?;
        let _ = ldap.unbind().await;
        Ok(())
    }

    async fn create_user(&self, user: &NewUser) -> DirectoryResult<DirectoryEntry> {
        self.add_user(user).await
    }

    async fn deny_password_change(&self, dn: &str) -> DirectoryResult<bool> {
        self.deny_own_password_change(dn).await
    }

    async fn create_gmsa(&self, gmsa: &NewGmsa) -> DirectoryResult<DirectoryEntry> {
        self.add_gmsa(gmsa).await
    }

    async fn set_password(&self, dn: &str, password: &Secret) -> DirectoryResult<()> {
        self.replace_password(dn, password).await
    }

    async fn set_enabled(&self, dn: &str, enabled: bool) -> DirectoryResult<()> {
        self.change_enabled(dn, enabled).await
    }

    async fn set_account_expires(&self, dn: &str, expires: AccountExpires) -> DirectoryResult<()> {
        self.replace_account_expires(dn, expires).await
    }

    async fn move_to(&self, dn: &str, new_parent_dn: &str) -> DirectoryResult<String> {
        self.move_entry(dn, new_parent_dn).await
    }

    async fn delete(&self, dn: &str) -> DirectoryResult<()> {
        self.delete_entry(dn).await
    }

    async fn find(&self, lookup: &Lookup) -> DirectoryResult<Option<DirectoryEntry>> {
        self.find_account(lookup).await
    }

    async fn users(&self, base_dn: Option<&str>) -> DirectoryResult<Vec<DirectoryEntry>> {
        self.search_accounts(base_dn).await
    }

    async fn groups(&self, base_dn: Option<&str>) -> DirectoryResult<Vec<GroupEntry>> {
        self.search_groups(base_dn).await
    }

    async fn organizational_units(&self, base_dn: Option<&str>) -> DirectoryResult<Vec<OuEntry>> {
        self.search_ous(base_dn).await
    }

    async fn highest_usn(&self) -> DirectoryResult<i64> {
        self.root_usn().await
    }

    async fn attribute_names(&self) -> DirectoryResult<Vec<String>> {
        self.schema_attributes().await
    }

    async fn changes_since(&self, usn: i64) -> DirectoryResult<ChangeSet> {
        self.search_changes(usn).await
    }
}

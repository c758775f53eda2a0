//! Active Directory over LDAPS (ldap3 + rustls with ring). One bound connection is kept and
//! shared by operations (LDAP multiplexes them); it is dropped and made anew after a
//! connection-level failure.

mod errors;
mod read;
mod write;

pub use read::{ACCOUNT_ATTRIBUTES, ACCOUNT_FILTER};

use crate::config::DirectoryConfig;
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
    /// Which of `urls` the shared connection goes to (the first until one fails over).
    current: std::sync::Mutex<usize>,
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
        let tls = Arc::new(tls_config(config.ca_pem.as_deref())?);
        Ok(Self {
            config,
            urls,
            current: std::sync::Mutex::new(0),
            tls,
            connection: Mutex::new(None),
        })
    }

    pub fn base_dn(&self) -> &str {
        &self.config.base_dn
    }

    /// The domain controller the shared connection goes to (or went to last).
    pub fn url(&self) -> String {
        let i = *self.current.lock().unwrap_or_else(|e| e.into_inner());
        self.urls[i].clone()
    }

    /// A bound connection to the first domain controller that answers, in the configured
    /// order. Only a controller that cannot be reached (or fails TLS) sends the attempt to the
    /// next: credentials the directory refuses are refused by every controller of the domain.
    /// When none answers, the error names each one and why.
    async fn connect(&self) -> DirectoryResult<Ldap> {
        let mut failed: Vec<DirectoryError> = Vec::new();
        for (i, url) in self.urls.iter().enumerate() {
            match self.connect_to(url).await {
                Ok(ldap) => {
                    *self.current.lock().unwrap_or_else(|e| e.into_inner()) = i;
                    return Ok(ldap);
                }
                Err(e @ (DirectoryError::Unreachable { .. } | DirectoryError::Tls { .. })) => {
                    if let Some(next) = self.urls.get(i + 1) {
                        tracing::warn!(error = %e, next = %next, "domain controller failed; trying the next");
                    }
                    failed.push(e)
                }
                Err(e) => return Err(e),
            }
        }
        Err(none_answered(failed))
    }

    async fn connect_to(&self, url: &str) -> DirectoryResult<Ldap> {
        let settings = LdapConnSettings::new()
            .set_config(self.tls.clone())
            .set_conn_timeout(self.config.timeout);
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
        if matches!(
            mapped,
            DirectoryError::Unreachable { .. } | DirectoryError::Tls { .. }
        ) {
            if let Ok(mut slot) = self.connection.try_lock() {
                *slot = None;
            }
        }
        mapped
    }
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

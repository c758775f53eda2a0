//! Runs one task against the directory or the vault it names and reports what happened.
//! Failures of the directory or vault (unreachable, refused, bad certificate) are results,
//! named by their kind; only a task the engine cannot run at all is an error.

use crate::protocol::{
    DomainConnection, Problem, SyncMode, SyncSnapshot, SyncedObject, Task, TaskResult,
    VaultConnection,
};
use alm_core::filetime::AccountExpires;
use alm_core::Clock;
use alm_directory::dc_discovery::{dns_name_of, DcDiscovery};
use alm_directory::{
    ActiveDirectory, Directory, DirectoryConfig, DirectoryEntry, DirectoryError, EntryKind,
    GroupEntry, OuEntry,
};
use alm_vault::aws::{AwsConfig, AwsSecretsManager};
use alm_vault::azure::{AzureKeyVault, AzureKeyVaultConfig};
use alm_vault::devops_secrets_vault::{DevOpsSecretsVault, DsvConfig};
use alm_vault::openbao::{OpenBaoConfig, OpenBaoVault};
use alm_vault::secret_server::{SecretServer, SecretServerAuth, SecretServerConfig};
use alm_vault::{Vault, VaultError};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Per-operation timeout towards directories and vaults, unless [`Executor::with_timeout`]
/// says otherwise.
const TIMEOUT: Duration = Duration::from_secs(20);

pub struct Executor {
    clock: Arc<dyn Clock>,
    /// Directory clients by their settings, so provisioning jobs reuse one bound LDAPS
    /// connection per domain (a TLS handshake and a bind cost about as much as the add
    /// itself). Checks and syncs open their own: a check must prove a fresh bind.
    directories: tokio::sync::Mutex<HashMap<[u8; 32], Arc<ActiveDirectory>>>,
    /// The DNS servers asked for a domain's controllers (domains that want them found); empty:
    /// the machine's own.
    nameservers: Vec<SocketAddr>,
    /// Connect and per-operation timeout towards directories and vaults.
    timeout: Duration,
}

/// More domains than this in the cache: it starts over (settings changed many times).
const MAX_CACHED_DIRECTORIES: usize = 64;

impl Executor {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            directories: tokio::sync::Mutex::new(HashMap::new()),
            nameservers: Vec::new(),
            timeout: TIMEOUT,
        }
    }

    /// Gives up on a directory or vault operation after `timeout` (`alm engine check` waits a
    /// few seconds per target, not the jobs' 20).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Asks these DNS servers, not the machine's, for the controllers of domains that want
    /// them found (an engine outside the domain's DNS).
    pub fn with_nameservers(mut self, nameservers: Vec<SocketAddr>) -> Self {
        self.nameservers = nameservers;
        self
    }

    /// The cached client for these settings (new settings, say a changed password, make a
    /// new client; the client reconnects by itself when its connection closes).
    pub(crate) async fn directory(
        &self,
        domain: &DomainConnection,
    ) -> Result<Arc<ActiveDirectory>, DirectoryError> {
        let key: [u8; 32] = {
            let mut h = Sha256::new();
            let failover = domain.failover_urls.join("\n");
            for part in [
                domain.url.as_str(),
                failover.as_str(),
                if domain.discover_dcs { "dns" } else { "" },
                domain.bind_identity.as_str(),
                domain.bind_password.expose(),
                domain.ca_pem.as_deref().unwrap_or(""),
                domain.base_dn.as_str(),
            ] {
                h.update((part.len() as u64).to_le_bytes());
                h.update(part.as_bytes());
            }
            h.finalize().into()
        };
        let mut cache = self.directories.lock().await;
        if let Some(found) = cache.get(&key) {
            return Ok(found.clone());
        }
        if cache.len() >= MAX_CACHED_DIRECTORIES {
            cache.clear();
        }
        let made = Arc::new(connect(domain, &self.nameservers, self.timeout)?);
        cache.insert(key, made.clone());
        Ok(made)
    }

    /// Each domain controller of `domain` on its own, with a fresh bind (`alm engine check`):
    /// the listed ones, then those DNS names when the domain asks for it.
    pub async fn check_each_controller(
        &self,
        domain: &DomainConnection,
    ) -> Vec<(String, Result<(), Problem>)> {
        match connect(domain, &self.nameservers, self.timeout) {
            Ok(ad) => ad
                .check_each_controller()
                .await
                .into_iter()
                .map(|(url, outcome)| (url, outcome.map_err(|e| directory_problem(&e))))
                .collect(),
            Err(e) => vec![(domain.url.clone(), Err(directory_problem(&e)))],
        }
    }

    pub async fn run(&self, task: &Task) -> TaskResult {
        match task {
            Task::DomainCheck { domain } => {
                let outcome = match connect(domain, &self.nameservers, self.timeout) {
                    Ok(ad) => ad.check().await,
                    Err(e) => Err(e),
                };
                TaskResult::Check {
                    message: match &outcome {
                        Ok(()) => format!("bound to {} as {}", domain.url, domain.bind_identity),
                        Err(e) => e.to_string(),
                    },
                    problem: outcome.err().map(|e| directory_problem(&e)),
                }
            }
            Task::DomainSync {
                domain,
                mode,
                since_usn,
            } => {
                let read = match connect(domain, &self.nameservers, self.timeout) {
                    Ok(ad) => read_directory(&ad, *mode, *since_usn).await,
                    Err(e) => Err(e),
                };
                match read {
                    Ok(snapshot) => TaskResult::DomainSync {
                        snapshot: Some(snapshot),
                        problem: None,
                    },
                    Err(e) => TaskResult::DomainSync {
                        snapshot: None,
                        problem: Some(directory_problem(&e)),
                    },
                }
            }
            Task::VaultCheck { vault } => {
                let outcome = match self.open_vault(vault) {
                    Ok(v) => v.check().await,
                    Err(e) => Err(e),
                };
                TaskResult::Check {
                    message: match &outcome {
                        Ok(()) => "authenticated to the vault".into(),
                        Err(e) => e.to_string(),
                    },
                    problem: outcome.err().map(|e| vault_problem(&e)),
                }
            }
            Task::VaultSync { vault, secret_ids } => {
                let checked = async {
                    let v = self.open_vault(vault)?;
                    let mut missing = Vec::new();
                    let mut present = Vec::new();
                    for id in secret_ids {
                        if v.get(&alm_vault::SecretRef(id.clone())).await?.is_none() {
                            missing.push(id.clone());
                        } else {
                            present.push(id.clone());
                        }
                    }
                    let dependencies = crate::vault_dependencies::read(v.as_ref(), present).await?;
                    Ok::<_, VaultError>((missing, dependencies))
                }
                .await;
                match checked {
                    Ok((missing, dependencies)) => TaskResult::VaultSync {
                        missing,
                        problem: None,
                        dependencies,
                    },
                    Err(e) => TaskResult::VaultSync {
                        missing: vec![],
                        problem: Some(vault_problem(&e)),
                        dependencies: None,
                    },
                }
            }
            Task::AccountChange(c) => match crate::account_change::run(self, c).await {
                Ok(dn) => TaskResult::AccountChanged { dn, problem: None },
                Err(problem) => TaskResult::AccountChanged {
                    dn: None,
                    problem: Some(problem),
                },
            },
            Task::Provision(p) => match crate::provision::run(
                self,
                &p.domain,
                &p.account,
                p.vault.as_ref(),
                &p.secret,
            )
            .await
            {
                Ok(account) => TaskResult::Provisioned {
                    account: Some(account),
                    problem: None,
                },
                Err(problem) => TaskResult::Provisioned {
                    account: None,
                    problem: Some(problem),
                },
            },
        }
    }

    pub(crate) fn open_vault(&self, vault: &VaultConnection) -> Result<Box<dyn Vault>, VaultError> {
        Ok(match vault {
            VaultConnection::Openbao {
                address,
                mount,
                namespace,
                ca_pem,
                token,
            } => Box::new(OpenBaoVault::new(OpenBaoConfig {
                address: address.clone(),
                token: token.clone(),
                mount: mount.clone(),
                namespace: namespace.clone(),
                ca_pem: ca_pem.clone(),
                timeout: self.timeout,
            })?),
            VaultConnection::AwsSecretsManager {
                region,
                access_key_id,
                endpoint,
                ca_pem,
                secret_access_key,
            } => Box::new(AwsSecretsManager::new(
                AwsConfig {
                    region: region.clone(),
                    access_key_id: access_key_id.clone(),
                    secret_access_key: secret_access_key.clone(),
                    endpoint: endpoint.clone(),
                    ca_pem: ca_pem.clone(),
                    timeout: self.timeout,
                },
                self.clock.clone(),
            )?),
            VaultConnection::AzureKeyVault {
                vault_url,
                tenant_id,
                client_id,
                authority,
                ca_pem,
                client_secret,
            } => Box::new(AzureKeyVault::new(
                AzureKeyVaultConfig {
                    vault_url: vault_url.clone(),
                    tenant_id: tenant_id.clone(),
                    client_id: client_id.clone(),
                    client_secret: client_secret.clone(),
                    authority: authority.clone(),
                    ca_pem: ca_pem.clone(),
                    timeout: self.timeout,
                },
                self.clock.clone(),
            )?),
            VaultConnection::SecretServer {
                address,
                folder_id,
                template_id,
                username,
                ca_pem,
                credential,
            } => Box::new(SecretServer::new(
                SecretServerConfig {
                    address: address.clone(),
                    auth: match username {
                        Some(u) => SecretServerAuth::Password {
                            username: u.clone(),
                            password: credential.clone(),
                            domain: None,
                        },
                        None => SecretServerAuth::Token(credential.clone()),
                    },
                    folder_id: *folder_id,
                    template_id: *template_id,
                    ca_pem: ca_pem.clone(),
                    timeout: self.timeout,
                },
                self.clock.clone(),
            )?),
            VaultConnection::DevopsSecretsVault {
                address,
                client_id,
                ca_pem,
                client_secret,
            } => Box::new(DevOpsSecretsVault::new(
                DsvConfig {
                    address: address.clone(),
                    client_id: client_id.clone(),
                    client_secret: client_secret.clone(),
                    ca_pem: ca_pem.clone(),
                    timeout: self.timeout,
                },
                self.clock.clone(),
            )?),
        })
    }
}

pub(crate) fn connect(
    domain: &DomainConnection,
    nameservers: &[SocketAddr],
    timeout: Duration,
) -> Result<ActiveDirectory, DirectoryError> {
    let discovery = if domain.discover_dcs {
        Some(DcDiscovery {
            dns_name: dns_name_of(&domain.base_dn)?,
            nameservers: nameservers.to_vec(),
        })
    } else {
        None
    };
    ActiveDirectory::new(DirectoryConfig {
        url: domain.url.clone(),
        failover_urls: domain.failover_urls.clone(),
        discovery,
        bind_identity: domain.bind_identity.clone(),
        bind_password: domain.bind_password.clone(),
        ca_pem: domain.ca_pem.clone(),
        base_dn: domain.base_dn.clone(),
        timeout,
    })
}

/// The kind of a directory failure, as checks and sync runs name it.
pub fn directory_problem(e: &DirectoryError) -> Problem {
    let kind = match e {
        DirectoryError::Unreachable { .. } => "unreachable",
        DirectoryError::Tls { .. } => "tls",
        DirectoryError::BadCredentials { .. } => "bad-credentials",
        DirectoryError::InsufficientRights { .. } => "insufficient-rights",
        DirectoryError::AlreadyExists { .. } => "already-exists",
        DirectoryError::PasswordPolicy { .. } => "password-policy",
        DirectoryError::NoSuchObject { .. } => "no-such-object",
        DirectoryError::Config(_) => "configuration",
        DirectoryError::Other(_) => "other",
    };
    Problem {
        problem: kind.into(),
        message: e.to_string(),
    }
}

/// The kind of a vault failure (named from the error's kind, not from its wording).
pub fn vault_problem(e: &VaultError) -> Problem {
    let kind = match e {
        VaultError::Unreachable { .. } => "unreachable",
        VaultError::Tls { .. } => "tls",
        VaultError::Unauthorized { .. } => "bad-credentials",
        VaultError::Forbidden { .. } => "insufficient-rights",
        VaultError::Conflict { .. } => "conflict",
        VaultError::Config(_) => "configuration",
        VaultError::Other(_) => "other",
    };
    Problem {
        problem: kind.into(),
        message: e.to_string(),
    }
}

fn account(e: &DirectoryEntry) -> SyncedObject {
    let kind = match e.kind {
        EntryKind::Gmsa => "gmsa",
        EntryKind::Msa => "msa",
        _ => "user",
    };
    let expires = match e.account_expires {
        AccountExpires::Never => serde_json::Value::Null,
        AccountExpires::At(t) => json!(t
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()),
    };
    SyncedObject {
        guid: e.guid.to_string(),
        kind: kind.into(),
        dn: e.dn.clone(),
        name: e.sam_account_name.to_string(),
        enabled: e.enabled(),
        usn_changed: e.usn_changed,
        details: json!({
            "user_principal_name": e.user_principal_name,
            "description": e.description,
            "user_account_control": e.user_account_control,
            "account_expires": expires,
            "sid": e.sid.as_ref().map(|s| s.to_string()),
            "display_name": e.first("displayName"),
            "mail": e.first("mail"),
        })
        .to_string(),
    }
}

fn group(g: &GroupEntry) -> SyncedObject {
    SyncedObject {
        guid: g.guid.to_string(),
        kind: "group".into(),
        dn: g.dn.clone(),
        name: g.sam_account_name.to_string(),
        enabled: true,
        usn_changed: g.usn_changed,
        details: json!({"members": g.members, "sid": g.sid.as_ref().map(|s| s.to_string())})
            .to_string(),
    }
}

fn ou(o: &OuEntry) -> SyncedObject {
    SyncedObject {
        guid: o.guid.to_string(),
        kind: "ou".into(),
        dn: o.dn.clone(),
        name: o.name.clone(),
        enabled: true,
        usn_changed: o.usn_changed,
        details: "{}".into(),
    }
}

/// Reads OUs, accounts and groups: all of them, or those changed after `since_usn`.
pub async fn read_directory(
    directory: &dyn Directory,
    mode: SyncMode,
    since_usn: i64,
) -> Result<SyncSnapshot, DirectoryError> {
    let highest_usn = directory.highest_usn().await?;
    let mut objects = Vec::new();
    let mut attribute_names = Vec::new();
    let mut deleted = Vec::new();
    match mode {
        SyncMode::Full => {
            attribute_names = directory.attribute_names().await?;
            objects.extend(directory.organizational_units(None).await?.iter().map(ou));
            objects.extend(directory.users(None).await?.iter().map(account));
            objects.extend(directory.groups(None).await?.iter().map(group));
        }
        SyncMode::Incremental => {
            let changes = directory.changes_since(since_usn + 1).await?;
            objects.extend(changes.organizational_units.iter().map(ou));
            objects.extend(changes.users.iter().map(account));
            objects.extend(changes.groups.iter().map(group));
            deleted.extend(changes.deleted.iter().map(|g| g.to_string()));
        }
    }
    Ok(SyncSnapshot {
        objects,
        highest_usn,
        attribute_names,
        deleted,
    })
}

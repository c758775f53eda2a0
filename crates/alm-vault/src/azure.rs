//! Azure Key Vault, secrets API (data plane, api-version 7.0), with a client-credentials token
//! from Entra ID (`{authority}/{tenant}/oauth2/v2.0/token`, scope `https://vault.azure.net/.default`).
//!
//! Key Vault names allow only letters, digits and `-`, so alm's `<folder>/<name>` is written as
//! one Key Vault name in which every other character is `-` and two hex digits (`/` → `-2f`,
//! `-` → `-2d`); the folder and name also travel as the tags `alm-folder` and `alm-name`, which
//! `list` reads. The id of a secret is its Key Vault name. A write adds a version; a read takes
//! the newest enabled version; a delete is Key Vault's delete (soft-delete vaults keep the
//! secret as deleted until it is purged, which needs a right alm does not ask for).

use crate::bearer_token::{send, send_with_token, TokenCache};
use crate::error::{VaultError, VaultResult};
use crate::{http_client, Payload, SecretRef, Vault, VaultDependency, VaultSecret};
use alm_core::{Clock, Secret};
use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// The Key Vault REST API version alm speaks (the 7.0 secrets operations; see the README).
pub const API_VERSION: &str = "7.0";
/// Entra ID's public cloud; other clouds (and tests) set `authority`.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
/// Key Vault allows at most 127 characters in a secret name.
const MAX_NAME: usize = 127;
/// A listing stops after this many pages (25 secrets each): a bound, not an expected size.
const MAX_PAGES: usize = 2_000;

#[derive(Debug, Clone)]
pub struct AzureKeyVaultConfig {
    /// `https://<vault-name>.vault.azure.net` (http only for a local test server).
    pub vault_url: String,
    /// The directory (tenant) id of the app registration.
    pub tenant_id: String,
    /// The application (client) id.
    pub client_id: String,
    pub client_secret: Secret,
    /// Entra ID's address; `None`: the public cloud.
    pub authority: Option<String>,
    pub ca_pem: Option<String>,
    pub timeout: Duration,
}

pub struct AzureKeyVault {
    config: AzureKeyVaultConfig,
    base: String,
    token_url: String,
    http: reqwest::Client,
    tokens: TokenCache,
}

impl std::fmt::Debug for AzureKeyVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureKeyVault")
            .field("vault_url", &self.base)
            .field("client_id", &self.config.client_id)
            .finish()
    }
}

fn http_url(field: &str, value: &str) -> VaultResult<String> {
    let parsed = url::Url::parse(value)
        .map_err(|_| VaultError::Config(format!("{field}: {value:?} is not a URL")))?;
    if parsed.scheme() != "https" && parsed.scheme() != "http" {
        return Err(VaultError::Config(format!(
            "{field}: {value:?} must be https://"
        )));
    }
    Ok(value.trim_end_matches('/').to_owned())
}

/// A tenant or client id: a GUID or (tenant) a domain name; nothing that changes the URL.
fn plain_id(field: &str, value: &str) -> VaultResult<()> {
    let ok = !value.is_empty()
        && value.len() <= 256
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(VaultError::Config(format!(
            "{field}: {value:?} must be a GUID or a domain name (letters, digits, - and .)"
        )))
    }
}

/// The Key Vault name of alm's `<folder>/<name>`.
pub fn key_vault_name(folder: &str, name: &str) -> VaultResult<String> {
    crate::check_path("folder", folder).map_err(|e| VaultError::Config(e.to_string()))?;
    crate::check_path("name", name).map_err(|e| VaultError::Config(e.to_string()))?;
    let mut out = String::new();
    for b in format!("{folder}/{name}").bytes() {
        if b.is_ascii_alphanumeric() {
            out.push(b as char);
        } else {
            out.push_str(&format!("-{b:02x}"));
        }
    }
    if out.len() > MAX_NAME {
        return Err(VaultError::Config(format!(
            "name: folder and name make a Key Vault name of {} characters; Key Vault allows {MAX_NAME}",
            out.len()
        )));
    }
    Ok(out)
}

impl AzureKeyVault {
    pub fn new(config: AzureKeyVaultConfig, clock: Arc<dyn Clock>) -> VaultResult<Self> {
        let base = http_url("vault_url", &config.vault_url)?;
        plain_id("tenant_id", &config.tenant_id)?;
        plain_id("client_id", &config.client_id)?;
        let authority = http_url(
            "authority",
            config.authority.as_deref().unwrap_or(DEFAULT_AUTHORITY),
        )?;
        let token_url = format!("{authority}/{}/oauth2/v2.0/token", config.tenant_id);
        let http = http_client::build(config.ca_pem.as_deref(), config.timeout)?;
        Ok(Self {
            config,
            base,
            token_url,
            http,
            tokens: TokenCache::new(clock),
        })
    }

    /// A token for Key Vault by OAuth 2.0 client credentials (RFC 6749 §4.4) from Entra ID.
    async fn token(&self) -> VaultResult<Secret> {
        if let Some(t) = self.tokens.current() {
            return Ok(t);
        }
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.config.client_id.as_str()),
            ("client_secret", self.config.client_secret.expose()),
            ("scope", "https://vault.azure.net/.default"),
        ];
        let (status, body) =
            send(&self.token_url, self.http.post(&self.token_url).form(&form)).await?;
        if !status.is_success() {
            // Entra ID's `error` and `error_description` name the problem and hold no secret.
            let detail = body["error_description"]
                .as_str()
                .or(body["error"].as_str())
                .map(|d| d.lines().next().unwrap_or(d).to_owned())
                .unwrap_or_else(|| status.to_string());
            return Err(VaultError::Unauthorized {
                detail: format!("Entra ID token endpoint {}: {detail}", self.token_url),
            });
        }
        let token = body["access_token"].as_str().ok_or_else(|| {
            VaultError::Other(format!("{}: no access_token in the answer", self.token_url))
        })?;
        let token = Secret::new(token);
        self.tokens.keep(token.clone(), body["expires_in"].as_i64());
        Ok(token)
    }

    /// One Key Vault call; `path_and_query` starts with `/` and has no api-version yet.
    async fn call(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<Value>,
    ) -> VaultResult<(StatusCode, Value)> {
        let sep = if path_and_query.contains('?') {
            '&'
        } else {
            '?'
        };
        let url = format!(
            "{}{path_and_query}{sep}api-version={API_VERSION}",
            self.base
        );
        self.call_url(method, &url, body).await
    }

    async fn call_url(
        &self,
        method: Method,
        url: &str,
        body: Option<Value>,
    ) -> VaultResult<(StatusCode, Value)> {
        send_with_token(
            &self.http,
            &self.base,
            &self.tokens,
            || self.token(),
            method,
            url,
            body.as_ref(),
            true,
        )
        .await
    }

    fn refused(status: StatusCode, body: &Value) -> VaultError {
        let detail = body["error"]["message"]
            .as_str()
            .or(body["error"]["code"].as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| status.to_string());
        match status {
            StatusCode::UNAUTHORIZED => VaultError::Unauthorized { detail },
            StatusCode::FORBIDDEN => VaultError::Forbidden { detail },
            StatusCode::CONFLICT => VaultError::Conflict { detail },
            _ => VaultError::Other(format!("{status}: {detail}")),
        }
    }

    /// Every page of a listing: the first URL, then each `nextLink` — re-based on the vault's
    /// own address, so the token never goes to a host an answer names. A link seen before ends
    /// the listing (a real vault never repeats one; a mock that answers with a fixed example
    /// does).
    async fn pages(&self, first: &str) -> VaultResult<Option<Vec<Value>>> {
        let mut items = Vec::new();
        let mut seen = HashSet::new();
        let mut next = Some(first.to_owned());
        for _ in 0..MAX_PAGES {
            let Some(path) = next.take() else {
                return Ok(Some(items));
            };
            let (status, page) = if path.starts_with('/') {
                self.call(Method::GET, &path, None).await?
            } else {
                self.call_url(Method::GET, &path, None).await?
            };
            match status {
                StatusCode::NOT_FOUND => return Ok(None),
                s if s.is_success() => {}
                s => return Err(Self::refused(s, &page)),
            }
            if let Some(values) = page["value"].as_array() {
                items.extend(values.iter().cloned());
            }
            next = page["nextLink"]
                .as_str()
                .and_then(|link| url::Url::parse(link).ok())
                .map(|u| match u.query() {
                    Some(q) => format!("{}{}?{q}", self.base, u.path()),
                    None => format!("{}{}", self.base, u.path()),
                })
                .filter(|link| seen.insert(link.clone()));
        }
        Err(VaultError::Other(format!(
            "{first}: more than {MAX_PAGES} pages; listing stopped"
        )))
    }

    /// The newest enabled version of a secret, `None` when the secret does not exist.
    async fn newest_version(&self, name: &str) -> VaultResult<Option<String>> {
        let Some(versions) = self
            .pages(&format!("/secrets/{name}/versions?maxresults=25"))
            .await?
        else {
            return Ok(None);
        };
        Ok(versions
            .iter()
            .filter(|v| v["attributes"]["enabled"].as_bool() != Some(false))
            .max_by_key(|v| {
                v["attributes"]["updated"]
                    .as_i64()
                    .or(v["attributes"]["created"].as_i64())
                    .unwrap_or(0)
            })
            .and_then(|v| v["id"].as_str())
            .and_then(|id| id.rsplit('/').next())
            .filter(|v| !v.is_empty())
            .map(str::to_owned))
    }
}

#[async_trait]
impl Vault for AzureKeyVault {
    async fn check(&self) -> VaultResult<()> {
        let (status, body) = self
            .call(Method::GET, "/secrets?maxresults=1", None)
            .await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(Self::refused(status, &body))
        }
    }

    async fn put(&self, folder: &str, name: &str, secret: &VaultSecret) -> VaultResult<SecretRef> {
        let kv_name = key_vault_name(folder, name)?;
        let value = serde_json::to_string(&Payload::from(secret))
            .map_err(|e| VaultError::Other(e.to_string()))?;
        let body = json!({
            "value": value,
            "contentType": "application/json",
            "tags": {"alm-folder": folder, "alm-name": name},
        });
        let (status, answer) = self
            .call(Method::PUT, &format!("/secrets/{kv_name}"), Some(body))
            .await?;
        if !status.is_success() {
            return Err(Self::refused(status, &answer));
        }
        Ok(SecretRef(kv_name))
    }

    async fn find(&self, folder: &str, name: &str) -> VaultResult<Option<SecretRef>> {
        let kv_name = key_vault_name(folder, name)?;
        Ok(self
            .newest_version(&kv_name)
            .await?
            .map(|_| SecretRef(kv_name)))
    }

    async fn get(&self, id: &SecretRef) -> VaultResult<Option<VaultSecret>> {
        check_id(&id.0)?;
        let Some(version) = self.newest_version(&id.0).await? else {
            return Ok(None);
        };
        let (status, answer) = self
            .call(Method::GET, &format!("/secrets/{}/{version}", id.0), None)
            .await?;
        match status {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => {
                let payload: Payload = answer["value"]
                    .as_str()
                    .and_then(|v| serde_json::from_str(v).ok())
                    .ok_or_else(|| {
                        VaultError::Other(format!("{}: not a secret written by alm", id.0))
                    })?;
                Ok(Some(payload.into()))
            }
            s => Err(Self::refused(s, &answer)),
        }
    }

    async fn delete(&self, id: &SecretRef) -> VaultResult<()> {
        check_id(&id.0)?;
        let (status, answer) = self
            .call(Method::DELETE, &format!("/secrets/{}", id.0), None)
            .await?;
        if status.is_success() || status == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(Self::refused(status, &answer))
        }
    }

    async fn list(&self, folder: &str) -> VaultResult<Vec<String>> {
        crate::check_path("folder", folder).map_err(|e| VaultError::Config(e.to_string()))?;
        let items = self
            .pages("/secrets?maxresults=25")
            .await?
            .unwrap_or_default();
        let mut names: Vec<String> = items
            .iter()
            .filter(|i| i["tags"]["alm-folder"].as_str() == Some(folder))
            .filter_map(|i| i["tags"]["alm-name"].as_str().map(str::to_owned))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Azure Key Vault keeps no record of where a secret is used.
    async fn dependencies(&self, _id: &SecretRef) -> VaultResult<Option<Vec<VaultDependency>>> {
        Ok(None)
    }
}

/// An id handed back to alm is a Key Vault name alm made; anything else would change the URL.
fn check_id(id: &str) -> VaultResult<()> {
    if !id.is_empty()
        && id.len() <= MAX_NAME
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        Ok(())
    } else {
        Err(VaultError::Config(format!(
            "secret id: {id:?} is not a Key Vault secret name (letters, digits and -)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_and_name_become_a_key_vault_name_without_collisions() {
        assert_eq!(
            key_vault_name("alm/prod", "svc_db.01@corp").unwrap(),
            "alm-2fprod-2fsvc-5fdb-2e01-40corp"
        );
        // `-` is escaped too, so `a-b` and `a/b` never meet.
        assert_ne!(
            key_vault_name("alm", "a-b").unwrap(),
            key_vault_name("alm/a", "b").unwrap()
        );
        let long = "x".repeat(130);
        let err = key_vault_name("alm", &long).unwrap_err().to_string();
        assert!(err.contains("name:") && err.contains("127"), "{err}");
        assert!(key_vault_name("../x", "y")
            .unwrap_err()
            .to_string()
            .contains("folder"));
    }

    #[test]
    fn settings_are_checked_field_by_field() {
        let clock: Arc<dyn Clock> =
            Arc::new(alm_core::FixedClock::new(time::OffsetDateTime::UNIX_EPOCH));
        let good = AzureKeyVaultConfig {
            vault_url: "https://v.vault.azure.net".into(),
            tenant_id: "contoso.onmicrosoft.com".into(),
            client_id: "00000000-0000-0000-0000-000000000001".into(),
            client_secret: Secret::new("s"),
            authority: None,
            ca_pem: None,
            timeout: Duration::from_secs(1),
        };
        assert!(AzureKeyVault::new(good.clone(), clock.clone()).is_ok());
        for (config, field) in [
            (
                AzureKeyVaultConfig {
                    vault_url: "v.vault.azure.net".into(),
                    ..good.clone()
                },
                "vault_url",
            ),
            (
                AzureKeyVaultConfig {
                    tenant_id: "a/../b".into(),
                    ..good.clone()
                },
                "tenant_id",
            ),
            (
                AzureKeyVaultConfig {
                    client_id: "".into(),
                    ..good.clone()
                },
                "client_id",
            ),
            (
                AzureKeyVaultConfig {
                    authority: Some("ftp://x".into()),
                    ..good.clone()
                },
                "authority",
            ),
        ] {
            let err = AzureKeyVault::new(config, clock.clone())
                .unwrap_err()
                .to_string();
            assert!(err.contains(&format!("{field}:")), "{field}: {err}");
        }
    }
}

#[cfg(test)]
#[path = "azure_contract_tests.rs"]
mod contract_tests;

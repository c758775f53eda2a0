//! OpenBao / HashiCorp Vault, KV version 2, token authentication.
//!
//! A secret lives at `<mount>/data/<folder>/<name>`; its id is `<folder>/<name>`. Writes
//! replace the whole secret (a new KV version); deletes remove every version (metadata).

use crate::error::{from_transport, VaultError, VaultResult};
use crate::{http_client, Payload, SecretRef, Vault, VaultDependency, VaultSecret};
use alm_core::Secret;
use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct OpenBaoConfig {
    /// `https://vault.example.com:8200` (http only for a local dev server).
    pub address: String,
    pub token: Secret,
    /// The KV v2 mount, `secret` by default.
    pub mount: String,
    /// HashiCorp Vault Enterprise namespace, if any.
    pub namespace: Option<String>,
    pub ca_pem: Option<String>,
    pub timeout: Duration,
}

pub struct OpenBaoVault {
    config: OpenBaoConfig,
    base: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for OpenBaoVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenBaoVault")
            .field("address", &self.base)
            .field("mount", &self.config.mount)
            .finish()
    }
}

impl OpenBaoVault {
    pub fn new(config: OpenBaoConfig) -> VaultResult<Self> {
        let parsed = url::Url::parse(&config.address).map_err(|_| {
            VaultError::Config(format!("address: {:?} is not a URL", config.address))
        })?;
        if parsed.scheme() != "https" && parsed.scheme() != "http" {
            return Err(VaultError::Config(format!(
                "address: {:?} must be https://",
                config.address
            )));
        }
        crate::check_path("mount", &config.mount).map_err(|e| VaultError::Config(e.to_string()))?;
        let http = http_client::build(config.ca_pem.as_deref(), config.timeout)?;
        let base = config.address.trim_end_matches('/').to_owned();
        Ok(Self { config, base, http })
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> VaultResult<(StatusCode, Value)> {
        let url = format!("{}/v1/{path}", self.base);
        let mut req = self
            .http
            .request(method, &url)
            .header("X-Vault-Token", self.config.token.expose());
        if let Some(ns) = &self.config.namespace {
            req = req.header("X-Vault-Namespace", ns);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| from_transport(&self.base, e))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| from_transport(&self.base, e))?;
        let value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::Null)
        };
        Ok((status, value))
    }

    fn refused(status: StatusCode, body: &Value) -> VaultError {
        let detail = body["errors"]
            .as_array()
            .map(|e| {
                e.iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| status.to_string());
        match status {
            StatusCode::UNAUTHORIZED => VaultError::Unauthorized { detail },
            StatusCode::FORBIDDEN => VaultError::Forbidden { detail },
            StatusCode::BAD_REQUEST if detail.contains("check-and-set") => {
                VaultError::Conflict { detail }
            }
            _ => VaultError::Other(format!("{status}: {detail}")),
        }
    }

    fn data_path(&self, id: &str) -> String {
        format!("{}/data/{id}", self.config.mount)
    }

    fn metadata_path(&self, id: &str) -> String {
        format!("{}/metadata/{id}", self.config.mount)
    }
}

fn id(folder: &str, name: &str) -> VaultResult<String> {
    crate::check_path("folder", folder).map_err(|e| VaultError::Config(e.to_string()))?;
    crate::check_path("name", name).map_err(|e| VaultError::Config(e.to_string()))?;
    Ok(format!("{folder}/{name}"))
}

#[async_trait]
impl Vault for OpenBaoVault {
    async fn check(&self) -> VaultResult<()> {
        let (status, body) = self
            .call(Method::GET, "auth/token/lookup-self", None)
            .await?;
        match status {
            s if s.is_success() => Ok(()),
            // A bad token is "permission denied" (403) on lookup-self.
            StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => Err(VaultError::Unauthorized {
                detail: "the token is unknown or expired".into(),
            }),
            s => Err(Self::refused(s, &body)),
        }
    }

    async fn put(&self, folder: &str, name: &str, secret: &VaultSecret) -> VaultResult<SecretRef> {
        let id = id(folder, name)?;
        let body = json!({ "data": Payload::from(secret) });
        let (status, answer) = self
            .call(Method::POST, &self.data_path(&id), Some(body))
            .await?;
        if !status.is_success() {
            return Err(Self::refused(status, &answer));
        }
        Ok(SecretRef(id))
    }

    async fn find(&self, folder: &str, name: &str) -> VaultResult<Option<SecretRef>> {
        let id = id(folder, name)?;
        let (status, answer) = self
            .call(Method::GET, &self.metadata_path(&id), None)
            .await?;
        match status {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => Ok(Some(SecretRef(id))),
            s => Err(Self::refused(s, &answer)),
        }
    }

    async fn get(&self, id: &SecretRef) -> VaultResult<Option<VaultSecret>> {
        let (status, answer) = self.call(Method::GET, &self.data_path(&id.0), None).await?;
        match status {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => {
                let payload: Payload = serde_json::from_value(answer["data"]["data"].clone())
                    .map_err(|_| {
                        VaultError::Other(format!("{}: not a secret written by alm", id.0))
                    })?;
                Ok(Some(payload.into()))
            }
            s => Err(Self::refused(s, &answer)),
        }
    }

    async fn delete(&self, id: &SecretRef) -> VaultResult<()> {
        let (status, answer) = self
            .call(Method::DELETE, &self.metadata_path(&id.0), None)
            .await?;
        if status.is_success() || status == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(Self::refused(status, &answer))
        }
    }

    async fn list(&self, folder: &str) -> VaultResult<Vec<String>> {
        crate::check_path("folder", folder).map_err(|e| VaultError::Config(e.to_string()))?;
        let path = format!("{}?list=true", self.metadata_path(folder));
        let (status, answer) = self.call(Method::GET, &path, None).await?;
        match status {
            StatusCode::NOT_FOUND => Ok(Vec::new()),
            s if s.is_success() => Ok(answer["data"]["keys"]
                .as_array()
                .map(|keys| {
                    keys.iter()
                        .filter_map(|k| k.as_str())
                        .filter(|k| !k.ends_with('/'))
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()),
            s => Err(Self::refused(s, &answer)),
        }
    }

    /// OpenBao / HashiCorp Vault keep no record of where a secret is used.
    async fn dependencies(&self, _id: &SecretRef) -> VaultResult<Option<Vec<VaultDependency>>> {
        Ok(None)
    }
}

//! Delinea DevOps Secrets Vault (DSV): REST API v1, a bearer token by client credentials
//! (`POST /v1/token`, JSON body, as Delinea's own `python-dsv-sdk` sends it).
//!
//! A secret lives at the DSV path `<folder>/<name>`, its `data` holding domain, username,
//! password and notes; its id is that path. No published API description of DSV is on a
//! package registry, so this client follows Delinea's documentation and SDK and is not
//! contract-tested (see the README).

use crate::bearer_token::{send, send_with_token, TokenCache};
use crate::error::{VaultError, VaultResult};
use crate::{http_client, Payload, SecretRef, Vault, VaultDependency, VaultSecret};
use alm_core::{Clock, Secret};
use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// A listing stops after this many pages: a bound, not an expected size.
const MAX_PAGES: usize = 1_000;

#[derive(Debug, Clone)]
pub struct DsvConfig {
    /// `https://<tenant>.secretsvaultcloud.com` (http only for a local test server).
    pub address: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub ca_pem: Option<String>,
    pub timeout: Duration,
}

pub struct DevOpsSecretsVault {
    config: DsvConfig,
    base: String,
    http: reqwest::Client,
    tokens: TokenCache,
}

impl std::fmt::Debug for DevOpsSecretsVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevOpsSecretsVault")
            .field("address", &self.base)
            .field("client_id", &self.config.client_id)
            .finish()
    }
}

fn path(folder: &str, name: &str) -> VaultResult<String> {
    crate::check_path("folder", folder).map_err(|e| VaultError::Config(e.to_string()))?;
    crate::check_path("name", name).map_err(|e| VaultError::Config(e.to_string()))?;
    Ok(format!("{folder}/{name}"))
}

impl DevOpsSecretsVault {
    pub fn new(config: DsvConfig, clock: Arc<dyn Clock>) -> VaultResult<Self> {
        let parsed = url::Url::parse(&config.address).map_err(|_| {
            VaultError::Config(format!("address: {:?} is not a URL", config.address))
        })?;
        if parsed.scheme() != "https" && parsed.scheme() != "http" {
            return Err(VaultError::Config(format!(
                "address: {:?} must be https://",
                config.address
            )));
        }
        if config.client_id.trim().is_empty() || config.client_id.len() > 256 {
            return Err(VaultError::Config(
                "client_id: the DSV client id is required (at most 256 characters)".into(),
            ));
        }
        let http = http_client::build(config.ca_pem.as_deref(), config.timeout)?;
        let base = config.address.trim_end_matches('/').to_owned();
        Ok(Self {
            config,
            base,
            http,
            tokens: TokenCache::new(clock),
        })
    }

    async fn token(&self) -> VaultResult<Secret> {
        if let Some(t) = self.tokens.current() {
            return Ok(t);
        }
        let url = format!("{}/v1/token", self.base);
        let body = json!({
            "grant_type": "client_credentials",
            "client_id": self.config.client_id,
            "client_secret": self.config.client_secret.expose(),
        });
        let (status, answer) = send(&self.base, self.http.post(&url).json(&body)).await?;
        if !status.is_success() {
            return Err(VaultError::Unauthorized {
                detail: format!("{url}: {}", message(status, &answer)),
            });
        }
        let token = answer["accessToken"]
            .as_str()
            .ok_or_else(|| VaultError::Other(format!("{url}: no accessToken in the answer")))?;
        let token = Secret::new(token);
        self.tokens
            .keep(token.clone(), answer["expiresIn"].as_i64());
        Ok(token)
    }

    async fn call(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> VaultResult<(StatusCode, Value)> {
        let url = format!("{}/v1{path_and_query}", self.base);
        send_with_token(
            &self.http,
            &self.base,
            &self.tokens,
            || self.token(),
            method,
            &url,
            body,
            true,
        )
        .await
    }
}

/// DSV's error answers carry `message`; it names the problem and holds no secret.
fn message(status: StatusCode, body: &Value) -> String {
    body["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| status.to_string())
}

fn refused(status: StatusCode, body: &Value) -> VaultError {
    let detail = message(status, body);
    match status {
        StatusCode::UNAUTHORIZED => VaultError::Unauthorized { detail },
        StatusCode::FORBIDDEN => VaultError::Forbidden { detail },
        StatusCode::CONFLICT => VaultError::Conflict { detail },
        _ => VaultError::Other(format!("{status}: {detail}")),
    }
}

#[async_trait]
impl Vault for DevOpsSecretsVault {
    async fn check(&self) -> VaultResult<()> {
        self.token().await.map(|_| ())
    }

    async fn put(&self, folder: &str, name: &str, secret: &VaultSecret) -> VaultResult<SecretRef> {
        let path = path(folder, name)?;
        let body = json!({ "data": Payload::from(secret), "description": "written by alm" });
        // Update in place; a path that does not exist yet is created.
        let (status, answer) = self
            .call(Method::PUT, &format!("/secrets/{path}"), Some(&body))
            .await?;
        let (status, answer) = if status == StatusCode::NOT_FOUND {
            self.call(Method::POST, &format!("/secrets/{path}"), Some(&body))
                .await?
        } else {
            (status, answer)
        };
        if !status.is_success() {
            return Err(refused(status, &answer));
        }
        Ok(SecretRef(path))
    }

    async fn find(&self, folder: &str, name: &str) -> VaultResult<Option<SecretRef>> {
        let path = path(folder, name)?;
        let (status, answer) = self
            .call(Method::GET, &format!("/secrets/{path}"), None)
            .await?;
        match status {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => Ok(Some(SecretRef(path))),
            s => Err(refused(s, &answer)),
        }
    }

    async fn get(&self, id: &SecretRef) -> VaultResult<Option<VaultSecret>> {
        crate::check_path("secret id", &id.0).map_err(|e| VaultError::Config(e.to_string()))?;
        let (status, answer) = self
            .call(Method::GET, &format!("/secrets/{}", id.0), None)
            .await?;
        match status {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => {
                let payload: Payload =
                    serde_json::from_value(answer["data"].clone()).map_err(|_| {
                        VaultError::Other(format!("{}: not a secret written by alm", id.0))
                    })?;
                Ok(Some(payload.into()))
            }
            s => Err(refused(s, &answer)),
        }
    }

    async fn delete(&self, id: &SecretRef) -> VaultResult<()> {
        crate::check_path("secret id", &id.0).map_err(|e| VaultError::Config(e.to_string()))?;
        let (status, answer) = self
            .call(Method::DELETE, &format!("/secrets/{}", id.0), None)
            .await?;
        if status.is_success() || status == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(refused(status, &answer))
        }
    }

    async fn list(&self, folder: &str) -> VaultResult<Vec<String>> {
        crate::check_path("folder", folder).map_err(|e| VaultError::Config(e.to_string()))?;
        let prefix = format!("{folder}/");
        let mut names = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            // The serializer is not Send: finished before the await.
            let query = {
                let mut q = url::form_urlencoded::Serializer::new(String::new());
                q.append_pair("searchTerm", folder)
                    .append_pair("limit", "100");
                if let Some(c) = &cursor {
                    q.append_pair("cursor", c);
                }
                q.finish()
            };
            let (status, page) = self
                .call(Method::GET, &format!("/secrets?{query}"), None)
                .await?;
            if !status.is_success() {
                return Err(refused(status, &page));
            }
            for item in page["data"].as_array().into_iter().flatten() {
                let Some(p) = item["path"].as_str() else {
                    continue;
                };
                let p = p.trim_start_matches('/').replace(':', "/");
                if let Some(rest) = p.strip_prefix(&prefix) {
                    if !rest.is_empty() && !rest.contains('/') {
                        names.push(rest.to_owned());
                    }
                }
            }
            cursor = page["cursor"]
                .as_str()
                .filter(|c| !c.is_empty() && Some(*c) != cursor.as_deref())
                .map(str::to_owned);
            if cursor.is_none() {
                names.sort();
                names.dedup();
                return Ok(names);
            }
        }
        Err(VaultError::Other(format!(
            "{folder}: more than {MAX_PAGES} pages; listing stopped"
        )))
    }

    /// DevOps Secrets Vault keeps no record of where a secret is used.
    async fn dependencies(&self, _id: &SecretRef) -> VaultResult<Option<Vec<VaultDependency>>> {
        Ok(None)
    }
}

//! Delinea Secret Server: REST API v1 with a bearer token — either given (an API token) or by
//! the OAuth password grant (`POST /oauth2/token`, form body, as Delinea's own
//! `python-tss-sdk` sends it).
//!
//! alm keeps its secrets in one Secret Server folder (`folder_id`) from one template
//! (`template_id`, default 6001 "Active Directory Account", whose fields have the slugs
//! `domain`, `username`, `password`, `notes`); alm's `<folder>/<name>` is the secret's name.
//! A secret is created from the server's own stub (`GET /secrets/stub`), so the template's
//! other fields keep their defaults; its id is Secret Server's numeric id. No published API
//! description of Secret Server is on a package registry, so this client follows Delinea's
//! documentation and SDK and is not contract-tested (see the README).

use crate::bearer_token::{send, send_with_token, TokenCache};
use crate::error::{VaultError, VaultResult};
use crate::{http_client, SecretRef, Vault, VaultDependency, VaultSecret};
use alm_core::{Clock, Secret};
use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// The "Active Directory Account" template that Secret Server installs.
pub const DEFAULT_TEMPLATE_ID: u32 = 6001;
const PAGE: usize = 100;
const MAX_PAGES: usize = 1_000;

/// How alm logs in.
#[derive(Debug, Clone)]
pub enum SecretServerAuth {
    /// A token made in Secret Server (sent as the bearer token as it is).
    Token(Secret),
    /// The OAuth password grant of a Secret Server user (local or `domain`).
    Password {
        username: String,
        password: Secret,
        domain: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct SecretServerConfig {
    /// `https://<tenant>.secretservercloud.com` or an on-premises `https://host/SecretServer`.
    pub address: String,
    pub auth: SecretServerAuth,
    /// The folder alm writes into.
    pub folder_id: u32,
    pub template_id: u32,
    pub ca_pem: Option<String>,
    pub timeout: Duration,
}

pub struct SecretServer {
    config: SecretServerConfig,
    base: String,
    http: reqwest::Client,
    tokens: TokenCache,
}

impl std::fmt::Debug for SecretServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretServer")
            .field("address", &self.base)
            .field("folder_id", &self.config.folder_id)
            .finish()
    }
}

const FIELDS: [&str; 4] = ["domain", "username", "password", "notes"];

fn secret_name(folder: &str, name: &str) -> VaultResult<String> {
    crate::check_path("folder", folder).map_err(|e| VaultError::Config(e.to_string()))?;
    crate::check_path("name", name).map_err(|e| VaultError::Config(e.to_string()))?;
    Ok(format!("{folder}/{name}"))
}

fn numeric_id(id: &SecretRef) -> VaultResult<u64> {
    id.0.parse().map_err(|_| {
        VaultError::Config(format!(
            "secret id: {:?} is not a Secret Server secret id (a number)",
            id.0
        ))
    })
}

impl SecretServer {
    pub fn new(config: SecretServerConfig, clock: Arc<dyn Clock>) -> VaultResult<Self> {
        let parsed = url::Url::parse(&config.address).map_err(|_| {
            VaultError::Config(format!("address: {:?} is not a URL", config.address))
        })?;
        if parsed.scheme() != "https" && parsed.scheme() != "http" {
            return Err(VaultError::Config(format!(
                "address: {:?} must be https://",
                config.address
            )));
        }
        if config.folder_id == 0 {
            return Err(VaultError::Config(
                "folder_id: the id of the Secret Server folder alm writes into is required".into(),
            ));
        }
        if config.template_id == 0 {
            return Err(VaultError::Config(
                "template_id: must be a Secret Server template id (6001 is Active Directory Account)"
                    .into(),
            ));
        }
        if let SecretServerAuth::Password { username, .. } = &config.auth {
            if username.trim().is_empty() {
                return Err(VaultError::Config(
                    "username: required for the password grant".into(),
                ));
            }
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
        let (username, password, domain) = match &self.config.auth {
            SecretServerAuth::Token(t) => return Ok(t.clone()),
            SecretServerAuth::Password {
                username,
                password,
                domain,
            } => (username, password, domain),
        };
        if let Some(t) = self.tokens.current() {
            return Ok(t);
        }
        let url = format!("{}/oauth2/token", self.base);
        let mut form = vec![
            ("grant_type", "password"),
            ("username", username.as_str()),
            ("password", password.expose()),
        ];
        if let Some(d) = domain {
            form.push(("domain", d.as_str()));
        }
        let (status, answer) = send(&self.base, self.http.post(&url).form(&form)).await?;
        if !status.is_success() {
            let detail = answer["error"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| status.to_string());
            return Err(VaultError::Unauthorized {
                detail: format!("{url}: {detail}"),
            });
        }
        let token = answer["access_token"]
            .as_str()
            .ok_or_else(|| VaultError::Other(format!("{url}: no access_token in the answer")))?;
        let token = Secret::new(token);
        self.tokens
            .keep(token.clone(), answer["expires_in"].as_i64());
        Ok(token)
    }

    async fn call(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> VaultResult<(StatusCode, Value)> {
        let url = format!("{}/api/v1{path_and_query}", self.base);
        // A given token cannot be renewed by alm: its 401 is the answer.
        let renewable = !matches!(self.config.auth, SecretServerAuth::Token(_));
        send_with_token(
            &self.http,
            &self.base,
            &self.tokens,
            || self.token(),
            method,
            &url,
            body,
            renewable,
        )
        .await
    }

    /// The secrets of alm's folder whose name contains `text`: (id, name).
    async fn search(&self, text: &str) -> VaultResult<Vec<(u64, String)>> {
        let mut found = Vec::new();
        for page in 0..MAX_PAGES {
            // The serializer is not Send: finished before the await.
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("filter.folderId", &self.config.folder_id.to_string())
                .append_pair("filter.includeSubFolders", "false")
                .append_pair("filter.searchText", text)
                .append_pair("take", &PAGE.to_string())
                .append_pair("skip", &(page * PAGE).to_string())
                .finish();
            let (status, body) = self
                .call(Method::GET, &format!("/secrets?{query}"), None)
                .await?;
            if !status.is_success() {
                return Err(refused(status, &body));
            }
            let records = body["records"].as_array().cloned().unwrap_or_default();
            for r in &records {
                if let (Some(id), Some(name)) = (r["id"].as_u64(), r["name"].as_str()) {
                    found.push((id, name.to_owned()));
                }
            }
            if records.len() < PAGE || body["hasNext"].as_bool() == Some(false) {
                return Ok(found);
            }
        }
        Err(VaultError::Other(format!(
            "search {text:?}: more than {MAX_PAGES} pages; stopped"
        )))
    }
}

/// Secret Server's error answers carry `message` (and `errorCode`); no secret is in them.
fn refused(status: StatusCode, body: &Value) -> VaultError {
    let detail = body["message"]
        .as_str()
        .or(body["errorCode"].as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| status.to_string());
    match status {
        StatusCode::UNAUTHORIZED => VaultError::Unauthorized { detail },
        StatusCode::FORBIDDEN => VaultError::Forbidden { detail },
        StatusCode::CONFLICT => VaultError::Conflict { detail },
        _ => VaultError::Other(format!("{status}: {detail}")),
    }
}

/// Writes alm's four fields into a secret model's `items` (by slug); a template without one of
/// them is named, not silently skipped.
fn fill(model: &mut Value, secret: &VaultSecret) -> VaultResult<()> {
    let values = [
        secret.domain.as_str(),
        secret.username.as_str(),
        secret.password.expose(),
        secret.notes.as_str(),
    ];
    let items = model["items"]
        .as_array_mut()
        .ok_or_else(|| VaultError::Other("the secret model has no items".into()))?;
    for (slug, value) in FIELDS.iter().zip(values) {
        let item = items
            .iter_mut()
            .find(|i| i["slug"].as_str() == Some(slug))
            .ok_or_else(|| {
                VaultError::Config(format!(
                    "template_id: the template has no field with the slug {slug:?}; use one with domain, username, password and notes (6001 Active Directory Account)"
                ))
            })?;
        item["itemValue"] = Value::String(value.to_owned());
    }
    Ok(())
}

#[async_trait]
impl Vault for SecretServer {
    async fn check(&self) -> VaultResult<()> {
        let (status, body) = self.call(Method::GET, "/users/current", None).await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(refused(status, &body))
        }
    }

    async fn put(&self, folder: &str, name: &str, secret: &VaultSecret) -> VaultResult<SecretRef> {
        let wanted = secret_name(folder, name)?;
        if let Some(existing) = self.find(folder, name).await? {
            let id = numeric_id(&existing)?;
            let (status, mut model) = self
                .call(Method::GET, &format!("/secrets/{id}"), None)
                .await?;
            if !status.is_success() {
                return Err(refused(status, &model));
            }
            fill(&mut model, secret)?;
            let (status, answer) = self
                .call(Method::PUT, &format!("/secrets/{id}"), Some(&model))
                .await?;
            if !status.is_success() {
                return Err(refused(status, &answer));
            }
            return Ok(existing);
        }
        let stub = format!(
            "/secrets/stub?filter.secretTemplateId={}&filter.folderId={}",
            self.config.template_id, self.config.folder_id
        );
        let (status, mut model) = self.call(Method::GET, &stub, None).await?;
        if !status.is_success() {
            return Err(refused(status, &model));
        }
        model["name"] = Value::String(wanted);
        model["folderId"] = Value::from(self.config.folder_id);
        model["secretTemplateId"] = Value::from(self.config.template_id);
        fill(&mut model, secret)?;
        let (status, answer) = self.call(Method::POST, "/secrets", Some(&model)).await?;
        if !status.is_success() {
            return Err(refused(status, &answer));
        }
        let id = answer["id"]
            .as_u64()
            .ok_or_else(|| VaultError::Other("the created secret has no id".into()))?;
        Ok(SecretRef(id.to_string()))
    }

    async fn find(&self, folder: &str, name: &str) -> VaultResult<Option<SecretRef>> {
        let wanted = secret_name(folder, name)?;
        Ok(self
            .search(&wanted)
            .await?
            .into_iter()
            .find(|(_, n)| *n == wanted)
            .map(|(id, _)| SecretRef(id.to_string())))
    }

    async fn get(&self, id: &SecretRef) -> VaultResult<Option<VaultSecret>> {
        let n = numeric_id(id)?;
        let (status, model) = self
            .call(Method::GET, &format!("/secrets/{n}"), None)
            .await?;
        match status {
            StatusCode::NOT_FOUND => return Ok(None),
            s if !s.is_success() => return Err(refused(s, &model)),
            _ => {}
        }
        // A deleted secret is still readable by id in Secret Server, marked inactive.
        if model["active"].as_bool() == Some(false) {
            return Ok(None);
        }
        let field = |slug: &str| {
            model["items"]
                .as_array()
                .and_then(|items| items.iter().find(|i| i["slug"].as_str() == Some(slug)))
                .and_then(|i| i["itemValue"].as_str())
                .map(str::to_owned)
        };
        let (Some(domain), Some(username), Some(password)) =
            (field("domain"), field("username"), field("password"))
        else {
            return Err(VaultError::Other(format!(
                "secret {n}: not a secret written by alm (no domain, username or password field)"
            )));
        };
        Ok(Some(VaultSecret {
            domain,
            username,
            password: Secret::new(password),
            notes: field("notes").unwrap_or_default(),
        }))
    }

    async fn delete(&self, id: &SecretRef) -> VaultResult<()> {
        let n = numeric_id(id)?;
        let (status, answer) = self
            .call(Method::DELETE, &format!("/secrets/{n}"), None)
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
        let mut names: Vec<String> = self
            .search(&prefix)
            .await?
            .into_iter()
            .filter_map(|(_, n)| n.strip_prefix(&prefix).map(str::to_owned))
            .filter(|rest| !rest.is_empty() && !rest.contains('/'))
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// The secret's dependencies (`GET /secret-dependencies?filter.secretId=`, paged): each
    /// enabled one with a machine and a service name. Disabled ones are left out: Secret
    /// Server no longer runs them, so they say nothing of where the account is used.
    async fn dependencies(&self, id: &SecretRef) -> VaultResult<Option<Vec<VaultDependency>>> {
        let n = numeric_id(id)?;
        let mut found = Vec::new();
        for page in 0..MAX_PAGES {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("filter.secretId", &n.to_string())
                .append_pair("take", &PAGE.to_string())
                .append_pair("skip", &(page * PAGE).to_string())
                .finish();
            let (status, body) = self
                .call(Method::GET, &format!("/secret-dependencies?{query}"), None)
                .await?;
            if !status.is_success() {
                return Err(refused(status, &body));
            }
            let records = body["records"].as_array().cloned().unwrap_or_default();
            for r in &records {
                if r["enabled"].as_bool() == Some(false) {
                    continue;
                }
                let text = |key: &str| r[key].as_str().unwrap_or("").trim().to_owned();
                let (host, service_name) = (text("machineName"), text("serviceName"));
                if !host.is_empty() && !service_name.is_empty() {
                    found.push(VaultDependency {
                        host,
                        service_name,
                        kind: text("typeName"),
                    });
                }
            }
            if records.len() < PAGE || body["hasNext"].as_bool() == Some(false) {
                return Ok(Some(found));
            }
        }
        Err(VaultError::Other(format!(
            "dependencies of secret {n}: more than {MAX_PAGES} pages; stopped"
        )))
    }
}

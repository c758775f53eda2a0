//! AWS Secrets Manager over its JSON 1.1 API, requests signed with SigV4 (`aws-sigv4`; the
//! full SDK would cost minutes of build for five calls). Time for signatures comes from the
//! injected clock.
//!
//! A secret is named `<folder>/<name>`; its id is the ARN Secrets Manager gives it.

use crate::error::{from_transport, VaultError, VaultResult};
use crate::{http_client, Payload, SecretRef, Vault, VaultDependency, VaultSecret};
use alm_core::{Clock, Secret};
use async_trait::async_trait;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

#[derive(Debug, Clone)]
pub struct AwsConfig {
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: Secret,
    /// `https://secretsmanager.<region>.amazonaws.com` when `None`; set for endpoints in a VPC
    /// or for a local test server.
    pub endpoint: Option<String>,
    pub ca_pem: Option<String>,
    pub timeout: Duration,
}

pub struct AwsSecretsManager {
    config: AwsConfig,
    endpoint: String,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for AwsSecretsManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsSecretsManager")
            .field("endpoint", &self.endpoint)
            .field("key", &self.config.access_key_id)
            .finish()
    }
}

impl AwsSecretsManager {
    pub fn new(config: AwsConfig, clock: Arc<dyn Clock>) -> VaultResult<Self> {
        let region_ok = !config.region.is_empty()
            && config
                .region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !region_ok {
            return Err(VaultError::Config(format!(
                "region: {:?} is not an AWS region such as eu-west-1",
                config.region
            )));
        }
        let endpoint = config
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("https://secretsmanager.{}.amazonaws.com", config.region))
            .trim_end_matches('/')
            .to_owned();
        url::Url::parse(&endpoint)
            .map_err(|_| VaultError::Config(format!("endpoint: {endpoint:?} is not a URL")))?;
        let http = http_client::build(config.ca_pem.as_deref(), config.timeout)?;
        Ok(Self {
            config,
            endpoint,
            http,
            clock,
        })
    }

    /// One signed call of the Secrets Manager API (`action` as in `X-Amz-Target`).
    async fn call(&self, action: &str, body: Value) -> VaultResult<(u16, Value)> {
        let body = body.to_string().into_bytes();
        let url = format!("{}/", self.endpoint);
        let host = url::Url::parse(&url).ok().and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_owned(),
            })
        });
        let target = format!("secretsmanager.{action}");
        let headers = [
            ("content-type", "application/x-amz-json-1.1".to_owned()),
            ("x-amz-target", target),
            ("host", host.unwrap_or_default()),
        ];
        let identity = Credentials::new(
            &self.config.access_key_id,
            self.config.secret_access_key.expose(),
            None,
            None,
            "alm",
        )
        .into();
        let nanos = self.clock.now().unix_timestamp_nanos().max(0) as u64;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.config.region)
            .name("secretsmanager")
            .time(SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos))
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| VaultError::Config(e.to_string()))?
            .into();
        let signable = SignableRequest::new(
            "POST",
            &url,
            headers.iter().map(|(k, v)| (*k, v.as_str())),
            SignableBody::Bytes(&body),
        )
        .map_err(|e| VaultError::Other(e.to_string()))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| VaultError::Other(e.to_string()))?
            .into_parts();
        let mut request = http::Request::builder().method("POST").uri(&url);
        for (k, v) in &headers {
            request = request.header(*k, v);
        }
        let mut request = request
            .body(body)
            .map_err(|e| VaultError::Other(e.to_string()))?;
        instructions.apply_to_request_http1x(&mut request);
        let request =
            reqwest::Request::try_from(request).map_err(|e| VaultError::Other(e.to_string()))?;
        let resp = self
            .http
            .execute(request)
            .await
            .map_err(|e| from_transport(&self.endpoint, e))?;
        let status = resp.status().as_u16();
        let text = resp
            .text()
            .await
            .map_err(|e| from_transport(&self.endpoint, e))?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    fn refused(status: u16, body: &Value) -> VaultError {
        let kind = body["__type"]
            .as_str()
            .unwrap_or("")
            .rsplit('#')
            .next()
            .unwrap_or("")
            .to_owned();
        let message = body["message"]
            .as_str()
            .or_else(|| body["Message"].as_str())
            .unwrap_or("")
            .to_owned();
        let detail = format!("{kind}: {message}");
        match kind.as_str() {
            "UnrecognizedClientException"
            | "InvalidSignatureException"
            | "SignatureDoesNotMatch"
            | "IncompleteSignature"
            | "ExpiredTokenException" => VaultError::Unauthorized { detail },
            "AccessDeniedException" | "AccessDenied" => VaultError::Forbidden { detail },
            _ if status == 403 => VaultError::Unauthorized { detail },
            _ => VaultError::Other(format!("{status} {detail}")),
        }
    }

    fn is_missing(body: &Value) -> bool {
        body["__type"]
            .as_str()
            .is_some_and(|t| t.ends_with("ResourceNotFoundException"))
    }

    async fn describe(&self, secret_id: &str) -> VaultResult<Option<Value>> {
        let (status, body) = self
            .call("DescribeSecret", json!({ "SecretId": secret_id }))
            .await?;
        match status {
            200 => Ok(Some(body)),
            _ if Self::is_missing(&body) => Ok(None),
            s => Err(Self::refused(s, &body)),
        }
    }
}

#[async_trait]
impl Vault for AwsSecretsManager {
    async fn check(&self) -> VaultResult<()> {
        let (status, body) = self.call("ListSecrets", json!({ "MaxResults": 1 })).await?;
        if status == 200 {
            Ok(())
        } else {
            Err(Self::refused(status, &body))
        }
    }

    async fn put(&self, folder: &str, name: &str, secret: &VaultSecret) -> VaultResult<SecretRef> {
        crate::check_path("folder", folder).map_err(|e| VaultError::Config(e.to_string()))?;
        crate::check_path("name", name).map_err(|e| VaultError::Config(e.to_string()))?;
        let full = format!("{folder}/{name}");
        let value = serde_json::to_string(&Payload::from(secret))
            .map_err(|e| VaultError::Other(e.to_string()))?;
        if let Some(existing) = self.describe(&full).await? {
            let arn = existing["ARN"].as_str().unwrap_or(&full).to_owned();
            let (status, body) = self
                .call(
                    "PutSecretValue",
                    json!({ "SecretId": arn, "SecretString": value }),
                )
                .await?;
            if status != 200 {
                return Err(Self::refused(status, &body));
            }
            return Ok(SecretRef(arn));
        }
        let (status, body) = self
            .call(
                "CreateSecret",
                json!({ "Name": full, "SecretString": value, "Description": "managed by alm" }),
            )
            .await?;
        if status != 200 {
            return Err(Self::refused(status, &body));
        }
        body["ARN"]
            .as_str()
            .map(|a| SecretRef(a.to_owned()))
            .ok_or_else(|| VaultError::Other("CreateSecret returned no ARN".into()))
    }

    async fn find(&self, folder: &str, name: &str) -> VaultResult<Option<SecretRef>> {
        let full = format!("{folder}/{name}");
        Ok(self
            .describe(&full)
            .await?
            .and_then(|d| d["ARN"].as_str().map(|a| SecretRef(a.to_owned()))))
    }

    async fn get(&self, id: &SecretRef) -> VaultResult<Option<VaultSecret>> {
        let (status, body) = self
            .call("GetSecretValue", json!({ "SecretId": id.0 }))
            .await?;
        match status {
            200 => {
                let text = body["SecretString"].as_str().unwrap_or("");
                let payload: Payload = serde_json::from_str(text).map_err(|_| {
                    VaultError::Other(format!("{}: not a secret written by alm", id.0))
                })?;
                Ok(Some(payload.into()))
            }
            _ if Self::is_missing(&body) => Ok(None),
            s => Err(Self::refused(s, &body)),
        }
    }

    async fn delete(&self, id: &SecretRef) -> VaultResult<()> {
        let (status, body) = self
            .call(
                "DeleteSecret",
                json!({ "SecretId": id.0, "ForceDeleteWithoutRecovery": true }),
            )
            .await?;
        match status {
            200 => Ok(()),
            _ if Self::is_missing(&body) => Ok(()),
            s => Err(Self::refused(s, &body)),
        }
    }

    async fn list(&self, folder: &str) -> VaultResult<Vec<String>> {
        let prefix = format!("{folder}/");
        let mut names = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let mut req =
                json!({ "Filters": [{ "Key": "name", "Values": [prefix] }], "MaxResults": 100 });
            if let Some(token) = &next {
                req["NextToken"] = json!(token);
            }
            let (status, body) = self.call("ListSecrets", req).await?;
            if status != 200 {
                return Err(Self::refused(status, &body));
            }
            for s in body["SecretList"].as_array().into_iter().flatten() {
                if let Some(rest) = s["Name"].as_str().and_then(|n| n.strip_prefix(&prefix)) {
                    if !rest.contains('/') {
                        names.push(rest.to_owned());
                    }
                }
            }
            next = body["NextToken"].as_str().map(str::to_owned);
            if next.is_none() {
                break;
            }
        }
        names.sort();
        Ok(names)
    }

    /// AWS Secrets Manager keeps no record of where a secret is used.
    async fn dependencies(&self, _id: &SecretRef) -> VaultResult<Option<Vec<VaultDependency>>> {
        Ok(None)
    }
}

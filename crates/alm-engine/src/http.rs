//! The remote engine's side of the protocol: HTTPS + JSON to the server with the engine's own
//! credential as a bearer token. Plain HTTP is accepted only to a loopback address (a server
//! on the same machine), never across a network.

use crate::protocol::{
    CheckTargets, Completion, Heartbeat, LeaseRequest, LeaseResponse, LogBatch, RegisterRequest,
    RegisterResponse, Secret, CHECK_TARGETS_PATH, COMPLETE_PATH, HEARTBEAT_PATH, LEASE_PATH,
    LOGS_PATH, REGISTER_PATH,
};
use crate::transport::{Transport, TransportError};
use async_trait::async_trait;
use std::time::Duration;
use url::Url;

/// Checks the server URL: `https://…`, or `http://` to a loopback address.
pub fn server_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text.trim_end_matches('/'))
        .map_err(|_| format!("--server: {text:?} is not a URL such as https://alm.example.com"))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(format!(
            "--server: {text:?} uses plain http to another machine; use https:// (the engine's credential and the directory passwords it receives must not cross the network in clear)"
        )),
        _ => Err(format!("--server: {text:?} must start with https://")),
    }
}

fn client(ca_pem: Option<&str>, timeout: Duration) -> Result<reqwest::Client, String> {
    let tls = alm_tls::client_config(ca_pem).map_err(|e| format!("--server-ca: {e}"))?;
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .build()
        .map_err(|e| e.to_string())
}

fn endpoint(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let prefix = base.path().trim_end_matches('/');
    url.set_path(&format!("{prefix}{path}"));
    url
}

/// The problem text of a problem+json answer, or the status line.
async fn problem_text(response: reqwest::Response) -> String {
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    body["detail"]
        .as_str()
        .or(body["title"].as_str())
        .map(|d| format!("{status}: {d}"))
        .unwrap_or_else(|| status.to_string())
}

async fn classify(response: reqwest::Response) -> Result<reqwest::Response, TransportError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let text = problem_text(response).await;
    Err(match status.as_u16() {
        401 | 403 => TransportError::Refused(text),
        409 | 410 => TransportError::LeaseLost(text),
        _ => TransportError::Unavailable(text),
    })
}

fn unavailable(e: reqwest::Error) -> TransportError {
    TransportError::Unavailable(alm_core::error_chain::error_chain(&e))
}

/// Registers with an activation token; returns the engine's id and credential.
pub async fn register(
    server: &Url,
    ca_pem: Option<&str>,
    request: &RegisterRequest,
) -> Result<RegisterResponse, String> {
    let client = client(ca_pem, Duration::from_secs(30))?;
    let response = client
        .post(endpoint(server, REGISTER_PATH))
        .json(request)
        .send()
        .await
        .map_err(|e| {
            format!(
                "cannot reach the server at {server}: {}",
                alm_core::error_chain::error_chain(&e)
            )
        })?;
    if !response.status().is_success() {
        return Err(format!(
            "the server refused the registration ({})",
            problem_text(response).await
        ));
    }
    response
        .json()
        .await
        .map_err(|e| format!("the server's answer to the registration is not understood: {e}"))
}

/// Why the server did not give `alm engine check` its targets, as the kinds the check says
/// different things about.
#[derive(Debug, thiserror::Error)]
pub enum ServerCheckError {
    /// No connection, or no answer in time.
    #[error("{0}")]
    Unreachable(String),
    /// The TLS handshake failed: the server's certificate is not trusted or does not name it.
    #[error("{0}")]
    Tls(String),
    /// 401: the server does not know the engine's credential.
    #[error("{0}")]
    Refused(String),
    /// 409: reached and the credential accepted, but the engine serves no pool yet.
    #[error("{0}")]
    NotServing(String),
    /// 404: a server older than this check.
    #[error("{0}")]
    Unsupported(String),
    /// Any other answer.
    #[error("{0}")]
    Failed(String),
}

/// Asks the server, with the engine's credential, for what `alm engine check` tests; waits at
/// most `timeout`.
pub async fn check_targets(
    server: &Url,
    ca_pem: Option<&str>,
    credential: &Secret,
    timeout: Duration,
) -> Result<CheckTargets, ServerCheckError> {
    let client = client(ca_pem, timeout).map_err(ServerCheckError::Failed)?;
    let response = client
        .get(endpoint(server, CHECK_TARGETS_PATH))
        .bearer_auth(credential.expose())
        .send()
        .await
        .map_err(|e| match alm_tls::tls_error_in(&e) {
            Some(tls) => ServerCheckError::Tls(tls.to_string()),
            None if e.is_timeout() => {
                ServerCheckError::Unreachable(format!("no answer in {} s", timeout.as_secs()))
            }
            None => {
                ServerCheckError::Unreachable(alm_core::error_chain::error_chain(&e.without_url()))
            }
        })?;
    let status = response.status();
    if status.is_success() {
        return response.json().await.map_err(|e| {
            ServerCheckError::Failed(format!("the server's answer is not understood: {e}"))
        });
    }
    let text = problem_text(response).await;
    Err(match status.as_u16() {
        401 => ServerCheckError::Refused(text),
        409 => ServerCheckError::NotServing(text),
        404 => ServerCheckError::Unsupported(text),
        _ => ServerCheckError::Failed(text),
    })
}

pub struct HttpTransport {
    client: reqwest::Client,
    base: Url,
    credential: Secret,
}

impl HttpTransport {
    pub fn new(base: Url, ca_pem: Option<&str>, credential: Secret) -> Result<Self, String> {
        // Longer than the longest long poll the runner asks for.
        let client = client(ca_pem, Duration::from_secs(120))?;
        Ok(Self {
            client,
            base,
            credential,
        })
    }

    async fn post<B: serde::Serialize>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<reqwest::Response, TransportError> {
        let response = self
            .client
            .post(endpoint(&self.base, path))
            .bearer_auth(self.credential.expose())
            .json(body)
            .send()
            .await
            .map_err(unavailable)?;
        classify(response).await
    }
}

#[async_trait]
impl Transport for HttpTransport {
    async fn lease(&self, request: LeaseRequest) -> Result<LeaseResponse, TransportError> {
        self.post(LEASE_PATH, &request)
            .await?
            .json()
            .await
            .map_err(unavailable)
    }

    async fn complete(&self, job_id: &str, completion: Completion) -> Result<(), TransportError> {
        self.post(&COMPLETE_PATH.replace("{id}", job_id), &completion)
            .await
            .map(drop)
    }

    async fn heartbeat(&self, heartbeat: Heartbeat) -> Result<(), TransportError> {
        self.post(HEARTBEAT_PATH, &heartbeat).await.map(drop)
    }

    async fn logs(&self, batch: LogBatch) -> Result<(), TransportError> {
        self.post(LOGS_PATH, &batch).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_must_be_https_unless_local() {
        assert!(server_url("https://alm.example.com").is_ok());
        assert!(server_url("http://127.0.0.1:8080").is_ok());
        assert!(server_url("http://localhost:8080/").is_ok());
        assert!(server_url("http://[::1]:8080").is_ok());
        let remote = server_url("http://alm.example.com").unwrap_err();
        assert!(remote.contains("https://"), "{remote}");
        assert!(server_url("ftp://alm.example.com").is_err());
        assert!(server_url("not a url")
            .unwrap_err()
            .starts_with("--server:"));
    }

    #[test]
    fn endpoints_keep_a_path_prefix() {
        let base = Url::parse("https://h/alm").unwrap();
        assert_eq!(
            endpoint(&base, LEASE_PATH).as_str(),
            "https://h/alm/api/v1/engine/lease"
        );
    }
}

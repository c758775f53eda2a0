//! Sending one webhook call: render, sign, authorise, POST, classify. The only place a
//! callback is called. It does not retry later, store history or read `enabled`: the server's
//! outbox decides when to call, records the returned [`DeliveryOutcome`] and reschedules when it
//! says `retryable`. Within one call, the only repeat is the single new-token retry after a 401
//! with OAuth authorization.
//!
//! Every call is a `POST` with these headers: the custom ones, `Content-Type` (the
//! definition's), `User-Agent: alm/<version>`, `X-Alm-Event` (the event key), `X-Alm-Delivery`
//! (the caller's delivery id, the same on every attempt, so receivers can drop duplicates),
//! `X-Alm-Signature` (see `signature.rs`), `Authorization` when configured, and
//! `X-Alm-Test: true` on test calls. Redirects are not followed.

use crate::body::{render_body, sample_parameters};
use crate::definition::{Authorization, WebhookDefinition};
use crate::outcome::{
    excerpt, retryable_status, scrub, DeliveryError, DeliveryErrorKind, DeliveryOutcome,
    EXCERPT_MAX_BYTES,
};
use crate::signature::{signature_header, SIGNATURE_HEADER};
use crate::token_cache::TokenCache;
use crate::validation::{header_name, header_value, outbound_url};
use alm_core::error_chain::error_chain;
use alm_core::{Clock, Secret};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// The `User-Agent` of every call.
pub const USER_AGENT_VALUE: &str = concat!("alm/", env!("CARGO_PKG_VERSION"));

/// Limits and trust for outbound calls.
#[derive(Debug, Clone)]
pub struct SenderConfig {
    /// Longest wait for the TCP + TLS connection.
    pub connect_timeout: Duration,
    /// Longest wait for each HTTP request (connection, request, answer). One send makes at
    /// most four: token, call, and after a 401 a new token and the call again.
    pub timeout: Duration,
    /// PEM CA certificate(s) to trust for https callbacks; `None` trusts the system's store.
    pub ca_pem: Option<String>,
}

impl Default for SenderConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
            ca_pem: None,
        }
    }
}

/// The TLS or HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("webhook sender: {0}")]
pub struct SenderBuildError(String);

/// Sends webhook calls; cheap to clone (the HTTP client and the token cache are shared).
#[derive(Debug, Clone)]
pub struct WebhookSender {
    http: reqwest::Client,
    tokens: Arc<TokenCache>,
}

/// One call's authorization, kept to retry after a 401.
enum Auth<'a> {
    None,
    Basic(&'a str, &'a Secret),
    Bearer(&'a crate::definition::OAuthClientCredentials, Secret),
}

impl WebhookSender {
    /// A sender whose token cache reads the time from `clock`.
    pub fn new(config: &SenderConfig, clock: Arc<dyn Clock>) -> Result<Self, SenderBuildError> {
        let tls = alm_tls::client_config(config.ca_pem.as_deref())
            .map_err(|e| SenderBuildError(e.to_string()))?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .build()
            .map_err(|e| SenderBuildError(e.to_string()))?;
        Ok(Self {
            http,
            tokens: Arc::new(TokenCache::new(clock)),
        })
    }

    /// The token cache, e.g. to share it or look at it in a test.
    pub fn token_cache(&self) -> &TokenCache {
        &self.tokens
    }

    /// Sends one call of `definition` with the event's `params`. `delivery_id` is the same on
    /// every attempt of one delivery; `attempt` counts from 1; `now` is the attempt's instant
    /// (the signature's timestamp). Never fails: every problem is in the outcome.
    pub async fn send(
        &self,
        definition: &WebhookDefinition,
        params: &Value,
        delivery_id: &str,
        attempt: u32,
        now: OffsetDateTime,
    ) -> DeliveryOutcome {
        self.deliver(definition, params, delivery_id, attempt, now, false)
            .await
    }

    /// Sends one test call (SPEC §7.4 "test webhook"): every placeholder filled with
    /// `test <name>`, a fresh delivery id `test-<uuid>`, attempt 1, and `X-Alm-Test: true`.
    pub async fn send_test(
        &self,
        definition: &WebhookDefinition,
        now: OffsetDateTime,
    ) -> DeliveryOutcome {
        let params = sample_parameters(&definition.body_template);
        let delivery_id = format!("test-{}", uuid::Uuid::new_v4());
        self.deliver(definition, &params, &delivery_id, 1, now, true)
            .await
    }

    async fn deliver(
        &self,
        definition: &WebhookDefinition,
        params: &Value,
        delivery_id: &str,
        attempt: u32,
        now: OffsetDateTime,
        test: bool,
    ) -> DeliveryOutcome {
        let started = tokio::time::Instant::now();
        let mut outcome = DeliveryOutcome {
            delivery_id: delivery_id.to_owned(),
            attempt,
            started_at: now,
            status: None,
            duration: Duration::ZERO,
            response_excerpt: String::new(),
            error: None,
            retryable: false,
        };
        let mut token_text = None;
        let result = self
            .call(definition, params, delivery_id, now, test, &mut token_text)
            .await;
        let mut secrets: Vec<&str> = definition.secrets().iter().map(|s| s.expose()).collect();
        if let Some(t) = &token_text {
            secrets.push(t.expose());
        }
        match result {
            Ok((status, body)) => {
                outcome.status = Some(status);
                outcome.response_excerpt = scrub(&excerpt(&body, EXCERPT_MAX_BYTES), &secrets);
                if !(200..300).contains(&status) {
                    outcome.retryable = retryable_status(status);
                    outcome.error = Some(DeliveryError {
                        kind: DeliveryErrorKind::Status,
                        message: format!(
                            "the callback answered {status}{}",
                            if outcome.retryable {
                                "; will retry"
                            } else {
                                "; not retried (the request or the webhook needs fixing)"
                            }
                        ),
                    });
                }
            }
            Err((mut error, retryable)) => {
                error.message = scrub(&error.message, &secrets);
                outcome.error = Some(error);
                outcome.retryable = retryable;
            }
        }
        outcome.duration = started.elapsed();
        outcome
    }

    /// The HTTP exchange: `(status, first bytes of the answer)`, or the error and whether it
    /// is worth retrying.
    async fn call(
        &self,
        definition: &WebhookDefinition,
        params: &Value,
        delivery_id: &str,
        now: OffsetDateTime,
        test: bool,
        token_text: &mut Option<Secret>,
    ) -> Result<(u16, Vec<u8>), (DeliveryError, bool)> {
        let invalid = |e: alm_core::FieldError| {
            (
                DeliveryError {
                    kind: DeliveryErrorKind::InvalidDefinition,
                    message: format!("the webhook cannot be sent: {e}"),
                },
                false,
            )
        };
        let url = outbound_url("url", &definition.url).map_err(invalid)?;
        let mut headers = HeaderMap::new();
        for (i, h) in definition.headers.iter().enumerate() {
            let name = header_name(&format!("headers[{i}].name"), &h.name).map_err(invalid)?;
            let value = header_value(&format!("headers[{i}].value"), &h.value).map_err(invalid)?;
            headers.append(name, value);
        }
        let as_header = |field: &str, v: &str| {
            HeaderValue::from_str(v).map_err(|_| {
                invalid(alm_core::FieldError::new(
                    field,
                    "format",
                    format!("{v:?} cannot be sent in a header"),
                ))
            })
        };
        headers.insert(
            CONTENT_TYPE,
            as_header("content_type", &definition.content_type)?,
        );
        headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        headers.insert("x-alm-event", as_header("event", &definition.event)?);
        headers.insert("x-alm-delivery", as_header("delivery_id", delivery_id)?);
        if test {
            headers.insert("x-alm-test", HeaderValue::from_static("true"));
        }

        let body =
            render_body(&definition.body_template, &definition.content_type, params).into_bytes();
        let signature = signature_header(
            definition.signing_secret.expose(),
            now.unix_timestamp(),
            &body,
        );
        headers.insert(SIGNATURE_HEADER, as_header("signing_secret", &signature)?);

        let mut auth = match &definition.authorization {
            None => Auth::None,
            Some(Authorization::Basic { username, password }) => Auth::Basic(username, password),
            Some(Authorization::OauthClientCredentials(o)) => {
                let token = self
                    .tokens
                    .token(&self.http, o)
                    .await
                    .map_err(|e| (e.error, e.retryable))?;
                *token_text = Some(token.clone());
                Auth::Bearer(o, token)
            }
        };
        let mut retried_with_new_token = false;
        loop {
            let mut request = self
                .http
                .post(url.clone())
                .headers(headers.clone())
                .body(body.clone());
            request = match &auth {
                Auth::None => request,
                Auth::Basic(user, password) => request.basic_auth(user, Some(password.expose())),
                Auth::Bearer(_, token) => {
                    let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
                        .map_err(|_| {
                            (
                                DeliveryError {
                                    kind: DeliveryErrorKind::Token,
                                    message:
                                        "the token endpoint's token cannot be sent in a header"
                                            .into(),
                                },
                                false,
                            )
                        })?;
                    value.set_sensitive(true);
                    request.header(AUTHORIZATION, value)
                }
            };
            let response = request.send().await.map_err(transport_error)?;
            let status = response.status().as_u16();
            if status == 401 && !retried_with_new_token {
                if let Auth::Bearer(o, stale) = &auth {
                    // The token may have been revoked or expired early: one new one, one retry.
                    let o = *o;
                    self.tokens.invalidate(o, stale).await;
                    let token = self
                        .tokens
                        .token(&self.http, o)
                        .await
                        .map_err(|e| (e.error, e.retryable))?;
                    *token_text = Some(token.clone());
                    auth = Auth::Bearer(o, token);
                    retried_with_new_token = true;
                    continue;
                }
            }
            let body = read_excerpt(response).await;
            return Ok((status, body));
        }
    }
}

/// Reads at most [`EXCERPT_MAX_BYTES`] of the answer (plus up to three bytes so a character
/// cut at the limit can be recognised), then drops the rest. A body that breaks off keeps what
/// arrived: the status already tells what the callback decided.
async fn read_excerpt(mut response: reqwest::Response) -> Vec<u8> {
    let mut bytes = Vec::new();
    while bytes.len() < EXCERPT_MAX_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    bytes
}

fn transport_error(e: reqwest::Error) -> (DeliveryError, bool) {
    let kind = if e.is_timeout() {
        DeliveryErrorKind::Timeout
    } else if e.is_connect() {
        DeliveryErrorKind::Connect
    } else {
        DeliveryErrorKind::Transport
    };
    let message = match kind {
        DeliveryErrorKind::Timeout => {
            format!("the callback did not answer in time: {}", error_chain(&e))
        }
        DeliveryErrorKind::Connect => {
            format!("cannot connect to the callback: {}", error_chain(&e))
        }
        _ => format!("the call failed: {}", error_chain(&e)),
    };
    // Every transport failure may pass: the receiver may be back, the network healed.
    (DeliveryError { kind, message }, true)
}

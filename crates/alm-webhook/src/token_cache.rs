//! OAuth 2.0 client-credentials tokens for webhooks, fetched once and shared until they are
//! about to expire. The only place a token request is made.
//!
//! Tokens are cached per credential: the key is the token URL, the client id and a SHA-256 of
//! everything else that shapes the answer (the secret, the extra body values, the content type,
//! the token map), so editing a webhook's secret or scope gets a new token and no secret is
//! kept in a key. A token is used until `expires_in` minus a safety margin (30 s, or half the
//! lifetime for very short ones) by the injected [`Clock`]; a callback answering 401 makes the
//! sender drop that token and fetch a new one once. Each credential has its own async lock, held
//! across the fetch: concurrent sends wait for the one fetch in flight instead of each asking.

use crate::definition::{OAuthClientCredentials, TokenRequestContentType};
use crate::outcome::{excerpt, retryable_status, scrub, DeliveryError, DeliveryErrorKind};
use alm_core::{Clock, Secret};
use std::collections::HashMap;
use std::sync::Arc;
use time::OffsetDateTime;

/// Kept off the end of a token's lifetime, so it does not expire on the way to the callback.
pub const SAFETY_MARGIN: time::Duration = time::Duration::seconds(30);
/// How long a token is used when the response does not say (no value where the token map's
/// `expires_in` points).
pub const LIFETIME_WHEN_UNKNOWN: time::Duration = time::Duration::minutes(5);

struct CachedToken {
    token: Secret,
    fresh_until: OffsetDateTime,
}

type Slot = Arc<tokio::sync::Mutex<Option<CachedToken>>>;

/// Shared by every send of one sender.
pub struct TokenCache {
    clock: Arc<dyn Clock>,
    margin: time::Duration,
    slots: std::sync::Mutex<HashMap<String, Slot>>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.slots.lock().map(|s| s.len()).unwrap_or(0);
        f.debug_struct("TokenCache")
            .field("margin", &self.margin)
            .field("credentials", &n)
            .finish()
    }
}

/// A token could not be had.
#[derive(Debug, Clone)]
pub struct TokenError {
    pub error: DeliveryError,
    /// The token endpoint was unreachable, slow, or answered 408/429/5xx.
    pub retryable: bool,
}

impl TokenCache {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::with_margin(clock, SAFETY_MARGIN)
    }

    pub fn with_margin(clock: Arc<dyn Clock>, margin: time::Duration) -> Self {
        Self {
            clock,
            margin,
            slots: Default::default(),
        }
    }

    fn slot(&self, credentials: &OAuthClientCredentials) -> Slot {
        let key = cache_key(credentials);
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.entry(key).or_default().clone()
    }

    /// A token for `credentials`: the cached one while fresh, a new one otherwise.
    pub async fn token(
        &self,
        http: &reqwest::Client,
        credentials: &OAuthClientCredentials,
    ) -> Result<Secret, TokenError> {
        let slot = self.slot(credentials);
        let mut cached = slot.lock().await;
        if let Some(c) = cached.as_ref() {
            if self.clock.now() < c.fresh_until {
                return Ok(c.token.clone());
            }
        }
        let fetched = self.fetch(http, credentials).await?;
        let token = fetched.token.clone();
        *cached = Some(fetched);
        Ok(token)
    }

    /// Forgets `stale` (a callback refused it), unless another send already replaced it.
    pub async fn invalidate(&self, credentials: &OAuthClientCredentials, stale: &Secret) {
        let slot = self.slot(credentials);
        let mut cached = slot.lock().await;
        if cached
            .as_ref()
            .is_some_and(|c| c.token.expose() == stale.expose())
        {
            *cached = None;
        }
    }

    async fn fetch(
        &self,
        http: &reqwest::Client,
        o: &OAuthClientCredentials,
    ) -> Result<CachedToken, TokenError> {
        let secret = o.client_secret.expose();
        let fail = |message: String, retryable: bool| TokenError {
            error: DeliveryError {
                kind: DeliveryErrorKind::Token,
                message: scrub(&message, &[secret]),
            },
            retryable,
        };
        let mut fields: Vec<(&str, &str)> = vec![
            ("grant_type", "client_credentials"),
            ("client_id", &o.client_id),
            ("client_secret", secret),
        ];
        fields.extend(o.extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let request = http
            .post(&o.token_url)
            .header(reqwest::header::ACCEPT, "application/json");
        let request = match o.content_type {
            TokenRequestContentType::Form => request.form(&fields),
            TokenRequestContentType::Json => {
                let body: serde_json::Map<String, serde_json::Value> = fields
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), serde_json::Value::String((*v).to_owned())))
                    .collect();
                request.json(&body)
            }
        };
        let response = request.send().await.map_err(|e| {
            let what = if e.is_timeout() {
                "timed out"
            } else {
                "failed"
            };
            fail(
                format!(
                    "token request to {} {what}: {}",
                    o.token_url,
                    alm_core::error_chain::error_chain(&e)
                ),
                true,
            )
        })?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| {
            fail(
                format!("token endpoint {}: answer broke off: {e}", o.token_url),
                true,
            )
        })?;
        if !status.is_success() {
            return Err(fail(
                format!(
                    "token endpoint {} answered {status}: {}",
                    o.token_url,
                    excerpt(&bytes, 200)
                ),
                retryable_status(status.as_u16()),
            ));
        }
        let json: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| {
            fail(
                format!(
                    "token endpoint {} answered {status} with a body that is not JSON",
                    o.token_url
                ),
                false,
            )
        })?;
        let token = match json.pointer(&o.token_map.token) {
            Some(serde_json::Value::String(t)) if !t.is_empty() => Secret::new(t.clone()),
            _ => {
                // Name the keys found, never their values (one of them may be the token).
                let keys = json
                    .as_object()
                    .map(|m| m.keys().cloned().collect::<Vec<_>>().join(", "))
                    .unwrap_or_default();
                return Err(fail(
                    format!(
                        "token endpoint {}: no token string at {} in the answer (top-level keys: {keys}); check the token map",
                        o.token_url, o.token_map.token
                    ),
                    false,
                ));
            }
        };
        let lifetime = if o.token_map.expires_in.is_empty() {
            None
        } else {
            json.pointer(&o.token_map.expires_in).and_then(seconds)
        }
        .unwrap_or(LIFETIME_WHEN_UNKNOWN);
        let margin = self.margin.min(lifetime / 2);
        Ok(CachedToken {
            token,
            fresh_until: self.clock.now() + lifetime - margin,
        })
    }
}

/// A lifetime in seconds, as a number or a numeric string.
fn seconds(v: &serde_json::Value) -> Option<time::Duration> {
    let n = match v {
        serde_json::Value::Number(n) => n.as_f64()?,
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    (n.is_finite() && n >= 0.0).then(|| time::Duration::seconds_f64(n.min(1e9)))
}

fn cache_key(o: &OAuthClientCredentials) -> String {
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    let mut part = |s: &str| {
        // Length-prefixed, so no two different inputs give the same byte stream.
        digest.update(&(s.len() as u64).to_le_bytes());
        digest.update(s.as_bytes());
    };
    part(o.client_secret.expose());
    part(match o.content_type {
        TokenRequestContentType::Form => "form",
        TokenRequestContentType::Json => "json",
    });
    part(&o.token_map.token);
    part(&o.token_map.expires_in);
    for (k, v) in &o.extra {
        part(k);
        part(v);
    }
    format!(
        "{}\n{}\n{}",
        o.token_url,
        o.client_id,
        hex::encode(digest.finish().as_ref())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn creds(secret: &str) -> OAuthClientCredentials {
        OAuthClientCredentials {
            token_url: "https://idp.example.com/token".into(),
            content_type: TokenRequestContentType::Form,
            client_id: "alm".into(),
            client_secret: Secret::new(secret),
            extra: Default::default(),
            token_map: Default::default(),
        }
    }

    #[test]
    fn keys_differ_by_secret_and_never_hold_it() {
        let a = cache_key(&creds("first-secret"));
        let b = cache_key(&creds("second-secret"));
        assert_ne!(a, b);
        assert!(!a.contains("first-secret"));
        assert!(a.starts_with("https://idp.example.com/token\nalm\n"));
    }

    #[test]
    fn lifetimes_are_numbers_or_numeric_strings() {
        assert_eq!(seconds(&json!(3600)), Some(time::Duration::hours(1)));
        assert_eq!(seconds(&json!("60")), Some(time::Duration::minutes(1)));
        assert_eq!(seconds(&json!(-1)), None);
        assert_eq!(seconds(&json!("soon")), None);
    }
}

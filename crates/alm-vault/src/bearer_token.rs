//! The bearer tokens of the vaults that log in first (Azure Key Vault through Entra ID, Delinea
//! Secret Server, DevOps Secrets Vault): one token kept until shortly before it expires, by the
//! injected clock, and fetched again after a 401. It holds no vendor's wire format: each
//! vault fetches its own token and hands it here. The token never appears in `Debug` or errors.

use crate::error::{from_transport, VaultResult};
use alm_core::{Clock, Secret};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use time::{Duration, OffsetDateTime};

/// Tokens are renewed this long before the expiry the issuer announced, so a request never
/// leaves with a token that runs out on the way.
const EARLY: Duration = Duration::seconds(60);

pub(crate) struct TokenCache {
    clock: Arc<dyn Clock>,
    held: Mutex<Option<(Secret, OffsetDateTime)>>,
}

impl TokenCache {
    pub(crate) fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            held: Mutex::new(None),
        }
    }

    /// The held token while it is still good.
    pub(crate) fn current(&self) -> Option<Secret> {
        let now = self.clock.now();
        let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        held.as_ref()
            .filter(|(_, until)| now < *until)
            .map(|(t, _)| t.clone())
    }

    /// Keeps a token announced to last `expires_in_seconds` (none announced: one minute).
    pub(crate) fn keep(&self, token: Secret, expires_in_seconds: Option<i64>) {
        let lifetime = Duration::seconds(expires_in_seconds.unwrap_or(120).max(0));
        let until = self.clock.now() + lifetime - EARLY;
        *self.held.lock().unwrap_or_else(|e| e.into_inner()) = Some((token, until));
    }

    /// Forgets the token (the vault answered 401: it was revoked or the clock is off).
    pub(crate) fn forget(&self) {
        *self.held.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// Sends a request and reads the answer as JSON (`Null` when empty or not JSON: the status
/// then says what happened).
pub(crate) async fn send(
    base: &str,
    request: reqwest::RequestBuilder,
) -> VaultResult<(reqwest::StatusCode, Value)> {
    let resp = request.send().await.map_err(|e| from_transport(base, e))?;
    let status = resp.status();
    let text = resp.text().await.map_err(|e| from_transport(base, e))?;
    let value = if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::Null)
    };
    Ok((status, value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alm_core::FixedClock;

    #[test]
    fn a_token_is_dropped_a_minute_before_it_expires() {
        let start = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let clock = Arc::new(FixedClock::new(start));
        let cache = TokenCache::new(clock.clone());
        assert!(cache.current().is_none());
        cache.keep(Secret::new("t"), Some(3600));
        assert!(cache.current().is_some());
        clock.set(start + Duration::seconds(3600 - 61));
        assert!(cache.current().is_some(), "still good 61 s before expiry");
        clock.set(start + Duration::seconds(3600 - 60));
        assert!(
            cache.current().is_none(),
            "renewed from a minute before expiry"
        );
        cache.keep(Secret::new("u"), Some(3600));
        cache.forget();
        assert!(cache.current().is_none(), "a 401 forgets the token");
    }
}

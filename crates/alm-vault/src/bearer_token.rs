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

/// A request with the vault's bearer token (from `token`, which fetches one when `tokens`
/// holds none); the answer as [`send`] reads it. A 401 may mean the token was revoked before
/// its expiry: when `renewable` (alm logs in itself, so it can get another), the token is
/// forgotten and the request sent once more with a fresh one.
#[allow(clippy::too_many_arguments)] // one call shape shared by three vaults
pub(crate) async fn send_with_token<F, Fut>(
    http: &reqwest::Client,
    base: &str,
    tokens: &TokenCache,
    token: F,
    method: reqwest::Method,
    url: &str,
    body: Option<&Value>,
    renewable: bool,
) -> VaultResult<(reqwest::StatusCode, Value)>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = VaultResult<Secret>>,
{
    let mut retried = false;
    loop {
        let bearer = token().await?;
        let mut req = http
            .request(method.clone(), url)
            .bearer_auth(bearer.expose());
        if let Some(b) = body {
            req = req.json(b);
        }
        let (status, answer) = send(base, req).await?;
        if status == reqwest::StatusCode::UNAUTHORIZED && renewable && !retried {
            tokens.forget();
            retried = true;
            continue;
        }
        return Ok((status, answer));
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

    /// A token the vault revoked before its expiry: forgotten, one fresh one fetched, the
    /// request sent once more — and only once, and never for a token alm cannot renew.
    #[tokio::test]
    async fn a_401_fetches_one_fresh_token_when_alm_can_renew_it() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        // The vault takes only "fresh"; "stale" and anything else get 401.
        let base = crate::test_http::serve(|r| match r.header("authorization") {
            Some("Bearer fresh") => (200, "{\"ok\": true}".into()),
            _ => (401, "{}".into()),
        })
        .await;
        let clock = Arc::new(FixedClock::new(
            OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
        ));
        let http = crate::http_client::build(None, std::time::Duration::from_secs(10)).unwrap();
        for (tokens_handed, renewable, expected, fetches) in [
            (["stale", "fresh"], true, 200, 2),
            (["stale", "stale"], true, 401, 2),
            (["stale", "fresh"], false, 401, 1),
        ] {
            let cache = TokenCache::new(clock.clone());
            let fetched = AtomicUsize::new(0);
            let token = || {
                let n = fetched.fetch_add(1, Ordering::SeqCst);
                let t = cache.current().unwrap_or_else(|| {
                    let t = Secret::new(tokens_handed[n.min(1)]);
                    cache.keep(t.clone(), Some(3600));
                    t
                });
                async move { Ok(t) }
            };
            let url = format!("{base}/x");
            let (status, _) = send_with_token(
                &http,
                &base,
                &cache,
                token,
                reqwest::Method::GET,
                &url,
                None,
                renewable,
            )
            .await
            .unwrap();
            assert_eq!(
                (status.as_u16(), fetched.load(Ordering::SeqCst)),
                (expected, fetches),
                "{tokens_handed:?} renewable {renewable}"
            );
        }
    }

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

//! Login failure limits: after too many failed logins for one email (or from one address) in
//! a window, further attempts are refused until the window has passed.
//!
//! Kept in memory per process: with several replicas the limit applies per replica, which
//! still bounds guessing to (replicas × limit) per window. Time comes from the injected clock.

use std::collections::HashMap;
use std::sync::Mutex;
use time::{Duration, OffsetDateTime};

#[derive(Debug)]
pub struct LoginLimiter {
    max_per_email: u32,
    max_per_address: u32,
    window: Duration,
    failures: Mutex<HashMap<String, Vec<OffsetDateTime>>>,
}

impl LoginLimiter {
    pub fn new(max_per_email: u32, window: Duration) -> Self {
        Self {
            max_per_email,
            max_per_address: max_per_email.saturating_mul(5),
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn keys(email: &str, address: Option<&str>) -> Vec<(String, bool)> {
        let mut keys = vec![(format!("email:{}", email.trim().to_lowercase()), true)];
        if let Some(a) = address {
            keys.push((format!("addr:{a}"), false));
        }
        keys
    }

    /// When locked, the time until the next attempt is allowed.
    pub fn locked_for(
        &self,
        email: &str,
        address: Option<&str>,
        now: OffsetDateTime,
    ) -> Option<Duration> {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let mut wait: Option<Duration> = None;
        for (key, is_email) in Self::keys(email, address) {
            let Some(times) = map.get_mut(&key) else {
                continue;
            };
            times.retain(|t| *t + self.window > now);
            let max = if is_email {
                self.max_per_email
            } else {
                self.max_per_address
            };
            if times.len() as u32 >= max {
                let until = times[times.len() - max as usize] + self.window - now;
                wait = Some(wait.map_or(until, |w| w.max(until)));
            }
        }
        map.retain(|_, times| !times.is_empty());
        wait
    }

    pub fn record_failure(&self, email: &str, address: Option<&str>, now: OffsetDateTime) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        for (key, _) in Self::keys(email, address) {
            map.entry(key).or_default().push(now);
        }
    }

    pub fn record_success(&self, email: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&format!("email:{}", email.trim().to_lowercase()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn locks_after_the_limit_and_unlocks_after_the_window() {
        let l = LoginLimiter::new(3, Duration::minutes(15));
        let t0 = datetime!(2026-01-01 10:00 UTC);
        for i in 0..3 {
            assert!(
                l.locked_for("A@x.test", Some("10.0.0.1"), t0).is_none(),
                "attempt {i}"
            );
            l.record_failure("a@x.test", Some("10.0.0.1"), t0 + Duration::minutes(i));
        }
        assert_eq!(
            l.locked_for("a@x.test", None, t0 + Duration::minutes(3)),
            Some(Duration::minutes(12))
        );
        assert!(
            l.locked_for("b@x.test", Some("10.0.0.2"), t0).is_none(),
            "other people are not locked"
        );
        assert!(l
            .locked_for("a@x.test", None, t0 + Duration::minutes(15))
            .is_none());
    }

    #[test]
    fn one_address_trying_many_emails_is_limited_too() {
        let l = LoginLimiter::new(2, Duration::minutes(15));
        let t0 = datetime!(2026-01-01 10:00 UTC);
        for i in 0..10 {
            l.record_failure(&format!("user{i}@x.test"), Some("10.0.0.9"), t0);
        }
        assert!(l.locked_for("new@x.test", Some("10.0.0.9"), t0).is_some());
        assert!(l.locked_for("new@x.test", Some("10.0.0.8"), t0).is_none());
    }
}

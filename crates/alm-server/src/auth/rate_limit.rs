//! The login throttle's policy (OWASP's guidance on brute force): failures are counted per
//! (email, client address) and per client address, and past an allowance each further
//! failure makes that key wait longer before its next attempt (30 s, doubling, at most the
//! configured maximum). A key that has not failed is never held back, so the rightful user
//! can always log in from an address that has not itself failed, however many failures an
//! attacker piles up for the email elsewhere.
//!
//! Pure rules; the counters are in the database (`alm_store::login_throttle`) so that every
//! replica throttles alike.

use sha2::{Digest, Sha256};
use std::net::IpAddr;
use time::Duration;

/// The first wait once a key's allowance is used up; each further failure doubles it.
const FIRST_DELAY: Duration = Duration::seconds(30);

/// A client address gets this many times the per-email allowance across all emails.
const SOURCE_FACTOR: u32 = 5;

/// A key's failures are forgotten after this many maximum delays without a new one.
const FORGET_FACTOR: i32 = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginThrottle {
    pair_allowance: u32,
    source_allowance: u32,
    max_delay: Duration,
}

/// What a counter is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleKey {
    pub key: String,
    allowance: u32,
}

impl LoginThrottle {
    /// `max_failed_logins` per (email, address), five times as many per address, and waits up
    /// to `lockout_minutes`.
    pub fn new(max_failed_logins: u32, lockout_minutes: u32) -> Self {
        Self {
            pair_allowance: max_failed_logins.max(1),
            source_allowance: max_failed_logins.max(1).saturating_mul(SOURCE_FACTOR),
            max_delay: Duration::minutes(i64::from(lockout_minutes.max(1))),
        }
    }

    /// The two keys a login attempt counts against: (email, address) and the address.
    pub fn keys(&self, email: &str, source: IpAddr) -> [ThrottleKey; 2] {
        let email = email.trim().to_lowercase();
        [
            ThrottleKey {
                key: format!("pair:{}@{source}", hex::encode(Sha256::digest(email))),
                allowance: self.pair_allowance,
            },
            ThrottleKey {
                key: format!("source:{source}"),
                allowance: self.source_allowance,
            },
        ]
    }

    /// How long a key must wait after its `failures`-th failure.
    pub fn delay(&self, key: &ThrottleKey, failures: i64) -> Duration {
        let beyond = failures - i64::from(key.allowance);
        if beyond < 0 {
            return Duration::ZERO;
        }
        // 30 s · 2^beyond, without overflowing for long attacks.
        let doublings = beyond.min(20) as u32;
        (FIRST_DELAY * 2_i32.pow(doublings)).min(self.max_delay)
    }

    /// Failures older than this are forgotten (the key starts again from zero).
    pub fn forget_after(&self) -> Duration {
        self.max_delay * FORGET_FACTOR
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn waits_start_after_the_allowance_double_and_stop_at_the_maximum() {
        let t = LoginThrottle::new(5, 15);
        let [pair, source] = t.keys("Admin@Example.test ", ip("203.0.113.7"));
        let delays: Vec<i64> = (1..=12)
            .map(|n| t.delay(&pair, n).whole_seconds())
            .collect();
        assert_eq!(
            delays,
            [0, 0, 0, 0, 30, 60, 120, 240, 480, 900, 900, 900],
            "30 s after the fifth failure, doubling, at most 15 min"
        );
        assert_eq!(t.delay(&source, 24), Duration::ZERO);
        assert_eq!(t.delay(&source, 25), Duration::seconds(30));
        assert_eq!(t.delay(&pair, i64::MAX), Duration::minutes(15));
        assert_eq!(t.forget_after(), Duration::hours(1));
    }

    #[test]
    fn keys_are_per_email_and_address_and_hide_the_email() {
        let t = LoginThrottle::new(5, 15);
        let [a, sa] = t.keys("admin@example.test", ip("203.0.113.7"));
        let [a2, _] = t.keys(" ADMIN@example.test", ip("203.0.113.7"));
        let [b, sb] = t.keys("admin@example.test", ip("198.51.100.9"));
        assert_eq!(a, a2, "the email is compared without case or spaces");
        assert_ne!(a.key, b.key);
        assert_ne!(sa.key, sb.key);
        assert!(!a.key.contains("admin"), "{}", a.key);
        assert_eq!(sa.key, "source:203.0.113.7");
    }
}

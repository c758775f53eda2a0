//! CSRF protection for cookie-authenticated state changes.
//!
//! The token is derived from the session secret (HMAC-like: SHA-256 over a label and the
//! secret), so nothing extra is stored and it dies with the session. Browsers' JavaScript and
//! forms send it back in `X-CSRF-Token` (or the `csrf_token` form field); a cross-site page
//! cannot read it. Bearer-token requests carry no ambient credential and need none.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub const HEADER: &str = "x-csrf-token";

pub fn token_for(session_secret: &str) -> String {
    hex::encode(Sha256::digest(
        format!("alm-csrf-v1:{session_secret}").as_bytes(),
    ))
}

pub fn matches(session_secret: &str, presented: &str) -> bool {
    token_for(session_secret)
        .as_bytes()
        .ct_eq(presented.as_bytes())
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_bound_to_the_session() {
        let t = token_for("s1");
        assert!(matches("s1", &t));
        assert!(!matches("s2", &t));
        assert!(!matches("s1", ""));
    }
}

//! The `X-Alm-Signature` header, so a receiver can tell a call came from alm and was not
//! replayed. Pure computation (ring's HMAC), no I/O.
//!
//! Format (Stripe-style):
//!
//! ```text
//! X-Alm-Signature: t=<unix seconds>,v1=<hex of HMAC-SHA256(signing secret, "<t>.<body>")>
//! ```
//!
//! `<t>` is the decimal Unix time of the attempt (from the caller's clock), `<body>` the exact
//! bytes of the request body, the key the UTF-8 bytes of the webhook's signing secret, the hex
//! lower case. To verify, a receiver splits the header on `,` and the first `=`, recomputes
//! the HMAC over `t + "." + raw body`, compares it in constant time with `v1`, and rejects a
//! `t` too far from its own clock (five minutes is usual) to refuse replays; `X-Alm-Delivery`
//! lets it drop a retry it already handled. Unknown keys (a future `v2`) are to be ignored.

use ring::hmac;

/// The header's name.
pub const SIGNATURE_HEADER: &str = "x-alm-signature";

/// The header's value for a body sent at `unix_seconds`.
pub fn signature_header(signing_secret: &str, unix_seconds: i64, body: &[u8]) -> String {
    format!(
        "t={unix_seconds},v1={}",
        signature_hex(signing_secret, unix_seconds, body)
    )
}

/// `hex(HMAC-SHA256(secret, "<t>.<body>"))`.
pub fn signature_hex(signing_secret: &str, unix_seconds: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, signing_secret.as_bytes());
    let mut context = hmac::Context::with_key(&key);
    context.update(unix_seconds.to_string().as_bytes());
    context.update(b".");
    context.update(body);
    hex::encode(context.sign().as_ref())
}

/// A new random signing secret for a webhook: `whsec_` and 32 random bytes in hex.
pub fn generate_signing_secret() -> Result<alm_core::Secret, SigningSecretError> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| SigningSecretError)?;
    Ok(alm_core::Secret::new(format!(
        "whsec_{}",
        hex::encode(bytes)
    )))
}

/// The operating system's random source failed.
#[derive(Debug, thiserror::Error)]
#[error("the system's random number generator failed; cannot create a signing secret")]
pub struct SigningSecretError;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_covers_time_body_and_key() {
        let base = signature_hex("k", 1, b"body");
        assert_ne!(base, signature_hex("k", 2, b"body"));
        assert_ne!(base, signature_hex("k", 1, b"body!"));
        assert_ne!(base, signature_hex("k2", 1, b"body"));
        // "1" + "." + "body" is all that is signed: the same bytes split differently agree.
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"k");
        assert_eq!(base, hex::encode(hmac::sign(&key, b"1.body").as_ref()));
    }

    #[test]
    fn header_carries_time_and_signature() {
        let h = signature_header("k", 1_700_000_000, b"{}");
        assert!(h.starts_with("t=1700000000,v1="), "{h}");
        assert_eq!(h.len(), "t=1700000000,v1=".len() + 64);
    }

    #[test]
    fn generated_secrets_differ() {
        let a = generate_signing_secret().unwrap();
        let b = generate_signing_secret().unwrap();
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), 6 + 64);
    }
}

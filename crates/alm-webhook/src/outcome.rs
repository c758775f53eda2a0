//! What one call did, for the history row and the outbox's retry decision (SPEC §7.4: time,
//! status code, duration, attempt, response excerpt). No I/O here.
//!
//! Retry classification ([`retryable_status`]): connection failures, timeouts, `408 Request
//! Timeout`, `429 Too Many Requests` and every `5xx` are worth another attempt later; any other
//! `4xx` (and a `3xx`, since redirects are not followed) means the request or the definition is
//! wrong, and sending the same again would fail the same way, so it is not retried.

use serde::Serialize;
use std::time::Duration;
use time::OffsetDateTime;

/// How many bytes of the response body the history keeps.
pub const EXCERPT_MAX_BYTES: usize = 1024;

/// The result of one call.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryOutcome {
    /// The delivery's id as the caller gave it (also sent as `X-Alm-Delivery`).
    pub delivery_id: String,
    /// The attempt number as the caller gave it (1 for the first).
    pub attempt: u32,
    /// The instant the caller said the attempt started (the signature's timestamp).
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// The callback's HTTP status, when it answered.
    pub status: Option<u16>,
    /// Wall time of the attempt, token fetch included.
    #[serde(serialize_with = "millis")]
    pub duration: Duration,
    /// The first [`EXCERPT_MAX_BYTES`] of the answer, cut on a character boundary, with the
    /// definition's secrets and any bearer token replaced by `****`.
    pub response_excerpt: String,
    /// Why it failed; `None` when the callback answered 2xx.
    pub error: Option<DeliveryError>,
    /// Whether the outbox should try again later (see the module header).
    pub retryable: bool,
}

impl DeliveryOutcome {
    /// The callback answered 2xx.
    pub fn delivered(&self) -> bool {
        self.error.is_none()
    }
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Why a call failed, for people (`message`) and for code (`kind`). Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryError {
    pub kind: DeliveryErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryErrorKind {
    /// The stored definition cannot be sent (bad URL or header); fix the webhook.
    InvalidDefinition,
    /// No TCP/TLS connection to the callback (refused, unreachable, DNS, certificate).
    Connect,
    /// Connecting or the whole call took longer than the sender's limit.
    Timeout,
    /// The callback answered with a status other than 2xx.
    Status,
    /// The OAuth token could not be had (token endpoint down, refused the client, or its
    /// answer lacked the token where the token map points).
    Token,
    /// Anything else on the way (the connection broke mid-answer, …).
    Transport,
}

/// Whether a callback status is worth another attempt (see the module header).
pub fn retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

/// At most `max` bytes of `bytes` as text, cut so no character is split; bytes that are not
/// UTF-8 become U+FFFD.
pub fn excerpt(bytes: &[u8], max: usize) -> String {
    let cut = &bytes[..bytes.len().min(max)];
    match std::str::from_utf8(cut) {
        Ok(s) => s.to_owned(),
        // Only the last character was cut in half: drop it.
        Err(e) if e.error_len().is_none() => {
            String::from_utf8_lossy(&cut[..e.valid_up_to()]).into_owned()
        }
        Err(_) => {
            let lossy = String::from_utf8_lossy(cut);
            let mut end = lossy.len().min(max);
            while !lossy.is_char_boundary(end) {
                end -= 1;
            }
            lossy[..end].to_owned()
        }
    }
}

/// `text` with every non-empty secret replaced by `****`.
pub(crate) fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(s, "****");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        for s in [408, 429, 500, 502, 503, 599] {
            assert!(retryable_status(s), "{s}");
        }
        for s in [200, 301, 400, 401, 403, 404, 409, 410, 422] {
            assert!(!retryable_status(s), "{s}");
        }
    }

    #[test]
    fn excerpts_never_split_a_character() {
        let text = "日".repeat(400); // 3 bytes each
        assert_eq!(excerpt(text.as_bytes(), 1024), "日".repeat(341));
        assert_eq!(excerpt(b"short", 1024), "short");
        assert_eq!(excerpt(b"ab\xffcd", 1024), "ab\u{fffd}cd");
    }

    #[test]
    fn scrub_hides_secrets() {
        assert_eq!(
            scrub("token abc and abc", &["abc", ""]),
            "token **** and ****"
        );
    }
}

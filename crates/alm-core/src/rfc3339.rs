//! Instants as people and programs read them in messages: RFC 3339 in UTC
//! (`2026-12-18T00:00:00Z`), the same form the API's JSON uses. `OffsetDateTime`'s own
//! `Display` (`2026-12-18 0:00:00.0 +00:00:00`) is for debugging, never for a message.

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// `t` in UTC, RFC 3339, fractional seconds only when there are some.
pub fn format(t: OffsetDateTime) -> String {
    let utc = t.to_offset(UtcOffset::UTC);
    // RFC 3339 has four-digit years; outside them (never from alm's own arithmetic) the
    // debug form still says when, rather than nothing.
    utc.format(&Rfc3339).unwrap_or_else(|_| utc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn utc_with_z_and_no_empty_fraction() {
        assert_eq!(
            format(datetime!(2026-12-18 0:00 UTC)),
            "2026-12-18T00:00:00Z"
        );
        assert_eq!(
            format(datetime!(2026-12-18 01:30:05.25 +01:00)),
            "2026-12-18T00:30:05.25Z"
        );
    }
}

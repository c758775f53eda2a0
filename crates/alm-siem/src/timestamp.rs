//! The one timestamp text every format writes: RFC 3339 in UTC with microseconds
//! (`2024-05-01T12:34:56.078901Z`), the form RFC 5424 §6.2.3 allows (at most six fraction
//! digits, `Z` or an offset). Pure.

use time::{OffsetDateTime, UtcOffset};

/// `at` converted to UTC as `YYYY-MM-DDThh:mm:ss.ffffffZ`; `None` for years RFC 3339 cannot
/// write (before 0000 or after 9999).
pub fn rfc3339_utc_micros(at: OffsetDateTime) -> Option<String> {
    let utc = at.to_offset(UtcOffset::UTC);
    if !(0..=9999).contains(&utc.year()) {
        return None;
    }
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        utc.year(),
        u8::from(utc.month()),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second(),
        utc.microsecond()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn utc_with_six_fraction_digits() {
        assert_eq!(
            rfc3339_utc_micros(datetime!(2024-05-01 14:34:56.0789019 +02:00)).as_deref(),
            Some("2024-05-01T12:34:56.078901Z")
        );
        assert_eq!(
            rfc3339_utc_micros(datetime!(2024-01-02 03:04:05 UTC)).as_deref(),
            Some("2024-01-02T03:04:05.000000Z")
        );
        assert_eq!(rfc3339_utc_micros(datetime!(-0001-01-01 0:00 UTC)), None);
    }
}

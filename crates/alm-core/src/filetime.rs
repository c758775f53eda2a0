//! Active Directory's `accountExpires` without the off-by-one (SPEC §4.3).
//!
//! The attribute is a FILETIME: 100-nanosecond ticks since 1601-01-01 00:00 UTC, naming the
//! first instant at which the account no longer authenticates; 0 and 0x7FFFFFFFFFFFFFFF mean
//! "never". The management console shows "end of <day>" and stores 00:00 of the next day in
//! local time, which is why consoles and attributes look a day apart. alm writes exactly the
//! EOL instant (00:00 UTC of the EOL date) and reads it back the same way.

use time::{Date, Duration, OffsetDateTime, Time};

/// FILETIME ticks between 1601-01-01 and 1970-01-01 (UTC).
pub const UNIX_EPOCH_TICKS: i64 = 116_444_736_000_000_000;
/// The "never expires" value Active Directory writes for new accounts.
pub const NEVER: i64 = 0x7FFF_FFFF_FFFF_FFFF;
const TICKS_PER_SECOND: i64 = 10_000_000;

/// What `accountExpires` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountExpires {
    Never,
    /// The first instant the account no longer authenticates.
    At(OffsetDateTime),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FiletimeError {
    #[error(
        "{} cannot be written as accountExpires: it must lie after 1601-01-01T00:00:00Z",
        crate::rfc3339::format(*.0)
    )]
    OutOfRange(OffsetDateTime),
    #[error("accountExpires {0:?} is not a number of 100-ns ticks")]
    NotANumber(String),
}

impl AccountExpires {
    /// Reads the attribute's value as the directory returns it.
    pub fn parse(text: &str) -> Result<Self, FiletimeError> {
        let ticks: i64 = text
            .trim()
            .parse()
            .map_err(|_| FiletimeError::NotANumber(text.to_owned()))?;
        Ok(Self::from_ticks(ticks))
    }

    pub fn from_ticks(ticks: i64) -> Self {
        if ticks <= 0 || ticks == NEVER {
            return AccountExpires::Never;
        }
        let since_unix = ticks - UNIX_EPOCH_TICKS;
        let secs = since_unix.div_euclid(TICKS_PER_SECOND);
        let nanos = since_unix.rem_euclid(TICKS_PER_SECOND) * 100;
        match OffsetDateTime::from_unix_timestamp(secs) {
            Ok(t) => AccountExpires::At(t + Duration::nanoseconds(nanos)),
            // Beyond year 9999: no account is meant to expire then.
            Err(_) => AccountExpires::Never,
        }
    }

    /// The value to write (sub-100-ns parts are dropped, never rounded up).
    pub fn to_ticks(self) -> Result<i64, FiletimeError> {
        match self {
            AccountExpires::Never => Ok(NEVER),
            AccountExpires::At(at) => {
                let nanos = at.unix_timestamp_nanos();
                let ticks = i128::from(UNIX_EPOCH_TICKS) + nanos.div_euclid(100);
                if ticks <= 0 || ticks >= i128::from(NEVER) {
                    return Err(FiletimeError::OutOfRange(at));
                }
                Ok(ticks as i64)
            }
        }
    }

    pub fn to_attribute(self) -> Result<String, FiletimeError> {
        self.to_ticks().map(|t| t.to_string())
    }
}

/// The EOL instant of an EOL date: 00:00 UTC of that day (SPEC §4).
pub fn eol_instant(date: Date) -> OffsetDateTime {
    date.with_time(Time::MIDNIGHT).assume_utc()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn never_values_read_as_never_and_never_writes_the_maximum() {
        assert_eq!(AccountExpires::parse("0").unwrap(), AccountExpires::Never);
        assert_eq!(
            AccountExpires::parse("9223372036854775807").unwrap(),
            AccountExpires::Never
        );
        assert_eq!(
            AccountExpires::Never.to_attribute().unwrap(),
            "9223372036854775807"
        );
        assert!(AccountExpires::parse("soon").is_err());
    }

    #[test]
    fn the_unix_epoch_and_a_known_value_convert_both_ways() {
        let epoch = AccountExpires::At(datetime!(1970-01-01 00:00 UTC));
        assert_eq!(epoch.to_ticks().unwrap(), 116_444_736_000_000_000);
        // 2026-01-01 00:00 UTC = 1767225600 s after the Unix epoch.
        let v = 116_444_736_000_000_000 + 1_767_225_600 * 10_000_000;
        assert_eq!(
            AccountExpires::from_ticks(v),
            AccountExpires::At(datetime!(2026-01-01 00:00 UTC))
        );
    }

    #[test]
    fn eol_instants_are_midnight_utc_even_on_leap_and_dst_days() {
        for (d, expected) in [
            (date!(2024 - 02 - 29), datetime!(2024-02-29 00:00 UTC)),
            (date!(2026 - 03 - 29), datetime!(2026-03-29 00:00 UTC)), // EU clocks jump that day
            (date!(2026 - 10 - 25), datetime!(2026-10-25 00:00 UTC)), // and back that day
            (date!(1969 - 12 - 31), datetime!(1969-12-31 00:00 UTC)),
        ] {
            let at = eol_instant(d);
            assert_eq!(at, expected);
            let ticks = AccountExpires::At(at).to_ticks().unwrap();
            assert_eq!(
                AccountExpires::from_ticks(ticks),
                AccountExpires::At(at),
                "{d}"
            );
            assert_eq!(
                ticks % (86_400 * 10_000_000),
                (UNIX_EPOCH_TICKS % (86_400 * 10_000_000)),
                "whole days: {d}"
            );
        }
        // The day after 2024-02-28 is the leap day, exactly one day of ticks later.
        let a = AccountExpires::At(eol_instant(date!(2024 - 02 - 28)))
            .to_ticks()
            .unwrap();
        let b = AccountExpires::At(eol_instant(date!(2024 - 02 - 29)))
            .to_ticks()
            .unwrap();
        assert_eq!(b - a, 86_400 * 10_000_000);
    }

    #[test]
    fn instants_at_or_before_1601_cannot_be_written() {
        let e = AccountExpires::At(datetime!(1601-01-01 00:00 UTC))
            .to_ticks()
            .unwrap_err();
        assert!(
            e.to_string().starts_with("1601-01-01T00:00:00Z cannot"),
            "RFC 3339: {e}"
        );
        assert_eq!(
            AccountExpires::At(datetime!(1601-01-01 00:00:01 UTC))
                .to_ticks()
                .unwrap(),
            10_000_000
        );
        assert_eq!(AccountExpires::from_ticks(-5), AccountExpires::Never);
    }
}

#[cfg(test)]
mod fuzz;

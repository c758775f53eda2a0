//! Instants in the database: BIGINT microseconds since the Unix epoch, UTC.
//!
//! Chosen over text (collation-dependent ordering on PostgreSQL) and over `timestamptz`
//! (which SQLite does not have and the `Any` driver cannot decode): integers sort and index
//! the same way on both backends.

use crate::error::StoreError;
use time::OffsetDateTime;

pub fn to_db(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000) as i64
}

pub fn from_db(micros: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .map_err(|_| StoreError::Corrupt(format!("instant {micros} out of range")))
}

pub fn opt_from_db(micros: Option<i64>) -> Result<Option<OffsetDateTime>, StoreError> {
    micros.map(from_db).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn round_trips_to_the_microsecond_including_before_1970() {
        for at in [
            datetime!(2026-11-29 12:04:19.123456 UTC),
            datetime!(1969-12-31 23:59:59.999999 UTC),
            datetime!(1601-01-01 00:00 UTC),
        ] {
            assert_eq!(from_db(to_db(at)).unwrap(), at);
        }
        assert_eq!(to_db(datetime!(1970-01-01 00:00:01 UTC)), 1_000_000);
    }
}

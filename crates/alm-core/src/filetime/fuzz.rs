//! Fuzz targets of `accountExpires`: the directory's text, any tick count, any instant and any
//! EOL date convert both ways without loss, and nothing in between panics. `scripts/fuzz.sh`
//! runs this coverage-guided; `cargo test` gives it a second of random input.

use super::*;
use bolero::TypeGenerator;

const TICKS_PER_DAY: i64 = 86_400 * TICKS_PER_SECOND;

#[derive(Debug, TypeGenerator)]
enum Input {
    /// What the directory returned (any text).
    Text(String),
    /// A raw attribute value.
    Ticks(i64),
    /// An instant alm may be asked to write.
    Instant { unix_seconds: i64, nanos: u32 },
    /// An EOL date, as a Julian day number.
    EolDate(i32),
}

/// The attribute read back gives the same value, for every kind of input.
fn attribute_round_trip(value: AccountExpires) {
    if let Ok(text) = value.to_attribute() {
        assert_eq!(AccountExpires::parse(&text), Ok(value), "{text}");
    }
}

#[test]
fn fuzz_account_expires_round_trips() {
    bolero::check!()
        .with_type::<Input>()
        .for_each(|input| match input {
            Input::Text(text) => match (AccountExpires::parse(text), text.trim().parse::<i64>()) {
                (Ok(v), Ok(ticks)) => {
                    assert_eq!(v, AccountExpires::from_ticks(ticks));
                    attribute_round_trip(v);
                }
                (Err(FiletimeError::NotANumber(t)), Err(_)) => assert_eq!(&t, text),
                (got, ticks) => panic!("{text:?}: {got:?}, but as a number {ticks:?}"),
            },
            Input::Ticks(ticks) => {
                let v = AccountExpires::from_ticks(*ticks);
                match v {
                    AccountExpires::Never => {
                        // Never: the two markers, anything not after 1601, or beyond year 9999.
                        let beyond = *ticks > 0
                            && OffsetDateTime::from_unix_timestamp(
                                (ticks - UNIX_EPOCH_TICKS).div_euclid(TICKS_PER_SECOND),
                            )
                            .is_err();
                        assert!(*ticks <= 0 || *ticks == NEVER || beyond, "{ticks}");
                        assert_eq!(v.to_ticks(), Ok(NEVER));
                    }
                    AccountExpires::At(at) => {
                        assert!(at.offset().is_utc());
                        assert_eq!(v.to_ticks(), Ok(*ticks), "{at}");
                    }
                }
                attribute_round_trip(v);
            }
            Input::Instant {
                unix_seconds,
                nanos,
            } => {
                let Ok(at) = OffsetDateTime::from_unix_timestamp(*unix_seconds) else {
                    return;
                };
                let Some(at) =
                    at.checked_add(Duration::nanoseconds(i64::from(*nanos % 1_000_000_000)))
                else {
                    return;
                };
                let v = AccountExpires::At(at);
                match v.to_ticks() {
                    Ok(ticks) => {
                        // Sub-100-ns parts are dropped, never rounded up.
                        let AccountExpires::At(back) = AccountExpires::from_ticks(ticks) else {
                            panic!("{at} wrote {ticks}, which reads as never");
                        };
                        assert!(
                            back <= at && at - back < Duration::nanoseconds(100),
                            "{at} → {back}"
                        );
                        attribute_round_trip(AccountExpires::from_ticks(ticks));
                    }
                    Err(FiletimeError::OutOfRange(t)) => {
                        assert_eq!(t, at);
                        // The first writable instant is one tick after 1601-01-01T00:00Z.
                        assert!(at < time::macros::datetime!(1601-01-01 0:00:00.000_000_1 UTC));
                    }
                    Err(e) => panic!("{at}: {e}"),
                }
            }
            Input::EolDate(day) => {
                let Ok(date) = Date::from_julian_day(*day) else {
                    return;
                };
                let at = eol_instant(date);
                assert_eq!(
                    (at.date(), at.time(), at.offset().is_utc()),
                    (date, Time::MIDNIGHT, true)
                );
                let after_1601 =
                    date > Date::from_calendar_date(1601, time::Month::January, 1).unwrap();
                match AccountExpires::At(at).to_ticks() {
                    Ok(ticks) => {
                        assert!(after_1601, "{date}");
                        assert_eq!(ticks % TICKS_PER_DAY, 0, "{date}: whole days since 1601");
                        assert_eq!(AccountExpires::from_ticks(ticks), AccountExpires::At(at));
                    }
                    Err(_) => assert!(!after_1601, "{date} cannot be written"),
                }
            }
        });
}

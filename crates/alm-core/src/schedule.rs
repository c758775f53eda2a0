//! Daily schedules (SPEC §6.1): scheduled work is checked at the top of each hour, and a time
//! that has already passed today runs at that time the next day. Pure functions of instants.

use time::{Duration, OffsetDateTime, Time};

/// The next run of a daily schedule at `time_of_day` (UTC) strictly after `after`.
pub fn next_daily_run(after: OffsetDateTime, time_of_day: Time) -> OffsetDateTime {
    let today = after.date().with_time(time_of_day).assume_utc();
    if today > after {
        today
    } else {
        today + Duration::days(1)
    }
}

/// The next top of the hour strictly after `now` (when the scheduler looks again).
pub fn next_top_of_hour(now: OffsetDateTime) -> OffsetDateTime {
    let hour = now
        .replace_minute(0)
        .and_then(|t| t.replace_second(0))
        .and_then(|t| t.replace_nanosecond(0))
        .unwrap_or(now);
    hour + Duration::hours(1)
}

/// Parses `HH:MM` (24-hour, UTC), naming `field` on error.
pub fn parse_time_of_day(field: &str, text: &str) -> Result<Time, crate::FieldError> {
    let bad = || {
        crate::FieldError::new(
            field,
            "format",
            "expected a time of day as HH:MM (24-hour, UTC), e.g. 02:30",
        )
    };
    let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let (h, m): (u8, u8) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    Time::from_hms(h, m, 0).map_err(|_| bad())
}

/// A daily schedule as stored: its time of day (`HH:MM`) and when it is next due.
pub type DailySchedule = (Option<String>, Option<OffsetDateTime>);

/// The schedule after an edit of `field`: `input` `None` keeps `before`, `Some(None)` switches
/// it off, `Some(Some(text))` sets the time. A new or changed time is first due at its next
/// occurrence after `now` (a time already past today runs tomorrow); an unchanged one keeps
/// its due instant.
pub fn edit_daily(
    field: &str,
    input: Option<Option<&str>>,
    before: Option<&DailySchedule>,
    now: OffsetDateTime,
) -> Result<DailySchedule, crate::FieldError> {
    match input {
        None => Ok(before.cloned().unwrap_or((None, None))),
        Some(None) => Ok((None, None)),
        Some(Some(text)) => {
            let t = parse_time_of_day(field, text)?;
            let text = format!("{:02}:{:02}", t.hour(), t.minute());
            let unchanged = before.is_some_and(|b| b.0.as_deref() == Some(text.as_str()));
            let next = match (unchanged, before) {
                (true, Some(b)) => b.1,
                _ => Some(next_daily_run(now, t)),
            };
            Ok((Some(text), next))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{datetime, time};

    #[test]
    fn a_time_already_past_today_runs_tomorrow() {
        assert_eq!(
            next_daily_run(datetime!(2026-03-01 10:30 UTC), time!(09:00)),
            datetime!(2026-03-02 09:00 UTC)
        );
        assert_eq!(
            next_daily_run(datetime!(2026-03-01 08:59 UTC), time!(09:00)),
            datetime!(2026-03-01 09:00 UTC)
        );
        assert_eq!(
            next_daily_run(datetime!(2026-03-01 09:00 UTC), time!(09:00)),
            datetime!(2026-03-02 09:00 UTC),
            "strictly after"
        );
        assert_eq!(
            next_daily_run(datetime!(2028-02-28 23:00 UTC), time!(01:00)),
            datetime!(2028-02-29 01:00 UTC),
            "leap day"
        );
    }

    #[test]
    fn the_scheduler_wakes_at_the_top_of_each_hour() {
        assert_eq!(
            next_top_of_hour(datetime!(2026-03-01 10:30:15.5 UTC)),
            datetime!(2026-03-01 11:00 UTC)
        );
        assert_eq!(
            next_top_of_hour(datetime!(2026-03-01 23:00 UTC)),
            datetime!(2026-03-02 00:00 UTC)
        );
    }

    #[test]
    fn times_of_day_parse_strictly() {
        assert_eq!(
            parse_time_of_day("sync_time", "02:30").unwrap(),
            time!(02:30)
        );
        for bad in ["2:30", "24:00", "12:60", "noon", "12-30", ""] {
            assert_eq!(
                parse_time_of_day("sync_time", bad).unwrap_err().field,
                "sync_time",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn an_edit_keeps_moves_or_switches_off_the_schedule() {
        let now = datetime!(2026-03-01 10:30 UTC);
        let before = (
            Some("09:00".to_owned()),
            Some(datetime!(2026-03-02 09:00 UTC)),
        );
        assert_eq!(edit_daily("t", None, Some(&before), now).unwrap(), before);
        assert_eq!(edit_daily("t", None, None, now).unwrap(), (None, None));
        assert_eq!(
            edit_daily("t", Some(None), Some(&before), now).unwrap(),
            (None, None)
        );
        // The same time (written differently) keeps its due instant.
        let kept = (
            Some("09:00".to_owned()),
            Some(datetime!(2026-03-05 09:00 UTC)),
        );
        assert_eq!(
            edit_daily("t", Some(Some(" 09:00")), Some(&kept), now).unwrap(),
            kept
        );
        assert_eq!(
            edit_daily("t", Some(Some("11:15")), Some(&before), now).unwrap(),
            (
                Some("11:15".to_owned()),
                Some(datetime!(2026-03-01 11:15 UTC))
            )
        );
        assert_eq!(
            edit_daily("t", Some(Some("08:00")), None, now).unwrap(),
            (
                Some("08:00".to_owned()),
                Some(datetime!(2026-03-02 08:00 UTC))
            )
        );
        let e = edit_daily("sync_time", Some(Some("25:00")), None, now).unwrap_err();
        assert_eq!((e.field.as_str(), e.rule.as_str()), ("sync_time", "format"));
    }
}

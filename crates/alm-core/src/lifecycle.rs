//! The lifecycle rules of SPEC §4, pure: which actions an account offers (the table of §4.1,
//! before and at/after its EOL instant), what the scheduler does at EOL (§4.2), what a renewal
//! moves the EOL to, and when reminders are due (§4.4). No I/O and no clock: `now` is always
//! a parameter.

use crate::templates::{EolAction, Interval, Lifecycle};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// A managed account's status (SPEC §2.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Active,
    Disabled,
    Expired,
    Deleted,
    Renewing,
    ReviewSubmitted,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Active,
        Status::Disabled,
        Status::Expired,
        Status::Deleted,
        Status::Renewing,
        Status::ReviewSubmitted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Disabled => "disabled",
            Status::Expired => "expired",
            Status::Deleted => "deleted",
            Status::Renewing => "renewing",
            Status::ReviewSubmitted => "review-submitted",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "active" => Status::Active,
            "disabled" => Status::Disabled,
            "expired" => Status::Expired,
            "deleted" => Status::Deleted,
            "renewing" => Status::Renewing,
            "review-submitted" => Status::ReviewSubmitted,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an owner (or a holder of `managed-account:manage`) can do with an account (§4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Renew,
    Disable,
    Enable,
    Delete,
    SubmitRenewal,
    Clone,
}

impl Action {
    pub const ALL: [Action; 6] = [
        Action::Renew,
        Action::Disable,
        Action::Enable,
        Action::Delete,
        Action::SubmitRenewal,
        Action::Clone,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Renew => "renew",
            Action::Disable => "disable",
            Action::Enable => "enable",
            Action::Delete => "delete",
            Action::SubmitRenewal => "submit-renewal",
            Action::Clone => "clone",
        }
    }
}

/// Where an account stands on its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub eol_action: EolAction,
    pub status: Status,
    pub eol_at: OffsetDateTime,
    /// EOL minus the template's re-approval window.
    pub renewal_at: OffsetDateTime,
}

/// The renewal date: the EOL instant minus the window.
pub fn renewal_at(eol_at: OffsetDateTime, window_days: u32) -> OffsetDateTime {
    eol_at - Duration::days(i64::from(window_days))
}

impl Standing {
    /// At or after the EOL instant (AEOL); before it, BEOL.
    pub fn at_or_after_eol(&self, now: OffsetDateTime) -> bool {
        now >= self.eol_at
    }

    /// Whether `action` is available now; `Err` says why not (the API's 409 text).
    pub fn check(&self, action: Action, now: OffsetDateTime) -> Result<(), String> {
        use EolAction as E;
        let aeol = self.at_or_after_eol(now);
        let renewal_open = now >= self.renewal_at;
        let status = self.status;
        let when = if aeol { "at or after" } else { "before" };
        let not_in_table = || {
            Err(format!(
                "{} is not offered for a {} account {when} its end of lifecycle",
                action.as_str(),
                eol_name(self.eol_action)
            ))
        };
        if action == Action::Clone {
            return Ok(());
        }
        match status {
            Status::Deleted => {
                return Err("the account is deleted: only clone as new request remains".into())
            }
            Status::Renewing | Status::ReviewSubmitted => {
                return Err(format!(
                    "the account is {}: wait for the approval to finish",
                    status.as_str()
                ))
            }
            _ => {}
        }
        // The table of §4.1: (BEOL, AEOL) per EOL action.
        let (beol, aeol_ok) = match (action, self.eol_action) {
            (Action::Renew, E::Review | E::Disable) => (renewal_open, true),
            (Action::Renew, _) => (false, false),
            (Action::Disable, E::Review | E::Expire) => (true, true),
            (Action::Disable, E::Disable | E::Delete) => (true, false),
            (Action::Enable, E::Delete) => (true, false),
            (Action::Enable, _) => (true, true),
            (Action::Delete, E::Review | E::Disable) => (true, true),
            (Action::Delete, E::Delete | E::Expire) => (true, false),
            (Action::SubmitRenewal, E::Expire) => (renewal_open, true),
            (Action::SubmitRenewal, _) => (false, false),
            (Action::Clone, _) => (true, true),
        };
        let in_table = if aeol { aeol_ok } else { beol };
        if !in_table {
            if !aeol
                && matches!(action, Action::Renew | Action::SubmitRenewal)
                && matches!(
                    (action, self.eol_action),
                    (Action::Renew, E::Review | E::Disable) | (Action::SubmitRenewal, E::Expire)
                )
            {
                return Err(format!(
                    "renewal opens at {} (the re-approval window before the end of lifecycle)",
                    crate::rfc3339::format(self.renewal_at)
                ));
            }
            return not_in_table();
        }
        // The status must allow it too.
        match (action, status) {
            (Action::Disable, Status::Active | Status::Expired) => Ok(()),
            (Action::Disable, _) => Err(format!("the account is {} already", status.as_str())),
            (Action::Enable, Status::Disabled) => Ok(()),
            (Action::Enable, _) => Err("only a disabled account can be enabled".into()),
            (Action::Renew, Status::Active | Status::Disabled) => Ok(()),
            (Action::SubmitRenewal, Status::Active | Status::Expired) => Ok(()),
            (Action::Renew | Action::SubmitRenewal, _) => {
                Err(format!("a {} account is not renewed", status.as_str()))
            }
            _ => Ok(()),
        }
    }

    /// Every action available now, in the table's order.
    pub fn available(&self, now: OffsetDateTime) -> Vec<Action> {
        Action::ALL
            .into_iter()
            .filter(|a| self.check(*a, now).is_ok())
            .collect()
    }
}

fn eol_name(a: EolAction) -> &'static str {
    match a {
        EolAction::Review => "review",
        EolAction::Disable => "disable",
        EolAction::Expire => "expire",
        EolAction::Delete => "delete",
    }
}

/// What the scheduler does to an `active` account at its EOL instant (§4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EolOutcome {
    /// Disable it in the directory (and move it to the retirement OU when there is one).
    pub disable_in_directory: bool,
    pub status: Status,
}

/// `None`: nothing happens (review: the account stays active and Renew becomes available).
pub fn at_eol(action: EolAction) -> Option<EolOutcome> {
    match action {
        EolAction::Review => None,
        EolAction::Disable => Some(EolOutcome {
            disable_in_directory: true,
            status: Status::Disabled,
        }),
        // accountExpires has been the EOL instant since provisioning: the directory stops
        // authentication by itself.
        EolAction::Expire => Some(EolOutcome {
            disable_in_directory: false,
            status: Status::Expired,
        }),
        // Disabled, not deleted (§4.2): a mistake can still be undone in the directory.
        EolAction::Delete => Some(EolOutcome {
            disable_in_directory: true,
            status: Status::Deleted,
        }),
    }
}

/// The EOL instant after a renewal: the EOL date plus the account's interval, 00:00 UTC.
pub fn renewed_eol(eol_at: OffsetDateTime, interval: Interval) -> OffsetDateTime {
    crate::filetime::eol_instant(interval.end_date(eol_at.date()))
}

/// The kinds of reminder of §4.4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReminderKind {
    /// Renewal is open (sent at the renewal date, when the template says so).
    RenewalOpen,
    /// Every N days after the renewal date.
    Reminder,
    /// Every N hours from N days before EOL.
    Urgent,
}

impl ReminderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReminderKind::RenewalOpen => "renewal-open",
            ReminderKind::Reminder => "reminder",
            ReminderKind::Urgent => "urgent",
        }
    }
}

/// One reminder: its kind, its number within the kind, and when it is due. (account, kind,
/// slot) is what makes a reminder unique: it is sent once, whatever restarts or replicas do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub kind: ReminderKind,
    pub slot: i64,
    pub at: OffsetDateTime,
}

/// The reminder schedule of one account, from its template's lifecycle settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReminderPlan {
    pub renewal_at: OffsetDateTime,
    pub eol_at: OffsetDateTime,
    pub notify_renewal_open: bool,
    pub every_days: Option<u32>,
    pub urgent_every_hours: Option<u32>,
    pub urgent_from_days: Option<u32>,
    pub stop_after_days: Option<u32>,
}

impl ReminderPlan {
    pub fn new(eol_at: OffsetDateTime, l: &Lifecycle) -> Self {
        Self {
            renewal_at: renewal_at(eol_at, l.renewal_window_days),
            eol_at,
            notify_renewal_open: l.notify_renewal_open,
            every_days: l.reminder_every_days.filter(|d| *d > 0),
            urgent_every_hours: l.urgent_every_hours.filter(|h| *h > 0),
            urgent_from_days: l.urgent_from_days,
            stop_after_days: l.stop_reminders_after_days,
        }
    }

    /// Reminders are due before this instant only: the EOL, or earlier when the template
    /// stops them N days after they started.
    fn end(&self) -> OffsetDateTime {
        let stop = self
            .stop_after_days
            .map(|d| self.renewal_at + Duration::days(i64::from(d)));
        match stop {
            Some(s) if s < self.eol_at => s,
            _ => self.eol_at,
        }
    }

    /// When urgent reminders start (regular ones stop there).
    fn urgent_start(&self) -> Option<OffsetDateTime> {
        self.urgent_every_hours?;
        let from = self.urgent_from_days?;
        Some((self.eol_at - Duration::days(i64::from(from))).max(self.renewal_at))
    }

    /// The latest slot of each kind due at or before `now` (earlier ones that were missed —
    /// the server was down — are passed over rather than sent in a burst). Nothing at or after
    /// the end, and no regular reminder once the urgent window has begun.
    pub fn due(&self, now: OffsetDateTime) -> Vec<Slot> {
        let end = self.end();
        let mut out = Vec::new();
        // SPEC §4.4 is about notifications *before* EOL (and none once they stopped): the first
        // sweep after the end sent every kind's last slot at once (found by the model-based
        // test, tests/it/model_lifecycle.rs: a review account swept first after its EOL).
        if now >= end {
            return out;
        }
        if self.notify_renewal_open && self.renewal_at <= now && self.renewal_at < end {
            out.push(Slot {
                kind: ReminderKind::RenewalOpen,
                slot: 0,
                at: self.renewal_at,
            });
        }
        let urgent_start = self.urgent_start();
        let regular_end = urgent_start.map_or(end, |u| u.min(end));
        // Urgent reminders replace the regular ones: a regular slot missed before the urgent
        // window began is passed over like any missed slot, not sent beside the urgent one
        // (found by the model-based test: a first sweep in the urgent window sent both).
        if let (Some(days), true) = (self.every_days, now < regular_end) {
            let step = Duration::days(i64::from(days));
            let k = slots_elapsed(self.renewal_at, step, now);
            if k >= 1 {
                out.push(Slot {
                    kind: ReminderKind::Reminder,
                    slot: k,
                    at: self.renewal_at + step * k as i32,
                });
            }
        }
        if let (Some(start), Some(hours)) = (urgent_start, self.urgent_every_hours) {
            if start <= now && start < end {
                let step = Duration::hours(i64::from(hours));
                let j = slots_elapsed(start, step, now.min(end - Duration::NANOSECOND));
                if j >= 0 {
                    out.push(Slot {
                        kind: ReminderKind::Urgent,
                        slot: j,
                        at: start + step * j as i32,
                    });
                }
            }
        }
        out
    }

    /// The first instant after `now` at which a slot falls due, `None` when the plan is over.
    pub fn next_due(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        let end = self.end();
        let mut candidates = Vec::new();
        if self.notify_renewal_open && now < self.renewal_at && self.renewal_at < end {
            candidates.push(self.renewal_at);
        }
        let urgent_start = self.urgent_start();
        let regular_end = urgent_start.map_or(end, |u| u.min(end));
        if let Some(days) = self.every_days {
            let step = Duration::days(i64::from(days));
            let k = slots_elapsed(self.renewal_at, step, now).max(0) + 1;
            let at = self.renewal_at + step * k as i32;
            if at < regular_end {
                candidates.push(at);
            }
        }
        if let (Some(start), Some(hours)) = (urgent_start, self.urgent_every_hours) {
            let step = Duration::hours(i64::from(hours));
            let at = if now < start {
                start
            } else {
                start + step * (slots_elapsed(start, step, now) + 1) as i32
            };
            if at < end {
                candidates.push(at);
            }
        }
        candidates.into_iter().min()
    }
}

/// How many whole steps from `start` have passed at `now` (−1 before `start`).
fn slots_elapsed(start: OffsetDateTime, step: Duration, now: OffsetDateTime) -> i64 {
    if now < start {
        return -1;
    }
    let elapsed = (now - start).whole_seconds();
    elapsed / step.whole_seconds().max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const EOL: OffsetDateTime = datetime!(2027-03-01 00:00 UTC);

    fn standing(eol_action: EolAction, status: Status) -> Standing {
        Standing {
            eol_action,
            status,
            eol_at: EOL,
            renewal_at: renewal_at(EOL, 15),
        }
    }

    /// SPEC §4.1, written out cell by cell: (action, [review BEOL, review AEOL, disable BEOL,
    /// disable AEOL, delete BEOL, delete AEOL, expire BEOL, expire AEOL]) for an account in the
    /// renewal window (BEOL) or after its EOL (AEOL), in the status the scheduler leaves it.
    #[test]
    fn the_action_table_of_spec_4_1() {
        use Action::*;
        let beol = datetime!(2027-02-20 12:00 UTC); // renewal opened on 2027-02-14
        let aeol = datetime!(2027-03-01 00:00 UTC);
        let table: [(Action, [bool; 8]); 5] = [
            (Renew, [true, true, true, true, false, false, false, false]),
            (Disable, [true, true, true, false, true, false, true, true]),
            (Delete, [true, true, true, true, true, false, true, false]),
            (
                SubmitRenewal,
                [false, false, false, false, false, false, true, true],
            ),
            (Clone, [true; 8]),
        ];
        let columns = [
            (EolAction::Review, beol, Status::Active),
            (EolAction::Review, aeol, Status::Active),
            (EolAction::Disable, beol, Status::Active),
            (EolAction::Disable, aeol, Status::Disabled),
            (EolAction::Delete, beol, Status::Active),
            (EolAction::Delete, aeol, Status::Deleted),
            (EolAction::Expire, beol, Status::Active),
            (EolAction::Expire, aeol, Status::Expired),
        ];
        for (action, row) in table {
            for (i, (eol_action, now, status)) in columns.iter().enumerate() {
                let s = standing(*eol_action, *status);
                assert_eq!(
                    s.check(action, *now).is_ok(),
                    row[i],
                    "{action:?} for {eol_action:?} {} in status {status:?}",
                    if i % 2 == 0 { "BEOL" } else { "AEOL" }
                );
            }
        }
        // Enable (after a disable), for disabled accounts: yes everywhere but delete AEOL.
        let enable = [true, true, true, true, true, false, true, true];
        for (i, (eol_action, now, _)) in columns.iter().enumerate() {
            let s = standing(*eol_action, Status::Disabled);
            assert_eq!(
                s.check(Enable, *now).is_ok(),
                enable[i],
                "enable {eol_action:?} col {i}"
            );
        }
    }

    #[test]
    fn renewal_waits_for_the_renewal_date_and_says_when() {
        let s = standing(EolAction::Review, Status::Active);
        let before = datetime!(2027-02-13 23:59:59 UTC);
        let e = s.check(Action::Renew, before).unwrap_err();
        assert!(
            e.contains("renewal opens at 2027-02-14T00:00:00Z ("),
            "RFC 3339: {e}"
        );
        assert!(s
            .check(Action::Renew, datetime!(2027-02-14 00:00 UTC))
            .is_ok());
        let e = standing(EolAction::Delete, Status::Active)
            .check(Action::Renew, before)
            .unwrap_err();
        assert!(e.contains("not offered"), "{e}");
    }

    #[test]
    fn statuses_narrow_the_table() {
        let now = datetime!(2027-01-01 00:00 UTC);
        assert_eq!(
            standing(EolAction::Review, Status::Deleted).available(now),
            [Action::Clone]
        );
        assert_eq!(
            standing(EolAction::Expire, Status::Renewing).available(now),
            [Action::Clone]
        );
        assert_eq!(
            standing(EolAction::Review, Status::Active).available(now),
            [Action::Disable, Action::Delete, Action::Clone]
        );
        assert_eq!(
            standing(EolAction::Review, Status::Disabled).available(now),
            [Action::Enable, Action::Delete, Action::Clone]
        );
    }

    #[test]
    fn eol_outcomes_follow_spec_4_2() {
        assert_eq!(at_eol(EolAction::Review), None);
        assert_eq!(
            at_eol(EolAction::Delete),
            Some(EolOutcome {
                disable_in_directory: true,
                status: Status::Deleted
            })
        );
        assert!(!at_eol(EolAction::Expire).unwrap().disable_in_directory);
    }

    #[test]
    fn a_renewal_adds_the_interval_to_the_eol_date() {
        assert_eq!(
            renewed_eol(EOL, Interval::Days(90)),
            datetime!(2027-05-30 00:00 UTC)
        );
        assert_eq!(
            renewed_eol(datetime!(2028-02-29 00:00 UTC), Interval::Years(1)),
            datetime!(2029-02-28 00:00 UTC)
        );
    }

    fn plan() -> ReminderPlan {
        ReminderPlan {
            renewal_at: datetime!(2027-02-14 00:00 UTC),
            eol_at: EOL,
            notify_renewal_open: true,
            every_days: Some(7),
            urgent_every_hours: Some(12),
            urgent_from_days: Some(2),
            stop_after_days: None,
        }
    }

    /// Walks a clock in `step`s from `from` to `to`, collecting each slot the first time it is
    /// due (what the (account, kind, slot) key lets through).
    fn walk(
        p: &ReminderPlan,
        from: OffsetDateTime,
        to: OffsetDateTime,
        step: Duration,
    ) -> Vec<(ReminderKind, i64, OffsetDateTime)> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        let mut now = from;
        while now <= to {
            for s in p.due(now) {
                if seen.insert((s.kind, s.slot)) {
                    out.push((s.kind, s.slot, s.at));
                }
            }
            now += step;
        }
        out
    }

    #[test]
    fn reminders_come_at_the_renewal_date_every_n_days_then_every_n_hours() {
        use ReminderKind::*;
        let p = plan();
        let got = walk(
            &p,
            datetime!(2027-02-01 00:00 UTC),
            datetime!(2027-03-05 00:00 UTC),
            Duration::hours(1),
        );
        assert_eq!(
            got,
            [
                (RenewalOpen, 0, datetime!(2027-02-14 00:00 UTC)),
                (Reminder, 1, datetime!(2027-02-21 00:00 UTC)),
                // 2027-02-28 would be the second: the urgent window (from 2027-02-27) took over.
                (Urgent, 0, datetime!(2027-02-27 00:00 UTC)),
                (Urgent, 1, datetime!(2027-02-27 12:00 UTC)),
                (Urgent, 2, datetime!(2027-02-28 00:00 UTC)),
                (Urgent, 3, datetime!(2027-02-28 12:00 UTC)),
            ]
        );
        // next_due agrees with the walk: from each due instant, the next one.
        assert_eq!(
            p.next_due(datetime!(2027-02-01 00:00 UTC)),
            Some(datetime!(2027-02-14 00:00 UTC))
        );
        assert_eq!(
            p.next_due(datetime!(2027-02-14 00:00 UTC)),
            Some(datetime!(2027-02-21 00:00 UTC))
        );
        assert_eq!(
            p.next_due(datetime!(2027-02-21 00:00 UTC)),
            Some(datetime!(2027-02-27 00:00 UTC))
        );
        assert_eq!(
            p.next_due(datetime!(2027-02-28 12:00 UTC)),
            None,
            "nothing at or after EOL"
        );
    }

    #[test]
    fn a_first_sweep_late_in_the_window_or_after_eol_sends_only_what_is_due_then() {
        use ReminderKind::*;
        let p = plan();
        let kinds = |now| {
            p.due(now)
                .iter()
                .map(|s| (s.kind, s.slot))
                .collect::<Vec<_>>()
        };
        // In the urgent window (from 2027-02-27): renewal open (never sent yet) and the urgent
        // slot, not the regular reminder of 2027-02-21 beside them.
        assert_eq!(
            kinds(datetime!(2027-02-27 13:00 UTC)),
            [(RenewalOpen, 0), (Urgent, 1)]
        );
        // At and after EOL: nothing.
        assert!(kinds(EOL).is_empty());
        assert!(kinds(datetime!(2027-06-01 00:00 UTC)).is_empty());
    }

    #[test]
    fn reminders_stop_n_days_after_they_started_and_missed_ones_are_not_sent_in_a_burst() {
        let mut p = plan();
        p.stop_after_days = Some(8);
        p.urgent_every_hours = None;
        p.every_days = Some(1);
        let got = walk(&p, datetime!(2027-02-14 00:00 UTC), EOL, Duration::days(1));
        assert_eq!(
            got.len(),
            1 + 7,
            "renewal open, then days 1..=7 (day 8 is the stop)"
        );
        // Down from the 15th to the 20th: one reminder (slot 6) on coming back, not six.
        let due = p.due(datetime!(2027-02-20 09:00 UTC));
        assert_eq!(
            due.iter()
                .filter(|s| s.kind == ReminderKind::Reminder)
                .map(|s| s.slot)
                .collect::<Vec<_>>(),
            [6]
        );
    }
}

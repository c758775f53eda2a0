//! When a failed job runs again (SPEC §3 "retried with back-off; visible as Retrying"): the
//! pure rule, from the kind of failure, the job's policy and the attempts made so far.
//!
//! Work that changes the directory or a vault (provisioning, account changes) must not be
//! stranded by an outage: a *transient* failure (the way to the DC or vault is down) is retried
//! for as long as it lasts, the pause doubling up to a cap; a *permanent* one (the directory or
//! vault refused the operation on the object itself, a configuration that cannot work) ends the
//! job at once with the reason, for a person to fix and retry; anything unclassified gets a
//! bounded number of attempts. Checks and syncs keep the bounded policy for everything: a
//! scheduled sync runs again anyway, and nobody waits on a stale check.

use std::time::Duration;

/// What a failure says about the next attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// The way there is down (unreachable, timed out, TLS handshake, engine gone): the same
    /// attempt can succeed later without anyone changing anything.
    Transient,
    /// The peer refused the operation itself, or alm's settings cannot produce it: trying again
    /// unchanged cannot help.
    Permanent,
    /// Not known to be either.
    Unclassified,
}

impl FailureClass {
    /// The class of an engine's problem kind (`alm_engine::protocol::Problem::problem`).
    pub fn of_problem(kind: &str) -> Self {
        match kind {
            "unreachable" | "tls" | "timeout" | "engine-gone" => Self::Transient,
            "no-such-object"
            | "already-exists"
            | "insufficient-rights"
            | "password-policy"
            | "bad-credentials"
            | "configuration"
            | "invalid" => Self::Permanent,
            _ => Self::Unclassified,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Transient => "transient",
            Self::Permanent => "permanent",
            Self::Unclassified => "unclassified",
        }
    }
}

/// How a kind of job is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Transient failures are retried without a bound on attempts.
    pub until_done: bool,
    /// Attempts in all for unclassified failures (and for everything when not `until_done`).
    pub max_attempts: u32,
    /// The pause after the first attempt; doubles with each attempt.
    pub first_pause: Duration,
    /// The longest pause.
    pub max_pause: Duration,
}

impl RetryPolicy {
    /// Checks, syncs: a few attempts, then failed.
    pub const BOUNDED: RetryPolicy = RetryPolicy {
        until_done: false,
        max_attempts: 5,
        first_pause: Duration::from_secs(10),
        max_pause: Duration::from_secs(10 * 60),
    };

    /// Directory and vault changes: retried while the failure is transient, ten minutes apart
    /// at most, so an account is made within minutes of the DC coming back.
    pub const UNTIL_DONE: RetryPolicy = RetryPolicy {
        until_done: true,
        ..Self::BOUNDED
    };

    /// The pause before attempt `attempts + 1`, after `attempts` (≥ 1) failed ones.
    pub fn pause(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(20);
        self.first_pause
            .saturating_mul(1 << doublings)
            .min(self.max_pause)
    }

    /// What follows the failure of attempt number `attempts` (1 for the first).
    pub fn after_failure(&self, class: FailureClass, attempts: u32) -> NextStep {
        let retry = match class {
            FailureClass::Permanent => false,
            FailureClass::Transient if self.until_done => true,
            FailureClass::Transient | FailureClass::Unclassified => attempts < self.max_attempts,
        };
        if retry {
            NextStep::RetryAfter(self.pause(attempts))
        } else {
            NextStep::GiveUp
        }
    }
}

/// The decision after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    RetryAfter(Duration),
    GiveUp,
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn the_pause_doubles_from_ten_seconds_up_to_ten_minutes() {
        let p = RetryPolicy::UNTIL_DONE;
        let pauses: Vec<u64> = (1..=9).map(|a| p.pause(a).as_secs()).collect();
        assert_eq!(pauses, [10, 20, 40, 80, 160, 320, 600, 600, 600]);
        assert_eq!(p.pause(u32::MAX), S(600), "no overflow on a long outage");
    }

    #[test]
    fn a_transient_failure_of_a_directory_change_is_retried_past_any_attempt_count() {
        let p = RetryPolicy::UNTIL_DONE;
        for attempts in [1, 5, 6, 50, 10_000] {
            assert!(
                matches!(
                    p.after_failure(FailureClass::Transient, attempts),
                    NextStep::RetryAfter(_)
                ),
                "attempt {attempts}"
            );
        }
    }

    #[test]
    fn a_permanent_failure_ends_at_once_whatever_the_policy() {
        for p in [RetryPolicy::UNTIL_DONE, RetryPolicy::BOUNDED] {
            assert_eq!(
                p.after_failure(FailureClass::Permanent, 1),
                NextStep::GiveUp
            );
        }
    }

    #[test]
    fn unclassified_failures_and_bounded_jobs_stop_after_five_attempts() {
        let until_done = RetryPolicy::UNTIL_DONE;
        let bounded = RetryPolicy::BOUNDED;
        assert_eq!(
            until_done.after_failure(FailureClass::Unclassified, 4),
            NextStep::RetryAfter(S(80))
        );
        assert_eq!(
            until_done.after_failure(FailureClass::Unclassified, 5),
            NextStep::GiveUp
        );
        assert_eq!(
            bounded.after_failure(FailureClass::Transient, 4),
            NextStep::RetryAfter(S(80))
        );
        assert_eq!(
            bounded.after_failure(FailureClass::Transient, 5),
            NextStep::GiveUp
        );
    }

    #[test]
    fn problem_kinds_are_classed_by_whether_waiting_can_help() {
        for k in ["unreachable", "tls", "timeout", "engine-gone"] {
            assert_eq!(FailureClass::of_problem(k), FailureClass::Transient, "{k}");
        }
        for k in [
            "no-such-object",
            "already-exists",
            "insufficient-rights",
            "password-policy",
            "bad-credentials",
            "configuration",
        ] {
            assert_eq!(FailureClass::of_problem(k), FailureClass::Permanent, "{k}");
        }
        for k in ["other", "conflict", ""] {
            assert_eq!(
                FailureClass::of_problem(k),
                FailureClass::Unclassified,
                "{k}"
            );
        }
    }
}

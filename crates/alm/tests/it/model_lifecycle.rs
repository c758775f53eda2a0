//! A model-based test of the lifecycle (SPEC §2.5–§2.7, §4): random sequences of requests
//! (approved through every step, or denied at the first), owner actions, renewals through
//! approval, owner changes (co-owners added, accounts handed over), disables of owners (by an
//! administrator, under orphan protection, and by the directory sync of a user-sync group),
//! new template versions, clock jumps with EOL sweeps and server restarts run against the real
//! server (SQLite, scheduler off: the test sweeps) and the real Samba DC. After every step a
//! reference model written from the SPEC must agree with alm's API, its database (EOL audit
//! records, reminder slots, inbox, orphan alerts) and the directory. Here: the operations and
//! their generators, the model, the shared fixture and the runner; `steps.rs` runs one
//! operation against alm and the model, `invariants.rs` compares them.
//!
//! One server and world serve every case (each case has its own owner and fresh account
//! names; the clock only moves forward; template versions and the pool of directory people
//! are shared, so a replay starts from version 1 of each template). A failing sequence is shrunk by proptest and printed
//! as a `#[tokio::test]` that calls [`replay_at`]. `ALMTEST_MODEL_CASES` sets the number of
//! sequences (200), `ALMTEST_MODEL_SEED` the generator's seed (random, printed),
//! `ALMTEST_MODEL_BACKEND=postgres` runs them on PostgreSQL, `ALMTEST_MODEL_VERBOSE=1` prints
//! each step.

use crate::support::{ad, Api, Backend, TestServer};
use crate::templates::{definition, world, World};
use alm_core::Clock as _;
use alm_directory::{ActiveDirectory, Directory as _, Lookup};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration as Wait, Instant};
use time::format_description::well_known::Rfc3339;
use time::{Date, Duration, Month, OffsetDateTime};

/// The server's settings: sweeps happen when the test asks, at the instants it chose.
const SETTINGS: &[(&str, &str)] = &[("ALM_SCHEDULER__ENABLED", "false")];

/// The templates' lifecycle settings (SPEC §2.4 step 5), which the model's reminder slots use.
/// The re-approval window and the short period change between template versions
/// ([`VERSION_VARIANTS`]); the rest stays.
const REMINDER_EVERY_DAYS: i64 = 7;
const URGENT_EVERY_HOURS: i64 = 12;
const URGENT_FROM_DAYS: i64 = 2;

/// The (short period in days, re-approval window in days) a new template version gets, by
/// [`Op::NewVersion`]'s `variant`; version 1 has the first. The year-long period is offered by
/// every version.
const VERSION_VARIANTS: [(u32, i64); 3] = [(90, 15), (60, 10), (120, 20)];

/// How many people may own an account (the templates' ownership rules, SPEC §2.4 step 4).
const MAX_OWNERS: usize = 3;

/// How long a provisioning or a directory change may take before the step fails.
const BOUND: Wait = Wait::from_secs(60);

mod invariants;
mod owners;
mod steps;

// ---------------------------------------------------------------------------------------------
// Operations

/// The EOL action of the template a request uses (one published template each).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Eol {
    Review,
    Disable,
    Expire,
    Delete,
}

impl Eol {
    const ALL: [Eol; 4] = [Eol::Review, Eol::Disable, Eol::Expire, Eol::Delete];

    fn as_str(self) -> &'static str {
        match self {
            Eol::Review => "review",
            Eol::Disable => "disable",
            Eol::Expire => "expire",
            Eol::Delete => "delete",
        }
    }
}

/// An instant of an account's lifecycle a targeted clock jump goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edge {
    /// The renewal date (EOL minus the re-approval window).
    RenewalOpens,
    /// The first regular reminder (renewal date + N days).
    FirstReminder,
    /// The start of the urgent reminders (N days before EOL).
    UrgentStarts,
    /// One hour before the EOL instant.
    BeforeEol,
    /// The EOL instant itself.
    Eol,
}

/// What the approvers do with a renewal request right after it was submitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Deny,
    /// Leave it waiting ([`Op::DecideRenewal`] or nothing decides it later).
    Later,
}

/// One step of a sequence. `account` picks one of the case's accounts (modulo their number;
/// owner actions mostly among the accounts they can apply to, see `Model::pick_for`);
/// nothing happens when there is none yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Request an account (90 days or 1 year) and approve it through both steps, until it is
    /// provisioned; `reuse_name`: under the name of a request rejected earlier, when there is one.
    Request {
        eol: Eol,
        yearly: bool,
        reuse_name: bool,
    },
    /// Request an account and deny it at step 1: rejected, no account.
    RequestDenied {
        eol: Eol,
    },
    /// Renew; with `at_renewal`, first move the clock to the account's renewal date (if it is
    /// ahead) and sweep.
    Renew {
        account: usize,
        at_renewal: bool,
    },
    Disable {
        account: usize,
    },
    Enable {
        account: usize,
    },
    /// Delete account & secret, with the name typed again (`confirm`) or a wrong one.
    Delete {
        account: usize,
        confirm: bool,
    },
    /// Submit for approval to renew (`at_renewal` as for [`Op::Renew`]), then decide it.
    SubmitRenewal {
        account: usize,
        decision: Decision,
        at_renewal: bool,
    },
    /// Approve or deny the first renewal that waits.
    DecideRenewal {
        approve: bool,
    },
    /// Disable the case's owner (the requester) and enable them again: refused while an
    /// account that is not deleted has them as its last enabled owner (orphan protection).
    DisableOwner,
    /// An enabled owner of the account adds co-owner `person` (1 or 2: the case's other
    /// people, made on first use); refused when they own it already or the template's maximum
    /// is reached.
    AddCoOwner {
        account: usize,
        person: u8,
    },
    /// The account's acting owner hands it over: adds a new person, then removes themselves.
    /// The new owner can act on it; the old one cannot (404: not theirs to see).
    HandOver {
        account: usize,
    },
    /// An administrator disables an enabled owner of the account other than the case's owner:
    /// allowed while every account they own keeps another enabled owner, else refused (orphan
    /// protection); with `enable_again` they are enabled right after.
    DisableCoOwner {
        account: usize,
        enable_again: bool,
    },
    /// A person of a directory user-sync group (SPEC §6.3) becomes owner of the account
    /// (through an alm group of theirs with `via_group`; its only owner with `alone`), then
    /// leaves: disabled in Samba, or deleted with `deleted`; the next domain sync disables them
    /// in alm. Accounts it leaves without an enabled owner are listed as orphaned and alerted
    /// (§2.7).
    SyncDisablesOwner {
        account: usize,
        alone: bool,
        deleted: bool,
        via_group: bool,
    },
    /// An alm group with one new member becomes owner of the account (its only owner with
    /// `alone`; the templates allow group owners); the member acts on it through the group.
    AddGroupOwner {
        account: usize,
        alone: bool,
    },
    /// An administrator disables an enabled owner group of the account: allowed while every
    /// account it owns keeps another enabled owner, else refused (§2.2, §2.7); with
    /// `enable_again` it is enabled right after.
    DisableGroup {
        account: usize,
        enable_again: bool,
    },
    /// An administrator names the case's owner as new owner of an orphaned account (the first
    /// one, if any).
    Adopt,
    /// A new version of the template of `eol` is published, with the period and window of
    /// `VERSION_VARIANTS[variant]` (SPEC §2.4: accounts keep their version).
    NewVersion {
        eol: Eol,
        variant: u8,
    },
    /// Move the clock forward, then sweep.
    Jump {
        days: u16,
        hours: u8,
    },
    /// Move the clock to an instant of an account's lifecycle (if it is ahead), then sweep.
    JumpTo {
        account: usize,
        edge: Edge,
    },
    /// Stop the server and start it again on the same database.
    Restart,
}

impl Op {
    /// The operation as Rust source (for the printed replay test).
    pub fn source(&self) -> String {
        match self {
            Op::Request {
                eol,
                yearly,
                reuse_name,
            } => format!(
                "Op::Request {{ eol: Eol::{eol:?}, yearly: {yearly}, reuse_name: {reuse_name} }}"
            ),
            Op::RequestDenied { eol } => format!("Op::RequestDenied {{ eol: Eol::{eol:?} }}"),
            Op::Renew {
                account,
                at_renewal,
            } => format!("Op::Renew {{ account: {account}, at_renewal: {at_renewal} }}"),
            Op::Disable { account } => format!("Op::Disable {{ account: {account} }}"),
            Op::Enable { account } => format!("Op::Enable {{ account: {account} }}"),
            Op::Delete { account, confirm } => {
                format!("Op::Delete {{ account: {account}, confirm: {confirm} }}")
            }
            Op::SubmitRenewal {
                account,
                decision,
                at_renewal,
            } => format!(
                "Op::SubmitRenewal {{ account: {account}, decision: Decision::{decision:?}, at_renewal: {at_renewal} }}"
            ),
            Op::DecideRenewal { approve } => format!("Op::DecideRenewal {{ approve: {approve} }}"),
            Op::DisableOwner => "Op::DisableOwner".into(),
            Op::AddCoOwner { account, person } => {
                format!("Op::AddCoOwner {{ account: {account}, person: {person} }}")
            }
            Op::HandOver { account } => format!("Op::HandOver {{ account: {account} }}"),
            Op::DisableCoOwner {
                account,
                enable_again,
            } => format!(
                "Op::DisableCoOwner {{ account: {account}, enable_again: {enable_again} }}"
            ),
            Op::SyncDisablesOwner {
                account,
                alone,
                deleted,
                via_group,
            } => format!(
                "Op::SyncDisablesOwner {{ account: {account}, alone: {alone}, deleted: {deleted}, via_group: {via_group} }}"
            ),
            Op::AddGroupOwner { account, alone } => {
                format!("Op::AddGroupOwner {{ account: {account}, alone: {alone} }}")
            }
            Op::DisableGroup {
                account,
                enable_again,
            } => format!(
                "Op::DisableGroup {{ account: {account}, enable_again: {enable_again} }}"
            ),
            Op::Adopt => "Op::Adopt".into(),
            Op::NewVersion { eol, variant } => {
                format!("Op::NewVersion {{ eol: Eol::{eol:?}, variant: {variant} }}")
            }
            Op::Jump { days, hours } => format!("Op::Jump {{ days: {days}, hours: {hours} }}"),
            Op::JumpTo { account, edge } => {
                format!("Op::JumpTo {{ account: {account}, edge: Edge::{edge:?} }}")
            }
            Op::Restart => "Op::Restart".into(),
        }
    }

    /// The operation's kind, for the statistics line.
    fn kind(&self) -> &'static str {
        match self {
            Op::Request { .. } => "request",
            Op::RequestDenied { .. } => "request-denied",
            Op::Renew { .. } => "renew",
            Op::Disable { .. } => "disable",
            Op::Enable { .. } => "enable",
            Op::Delete { .. } => "delete",
            Op::SubmitRenewal { .. } => "submit-renewal",
            Op::DecideRenewal { .. } => "decide-renewal",
            Op::DisableOwner => "disable-owner",
            Op::AddCoOwner { .. } => "add-co-owner",
            Op::HandOver { .. } => "hand-over",
            Op::DisableCoOwner { .. } => "disable-co-owner",
            Op::SyncDisablesOwner { .. } => "sync-disables-owner",
            Op::AddGroupOwner { .. } => "add-group-owner",
            Op::DisableGroup { .. } => "disable-group",
            Op::Adopt => "adopt",
            Op::NewVersion { .. } => "new-version",
            Op::Jump { .. } => "jump",
            Op::JumpTo { .. } => "jump-to",
            Op::Restart => "restart",
        }
    }
}

fn eol_strategy() -> impl Strategy<Value = Eol> {
    prop::sample::select(Eol::ALL.to_vec())
}

fn request_strategy() -> impl Strategy<Value = Op> {
    (eol_strategy(), any::<bool>(), prop::bool::weighted(0.3)).prop_map(
        |(eol, yearly, reuse_name)| Op::Request {
            eol,
            yearly,
            reuse_name,
        },
    )
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let account = || 0usize..8;
    let decision = prop_oneof![
        Just(Decision::Approve),
        Just(Decision::Deny),
        Just(Decision::Later)
    ];
    let edge = prop_oneof![
        Just(Edge::RenewalOpens),
        Just(Edge::FirstReminder),
        Just(Edge::UrgentStarts),
        Just(Edge::BeforeEol),
        Just(Edge::Eol),
    ];
    prop_oneof![
        18 => request_strategy(),
        3 => eol_strategy().prop_map(|eol| Op::RequestDenied { eol }),
        9 => (account(), prop::bool::weighted(0.6))
            .prop_map(|(account, at_renewal)| Op::Renew { account, at_renewal }),
        7 => account().prop_map(|account| Op::Disable { account }),
        6 => account().prop_map(|account| Op::Enable { account }),
        5 => (account(), prop::bool::weighted(0.8))
            .prop_map(|(account, confirm)| Op::Delete { account, confirm }),
        11 => (account(), decision, prop::bool::weighted(0.6))
            .prop_map(|(account, decision, at_renewal)| Op::SubmitRenewal { account, decision, at_renewal }),
        3 => any::<bool>().prop_map(|approve| Op::DecideRenewal { approve }),
        3 => Just(Op::DisableOwner),
        5 => (account(), 1u8..=2).prop_map(|(account, person)| Op::AddCoOwner { account, person }),
        4 => account().prop_map(|account| Op::HandOver { account }),
        4 => (account(), any::<bool>())
            .prop_map(|(account, enable_again)| Op::DisableCoOwner { account, enable_again }),
        // Two domain syncs each: rarer than the owner actions.
        4 => sync_disables_owner_strategy(),
        4 => (account(), any::<bool>()).prop_map(|(account, alone)| Op::AddGroupOwner { account, alone }),
        4 => (account(), any::<bool>())
            .prop_map(|(account, enable_again)| Op::DisableGroup { account, enable_again }),
        3 => Just(Op::Adopt),
        2 => (eol_strategy(), 0u8..3).prop_map(|(eol, variant)| Op::NewVersion { eol, variant }),
        // Jumps of hours, of weeks and of up to 400 days.
        4 => (0u16..=2, 0u8..24).prop_map(|(days, hours)| Op::Jump { days, hours }),
        4 => (0u16..=30, 0u8..24).prop_map(|(days, hours)| Op::Jump { days, hours }),
        5 => (0u16..=400, 0u8..24).prop_map(|(days, hours)| Op::Jump { days, hours }),
        18 => (account(), edge).prop_map(|(account, edge)| Op::JumpTo { account, edge }),
        3 => Just(Op::Restart),
    ]
}

fn sync_disables_owner_strategy() -> impl Strategy<Value = Op> {
    (
        0usize..8,
        prop::bool::weighted(0.6),
        prop::bool::weighted(0.3),
        prop::bool::weighted(0.4),
    )
        .prop_map(
            |(account, alone, deleted, via_group)| Op::SyncDisablesOwner {
                account,
                alone,
                deleted,
                via_group,
            },
        )
}

/// One operation, or now and then a sync that may orphan an account followed by its adoption
/// (an [`Op::Adopt`] on its own rarely comes after an orphaning).
fn step_strategy() -> impl Strategy<Value = Vec<Op>> {
    prop_oneof![
        30 => op_strategy().prop_map(|op| vec![op]),
        1 => sync_disables_owner_strategy().prop_map(|op| vec![op, Op::Adopt]),
    ]
}

/// 1 to 15 operations (8 steps, a step now and then two); the first one mostly a request (without an account, most operations
/// have nothing to act on).
fn sequence_strategy() -> impl Strategy<Value = Vec<Op>> {
    (
        prop_oneof![9 => request_strategy(), 1 => op_strategy()],
        prop::collection::vec(step_strategy(), 0..=7),
    )
        .prop_map(|(first, rest)| {
            std::iter::once(first)
                .chain(rest.into_iter().flatten())
                .collect()
        })
}

// ---------------------------------------------------------------------------------------------
// The reference model, from the SPEC

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Interval {
    /// The template version's short period.
    Days(u32),
    Year1,
}

impl Interval {
    fn as_str(self) -> String {
        match self {
            Interval::Days(n) => format!("{n}d"),
            Interval::Year1 => "1y".into(),
        }
    }

    /// The EOL date of a period that starts on `from`: N days later, or the same day a year
    /// later (29 February → 28 February).
    fn end(self, from: Date) -> Date {
        match self {
            Interval::Days(n) => from + Duration::days(i64::from(n)),
            Interval::Year1 => from.replace_year(from.year() + 1).unwrap_or_else(|_| {
                Date::from_calendar_date(from.year() + 1, Month::February, 28).expect("a date")
            }),
        }
    }
}

/// 00:00 UTC of a date (§4: lifecycle start and EOL instant).
fn midnight(d: Date) -> OffsetDateTime {
    d.midnight().assume_utc()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Active,
    Disabled,
    Expired,
    Deleted,
    Renewing,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Disabled => "disabled",
            Status::Expired => "expired",
            Status::Deleted => "deleted",
            Status::Renewing => "renewing",
        }
    }
}

/// The owner actions of §4.1, in the order alm lists them in `available_actions`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Act {
    Renew,
    Disable,
    Enable,
    Delete,
    SubmitRenewal,
    Clone,
}

impl Act {
    const ALL: [Act; 6] = [
        Act::Renew,
        Act::Disable,
        Act::Enable,
        Act::Delete,
        Act::SubmitRenewal,
        Act::Clone,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Act::Renew => "renew",
            Act::Disable => "disable",
            Act::Enable => "enable",
            Act::Delete => "delete",
            Act::SubmitRenewal => "submit-renewal",
            Act::Clone => "clone",
        }
    }
}

/// A cell of the §4.1 table before EOL.
#[derive(Clone, Copy)]
enum Before {
    No,
    Yes,
    FromRenewalDate,
}

/// The table of §4.1: (before EOL, at/after EOL) per action and EOL action.
fn table(act: Act, eol: Eol) -> (Before, bool) {
    use Before::*;
    match (act, eol) {
        (Act::Renew, Eol::Review | Eol::Disable) => (FromRenewalDate, true),
        (Act::Renew, Eol::Delete | Eol::Expire) => (No, false),
        (Act::Disable, Eol::Review | Eol::Expire) => (Yes, true),
        (Act::Disable, Eol::Disable | Eol::Delete) => (Yes, false),
        (Act::Enable, Eol::Delete) => (Yes, false),
        (Act::Enable, _) => (Yes, true),
        (Act::Delete, Eol::Review | Eol::Disable) => (Yes, true),
        (Act::Delete, Eol::Delete | Eol::Expire) => (Yes, false),
        (Act::SubmitRenewal, Eol::Expire) => (FromRenewalDate, true),
        (Act::SubmitRenewal, _) => (No, false),
        (Act::Clone, _) => (Yes, true),
    }
}

/// The account as the directory should have it.
#[derive(Clone, Debug)]
struct DirState {
    present: bool,
    enabled: bool,
    /// In the template's retirement OU (moved there by a disable or delete EOL action).
    retired: bool,
    /// `accountExpires`: the EOL instant for expire accounts, never for the others.
    expires: Option<OffsetDateTime>,
}

#[derive(Clone, Debug)]
struct Account {
    id: String,
    /// The sAMAccountName (the template's prefix applied).
    name: String,
    template: String,
    /// The template version it was made from, and that version's re-approval window (days).
    version: i64,
    window: i64,
    eol_action: Eol,
    interval: Interval,
    start: OffsetDateTime,
    eol: OffsetDateTime,
    status: Status,
    /// What a denied renewal goes back to.
    status_before: Option<Status>,
    dir: DirState,
    /// Each run of the EOL action: (the EOL instant it was for, the sweep's instant).
    eol_runs: Vec<(OffsetDateTime, OffsetDateTime)>,
    /// The renewal request waiting for approval (index into the model's requests).
    renewal: Option<usize>,
    /// Its owners (indexes into the model's people), the requester first.
    owners: Vec<usize>,
    /// How often a directory sync left it without an enabled owner (each is alerted).
    orphan_alerts: u32,
}

impl Account {
    fn renewal_at(&self) -> OffsetDateTime {
        self.eol - Duration::days(self.window)
    }

    /// Whether the owner may take `act` now: the §4.1 table, then what the status allows
    /// (only clone once deleted or while a renewal waits; enable only after a disable; renew a
    /// live or disabled account; disable a live or expired one).
    fn allows(&self, act: Act, now: OffsetDateTime) -> bool {
        if act == Act::Clone {
            return true;
        }
        if matches!(self.status, Status::Deleted | Status::Renewing) {
            return false;
        }
        let (before, after) = table(act, self.eol_action);
        let in_table = if now >= self.eol {
            after
        } else {
            match before {
                Before::No => false,
                Before::Yes => true,
                Before::FromRenewalDate => now >= self.renewal_at(),
            }
        };
        in_table
            && match act {
                Act::Renew => matches!(self.status, Status::Active | Status::Disabled),
                Act::Disable => matches!(self.status, Status::Active | Status::Expired),
                Act::Enable => self.status == Status::Disabled,
                Act::SubmitRenewal => matches!(self.status, Status::Active | Status::Expired),
                Act::Delete | Act::Clone => true,
            }
    }

    fn available(&self, now: OffsetDateTime) -> Vec<&'static str> {
        Act::ALL
            .into_iter()
            .filter(|a| self.allows(*a, now))
            .map(Act::as_str)
            .collect()
    }

    /// §4.2 Renew: the EOL date plus the interval, 00:00 UTC.
    fn renewed_eol(&self) -> OffsetDateTime {
        midnight(self.interval.end(self.eol.date()))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RequestState {
    PendingApproval,
    Approved,
    Provisioned,
    Rejected,
}

impl RequestState {
    fn as_str(self) -> &'static str {
        match self {
            RequestState::PendingApproval => "pending-approval",
            RequestState::Approved => "approved",
            RequestState::Provisioned => "provisioned",
            RequestState::Rejected => "rejected",
        }
    }
}

#[derive(Clone, Debug)]
struct Request {
    id: String,
    /// A renewal of an account (else a request for a new one).
    renewal: bool,
    /// The full account name.
    name: String,
    state: RequestState,
}

/// One reminder (§4.4): account (index), kind, EOL date of its period, slot; when it went, and
/// to how many people (the owners enabled then: §7.1 sends to owners, and disabled users get
/// nothing, §2.1). An orphaned account's slot is used up though nobody is told: the SPEC
/// names no other recipient, and the orphan alert (§2.7) is what asks for a new owner.
type Reminder = (usize, &'static str, Date, i64, OffsetDateTime, i64);

/// A person of a case: its owner (index 0, a requester), co-owners and new owners made on the
/// way (local users with an API token), and people synced from the directory (no token).
/// An owner group (an alm group, §2.2) is kept here too: `member` is its one member, `enabled`
/// the group's flag.
#[derive(Clone)]
struct Person {
    id: String,
    api: Option<Api>,
    enabled: bool,
    member: Option<usize>,
}

#[derive(Default)]
struct Model {
    accounts: Vec<Account>,
    requests: Vec<Request>,
    reminders: BTreeSet<Reminder>,
    /// Names (without the prefix) of rejected requests, free again (§2.5 name uniqueness).
    free_names: Vec<String>,
    people: Vec<Person>,
    /// "Ownership changed" notifications (§7.1: to the owners, the added or removed one too)
    /// per (account, person).
    owner_told: BTreeMap<(usize, usize), i64>,
    /// The people [`Op::AddCoOwner`]'s `person` names, once made.
    co_owners: BTreeMap<u8, usize>,
    /// Accounts an earlier (failed) sequence left ownerless and unalerted.
    known_unalerted: BTreeSet<String>,
}

/// The reminder slots of §4.4 whose time has come at `t` for a period ending at `eol` with a
/// re-approval window of `window` days: renewal open from the renewal date, a reminder every N
/// days after it until the urgent window, an urgent one every N hours from N days before EOL;
/// nothing at or after EOL. The slot is the one `t` falls in (a slot passed while no sweep ran
/// is not sent late).
fn due_slots(eol: OffsetDateTime, window: i64, t: OffsetDateTime) -> Vec<(&'static str, i64)> {
    let renewal = eol - Duration::days(window);
    let urgent = eol - Duration::days(URGENT_FROM_DAYS);
    let mut out = Vec::new();
    if t < renewal || t >= eol {
        return out;
    }
    out.push(("renewal-open", 0));
    let every = Duration::days(REMINDER_EVERY_DAYS);
    if t >= renewal + every && t < urgent {
        out.push((
            "reminder",
            (t - renewal).whole_seconds() / every.whole_seconds(),
        ));
    }
    if t >= urgent {
        let every = Duration::hours(URGENT_EVERY_HOURS);
        out.push((
            "urgent",
            (t - urgent).whole_seconds() / every.whole_seconds(),
        ));
    }
    out
}

impl Model {
    fn pick(&self, account: usize) -> Option<usize> {
        (!self.accounts.is_empty()).then(|| account % self.accounts.len())
    }

    /// One of the accounts that are not deleted and pass `fits`, if any.
    fn pick_live(&self, account: usize, fits: impl Fn(usize) -> bool) -> Option<usize> {
        let live: Vec<usize> = (0..self.accounts.len())
            .filter(|i| self.accounts[*i].status != Status::Deleted && fits(*i))
            .collect();
        (!live.is_empty()).then(|| live[account % live.len()])
    }

    /// The account an owner action goes to: for `account` < 6 one of the accounts the action
    /// can apply to at some point (its EOL action's column has it; enable: a disabled account),
    /// when there is one — else, and for 6 and 7, any account (so refusals stay common).
    fn pick_for(&self, account: usize, act: Act) -> Option<usize> {
        let fits = |a: &Account| {
            let (before, after) = table(act, a.eol_action);
            let in_table = after || !matches!(before, Before::No);
            in_table
                && match act {
                    Act::Enable => a.status == Status::Disabled,
                    Act::Disable => matches!(a.status, Status::Active | Status::Expired),
                    _ => a.status != Status::Deleted,
                }
        };
        let candidates: Vec<usize> = (0..self.accounts.len())
            .filter(|i| fits(&self.accounts[*i]))
            .collect();
        if account < 6 && !candidates.is_empty() {
            Some(candidates[account % candidates.len()])
        } else {
            self.pick(account)
        }
    }

    /// A sweep at `t` (§4.2, §4.4): every live account whose EOL instant has come gets its
    /// EOL action, once per EOL instant; then the live accounts get the reminders due.
    ///
    /// Only `active` accounts reach EOL here (an account its owner disabled, or whose renewal
    /// waits, is left as it is until it is live again): the SPEC does not say what EOL does
    /// to them, and that is what alm does.
    fn sweep(&mut self, t: OffsetDateTime) -> u64 {
        let mut ran = 0;
        for a in &mut self.accounts {
            if a.status != Status::Active
                || a.eol_action == Eol::Review
                || t < a.eol
                || a.eol_runs.iter().any(|(e, _)| *e == a.eol)
            {
                continue;
            }
            match a.eol_action {
                Eol::Review => unreachable!("review changes nothing"),
                Eol::Disable => {
                    a.status = Status::Disabled;
                    a.dir.enabled = false;
                    a.dir.retired = true;
                }
                Eol::Expire => a.status = Status::Expired,
                Eol::Delete => {
                    a.status = Status::Deleted;
                    a.dir.enabled = false;
                    a.dir.retired = true;
                }
            }
            a.eol_runs.push((a.eol, t));
            ran += 1;
        }
        for (i, a) in self.accounts.iter().enumerate() {
            if a.status != Status::Active {
                continue;
            }
            let told = self.told(&a.owners).len() as i64;
            for (kind, slot) in due_slots(a.eol, a.window, t) {
                let date = a.eol.date();
                if !self
                    .reminders
                    .iter()
                    .any(|r| r.0 == i && r.1 == kind && r.2 == date && r.3 == slot)
                {
                    self.reminders.insert((i, kind, date, slot, t, told));
                }
            }
        }
        ran
    }

    /// Whether owner `o` counts as an enabled owner (§2.7): an enabled person, or an enabled
    /// group with an enabled member (§2.2: a disabled group gives its members nothing).
    fn counts(&self, o: usize) -> bool {
        let p = &self.people[o];
        p.enabled && p.member.is_none_or(|m| self.people[m].enabled)
    }

    /// The people owner notifications reach (§7.1; disabled users get nothing, §2.1): enabled
    /// persons among `owners`, and the enabled members of enabled owner groups.
    fn told(&self, owners: &[usize]) -> BTreeSet<usize> {
        owners
            .iter()
            .filter(|o| self.counts(**o))
            .map(|o| self.people[*o].member.unwrap_or(*o))
            .collect()
    }

    /// Whether account `i` has no enabled owner left while it is not deleted: what alm must
    /// list as orphaned (§2.7; a deleted account needs no owner).
    fn orphaned(&self, i: usize) -> bool {
        let a = &self.accounts[i];
        a.status != Status::Deleted && !a.owners.iter().any(|o| self.counts(*o))
    }

    /// Whether person or group `p` owns account `i`, directly or (a person) through a group.
    fn involves(&self, i: usize, p: usize) -> bool {
        self.accounts[i]
            .owners
            .iter()
            .any(|o| *o == p || self.people[*o].member == Some(p))
    }

    /// Who acts for account `i`'s owners: (the owner, the person acting) for its first owner
    /// that counts and has a person with an API token (itself, or a group's member).
    fn actor(&self, i: usize) -> Option<(usize, usize)> {
        self.accounts[i].owners.iter().find_map(|o| {
            let person = self.people[*o].member.unwrap_or(*o);
            (self.counts(*o) && self.people[person].api.is_some()).then_some((*o, person))
        })
    }

    /// The API of account `i`'s acting owner; without one (orphaned, or owned by synced
    /// people only), the case's owner, whom alm must refuse.
    fn actor_api(&self, i: usize) -> (&Api, bool) {
        match self.actor(i) {
            Some((_, p)) => (
                self.people[p].api.as_ref().expect("an actor has a token"),
                true,
            ),
            None => (
                self.people[0].api.as_ref().expect("the owner has a token"),
                false,
            ),
        }
    }

    /// Whether disabling person or group `p` leaves a live account it owns (directly or
    /// through a group) without an enabled owner (orphan protection, §2.7: then it is refused).
    fn would_orphan(&self, p: usize) -> bool {
        (0..self.accounts.len()).any(|i| {
            let a = &self.accounts[i];
            a.status != Status::Deleted
                && self.involves(i, p)
                && !a
                    .owners
                    .iter()
                    .any(|o| *o != p && self.people[*o].member != Some(p) && self.counts(*o))
        })
    }

    /// An owner change of account `i` told the owners (after it) and `changed` (§7.1).
    fn tell_owner_change(&mut self, i: usize, changed: usize) {
        let mut owners = self.accounts[i].owners.clone();
        owners.push(changed);
        for p in self.told(&owners) {
            *self.owner_told.entry((i, p)).or_default() += 1;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The system under test

/// A published template and what its newest version offers.
struct Template {
    id: String,
    /// The published version's number and its `VERSION_VARIANTS` index.
    version: i64,
    variant: usize,
    /// Version 1's definition, which new versions change the lifecycle of.
    definition: Value,
}

impl Template {
    /// The short period and the re-approval window of the published version.
    fn short(&self) -> Interval {
        Interval::Days(VERSION_VARIANTS[self.variant].0)
    }

    fn window(&self) -> i64 {
        VERSION_VARIANTS[self.variant].1
    }
}

/// How many directory people a refill of the pool makes (one user-sync group each).
const PEOPLE_BATCH: usize = 8;

/// One server, world and set of published templates shared by the cases.
struct Fixture {
    s: TestServer,
    w: World,
    admin: Api,
    /// The system administrator: alerts go to their inbox and first email address.
    admin_id: String,
    admin_email: String,
    /// The template per EOL action.
    templates: BTreeMap<Eol, Template>,
    /// The OU of the directory people (inside the domain), the user-sync groups chosen so far
    /// (objectGUIDs), and people not yet used: (DN, email), disabled in Samba until used.
    people_ou: String,
    sync_groups: Vec<String>,
    people_pool: Vec<(String, String)>,
    /// The retirement OU of every template.
    retired: String,
    dir: ActiveDirectory,
    requester_role: String,
    /// Makes names unique across runs on the same DC.
    tag: String,
    names: u64,
    owners: u64,
    batches: u64,
    /// Operations run, by kind: (done, refused as the model expected).
    stats: BTreeMap<&'static str, (u64, u64)>,
    /// What the passed sequences reached: EOL actions run, reminders sent, renewals decided.
    reached: BTreeMap<String, u64>,
}

impl Fixture {
    async fn new() -> Self {
        let s = TestServer::start_with(backend(), SETTINGS).await;
        let w = world(&s).await;
        let admin = s.admin();
        let dir = ad::connect();
        let parent = w.ou.split_once(',').expect("the OU has a parent").1;
        let retired = dir
            .create_organizational_unit("Retired", parent)
            .await
            .expect("the retirement OU");
        let people_ou = dir
            .create_organizational_unit("People", parent)
            .await
            .expect("the people OU");
        // Templates may only name OUs the domain's sync has seen.
        let (st, run) = admin
            .post_empty(&format!("/api/v1/domains/{}/sync", w.domain))
            .await;
        assert_eq!(
            (st, run["outcome"].as_str()),
            (200, Some("succeeded")),
            "{run}"
        );
        let mut templates = BTreeMap::new();
        for eol in Eol::ALL {
            let mut d = definition(&w);
            d["eol_action"] = json!(eol.as_str());
            d["retirement_ou"] = json!(retired);
            d["cannot_change_password"] = json!(false);
            d["ownership"] =
                json!({"allow_group_owners": true, "min_owners": 1, "max_owners": MAX_OWNERS});
            d["lifecycle"] = lifecycle(0);
            let (st, t) = admin
                .post(
                    "/api/v1/templates",
                    json!({"name": format!("Model {}", eol.as_str()), "definition": d}),
                )
                .await;
            assert_eq!(st, 201, "{t}");
            let id = t["id"].as_str().expect("id").to_owned();
            let (st, p) = admin
                .post_empty(&format!("/api/v1/templates/{id}/publish"))
                .await;
            assert_eq!((st, p["published_version"].as_i64()), (200, Some(1)), "{p}");
            templates.insert(
                eol,
                Template {
                    id,
                    version: 1,
                    variant: 0,
                    definition: d,
                },
            );
        }
        let requester_role = s.role_id("requester").await;
        let (_, me) = admin.get("/api/v1/me").await;
        let admin_id = me["user"]["id"]
            .as_str()
            .expect("the administrator's id")
            .to_owned();
        let admin_email = me["user"]["emails"][0]
            .as_str()
            .unwrap_or_else(|| panic!("the administrator has an email address: {me}"))
            .to_owned();
        Self {
            s,
            w,
            admin,
            admin_id,
            admin_email,
            templates,
            people_ou,
            sync_groups: Vec::new(),
            people_pool: Vec::new(),
            retired,
            dir,
            requester_role,
            tag: uuid::Uuid::new_v4().simple().to_string()[..4].to_owned(),
            names: 0,
            owners: 0,
            batches: 0,
            stats: BTreeMap::new(),
            reached: BTreeMap::new(),
        }
    }

    /// Restarts the server; if it came back on another port, the clients follow.
    async fn restart(&mut self) {
        self.s.restart(SETTINGS).await;
        self.admin = self.s.admin();
        let base = self.s.base.clone();
        for api in self.w.approver_apis.iter_mut().chain([
            &mut self.w.final_api,
            &mut self.w.requester,
            &mut self.w.outsider,
        ]) {
            api.base.clone_from(&base);
        }
    }

    fn now(&self) -> OffsetDateTime {
        self.s.clock.now()
    }

    fn next_name(&mut self) -> String {
        self.names += 1;
        format!("m{}{:x}", self.tag, self.names)
    }

    /// The owner of a case's accounts: a new requester in the templates' audience.
    async fn new_owner(&mut self) -> Result<(String, Api), String> {
        self.owners += 1;
        let n = self.owners;
        let (id, token) = self
            .s
            .user_with_token(
                &format!("Owner {n}"),
                &format!("owner{n}-{}@example.test", self.tag),
            )
            .await;
        for path in [
            format!("/api/v1/roles/{}/members", self.requester_role),
            format!("/api/v1/groups/{}/members", self.w.audience),
        ] {
            let (st, body) = self.admin.post(&path, json!({"user_id": id})).await;
            ensure(
                (200..300).contains(&st),
                format!("setting the case up: adding its owner: {path} {st} {body}"),
            )?;
        }
        Ok((id, Api::with_token(&self.s.base, &token)))
    }

    /// A person with an API token who is in no role or group beyond Everyone (whose Account
    /// Owner role lets them act on the accounts they own, §2.3): a co-owner or new owner.
    async fn new_person(&mut self) -> (String, Api) {
        self.owners += 1;
        let n = self.owners;
        let (id, token) = self
            .s
            .user_with_token(
                &format!("Person {n}"),
                &format!("person{n}-{}@example.test", self.tag),
            )
            .await;
        (id, Api::with_token(&self.s.base, &token))
    }

    /// Runs a domain sync (its user sync included) and returns the run.
    async fn sync_domain(&self) -> Result<Value, String> {
        let (st, run) = self
            .admin
            .post_empty(&format!("/api/v1/domains/{}/sync", self.w.domain))
            .await;
        ensure(
            st == 200 && run["outcome"] == "succeeded",
            format!("a domain sync: {st} {run}"),
        )?;
        Ok(run)
    }

    /// Makes `PEOPLE_BATCH` directory people, disabled, in a new directory group that user
    /// sync is told to follow (SPEC §6.3): enabling one in Samba makes them an alm user at the
    /// next sync. (alm's directory client adds group members only at creation, hence a group
    /// per batch.)
    async fn refill_people(&mut self) -> Result<(), String> {
        use alm_directory::password::Generate as _;
        use alm_directory::NewUser;
        self.batches += 1;
        let realm = self
            .dir
            .base_dn()
            .split(',')
            .filter_map(|p| p.strip_prefix("DC=").or_else(|| p.strip_prefix("dc=")))
            .collect::<Vec<_>>()
            .join(".");
        let mut made = Vec::new();
        for n in 0..PEOPLE_BATCH {
            let sam = format!("p{}{}x{n}", self.tag, self.batches);
            let email = format!("{sam}@example.test");
            let e = self
                .dir
                .create_user(&NewUser {
                    parent_dn: self.people_ou.clone(),
                    sam_account_name: sam.clone(),
                    user_principal_name: format!("{sam}@{realm}"),
                    description: None,
                    attributes: vec![
                        ("mail".into(), vec![email.clone()]),
                        ("displayName".into(), vec![format!("Synced {sam}")]),
                    ],
                    password: alm_directory::password::PasswordPolicy::default().generate("p", ""),
                    enabled: false,
                    account_expires: alm_core::filetime::AccountExpires::Never,
                })
                .await
                .map_err(|e| format!("a directory person: {e}"))?;
            made.push((e.dn, email));
        }
        let group = format!("staff{}{}", self.tag, self.batches);
        let dns: Vec<String> = made.iter().map(|(dn, _)| dn.clone()).collect();
        self.dir
            .create_group(&group, &self.people_ou, &dns)
            .await
            .map_err(|e| format!("a user-sync group: {e}"))?;
        self.sync_domain().await?;
        let (_, found) = self
            .admin
            .get(&format!(
                "/api/v1/domains/{}/objects?kind=group&q={group}",
                self.w.domain
            ))
            .await;
        let guid = found["items"][0]["guid"]
            .as_str()
            .ok_or_else(|| format!("the sync did not see group {group}: {found}"))?;
        self.sync_groups.push(guid.to_owned());
        // Every disable allowed: the mass-disable guard is not what this test is about.
        let (st, config) = self
            .admin
            .put(
                &format!("/api/v1/domains/{}/user-sync", self.w.domain),
                json!({"group_guids": self.sync_groups, "max_disable_percent": 100}),
            )
            .await;
        ensure(
            st == 200,
            format!("choosing the user-sync groups: {st} {config}"),
        )?;
        made.reverse();
        self.people_pool.extend(made);
        Ok(())
    }

    /// A directory person made an alm user by user sync: (alm user id, DN in Samba).
    async fn synced_person(&mut self) -> Result<(String, String), String> {
        if self.people_pool.is_empty() {
            self.refill_people().await?;
        }
        let (dn, email) = self.people_pool.pop().expect("a refilled pool");
        self.dir
            .set_enabled(&dn, true)
            .await
            .map_err(|e| format!("enabling {dn} in Samba: {e}"))?;
        let run = self.sync_domain().await?;
        ensure(
            run["users_created"] == 1,
            format!("the sync makes one user of {email}: {run}"),
        )?;
        let (_, users) = self.admin.get(&format!("/api/v1/users?q={email}")).await;
        let u = &users["items"][0];
        ensure(
            u["source"] == "synced" && u["enabled"] == true,
            format!("{email} is a synced, enabled user: {users}"),
        )?;
        Ok((u["id"].as_str().unwrap_or_default().to_owned(), dn))
    }

    /// Counts `op`; `ALMTEST_MODEL_VERBOSE=1` prints each refusal with alm's reason.
    fn refused(&mut self, op: &Op, why: &Value) {
        if std::env::var_os("ALMTEST_MODEL_VERBOSE").is_some() {
            eprintln!("  {} refused as expected: {why}", op.source());
        }
        self.count(op, true);
    }

    fn count(&mut self, op: &Op, refused: bool) {
        let e = self.stats.entry(op.kind()).or_default();
        if refused {
            e.1 += 1;
        } else {
            e.0 += 1;
        }
    }

    async fn stop(self) {
        self.s.stop().await;
    }
}

/// The lifecycle settings of a template version with `VERSION_VARIANTS[variant]`.
fn lifecycle(variant: usize) -> Value {
    let (short, window) = VERSION_VARIANTS[variant];
    json!({"intervals": [format!("{short}d"), "1y"], "renewal_window_days": window,
        "notify_renewal_open": true, "reminder_every_days": REMINDER_EVERY_DAYS,
        "urgent_every_hours": URGENT_EVERY_HOURS, "urgent_from_days": URGENT_FROM_DAYS})
}

fn ensure(ok: bool, what: impl Into<String>) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(what.into())
    }
}

fn rfc(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).expect("an RFC 3339 instant")
}

// ---------------------------------------------------------------------------------------------
// Running sequences

fn listing(ops: &[Op]) -> String {
    ops.iter()
        .map(|o| format!("    {},\n", o.source()))
        .collect()
}

/// A `#[tokio::test]` that replays `ops` from `start`, as Rust source.
fn replay_source(name: &str, start: &str, ops: &[Op]) -> String {
    let mut s = format!(
        "#[tokio::test(flavor = \"multi_thread\", worker_threads = 2)]\nasync fn {name}() {{\n    \
         replay_at(\n        \"{start}\",\n        &[\n"
    );
    for op in ops {
        s.push_str(&format!("            {},\n", op.source()));
    }
    s.push_str("        ],\n    )\n    .await;\n}\n");
    s
}

/// Runs one sequence from the fixture's current instant, checking every invariant after each
/// step; the error names the step and lists the sequence so far.
async fn run_case(fx: &mut Fixture, ops: &[Op]) -> Result<(), String> {
    if fx.s.server.is_none() {
        // A case that failed during a restart left the server down.
        fx.restart().await;
    }
    let (id, api) = fx.new_owner().await?;
    let mut m = Model {
        people: vec![Person {
            id,
            api: Some(api),
            enabled: true,
            member: None,
        }],
        known_unalerted: invariants::known_unalerted(fx).await?,
        ..Model::default()
    };
    let verbose = std::env::var_os("ALMTEST_MODEL_VERBOSE").is_some();
    if verbose {
        eprintln!("case from {}", rfc(fx.now()));
    }
    for (n, op) in ops.iter().enumerate() {
        let at = fx.now();
        if verbose {
            eprintln!(" {}", op.source());
        }
        let step = async {
            steps::apply(fx, &mut m, op).await?;
            // A restart may have moved the server to another port.
            for p in &mut m.people {
                if let Some(api) = &mut p.api {
                    api.base.clone_from(&fx.s.base);
                }
            }
            steps::settle(&fx.admin).await?;
            invariants::check(fx, &m).await
        };
        if let Err(e) = step.await {
            return Err(format!(
                "step {} of {} ({}, clock {}): {e}\nthe sequence so far:\n{}",
                n + 1,
                ops.len(),
                op.source(),
                rfc(at),
                listing(&ops[..=n])
            ));
        }
    }
    let mut reached = Vec::new();
    for a in &m.accounts {
        reached.extend(
            a.eol_runs
                .iter()
                .map(|_| format!("eol-{}", a.eol_action.as_str())),
        );
    }
    reached.extend(m.reminders.iter().map(|r| format!("reminder-{}", r.1)));
    reached.extend(
        m.accounts
            .iter()
            .filter(|a| a.orphan_alerts > 0)
            .map(|_| "orphan-alerted".to_owned()),
    );
    reached.extend(
        m.accounts
            .iter()
            .filter(|a| a.owners.len() > 1)
            .map(|_| "co-owned".to_owned()),
    );
    reached.extend(
        m.accounts
            .iter()
            .filter(|a| a.version > 1)
            .map(|_| "made-from-version-2+".to_owned()),
    );
    for r in &m.requests {
        let kind = if r.renewal { "renewal" } else { "request" };
        reached.push(format!("{kind}-{}", r.state.as_str()));
    }
    for k in reached {
        *fx.reached.entry(k).or_default() += 1;
    }
    Ok(())
}

/// Runs `ops` on a fresh server whose clock starts at `start` (RFC 3339): how a shrunk failure
/// is replayed. Panics with the first broken invariant.
pub(crate) async fn replay_at(start: &str, ops: &[Op]) {
    let mut fx = Fixture::new().await;
    let at = OffsetDateTime::parse(start, &Rfc3339).expect("start is RFC 3339");
    if at > fx.now() {
        fx.s.clock.set(at);
    }
    let outcome = run_case(&mut fx, ops).await;
    fx.stop().await;
    if let Err(e) = outcome {
        panic!("{e}");
    }
}

/// SQLite, or PostgreSQL with `ALMTEST_MODEL_BACKEND=postgres` (and `ALMTEST_PG_URL`).
fn backend() -> Backend {
    match std::env::var("ALMTEST_MODEL_BACKEND").as_deref() {
        Ok("postgres") => Backend::Postgres,
        Ok("sqlite") | Err(_) => Backend::Sqlite,
        Ok(other) => panic!("ALMTEST_MODEL_BACKEND={other:?}: sqlite or postgres"),
    }
}

fn cases() -> u32 {
    std::env::var("ALMTEST_MODEL_CASES")
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("ALMTEST_MODEL_CASES={v:?} is not a number"))
        })
        .unwrap_or(200)
}

fn seed() -> u64 {
    match std::env::var("ALMTEST_MODEL_SEED") {
        Ok(v) => u64::from_str_radix(v.trim_start_matches("0x"), 16)
            .unwrap_or_else(|_| panic!("ALMTEST_MODEL_SEED={v:?} is not a hexadecimal number")),
        Err(_) => uuid::Uuid::new_v4().as_u64_pair().0,
    }
}

/// `ALMTEST_MODEL_CASES` random sequences of 1 to 15 operations (mostly up to 8) on one shared server; a
/// failure is shrunk and printed as a replayable test.
#[test]
fn random_lifecycles_agree_with_the_model() {
    let cases = cases();
    let seed = seed();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let fixture = RefCell::new(rt.block_on(Fixture::new()));
    // The instant each failing sequence started at (the shrunk one's goes into the replay).
    let failed_at: RefCell<BTreeMap<String, String>> = RefCell::default();
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 200,
        // Shrinking runs whole sequences against the server: bounded to 15 minutes.
        max_shrink_time: 15 * 60 * 1000,
        ..Config::default()
    };
    let mut bytes = [0u8; 32];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = (seed.rotate_left(8 * (i as u32 % 8)) as u8) ^ (i as u8);
    }
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
    eprintln!("model_lifecycle: {cases} sequences, seed {seed:016x} (ALMTEST_MODEL_SEED)");
    let began = Instant::now();
    let outcome = runner.run(&sequence_strategy(), |ops| {
        let mut fx = fixture.borrow_mut();
        let start = rfc(fx.now());
        let result = rt.block_on(run_case(&mut fx, &ops));
        if result.is_err() {
            failed_at.borrow_mut().insert(listing(&ops), start);
        }
        result.map_err(TestCaseError::fail)
    });
    let fx = fixture.into_inner();
    let stats: Vec<String> = fx
        .stats
        .iter()
        .map(|(k, (done, refused))| format!("{k} {done}/{refused}"))
        .collect();
    let reached: Vec<String> = fx.reached.iter().map(|(k, n)| format!("{k} {n}")).collect();
    eprintln!(
        "model_lifecycle: {} in {:.0?}; operations done/refused as expected: {}; reached: {}; clock at {}",
        match &outcome {
            Ok(()) => format!("{cases} sequences passed"),
            Err(_) => "failed".into(),
        },
        began.elapsed(),
        stats.join(", "),
        reached.join(", "),
        rfc(fx.now())
    );
    rt.block_on(fx.stop());
    match outcome {
        Ok(()) => {}
        Err(TestError::Fail(why, ops)) => {
            let start = failed_at
                .borrow()
                .get(&listing(&ops))
                .cloned()
                .unwrap_or_else(|| "2026-11-29T10:00:00Z".into());
            panic!(
                "the model and alm disagree (seed {seed:016x}); the minimal sequence:\n{why}\n\n\
                 Replay it (in model_lifecycle.rs):\n\n{}",
                replay_source(&format!("replay_{seed:016x}"), &start, &ops)
            );
        }
        Err(TestError::Abort(why)) => panic!("proptest aborted (seed {seed:016x}): {why}"),
    }
}

/// The divergences the model found, replayed: a review account swept first in its urgent
/// window got the missed regular reminder beside the urgent one, and one swept first after its
/// EOL got every kind at once (alm-core `ReminderPlan::due`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_stop_at_eol_and_urgent_ones_replace_the_regular_ones() {
    replay_at(
        "2026-11-29T10:00:00Z",
        &[
            Op::Request {
                eol: Eol::Review,
                yearly: false,
                reuse_name: false,
            },
            Op::Jump { days: 88, hours: 0 },
            Op::Request {
                eol: Eol::Review,
                yearly: false,
                reuse_name: false,
            },
            Op::Jump {
                days: 120,
                hours: 0,
            },
        ],
    )
    .await;
}

/// A denied renewal silenced the account's reminders for good (the schedule submitting
/// cleared was not set again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_renewal_keeps_the_reminders_going() {
    replay_at(
        "2026-11-29T10:00:00Z",
        &[
            Op::Request {
                eol: Eol::Expire,
                yearly: false,
                reuse_name: false,
            },
            Op::JumpTo {
                account: 0,
                edge: Edge::RenewalOpens,
            },
            Op::SubmitRenewal {
                account: 0,
                decision: Decision::Deny,
                at_renewal: false,
            },
            Op::JumpTo {
                account: 0,
                edge: Edge::UrgentStarts,
            },
        ],
    )
    .await;
}

/// An account its EOL disabled and its owner enabled again (§4.1) was disabled again by the
/// next sweep: the EOL action ran twice for one EOL instant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_enabled_after_its_eol_disabled_it_stays_enabled() {
    replay_at(
        "2026-11-29T10:00:00Z",
        &[
            Op::Request {
                eol: Eol::Disable,
                yearly: false,
                reuse_name: false,
            },
            Op::JumpTo {
                account: 0,
                edge: Edge::Eol,
            },
            Op::Enable { account: 0 },
            Op::Jump { days: 0, hours: 1 },
            Op::Restart,
            Op::Jump { days: 1, hours: 0 },
        ],
    )
    .await;
}

/// A synced person who owned an account only through an alm group was disabled by the
/// directory sync: the account was left without an enabled owner, listed as orphaned but never
/// alerted (alm-store `accounts::orphaned` of a user looked at direct ownership only).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_a_sync_orphans_through_its_owner_group_is_alerted() {
    replay_at(
        "2026-11-29T10:00:00Z",
        &[
            Op::Request {
                eol: Eol::Review,
                yearly: false,
                reuse_name: false,
            },
            Op::SyncDisablesOwner {
                account: 0,
                alone: true,
                deleted: false,
                via_group: true,
            },
        ],
    )
    .await;
}

/// Disabling the only member of an account's only owner group left the account without an
/// enabled owner instead of being refused (the same direct-ownership-only orphan check).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_the_last_member_of_the_only_owner_group_is_refused() {
    replay_at(
        "2026-11-29T10:00:00Z",
        &[
            Op::Request {
                eol: Eol::Expire,
                yearly: false,
                reuse_name: false,
            },
            Op::AddGroupOwner {
                account: 0,
                alone: true,
            },
            Op::DisableCoOwner {
                account: 0,
                enable_again: false,
            },
        ],
    )
    .await;
}

/// The member of a disabled owner group still read and acted on the account, which alm's own
/// orphan protection no longer counted as theirs (services `accounts::reaches` used every
/// group of the member, disabled ones too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_owner_group_gives_its_member_no_account() {
    replay_at(
        "2026-11-29T10:00:00Z",
        &[
            Op::Request {
                eol: Eol::Disable,
                yearly: false,
                reuse_name: false,
            },
            Op::AddGroupOwner {
                account: 0,
                alone: false,
            },
            Op::DisableGroup {
                account: 0,
                enable_again: false,
            },
        ],
    )
    .await;
}

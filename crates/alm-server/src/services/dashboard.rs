//! The dashboard's counts (SPEC §10): each read only for a caller who holds the permission
//! behind it, with the same filters (and the same scope) as the list it links to.
//!
//! The counts over every account (what a `manage` reader sees) are the same for every such
//! reader and cost scans of the whole accounts table (at 1,000,000 accounts on SQLite, seconds:
//! `bench/lifecycle.sh`): they are counted at most once a minute ([`SHARED_FOR`]) and shared.
//! Once counted, no reader waits for a count again: older counts are shown while new ones are
//! counted in the background, and the page says when they were counted. Only the very first
//! reader after a start waits. An owner's own counts are small and always counted anew.

use super::{Principal, ServiceResult};
use alm_core::lifecycle::Status;
use alm_core::permissions::{perm, Scope};
use alm_core::requests::RequestState;
use alm_core::Clock;
use alm_store::accounts::{self, AccountFilter};
use alm_store::{users, Db};
use time::{Duration, OffsetDateTime};

/// The end-of-life windows the dashboard counts, in days from now.
pub const EOL_WINDOWS: [u32; 3] = [30, 60, 90];

/// An engine counts as answering when it asked for work this recently (engines poll far more
/// often than this).
pub const ANSWERING_WITHIN: Duration = Duration::minutes(5);

/// How long the counts over every account are shared before they are counted again.
pub const SHARED_FOR: Duration = Duration::minutes(1);

/// The counts over every account, as of `counted_at`.
#[derive(Debug, Clone)]
struct AllAccounts {
    counted_at: OffsetDateTime,
    by_status: Vec<(Status, u64)>,
    eol_within: Vec<(u32, u64)>,
    orphaned: u64,
    unmanaged: u64,
}

/// The shared counts (one per server, in [`crate::state::AppState`]).
#[derive(Debug, Default)]
pub struct SharedCounts {
    held: std::sync::Mutex<Option<AllAccounts>>,
    /// A background count is running (one at a time).
    counting: std::sync::atomic::AtomicBool,
}

impl SharedCounts {
    fn fresh(&self, now: OffsetDateTime) -> Option<AllAccounts> {
        self.last()
            .filter(|c| now - c.counted_at < SHARED_FOR && c.counted_at <= now)
    }

    fn last(&self) -> Option<AllAccounts> {
        self.held.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn keep(&self, counts: AllAccounts) {
        *self.held.lock().unwrap_or_else(|p| p.into_inner()) = Some(counts);
    }

    /// Counts anew in the background unless a count is running already.
    fn renew(self: &std::sync::Arc<Self>, db: &Db, now: OffsetDateTime) {
        use std::sync::atomic::Ordering;
        if self.counting.swap(true, Ordering::AcqRel) {
            return;
        }
        let (shared, db) = (self.clone(), db.clone());
        tokio::spawn(async move {
            let counted = match db.read().await {
                Ok(mut conn) => count_accounts(&mut conn, now, None, true).await,
                Err(e) => Err(e.into()),
            };
            match counted {
                Ok(counts) => shared.keep(counts),
                // The older counts stay on the page, with their time; the log says why.
                Err(e) => tracing::warn!(error = %e, "the dashboard's counts could not be renewed"),
            }
            shared.counting.store(false, Ordering::Release);
        });
    }
}

#[derive(Debug, Clone, Default)]
pub struct Dashboard {
    /// When the account counts were counted (they may be up to [`SHARED_FOR`] old).
    pub counted_at: Option<OffsetDateTime>,
    /// `managed-account:read`: the accounts the caller reads (all with `manage`).
    pub accounts_by_status: Option<Vec<(Status, u64)>>,
    pub eol_within: Option<Vec<(u32, u64)>>,
    /// `managed-account:read` with `manage`: accounts without an enabled owner, and unmanaged
    /// accounts that discovery found.
    pub orphaned: Option<u64>,
    pub unmanaged: Option<u64>,
    /// `provision-approval:read`: requests waiting for the caller.
    pub pending_approvals: Option<u64>,
    /// `provision-request:read`: the caller's requests (all with `manage`) by state.
    pub requests_by_state: Option<Vec<(RequestState, u64)>>,
    /// `engine:read`: (answering, active) engines.
    pub engines: Option<(u64, u64)>,
}

/// The filter of the accounts list for the end of life within `days` of `now`.
pub fn eol_filter(now: OffsetDateTime, days: u32) -> AccountFilter {
    AccountFilter {
        eol_from: Some(now),
        eol_to: Some(now + Duration::days(i64::from(days))),
        ..AccountFilter::default()
    }
}

/// The accounts by status and by end-of-life window, of the accounts `visible_to` reaches (all
/// when `None`); with `everything`, also the orphaned and the unmanaged ones found by discovery.
async fn count_accounts(
    conn: &mut alm_store::Conn,
    now: OffsetDateTime,
    visible_to: Option<(alm_core::UserId, Vec<alm_core::GroupId>)>,
    everything: bool,
) -> ServiceResult<AllAccounts> {
    let counted = accounts::count_by_status(
        conn,
        &AccountFilter {
            visible_to: visible_to.clone(),
            ..AccountFilter::default()
        },
    )
    .await?;
    // Every status, in the order people read them, with 0 for those no account has.
    let by_status: Vec<(Status, u64)> = Status::ALL
        .into_iter()
        .map(|st| {
            let n = counted
                .iter()
                .find(|(s, _)| *s == st)
                .map_or(0, |(_, n)| *n);
            (st, n)
        })
        .collect();
    let mut eol_within = Vec::new();
    for days in EOL_WINDOWS {
        let filter = AccountFilter {
            visible_to: visible_to.clone(),
            ..eol_filter(now, days)
        };
        eol_within.push((days, accounts::count(conn, &filter).await?));
    }
    let (mut orphaned, mut unmanaged) = (0, 0);
    if everything {
        let filter = AccountFilter {
            orphaned: true,
            ..AccountFilter::default()
        };
        orphaned = accounts::count(conn, &filter).await?;
        let one = alm_core::paging::PageRequest::parse(Some(1), Some(0), None, &["severity"])
            .expect("a valid page");
        unmanaged = alm_store::discovery::page(conn, None, None, &one).await?.1;
    }
    Ok(AllAccounts {
        counted_at: now,
        by_status,
        eol_within,
        orphaned,
        unmanaged,
    })
}

pub async fn read(
    db: &Db,
    clock: &dyn Clock,
    shared: &std::sync::Arc<SharedCounts>,
    p: &Principal,
) -> ServiceResult<Dashboard> {
    let now = clock.now();
    let mut out = Dashboard::default();
    let me = p.user_id;
    if let Ok(can) = p.permissions.authorize::<perm::AccountRead>(me) {
        let counts = match can.scope() {
            Scope::All => match (shared.fresh(now), shared.last()) {
                (Some(counts), _) => counts,
                (None, Some(older)) => {
                    shared.renew(db, now);
                    older
                }
                (None, None) => {
                    let mut conn = db.read().await?;
                    let counts = count_accounts(&mut conn, now, None, true).await?;
                    shared.keep(counts.clone());
                    counts
                }
            },
            Scope::Own => {
                let mut conn = db.read().await?;
                let mine = Some((me, users::enabled_group_ids(&mut conn, me).await?));
                count_accounts(&mut conn, now, mine, false).await?
            }
        };
        out.counted_at = Some(counts.counted_at);
        out.accounts_by_status = Some(counts.by_status);
        out.eol_within = Some(counts.eol_within);
        if can.scope() == Scope::All {
            out.orphaned = Some(counts.orphaned);
            out.unmanaged = Some(counts.unmanaged);
        }
    }
    if let Ok(can) = p.permissions.authorize::<perm::ApprovalRead>(me) {
        out.pending_approvals = Some(super::approvals::pending(db, &can).await?.len() as u64);
    }
    if let Ok(can) = p.permissions.authorize::<perm::RequestRead>(me) {
        let mut conn = db.read().await?;
        let who = (can.scope() != Scope::All).then_some(me);
        out.requests_by_state = Some(alm_store::requests::count_by_state(&mut conn, who).await?);
    }
    if p.permissions.authorize::<perm::EngineRead>(me).is_ok() {
        let mut conn = db.read().await?;
        let active: Vec<_> = alm_store::engines::engines(&mut conn, false, None)
            .await?
            .into_iter()
            .filter(|e| e.active)
            .collect();
        let answering = active
            .iter()
            .filter(|e| {
                e.last_seen_at
                    .is_some_and(|at| now - at <= ANSWERING_WITHIN)
            })
            .count();
        out.engines = Some((answering as u64, active.len() as u64));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn counted(at: OffsetDateTime) -> AllAccounts {
        AllAccounts {
            counted_at: at,
            by_status: vec![],
            eol_within: vec![],
            orphaned: 0,
            unmanaged: 0,
        }
    }

    #[test]
    fn shared_counts_last_a_minute_and_never_come_from_the_future() {
        let at = datetime!(2026-12-04 10:00 UTC);
        let shared = SharedCounts::default();
        assert!(shared.fresh(at).is_none(), "nothing counted yet");
        shared.keep(counted(at));
        assert!(shared.fresh(at + Duration::seconds(59)).is_some());
        assert!(
            shared.fresh(at + SHARED_FOR).is_none(),
            "a minute old: counted again"
        );
        assert!(
            shared.fresh(at - Duration::seconds(1)).is_none(),
            "a clock set back does not keep old counts"
        );
    }
}

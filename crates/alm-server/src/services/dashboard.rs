//! The dashboard's counts (SPEC §10): each read only for a caller who holds the permission
//! behind it, with the same filters (and the same scope) as the list it links to, so a count
//! and its list agree.

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

#[derive(Debug, Clone, Default)]
pub struct Dashboard {
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

pub async fn read(db: &Db, clock: &dyn Clock, p: &Principal) -> ServiceResult<Dashboard> {
    let now = clock.now();
    let mut out = Dashboard::default();
    let me = p.user_id;
    if let Ok(can) = p.permissions.authorize::<perm::AccountRead>(me) {
        let mut conn = db.read().await?;
        let visible_to = match can.scope() {
            Scope::All => None,
            Scope::Own => Some((me, users::group_ids(&mut conn, me).await?)),
        };
        let mut by_status = Vec::new();
        for status in Status::ALL {
            let filter = AccountFilter {
                status: Some(status),
                visible_to: visible_to.clone(),
                ..AccountFilter::default()
            };
            by_status.push((status, accounts::count(&mut conn, &filter).await?));
        }
        out.accounts_by_status = Some(by_status);
        let mut windows = Vec::new();
        for days in EOL_WINDOWS {
            let filter = AccountFilter {
                visible_to: visible_to.clone(),
                ..eol_filter(now, days)
            };
            windows.push((days, accounts::count(&mut conn, &filter).await?));
        }
        out.eol_within = Some(windows);
        if can.scope() == Scope::All {
            let orphaned = AccountFilter {
                orphaned: true,
                ..AccountFilter::default()
            };
            out.orphaned = Some(accounts::count(&mut conn, &orphaned).await?);
            let one = alm_core::paging::PageRequest::parse(Some(1), Some(0), None, &["severity"])
                .expect("a valid page");
            out.unmanaged = Some(
                alm_store::discovery::page(&mut conn, None, None, &one)
                    .await?
                    .1,
            );
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

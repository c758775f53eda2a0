//! Where a managed account is used (SPEC §2.7): the services that run as its directory
//! object, host by host, as `alm discover --import` host scans (and vaults that keep such
//! records) reported them, with the sentence its owners read before a disable or delete.
//!
//! Who may: whoever may read the account (its owners, or `manage`); the rows belong to the
//! directory object, so an account imported after the scan has them at once.

use super::accounts::{hidden, reaches};
use super::{ServiceError, ServiceResult};
use alm_core::dependencies::{counts, headline};
use alm_core::permissions::{perm, Can};
use alm_store::dependencies::{self as store, DependencyRecord};
use alm_store::Db;
use time::OffsetDateTime;
use uuid::Uuid;

/// What is known of where one account is used.
#[derive(Debug, Clone)]
pub struct Dependencies {
    /// By host, then service name.
    pub services: Vec<DependencyRecord>,
    /// Distinct services and hosts (a service found by two sources counts once).
    pub service_count: usize,
    pub host_count: usize,
    /// When a complete host scan last looked for the account, if one ever did.
    pub last_complete_scan_at: Option<OffsetDateTime>,
}

impl Dependencies {
    /// "Used by 2 services on 1 host", or "No known dependencies (…)".
    pub fn summary(&self) -> String {
        headline(
            self.service_count,
            self.host_count,
            self.last_complete_scan_at,
        )
    }
}

/// The dependencies of account `id`; an account outside the caller's reach is "not found".
pub async fn of_account(
    db: &Db,
    can: &Can<perm::AccountRead>,
    id: Uuid,
) -> ServiceResult<Dependencies> {
    let mut conn = db.read().await?;
    let account = alm_store::accounts::get(&mut conn, id)
        .await?
        .ok_or(ServiceError::NotFound { what: "account" })?;
    if !reaches(&mut conn, can, id).await? {
        return Err(hidden(can, id));
    }
    let guid = account.guid.to_ascii_lowercase();
    let services = store::of_object(&mut conn, account.domain_id, &guid).await?;
    let last_complete_scan_at = store::last_scan(&mut conn, account.domain_id, &guid).await?;
    let (service_count, host_count) = counts(
        services
            .iter()
            .map(|s| (s.host.as_str(), s.service_name.as_str())),
    );
    Ok(Dependencies {
        services,
        service_count,
        host_count,
        last_complete_scan_at,
    })
}

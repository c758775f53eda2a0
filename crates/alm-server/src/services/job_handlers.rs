//! The one place that names every kind of engine job with the feature that owns it; the
//! queue (`jobs.rs`) gets this table at start and calls into it, so no feature is imported by
//! the queue. A kind without an entry is caught by the test below, not at run time.

use super::account_changes::AccountChangeJobs;
use super::calibration::{DomainCheckJobs, VaultCheckJobs};
use super::domain_sync::DomainSyncJobs;
use super::jobs::{Handlers, JobHandler};
use super::provisioning::ProvisionJobs;
use super::vault_sync::VaultSyncJobs;
use alm_core::job_kind::JobKind;
use std::sync::Arc;

/// The handler of each kind.
pub fn all() -> Handlers {
    JobKind::ALL
        .into_iter()
        .map(|kind| {
            let handler: Arc<dyn JobHandler> = match kind {
                JobKind::DomainCheck => Arc::new(DomainCheckJobs),
                JobKind::DomainSync => Arc::new(DomainSyncJobs),
                JobKind::VaultCheck => Arc::new(VaultCheckJobs),
                JobKind::VaultSync => Arc::new(VaultSyncJobs),
                JobKind::Provision => Arc::new(ProvisionJobs),
                JobKind::AccountChange => Arc::new(AccountChangeJobs),
            };
            (kind, handler)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_kind_has_a_handler() {
        let handlers = super::all();
        for kind in alm_core::job_kind::JobKind::ALL {
            assert!(handlers.contains_key(&kind), "{kind}");
        }
    }
}

//! The kinds of work engines do for the server (SPEC §5), as one closed set: the queue stores
//! and leases any of them, and each feature that owns a kind says how its task is made and its
//! result applied (`alm-server/src/services/job_handlers.rs` lists them). A stored kind that is
//! none of these is corruption, never a default.

use crate::retry::RetryPolicy;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobKind {
    /// One engine binds to a domain with the stored credentials (calibration).
    DomainCheck,
    /// Read a domain's objects (full or by `uSNChanged`).
    DomainSync,
    /// One engine reaches a vault with the stored credential (calibration).
    VaultCheck,
    /// Find the managed accounts whose secret is missing from their vault.
    VaultSync,
    /// Create an approved request's account and store its secret.
    Provision,
    /// Change a managed account in the directory (or move its secret).
    AccountChange,
}

impl JobKind {
    pub const ALL: [JobKind; 6] = [
        Self::DomainCheck,
        Self::DomainSync,
        Self::VaultCheck,
        Self::VaultSync,
        Self::Provision,
        Self::AccountChange,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::DomainCheck => "domain-check",
            Self::DomainSync => "domain-sync",
            Self::VaultCheck => "vault-check",
            Self::VaultSync => "vault-sync",
            Self::Provision => "provision",
            Self::AccountChange => "account-change",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Work that changes the directory or a vault is never stranded by an outage; checks and
    /// syncs give up after a few attempts (a scheduled sync runs again anyway).
    pub fn retry_policy(self) -> RetryPolicy {
        match self {
            Self::Provision | Self::AccountChange => RetryPolicy::UNTIL_DONE,
            Self::DomainCheck | Self::DomainSync | Self::VaultCheck | Self::VaultSync => {
                RetryPolicy::BOUNDED
            }
        }
    }
}

impl std::fmt::Display for JobKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

crate::text_enum! {
    /// Where a job is in the queue.
    pub enum JobStatus {
        Queued = "queued",
        Leased = "leased",
        Succeeded = "succeeded",
        Failed = "failed",
    }
}

impl JobStatus {
    /// Whether the job is over (it will not run again on its own).
    pub fn finished(self) -> bool {
        matches!(self, JobStatus::Succeeded | JobStatus::Failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_back_as_written_and_unknown_ones_are_refused() {
        for k in JobKind::ALL {
            assert_eq!(JobKind::parse(k.as_str()), Some(k));
            assert_eq!(
                serde_json::to_value(k).unwrap(),
                serde_json::json!(k.as_str())
            );
        }
        for bad in ["", "Provision", "provision ", "sync"] {
            assert_eq!(JobKind::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn only_directory_and_vault_changes_retry_until_done() {
        let until_done: Vec<_> = JobKind::ALL
            .into_iter()
            .filter(|k| k.retry_policy().until_done)
            .collect();
        assert_eq!(until_done, [JobKind::Provision, JobKind::AccountChange]);
    }
}

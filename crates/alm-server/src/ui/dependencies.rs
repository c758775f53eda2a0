//! "Where it is used" (SPEC §2.7) as the account page and the disable and delete
//! confirmations show it: the summary sentence and one row per service, rendered by
//! `templates/dependencies.html`.

use super::{iso, utc};
use crate::services::dependencies::Dependencies;
use alm_core::dependencies::Source;

/// One service that runs as the account.
pub struct DependencyRow {
    pub host: String,
    pub service: String,
    pub display_name: String,
    pub source: &'static str,
    pub seen_iso: String,
    pub seen_utc: String,
}

/// What the include renders.
pub struct DependencyBlock {
    /// "Used by 2 services on 1 host" or "No known dependencies (…)".
    pub summary: String,
    pub rows: Vec<DependencyRow>,
}

impl From<&Dependencies> for DependencyBlock {
    fn from(d: &Dependencies) -> Self {
        DependencyBlock {
            summary: d.summary(),
            rows: d
                .services
                .iter()
                .map(|s| DependencyRow {
                    host: s.host.clone(),
                    service: s.service_name.clone(),
                    display_name: s.display_name.clone(),
                    source: match s.source {
                        Source::HostScan => "Host scan",
                        Source::Vault => "Vault",
                    },
                    seen_iso: iso(s.seen_at),
                    seen_utc: utc(s.seen_at),
                })
                .collect(),
        }
    }
}

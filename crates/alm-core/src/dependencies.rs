//! Where an account is used (SPEC §2.7 "dependencies", §7.6): the services that run as a
//! directory object, host by host, and how a discovery run changes what alm knows of them.
//! Pure: storage reads the known rows, [`plan`] says what to remove and what to write.
//!
//! A run removes only what it can vouch for: a dependency goes when a *complete* host scan
//! (`host_scan_complete`) read its host in full (`hosts_read`), named its account, and did not
//! find the service there any more. A partial scan (stopped, `--no-host-scan`) or a host that
//! failed or lay outside the scan's scope adds, never removes: "no known dependencies" must
//! not appear because a scan did not look.

use crate::discovery::DiscoveryRun;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use time::OffsetDateTime;

/// Where a dependency was learnt: an `alm discover --import` host scan, or a vault sync of a
/// vault that records where its secrets are used (Delinea Secret Server).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    HostScan,
    Vault,
}

impl Source {
    pub const ALL: [Source; 2] = [Source::HostScan, Source::Vault];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::HostScan => "host-scan",
            Source::Vault => "vault",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// Hosts (DNS) and Windows service names are case-insensitive: one key for both.
pub fn key(text: &str) -> String {
    text.trim().to_lowercase()
}

/// A dependency storage holds, as far as [`plan`] needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownRow {
    pub guid: String,
    pub host_key: String,
    pub service_key: String,
    pub seen_at: OffsetDateTime,
}

/// A service to write (insert, or refresh its name and the time it was seen).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub guid: String,
    pub host: String,
    pub service_name: String,
    pub display_name: String,
}

impl Found {
    pub fn host_key(&self) -> String {
        key(&self.host)
    }

    pub fn service_key(&self) -> String {
        key(&self.service_name)
    }
}

/// What one run changes, for the host-scan source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// (guid, host key, service key) of the rows that go.
    pub remove: Vec<(String, String, String)>,
    pub write: Vec<Found>,
    /// The accounts a complete scan looked for (their "last complete host scan" moves).
    pub scanned: Vec<String>,
}

/// What `run` (validated: objectGUIDs normalised) changes, given the host-scan rows known for
/// its domain. A run from a tool that sends no `hosts_read` changes nothing. A complete run
/// older than a row (`seen_at` after its `scanned_at`, a run sent late) does not remove it.
pub fn plan(run: &DiscoveryRun, known: &[KnownRow]) -> Plan {
    let Some(hosts_read) = &run.hosts_read else {
        return Plan::default();
    };
    let mut write: BTreeMap<(String, String, String), Found> = BTreeMap::new();
    for a in &run.accounts {
        for s in &a.services {
            write
                .entry((a.object_guid.clone(), key(&s.host), key(&s.service_name)))
                .or_insert_with(|| Found {
                    guid: a.object_guid.clone(),
                    host: s.host.trim().to_owned(),
                    service_name: s.service_name.trim().to_owned(),
                    display_name: s.display_name.trim().to_owned(),
                });
        }
    }
    let mut out = Plan::default();
    // Partial scans add, never remove: what they did not see may only be unseen.
    if run.host_scan_complete && !hosts_read.is_empty() {
        let read: HashSet<String> = hosts_read.iter().map(|h| key(h)).collect();
        let named: BTreeSet<&str> = run
            .accounts
            .iter()
            .map(|a| a.object_guid.as_str())
            .collect();
        out.remove = known
            .iter()
            .filter(|k| {
                named.contains(k.guid.as_str())
                    && read.contains(&k.host_key)
                    && k.seen_at <= run.scanned_at
                    && !write.contains_key(&(
                        k.guid.clone(),
                        k.host_key.clone(),
                        k.service_key.clone(),
                    ))
            })
            .map(|k| (k.guid.clone(), k.host_key.clone(), k.service_key.clone()))
            .collect();
        out.scanned = named.into_iter().map(str::to_owned).collect();
    }
    out.write = write.into_values().collect();
    out
}

/// How many services on how many distinct hosts: `(host, service)` pairs in.
pub fn counts<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> (usize, usize) {
    let mut services = HashSet::new();
    let mut hosts = HashSet::new();
    for (host, service) in pairs {
        services.insert((key(host), key(service)));
        hosts.insert(key(host));
    }
    (services.len(), hosts.len())
}

/// The sentence owners read before a disable or delete: "Used by 2 services on 1 host", or
/// with none, when a complete host scan last looked (`last_scan`) or that none ever did.
pub fn headline(services: usize, hosts: usize, last_scan: Option<OffsetDateTime>) -> String {
    let plural = |n: usize, word: &str| {
        if n == 1 {
            format!("{n} {word}")
        } else {
            format!("{n} {word}s")
        }
    };
    if services > 0 {
        format!(
            "Used by {} on {}",
            plural(services, "service"),
            plural(hosts, "host")
        )
    } else {
        match last_scan {
            Some(at) => {
                let at = at.to_offset(time::UtcOffset::UTC);
                format!(
                    "No known dependencies (last complete host scan: {} {:02}:{:02} UTC)",
                    at.date(),
                    at.hour(),
                    at.minute()
                )
            }
            None => "No known dependencies (never scanned)".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::{RunAccount, RunDomain, RunService};
    use time::macros::datetime;

    const G1: &str = "00000000-0000-0000-0000-000000000001";
    const G2: &str = "00000000-0000-0000-0000-000000000002";
    const SCANNED: OffsetDateTime = datetime!(2026-12-01 10:00 UTC);

    fn account(guid: &str, services: &[(&str, &str)]) -> RunAccount {
        RunAccount {
            object_guid: guid.into(),
            sam_account_name: "svc".into(),
            dn: "CN=svc,DC=corp,DC=test".into(),
            sid: None,
            kind: "user".into(),
            reasons: vec!["spn".into()],
            findings: vec![],
            hosts: vec![],
            services: services
                .iter()
                .map(|(h, s)| RunService {
                    host: (*h).into(),
                    service_name: (*s).into(),
                    display_name: format!("{s} service"),
                })
                .collect(),
        }
    }

    fn run(complete: bool, hosts_read: Option<&[&str]>, accounts: Vec<RunAccount>) -> DiscoveryRun {
        DiscoveryRun {
            domain: RunDomain {
                fqdn: "corp.test".into(),
                base_dn: "DC=corp,DC=test".into(),
            },
            scanned_at: SCANNED,
            tool_version: "0.2.0".into(),
            host_scan_complete: complete,
            hosts_read: hosts_read.map(|h| h.iter().map(|x| (*x).to_owned()).collect()),
            accounts,
        }
    }

    fn known(guid: &str, host: &str, service: &str, seen_at: OffsetDateTime) -> KnownRow {
        KnownRow {
            guid: guid.into(),
            host_key: host.into(),
            service_key: service.into(),
            seen_at,
        }
    }

    fn removed(p: &Plan) -> Vec<(&str, &str, &str)> {
        p.remove
            .iter()
            .map(|(g, h, s)| (g.as_str(), h.as_str(), s.as_str()))
            .collect()
    }

    #[test]
    fn a_complete_scan_replaces_what_it_read_and_nothing_else() {
        let earlier = datetime!(2026-11-01 0:00 UTC);
        let known = [
            // Read again, service gone: removed.
            known(G1, "app1.corp.test", "oldsvc", earlier),
            // Read again, still there (other case): kept, refreshed.
            known(G1, "app1.corp.test", "mssql", earlier),
            // A host this scan did not read (out of scope, or it failed): kept.
            known(G1, "app2.corp.test", "w3svc", earlier),
            // An account the run does not name (out of its OU): kept.
            known(G2, "app1.corp.test", "oldsvc", earlier),
            // Seen after this run's scan (a late run): kept.
            known(
                G1,
                "app1.corp.test",
                "newer",
                datetime!(2026-12-02 0:00 UTC),
            ),
        ];
        let r = run(
            true,
            Some(&["APP1.corp.test"]),
            vec![account(G1, &[("App1.Corp.Test", "MSSQL")])],
        );
        let p = plan(&r, &known);
        assert_eq!(removed(&p), [(G1, "app1.corp.test", "oldsvc")]);
        assert_eq!(p.write.len(), 1);
        assert_eq!(
            (p.write[0].host.as_str(), p.write[0].service_name.as_str()),
            ("App1.Corp.Test", "MSSQL")
        );
        assert_eq!(
            (p.write[0].host_key(), p.write[0].service_key()),
            ("app1.corp.test".to_owned(), "mssql".to_owned())
        );
        assert_eq!(p.scanned, [G1]);
    }

    #[test]
    fn partial_scans_and_old_tools_never_remove() {
        let known = [known(
            G1,
            "app1.corp.test",
            "mssql",
            datetime!(2026-11-01 0:00 UTC),
        )];
        let partial = run(false, Some(&["app1.corp.test"]), vec![account(G1, &[])]);
        let p = plan(&partial, &known);
        assert!(
            p.remove.is_empty() && p.write.is_empty() && p.scanned.is_empty(),
            "{p:?}"
        );
        let adds = run(
            false,
            Some(&["app3"]),
            vec![account(G1, &[("app3", "x"), ("APP3", "X")])],
        );
        assert_eq!(
            plan(&adds, &known).write.len(),
            1,
            "one service, named twice"
        );
        let old_tool = run(true, None, vec![account(G1, &[])]);
        assert_eq!(plan(&old_tool, &known), Plan::default());
        let nothing_read = run(true, Some(&[]), vec![account(G1, &[])]);
        assert_eq!(plan(&nothing_read, &known), Plan::default());
    }

    #[test]
    fn headlines_count_services_and_distinct_hosts() {
        let (s, h) = counts([("app1", "a"), ("APP1", "b"), ("app2", "a"), ("app1", "A")]);
        assert_eq!((s, h), (3, 2));
        assert_eq!(headline(1, 1, None), "Used by 1 service on 1 host");
        assert_eq!(
            headline(3, 2, Some(SCANNED)),
            "Used by 3 services on 2 hosts"
        );
        assert_eq!(
            headline(0, 0, Some(SCANNED)),
            "No known dependencies (last complete host scan: 2026-12-01 10:00 UTC)"
        );
        assert_eq!(
            headline(0, 0, None),
            "No known dependencies (never scanned)"
        );
        assert_eq!(Source::parse("host-scan"), Some(Source::HostScan));
        assert_eq!(Source::parse("vault").map(Source::as_str), Some("vault"));
        assert_eq!(Source::parse("Vault"), None);
    }
}

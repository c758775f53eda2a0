//! "Where is it used": joins the start names of the services found on hosts to the accounts
//! of the directory analysis. Pure.
//!
//! Start names come as `DOMAIN\name`, `name@dns.domain`, `.\local`, `LocalSystem` or
//! `NT AUTHORITY\...`; a domain account matches on its sAMAccountName (case-insensitive).
//! Local and built-in identities are not domain accounts and are left out.

use crate::analysis::AnalysedAccount;
use crate::host_scan::{HostResult, HostScan};
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    pub account: String,
    pub host: String,
    pub service_name: String,
    pub display_name: String,
    pub start_name: String,
    pub binary_path: String,
}

/// What kind of identity a service runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAccountKind {
    /// LocalSystem, `NT AUTHORITY\...`, `NT SERVICE\...`, `BUILTIN\...`.
    BuiltIn,
    /// An account of the host itself: `.\name`, `HOST\name` or a bare name.
    Local,
    /// A domain account: `DOMAIN\name` or `name@dns.domain`.
    Domain,
    /// No start name (the host did not show the configuration).
    Unknown,
}

impl StartAccountKind {
    pub fn label(self) -> &'static str {
        match self {
            StartAccountKind::BuiltIn => "built-in",
            StartAccountKind::Local => "local",
            StartAccountKind::Domain => "domain",
            StartAccountKind::Unknown => "unknown",
        }
    }
}

/// Classifies `start_name` as written on the host whose NetBIOS name is `computer_name`
/// (a `HOST\name` prefix naming the host itself is a local account, not a domain one).
pub fn start_account_kind(start_name: &str, computer_name: &str) -> StartAccountKind {
    let s = start_name.trim();
    if s.is_empty() {
        return StartAccountKind::Unknown;
    }
    if s.eq_ignore_ascii_case("LocalSystem") {
        return StartAccountKind::BuiltIn;
    }
    if let Some((domain, name)) = s.split_once('\\') {
        let d = domain.to_ascii_uppercase();
        return if d == "NT AUTHORITY" || d == "NT SERVICE" || d == "BUILTIN" {
            StartAccountKind::BuiltIn
        } else if d == "." || d.eq_ignore_ascii_case(computer_name) || name.is_empty() {
            StartAccountKind::Local
        } else {
            StartAccountKind::Domain
        };
    }
    if s.split_once('@').is_some_and(|(name, _)| !name.is_empty()) {
        return StartAccountKind::Domain;
    }
    StartAccountKind::Local
}

/// The account name a start name refers to, when it is a domain account.
pub fn domain_account_name(start_name: &str, computer_name: &str) -> Option<String> {
    if start_account_kind(start_name, computer_name) != StartAccountKind::Domain {
        return None;
    }
    let s = start_name.trim();
    let name = match s.split_once('\\') {
        Some((_, name)) => name,
        None => s.split_once('@').map_or(s, |(name, _)| name),
    };
    Some(name.to_lowercase())
}

/// One row per service on a scanned host whose start name is one of `accounts`.
pub fn usage(accounts: &[AnalysedAccount], scan: &HostScan) -> Vec<UsageRow> {
    let by_name: HashMap<String, &str> = accounts
        .iter()
        .map(|a| {
            let sam = a.account.sam_account_name.as_str();
            (sam.to_lowercase(), sam)
        })
        .collect();
    let mut rows = Vec::new();
    for outcome in &scan.outcomes {
        let HostResult::Services(services) = &outcome.result else {
            continue;
        };
        let host = outcome
            .computer
            .dns_host_name
            .clone()
            .unwrap_or_else(|| outcome.computer.name.clone());
        for s in services {
            let Some(name) = domain_account_name(&s.start_name, &outcome.computer.name) else {
                continue;
            };
            // gMSAs run as `DOMAIN\name$`; the account's sAMAccountName has the `$` too.
            let account = by_name
                .get(&name)
                .or_else(|| by_name.get(&format!("{name}$")));
            if let Some(account) = account {
                rows.push(UsageRow {
                    account: (*account).to_owned(),
                    host: host.clone(),
                    service_name: s.name.clone(),
                    display_name: s.display_name.clone(),
                    start_name: s.start_name.clone(),
                    binary_path: s.binary_path.clone(),
                });
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::{Account, AccountKind, Computer};
    use crate::host_scan::{HostOutcome, ServiceEntry};

    #[test]
    fn start_names_are_read_as_windows_writes_them() {
        let name = |s: &str| domain_account_name(s, "APP1");
        assert_eq!(name("CORP\\svc-sql").as_deref(), Some("svc-sql"));
        assert_eq!(name("svc-sql@corp.example.com").as_deref(), Some("svc-sql"));
        assert_eq!(name("LocalSystem"), None);
        assert_eq!(name("NT AUTHORITY\\NetworkService"), None);
        assert_eq!(name(".\\localadmin"), None);
        assert_eq!(name("app1\\localadmin"), None, "the host's own accounts");
        assert_eq!(name("localadmin"), None);
        let kind = |s: &str| start_account_kind(s, "APP1").label();
        assert_eq!(
            [
                "LocalSystem",
                "NT SERVICE\\MSSQL",
                ".\\x",
                "APP1\\x",
                "CORP\\x",
                "x@corp.test",
                ""
            ]
            .map(kind),
            ["built-in", "built-in", "local", "local", "domain", "domain", "unknown"]
        );
    }

    #[test]
    fn services_join_to_the_accounts_they_run_as() {
        let analysed = |name: &str, kind| AnalysedAccount {
            account: Account::new(name, kind),
            reasons: vec![],
            findings: vec![],
        };
        let accounts = [
            analysed("svc-sql", AccountKind::User),
            analysed("gweb$", AccountKind::Gmsa),
        ];
        let svc = |name: &str, start: &str| ServiceEntry {
            name: name.into(),
            display_name: name.into(),
            start_name: start.into(),
            binary_path: "x.exe".into(),
            start_type: "auto".into(),
            state: "running".into(),
            config_error: None,
        };
        let scan = HostScan {
            interrupted: false,
            outcomes: vec![HostOutcome {
                computer: Computer {
                    dn: "CN=APP1".into(),
                    name: "APP1".into(),
                    dns_host_name: Some("app1.corp.test".into()),
                    enabled: true,
                    domain_controller: false,
                },
                result: HostResult::Services(vec![
                    svc("MSSQL", "CORP\\SVC-SQL"),
                    svc("W3SVC", "CORP\\gweb$"),
                    svc("Spooler", "LocalSystem"),
                    svc("Other", "CORP\\someone-else"),
                ]),
            }],
        };
        let rows = usage(&accounts, &scan);
        let got: Vec<(&str, &str)> = rows
            .iter()
            .map(|r| (r.account.as_str(), r.service_name.as_str()))
            .collect();
        assert_eq!(got, [("svc-sql", "MSSQL"), ("gweb$", "W3SVC")]);
        assert_eq!(rows[0].host, "app1.corp.test");
    }
}

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

/// The account name a start name refers to, when it is a domain account.
pub fn domain_account_name(start_name: &str) -> Option<String> {
    let s = start_name.trim();
    if s.is_empty() || s.eq_ignore_ascii_case("LocalSystem") {
        return None;
    }
    if let Some((domain, name)) = s.split_once('\\') {
        let d = domain.to_ascii_uppercase();
        if d == "." || d == "NT AUTHORITY" || d == "NT SERVICE" || d == "BUILTIN" || name.is_empty()
        {
            return None;
        }
        return Some(name.to_lowercase());
    }
    if let Some((name, _domain)) = s.split_once('@') {
        return (!name.is_empty()).then(|| name.to_lowercase());
    }
    // A bare name is a local account on the host.
    None
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
            let Some(name) = domain_account_name(&s.start_name) else {
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
        assert_eq!(
            domain_account_name("CORP\\svc-sql").as_deref(),
            Some("svc-sql")
        );
        assert_eq!(
            domain_account_name("svc-sql@corp.example.com").as_deref(),
            Some("svc-sql")
        );
        assert_eq!(domain_account_name("LocalSystem"), None);
        assert_eq!(domain_account_name("NT AUTHORITY\\NetworkService"), None);
        assert_eq!(domain_account_name(".\\localadmin"), None);
        assert_eq!(domain_account_name("localadmin"), None);
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

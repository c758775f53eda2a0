//! The detailed CSV files: accounts, findings, hosts, services, usage and errors, one row
//! per item, a header row always (an empty file still says what it would hold).

use super::{instant_text, Report};
use crate::host_scan::{HostResult, NotScanned};
use crate::usage::start_account_kind;
use std::collections::HashMap;

pub const ACCOUNTS: &str = "accounts.csv";
pub const FINDINGS: &str = "findings.csv";
pub const HOSTS: &str = "hosts.csv";
pub const SERVICES: &str = "services.csv";
pub const USAGE: &str = "usage.csv";
pub const ERRORS: &str = "errors.csv";

type Rows = Vec<Vec<String>>;

fn to_csv(header: &[&str], rows: Rows) -> std::io::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header)?;
    for r in rows {
        w.write_record(r)?;
    }
    w.into_inner()
        .map_err(|e| std::io::Error::other(e.to_string()))
}

/// Every CSV file's name and bytes.
pub fn render_all(report: &Report) -> std::io::Result<Vec<(&'static str, Vec<u8>)>> {
    Ok(vec![
        (ACCOUNTS, accounts(report)?),
        (FINDINGS, findings(report)?),
        (HOSTS, hosts(report)?),
        (SERVICES, services(report)?),
        (USAGE, usage(report)?),
        (ERRORS, errors(report)?),
    ])
}

fn accounts(report: &Report) -> std::io::Result<Vec<u8>> {
    let mut used_on: HashMap<&str, Vec<&str>> = HashMap::new();
    for u in &report.usage {
        let hosts = used_on.entry(u.account.as_str()).or_default();
        if !hosts.contains(&u.host.as_str()) {
            hosts.push(u.host.as_str());
        }
    }
    let rows = report
        .accounts
        .iter()
        .map(|a| {
            let acc = &a.account;
            vec![
                acc.sam_account_name.clone(),
                acc.kind.label().to_owned(),
                acc.dn.clone(),
                acc.enabled().to_string(),
                a.reasons
                    .iter()
                    .map(|r| r.code())
                    .collect::<Vec<_>>()
                    .join(";"),
                acc.service_principal_names.join(";"),
                format!("0x{:x}", acc.user_account_control),
                instant_text(acc.password_last_set),
                instant_text(acc.last_logon_timestamp),
                instant_text(acc.when_created),
                // [MS-ADTS] 3.1.1.4.5.17: lockout and password expiry are computed.
                (acc.uac_computed & alm_directory::uac::LOCKOUT != 0).to_string(),
                (acc.uac_computed & alm_directory::uac::PASSWORD_EXPIRED != 0).to_string(),
                a.findings
                    .iter()
                    .map(|f| f.kind.id())
                    .collect::<Vec<_>>()
                    .join(";"),
                used_on
                    .get(acc.sam_account_name.as_str())
                    .map(|h| h.join(";"))
                    .unwrap_or_default(),
            ]
        })
        .collect();
    to_csv(
        &[
            "sam_account_name",
            "kind",
            "dn",
            "enabled",
            "service_account_reasons",
            "service_principal_names",
            "user_account_control",
            "password_last_set",
            "last_logon_timestamp",
            "when_created",
            "locked_out",
            "password_expired",
            "findings",
            "used_on_hosts",
        ],
        rows,
    )
}

fn findings(report: &Report) -> std::io::Result<Vec<u8>> {
    let rows = report
        .accounts
        .iter()
        .flat_map(|a| {
            a.findings.iter().map(move |f| {
                vec![
                    a.account.sam_account_name.clone(),
                    a.account.dn.clone(),
                    f.kind.id().to_owned(),
                    f.kind.severity().label().to_owned(),
                    f.kind.title().to_owned(),
                    f.detail.clone(),
                    f.kind.fix().to_owned(),
                ]
            })
        })
        .collect();
    to_csv(
        &[
            "account",
            "dn",
            "finding_id",
            "severity",
            "title",
            "detail",
            "fix",
        ],
        rows,
    )
}

fn hosts(report: &Report) -> std::io::Result<Vec<u8>> {
    let rows = report
        .hosts
        .outcomes
        .iter()
        .map(|o| {
            let (status, services, kind, message) = match &o.result {
                HostResult::Services(s) => {
                    ("scanned", s.len().to_string(), String::new(), String::new())
                }
                HostResult::Failed(e) => (
                    "failed",
                    String::new(),
                    e.kind.label().to_owned(),
                    e.message.clone(),
                ),
                // Stopped by Ctrl-C before or while this host was scanned.
                HostResult::NotScanned(why @ NotScanned::Interrupted) => (
                    "interrupted",
                    String::new(),
                    String::new(),
                    why.label().to_owned(),
                ),
                HostResult::NotScanned(why) => (
                    "not-scanned",
                    String::new(),
                    String::new(),
                    why.label().to_owned(),
                ),
            };
            vec![
                o.computer.name.clone(),
                o.computer.dns_host_name.clone().unwrap_or_default(),
                o.computer.dn.clone(),
                o.computer.domain_controller.to_string(),
                status.to_owned(),
                services,
                kind,
                message,
            ]
        })
        .collect();
    to_csv(
        &[
            "computer",
            "dns_host_name",
            "dn",
            "domain_controller",
            "status",
            "services",
            "error_kind",
            "message",
        ],
        rows,
    )
}

/// Every service of every scanned host, with the kind of account it runs as.
fn services(report: &Report) -> std::io::Result<Vec<u8>> {
    let rows = report
        .hosts
        .outcomes
        .iter()
        .filter_map(|o| match &o.result {
            HostResult::Services(s) => Some((o, s)),
            _ => None,
        })
        .flat_map(|(o, services)| {
            services.iter().map(move |s| {
                vec![
                    o.computer.name.clone(),
                    o.computer.dns_host_name.clone().unwrap_or_default(),
                    s.name.clone(),
                    s.display_name.clone(),
                    s.start_name.clone(),
                    start_account_kind(&s.start_name, &o.computer.name)
                        .label()
                        .to_owned(),
                    s.start_type.clone(),
                    s.state.clone(),
                    s.binary_path.clone(),
                    s.config_error.clone().unwrap_or_default(),
                ]
            })
        })
        .collect();
    to_csv(
        &[
            "computer",
            "dns_host_name",
            "service_name",
            "display_name",
            "start_name",
            "account_kind",
            "start_type",
            "state",
            "binary_path",
            "config_error",
        ],
        rows,
    )
}

fn usage(report: &Report) -> std::io::Result<Vec<u8>> {
    let rows = report
        .usage
        .iter()
        .map(|u| {
            vec![
                u.account.clone(),
                u.host.clone(),
                u.service_name.clone(),
                u.display_name.clone(),
                u.start_name.clone(),
                u.binary_path.clone(),
            ]
        })
        .collect();
    to_csv(
        &[
            "account",
            "host",
            "service_name",
            "display_name",
            "start_name",
            "binary_path",
        ],
        rows,
    )
}

fn errors(report: &Report) -> std::io::Result<Vec<u8>> {
    let rows = report
        .hosts
        .outcomes
        .iter()
        .filter_map(|o| match &o.result {
            HostResult::Failed(e) => Some(vec![
                o.computer.name.clone(),
                o.computer.dns_host_name.clone().unwrap_or_default(),
                e.kind.label().to_owned(),
                e.message.clone(),
            ]),
            _ => None,
        })
        .collect();
    to_csv(
        &["computer", "dns_host_name", "error_kind", "message"],
        rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Vec<Vec<String>> {
        csv::Reader::from_reader(bytes)
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect()
    }

    #[test]
    fn every_file_has_its_rows() {
        let files = render_all(&super::super::sample::report()).unwrap();
        let get = |n: &str| parse(&files.iter().find(|(name, _)| *name == n).unwrap().1);
        let accounts = get(ACCOUNTS);
        assert_eq!(accounts.len(), 3);
        assert_eq!(accounts[0][12], "kerberoastable-old-password;privileged");
        assert_eq!(accounts[0][13], "app1.corp.test");
        let findings = get(FINDINGS);
        assert_eq!(findings.len(), 3);
        assert_eq!(findings[2][2], "stale");
        let hosts = get(HOSTS);
        assert_eq!(
            hosts.iter().map(|h| h[4].as_str()).collect::<Vec<_>>(),
            ["scanned", "failed", "interrupted"]
        );
        let services = get(SERVICES);
        assert_eq!(
            services
                .iter()
                .map(|s| (s[2].as_str(), s[4].as_str(), s[5].as_str()))
                .collect::<Vec<_>>(),
            [
                ("MSSQL", "CORP\\svc-sql", "domain"),
                ("Spooler", "LocalSystem", "built-in")
            ]
        );
        assert_eq!(get(USAGE).len(), 1);
        let errors = get(ERRORS);
        assert_eq!(
            errors,
            vec![vec![
                "app2".to_owned(),
                "app2.corp.test".into(),
                "access-denied".into(),
                "denied".into()
            ]]
        );
    }
}

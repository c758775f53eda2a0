//! The reports of one run: what goes in them (`Report`), the numbers of the executive
//! summary, and writing every file into the output folder. Each format has its own module;
//! only `write_all` touches the file system.

pub mod csv_files;
pub mod helvetica_metrics;
pub mod html;
pub mod pdf;
pub mod summary;
pub mod svg_chart;

use crate::analysis::AnalysedAccount;
use crate::builtin_accounts::BuiltinAccount;
use crate::host_scan::HostScan;
use crate::usage::UsageRow;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

/// Everything a report shows. Holds no credentials by construction.
#[derive(Debug, Clone)]
pub struct Report {
    pub company: String,
    pub scanned_at: OffsetDateTime,
    /// The domain as the administrator named it (FQDN or LDAPS URL).
    pub domain: String,
    /// The DN the scan was limited to (the domain's naming context for a whole-domain scan).
    pub scope: String,
    /// Every account read in scope (service-looking or not).
    pub accounts_in_scope: usize,
    pub accounts: Vec<AnalysedAccount>,
    /// The domain's built-in accounts in scope: left out of `accounts`, named in the summaries.
    pub builtin_accounts: Vec<BuiltinAccount>,
    pub hosts: HostScan,
    pub usage: Vec<UsageRow>,
}

pub const SUMMARY_HTML: &str = "summary.html";
pub const SUMMARY_PDF: &str = "summary.pdf";

/// Writes every report into `dir` (created when missing); each file is written beside its
/// final name and renamed, so a reader never sees half a file. Returns the paths written.
pub fn write_all(report: &Report, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut files: Vec<(&str, Vec<u8>)> = csv_files::render_all(report)?;
    files.push((SUMMARY_HTML, html::render(report).into_bytes()));
    files.push((SUMMARY_PDF, pdf::render(report)));
    let mut written = Vec::new();
    for (name, bytes) in files {
        let path = dir.join(name);
        let partial = dir.join(format!(".{name}.partial"));
        std::fs::write(&partial, bytes)?;
        std::fs::rename(&partial, &path)?;
        written.push(path);
    }
    Ok(written)
}

/// The scan date as the reports print it (UTC).
pub fn date_text(at: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
}

/// An instant for the CSV files (RFC 3339, UTC), or empty.
pub fn instant_text(at: Option<OffsetDateTime>) -> String {
    at.and_then(|t| {
        t.format(&time::format_description::well_known::Rfc3339)
            .ok()
    })
    .unwrap_or_default()
}

#[cfg(test)]
pub(crate) mod sample {
    //! A small report for the format tests.
    use super::*;
    use crate::account::{Account, AccountKind, Computer};
    use crate::findings::{Finding, FindingKind};
    use crate::host_scan::{
        HostError, HostErrorKind, HostOutcome, HostResult, NotScanned, ServiceEntry,
    };
    use time::macros::datetime;

    pub fn report() -> Report {
        let finding = |kind: FindingKind| Finding {
            kind,
            detail: format!("evidence <{}>", kind.id()),
        };
        let computer = |name: &str| Computer {
            dn: format!("CN={name},DC=x"),
            name: name.into(),
            dns_host_name: Some(format!("{name}.corp.test")),
            enabled: true,
            domain_controller: false,
        };
        Report {
            company: "Müller & Söhne <GmbH>".into(),
            scanned_at: datetime!(2026-06-01 09:30 UTC),
            domain: "corp.test".into(),
            scope: "OU=Servers,DC=corp,DC=test".into(),
            accounts_in_scope: 12,
            accounts: vec![
                AnalysedAccount {
                    account: Account::new("svc-sql", AccountKind::User),
                    reasons: vec![crate::classify::ServiceReason::SpnOnUser],
                    findings: vec![
                        finding(FindingKind::KerberoastableOldPassword),
                        finding(FindingKind::Privileged),
                    ],
                },
                AnalysedAccount {
                    account: Account::new("svc-web", AccountKind::User),
                    reasons: vec![crate::classify::ServiceReason::NamePattern("^svc".into())],
                    findings: vec![finding(FindingKind::Stale)],
                },
                AnalysedAccount {
                    account: Account::new("svc-ok", AccountKind::User),
                    reasons: vec![crate::classify::ServiceReason::NamePattern("^svc".into())],
                    findings: vec![],
                },
            ],
            builtin_accounts: vec![BuiltinAccount {
                sam_account_name: "krbtgt".into(),
                dn: "CN=krbtgt,CN=Users,DC=corp,DC=test".into(),
                kind: crate::builtin_accounts::BuiltinKind::Krbtgt,
            }],
            hosts: HostScan {
                interrupted: true,
                outcomes: vec![
                    HostOutcome {
                        computer: computer("app1"),
                        result: HostResult::Services(vec![
                            ServiceEntry {
                                name: "MSSQL".into(),
                                display_name: "SQL Server".into(),
                                start_name: "CORP\\svc-sql".into(),
                                binary_path: "C:\\sql.exe".into(),
                                start_type: "auto".into(),
                                state: "running".into(),
                                config_error: None,
                            },
                            ServiceEntry {
                                name: "Spooler".into(),
                                display_name: "Print Spooler".into(),
                                start_name: "LocalSystem".into(),
                                binary_path: "C:\\spoolsv.exe".into(),
                                start_type: "auto".into(),
                                state: "running".into(),
                                config_error: None,
                            },
                        ]),
                    },
                    HostOutcome {
                        computer: computer("app2"),
                        result: HostResult::Failed(HostError {
                            kind: HostErrorKind::AccessDenied,
                            message: "denied".into(),
                        }),
                    },
                    HostOutcome {
                        computer: computer("app3"),
                        result: HostResult::NotScanned(NotScanned::Interrupted),
                    },
                ],
            },
            usage: vec![UsageRow {
                account: "svc-sql".into(),
                host: "app1.corp.test".into(),
                service_name: "MSSQL".into(),
                display_name: "SQL Server".into(),
                start_name: "CORP\\svc-sql".into(),
                binary_path: "C:\\sql.exe".into(),
            }],
        }
    }
}

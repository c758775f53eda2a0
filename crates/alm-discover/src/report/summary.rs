//! The numbers of the executive summary, computed once so the HTML and the PDF agree.

use super::Report;
use crate::analysis::AnalysedAccount;
use crate::findings::{FindingKind, Severity};
use crate::host_scan::HostResult;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub service_accounts: usize,
    pub accounts_with_findings: usize,
    pub findings: usize,
    /// Every severity, worst first, with its count (zeros included).
    pub by_severity: Vec<(Severity, usize)>,
    /// Finding kinds that occurred, worst severity first, then by id.
    pub by_kind: Vec<(FindingKind, usize)>,
    pub hosts: usize,
    pub hosts_scanned: usize,
    pub hosts_failed: usize,
    pub hosts_not_scanned: usize,
    pub interrupted: bool,
}

pub fn summarise(report: &Report) -> Summary {
    let all = || report.accounts.iter().flat_map(|a| a.findings.iter());
    let by_severity = Severity::ALL
        .iter()
        .map(|s| (*s, all().filter(|f| f.kind.severity() == *s).count()))
        .collect();
    let mut by_kind: Vec<(FindingKind, usize)> = FindingKind::ALL
        .iter()
        .map(|k| (*k, all().filter(|f| f.kind == *k).count()))
        .filter(|(_, n)| *n > 0)
        .collect();
    by_kind.sort_by_key(|(k, _)| (k.severity(), k.id()));
    let count = |pred: fn(&HostResult) -> bool| {
        report
            .hosts
            .outcomes
            .iter()
            .filter(|o| pred(&o.result))
            .count()
    };
    Summary {
        service_accounts: report.accounts.len(),
        accounts_with_findings: report
            .accounts
            .iter()
            .filter(|a| !a.findings.is_empty())
            .count(),
        findings: all().count(),
        by_severity,
        by_kind,
        hosts: report.hosts.outcomes.len(),
        hosts_scanned: count(|r| matches!(r, HostResult::Services(_))),
        hosts_failed: count(|r| matches!(r, HostResult::Failed(_))),
        hosts_not_scanned: count(|r| matches!(r, HostResult::NotScanned(_))),
        interrupted: report.hosts.interrupted,
    }
}

/// The accounts most in need of attention: worst severity first, then most findings.
pub fn riskiest(report: &Report, limit: usize) -> Vec<&AnalysedAccount> {
    let mut with: Vec<&AnalysedAccount> = report
        .accounts
        .iter()
        .filter(|a| !a.findings.is_empty())
        .collect();
    with.sort_by_key(|a| {
        let worst = a
            .findings
            .iter()
            .map(|f| f.kind.severity())
            .min()
            .unwrap_or(Severity::Low);
        (
            worst,
            std::cmp::Reverse(a.findings.len()),
            a.account.sam_account_name.to_lowercase(),
        )
    });
    with.truncate(limit);
    with
}

/// The severities of an account's findings, worst first, as text ("critical, high").
pub fn worst_first(account: &AnalysedAccount) -> String {
    let mut ids: Vec<(Severity, &str)> = account
        .findings
        .iter()
        .map(|f| (f.kind.severity(), f.kind.id()))
        .collect();
    ids.sort();
    ids.iter().map(|(_, id)| *id).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up() {
        let s = summarise(&super::super::sample::report());
        assert_eq!(s.service_accounts, 3);
        assert_eq!(s.accounts_with_findings, 2);
        assert_eq!(s.findings, 3);
        assert_eq!(
            s.by_severity,
            vec![
                (Severity::Critical, 1),
                (Severity::High, 1),
                (Severity::Medium, 1),
                (Severity::Low, 0)
            ]
        );
        assert_eq!(s.by_kind[0], (FindingKind::Privileged, 1));
        assert_eq!(
            (
                s.hosts,
                s.hosts_scanned,
                s.hosts_failed,
                s.hosts_not_scanned
            ),
            (3, 1, 1, 1)
        );
        assert!(s.interrupted);
    }
}

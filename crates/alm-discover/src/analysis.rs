//! The directory analysis: which accounts look like service accounts, and their findings.
//! Pure: accounts, settings and the instant in; the analysed accounts out.

use crate::account::Account;
use crate::classify::{service_reasons, ServiceReason};
use crate::findings::{evaluate, Finding};
use crate::settings::AnalysisSettings;
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq)]
pub struct AnalysedAccount {
    pub account: Account,
    pub reasons: Vec<ServiceReason>,
    pub findings: Vec<Finding>,
}

/// The accounts that look like service accounts, with their findings, sorted by name.
/// Findings are looked for on those only: the tool is about service accounts, and a
/// domain's ordinary users would drown them (stale users are a different audit).
pub fn analyse(
    accounts: &[Account],
    settings: &AnalysisSettings,
    now: OffsetDateTime,
) -> Vec<AnalysedAccount> {
    let mut out: Vec<AnalysedAccount> = accounts
        .iter()
        .filter_map(|a| {
            let reasons = service_reasons(a, settings);
            (!reasons.is_empty()).then(|| AnalysedAccount {
                findings: evaluate(a, settings, now),
                account: a.clone(),
                reasons,
            })
        })
        .collect();
    out.sort_by_key(|a| a.account.sam_account_name.to_lowercase());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::AccountKind;
    use alm_directory::uac;
    use time::macros::datetime;

    #[test]
    fn only_service_looking_accounts_are_kept_with_their_findings() {
        let mut plain = Account::new("alice", AccountKind::User);
        plain.user_account_control |= uac::DONT_REQ_PREAUTH;
        let mut svc = Account::new("svc-b", AccountKind::User);
        svc.user_account_control |= uac::DONT_REQ_PREAUTH;
        svc.last_logon_timestamp = Some(datetime!(2026-05-30 00:00 UTC));
        let out = analyse(
            &[svc, plain],
            &AnalysisSettings::defaults(),
            datetime!(2026-06-01 00:00 UTC),
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].account.sam_account_name, "svc-b");
        assert_eq!(out[0].findings.len(), 1);
    }
}

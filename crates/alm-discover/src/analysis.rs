//! The directory analysis: which accounts look like service accounts, and their findings.
//! Pure: accounts, settings and the instant in; the analysed accounts out.

use crate::account::Account;
use crate::builtin_accounts::builtin_kind;
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
/// domain's ordinary users would drown them (stale users are a different audit). The
/// domain's built-in accounts (`builtin_accounts`) are never service accounts, whatever they
/// look like: krbtgt has an SPN on Samba, Administrator and Guest a password that never
/// expires.
pub fn analyse(
    accounts: &[Account],
    settings: &AnalysisSettings,
    now: OffsetDateTime,
) -> Vec<AnalysedAccount> {
    let mut out: Vec<AnalysedAccount> = accounts
        .iter()
        .filter(|a| builtin_kind(a).is_none())
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

    #[test]
    fn the_domains_built_in_accounts_are_not_service_accounts() {
        let domain = "S-1-5-21-1-2-3";
        let account = |name: &str, rid: u32| {
            let mut a = Account::new(name, AccountKind::User);
            a.sid = Some(format!("{domain}-{rid}"));
            a
        };
        // As Samba creates them: krbtgt disabled with kadmin/changepw, Administrator and
        // Guest with a password that never expires; each would be listed by its signals.
        let mut krbtgt = account("krbtgt", 502);
        krbtgt.user_account_control = uac::NORMAL_ACCOUNT | uac::ACCOUNTDISABLE;
        krbtgt.service_principal_names = vec!["kadmin/changepw".into()];
        krbtgt.admin_count = true;
        let mut admin = account("Administrator", 500);
        admin.user_account_control |= uac::DONT_EXPIRE_PASSWORD;
        admin.admin_count = true;
        let mut guest = account("Guest", 501);
        guest.user_account_control |= uac::DONT_EXPIRE_PASSWORD | uac::ACCOUNTDISABLE;
        let mut svc = account("svc-app", 1105);
        svc.service_principal_names = vec!["HTTP/app".into()];
        let settings = AnalysisSettings::defaults();
        for a in [&krbtgt, &admin, &guest] {
            assert!(
                !service_reasons(a, &settings).is_empty(),
                "{} looks like one",
                a.sam_account_name
            );
        }
        let out = analyse(
            &[krbtgt, admin, guest, svc],
            &settings,
            datetime!(2026-06-01 00:00 UTC),
        );
        let names: Vec<&str> = out
            .iter()
            .map(|a| a.account.sam_account_name.as_str())
            .collect();
        assert_eq!(names, ["svc-app"]);
    }
}

//! Why an account looks like a service account. Pure: the reasons come from the account's
//! attributes and the settings only.
//!
//! "No interactive logon" cannot be read from LDAP (logon rights live in GPOs and logon
//! types are not recorded), so it is approximated by `userWorkstations` being set: logon
//! restricted to named machines, as administrators do for service accounts.

use crate::account::{Account, AccountKind};
use crate::settings::AnalysisSettings;
use alm_directory::uac;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceReason {
    /// A user object with a servicePrincipalName.
    SpnOnUser,
    ManagedServiceAccount,
    GroupManagedServiceAccount,
    /// The name matched this pattern.
    NamePattern(String),
    /// The description contains this keyword.
    DescriptionKeyword(String),
    PasswordNeverExpires,
    /// `userWorkstations` restricts where it may log on.
    LogonRestricted,
}

impl ServiceReason {
    /// A stable short code for the CSV files.
    pub fn code(&self) -> String {
        match self {
            ServiceReason::SpnOnUser => "spn".into(),
            ServiceReason::ManagedServiceAccount => "msa".into(),
            ServiceReason::GroupManagedServiceAccount => "gmsa".into(),
            ServiceReason::NamePattern(p) => format!("name:{p}"),
            ServiceReason::DescriptionKeyword(k) => format!("description:{k}"),
            ServiceReason::PasswordNeverExpires => "password-never-expires".into(),
            ServiceReason::LogonRestricted => "logon-restricted".into(),
        }
    }
}

impl fmt::Display for ServiceReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceReason::SpnOnUser => f.write_str("user object with a service principal name"),
            ServiceReason::ManagedServiceAccount => f.write_str("managed service account"),
            ServiceReason::GroupManagedServiceAccount => {
                f.write_str("group managed service account")
            }
            ServiceReason::NamePattern(p) => write!(f, "name matches {p}"),
            ServiceReason::DescriptionKeyword(k) => write!(f, "description mentions \"{k}\""),
            ServiceReason::PasswordNeverExpires => f.write_str("password never expires"),
            ServiceReason::LogonRestricted => f.write_str("logon restricted to named workstations"),
        }
    }
}

/// Every reason the account looks like a service account; empty when it does not.
pub fn service_reasons(account: &Account, settings: &AnalysisSettings) -> Vec<ServiceReason> {
    let mut reasons = Vec::new();
    match account.kind {
        AccountKind::Gmsa => reasons.push(ServiceReason::GroupManagedServiceAccount),
        AccountKind::Msa => reasons.push(ServiceReason::ManagedServiceAccount),
        AccountKind::User => {
            if !account.service_principal_names.is_empty() {
                reasons.push(ServiceReason::SpnOnUser);
            }
        }
    }
    if let Some(p) = settings
        .name_patterns
        .iter()
        .find(|p| p.is_match(&account.sam_account_name))
    {
        reasons.push(ServiceReason::NamePattern(p.as_str().to_owned()));
    }
    if let Some(description) = account.description.as_deref() {
        let lower = description.to_lowercase();
        if let Some(k) = settings
            .description_keywords
            .iter()
            .find(|k| lower.contains(k.as_str()))
        {
            reasons.push(ServiceReason::DescriptionKeyword(k.clone()));
        }
    }
    if account.has_flag(uac::DONT_EXPIRE_PASSWORD) {
        reasons.push(ServiceReason::PasswordNeverExpires);
    }
    if account
        .user_workstations
        .as_deref()
        .is_some_and(|w| !w.trim().is_empty())
    {
        reasons.push(ServiceReason::LogonRestricted);
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reasons(a: &Account) -> Vec<String> {
        service_reasons(a, &AnalysisSettings::defaults())
            .iter()
            .map(ServiceReason::code)
            .collect()
    }

    #[test]
    fn each_signal_gives_its_reason_and_a_plain_user_gives_none() {
        assert!(reasons(&Account::new("alice", AccountKind::User)).is_empty());
        let mut a = Account::new("web01", AccountKind::User);
        a.service_principal_names = vec!["HTTP/web01".into()];
        assert_eq!(reasons(&a), ["spn"]);
        assert_eq!(reasons(&Account::new("g1$", AccountKind::Gmsa)), ["gmsa"]);
        assert_eq!(reasons(&Account::new("m1$", AccountKind::Msa)), ["msa"]);
        assert_eq!(
            reasons(&Account::new("SRV_backup", AccountKind::User)),
            ["name:^(svc|sa|srv)[-_]"]
        );
        // "sam" is not a prefix match of "sa-"/"sa_".
        assert!(reasons(&Account::new("samuel", AccountKind::User)).is_empty());
        let mut d = Account::new("backup", AccountKind::User);
        d.description = Some("Runs the Backup SERVICE".into());
        assert_eq!(reasons(&d), ["description:service"]);
        let mut n = Account::new("bob", AccountKind::User);
        n.user_account_control |= uac::DONT_EXPIRE_PASSWORD;
        assert_eq!(reasons(&n), ["password-never-expires"]);
        let mut w = Account::new("carol", AccountKind::User);
        w.user_workstations = Some("APP01,APP02".into());
        assert_eq!(reasons(&w), ["logon-restricted"]);
    }
}

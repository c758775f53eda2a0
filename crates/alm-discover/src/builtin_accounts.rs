//! The domain's own accounts, which are never service accounts to govern: the well-known
//! RIDs 500–504 ([MS-DTYP] 2.4.2.4: Administrator, Guest, krbtgt, DefaultAccount,
//! WDAGUtilityAccount) and the krbtgt accounts of read-only DCs. Pure: decided from the
//! account's attributes only.
//!
//! They are told by RID, not by name: Administrator is often renamed, and a name says nothing
//! a domain's user could not copy. An account whose objectSid could not be read is not
//! recognised (it stays in the list: better listed once too often than hidden).
//! A read-only DC's krbtgt (`krbtgt_NNNNN`, an ordinary RID above 1000) is recognised by both
//! its name and `msDS-KrbTgtLinkBl`, the back link from the RODC's `msDS-KrbTgtLink`: the name
//! alone could be given to any user, and a scan that hid such a user would be blind to it.
//!
//! "Shown apart": they are left out of the service-account list everywhere (accounts.csv,
//! findings.csv, the summaries' counts and the `--import` payload) and named on one line of
//! the HTML and PDF summaries and of the run log, so a reader sees they were seen and why
//! they are missing. No CSV file of their own: a handful of fixed accounts is not data.

use crate::account::Account;
use alm_directory::security_descriptor::Sid;

/// A built-in account and how it was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BuiltinKind {
    /// RID 500.
    Administrator,
    /// RID 501.
    Guest,
    /// RID 502: the KDC's own account; its keys sign every ticket of the domain.
    Krbtgt,
    /// RID 503.
    DefaultAccount,
    /// RID 504 (Windows Defender Application Guard).
    WdagUtilityAccount,
    /// The krbtgt account of a read-only DC (`krbtgt_NNNNN`, linked from the RODC).
    RodcKrbtgt,
}

impl BuiltinKind {
    /// The well-known RID, where the kind has one.
    pub fn rid(self) -> Option<u32> {
        match self {
            BuiltinKind::Administrator => Some(500),
            BuiltinKind::Guest => Some(501),
            BuiltinKind::Krbtgt => Some(502),
            BuiltinKind::DefaultAccount => Some(503),
            BuiltinKind::WdagUtilityAccount => Some(504),
            BuiltinKind::RodcKrbtgt => None,
        }
    }

    /// How the reports say why the account is left out ("RID 502", "read-only DC krbtgt").
    pub fn label(self) -> String {
        match self.rid() {
            Some(rid) => format!("RID {rid}"),
            None => "read-only DC krbtgt".to_owned(),
        }
    }

    fn from_rid(rid: u32) -> Option<Self> {
        [
            BuiltinKind::Administrator,
            BuiltinKind::Guest,
            BuiltinKind::Krbtgt,
            BuiltinKind::DefaultAccount,
            BuiltinKind::WdagUtilityAccount,
        ]
        .into_iter()
        .find(|k| k.rid() == Some(rid))
    }
}

/// A built-in account seen in scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltinAccount {
    pub sam_account_name: String,
    pub dn: String,
    pub kind: BuiltinKind,
}

impl BuiltinAccount {
    /// "krbtgt (RID 502)".
    pub fn describe(&self) -> String {
        format!("{} ({})", self.sam_account_name, self.kind.label())
    }
}

/// The RID of a domain account's SID (`S-1-5-21-a-b-c-RID`); `None` for any other SID.
fn domain_rid(sid: &str) -> Option<u32> {
    let sid: Sid = sid.parse().ok()?;
    match (sid.revision, sid.authority, sid.sub_authorities.as_slice()) {
        (1, 5, [21, _, _, _, rid]) => Some(*rid),
        _ => None,
    }
}

/// Which built-in account `account` is, if it is one.
pub fn builtin_kind(account: &Account) -> Option<BuiltinKind> {
    if let Some(kind) = account
        .sid
        .as_deref()
        .and_then(domain_rid)
        .and_then(BuiltinKind::from_rid)
    {
        return Some(kind);
    }
    let rodc_name = account
        .sam_account_name
        .get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("krbtgt_"));
    (rodc_name && account.rodc_krbtgt_link).then_some(BuiltinKind::RodcKrbtgt)
}

/// The built-in accounts among `accounts`, sorted by kind, then name.
pub fn builtin_accounts(accounts: &[Account]) -> Vec<BuiltinAccount> {
    let mut out: Vec<BuiltinAccount> = accounts
        .iter()
        .filter_map(|a| {
            builtin_kind(a).map(|kind| BuiltinAccount {
                sam_account_name: a.sam_account_name.clone(),
                dn: a.dn.clone(),
                kind,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        (a.kind, a.sam_account_name.to_lowercase())
            .cmp(&(b.kind, b.sam_account_name.to_lowercase()))
    });
    out
}

/// The line the summaries and the run log show; `None` when there is none in scope.
pub fn left_out_line(builtin: &[BuiltinAccount]) -> Option<String> {
    (!builtin.is_empty()).then(|| {
        format!(
            "Built-in accounts not listed (the domain's own, never service accounts to govern): {}.",
            builtin
                .iter()
                .map(BuiltinAccount::describe)
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::AccountKind;

    const DOMAIN: &str = "S-1-5-21-1004336348-1177238915-682003330";

    fn with_sid(name: &str, sid: Option<String>) -> Account {
        let mut a = Account::new(name, AccountKind::User);
        a.sid = sid;
        a
    }

    #[test]
    fn the_well_known_rids_are_built_in_whatever_their_names() {
        for (rid, kind) in [
            (500, BuiltinKind::Administrator),
            (501, BuiltinKind::Guest),
            (502, BuiltinKind::Krbtgt),
            (503, BuiltinKind::DefaultAccount),
            (504, BuiltinKind::WdagUtilityAccount),
        ] {
            let a = with_sid("renamed-admin", Some(format!("{DOMAIN}-{rid}")));
            assert_eq!(builtin_kind(&a), Some(kind), "RID {rid}");
        }
        // The neighbours of the range, and ordinary accounts, are not.
        for rid in [498, 499, 505, 512, 1000, 1104] {
            let a = with_sid("x", Some(format!("{DOMAIN}-{rid}")));
            assert_eq!(builtin_kind(&a), None, "RID {rid}");
        }
        // A name is not a RID: "krbtgt" or "Administrator" without the SID is not recognised.
        assert_eq!(builtin_kind(&with_sid("krbtgt", None)), None);
        assert_eq!(
            builtin_kind(&with_sid("Administrator", Some(format!("{DOMAIN}-1105")))),
            None
        );
        // RID 500 of another authority (BUILTIN S-1-5-32, a local S-1-5-21 with fewer parts).
        assert_eq!(
            builtin_kind(&with_sid("x", Some("S-1-5-32-500".into()))),
            None
        );
        assert_eq!(
            builtin_kind(&with_sid("x", Some("S-1-5-21-1-500".into()))),
            None
        );
        assert_eq!(builtin_kind(&with_sid("x", Some("garbage".into()))), None);
    }

    #[test]
    fn a_read_only_dcs_krbtgt_needs_its_name_and_the_rodc_link() {
        let mut a = with_sid("krbtgt_40615", Some(format!("{DOMAIN}-1120")));
        assert_eq!(builtin_kind(&a), None, "the name alone hides nothing");
        a.rodc_krbtgt_link = true;
        assert_eq!(builtin_kind(&a), Some(BuiltinKind::RodcKrbtgt));
        a.sam_account_name = "svc-krbtgt".into();
        assert_eq!(builtin_kind(&a), None, "a link without the name");
    }

    #[test]
    fn the_line_names_each_one_with_why() {
        let mut rodc = with_sid("KRBTGT_1", None);
        rodc.rodc_krbtgt_link = true;
        let accounts = [
            with_sid("svc-a", Some(format!("{DOMAIN}-1106"))),
            with_sid("krbtgt", Some(format!("{DOMAIN}-502"))),
            rodc,
            with_sid("Administrator", Some(format!("{DOMAIN}-500"))),
        ];
        let b = builtin_accounts(&accounts);
        assert_eq!(
            left_out_line(&b).unwrap(),
            "Built-in accounts not listed (the domain's own, never service accounts to govern): \
             Administrator (RID 500), krbtgt (RID 502), KRBTGT_1 (read-only DC krbtgt)."
        );
        assert_eq!(left_out_line(&builtin_accounts(&accounts[..1])), None);
    }
}

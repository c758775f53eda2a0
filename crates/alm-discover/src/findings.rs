//! The risk findings: each has a stable id, a severity and a one-line fix, and is decided
//! from one account's attributes, the settings and the injected time. Pure: no I/O, no clock.
//!
//! Flags are read from `userAccountControl` as [MS-ADTS] 2.2.16 defines them; encryption
//! types from `msDS-SupportedEncryptionTypes` as [MS-KILE] 2.2.7 does (0x1/0x2 DES, 0x4 RC4,
//! 0x8 AES128, 0x10 AES256). An absent encryption-types attribute is not a finding: the
//! KDC then follows the domain's default, which the directory alone does not show. A value
//! of 0 means the same to the KDC ("not set": the domain's default applies), so it is not a
//! finding either.

use crate::account::{Account, AccountKind};
use crate::gmsa_readers::broad_group;
use crate::settings::AnalysisSettings;
use alm_directory::uac;
use time::{Duration, OffsetDateTime};

/// AES128 | AES256 in `msDS-SupportedEncryptionTypes`.
pub const AES_BITS: u32 = 0x8 | 0x10;
/// DES-CBC-CRC | DES-CBC-MD5.
pub const DES_BITS: u32 = 0x1 | 0x2;
/// RC4-HMAC.
pub const RC4_BIT: u32 = 0x4;
/// The bits that name ticket encryption types; the others (FAST, claims, compound identity,
/// AES session keys…) say nothing about which keys a service ticket can be made with.
pub const ETYPE_BITS: u32 = DES_BITS | RC4_BIT | AES_BITS;

/// What `msDS-SupportedEncryptionTypes` allows for the account's service tickets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketEncryption {
    /// Absent or 0: the KDC uses the domain's default, which the directory does not show.
    DomainDefault,
    /// Only DES types among the ticket types (0x1, 0x2 or both): broken crypto, and what a
    /// ticket is made with is DES whatever else the client asks for.
    DesOnly,
    /// Set, but no AES type (RC4 with or without DES, or no ticket type at all).
    NoAes,
    /// AES128 and/or AES256 allowed.
    Aes,
}

impl TicketEncryption {
    pub fn of(mask: Option<u32>) -> Self {
        match mask {
            None | Some(0) => TicketEncryption::DomainDefault,
            Some(m) if m & AES_BITS != 0 => TicketEncryption::Aes,
            Some(m) if m & ETYPE_BITS != 0 && m & ETYPE_BITS & !DES_BITS == 0 => {
                TicketEncryption::DesOnly
            }
            Some(_) => TicketEncryption::NoAes,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FindingKind {
    KerberoastableOldPassword,
    PasswordNeverExpires,
    PasswordNotRequired,
    ReversibleEncryption,
    AsrepRoastable,
    UnconstrainedDelegation,
    ConstrainedDelegationProtocolTransition,
    Privileged,
    DesOnly,
    NoAes,
    Stale,
    NeverUsed,
    GmsaBroadReaders,
}

impl FindingKind {
    pub const ALL: [FindingKind; 13] = [
        FindingKind::KerberoastableOldPassword,
        FindingKind::PasswordNeverExpires,
        FindingKind::PasswordNotRequired,
        FindingKind::ReversibleEncryption,
        FindingKind::AsrepRoastable,
        FindingKind::UnconstrainedDelegation,
        FindingKind::ConstrainedDelegationProtocolTransition,
        FindingKind::Privileged,
        FindingKind::DesOnly,
        FindingKind::NoAes,
        FindingKind::Stale,
        FindingKind::NeverUsed,
        FindingKind::GmsaBroadReaders,
    ];

    pub fn id(self) -> &'static str {
        match self {
            FindingKind::KerberoastableOldPassword => "kerberoastable-old-password",
            FindingKind::PasswordNeverExpires => "password-never-expires",
            FindingKind::PasswordNotRequired => "password-not-required",
            FindingKind::ReversibleEncryption => "reversible-encryption",
            FindingKind::AsrepRoastable => "asrep-roastable",
            FindingKind::UnconstrainedDelegation => "unconstrained-delegation",
            FindingKind::ConstrainedDelegationProtocolTransition => {
                "constrained-delegation-protocol-transition"
            }
            FindingKind::Privileged => "privileged",
            FindingKind::DesOnly => "des-only",
            FindingKind::NoAes => "no-aes",
            FindingKind::Stale => "stale",
            FindingKind::NeverUsed => "never-used",
            FindingKind::GmsaBroadReaders => "gmsa-broad-readers",
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            FindingKind::UnconstrainedDelegation | FindingKind::Privileged => Severity::Critical,
            FindingKind::KerberoastableOldPassword
            | FindingKind::PasswordNotRequired
            | FindingKind::ReversibleEncryption
            | FindingKind::AsrepRoastable
            | FindingKind::ConstrainedDelegationProtocolTransition
            | FindingKind::GmsaBroadReaders => Severity::High,
            FindingKind::PasswordNeverExpires
            | FindingKind::DesOnly
            | FindingKind::NoAes
            | FindingKind::Stale => Severity::Medium,
            FindingKind::NeverUsed => Severity::Low,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            FindingKind::KerberoastableOldPassword => "Kerberoastable with an old password",
            FindingKind::PasswordNeverExpires => "Password never expires",
            FindingKind::PasswordNotRequired => "Password not required",
            FindingKind::ReversibleEncryption => "Reversible password encryption",
            FindingKind::AsrepRoastable => "Kerberos pre-authentication not required",
            FindingKind::UnconstrainedDelegation => "Unconstrained delegation",
            FindingKind::ConstrainedDelegationProtocolTransition => {
                "Constrained delegation with protocol transition"
            }
            FindingKind::Privileged => "Privileged account",
            FindingKind::DesOnly => "DES-only Kerberos keys",
            FindingKind::NoAes => "No AES Kerberos encryption",
            FindingKind::Stale => "Stale (no recent logon)",
            FindingKind::NeverUsed => "Never used",
            FindingKind::GmsaBroadReaders => "gMSA password readable by a broad group",
        }
    }

    pub fn fix(self) -> &'static str {
        match self {
            FindingKind::KerberoastableOldPassword => "Set a long random password (25+ characters) and rotate it, or move the service to a gMSA.",
            FindingKind::PasswordNeverExpires => "Clear \"password never expires\" and rotate the password on a schedule (or use a gMSA).",
            FindingKind::PasswordNotRequired => "Clear PASSWD_NOTREQD (userAccountControl 0x20) and set a strong password.",
            FindingKind::ReversibleEncryption => "Clear \"store password using reversible encryption\" (0x80) and reset the password.",
            FindingKind::AsrepRoastable => "Clear \"do not require Kerberos preauthentication\" (0x400000).",
            FindingKind::UnconstrainedDelegation => "Replace unconstrained delegation with constrained or resource-based delegation.",
            FindingKind::ConstrainedDelegationProtocolTransition => "Use Kerberos-only constrained delegation (clear 0x1000000) and trim msDS-AllowedToDelegateTo.",
            FindingKind::Privileged => "Remove the account from privileged groups; grant only the rights the service needs.",
            FindingKind::DesOnly => "Clear \"use only DES keys\" (0x200000) where it is set, put AES128/AES256 (0x18) in msDS-SupportedEncryptionTypes and reset the password.",
            FindingKind::NoAes => "Add AES128/AES256 (0x18) to msDS-SupportedEncryptionTypes and reset the password.",
            FindingKind::Stale => "Confirm the owner; disable the account if nothing uses it, delete it later.",
            FindingKind::NeverUsed => "Confirm the owner; disable or delete the account if it is not needed.",
            FindingKind::GmsaBroadReaders => "Limit PrincipalsAllowedToRetrieveManagedPassword to the hosts that run the service.",
        }
    }
}

/// One finding on one account, with the evidence in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: FindingKind,
    pub detail: String,
}

fn days(d: Duration) -> i64 {
    d.whole_days()
}

fn older_than(at: OffsetDateTime, now: OffsetDateTime, limit_days: u32) -> bool {
    now - at > Duration::days(i64::from(limit_days))
}

/// Every finding on one account at `now`.
pub fn evaluate(
    account: &Account,
    settings: &AnalysisSettings,
    now: OffsetDateTime,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut add = |kind, detail: String| out.push(Finding { kind, detail });
    let has_spn = !account.service_principal_names.is_empty();

    // Any domain user can ask for a service ticket of a user with an SPN and crack the
    // password offline; computer-generated (MSA/gMSA) passwords are out of reach.
    if account.kind == AccountKind::User && has_spn {
        match account.password_last_set {
            None => add(
                FindingKind::KerberoastableOldPassword,
                "has an SPN; password age unknown (pwdLastSet is 0 or absent)".into(),
            ),
            Some(at) if older_than(at, now, settings.password_age_days) => add(
                FindingKind::KerberoastableOldPassword,
                format!(
                    "has an SPN; password set {} days ago (limit {})",
                    days(now - at),
                    settings.password_age_days
                ),
            ),
            Some(_) => {}
        }
    }
    if account.has_flag(uac::DONT_EXPIRE_PASSWORD) {
        add(
            FindingKind::PasswordNeverExpires,
            "userAccountControl has DONT_EXPIRE_PASSWORD (0x10000)".into(),
        );
    }
    // MSA/gMSA passwords are generated by the domain controllers; AD (and Samba) create them
    // with PASSWD_NOTREQD like other machine-style accounts, and it means nothing there.
    if account.kind == AccountKind::User && account.has_flag(uac::PASSWD_NOTREQD) {
        add(
            FindingKind::PasswordNotRequired,
            "userAccountControl has PASSWD_NOTREQD (0x20)".into(),
        );
    }
    if account.has_flag(uac::ENCRYPTED_TEXT_PWD_ALLOWED) {
        add(
            FindingKind::ReversibleEncryption,
            "userAccountControl has ENCRYPTED_TEXT_PWD_ALLOWED (0x80)".into(),
        );
    }
    if account.has_flag(uac::DONT_REQ_PREAUTH) {
        add(
            FindingKind::AsrepRoastable,
            "userAccountControl has DONT_REQ_PREAUTH (0x400000)".into(),
        );
    }
    // Domain controllers are trusted for delegation by design.
    if account.has_flag(uac::TRUSTED_FOR_DELEGATION) && !account.has_flag(uac::SERVER_TRUST_ACCOUNT)
    {
        add(
            FindingKind::UnconstrainedDelegation,
            "userAccountControl has TRUSTED_FOR_DELEGATION (0x80000)".into(),
        );
    }
    if account.has_flag(uac::TRUSTED_TO_AUTH_FOR_DELEGATION)
        && !account.allowed_to_delegate_to.is_empty()
    {
        add(
            FindingKind::ConstrainedDelegationProtocolTransition,
            format!(
                "TRUSTED_TO_AUTH_FOR_DELEGATION (0x1000000) to {}",
                account.allowed_to_delegate_to.join(", ")
            ),
        );
    }
    if account.admin_count || !account.privileged_groups.is_empty() {
        let mut why = Vec::new();
        if !account.privileged_groups.is_empty() {
            why.push(format!(
                "member of {}",
                account.privileged_groups.join(", ")
            ));
        }
        if account.admin_count {
            why.push("adminCount=1".to_owned());
        }
        add(FindingKind::Privileged, why.join("; "));
    }
    if has_spn {
        // DES-only is one finding whichever way it is set: by the flag, by an encryption-types
        // mask that allows only DES, or both (then both are named). A mask without AES that
        // also allows RC4 is "no AES"; with the DES flag as well, the account has both.
        let types = account.supported_encryption_types;
        let encryption = TicketEncryption::of(types);
        let mut des = Vec::new();
        if account.has_flag(uac::USE_DES_KEY_ONLY) {
            des.push("USE_DES_KEY_ONLY (0x200000)".to_owned());
        }
        if let (TicketEncryption::DesOnly, Some(t)) = (encryption, types) {
            des.push(format!(
                "msDS-SupportedEncryptionTypes 0x{t:x}: DES only (0x1/0x2), no RC4 or AES"
            ));
        }
        if !des.is_empty() {
            add(
                FindingKind::DesOnly,
                format!("has an SPN and {}", des.join("; ")),
            );
        }
        if let (TicketEncryption::NoAes, Some(t)) = (encryption, types) {
            add(
                FindingKind::NoAes,
                format!(
                    "has an SPN; msDS-SupportedEncryptionTypes is 0x{t:x} (no AES bit 0x8/0x10)"
                ),
            );
        }
    }
    match (account.last_logon_timestamp, account.when_created) {
        (Some(at), _) if older_than(at, now, settings.stale_days) => add(
            FindingKind::Stale,
            format!(
                "last logon {} days ago (limit {})",
                days(now - at),
                settings.stale_days
            ),
        ),
        (None, Some(created)) if older_than(created, now, settings.stale_days) => add(
            FindingKind::NeverUsed,
            format!(
                "no logon recorded since creation {} days ago",
                days(now - created)
            ),
        ),
        _ => {}
    }
    if account.kind == AccountKind::Gmsa {
        let broad: Vec<&str> = account
            .gmsa_password_readers
            .iter()
            .filter_map(broad_group)
            .collect();
        if !broad.is_empty() {
            add(
                FindingKind::GmsaBroadReaders,
                format!("password readable by {}", broad.join(", ")),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);

    fn ids(a: &Account) -> Vec<&'static str> {
        evaluate(a, &AnalysisSettings::defaults(), NOW)
            .iter()
            .map(|f| f.kind.id())
            .collect()
    }

    /// A service account with nothing wrong: recent password and logon, AES.
    fn clean(kind: AccountKind) -> Account {
        let mut a = Account::new("svc-x", kind);
        a.password_last_set = Some(NOW - Duration::days(10));
        a.last_logon_timestamp = Some(NOW - Duration::days(1));
        a.when_created = Some(NOW - Duration::days(1000));
        a
    }

    #[test]
    fn a_clean_account_has_no_findings() {
        assert!(ids(&clean(AccountKind::User)).is_empty());
        let mut spn = clean(AccountKind::User);
        spn.service_principal_names = vec!["HTTP/a".into()];
        spn.supported_encryption_types = Some(0x18);
        assert!(ids(&spn).is_empty());
    }

    #[test]
    fn each_user_account_control_flag_gives_exactly_its_finding() {
        for (flag, id) in [
            (uac::DONT_EXPIRE_PASSWORD, "password-never-expires"),
            (uac::PASSWD_NOTREQD, "password-not-required"),
            (uac::ENCRYPTED_TEXT_PWD_ALLOWED, "reversible-encryption"),
            (uac::DONT_REQ_PREAUTH, "asrep-roastable"),
            (uac::TRUSTED_FOR_DELEGATION, "unconstrained-delegation"),
        ] {
            let mut a = clean(AccountKind::User);
            a.user_account_control |= flag;
            assert_eq!(ids(&a), [id], "flag 0x{flag:x}");
        }
        // Managed accounts come with PASSWD_NOTREQD; their password is the DCs' to make.
        let mut g = clean(AccountKind::Gmsa);
        g.user_account_control = uac::WORKSTATION_TRUST_ACCOUNT | uac::PASSWD_NOTREQD;
        assert!(ids(&g).is_empty());
        // A domain controller's delegation is not a finding.
        let mut dc = clean(AccountKind::User);
        dc.user_account_control = uac::SERVER_TRUST_ACCOUNT | uac::TRUSTED_FOR_DELEGATION;
        assert!(ids(&dc).is_empty());
    }

    #[test]
    fn protocol_transition_needs_targets() {
        let mut a = clean(AccountKind::User);
        a.user_account_control |= uac::TRUSTED_TO_AUTH_FOR_DELEGATION;
        assert!(ids(&a).is_empty());
        a.allowed_to_delegate_to = vec!["cifs/fs1".into()];
        assert_eq!(ids(&a), ["constrained-delegation-protocol-transition"]);
    }

    #[test]
    fn kerberoasting_depends_on_the_password_age_and_the_object_kind() {
        let mut a = clean(AccountKind::User);
        a.service_principal_names = vec!["MSSQLSvc/db1:1433".into()];
        a.password_last_set = Some(NOW - Duration::days(365));
        assert!(ids(&a).is_empty(), "exactly the limit is not older");
        a.password_last_set = Some(NOW - Duration::days(365) - Duration::seconds(1));
        assert_eq!(ids(&a), ["kerberoastable-old-password"]);
        a.password_last_set = None;
        assert_eq!(ids(&a), ["kerberoastable-old-password"]);
        let mut g = clean(AccountKind::Gmsa);
        g.service_principal_names = vec!["HTTP/app".into()];
        g.password_last_set = Some(NOW - Duration::days(900));
        assert!(ids(&g).is_empty(), "a gMSA password cannot be cracked");
    }

    #[test]
    fn weak_encryption_counts_only_on_spn_accounts() {
        let mut a = clean(AccountKind::User);
        a.user_account_control |= uac::USE_DES_KEY_ONLY;
        a.supported_encryption_types = Some(0x4);
        assert!(ids(&a).is_empty());
        a.service_principal_names = vec!["HTTP/x".into()];
        assert_eq!(ids(&a), ["des-only", "no-aes"]);
        a.user_account_control &= !uac::USE_DES_KEY_ONLY;
        a.supported_encryption_types = Some(0x4 | 0x10);
        assert!(ids(&a).is_empty());
    }

    #[test]
    fn an_encryption_types_mask_of_only_des_is_des_only_not_no_aes() {
        // [MS-KILE] 2.2.7: 0x1 DES-CBC-CRC, 0x2 DES-CBC-MD5, 0x4 RC4, 0x8 AES128, 0x10 AES256;
        // 0x20 and up are not ticket types (0x20 here: AES session keys only).
        let spn = |mask: u32, flags: u32| {
            let mut a = clean(AccountKind::User);
            a.service_principal_names = vec!["HTTP/x".into()];
            a.supported_encryption_types = Some(mask);
            a.user_account_control |= flags;
            ids(&a)
        };
        let none: [&str; 0] = [];
        for (mask, want) in [
            (0x0, &none[..]),
            (0x1, &["des-only"][..]),
            (0x2, &["des-only"]),
            (0x3, &["des-only"]),
            (0x3 | 0x20, &["des-only"]),
            (0x4, &["no-aes"]),
            (0x5, &["no-aes"]),
            (0x7, &["no-aes"]),
            (0x20, &["no-aes"]),
            (0x8, &none),
            (0x10, &none),
            (0x18, &none),
            (0x1c, &none),
            (0x1f, &none),
            (0x3 | 0x10, &none),
        ] {
            assert_eq!(spn(mask, 0), want, "mask 0x{mask:x}");
        }
        // The flag and the mask together: one finding, naming both.
        let mut a = clean(AccountKind::User);
        a.service_principal_names = vec!["HTTP/x".into()];
        a.supported_encryption_types = Some(0x2);
        a.user_account_control |= uac::USE_DES_KEY_ONLY;
        let f = evaluate(&a, &AnalysisSettings::defaults(), NOW);
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].detail,
            "has an SPN and USE_DES_KEY_ONLY (0x200000); msDS-SupportedEncryptionTypes 0x2: DES only (0x1/0x2), no RC4 or AES"
        );
        assert_eq!(f[0].kind.severity(), Severity::Medium);
        // Without an SPN no ticket is made for the account: nothing to find.
        a.service_principal_names.clear();
        assert!(ids(&a).is_empty());
        // Unset is the domain's default, as is 0.
        assert_eq!(TicketEncryption::of(None), TicketEncryption::DomainDefault);
        assert_eq!(
            TicketEncryption::of(Some(0)),
            TicketEncryption::DomainDefault
        );
    }

    #[test]
    fn privileged_by_admin_count_or_groups() {
        let mut a = clean(AccountKind::User);
        a.admin_count = true;
        assert_eq!(ids(&a), ["privileged"]);
        let mut b = clean(AccountKind::User);
        b.privileged_groups = vec!["Backup Operators".into()];
        let f = evaluate(&b, &AnalysisSettings::defaults(), NOW);
        assert_eq!(f[0].detail, "member of Backup Operators");
    }

    #[test]
    fn stale_and_never_used_follow_the_threshold() {
        let mut a = clean(AccountKind::User);
        a.last_logon_timestamp = Some(NOW - Duration::days(91));
        assert_eq!(ids(&a), ["stale"]);
        a.last_logon_timestamp = None;
        assert_eq!(ids(&a), ["never-used"]);
        a.when_created = Some(NOW - Duration::days(5));
        assert!(ids(&a).is_empty(), "a new account is not yet unused");
    }

    #[test]
    fn gmsa_with_domain_users_as_readers() {
        let mut g = clean(AccountKind::Gmsa);
        g.gmsa_password_readers = vec!["S-1-5-21-1-2-3-1105".parse().unwrap()];
        assert!(ids(&g).is_empty());
        g.gmsa_password_readers
            .push("S-1-5-21-1-2-3-513".parse().unwrap());
        assert_eq!(ids(&g), ["gmsa-broad-readers"]);
    }
}

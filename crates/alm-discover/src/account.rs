//! What the analysis knows about an account and a computer, in plain types.
//!
//! Filled by `directory_reader` from LDAP, or by hand in tests; no I/O here. Instants are
//! UTC; an attribute that was absent (or AD's "never" value) is `None`.

use alm_directory::security_descriptor::Sid;
use time::OffsetDateTime;

/// The object classes the analysis tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AccountKind {
    /// A user object (`objectCategory=person`, `objectClass=user`).
    User,
    /// A standalone managed service account (`msDS-ManagedServiceAccount`).
    Msa,
    /// A group managed service account (`msDS-GroupManagedServiceAccount`).
    Gmsa,
}

impl AccountKind {
    pub fn label(self) -> &'static str {
        match self {
            AccountKind::User => "user",
            AccountKind::Msa => "msa",
            AccountKind::Gmsa => "gmsa",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub dn: String,
    pub sam_account_name: String,
    pub kind: AccountKind,
    pub description: Option<String>,
    /// `userAccountControl` as stored ([MS-ADTS] 2.2.16).
    pub user_account_control: u32,
    /// `msDS-User-Account-Control-Computed`: the lockout and password-expired bits, which
    /// AD does not keep current in `userAccountControl`.
    pub uac_computed: u32,
    pub service_principal_names: Vec<String>,
    pub allowed_to_delegate_to: Vec<String>,
    /// `None`: never set, or 0 ("must change at next logon": the real age is unknown).
    pub password_last_set: Option<OffsetDateTime>,
    /// Replicated last logon, updated every 9–14 days by AD: good enough for "stale".
    pub last_logon_timestamp: Option<OffsetDateTime>,
    pub when_created: Option<OffsetDateTime>,
    pub admin_count: bool,
    /// `msDS-SupportedEncryptionTypes`; `None` when the attribute is not set.
    pub supported_encryption_types: Option<u32>,
    /// `userWorkstations`: the machines the account may log on at, when restricted.
    pub user_workstations: Option<String>,
    /// The privileged groups the account belongs to, directly or through nesting, by name.
    pub privileged_groups: Vec<String>,
    /// For a gMSA: who may read the managed password (`msDS-GroupMSAMembership` DACL).
    pub gmsa_password_readers: Vec<Sid>,
    /// The objectGUID, lowercase hyphenated (what an alm server keys accounts by).
    pub object_guid: Option<String>,
    /// The objectSid (`S-1-5-21-…`).
    pub sid: Option<String>,
    /// `msDS-KrbTgtLinkBl` is set: a read-only DC names this account as its krbtgt.
    pub rodc_krbtgt_link: bool,
}

impl Account {
    /// An enabled user with nothing set: the base tests build on.
    pub fn new(sam_account_name: &str, kind: AccountKind) -> Self {
        Self {
            dn: format!("CN={sam_account_name},OU=Test,DC=example,DC=test"),
            sam_account_name: sam_account_name.to_owned(),
            kind,
            description: None,
            user_account_control: alm_directory::uac::NORMAL_ACCOUNT,
            uac_computed: 0,
            service_principal_names: Vec::new(),
            allowed_to_delegate_to: Vec::new(),
            password_last_set: None,
            last_logon_timestamp: None,
            when_created: None,
            admin_count: false,
            supported_encryption_types: None,
            user_workstations: None,
            privileged_groups: Vec::new(),
            gmsa_password_readers: Vec::new(),
            object_guid: None,
            sid: None,
            rodc_krbtgt_link: false,
        }
    }

    pub fn enabled(&self) -> bool {
        alm_directory::uac::is_enabled(self.user_account_control)
    }

    pub fn has_flag(&self, flag: u32) -> bool {
        self.user_account_control & flag != 0
    }
}

/// A computer in scope: a host the host scan may visit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Computer {
    pub dn: String,
    /// `sAMAccountName` without the trailing `$`.
    pub name: String,
    pub dns_host_name: Option<String>,
    pub enabled: bool,
    /// A domain controller (SERVER_TRUST_ACCOUNT).
    pub domain_controller: bool,
}

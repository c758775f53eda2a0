//! What alm reads from and writes to a directory, in alm's terms.

use crate::security_descriptor::Sid;
use alm_core::filetime::AccountExpires;
use alm_core::Secret;
use std::collections::BTreeMap;

/// What kind of object an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    User,
    /// A group managed service account (`msDS-GroupManagedServiceAccount`).
    Gmsa,
    /// A standalone managed service account (`msDS-ManagedServiceAccount`).
    Msa,
    Computer,
    Group,
    OrganizationalUnit,
    Other,
}

/// An account as the directory holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct DirectoryEntry {
    pub dn: String,
    pub guid: uuid::Uuid,
    pub kind: EntryKind,
    pub sam_account_name: String,
    pub user_principal_name: Option<String>,
    pub description: Option<String>,
    pub user_account_control: u32,
    pub account_expires: AccountExpires,
    pub usn_changed: i64,
    pub sid: Option<Sid>,
    /// Every other attribute that was read, by lowercased name (text values only).
    pub attributes: BTreeMap<String, Vec<String>>,
}

impl DirectoryEntry {
    pub fn enabled(&self) -> bool {
        crate::uac::is_enabled(self.user_account_control)
    }

    /// The first value of an attribute (names are case-insensitive).
    pub fn first(&self, name: &str) -> Option<&str> {
        self.attributes
            .get(&name.to_ascii_lowercase())
            .and_then(|v| v.first())
            .map(String::as_str)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct GroupEntry {
    pub dn: String,
    pub guid: uuid::Uuid,
    pub sam_account_name: String,
    pub sid: Option<Sid>,
    /// Members' DNs.
    pub members: Vec<String>,
    pub usn_changed: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OuEntry {
    pub dn: String,
    pub guid: uuid::Uuid,
    pub name: String,
    pub usn_changed: i64,
}

/// A user account to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// The OU (or container) DN to create it in.
    pub parent_dn: String,
    /// Also the CN of the new object.
    pub sam_account_name: String,
    pub user_principal_name: String,
    pub description: Option<String>,
    /// Extra attributes (name → values), e.g. `department`, `servicePrincipalName`.
    pub attributes: Vec<(String, Vec<String>)>,
    pub password: Secret,
    pub enabled: bool,
    pub account_expires: AccountExpires,
}

/// Kerberos encryption for a gMSA (SPEC §2.4: one of None, DES, RC4, AES128, AES256).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KerberosEncryption {
    None,
    Des,
    Rc4,
    Aes128,
    Aes256,
}

impl KerberosEncryption {
    /// The `msDS-SupportedEncryptionTypes` bits, or `None` to leave the attribute unset.
    pub fn supported_types(self) -> Option<u32> {
        match self {
            KerberosEncryption::None => None,
            KerberosEncryption::Des => Some(0x1 | 0x2),
            KerberosEncryption::Rc4 => Some(0x4),
            KerberosEncryption::Aes128 => Some(0x8),
            KerberosEncryption::Aes256 => Some(0x10),
        }
    }
}

/// A group managed service account to create.
#[derive(Debug, Clone)]
pub struct NewGmsa {
    /// The container, usually `CN=Managed Service Accounts,<base DN>`.
    pub parent_dn: String,
    /// Without the trailing `$` (at most 15 characters); alm adds it.
    pub name: String,
    pub dns_host_name: String,
    pub service_principal_names: Vec<String>,
    pub encryption: KerberosEncryption,
    /// Who may retrieve the managed password.
    pub password_readers: Vec<Sid>,
    /// Days between password changes (Active Directory's default is 30).
    pub password_interval_days: u32,
    pub description: Option<String>,
}

/// What changed since an update sequence number.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangeSet {
    pub users: Vec<DirectoryEntry>,
    pub groups: Vec<GroupEntry>,
    pub organizational_units: Vec<OuEntry>,
    /// The highest `uSNChanged` among the changes (or the start when nothing changed).
    pub highest_usn: i64,
    /// The `objectGUID` of every object deleted since (their tombstones, read with the
    /// show-deleted control): an incremental sync sees deletions, not only changes.
    pub deleted: Vec<uuid::Uuid>,
}

/// Any directory object as read, for tools that need attributes alm's own types do not carry
/// (the discovery tool). Attribute names are lowercased; a value that is not UTF-8 is kept
/// only among the bytes, a UTF-8 one among both (binary values can happen to be UTF-8).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawEntry {
    pub dn: String,
    pub text: BTreeMap<String, Vec<String>>,
    pub bytes: BTreeMap<String, Vec<Vec<u8>>>,
}

impl RawEntry {
    /// The first text value of an attribute (names are case-insensitive).
    pub fn first(&self, name: &str) -> Option<&str> {
        self.text
            .get(&name.to_ascii_lowercase())
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    /// Every text value of an attribute.
    pub fn all(&self, name: &str) -> &[String] {
        self.text
            .get(&name.to_ascii_lowercase())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The raw bytes of every value of an attribute.
    pub fn raw(&self, name: &str) -> Vec<Vec<u8>> {
        let key = name.to_ascii_lowercase();
        if let Some(v) = self.bytes.get(&key) {
            return v.clone();
        }
        self.all(name)
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect()
    }
}

/// How deep a raw search looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchScope {
    /// The base object only (e.g. the root DSE at `""`).
    Base,
    /// The base and everything under it, paged.
    Subtree,
}

//! alm-directory: the `Directory` trait and its Active Directory implementation over LDAPS.
//!
//! The trait speaks alm's language (accounts, groups, OUs, expiry instants), not LDAP's, so
//! Azure AD (Microsoft Graph) can implement it later (ROADMAP 3). Filters and DNs are built
//! with RFC 4515 / RFC 4514 escaping only; passwords live in `Secret`s that are never
//! formatted into logs or errors.

pub mod active_directory;
pub mod config;
pub mod dc_discovery;
pub mod entry;
pub mod error;
pub mod password;
pub mod password_change_acl;
pub mod security_descriptor;
pub mod uac;

pub use active_directory::ActiveDirectory;
/// Passwords in memory; defined in core so directories and vaults share one type.
pub use alm_core::Secret;
pub use config::DirectoryConfig;
pub use entry::{
    ChangeSet, DirectoryEntry, EntryKind, GroupEntry, KerberosEncryption, NewGmsa, NewUser,
    OuEntry, RawEntry, SearchScope,
};
pub use error::{DirectoryError, DirectoryResult};

use alm_core::filetime::AccountExpires;
use async_trait::async_trait;

/// How to find one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Guid(uuid::Uuid),
    SamAccountName(String),
}

/// A directory alm governs accounts in. Every method is one round of work against the
/// directory; none of them retries (the job queue does).
#[async_trait]
pub trait Directory: Send + Sync {
    /// Binds with the configured identity: proves the way, the certificate and the credentials.
    async fn check(&self) -> DirectoryResult<()>;
    /// Creates a user account; returns it as stored.
    async fn create_user(&self, user: &NewUser) -> DirectoryResult<DirectoryEntry>;
    /// Creates a group managed service account.
    async fn create_gmsa(&self, gmsa: &NewGmsa) -> DirectoryResult<DirectoryEntry>;
    /// Sets a new password on an account.
    async fn set_password(&self, dn: &str, password: &Secret) -> DirectoryResult<()>;
    /// Denies the account the right to change its own password (deny ACEs for Everyone and
    /// SELF); true when the DACL changed, false when the ACEs were there already.
    async fn deny_password_change(&self, dn: &str) -> DirectoryResult<bool>;
    /// Enables or disables the account (userAccountControl ACCOUNTDISABLE).
    async fn set_enabled(&self, dn: &str, enabled: bool) -> DirectoryResult<()>;
    /// Writes `accountExpires` exactly (SPEC §4.3).
    async fn set_account_expires(&self, dn: &str, expires: AccountExpires) -> DirectoryResult<()>;
    /// Moves the object under another OU; returns its new DN.
    async fn move_to(&self, dn: &str, new_parent_dn: &str) -> DirectoryResult<String>;
    /// Deletes the object.
    async fn delete(&self, dn: &str) -> DirectoryResult<()>;
    /// Reads one account, or `None` when no object matches.
    async fn find(&self, lookup: &Lookup) -> DirectoryResult<Option<DirectoryEntry>>;
    /// Every user account under `base_dn` (the whole domain when `None`), paged.
    async fn users(&self, base_dn: Option<&str>) -> DirectoryResult<Vec<DirectoryEntry>>;
    /// Every group under `base_dn`, with its members' DNs, paged.
    async fn groups(&self, base_dn: Option<&str>) -> DirectoryResult<Vec<GroupEntry>>;
    /// Every organisational unit under `base_dn`, paged.
    async fn organizational_units(&self, base_dn: Option<&str>) -> DirectoryResult<Vec<OuEntry>>;
    /// The directory's current highest update sequence number (the start of an incremental sync).
    async fn highest_usn(&self) -> DirectoryResult<i64>;
    /// The attribute names of the directory's schema (what templates may set).
    async fn attribute_names(&self) -> DirectoryResult<Vec<String>>;
    /// Users, groups and OUs changed at or after `usn`.
    async fn changes_since(&self, usn: i64) -> DirectoryResult<ChangeSet>;
}

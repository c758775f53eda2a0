//! What the last syncs saw of a managed account outside alm (SPEC §6.1, §7.6): its object in
//! the directory and its secret in the vault, and the rule that decides the directory state.

use crate::lifecycle::Status;

crate::text_enum! {
    /// The account's directory object as the last domain sync saw it.
    pub enum DirectoryState {
        Present = "present",
        /// Disabled in the directory while alm holds it active.
        DisabledInDirectory = "disabled-in-directory",
        Missing = "missing",
    }
}

crate::text_enum! {
    /// The account's secret as the last vault sync saw it.
    pub enum SecretState {
        Present = "present",
        Missing = "missing",
        /// The account has no secret to keep (a gMSA, or an imported account).
        None = "none",
    }
}

/// The directory state after a sync that found the object (`Some(enabled)`) or did not.
/// An object disabled in the directory counts only while alm believes the account active:
/// an account alm disabled or expired is disabled there on purpose.
pub fn directory_state_after_sync(object: Option<bool>, status: Status) -> DirectoryState {
    match object {
        None => DirectoryState::Missing,
        Some(false) if status == Status::Active => DirectoryState::DisabledInDirectory,
        Some(_) => DirectoryState::Present,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_object_is_missing_whatever_alm_thinks() {
        for s in [Status::Active, Status::Disabled, Status::Expired] {
            assert_eq!(directory_state_after_sync(None, s), DirectoryState::Missing);
        }
    }

    #[test]
    fn a_disabled_object_matters_only_for_an_active_account() {
        assert_eq!(
            directory_state_after_sync(Some(false), Status::Active),
            DirectoryState::DisabledInDirectory
        );
        assert_eq!(
            directory_state_after_sync(Some(false), Status::Disabled),
            DirectoryState::Present
        );
        assert_eq!(
            directory_state_after_sync(Some(true), Status::Active),
            DirectoryState::Present
        );
    }
}

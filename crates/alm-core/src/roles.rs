//! The built-in roles and the built-in group (SPEC §2.2, §2.3): what first start creates.
//!
//! Built-in roles keep their key forever; their permissions are editable, they are not
//! deletable. The Everyone group contains every user, carries Account Owner, and can be
//! neither deleted nor disabled.

use crate::permissions::{Feature, Permission, Right};

/// The key of the built-in group that contains every user.
pub const EVERYONE_GROUP_KEY: &str = "everyone";
pub const EVERYONE_GROUP_NAME: &str = "Everyone";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltinRole {
    AccountOwner,
    Requester,
    Approver,
    SystemAdministrator,
}

impl BuiltinRole {
    pub const ALL: [BuiltinRole; 4] = [
        Self::AccountOwner,
        Self::Requester,
        Self::Approver,
        Self::SystemAdministrator,
    ];

    /// The stable key stored with the role; names may be edited, keys never.
    pub fn key(self) -> &'static str {
        match self {
            Self::AccountOwner => "account-owner",
            Self::Requester => "requester",
            Self::Approver => "approver",
            Self::SystemAdministrator => "system-administrator",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.key() == key)
    }

    pub fn display_name(self) -> &'static str {
        match self {
            Self::AccountOwner => "Account Owner",
            Self::Requester => "Requester",
            Self::Approver => "Approver",
            Self::SystemAdministrator => "System Administrator",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Self::AccountOwner => "Reads and maintains the managed accounts the user owns.",
            Self::Requester => "Requests service accounts through published workflow templates.",
            Self::Approver => "Approves or denies requests at the steps that list the user.",
            Self::SystemAdministrator => "Every permission, on every object.",
        }
    }

    /// The permissions the role starts with.
    pub fn default_permissions(self) -> Vec<Permission> {
        use Feature::*;
        use Right::*;
        let p = Permission::new;
        match self {
            Self::AccountOwner => vec![p(ManagedAccount, Read), p(ManagedAccount, Update)],
            Self::Requester => vec![
                p(ProvisionRequest, Create),
                p(ProvisionRequest, Read),
                p(ProvisionRequest, Update),
                p(ProvisionRequest, Delete),
                p(ProvisionTemplate, Read),
            ],
            Self::Approver => vec![p(ProvisionApproval, Read), p(ProvisionApproval, Update)],
            Self::SystemAdministrator => Permission::all().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_keys_round_trip_and_admin_has_everything() {
        for r in BuiltinRole::ALL {
            assert_eq!(BuiltinRole::from_key(r.key()), Some(r));
        }
        let admin = BuiltinRole::SystemAdministrator.default_permissions();
        assert_eq!(admin.len(), 90);
        assert!(admin.contains(&Permission::new(Feature::Audit, Right::Manage)));
        assert!(!BuiltinRole::AccountOwner
            .default_permissions()
            .contains(&Permission::new(Feature::ApiToken, Right::Create)));
    }
}

//! Permissions, scopes and capabilities (SPEC §2.3).
//!
//! A permission is a (feature, right) pair. `manage` widens the scope of the matching
//! non-manage right from "mine" to "all" and unlocks administrative actions; alone it grants
//! nothing. A check succeeds by handing out a capability value [`Can<P>`] that services
//! require as an argument, so a service cannot be called without the check having happened
//! (STYLE.md habit 3). Nothing else in alm constructs a `Can`.

use crate::ids::UserId;
use crate::validation::FieldError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub enum $name { $(#[serde(rename = $text)] #[cfg_attr(feature = "openapi", schema(rename = $text))] $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                match s { $($text => Ok($name::$variant),)+ _ => Err(()) }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

string_enum!(
    /// The features permissions are given on (SPEC §2.3).
    Feature {
        ApiToken = "api-token",
        Audit = "audit",
        Configuration = "configuration",
        DirectoryService = "directory-service",
        EmailNotification = "email-notification",
        Engine = "engine",
        Group = "group",
        ManagedAccount = "managed-account",
        ProvisionRequest = "provision-request",
        ProvisionApproval = "provision-approval",
        ProvisionTemplate = "provision-template",
        ProvisionTemplateWorkflow = "provision-template-workflow",
        Role = "role",
        User = "user",
        Vault = "vault",
        Webhook = "webhook",
        Siem = "siem",
        ApiClient = "api-client",
    }
);

string_enum!(
    /// What a permission allows on its feature.
    Right { Create = "create", Read = "read", Update = "update", Delete = "delete", Manage = "manage" }
);

/// One (feature, right) pair; written `feature:right`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Permission {
    pub feature: Feature,
    pub right: Right,
}

impl Permission {
    pub const fn new(feature: Feature, right: Right) -> Self {
        Self { feature, right }
    }

    /// Parses `feature:right`, naming `field` on error.
    pub fn parse(field: &str, input: &str) -> Result<Self, FieldError> {
        let (f, r) = input.split_once(':').ok_or_else(|| {
            FieldError::new(field, "format", "expected feature:right, e.g. audit:read")
        })?;
        let feature = f.parse::<Feature>().map_err(|_| {
            let all: Vec<_> = Feature::ALL.iter().map(|f| f.as_str()).collect();
            FieldError::new(
                field,
                "one-of",
                format!("unknown feature {f:?}; expected one of {}", all.join(", ")),
            )
        })?;
        let right = r.parse::<Right>().map_err(|_| {
            FieldError::new(
                field,
                "one-of",
                format!("unknown right {r:?}; expected create, read, update, delete or manage"),
            )
        })?;
        Ok(Self { feature, right })
    }

    /// Every permission there is (the System Administrator's set).
    pub fn all() -> impl Iterator<Item = Permission> {
        Feature::ALL
            .iter()
            .flat_map(|f| Right::ALL.iter().map(move |r| Permission::new(*f, *r)))
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.feature, self.right)
    }
}

/// How far a granted right reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The actor's own objects only (their requests, accounts they own, themselves).
    Own,
    /// Every object of the feature (the matching `manage` right is held).
    All,
}

/// A permission check that failed: which permission was missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Denied {
    pub needed: Permission,
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the permission {} is required", self.needed)
    }
}

/// Ties a marker type to the permission it stands for.
pub trait PermissionMarker {
    const PERMISSION: Permission;
}

/// Proof that `actor` holds permission `P`, with the scope it reaches.
/// Only [`EffectivePermissions::authorize`] makes one.
#[derive(Debug)]
pub struct Can<P: PermissionMarker> {
    actor: UserId,
    scope: Scope,
    _marker: PhantomData<fn() -> P>,
}

impl<P: PermissionMarker> Can<P> {
    pub fn actor(&self) -> UserId {
        self.actor
    }

    pub fn scope(&self) -> Scope {
        self.scope
    }

    /// For actions reserved to holders of the feature's `manage` right.
    pub fn require_manage(&self) -> Result<(), Denied> {
        match self.scope {
            Scope::All => Ok(()),
            Scope::Own => Err(Denied {
                needed: Permission::new(P::PERMISSION.feature, Right::Manage),
            }),
        }
    }

    /// Whether this capability reaches an object owned by `owner`.
    pub fn reaches(&self, owner: UserId) -> bool {
        self.scope == Scope::All || self.actor == owner
    }
}

/// The permissions a user holds right now: direct roles plus roles of enabled groups,
/// disabled roles ignored. Computed by the store, judged here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EffectivePermissions {
    set: BTreeSet<Permission>,
}

impl EffectivePermissions {
    pub fn new(perms: impl IntoIterator<Item = Permission>) -> Self {
        Self {
            set: perms.into_iter().collect(),
        }
    }

    pub fn has(&self, p: Permission) -> bool {
        self.set.contains(&p)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Permission> {
        self.set.iter()
    }

    /// Checks `P` for `actor` and hands out the capability. `manage` alone never passes:
    /// it only widens a right the actor already holds.
    pub fn authorize<P: PermissionMarker>(&self, actor: UserId) -> Result<Can<P>, Denied> {
        let needed = P::PERMISSION;
        if !self.has(needed) {
            return Err(Denied { needed });
        }
        let scope = if self.has(Permission::new(needed.feature, Right::Manage)) {
            Scope::All
        } else {
            Scope::Own
        };
        Ok(Can {
            actor,
            scope,
            _marker: PhantomData,
        })
    }
}

/// A capability for alm's own scheduled work (the system actor), never for a request: the
/// scheduler runs syncs and sweeps with it. Scope: everything.
pub fn system_capability<P: PermissionMarker>() -> Can<P> {
    Can {
        actor: UserId(uuid::Uuid::nil()),
        scope: Scope::All,
        _marker: PhantomData,
    }
}

macro_rules! markers {
    ($($name:ident = $feature:ident : $right:ident),+ $(,)?) => {
        /// Marker types for [`Can`], one per permission a service can require.
        pub mod perm {
            use super::*;
            $(
                #[derive(Debug)]
                pub struct $name;
                impl PermissionMarker for $name {
                    const PERMISSION: Permission = Permission::new(Feature::$feature, Right::$right);
                }
            )+
        }
    };
}

markers!(
    UserCreate = User: Create,
    UserRead = User: Read,
    UserUpdate = User: Update,
    UserDelete = User: Delete,
    GroupCreate = Group: Create,
    GroupRead = Group: Read,
    GroupUpdate = Group: Update,
    GroupDelete = Group: Delete,
    RoleCreate = Role: Create,
    RoleRead = Role: Read,
    RoleUpdate = Role: Update,
    RoleDelete = Role: Delete,
    ApiTokenCreate = ApiToken: Create,
    ApiTokenRead = ApiToken: Read,
    ApiTokenDelete = ApiToken: Delete,
    ApiClientCreate = ApiClient: Create,
    ApiClientRead = ApiClient: Read,
    ApiClientDelete = ApiClient: Delete,
    AuditRead = Audit: Read,
    DomainCreate = DirectoryService: Create,
    DomainRead = DirectoryService: Read,
    DomainUpdate = DirectoryService: Update,
    DomainDelete = DirectoryService: Delete,
    VaultCreate = Vault: Create,
    VaultRead = Vault: Read,
    VaultUpdate = Vault: Update,
    VaultDelete = Vault: Delete,
    EngineCreate = Engine: Create,
    EngineRead = Engine: Read,
    EngineUpdate = Engine: Update,
    EngineDelete = Engine: Delete,
    ConfigurationRead = Configuration: Read,
    TemplateCreate = ProvisionTemplate: Create,
    TemplateRead = ProvisionTemplate: Read,
    TemplateUpdate = ProvisionTemplate: Update,
    TemplateDelete = ProvisionTemplate: Delete,
    RequestCreate = ProvisionRequest: Create,
    RequestRead = ProvisionRequest: Read,
    RequestUpdate = ProvisionRequest: Update,
    RequestDelete = ProvisionRequest: Delete,
    ApprovalRead = ProvisionApproval: Read,
    ApprovalUpdate = ProvisionApproval: Update,
    AccountRead = ManagedAccount: Read,
    AccountUpdate = ManagedAccount: Update,
    NotificationRead = EmailNotification: Read,
    NotificationUpdate = EmailNotification: Update,
    WebhookCreate = Webhook: Create,
    WebhookRead = Webhook: Read,
    WebhookUpdate = Webhook: Update,
    WebhookDelete = Webhook: Delete,
    SiemCreate = Siem: Create,
    SiemRead = Siem: Read,
    SiemUpdate = Siem: Update,
    SiemDelete = Siem: Delete,
);

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn actor() -> UserId {
        UserId(Uuid::nil())
    }

    #[test]
    fn manage_widens_scope_but_grants_nothing_alone() {
        let only_manage =
            EffectivePermissions::new([Permission::new(Feature::User, Right::Manage)]);
        assert_eq!(
            only_manage
                .authorize::<perm::UserRead>(actor())
                .unwrap_err()
                .needed,
            Permission::new(Feature::User, Right::Read)
        );
        let read = EffectivePermissions::new([Permission::new(Feature::User, Right::Read)]);
        let can = read.authorize::<perm::UserRead>(actor()).unwrap();
        assert_eq!(can.scope(), Scope::Own);
        assert!(can.require_manage().is_err());
        let both = EffectivePermissions::new([
            Permission::new(Feature::User, Right::Read),
            Permission::new(Feature::User, Right::Manage),
        ]);
        assert_eq!(
            both.authorize::<perm::UserRead>(actor()).unwrap().scope(),
            Scope::All
        );
    }

    #[test]
    fn permissions_parse_from_text_naming_the_field() {
        assert_eq!(
            Permission::parse("p", "provision-template-workflow:manage").unwrap(),
            Permission::new(Feature::ProvisionTemplateWorkflow, Right::Manage)
        );
        assert_eq!(Permission::parse("p", "audit").unwrap_err().rule, "format");
        assert_eq!(
            Permission::parse("perms[1]", "audits:read")
                .unwrap_err()
                .field,
            "perms[1]"
        );
        assert_eq!(
            Permission::parse("p", "audit:write").unwrap_err().rule,
            "one-of"
        );
        assert_eq!(Permission::all().count(), 18 * 5);
    }
}

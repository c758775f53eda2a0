//! Use cases: one function per thing a person or script can do. Each takes the capability
//! proving the caller may do it, validates input with core types, runs one transaction that
//! holds the change and its audit record, and returns plain data. No HTTP here, so the future
//! web UI calls the very same functions (ARCHITECTURE.md).

pub mod api_tokens;
pub mod audit;
pub mod bootstrap;
pub mod domain_sync;
pub mod domains;
pub mod groups;
pub mod login;
pub mod roles;
pub mod scheduled_sync;
pub mod user_sync;
pub mod users;
pub mod vaults;

use alm_core::permissions::{Denied, EffectivePermissions};
use alm_core::{FieldError, UserId, ValidationErrors};
use alm_store::StoreError;

/// Who is acting and from where: carried into every audit record.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: Option<UserId>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub source_ip: Option<String>,
}

impl Actor {
    /// alm itself (first start, the command line): no person behind it.
    pub fn system() -> Self {
        Self {
            user_id: None,
            name: None,
            email: None,
            source_ip: None,
        }
    }
}

/// An authenticated user acting now: identity and effective permissions.
#[derive(Debug, Clone)]
pub struct Principal {
    pub actor: Actor,
    pub user_id: UserId,
    pub permissions: EffectivePermissions,
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    Validation(ValidationErrors),
    #[error("{what} not found")]
    NotFound { what: &'static str },
    #[error("{0}")]
    Conflict(FieldError),
    /// The action is not possible in the object's current state (e.g. disabling Everyone).
    #[error("{0}")]
    NotAllowed(String),
    #[error("{denied}")]
    Forbidden { denied: Denied, actor: UserId },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ValidationErrors> for ServiceError {
    fn from(e: ValidationErrors) -> Self {
        ServiceError::Validation(e)
    }
}

impl From<FieldError> for ServiceError {
    fn from(e: FieldError) -> Self {
        ServiceError::Validation(e.into())
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

/// Turns a failed permission check into the service error that gets audited as denied.
pub fn denied(actor: UserId) -> impl FnOnce(Denied) -> ServiceError {
    move |denied| ServiceError::Forbidden { denied, actor }
}

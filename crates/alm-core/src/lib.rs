//! alm-core: the domain types and rules of alm.
//!
//! Pure logic only: no I/O, no database, no network, no wall clock (time comes in through
//! [`clock::Clock`]). Everything here can be unit-tested without a server.

pub mod account_name;
pub mod account_state;
pub mod clock;
pub mod dependencies;
pub mod discovery;
pub mod dn;
pub mod email;
pub mod error_chain;
pub mod filetime;
pub mod ids;
pub mod job_kind;
pub mod lifecycle;
pub mod names;
pub mod paging;
pub mod password_rules;
pub mod permissions;
pub mod requests;
pub mod retry;
pub mod rfc3339;
pub mod roles;
pub mod schedule;
pub mod secret;
pub mod templates;
pub mod text_enum;
pub mod validation;

pub use clock::{Clock, FixedClock, SystemClock};
pub use dn::Dn;
pub use email::Email;
pub use ids::{
    DomainId, EngineId, GroupId, JobId, PoolId, RoleId, SessionId, TokenId, UserId, VaultId,
};
pub use names::ObjectName;
pub use secret::Secret;
pub use validation::{FieldError, ValidationErrors};

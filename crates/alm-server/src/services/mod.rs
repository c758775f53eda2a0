//! Use cases: one function per thing a person or script can do. Each takes the capability
//! proving the caller may do it, validates input with core types, runs one transaction that
//! holds the change and its audit record, and returns plain data. No HTTP here, so the future
//! web UI calls the very same functions (ARCHITECTURE.md).

pub mod account_changes;
pub mod accounts;
pub mod anonymous_denials;
pub mod api_clients;
pub mod api_tokens;
pub mod approvals;
pub mod audit;
pub mod bootstrap;
pub mod calibration;
pub mod dashboard;
pub mod dependencies;
pub mod discovery;
pub mod domain_sync;
pub mod domains;
pub mod engines;
pub mod group_replacement;
pub mod groups;
pub mod import;
pub mod integration_outbox;
pub mod job_handlers;
pub mod jobs;
pub mod key_check;
pub mod lifecycle;
pub mod login;
pub mod migration;
pub mod notifications;
pub mod oidc_logins;
pub mod own_password;
pub mod personnel;
pub mod privacy;
pub mod provisioning;
pub mod provisioning_recovery;
pub mod refusal;
pub mod requests;
pub mod roles;
pub mod scheduled_sync;
pub mod siem;
pub mod template_names;
pub mod templates;
pub mod user_sync;
pub mod users;
pub mod vault_sync;
pub mod vaults;
pub mod webhooks;

use alm_core::permissions::{Denied, EffectivePermissions};
use alm_core::{FieldError, UserId, ValidationErrors};
use alm_store::StoreError;

/// Who is acting and from where: carried into every audit record (and stored with a queued
/// job as JSON, to name the one who asked in the record of its outcome).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Actor {
    pub user_id: Option<UserId>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub source_ip: Option<String>,
}

impl Actor {
    /// An engine, in the audit records of the results it brings.
    pub fn of_engine(engine: &alm_store::engines::EngineRecord) -> Self {
        Self {
            user_id: None,
            name: Some(format!("engine {} ({})", engine.name, engine.id)),
            email: None,
            source_ip: engine.last_address.clone(),
        }
    }

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

/// The usage counts (users and engines in use).
pub async fn usage(
    db: &alm_store::Db,
    can: &alm_core::permissions::Can<alm_core::permissions::perm::ConfigurationRead>,
) -> ServiceResult<alm_store::usage::Usage> {
    let _ = can;
    let mut conn = db.read().await?;
    Ok(alm_store::usage::usage(&mut conn).await?)
}

/// The actor as stored with a queued job, to be named in the audit record of its outcome.
pub fn actor_to_json(actor: &Actor) -> String {
    serde_json::to_string(actor).expect("an actor serialises")
}

/// The actor stored with a job (`jobs.requested_by`): one that does not read back is
/// corruption, never an anonymous stand-in.
pub fn requester_of(job: &alm_store::jobs::JobRecord) -> ServiceResult<Actor> {
    serde_json::from_str(&job.requested_by).map_err(|e| {
        ServiceError::Store(StoreError::Corrupt(format!(
            "jobs.requested_by of job {}: {e}",
            job.id
        )))
    })
}

/// An authenticated user acting now: identity and effective permissions.
#[derive(Debug, Clone)]
pub struct Principal {
    pub actor: Actor,
    pub user_id: UserId,
    pub permissions: EffectivePermissions,
    /// The user signed in with a one-time password: until they choose their own, their
    /// sessions may do nothing else (the API answers 403, pages send them to the form).
    pub password_must_change: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    Validation(ValidationErrors),
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// The object exists but is outside the caller's scope: answered exactly like `NotFound`
    /// (nothing tells the caller it exists) and audited as a denied attempt.
    #[error("{what} not found")]
    OutOfScope {
        what: &'static str,
        actor: UserId,
        object_type: &'static str,
        object_id: String,
    },
    #[error("{0}")]
    Conflict(FieldError),
    /// A rule stands in the way of an action the caller may ask for.
    #[error(transparent)]
    Refused(#[from] refusal::Refusal),
    /// alm itself failed (not the caller's input, not the data's state).
    #[error("{0}")]
    Internal(String),
    /// An engine reported on a job whose lease it no longer holds (the job went to another
    /// engine, or finished): its report changes nothing.
    #[error("this engine no longer holds the job's lease (it expired and the job went to another engine, or the job has finished)")]
    LeaseLost,
    /// A credential that is unknown, expired or used up (engines, activation tokens).
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{denied}")]
    Forbidden { denied: Denied, actor: UserId },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ServiceError {
    /// `what` (audited as `object_type` `id`) exists but `actor` may not see it.
    pub fn out_of_scope(
        what: &'static str,
        object_type: &'static str,
        actor: UserId,
        id: impl ToString,
    ) -> Self {
        ServiceError::OutOfScope {
            what,
            actor,
            object_type,
            object_id: id.to_string(),
        }
    }
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

//! Why the service refuses an action the caller is permitted to ask for: the rule that stands
//! in the way, as a kind a page or the API can act on, with the sentence that names it.
//! (Permissions are `ServiceError::Forbidden`; bad input is `ServiceError::Validation`.)

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The object's state does not allow it now (only a draft can be submitted, …).
    #[error("{0}")]
    InState(String),
    /// A built-in alm needs stays as it is (Everyone, System Administrator, the default pool,
    /// the built-in vault, a template accounts refer to).
    #[error("{0}")]
    Protected(String),
    /// Other objects still depend on it (accounts in a domain, domains in a pool, …).
    #[error("{0}")]
    InUse(String),
    /// It would break the ownership rules (SPEC §2.7: an enabled owner, the template's counts).
    #[error("{0}")]
    Ownership(String),
    /// The approval rules (SPEC §2.6): the step's approvers, separation of duties, one vote.
    #[error("{0}")]
    ApprovalRule(String),
    /// An administrator may not do it to themselves.
    #[error("{0}")]
    OwnAccount(String),
    /// What it needs is not configured or cannot be read (an engine pool, a stored credential).
    #[error("{0}")]
    Unconfigured(String),
    /// An engine's result that alm's data cannot take (recorded on the job as a failed attempt).
    #[error("{0}")]
    EngineResult(String),
}

impl Refusal {
    /// A short stable name of the kind, for logs and the problem document.
    pub fn kind(&self) -> &'static str {
        match self {
            Refusal::InState(_) => "in-state",
            Refusal::Protected(_) => "protected",
            Refusal::InUse(_) => "in-use",
            Refusal::Ownership(_) => "ownership",
            Refusal::ApprovalRule(_) => "approval-rule",
            Refusal::OwnAccount(_) => "own-account",
            Refusal::Unconfigured(_) => "unconfigured",
            Refusal::EngineResult(_) => "engine-result",
        }
    }
}

//! How an engine talks to its server: over HTTPS for a remote engine ([`crate::http`]), or by
//! direct calls for the engine inside `alm serve`. The runner sees only this trait.

use crate::protocol::{Completion, Heartbeat, LeaseRequest, LeaseResponse, LogBatch};
use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The server does not (or no longer) accept this engine: removed, or the credential is
    /// wrong. The engine stops.
    #[error("the server refused this engine: {0}")]
    Refused(String),
    /// The lease named in a completion is not this engine's any more (it expired and the job
    /// went to another engine, or the job finished).
    #[error("the lease is no longer held: {0}")]
    LeaseLost(String),
    /// The server could not be reached or failed; try again later.
    #[error("the server is unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait Transport: Send + Sync {
    async fn lease(&self, request: LeaseRequest) -> Result<LeaseResponse, TransportError>;
    async fn complete(&self, job_id: &str, completion: Completion) -> Result<(), TransportError>;
    async fn heartbeat(&self, heartbeat: Heartbeat) -> Result<(), TransportError>;
    async fn logs(&self, batch: LogBatch) -> Result<(), TransportError>;
}

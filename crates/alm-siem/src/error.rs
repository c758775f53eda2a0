//! Why a send failed, as a kind the outbox can act on and a message a person can act on.
//! The message names the receiver and says what to check; it never holds event contents.

/// What went wrong, for code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SendErrorKind {
    /// Nothing answered: the name did not resolve, the connection was refused, no route, or
    /// (UDP) the receiver's host refused an earlier datagram.
    Unreachable,
    /// The receiver's TLS certificate was not accepted (unknown issuer, wrong name, expired).
    Certificate,
    /// The TLS handshake or session failed for another reason (not a TLS port, protocol
    /// mismatch, alert from the receiver).
    Tls,
    /// The send (connect, handshake and write together) took longer than the timeout.
    Timeout,
    /// Any other I/O failure, e.g. the connection broke while writing.
    Io,
    /// The integration's settings cannot work (bad CA PEM, host name not usable for TLS,
    /// datagram limit too small): found when the sender is made.
    Config,
}

/// A failed send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    kind: SendErrorKind,
    message: String,
}

impl SendError {
    pub(crate) fn new(kind: SendErrorKind, message: impl Into<String>) -> SendError {
        SendError {
            kind,
            message: message.into(),
        }
    }

    pub fn kind(&self) -> SendErrorKind {
        self.kind
    }

    /// Whether sending the same event again later may succeed without anyone changing the
    /// settings: true for unreachable, timeout, I/O and TLS; false for certificate and
    /// configuration errors, which need a person (keep the event and tell someone — it is
    /// never dropped for this).
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind,
            SendErrorKind::Unreachable
                | SendErrorKind::Timeout
                | SendErrorKind::Io
                | SendErrorKind::Tls
        )
    }
}

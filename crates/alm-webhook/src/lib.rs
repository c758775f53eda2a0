//! alm-webhook: webhook delivery (SPEC §7.4) for the server's outbox. A
//! [`WebhookDefinition`] is plain data the server stores; [`WebhookDefinition::validate`]
//! names every broken rule; [`WebhookSender::send`] renders, signs, authorises and POSTs one
//! call and returns a [`DeliveryOutcome`] for the history row, with `retryable` telling the
//! outbox whether to try again. Storage, scheduling, back-off and the API live in the server.

pub mod body;
pub mod definition;
pub mod outcome;
pub mod sender;
pub mod signature;
pub mod token_cache;
pub mod validation;

pub use definition::{
    Authorization, CustomHeader, OAuthClientCredentials, TokenMap, TokenRequestContentType,
    WebhookDefinition,
};
pub use outcome::{retryable_status, DeliveryError, DeliveryErrorKind, DeliveryOutcome};
pub use sender::{SenderBuildError, SenderConfig, WebhookSender, USER_AGENT_VALUE};
pub use signature::{generate_signing_secret, signature_header, SIGNATURE_HEADER};
pub use token_cache::TokenCache;

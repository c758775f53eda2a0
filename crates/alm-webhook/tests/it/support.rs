//! Shared fixtures: a definition, a sender with short timeouts, a fixed clock.

use alm_core::{FixedClock, Secret};
use alm_webhook::{SenderConfig, WebhookDefinition, WebhookSender};
use std::sync::Arc;
use std::time::Duration;
use time::macros::datetime;
use time::OffsetDateTime;

pub const SIGNING_SECRET: &str = "whsec_test_signing_secret_0001";
pub const START: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

/// The parameters of `request.approved` (alm-notify's catalogue).
pub fn request_params() -> Vec<&'static str> {
    alm_notify::events::REQUEST_APPROVED.parameters.to_vec()
}

pub fn definition(url: String) -> WebhookDefinition {
    WebhookDefinition {
        description: "tell the CMDB".into(),
        event: "request.approved".into(),
        url,
        body_template: r#"{"account": "{{request.account_name}}", "reason": "{{request.reason}}", "step": {{request.step}}}"#.into(),
        content_type: "application/json".into(),
        headers: vec![],
        enabled: true,
        signing_secret: Secret::new(SIGNING_SECRET),
        authorization: None,
    }
}

pub fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock::new(START))
}

pub fn sender(clock: Arc<FixedClock>) -> WebhookSender {
    WebhookSender::new(
        &SenderConfig {
            connect_timeout: Duration::from_secs(2),
            timeout: Duration::from_secs(1),
            ca_pem: None,
        },
        clock,
    )
    .expect("sender builds")
}

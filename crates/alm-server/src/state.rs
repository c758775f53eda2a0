//! What every request handler shares: the database, the clock, the configuration, the login
//! throttle policy and the OIDC client.

use crate::auth::oidc::OidcClient;
use crate::auth::rate_limit::LoginThrottle;
use crate::config::Config;
use alm_core::Clock;
use alm_store::crypto::MasterKey;
use alm_store::Db;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<Config>,
    /// The login throttle's policy (its counters are in the database).
    pub login_throttle: LoginThrottle,
    pub oidc: Option<Arc<OidcClient>>,
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// Seals and opens secrets stored in the database.
    pub master_key: Arc<MasterKey>,
    /// The engine job queue.
    pub queue: Arc<crate::services::jobs::Queue>,
    /// Sends webhook calls (test calls and the delivery loop share its OAuth token cache).
    pub webhook_sender: alm_webhook::WebhookSender,
    /// Why the server runs read-only (`secrets.read_only_recovery` with a key that does not
    /// open the database's secrets): changes answer 503 and no background work runs.
    pub read_only: Option<Arc<str>>,
    /// The dashboard's counts over every account, shared for a minute.
    pub dashboard: Arc<crate::services::dashboard::SharedCounts>,
}

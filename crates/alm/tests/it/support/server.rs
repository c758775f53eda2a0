//! An alm server running in this test process on a free port, with a clock the test moves.

use super::api::Api;
use super::db::{Backend, TestDb};
use alm_core::FixedClock;
use alm_server::config::{Config, Overrides};
use alm_server::services::bootstrap;
pub use alm_server::RunningServer;
use std::collections::BTreeMap;
use std::sync::Arc;
use time::macros::datetime;

pub const ADMIN_EMAIL: &str = "admin@example.test";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

pub struct TestServer {
    pub db: TestDb,
    pub base: String,
    pub clock: Arc<FixedClock>,
    pub server: Option<RunningServer>,
    /// An API token of the bootstrap administrator.
    pub admin_token: String,
}

impl TestServer {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, &[]).await
    }

    /// Starts with extra `ALM_*` settings (as the environment would give them).
    pub async fn start_with(backend: Backend, settings: &[(&str, &str)]) -> Self {
        Self::start_on(backend, settings, "127.0.0.1:0").await
    }

    /// Starts on a given address (for tests that must know the URL before start).
    pub async fn start_on(backend: Backend, settings: &[(&str, &str)], listen: &str) -> Self {
        let db = TestDb::new(backend).await;
        let clock = Arc::new(FixedClock::new(datetime!(2026-11-29 10:00 UTC)));
        Self::start_in(db, settings, listen, clock).await
    }

    /// Starts on a database (and data directory) that already exists, such as a restored one.
    pub async fn start_in(
        db: TestDb,
        settings: &[(&str, &str)],
        listen: &str,
        clock: Arc<FixedClock>,
    ) -> Self {
        let (server, admin_token) = launch(&db, settings, listen, clock.clone()).await;
        let base = format!("http://{}", server.addr);
        Self {
            db,
            base,
            clock,
            server: Some(server),
            admin_token,
        }
    }

    /// Stops the in-process server (as [`Self::halt`]) and starts it again on the same
    /// database, data directory and clock, with `settings`: a restart, as a service manager
    /// does it. It listens on the same address again when that is still free (clients made
    /// before keep working: tokens live in the database), else on a new port (`base` says).
    pub async fn restart(&mut self, settings: &[(&str, &str)]) {
        let listen = match &self.server {
            Some(s) => s.addr.to_string(),
            None => self.base.trim_start_matches("http://").to_owned(),
        };
        self.halt().await;
        let (server, admin_token) = launch(&self.db, settings, &listen, self.clock.clone()).await;
        self.base = format!("http://{}", server.addr);
        self.server = Some(server);
        self.admin_token = admin_token;
    }

    pub fn state(&self) -> &alm_server::AppState {
        &self.server.as_ref().expect("running").state
    }

    pub fn admin(&self) -> Api {
        Api::with_token(&self.base, &self.admin_token)
    }

    pub fn anonymous(&self) -> Api {
        Api::anonymous(&self.base)
    }

    /// Creates a user through the API and returns (id, an API token of theirs).
    pub async fn user_with_token(&self, name: &str, email: &str) -> (String, String) {
        let (status, body) = self
            .admin()
            .post(
                "/api/v1/users",
                serde_json::json!({"display_name": name, "emails": [email]}),
            )
            .await;
        assert_eq!(status, 201, "creating {email}: {body}");
        let id = body["id"].as_str().expect("id").to_owned();
        let token = bootstrap::create_token_for(
            &self.state().db,
            self.clock.as_ref(),
            email,
            "tests",
            None,
        )
        .await
        .expect("token")
        .secret;
        (id, token)
    }

    /// The id of the role whose built-in key or name is `name`.
    pub async fn role_id(&self, name: &str) -> String {
        let (status, body) = self.admin().get("/api/v1/roles?limit=500").await;
        assert_eq!(status, 200, "{body}");
        body["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|r| r["builtin_key"] == name || r["name"] == name)
            .unwrap_or_else(|| panic!("no role {name}"))["id"]
            .as_str()
            .expect("id")
            .to_owned()
    }

    /// Another server (a replica) on this one's database and data directory, with the same
    /// clock, serving on its own port with `settings`.
    pub async fn replica(&self, settings: &[(&str, &str)]) -> RunningServer {
        let mut env: BTreeMap<String, String> = settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.insert("ALM_DATABASE__URL".into(), self.db.url.clone());
        env.insert("ALM_SCHEDULER__ENABLED".into(), "false".into());
        env.insert("ALM_ENGINES__IN_PROCESS".into(), "false".into());
        let config = Config::load(
            None,
            &env,
            &Overrides {
                listen: Some("127.0.0.1:0".into()),
                data_dir: Some(self.db.dir.clone()),
            },
        )
        .expect("replica configuration is valid");
        let state = alm_server::build_state(config, self.clock.clone())
            .await
            .expect("replica state");
        alm_server::start(state, "127.0.0.1:0")
            .await
            .expect("replica starts")
    }

    /// Stops the in-process server and its background work but keeps the database (for
    /// tests that hand it to real `alm` processes).
    pub async fn halt(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await.expect("clean shutdown");
        }
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await.expect("clean shutdown");
        }
    }
}

/// Builds the server state on `db` with `settings`, bootstraps the administrator and serves on
/// `listen` (on a free port if `listen` is taken); returns the server and a fresh API token of
/// the administrator.
/// The in-process servers' failed requests and pages (500s) go to stderr with their cause, so
/// that an unexpected "internal error" in a test's assertion comes with the reason beside it
/// in the run's output. Only those: the servers' other logs would drown the run.
fn log_failed_requests() {
    use tracing_subscriber::prelude::*;
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let only_failures = tracing_subscriber::filter::Targets::new()
            .with_target("alm_server::api::error", tracing::Level::ERROR)
            .with_target("alm_server::ui", tracing::Level::ERROR);
        let _ = tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(false)
                    .with_filter(only_failures),
            )
            .try_init();
    });
}

async fn launch(
    db: &TestDb,
    settings: &[(&str, &str)],
    listen: &str,
    clock: Arc<FixedClock>,
) -> (RunningServer, String) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    log_failed_requests();
    let mut env: BTreeMap<String, String> = settings
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    env.insert("ALM_DATABASE__URL".into(), db.url.clone());
    let config = Config::load(
        None,
        &env,
        &Overrides {
            listen: Some("127.0.0.1:0".into()),
            data_dir: Some(db.dir.clone()),
        },
    )
    .expect("test configuration is valid");
    let state = alm_server::build_state(config, clock.clone())
        .await
        .expect("server state");
    alm_server::app::bootstrap_admin(&state, ADMIN_EMAIL, Some(ADMIN_PASSWORD.into()))
        .await
        .expect("bootstrap admin");
    let token = bootstrap::create_token_for(&state.db, clock.as_ref(), ADMIN_EMAIL, "tests", None)
        .await
        .expect("admin token");
    let server = match alm_server::start(state.clone(), listen).await {
        Ok(server) => server,
        Err(_) => alm_server::start(state, "127.0.0.1:0")
            .await
            .expect("server starts"),
    };
    (server, token.secret)
}

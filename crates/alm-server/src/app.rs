//! Assembling and running the server: start-up (migrations, built-ins, the bootstrap
//! administrator), the router with its middleware, and graceful shutdown. The background
//! loops are in `workers/`.

use crate::api;
use crate::api::error::DeniedAttempt;
use crate::auth::client_addr::{self, ClientIp};
use crate::auth::oidc::OidcClient;
use crate::auth::rate_limit::LoginThrottle;
use crate::config::Config;
use crate::services::audit::{record_refusal, Subject};
use crate::services::bootstrap::{self, AdminBootstrap};
use crate::services::Actor;
use crate::state::AppState;
use crate::workers::Workers;
use alm_core::Clock;
use alm_store::audit_log::Outcome;
use alm_store::Db;
use anyhow::Context;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Instant;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tower_http::trace::TraceLayer;

/// The largest request body accepted (JSON inputs are small).
const BODY_LIMIT: usize = 1024 * 1024;

/// The longest request target (path and query) answered; longer ones get a 414 problem.
/// Common servers stop at 8 KiB too; hyper's own parser refuses targets over 64 KiB before any
/// request exists (a bare 414 status line, the only error alm cannot word).
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// The process-wide Prometheus recorder (a recorder can be installed once per process).
fn metrics_handle() -> metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: OnceLock<metrics_exporter_prometheus::PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder was installed first; then ours renders nothing.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Opens the database, brings its schema up to date and creates the built-ins.
pub async fn open_database(config: &Config, clock: &dyn Clock) -> anyhow::Result<Db> {
    if config.database.url.is_none() {
        alm_store::files::create_private_dir_all(&config.data_dir)
            .with_context(|| format!("data_dir: cannot create {}", config.data_dir.display()))?;
        check_writable(&config.data_dir)?;
    }
    let db = Db::connect(&config.database_url())
        .await
        .context("cannot open the database")?;
    alm_store::migrations::migrate(&db, clock.now())
        .await
        .context("cannot migrate the database")?;
    bootstrap::ensure_builtins(&db, clock)
        .await
        .context("cannot create the built-in roles and groups")?;
    crate::services::vaults::ensure_builtin(&db, clock)
        .await
        .context("cannot create the built-in vault")?;
    crate::services::engines::ensure_default_pool(&db, clock)
        .await
        .context("cannot create the default engine pool")?;
    Ok(db)
}

/// The data directory takes new files, or start-up stops here naming it, its mode and owner,
/// and the system's reason (instead of a database error later, or a server that cannot write).
fn check_writable(dir: &std::path::Path) -> anyhow::Result<()> {
    let probe = dir.join(".alm-write-check");
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&probe);
    match created {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            let what = match std::fs::metadata(dir) {
                Ok(m) => format!(
                    "mode {:o}, owner uid {}",
                    m.permissions().mode() & 0o7777,
                    m.uid()
                ),
                Err(_) => "its mode cannot be read".into(),
            };
            anyhow::bail!(
                "data_dir: {} is not writable by this process ({what}): {e}; give alm's user write permission there, or choose another data_dir",
                dir.display()
            )
        }
    }
}

/// The master key from the configuration, or from its file (created on first start).
pub fn load_master_key(config: &Config) -> anyhow::Result<alm_store::crypto::MasterKey> {
    use alm_store::crypto::MasterKey;
    match &config.secrets.master_key {
        Some(text) => {
            MasterKey::from_text(text).map_err(|e| anyhow::anyhow!("secrets.master_key: {e}"))
        }
        None => {
            let path = config.master_key_file();
            if let Some(parent) = path.parent() {
                alm_store::files::create_private_dir_all(parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
            }
            MasterKey::load_or_create(&path)
                .map_err(|e| anyhow::anyhow!("secrets.master_key_file: {e}"))
        }
    }
}

/// Everything a running server needs, after start-up.
pub async fn build_state(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
    let db = open_database(&config, clock.as_ref()).await?;
    let oidc = match &config.auth.oidc {
        Some(o) => Some(Arc::new(OidcClient::new(
            o.clone(),
            format!("{}/auth/oidc/callback", config.base_url()),
        )?)),
        None => None,
    };
    let master_key = Arc::new(load_master_key(&config)?);
    let read_only = match crate::services::key_check::verify(&db, &master_key)
        .await
        .map_err(|e| anyhow::anyhow!("cannot check the master key: {e}"))?
    {
        crate::services::key_check::KeyCheck::Opens => None,
        crate::services::key_check::KeyCheck::DoesNotOpen(what) => {
            let why = format!(
                "the master key from {} does not open {what} in this database: start with the key \
                 this database was sealed with (a restored backup needs the master.key saved with \
                 it), or set secrets.read_only_recovery = true (ALM_SECRETS__READ_ONLY_RECOVERY) to \
                 start read-only and read the data out",
                key_source(&config)
            );
            if !config.secrets.read_only_recovery {
                anyhow::bail!(why);
            }
            tracing::error!(reason = %why, "alm starts read-only for recovery");
            Some(Arc::from(why.as_str()))
        }
    };
    let login_throttle =
        LoginThrottle::new(config.auth.max_failed_logins, config.auth.lockout_minutes);
    let queue = Arc::new(crate::services::jobs::Queue::new(
        db.clone(),
        clock.clone(),
        master_key.clone(),
        std::time::Duration::from_secs(u64::from(config.engines.lease_seconds)),
        config.base_url(),
        crate::services::job_handlers::all(),
    ));
    let webhook_sender =
        alm_webhook::WebhookSender::new(&alm_webhook::SenderConfig::default(), clock.clone())?;
    Ok(AppState {
        webhook_sender,
        db,
        clock,
        queue,
        config: Arc::new(config),
        login_throttle,
        oidc,
        metrics: metrics_handle(),
        master_key,
        read_only,
        dashboard: Arc::default(),
    })
}

/// Where the master key came from, for people.
fn key_source(config: &Config) -> String {
    match &config.secrets.master_key {
        Some(_) => "secrets.master_key (ALM_SECRETS__MASTER_KEY)".into(),
        None => format!("the key file {}", config.master_key_file().display()),
    }
}

/// Makes sure the bootstrap administrator exists (first start only).
pub async fn bootstrap_admin(
    state: &AppState,
    email: &str,
    password: Option<String>,
) -> anyhow::Result<AdminBootstrap> {
    bootstrap::ensure_admin(&state.db, state.clock.as_ref(), email, password)
        .await
        .map_err(|e| anyhow::anyhow!("cannot create the first administrator: {e}"))
}

/// The complete HTTP application.
pub fn router(state: AppState) -> Router {
    let (api_router, openapi) = api::router().split_for_parts();
    let openapi = Arc::new(api::finish_document(openapi));

    Router::new()
        .merge(api_router)
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(move || {
                let doc = openapi.clone();
                async move { axum::Json(doc.as_ref().clone()) }
            }),
        )
        .merge(api::session::oidc_router())
        .merge(api::api_clients::oauth_router())
        .merge(crate::ui::router())
        .merge(api::health::router())
        // After every route: a known path with another method answers a 405 problem (axum's
        // own is an empty body); the Allow header is still added.
        .method_not_allowed_fallback(|| async { api::error::ApiError::MethodNotAllowed })
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), audit_denials))
        .layer(middleware::from_fn_with_state(state.clone(), refuse_changes_when_read_only))
        .layer(middleware::from_fn(record_metrics))
        .layer(middleware::from_fn(limit_uri))
        .layer(middleware::from_fn_with_state(state.clone(), resolve_client))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        // A bug that panics in a handler answers 500 like any internal error, instead of
        // dropping the connection (the details go to the log only).
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_response))
        .layer(
            // Spans carry the method and path only: query strings can hold OIDC codes.
            TraceLayer::new_for_http().make_span_with(|req: &Request| {
                let id = req
                    .extensions()
                    .get::<crate::request_id::RequestId>()
                    .map(|r| r.0.as_str())
                    .unwrap_or_default();
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), id = %id)
            }),
        )
        .layer(middleware::from_fn(crate::security_headers::add))
        .layer(middleware::from_fn(crate::request_id::assign))
        .with_state(state)
}

/// An unknown URL: a page in the frame for a browser, a problem document for the API.
async fn not_found(State(s): State<AppState>, req: Request) -> Response {
    use axum::extract::FromRequestParts;
    use axum::response::IntoResponse;
    let (mut parts, _) = req.into_parts();
    if crate::ui::errors::wants_html(parts.uri.path(), &parts.headers) {
        return match crate::ui::browser::Browser::from_request_parts(&mut parts, &s).await {
            Ok(browser) => crate::ui::errors::not_found(&browser),
            Err(page) => page,
        };
    }
    api::error::ApiError::NotFound { what: "route" }.into_response()
}

fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(panic = %what, "a request handler panicked");
    axum::response::IntoResponse::into_response(api::error::ApiError::Internal(anyhow::anyhow!(
        "a request handler panicked"
    )))
}

/// A server started read-only for recovery answers every change with 503 and says why.
async fn refuse_changes_when_read_only(
    State(s): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    use axum::http::Method;
    match &s.read_only {
        Some(why) if ![Method::GET, Method::HEAD, Method::OPTIONS].contains(req.method()) => {
            axum::response::IntoResponse::into_response(api::error::ApiError::ReadOnly(
                why.to_string(),
            ))
        }
        _ => next.run(req).await,
    }
}

/// Works out the client's address once per request (see `auth/client_addr.rs`).
async fn resolve_client(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if let Some(peer) = peer {
        let client = client_addr::client_ip(&s.config.auth.trusted_proxies, peer, req.headers());
        req.extensions_mut().insert(ClientIp(client));
    }
    next.run(req).await
}

/// Records every refused request (401/403) in the audit log, whoever refused it: one record
/// per refusal of a known user, counts per address and minute for anonymous callers (see
/// `services/anonymous_denials.rs`).
async fn audit_denials(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let ip = req.extensions().get::<ClientIp>().map(|c| c.0.to_string());
    let route = format!("{} {}", req.method(), req.uri().path());
    let response = next.run(req).await;
    if let Some(denied) = response.extensions().get::<DeniedAttempt>() {
        if denied.actor.is_none() && response.status() == axum::http::StatusCode::UNAUTHORIZED {
            // Anonymous: counted per address and minute, not one audit record each.
            let source = ip.as_deref().unwrap_or("unknown");
            if let Err(e) = crate::services::anonymous_denials::count(
                &s.db,
                s.clock.as_ref(),
                source,
                alm_store::anonymous_denials::DenialKind::Unauthenticated,
            )
            .await
            {
                tracing::error!(error = %e, "could not count an anonymous refusal");
            }
            return response;
        }
        let actor = Actor {
            user_id: denied.actor,
            name: None,
            email: None,
            source_ip: ip,
        };
        let summary = serde_json::json!({
            "status": response.status().as_u16(),
            "needed": denied.needed.map(|p| p.to_string()),
            "reason": denied.reason,
        });
        let subject = match &denied.object {
            Some((object_type, id)) => Subject {
                object_type,
                object_id: Some(id.clone()),
            },
            None => Subject {
                object_type: "route",
                object_id: Some(route),
            },
        };
        if let Err(e) = record_refusal(
            &s.db,
            s.clock.as_ref(),
            &actor,
            "access.denied",
            subject,
            Outcome::Denied,
            summary,
        )
        .await
        {
            tracing::error!(error = %e, "could not record a denied request in the audit log");
        }
    }
    response
}

/// Refuses request targets longer than [`MAX_URI_BYTES`] with a problem document.
async fn limit_uri(req: Request, next: Next) -> Response {
    let len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if len > MAX_URI_BYTES {
        return axum::response::IntoResponse::into_response(api::error::ApiError::UriTooLong {
            max: MAX_URI_BYTES,
        });
    }
    next.run(req).await
}

async fn record_metrics(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("alm_http_requests_total", "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!("alm_http_request_duration_seconds")
        .record(started.elapsed().as_secs_f64());
    response
}

/// A server bound to its address and running in the background.
pub struct RunningServer {
    pub addr: SocketAddr,
    /// The plain-HTTP address that only redirects to HTTPS (`tls.redirect_listen`).
    pub redirect_addr: Option<SocketAddr>,
    /// `https` when alm serves TLS itself, else `http`.
    pub scheme: &'static str,
    pub state: AppState,
    /// The connections being served (at most `server.max_connections`).
    pub connections: crate::serve::Connections,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    redirect: Option<(
        oneshot::Sender<()>,
        tokio::task::JoinHandle<std::io::Result<()>>,
    )>,
    // Keeps the certificate reloader running as long as the server.
    _tls: Option<crate::tls::ServerTls>,
    workers: Workers,
}

impl RunningServer {
    /// Stops the background work and accepting, lets requests in flight finish, and waits.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        self.workers.stop().await;
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some((stop, task)) = self.redirect.take() {
            let _ = stop.send(());
            task.await??;
        }
        self.task.await??;
        self.state.db.close().await;
        Ok(())
    }
}

/// Binds `listen` (and `tls.redirect_listen`) and serves in the background: HTTPS when
/// `tls.cert_file` is set, else plain HTTP.
pub async fn start(state: AppState, listen: &str) -> anyhow::Result<RunningServer> {
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("listen: cannot bind {listen}"))?;
    let addr = listener.local_addr()?;
    let limits = state.config.server.limits();
    // The redirect listener first: it answers ACME's HTTP-01 while the certificate is obtained.
    let challenges = crate::tls::acme::Challenges::default();
    let mut redirect = None;
    let mut redirect_addr = None;
    if let (true, Some(plain)) = (state.config.serves_tls(), &state.config.tls.redirect_listen) {
        let listener = TcpListener::bind(plain)
            .await
            .with_context(|| format!("tls.redirect_listen: cannot bind {plain}"))?;
        redirect_addr = Some(listener.local_addr()?);
        let target = match &state.config.public_url {
            Some(url) => crate::tls::redirect::Target::PublicUrl(url.clone()),
            None => crate::tls::redirect::Target::SameHost {
                https_port: addr.port(),
            },
        };
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let router = crate::tls::redirect::router(target, challenges.clone());
        let (_, task) = crate::serve::spawn(listener, router, limits, None, stop_rx);
        redirect = Some((stop_tx, task));
    }
    let tls =
        match crate::tls::ServerTls::start(&state.config, challenges, state.clock.clone()).await {
            Ok(tls) => tls,
            Err(e) => {
                if let Some((stop, task)) = redirect.take() {
                    let _ = stop.send(());
                    let _ = task.await;
                }
                return Err(e);
            }
        };
    let mut app = router(state.clone());
    if tls.is_some() {
        if let Some(hsts) = crate::tls::hsts_value(state.config.tls.hsts_max_age_seconds) {
            app = app.layer(middleware::from_fn(move |req, next| {
                crate::tls::add_hsts(hsts.clone(), req, next)
            }));
        }
    }
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let acceptor = tls.as_ref().map(|t| t.acceptor.clone());
    let (connections, task) = crate::serve::spawn(listener, app, limits, acceptor, stop_rx);
    let workers = Workers::start(&state).await?;
    Ok(RunningServer {
        connections,
        addr,
        redirect_addr,
        scheme: if tls.is_some() { "https" } else { "http" },
        state,
        stop: Some(stop_tx),
        task,
        redirect,
        _tls: tls,
        workers,
    })
}

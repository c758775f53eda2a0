//! `alm engine`: a remote engine (SPEC §5). The first start registers with an activation
//! token and keeps the engine's own credential in `<data-dir>/engine.json` (mode 600); later
//! starts use that file. Then it pulls jobs from the server until the server refuses it.

use alm_core::SystemClock;
use alm_engine::http::{self, HttpTransport};
use alm_engine::protocol::{RegisterRequest, Secret};
use alm_engine::runner::{self, RunnerConfig};
use alm_engine::state_file::{self, EngineState};
use alm_engine::Executor;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, clap::Args)]
pub struct EngineArgs {
    /// The alm server's base URL: https://…, or http:// to this machine only.
    #[arg(long, env = "ALM_ENGINE_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// An activation token, for the first start (prefer ALM_ENGINE_TOKEN or --token-file:
    /// a flag value shows in process listings; the token is single-use and expires in 8 h).
    #[arg(
        long,
        env = "ALM_ENGINE_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
    /// A file holding the activation token.
    #[arg(long, value_name = "FILE", conflicts_with = "token")]
    pub token_file: Option<PathBuf>,
    /// Where the engine keeps its identity and credential.
    #[arg(
        long,
        env = "ALM_ENGINE_DATA_DIR",
        default_value = "/var/lib/alm-engine"
    )]
    pub data_dir: PathBuf,
    /// PEM file of the CA that signed the server's certificate (default: the system's store).
    #[arg(long, env = "ALM_ENGINE_SERVER_CA", value_name = "FILE")]
    pub server_ca: Option<PathBuf>,
    /// A name for people (default: the host name).
    #[arg(long)]
    pub name: Option<String>,
    /// A DNS server to ask for the controllers of domains that find them in DNS (`10.0.0.53`,
    /// or `10.0.0.53:5353`); repeat for more, tried in order. Default: the machine's own
    /// (/etc/resolv.conf). ALM_ENGINE_NAMESERVERS takes a comma-separated list.
    #[arg(
        long = "nameserver",
        env = "ALM_ENGINE_NAMESERVERS",
        value_name = "ADDRESS",
        value_delimiter = ',',
        value_parser = alm_directory::dc_discovery::parse_nameserver
    )]
    pub nameservers: Vec<std::net::SocketAddr>,
}

pub async fn run(args: EngineArgs) -> anyhow::Result<ExitCode> {
    let filter = std::env::var("ALM_LOG").unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&filter)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let ca_pem = match &args.server_ca {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("--server-ca: cannot read {}: {e}", path.display()))?,
        ),
        None => None,
    };
    let token = match (&args.token, &args.token_file) {
        (Some(t), _) => Some(t.trim().to_owned()),
        (None, Some(path)) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("--token-file: cannot read {}: {e}", path.display()))?
                .trim()
                .to_owned(),
        ),
        (None, None) => None,
    }
    .filter(|t| !t.is_empty());
    let stored = state_file::load(&args.data_dir).map_err(anyhow::Error::msg)?;
    let state = match (stored, token) {
        (Some(state), token) => {
            if let Some(server) = &args.server {
                let wanted = http::server_url(server).map_err(anyhow::Error::msg)?;
                if wanted.as_str().trim_end_matches('/') != state.server.trim_end_matches('/') {
                    anyhow::bail!(
                        "{} belongs to an engine of {}; use another --data-dir to register with {server}",
                        state_file::path(&args.data_dir).display(),
                        state.server
                    );
                }
            }
            if token.is_some() {
                tracing::warn!(engine = %state.engine_id, "already registered; the activation token is not used");
            }
            state
        }
        (None, Some(token)) => {
            let server = args.server.as_deref().ok_or_else(|| {
                anyhow::anyhow!("--server: required to register (the alm server's URL)")
            })?;
            let server = http::server_url(server).map_err(anyhow::Error::msg)?;
            let host = alm_engine::host_name();
            let answer = http::register(
                &server,
                ca_pem.as_deref(),
                &RegisterRequest {
                    activation_token: Secret::new(token),
                    name: args.name.clone().unwrap_or_else(|| host.clone()),
                    host,
                    version: env!("CARGO_PKG_VERSION").into(),
                },
            )
            .await
            .map_err(anyhow::Error::msg)?;
            let state = EngineState {
                server: server.as_str().trim_end_matches('/').to_owned(),
                engine_id: answer.engine_id,
                credential: answer.credential,
            };
            state_file::save(&args.data_dir, &state).map_err(anyhow::Error::msg)?;
            eprintln!(
                "registered as engine {}; an administrator now assigns it to a pool and activates it",
                state.engine_id
            );
            state
        }
        (None, None) => anyhow::bail!(
            "this engine is not registered yet: give --server URL and an activation token (--token, --token-file or ALM_ENGINE_TOKEN) made under Engines in alm"
        ),
    };
    let server = http::server_url(&state.server).map_err(anyhow::Error::msg)?;
    let transport = HttpTransport::new(server, ca_pem.as_deref(), state.credential.clone())
        .map_err(anyhow::Error::msg)?;
    let clock: Arc<dyn alm_core::Clock> = Arc::new(SystemClock);
    let executor =
        Arc::new(Executor::new(clock.clone()).with_nameservers(args.nameservers.clone()));
    tracing::info!(engine = %state.engine_id, server = %state.server, "engine running");
    let refusal = runner::run(
        Arc::new(transport),
        executor,
        clock,
        RunnerConfig::default(),
    )
    .await;
    anyhow::bail!(
        "{refusal}. If the engine was removed, delete {} and register again with a new activation token",
        state_file::path(&args.data_dir).display()
    )
}

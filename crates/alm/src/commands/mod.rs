//! The subcommands of `alm`, one module each.

pub mod admin;
pub mod db;
pub mod discover;
pub mod engine;
pub mod engine_check;
pub mod healthcheck;
pub mod install;
pub mod serve;

use crate::ConfigArgs;
use alm_server::config::{Config, Overrides};
use std::collections::BTreeMap;

/// Loads the configuration: file, `ALM_*` environment, then flags.
pub fn load_config(args: &ConfigArgs, listen: Option<String>) -> anyhow::Result<Config> {
    let env: BTreeMap<String, String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("ALM_"))
        .collect();
    let overrides = Overrides {
        listen,
        data_dir: args.data_dir.clone(),
    };
    Ok(Config::load(args.config.as_deref(), &env, &overrides)?)
}

/// Structured logs to stderr, as text or JSON lines, filtered by `log.level` (or `ALM_LOG`).
pub fn init_logging(config: &Config) {
    let filter = std::env::var("ALM_LOG").unwrap_or_else(|_| config.log.level.clone());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if config.log.format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// A secret from the environment, directly or through `NAME_FILE`.
pub fn env_secret(name: &str) -> anyhow::Result<Option<String>> {
    if let Ok(v) = std::env::var(name) {
        return Ok(Some(v));
    }
    match std::env::var(format!("{name}_FILE")) {
        Ok(path) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| anyhow::anyhow!("{name}_FILE: cannot read {path:?}: {e}"))?;
            Ok(Some(text.trim_end_matches(['\n', '\r']).to_owned()))
        }
        Err(_) => Ok(None),
    }
}

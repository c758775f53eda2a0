//! Configuration: defaults, then the TOML file, then `ALM_*` environment variables, then
//! command-line flags. Every error names the key and the expected form.
//!
//! Environment names are the key path in capitals with `__` between levels
//! (`auth.oidc.client_id` → `ALM_AUTH__OIDC__CLIENT_ID`). Secrets may instead be given as a
//! file with the `_FILE` suffix. An `ALM_*` variable that names no key is refused by name,
//! so a typo never silently falls back to a default.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address and port the HTTP server listens on.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Where alm keeps its SQLite database and other state.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// The URL people reach alm at; `https://` turns on Secure cookies.
    #[serde(default)]
    pub public_url: Option<String>,
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub database: DatabaseConfig,
    #[serde(default)]
    pub auth: AuthConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub secrets: SecretsConfig,
    #[serde(default)]
    pub engines: EnginesConfig,
    #[serde(default)]
    pub scheduler: SchedulerConfig,
    /// Where email goes out (SPEC §7.2); without `smtp.host`, emails wait in the outbox.
    #[serde(default)]
    pub smtp: SmtpSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: Option<String>,
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    /// `none`, `starttls` or `tls`.
    #[serde(default = "default_smtp_security")]
    pub security: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The sender address.
    #[serde(default = "default_smtp_from")]
    pub from: String,
    /// PEM file of the CA that signed the SMTP server's certificate (default: system store).
    pub ca_file: Option<PathBuf>,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self {
            host: None,
            port: default_smtp_port(),
            security: default_smtp_security(),
            username: None,
            password: None,
            from: default_smtp_from(),
            ca_file: None,
        }
    }
}

fn default_smtp_port() -> u16 {
    587
}
fn default_smtp_security() -> String {
    "starttls".into()
}
fn default_smtp_from() -> String {
    "alm@localhost".into()
}

/// Engines (SPEC §5): the one inside `alm serve`, and how long a job lease lasts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnginesConfig {
    /// Run an engine inside this process, serving the default pool (single-process mode).
    #[serde(default = "yes")]
    pub in_process: bool,
    /// How long a leased job stays with its engine without a heartbeat before it is queued
    /// again for another engine.
    #[serde(default = "default_lease_seconds")]
    pub lease_seconds: u32,
}

impl Default for EnginesConfig {
    fn default() -> Self {
        Self {
            in_process: true,
            lease_seconds: default_lease_seconds(),
        }
    }
}

fn default_lease_seconds() -> u32 {
    60
}

/// The lifecycle scheduler (SPEC §4): one leader among replicas sweeps for EOL and reminders.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerConfig {
    /// Off: this process never sweeps on its own (the sweep endpoint still works).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Seconds between sweeps (and between tries to become the leader).
    #[serde(default = "default_sweep_seconds")]
    pub interval_seconds: u32,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval_seconds: default_sweep_seconds(),
        }
    }
}

fn default_sweep_seconds() -> u32 {
    60
}

/// The master key that seals secrets at rest. It never goes into the database; replicas over
/// one PostgreSQL must all be given the same key (`master_key` or `master_key_file`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsConfig {
    /// 32 bytes as 64 hex digits or base64 (prefer `ALM_SECRETS__MASTER_KEY_FILE`).
    pub master_key: Option<String>,
    /// A key file; default `<data_dir>/master.key`, created (mode 600) on first start.
    pub master_key_file: Option<PathBuf>,
    /// Start even when the key does not open the database's secrets, read-only (every change
    /// answers 503, no background work runs), to read the data out for a recovery.
    #[serde(default)]
    pub read_only_recovery: bool,
}

/// Limits of the HTTP server against slow or numerous clients (see `serve.rs`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Connections served at once; more wait in the listen backlog. Keep it below the
    /// process's open-file limit (`ulimit -n`), which the database pool, directory and vault
    /// connections and files share.
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
    /// Seconds a client has to send a request's headers (also the idle keep-alive time).
    #[serde(default = "default_read_timeout")]
    pub header_read_timeout_seconds: u32,
    /// Seconds a request body may pause between two reads before the request fails with 408.
    #[serde(default = "default_read_timeout")]
    pub body_read_timeout_seconds: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_connections: default_max_connections(),
            header_read_timeout_seconds: default_read_timeout(),
            body_read_timeout_seconds: default_read_timeout(),
        }
    }
}

impl ServerConfig {
    pub fn limits(&self) -> crate::serve::Limits {
        use std::time::Duration;
        crate::serve::Limits {
            max_connections: self.max_connections as usize,
            header_read_timeout: Duration::from_secs(u64::from(self.header_read_timeout_seconds)),
            body_read_timeout: Duration::from_secs(u64::from(self.body_read_timeout_seconds)),
        }
    }
}

/// Below the common default open-file limit of 1024, with room for everything else.
fn default_max_connections() -> u32 {
    512
}
fn default_read_timeout() -> u32 {
    30
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite:///path/alm.db` or `postgres://user@host/db`; default: SQLite in `data_dir`.
    pub url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Whether people may log in with a local password (the bootstrap administrator).
    #[serde(default = "yes")]
    pub local_login: bool,
    /// How long a login session lasts.
    #[serde(default = "default_session_hours")]
    pub session_hours: u32,
    /// Failed logins allowed per (email, client address) before waits begin (per address
    /// across emails, five times as many).
    #[serde(default = "default_max_failures")]
    pub max_failed_logins: u32,
    /// The longest wait between attempts once throttled (see `auth/rate_limit.rs`).
    #[serde(default = "default_lockout_minutes")]
    pub lockout_minutes: u32,
    /// Reverse proxies whose `X-Forwarded-For` names the client (see `auth/client_addr.rs`).
    #[serde(default)]
    pub trusted_proxies: Vec<crate::auth::client_addr::ProxyNet>,
    #[serde(default)]
    pub oidc: Option<OidcConfig>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            local_login: true,
            session_hours: default_session_hours(),
            max_failed_logins: default_max_failures(),
            lockout_minutes: default_lockout_minutes(),
            trusted_proxies: Vec::new(),
            oidc: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The provider's issuer URL (discovery at `/.well-known/openid-configuration`).
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// Extra scopes besides `openid email`.
    #[serde(default)]
    pub extra_scopes: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json`.
    #[serde(default = "default_log_format")]
    pub format: String,
    /// A tracing filter such as `info` or `alm_server=debug,info`.
    #[serde(default = "default_log_level")]
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: default_log_format(),
            level: default_log_level(),
        }
    }
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("/var/lib/alm")
}
fn yes() -> bool {
    true
}
fn default_session_hours() -> u32 {
    12
}
fn default_max_failures() -> u32 {
    5
}
fn default_lockout_minutes() -> u32 {
    15
}
fn default_log_format() -> String {
    "text".into()
}
fn default_log_level() -> String {
    "info".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Secret,
    Bool,
    Number,
    List,
}

/// Every key the environment may set.
const ENV_KEYS: &[(&str, Kind)] = &[
    ("listen", Kind::Text),
    ("data_dir", Kind::Text),
    ("public_url", Kind::Text),
    ("server.max_connections", Kind::Number),
    ("server.header_read_timeout_seconds", Kind::Number),
    ("server.body_read_timeout_seconds", Kind::Number),
    ("database.url", Kind::Secret),
    ("auth.local_login", Kind::Bool),
    ("auth.session_hours", Kind::Number),
    ("auth.max_failed_logins", Kind::Number),
    ("auth.lockout_minutes", Kind::Number),
    ("auth.trusted_proxies", Kind::List),
    ("auth.oidc.issuer", Kind::Text),
    ("auth.oidc.client_id", Kind::Text),
    ("auth.oidc.client_secret", Kind::Secret),
    ("auth.oidc.extra_scopes", Kind::List),
    ("log.format", Kind::Text),
    ("log.level", Kind::Text),
    ("secrets.master_key", Kind::Secret),
    ("secrets.master_key_file", Kind::Text),
    ("secrets.read_only_recovery", Kind::Bool),
    ("engines.in_process", Kind::Bool),
    ("engines.lease_seconds", Kind::Number),
    ("scheduler.enabled", Kind::Bool),
    ("scheduler.interval_seconds", Kind::Number),
    ("smtp.host", Kind::Text),
    ("smtp.port", Kind::Number),
    ("smtp.security", Kind::Text),
    ("smtp.username", Kind::Text),
    ("smtp.password", Kind::Secret),
    ("smtp.from", Kind::Text),
    ("smtp.ca_file", Kind::Text),
];

/// `ALM_*` variables that are not configuration keys but are read elsewhere.
pub const OTHER_ENV: &[&str] = &[
    "ALM_CONFIG",
    "ALM_ADMIN_EMAIL",
    "ALM_ADMIN_PASSWORD",
    "ALM_ADMIN_PASSWORD_FILE",
    "ALM_LOG",
    // `alm engine` reads these; a server on the same host must not refuse them.
    "ALM_ENGINE_SERVER",
    "ALM_ENGINE_TOKEN",
    "ALM_ENGINE_DATA_DIR",
    "ALM_ENGINE_SERVER_CA",
    // `alm discover --import` reads the API token from it.
    "ALM_IMPORT_TOKEN",
];

/// `ALM_*` variables under this prefix belong to `alm discover` (one per option): a server
/// started in the same shell must not refuse them.
pub const DISCOVER_ENV_PREFIX: &str = "ALM_DISCOVER_";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read the configuration file: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not valid TOML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// Command-line values that win over the file and the environment.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
}

impl Config {
    /// Loads the file (if any), applies `env` (the process environment, passed in so tests
    /// can give their own) and the overrides, and validates the result.
    pub fn load(
        file: Option<&Path>,
        env: &BTreeMap<String, String>,
        overrides: &Overrides,
    ) -> Result<Self, ConfigError> {
        let mut root = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                text.parse::<toml::Table>()
                    .map_err(|e| ConfigError::Syntax {
                        path: path.to_owned(),
                        message: e.message().to_owned(),
                    })?
            }
            None => toml::Table::new(),
        };
        apply_env(&mut root, env)?;
        if let Some(listen) = &overrides.listen {
            root.insert("listen".into(), toml::Value::String(listen.clone()));
        }
        if let Some(dir) = &overrides.data_dir {
            root.insert(
                "data_dir".into(),
                toml::Value::String(dir.display().to_string()),
            );
        }
        let config: Config =
            serde_path_to_error::deserialize(toml::Value::Table(root)).map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner().to_string();
                let inner = inner.trim();
                if path == "." {
                    ConfigError::Invalid(format!("configuration: {inner}"))
                } else {
                    ConfigError::Invalid(format!("{path}: {inner}"))
                }
            })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, expected: &str| {
            Err(ConfigError::Invalid(format!("{key}: expected {expected}")))
        };
        if self.listen.parse::<SocketAddr>().is_err() {
            return bad(
                "listen",
                &format!(
                    "an address and port such as 127.0.0.1:8080, found {:?}",
                    self.listen
                ),
            );
        }
        if let Some(u) = &self.public_url {
            match url::Url::parse(u) {
                Ok(p) if p.scheme() == "http" || p.scheme() == "https" => {}
                _ => {
                    return bad(
                        "public_url",
                        &format!("an http:// or https:// URL, found {u:?}"),
                    )
                }
            }
        }
        if let Some(url) = &self.database.url {
            alm_store::Backend::from_url(url).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        }
        if alm_notify::smtp::Security::parse(&self.smtp.security).is_none() {
            return bad("smtp.security", "none, starttls or tls");
        }
        if !self.smtp.from.contains('@') {
            return bad("smtp.from", "an email address such as alm@example.com");
        }
        if !(3..=3600).contains(&self.engines.lease_seconds) {
            return bad(
                "engines.lease_seconds",
                "a number of seconds from 3 to 3600",
            );
        }
        if !(1..=1_000_000).contains(&self.server.max_connections) {
            return bad("server.max_connections", "a number from 1 to 1000000");
        }
        for (key, value) in [
            (
                "server.header_read_timeout_seconds",
                self.server.header_read_timeout_seconds,
            ),
            (
                "server.body_read_timeout_seconds",
                self.server.body_read_timeout_seconds,
            ),
        ] {
            if !(1..=3600).contains(&value) {
                return bad(key, "a number of seconds from 1 to 3600");
            }
        }
        if !(1..=86_400).contains(&self.scheduler.interval_seconds) {
            return bad(
                "scheduler.interval_seconds",
                "a number of seconds from 1 to 86400",
            );
        }
        if !(1..=720).contains(&self.auth.session_hours) {
            return bad("auth.session_hours", "a number of hours from 1 to 720");
        }
        if self.auth.max_failed_logins == 0 {
            return bad("auth.max_failed_logins", "at least 1");
        }
        if !(1..=1440).contains(&self.auth.lockout_minutes) {
            return bad("auth.lockout_minutes", "a number of minutes from 1 to 1440");
        }
        if let Some(oidc) = &self.auth.oidc {
            match url::Url::parse(&oidc.issuer) {
                Ok(p) if p.scheme() == "http" || p.scheme() == "https" => {}
                _ => {
                    return bad(
                        "auth.oidc.issuer",
                        &format!("the provider's issuer URL, found {:?}", oidc.issuer),
                    )
                }
            }
            if oidc.client_id.trim().is_empty() {
                return bad(
                    "auth.oidc.client_id",
                    "the client id registered at the provider",
                );
            }
            if self.public_url.is_none() {
                return bad(
                    "public_url",
                    "a URL when auth.oidc is set (the provider redirects back to it)",
                );
            }
        }
        if !self.auth.local_login && self.auth.oidc.is_none() {
            return bad(
                "auth.local_login",
                "true unless auth.oidc is configured (nobody could log in)",
            );
        }
        if self.log.format != "text" && self.log.format != "json" {
            return bad("log.format", "text or json");
        }
        Ok(())
    }

    /// The database URL: the configured one, or SQLite in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(u) => u.clone(),
            None => format!("sqlite://{}", self.data_dir.join("alm.db").display()),
        }
    }

    /// Whether cookies must carry `Secure` (alm is reached over HTTPS).
    pub fn secure_cookies(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
    }

    /// Where the master key file is (when the key is not given directly).
    pub fn master_key_file(&self) -> PathBuf {
        self.secrets
            .master_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("master.key"))
    }

    /// The public base URL without a trailing slash.
    pub fn base_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
            .trim_end_matches('/')
            .to_owned()
    }
}

fn env_name(key: &str) -> String {
    format!("ALM_{}", key.replace('.', "__").to_uppercase())
}

fn apply_env(root: &mut toml::Table, env: &BTreeMap<String, String>) -> Result<(), ConfigError> {
    for (name, raw) in env.iter().filter(|(k, _)| k.starts_with("ALM_")) {
        if OTHER_ENV.contains(&name.as_str()) || name.starts_with(DISCOVER_ENV_PREFIX) {
            continue;
        }
        let (key, kind, value) = match ENV_KEYS.iter().find(|(k, _)| env_name(k) == *name) {
            Some((key, kind)) => (*key, *kind, raw.clone()),
            None => {
                let secret = name.strip_suffix("_FILE").and_then(|base| {
                    ENV_KEYS
                        .iter()
                        .find(|(k, kind)| *kind == Kind::Secret && env_name(k) == base)
                });
                match secret {
                    Some((key, kind)) => {
                        let content = std::fs::read_to_string(raw).map_err(|e| {
                            ConfigError::Invalid(format!(
                                "{name}: cannot read the file {raw:?}: {e}"
                            ))
                        })?;
                        (
                            *key,
                            *kind,
                            content.trim_end_matches(['\n', '\r']).to_owned(),
                        )
                    }
                    None => {
                        let known: Vec<String> =
                            ENV_KEYS.iter().map(|(k, _)| env_name(k)).collect();
                        return Err(ConfigError::Invalid(format!(
                            "{name}: unknown environment variable; alm reads {} (secrets also as NAME_FILE)",
                            known.join(", ")
                        )));
                    }
                }
            }
        };
        let parsed =
            match kind {
                Kind::Text | Kind::Secret => toml::Value::String(value),
                Kind::Bool => match value.as_str() {
                    "true" | "1" | "yes" => toml::Value::Boolean(true),
                    "false" | "0" | "no" => toml::Value::Boolean(false),
                    _ => {
                        return Err(ConfigError::Invalid(format!(
                            "{name}: expected true or false"
                        )))
                    }
                },
                Kind::Number => toml::Value::Integer(value.parse().map_err(|_| {
                    ConfigError::Invalid(format!("{name}: expected a whole number"))
                })?),
                Kind::List => toml::Value::Array(
                    value
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| s.to_owned().into())
                        .collect(),
                ),
            };
        insert_path(root, key, parsed);
    }
    Ok(())
}

fn insert_path(root: &mut toml::Table, key: &str, value: toml::Value) {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().unwrap_or(key);
    let mut table = root;
    for part in parts {
        let entry = table
            .entry(part.to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        table = entry.as_table_mut().expect("just made a table");
    }
    table.insert(last.to_owned(), value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn write(text: &str) -> tempfile_path::TempPath {
        tempfile_path::TempPath::with(text)
    }

    /// A file under the system temp dir removed on drop (no extra crate for one helper).
    mod tempfile_path {
        pub struct TempPath(pub std::path::PathBuf);
        impl TempPath {
            pub fn with(text: &str) -> Self {
                let p =
                    std::env::temp_dir().join(format!("alm-config-{}.toml", uuid::Uuid::new_v4()));
                std::fs::write(&p, text).unwrap();
                Self(p)
            }
        }
        impl Drop for TempPath {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    #[test]
    fn layers_apply_in_order_file_env_flags() {
        let f = write("listen = \"127.0.0.1:9000\"\n[auth]\nsession_hours = 4\n");
        let c = Config::load(
            Some(&f.0),
            &env(&[
                ("ALM_AUTH__SESSION_HOURS", "6"),
                ("ALM_DATABASE__URL", "postgres://a@b/c"),
            ]),
            &Overrides {
                listen: Some("127.0.0.1:9100".into()),
                data_dir: None,
            },
        )
        .unwrap();
        assert_eq!(c.listen, "127.0.0.1:9100");
        assert_eq!(c.auth.session_hours, 6);
        assert_eq!(c.database_url(), "postgres://a@b/c");
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let f = write("[auth]\nsesion_hours = 4\n");
        let e = Config::load(Some(&f.0), &env(&[]), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("sesion_hours"), "{e}");
        let e = Config::load(None, &env(&[("ALM_LISTN", "x")]), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("ALM_LISTN: unknown environment variable"),
            "{e}"
        );
        let e = Config::load(
            None,
            &env(&[("ALM_LISTEN_FILE", "/x")]),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("ALM_LISTEN_FILE"),
            "a non-secret key has no _FILE form: {e}"
        );
    }

    #[test]
    fn trusted_proxies_are_a_list_of_addresses_or_networks() {
        let c = Config::load(
            None,
            &env(&[("ALM_AUTH__TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1")]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(c.auth.trusted_proxies.len(), 2);
        assert!(Config::load(None, &env(&[]), &Overrides::default())
            .unwrap()
            .auth
            .trusted_proxies
            .is_empty());
    }

    #[test]
    fn secrets_can_come_from_files() {
        let secret = write("postgres://alm:s3cret@db/alm\n");
        let c = Config::load(
            None,
            &env(&[("ALM_DATABASE__URL_FILE", secret.0.to_str().unwrap())]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(c.database_url(), "postgres://alm:s3cret@db/alm");
    }

    #[test]
    fn bad_values_name_the_key() {
        for (pairs, key) in [
            (vec![("ALM_LISTEN", "nowhere")], "listen"),
            (vec![("ALM_DATABASE__URL", "mysql://x")], "database.url"),
            (vec![("ALM_AUTH__SESSION_HOURS", "0")], "auth.session_hours"),
            (
                vec![("ALM_AUTH__LOCAL_LOGIN", "maybe")],
                "ALM_AUTH__LOCAL_LOGIN",
            ),
            (vec![("ALM_AUTH__LOCAL_LOGIN", "false")], "auth.local_login"),
            (vec![("ALM_LOG__FORMAT", "xml")], "log.format"),
            (
                vec![("ALM_AUTH__TRUSTED_PROXIES", "10.0.0.1, proxy.local")],
                "auth.trusted_proxies[1]",
            ),
            (
                vec![("ALM_SERVER__MAX_CONNECTIONS", "0")],
                "server.max_connections",
            ),
            (
                vec![("ALM_SERVER__HEADER_READ_TIMEOUT_SECONDS", "0")],
                "server.header_read_timeout_seconds",
            ),
            (
                vec![("ALM_AUTH__OIDC__ISSUER", "https://idp.example.test")],
                "auth.oidc",
            ),
        ] {
            let e = Config::load(None, &env(&pairs), &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(e.contains(key), "expected {key} in {e}");
        }
    }
}

//! The sections of the configuration file, each with its defaults.

use super::*;

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

pub(crate) fn default_smtp_port() -> u16 {
    587
}
pub(crate) fn default_smtp_security() -> String {
    "starttls".into()
}
pub(crate) fn default_smtp_from() -> String {
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
    /// The DNS servers the in-process engine asks for the controllers of domains that want
    /// them found in DNS; empty: the machine's own (`/etc/resolv.conf`).
    #[serde(default)]
    pub nameservers: Vec<Nameserver>,
}

/// One entry of `engines.nameservers`: `10.0.0.53`, or with a port, `10.0.0.53:5353`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Nameserver(pub std::net::SocketAddr);

impl TryFrom<String> for Nameserver {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        alm_directory::dc_discovery::parse_nameserver(&text).map(Nameserver)
    }
}

impl Default for EnginesConfig {
    fn default() -> Self {
        Self {
            in_process: true,
            lease_seconds: default_lease_seconds(),
            nameservers: Vec::new(),
        }
    }
}

pub(crate) fn default_lease_seconds() -> u32 {
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
    /// Days between full directory syncs: scheduled (and API) syncs without a mode are
    /// incremental in between (SPEC §6.1).
    #[serde(default = "default_full_sync_every_days")]
    pub full_sync_every_days: u32,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval_seconds: default_sweep_seconds(),
            full_sync_every_days: default_full_sync_every_days(),
        }
    }
}

impl SchedulerConfig {
    pub fn full_sync_every(&self) -> time::Duration {
        time::Duration::days(i64::from(self.full_sync_every_days))
    }
}

fn default_full_sync_every_days() -> u32 {
    7
}

pub(crate) fn default_sweep_seconds() -> u32 {
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
pub(crate) fn default_max_connections() -> u32 {
    512
}
pub(crate) fn default_read_timeout() -> u32 {
    30
}

/// Timed online backups of a SQLite database (see `workers/backups.rs`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupConfig {
    /// Hours between backups; 0 turns them off. Default: 24 on SQLite; PostgreSQL is backed up
    /// by its own tools, and a value here is refused.
    pub interval_hours: Option<u32>,
    /// How many backups to keep (the oldest beyond are removed).
    #[serde(default = "default_backup_keep")]
    pub keep: u32,
    /// Where they go; default `<data_dir>/backups`.
    pub dir: Option<PathBuf>,
    /// Seconds between looks at whether a backup is due.
    #[serde(default = "default_backup_check")]
    pub check_seconds: u32,
}

impl Default for BackupConfig {
    fn default() -> Self {
        Self {
            interval_hours: None,
            keep: default_backup_keep(),
            dir: None,
            check_seconds: default_backup_check(),
        }
    }
}

pub(crate) fn default_backup_keep() -> u32 {
    7
}
pub(crate) fn default_backup_check() -> u32 {
    60
}

/// HTTPS served by alm itself (see `tls/`). Without `cert_file` alm serves plain HTTP, for a
/// TLS-terminating reverse proxy in front of it (`auth.trusted_proxies`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file with the server certificate, then its intermediates.
    pub cert_file: Option<PathBuf>,
    /// PEM file with the certificate's private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: Option<PathBuf>,
    /// A plain-HTTP address (such as `0.0.0.0:80`) that only redirects to HTTPS.
    pub redirect_listen: Option<String>,
    /// `Strict-Transport-Security: max-age` in seconds (0 leaves the header out).
    #[serde(default = "default_hsts_max_age")]
    pub hsts_max_age_seconds: u32,
    /// A certificate from an ACME CA (RFC 8555) instead of files: obtained at first start,
    /// renewed before it expires (see `tls/acme.rs`).
    pub acme: Option<AcmeConfig>,
}

/// Where and how alm gets its certificate by ACME. The HTTP-01 challenge is answered on
/// `tls.redirect_listen`, which must be reachable as port 80 of every domain.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcmeConfig {
    /// The names the certificate is for (people's `public_url` host among them).
    pub domains: Vec<String>,
    /// The contact address given to the CA (expiry warnings, account recovery).
    pub email: String,
    /// The CA's directory URL (default: Let's Encrypt).
    #[serde(default = "default_acme_directory")]
    pub directory_url: String,
    /// PEM file of the CA that signed the ACME server's own HTTPS certificate (a private CA;
    /// default: the system's store).
    pub directory_ca_file: Option<PathBuf>,
    /// Renew when less than this share of the certificate's lifetime is left (Let's Encrypt's
    /// 90 days: renewed with 30 left).
    #[serde(default = "default_renew_percent")]
    pub renew_when_remaining_percent: u32,
    /// Seconds between looks at whether the certificate is due.
    #[serde(default = "default_acme_check")]
    pub check_seconds: u32,
}

pub(crate) fn default_acme_directory() -> String {
    "https://acme-v02.api.letsencrypt.org/directory".into()
}
pub(crate) fn default_renew_percent() -> u32 {
    33
}
pub(crate) fn default_acme_check() -> u32 {
    3600
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            cert_file: None,
            key_file: None,
            redirect_listen: None,
            hsts_max_age_seconds: default_hsts_max_age(),
            acme: None,
        }
    }
}

/// One year: what browsers' preload lists ask for, and long enough to outlast a visit.
pub(crate) fn default_hsts_max_age() -> u32 {
    31_536_000
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

pub(crate) fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
pub(crate) fn default_data_dir() -> PathBuf {
    PathBuf::from("/var/lib/alm")
}
pub(crate) fn yes() -> bool {
    true
}
pub(crate) fn default_session_hours() -> u32 {
    12
}
pub(crate) fn default_max_failures() -> u32 {
    5
}
pub(crate) fn default_lockout_minutes() -> u32 {
    15
}
pub(crate) fn default_log_format() -> String {
    "text".into()
}
pub(crate) fn default_log_level() -> String {
    "info".into()
}

//! The `ALM_*` variables alm reads: every configuration key the environment may set (with
//! its kind), and the variables other subcommands read, which `alm serve` must not refuse.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Text,
    Secret,
    Bool,
    Number,
    List,
}

/// Every key the environment may set.
pub(crate) const ENV_KEYS: &[(&str, Kind)] = &[
    ("listen", Kind::Text),
    ("data_dir", Kind::Text),
    ("public_url", Kind::Text),
    ("server.max_connections", Kind::Number),
    ("server.header_read_timeout_seconds", Kind::Number),
    ("server.body_read_timeout_seconds", Kind::Number),
    ("tls.cert_file", Kind::Text),
    ("tls.key_file", Kind::Text),
    ("tls.redirect_listen", Kind::Text),
    ("tls.hsts_max_age_seconds", Kind::Number),
    ("tls.acme.domains", Kind::List),
    ("tls.acme.email", Kind::Text),
    ("tls.acme.directory_url", Kind::Text),
    ("tls.acme.directory_ca_file", Kind::Text),
    ("tls.acme.renew_when_remaining_percent", Kind::Number),
    ("tls.acme.check_seconds", Kind::Number),
    ("backup.interval_hours", Kind::Number),
    ("backup.keep", Kind::Number),
    ("backup.dir", Kind::Text),
    ("backup.check_seconds", Kind::Number),
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
    ("engines.nameservers", Kind::List),
    ("scheduler.enabled", Kind::Bool),
    ("scheduler.interval_seconds", Kind::Number),
    ("scheduler.full_sync_every_days", Kind::Number),
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
    // `alm db backup --with-key` and `alm db restore --key-file` read the passphrase here.
    "ALM_BACKUP_PASSPHRASE",
    "ALM_BACKUP_PASSPHRASE_FILE",
    // `alm engine` reads these; a server on the same host must not refuse them.
    "ALM_ENGINE_SERVER",
    "ALM_ENGINE_TOKEN",
    "ALM_ENGINE_DATA_DIR",
    "ALM_ENGINE_SERVER_CA",
    "ALM_ENGINE_NAMESERVERS",
    // `alm discover --import` reads the API token from it.
    "ALM_IMPORT_TOKEN",
];

/// `ALM_*` variables under this prefix belong to `alm install` (one per option).
pub const INSTALL_ENV_PREFIX: &str = "ALM_INSTALL_";

/// `ALM_*` variables under this prefix belong to `alm discover` (one per option): a server
/// started in the same shell must not refuse them.
pub const DISCOVER_ENV_PREFIX: &str = "ALM_DISCOVER_";

//! Configuration: defaults, then the TOML file, then `ALM_*` environment variables, then
//! command-line flags. Every error names the key and the expected form.
//!
//! Environment names are the key path in capitals with `__` between levels
//! (`auth.oidc.client_id` → `ALM_AUTH__OIDC__CLIENT_ID`). Secrets may instead be given as a
//! file with the `_FILE` suffix. An `ALM_*` variable that names no key is refused by name,
//! so a typo never silently falls back to a default.

mod env;
mod known_env;
mod sections;

pub(crate) use env::apply_env;
pub(crate) use known_env::{Kind, ENV_KEYS};
pub use known_env::{DISCOVER_ENV_PREFIX, INSTALL_ENV_PREFIX, OTHER_ENV};
pub(crate) use sections::{default_data_dir, default_listen};
pub use sections::{
    AcmeConfig, AuthConfig, BackupConfig, DatabaseConfig, EnginesConfig, LogConfig, OidcConfig,
    SchedulerConfig, SecretsConfig, ServerConfig, SmtpSettings, TlsConfig,
};

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
    pub tls: TlsConfig,
    #[serde(default)]
    pub backup: BackupConfig,
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
                    ConfigError::Invalid(format!("{}: {inner}", quote_empty_keys(&path)))
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
        match (&self.tls.cert_file, &self.tls.key_file) {
            (Some(_), None) => return bad("tls.key_file", "the key file of tls.cert_file"),
            (None, Some(_)) => return bad("tls.cert_file", "the certificate file of tls.key_file"),
            _ => {}
        }
        if let Some(acme) = &self.tls.acme {
            if self.tls.cert_file.is_some() {
                return bad(
                    "tls.acme",
                    "no value with tls.cert_file: one source of certificates",
                );
            }
            if self.tls.redirect_listen.is_none() {
                return bad(
                    "tls.redirect_listen",
                    "an address (port 80 of the domains, e.g. 0.0.0.0:80) with tls.acme: the CA checks the HTTP-01 challenge there",
                );
            }
            if acme.domains.is_empty() {
                return bad(
                    "tls.acme.domains",
                    "at least one DNS name the certificate is for",
                );
            }
            for (i, d) in acme.domains.iter().enumerate() {
                let ok = !d.is_empty()
                    && d.len() <= 253
                    && d.split('.').all(|l| {
                        !l.is_empty()
                            && l.len() <= 63
                            && !l.starts_with('-')
                            && !l.ends_with('-')
                            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    });
                if !ok {
                    return bad(
                        &format!("tls.acme.domains[{i}]"),
                        &format!("a DNS name such as alm.example.com (no wildcard: HTTP-01 cannot prove one), found {d:?}"),
                    );
                }
            }
            if alm_core::Email::parse("tls.acme.email", &acme.email).is_err() {
                return bad(
                    "tls.acme.email",
                    "an email address such as admin@example.com",
                );
            }
            match url::Url::parse(&acme.directory_url) {
                Ok(u) if u.scheme() == "https" => {}
                _ => {
                    return bad(
                        "tls.acme.directory_url",
                        &format!(
                            "the CA's https:// directory URL, found {:?}",
                            acme.directory_url
                        ),
                    )
                }
            }
            if !(1..=90).contains(&acme.renew_when_remaining_percent) {
                return bad(
                    "tls.acme.renew_when_remaining_percent",
                    "a percentage from 1 to 90",
                );
            }
            if !(1..=86_400).contains(&acme.check_seconds) {
                return bad(
                    "tls.acme.check_seconds",
                    "a number of seconds from 1 to 86400",
                );
            }
        }
        if let Some(redirect) = &self.tls.redirect_listen {
            if !self.serves_tls() {
                return bad(
                    "tls.redirect_listen",
                    "no value unless alm serves HTTPS (tls.cert_file and tls.key_file, or tls.acme)",
                );
            }
            if redirect.parse::<SocketAddr>().is_err() {
                return bad(
                    "tls.redirect_listen",
                    &format!("an address and port such as 0.0.0.0:80, found {redirect:?}"),
                );
            }
        }
        if self.serves_tls() {
            if let Some(u) = self
                .public_url
                .as_deref()
                .filter(|u| !u.starts_with("https://"))
            {
                return bad(
                    "public_url",
                    &format!("an https:// URL when alm serves HTTPS, found {u:?}"),
                );
            }
        }
        if let Some(hours) = self.backup.interval_hours {
            if hours > 8760 {
                return bad(
                    "backup.interval_hours",
                    "a number of hours from 0 (off) to 8760",
                );
            }
            if hours > 0 && self.is_postgres() {
                return bad(
                    "backup.interval_hours",
                    "0 or no value with PostgreSQL: back it up with pg_dump or WAL archiving (README, Backups)",
                );
            }
        }
        if !(1..=1000).contains(&self.backup.keep) {
            return bad("backup.keep", "a number of backups from 1 to 1000");
        }
        if !(1..=3600).contains(&self.backup.check_seconds) {
            return bad("backup.check_seconds", "a number of seconds from 1 to 3600");
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
        if !(1..=365).contains(&self.scheduler.full_sync_every_days) {
            return bad(
                "scheduler.full_sync_every_days",
                "a number of days from 1 to 365",
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

    fn is_postgres(&self) -> bool {
        self.database.url.as_deref().is_some_and(|u| {
            matches!(
                alm_store::Backend::from_url(u),
                Ok(alm_store::Backend::Postgres)
            )
        })
    }

    /// How often the server backs up its SQLite database; None when it does not.
    pub fn backup_interval(&self) -> Option<time::Duration> {
        let hours = match self.backup.interval_hours {
            Some(h) => h,
            None if self.is_postgres() => 0,
            None => 24,
        };
        (hours > 0).then(|| time::Duration::hours(i64::from(hours)))
    }

    /// Where timed backups go.
    pub fn backup_dir(&self) -> PathBuf {
        self.backup
            .dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("backups"))
    }

    /// Whether alm terminates TLS itself (`tls.cert_file`, or `tls.acme`).
    pub fn serves_tls(&self) -> bool {
        self.tls.cert_file.is_some() || self.tls.acme.is_some()
    }

    /// Whether cookies must carry `Secure` (alm is reached over HTTPS).
    pub fn secure_cookies(&self) -> bool {
        self.serves_tls()
            || self
                .public_url
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
            .unwrap_or_else(|| {
                let scheme = if self.serves_tls() { "https" } else { "http" };
                format!("{scheme}://{}", self.listen)
            })
            .trim_end_matches('/')
            .to_owned()
    }
}

/// A key path as the message names it: an empty key (`"" = 1` in TOML) is shown as `""`, so
/// the message still says which key it is about (`tls."": unknown field …`).
fn quote_empty_keys(path: &str) -> String {
    path.split('.')
        .map(|segment| if segment.is_empty() { "\"\"" } else { segment })
        .collect::<Vec<_>>()
        .join(".")
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
    fn tls_settings_must_go_together() {
        let load = |pairs: &[(&str, &str)]| {
            Config::load(None, &env(pairs), &Overrides::default()).map_err(|e| e.to_string())
        };
        let e = load(&[("ALM_TLS__CERT_FILE", "/c.pem")]).unwrap_err();
        assert!(e.starts_with("tls.key_file: expected"), "{e}");
        let e = load(&[("ALM_TLS__KEY_FILE", "/k.pem")]).unwrap_err();
        assert!(e.starts_with("tls.cert_file: expected"), "{e}");
        let e = load(&[("ALM_TLS__REDIRECT_LISTEN", "0.0.0.0:80")]).unwrap_err();
        assert!(
            e.contains("tls.redirect_listen") && e.contains("HTTPS"),
            "{e}"
        );
        let both = [
            ("ALM_TLS__CERT_FILE", "/c.pem"),
            ("ALM_TLS__KEY_FILE", "/k.pem"),
        ];
        let e = load(&[both[0], both[1], ("ALM_TLS__REDIRECT_LISTEN", "port 80")]).unwrap_err();
        assert!(
            e.contains("tls.redirect_listen") && e.contains("\"port 80\""),
            "{e}"
        );
        let e = load(&[
            both[0],
            both[1],
            ("ALM_PUBLIC_URL", "http://alm.example.com"),
        ])
        .unwrap_err();
        assert!(e.starts_with("public_url: expected an https:// URL"), "{e}");
        let acme = [
            ("ALM_TLS__ACME__DOMAINS", "alm.example.com"),
            ("ALM_TLS__ACME__EMAIL", "a@example.com"),
        ];
        let e = load(&acme).unwrap_err();
        assert!(
            e.starts_with("tls.redirect_listen: expected an address") && e.contains("HTTP-01"),
            "{e}"
        );
        let redirect = ("ALM_TLS__REDIRECT_LISTEN", "0.0.0.0:80");
        let e = load(&[acme[0], acme[1], redirect, both[0], both[1]]).unwrap_err();
        assert!(
            e.starts_with("tls.acme: expected no value with tls.cert_file"),
            "{e}"
        );
        let e = load(&[
            ("ALM_TLS__ACME__DOMAINS", "*.example.com"),
            acme[1],
            redirect,
        ])
        .unwrap_err();
        assert!(
            e.starts_with("tls.acme.domains[0]:") && e.contains("no wildcard"),
            "{e}"
        );
        let e = load(&[acme[0], ("ALM_TLS__ACME__EMAIL", "nobody"), redirect]).unwrap_err();
        assert!(e.starts_with("tls.acme.email:"), "{e}");
        let e = load(&[
            acme[0],
            acme[1],
            redirect,
            ("ALM_TLS__ACME__DIRECTORY_URL", "http://ca.example.com/dir"),
        ])
        .unwrap_err();
        assert!(e.starts_with("tls.acme.directory_url:"), "{e}");
        let c = load(&[acme[0], acme[1], redirect]).unwrap();
        assert!(c.serves_tls());
        assert_eq!(
            c.tls.acme.as_ref().unwrap().directory_url,
            "https://acme-v02.api.letsencrypt.org/directory"
        );
        let c = load(&both).unwrap();
        assert!(c.serves_tls() && c.secure_cookies());
        assert_eq!(c.base_url(), "https://127.0.0.1:8080");
        assert_eq!(c.tls.hsts_max_age_seconds, 31_536_000);
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
    fn an_empty_key_is_named_as_such() {
        for (text, key) in [("\"\" = 1\n", "\"\""), ("[auth]\n\"\" = 1\n", "auth.\"\"")] {
            let f = write(text);
            let e = Config::load(Some(&f.0), &env(&[]), &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(&format!("{key}: unknown field")),
                "{text:?}: {e}"
            );
        }
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
                vec![("ALM_ENGINES__NAMESERVERS", "10.0.0.53:5353, dns.corp")],
                "engines.nameservers[1]",
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

#[cfg(test)]
mod fuzz;

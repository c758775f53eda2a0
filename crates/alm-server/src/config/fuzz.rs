//! Fuzz targets of the configuration loader (`Config::load`): a TOML file with any text, and
//! the same settings given as `ALM_*` variables. Loading never panics and never reads a file
//! it was not given; a refusal names the key; what loads holds what the server relies on; a
//! value set in the environment loads exactly as the same value in the file.
//!
//! These run only under `cargo test` (a second of random input each, in CI): building
//! alm-server with the coverage-instrumented fuzz profile takes too long for every run, so
//! `scripts/fuzz.sh` leaves them out. By hand: `cargo bolero test
//! config::fuzz::fuzz_config_file -p alm-server --sanitizer NONE -T 60s`.

use super::env::{env_name, insert_path};
use super::*;
use bolero::TypeGenerator;

/// Values that get past the first checks (addresses, URLs, names the keys expect), or any.
const SAMPLES: &[&str] = &[
    "127.0.0.1:8080",
    "0.0.0.0:80",
    "[::1]:443",
    "localhost:8080",
    "https://alm.example.com/",
    "http://alm.example.com",
    "ftp://x",
    "postgres://alm@db/alm",
    "sqlite:///tmp/alm.db",
    "mysql://x",
    "text",
    "json",
    "none",
    "starttls",
    "tls",
    "admin@example.com",
    "alm.example.com",
    "*.example.com",
    "/etc/alm/alm.pem",
    "",
    " ",
    "info,alm=debug",
    "https://acme.example/dir",
];

#[derive(Debug, Clone, TypeGenerator)]
enum Text {
    Sample(u8),
    Any(String),
}

impl Text {
    fn text(&self) -> String {
        match self {
            Text::Sample(i) => SAMPLES[usize::from(*i) % SAMPLES.len()].to_owned(),
            Text::Any(s) => s.clone(),
        }
    }
}

/// One setting: a known key (by index) with a value of its kind, or of any shape.
#[derive(Debug, Clone, TypeGenerator)]
struct Setting {
    key: u8,
    text: Text,
    number: i64,
    /// Which spelling of a boolean the variable uses (`true`/`1`/`yes`, `false`/`0`/`no`).
    flag: u8,
    list: Vec<Text>,
    /// In the file only: a value of the wrong shape (a table, a number for text …).
    misshapen: Option<u8>,
}

impl Setting {
    fn key(&self) -> (&'static str, Kind) {
        ENV_KEYS[usize::from(self.key) % ENV_KEYS.len()]
    }

    /// The list items as the environment can carry them (comma-separated, trimmed, non-empty).
    fn items(&self) -> Vec<String> {
        self.list
            .iter()
            .map(|t| t.text().replace(',', "").trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    }

    fn toml(&self) -> toml::Value {
        match self.key().1 {
            Kind::Text | Kind::Secret => toml::Value::String(self.text.text()),
            Kind::Bool => toml::Value::Boolean(self.flag.is_multiple_of(2)),
            Kind::Number => toml::Value::Integer(self.number),
            Kind::List => toml::Value::Array(self.items().into_iter().map(Into::into).collect()),
        }
    }

    fn env(&self) -> String {
        match self.key().1 {
            Kind::Text | Kind::Secret => self.text.text(),
            Kind::Bool => {
                ["true", "false", "1", "0", "yes", "no"][usize::from(self.flag % 6)].to_owned()
            }
            Kind::Number => self.number.to_string(),
            Kind::List => self.items().join(","),
        }
    }
}

#[derive(Debug, TypeGenerator)]
struct FileInput {
    /// Any text instead of settings, now and then.
    raw: Option<String>,
    settings: Vec<Setting>,
    /// A key no version of alm has.
    unknown: Option<String>,
}

/// A file of this test's own in the temp directory, rewritten for each input.
struct ConfigFile(std::path::PathBuf);

impl ConfigFile {
    fn new(name: &str) -> Self {
        Self(std::env::temp_dir().join(format!(
            "alm-config-fuzz-{}-{name}.toml",
            std::process::id()
        )))
    }

    fn load(&self, text: &str) -> Result<Config, ConfigError> {
        std::fs::write(&self.0, text).expect("the temp dir is writable");
        Config::load(Some(&self.0), &BTreeMap::new(), &Overrides::default())
    }
}

impl Drop for ConfigFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// What the server takes for granted once the configuration loaded.
fn assert_usable(c: &Config) {
    assert!(c.listen.parse::<SocketAddr>().is_ok(), "{:?}", c.listen);
    assert!(matches!(c.log.format.as_str(), "text" | "json"));
    assert!((1..=1000).contains(&c.backup.keep));
    assert!(!c.base_url().ends_with('/'));
    assert!(alm_store::Backend::from_url(&c.database_url()).is_ok());
    if c.serves_tls() {
        assert!(c.secure_cookies());
        assert!(c
            .public_url
            .as_deref()
            .is_none_or(|u| u.starts_with("https://")));
    }
    assert!(c.auth.local_login || c.auth.oidc.is_some());
}

#[test]
fn fuzz_config_file() {
    let file = ConfigFile::new("file");
    bolero::check!().with_type::<FileInput>().for_each(|input| {
        let text = match &input.raw {
            Some(raw) => raw.clone(),
            None => {
                let mut root = toml::Table::new();
                for s in &input.settings {
                    let value = match s.misshapen {
                        Some(0) => toml::Value::Table(toml::Table::new()),
                        Some(1) => toml::Value::Integer(s.number),
                        Some(2) => toml::Value::String(s.text.text()),
                        _ => s.toml(),
                    };
                    insert_path(&mut root, s.key().0, value);
                }
                if let Some(key) = &input.unknown {
                    root.insert(key.clone(), toml::Value::Boolean(true));
                }
                toml::to_string(&root).expect("a table serialises")
            }
        };
        match file.load(&text) {
            Ok(config) => assert_usable(&config),
            Err(ConfigError::Syntax { path, message }) => {
                assert!(text.parse::<toml::Table>().is_err(), "{message}");
                assert_eq!(path, file.0);
            }
            Err(ConfigError::Invalid(message)) => {
                // "key: what was expected" (or "configuration: …" for the file as a whole).
                let (key, why) = message
                    .split_once(": ")
                    .unwrap_or_else(|| panic!("{message:?}"));
                assert!(!why.trim().is_empty(), "{message:?}");
                // A key named "" (`"" = 1`) is named `""` before the colon.
                assert!(!key.is_empty(), "{message:?}");
                assert!(
                    key.split('.').all(|segment| !segment.is_empty()),
                    "{message:?}"
                );
            }
            Err(e @ ConfigError::Read { .. }) => panic!("{e}"),
        }
    });
}

/// The same settings as `ALM_*` variables and as a file load to the same configuration, or
/// to the same refusal.
#[test]
fn fuzz_config_env_matches_file() {
    let file = ConfigFile::new("env");
    bolero::check!()
        .with_type::<Vec<Setting>>()
        .for_each(|settings| {
            let mut root = toml::Table::new();
            let mut env = BTreeMap::new();
            for s in settings {
                insert_path(&mut root, s.key().0, s.toml());
                env.insert(env_name(s.key().0), s.env());
            }
            let text = toml::to_string(&root).expect("a table serialises");
            let from_file = file
                .load(&text)
                .map(|c| format!("{c:?}"))
                .map_err(|e| e.to_string());
            let from_env = Config::load(None, &env, &Overrides::default())
                .map(|c| format!("{c:?}"))
                .map_err(|e| e.to_string());
            assert_eq!(from_env, from_file, "{env:?}\n{text}");
        });
}

//! Applying `ALM_*` variables over the file: each names a key (or is refused by name), a secret
//! may come from a `_FILE`, values parse as the key's kind.

use super::*;

pub(crate) fn env_name(key: &str) -> String {
    format!("ALM_{}", key.replace('.', "__").to_uppercase())
}

pub(crate) fn apply_env(
    root: &mut toml::Table,
    env: &BTreeMap<String, String>,
) -> Result<(), ConfigError> {
    for (name, raw) in env.iter().filter(|(k, _)| k.starts_with("ALM_")) {
        if OTHER_ENV.contains(&name.as_str())
            || name.starts_with(DISCOVER_ENV_PREFIX)
            || name.starts_with(INSTALL_ENV_PREFIX)
        {
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

pub(crate) fn insert_path(root: &mut toml::Table, key: &str, value: toml::Value) {
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

//! The configuration file `alm install` writes: the existing file's table (so settings the
//! administrator added by hand survive a re-run) with the answers set over it, validated by
//! alm's own configuration loader, then written whole — a temporary file in the same directory,
//! renamed over the old one — mode 640 (group `alm` when it exists, so the service can read it).

use super::answers::Answers;
use super::TlsChoice;
use anyhow::Context;
use std::path::Path;
use toml::{Table, Value};

/// The file as it is, or an empty table when there is none.
pub fn read_existing(path: &Path) -> anyhow::Result<Table> {
    match std::fs::read_to_string(path) {
        Ok(text) => text.parse::<Table>().map_err(|e| {
            anyhow::anyhow!(
                "--config: {} is not valid TOML: {}",
                path.display(),
                e.message()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Table::new()),
        Err(e) => Err(anyhow::anyhow!(
            "--config: cannot read {}: {e}",
            path.display()
        )),
    }
}

fn section<'a>(t: &'a mut Table, name: &str) -> &'a mut Table {
    if !matches!(t.get(name), Some(Value::Table(_))) {
        t.insert(name.into(), Value::Table(Table::new()));
    }
    match t.get_mut(name) {
        Some(Value::Table(s)) => s,
        _ => unreachable!("inserted above"),
    }
}

fn set(t: &mut Table, key: &str, value: Option<String>) {
    match value {
        Some(v) => {
            t.insert(key.into(), Value::String(v));
        }
        None => {
            t.remove(key);
        }
    }
}

/// The answers over the existing table.
pub fn render(existing: &Table, a: &Answers) -> Table {
    let mut t = existing.clone();
    t.insert(
        "data_dir".into(),
        Value::String(a.data_dir.display().to_string()),
    );
    t.insert("public_url".into(), Value::String(a.public_url.clone()));
    t.insert("listen".into(), Value::String(a.listen.clone()));
    {
        let tls = section(&mut t, "tls");
        tls.remove("acme");
        set(
            tls,
            "cert_file",
            a.tls_cert.as_ref().map(|p| p.display().to_string()),
        );
        set(
            tls,
            "key_file",
            a.tls_key.as_ref().map(|p| p.display().to_string()),
        );
        set(tls, "redirect_listen", a.redirect_listen.clone());
        if a.tls == TlsChoice::Acme {
            let mut acme = Table::new();
            let host = url::Url::parse(&a.public_url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_default();
            acme.insert("domains".into(), Value::Array(vec![Value::String(host)]));
            acme.insert(
                "email".into(),
                Value::String(a.acme_email.clone().unwrap_or_default()),
            );
            if let Some(d) = &a.acme_directory {
                acme.insert("directory_url".into(), Value::String(d.clone()));
            }
            tls.insert("acme".into(), Value::Table(acme));
        }
    }
    if t.get("tls")
        .and_then(Value::as_table)
        .is_some_and(Table::is_empty)
    {
        t.remove("tls");
    }
    set(section(&mut t, "database"), "url", a.database_url.clone());
    if t.get("database")
        .and_then(Value::as_table)
        .is_some_and(Table::is_empty)
    {
        t.remove("database");
    }
    {
        let auth = section(&mut t, "auth");
        match &a.oidc {
            Some((issuer, client_id, secret)) => {
                let mut oidc = auth
                    .get("oidc")
                    .and_then(Value::as_table)
                    .cloned()
                    .unwrap_or_default();
                oidc.insert("issuer".into(), Value::String(issuer.clone()));
                oidc.insert("client_id".into(), Value::String(client_id.clone()));
                oidc.insert("client_secret".into(), Value::String(secret.clone()));
                auth.insert("oidc".into(), Value::Table(oidc));
            }
            None => {
                auth.remove("oidc");
            }
        }
    }
    if t.get("auth")
        .and_then(Value::as_table)
        .is_some_and(Table::is_empty)
    {
        t.remove("auth");
    }
    match &a.smtp {
        Some(s) => {
            let smtp = section(&mut t, "smtp");
            smtp.insert("host".into(), Value::String(s.host.clone()));
            smtp.insert("port".into(), Value::Integer(i64::from(s.port)));
            smtp.insert("security".into(), Value::String(s.security.clone()));
            smtp.insert("from".into(), Value::String(s.from.clone()));
            set(smtp, "username", s.username.clone());
            set(smtp, "password", s.password.clone());
        }
        None => {
            t.remove("smtp");
        }
    }
    t
}

/// The table as alm will read it: loaded by alm's own loader (which refuses what `alm serve`
/// would refuse, naming the key), without the process's `ALM_*` variables.
pub fn validate(table: &Table, path: &Path) -> anyhow::Result<alm_server::Config> {
    let dir = std::env::temp_dir().join(format!("alm-install-{}", std::process::id()));
    alm_store::files::create_private_dir_all(&dir)?;
    let probe = dir.join("alm.toml");
    // The answers hold secrets: the probe is as private as the file it stands for.
    {
        use std::io::Write;
        let _ = std::fs::remove_file(&probe);
        alm_store::files::create_private_file(&probe)?
            .write_all(toml::to_string(table)?.as_bytes())?;
    }
    let loaded = alm_server::Config::load(Some(&probe), &Default::default(), &Default::default());
    let _ = std::fs::remove_dir_all(&dir);
    loaded.map_err(|e| {
        anyhow::anyhow!(
            "the configuration for {} would be refused: {e}",
            path.display()
        )
    })
}

/// Writes the file whole: a temporary file beside it, renamed over it.
pub fn write(path: &Path, table: &Table) -> anyhow::Result<()> {
    use std::io::Write;
    let text = format!(
        "# Written by `alm install`; a re-run changes it (settings added by hand are kept).\n# Every key: README, \"Configuration\".\n{}",
        toml::to_string(table)?
    );
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .with_context(|| format!("--config: cannot create {}", dir.display()))?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".new");
    let tmp = std::path::PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    let result = (|| -> anyhow::Result<()> {
        let mut file = alm_store::files::create_private_file(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        if group_alm_exists() {
            let _ = std::process::Command::new("chgrp")
                .arg("alm")
                .arg(&tmp)
                .status();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o640))?;
        }
        std::fs::rename(&tmp, path)?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(anyhow::anyhow!(
            "--config: cannot write {}: {e}",
            path.display()
        ));
    }
    Ok(())
}

/// Whether the package's group `alm` exists (and this process may hand files to it).
pub fn group_alm_exists() -> bool {
    // SAFETY-free: ask getent rather than parse /etc/group by hand (NSS may hold it elsewhere).
    std::process::Command::new("getent")
        .args(["group", "alm"])
        .output()
        .is_ok_and(|o| o.status.success())
}

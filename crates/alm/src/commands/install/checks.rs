//! Each answer of `alm install` tried against the real thing before anything is written; an
//! error names the setting and what answered (never a password).

use super::refused;
use alm_server::Config;
use std::time::Duration;

/// The data directory exists (created 700) and takes files.
pub fn data_dir(config: &Config) -> anyhow::Result<()> {
    alm_store::files::create_private_dir_all(&config.data_dir).map_err(|e| {
        refused(
            "--data-dir",
            format!("cannot create {}: {e}", config.data_dir.display()),
        )
    })?;
    let probe = config.data_dir.join(".alm-install-check");
    std::fs::write(&probe, b"").map_err(|e| {
        refused(
            "--data-dir",
            format!("{} is not writable: {e}", config.data_dir.display()),
        )
    })?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// PostgreSQL answers (SQLite needs nothing more than the data directory).
pub async fn database(config: &Config) -> anyhow::Result<()> {
    let Some(url) = &config.database.url else {
        return Ok(());
    };
    // One connection, tried once (a pool would retry a refused connection until its timeout
    // and hide why).
    sqlx::any::install_default_drivers();
    let shown = alm_store::db::redact(url);
    let connected = tokio::time::timeout(
        Duration::from_secs(15),
        <sqlx::AnyConnection as sqlx::Connection>::connect(url),
    )
    .await;
    match connected {
        Ok(Ok(mut conn)) => {
            let answered = sqlx::query("SELECT 1").execute(&mut conn).await;
            let _ = sqlx::Connection::close(conn).await;
            answered.map(drop).map_err(|e| {
                refused(
                    "--database-url",
                    format!(
                        "{shown} does not answer queries: {}",
                        alm_store::db::redact(&e.to_string())
                    ),
                )
            })
        }
        Ok(Err(e)) => Err(refused(
            "--database-url",
            format!(
                "cannot connect to {shown}: {}",
                alm_store::db::redact(&e.to_string())
            ),
        )),
        Err(_) => Err(refused(
            "--database-url",
            format!("{shown} did not answer within 15 s"),
        )),
    }
}

/// The certificate pair loads and goes together.
pub fn tls(config: &Config) -> anyhow::Result<()> {
    if let (Some(cert), Some(key)) = (&config.tls.cert_file, &config.tls.key_file) {
        alm_server::tls::cert_files::CertFiles::new(cert.clone(), key.clone())
            .load()
            .map_err(|e| refused("--tls-cert", format!("{e:#}")))?;
    }
    Ok(())
}

/// The OIDC provider serves its discovery document, and names itself the issuer given.
pub async fn oidc(config: &Config) -> anyhow::Result<()> {
    let Some(oidc) = &config.auth.oidc else {
        return Ok(());
    };
    let issuer = oidc.issuer.trim_end_matches('/');
    let url = format!("{issuer}/.well-known/openid-configuration");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()?;
    let response = client.get(&url).send().await.map_err(|e| {
        refused(
            "--oidc-issuer",
            format!(
                "{url} cannot be fetched: {}",
                alm_core::error_chain::error_chain(&e)
            ),
        )
    })?;
    if !response.status().is_success() {
        return Err(refused(
            "--oidc-issuer",
            format!(
                "{url} answered {}: not an OIDC provider's discovery document",
                response.status()
            ),
        ));
    }
    let document: serde_json::Value = response.json().await.map_err(|e| {
        refused(
            "--oidc-issuer",
            format!("{url} is not a discovery document (not JSON: {e})"),
        )
    })?;
    let named = document["issuer"]
        .as_str()
        .unwrap_or_default()
        .trim_end_matches('/');
    if named != issuer {
        return Err(refused(
            "--oidc-issuer",
            format!("{url} names the issuer {named:?}, not {issuer:?}"),
        ));
    }
    Ok(())
}

/// The SMTP server takes a connection (with TLS and login as configured).
pub async fn smtp(config: &Config) -> anyhow::Result<()> {
    let Some(sender) = alm_server::workers::mailer::smtp_sender(config)? else {
        return Ok(());
    };
    let host = config.smtp.host.clone().unwrap_or_default();
    tokio::time::timeout(Duration::from_secs(30), sender.check())
        .await
        .map_err(|_| {
            refused(
                "--smtp-host",
                format!("{host}:{} did not answer within 30 s", config.smtp.port),
            )
        })?
        .map_err(|e| {
            refused(
                "--smtp-host",
                format!("cannot use {host}:{}: {e}", config.smtp.port),
            )
        })
}

/// Run as root on a machine with the package's user: the data directory becomes the service's.
pub fn hand_over_to_service_user(config: &Config) {
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let user = std::process::Command::new("getent")
        .args(["passwd", "alm"])
        .output()
        .is_ok_and(|o| o.status.success());
    if root && user {
        let _ = std::process::Command::new("chown")
            .args(["-R", "alm:alm"])
            .arg(&config.data_dir)
            .status();
    }
}

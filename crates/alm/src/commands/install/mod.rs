//! `alm install` (SPEC §12): asks — or reads from flags and `ALM_INSTALL_*` variables — the
//! public URL, TLS, the database, the first administrator, the OIDC provider and SMTP; checks
//! each against the real thing (connects to PostgreSQL and SMTP, fetches the OIDC discovery
//! document, loads the certificate pair, writes into the data directory); then writes the master
//! key, creates the administrator, and writes the configuration file last, whole, so a refused
//! answer leaves no half-written configuration. Re-running it starts from the file it wrote and
//! changes only what is answered differently: the administrator and the key stay.

mod answers;
mod checks;
mod config_file;

use alm_core::SystemClock;
use alm_server::services::bootstrap::{self, AdminBootstrap};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TlsChoice {
    /// Plain HTTP, behind a TLS-terminating reverse proxy.
    None,
    /// alm serves HTTPS with a certificate and key from files.
    Files,
    /// alm gets its certificate from an ACME CA (Let's Encrypt by default).
    Acme,
}

#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// The configuration file to write (read first when it exists: a re-run changes it).
    #[arg(long, env = "ALM_INSTALL_CONFIG", default_value = "/etc/alm/alm.toml")]
    pub config: PathBuf,
    /// Where alm keeps its data (SQLite database, master key, backups).
    #[arg(long, env = "ALM_INSTALL_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Never ask: take every answer from flags, the environment, or the existing file.
    #[arg(long)]
    pub non_interactive: bool,
    /// How people reach alm, e.g. https://alm.example.com.
    #[arg(long, env = "ALM_INSTALL_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The address to listen on (default 0.0.0.0:443 when alm serves HTTPS, else 127.0.0.1:8080).
    #[arg(long, env = "ALM_INSTALL_LISTEN")]
    pub listen: Option<String>,
    #[arg(long, env = "ALM_INSTALL_TLS", value_enum)]
    pub tls: Option<TlsChoice>,
    /// With --tls files: the certificate chain (PEM).
    #[arg(long, env = "ALM_INSTALL_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// With --tls files: its private key (PEM).
    #[arg(long, env = "ALM_INSTALL_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// With --tls acme: the contact address given to the CA.
    #[arg(long, env = "ALM_INSTALL_ACME_EMAIL")]
    pub acme_email: Option<String>,
    /// With --tls acme: the CA's directory URL (default Let's Encrypt).
    #[arg(long, env = "ALM_INSTALL_ACME_DIRECTORY")]
    pub acme_directory: Option<String>,
    /// With HTTPS: the plain-HTTP address that redirects (and answers ACME), e.g. 0.0.0.0:80.
    #[arg(long, env = "ALM_INSTALL_REDIRECT_LISTEN")]
    pub redirect_listen: Option<String>,
    /// A PostgreSQL URL; `sqlite` (the default) keeps the database in the data directory.
    #[arg(long, env = "ALM_INSTALL_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// The first administrator's name.
    #[arg(long, env = "ALM_INSTALL_ADMIN_NAME")]
    pub admin_name: Option<String>,
    /// The first administrator's email address (they sign in with it).
    #[arg(long, env = "ALM_INSTALL_ADMIN_EMAIL")]
    pub admin_email: Option<String>,
    /// The OIDC provider's issuer URL (its discovery document is fetched to check it).
    #[arg(long, env = "ALM_INSTALL_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    #[arg(long, env = "ALM_INSTALL_OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,
    #[arg(long, env = "ALM_INSTALL_OIDC_CLIENT_SECRET", hide_env_values = true)]
    pub oidc_client_secret: Option<String>,
    /// No single sign-on: people sign in with local passwords only.
    #[arg(long, conflicts_with = "oidc_issuer")]
    pub no_oidc: bool,
    /// The SMTP server's host name.
    #[arg(long, env = "ALM_INSTALL_SMTP_HOST")]
    pub smtp_host: Option<String>,
    #[arg(long, env = "ALM_INSTALL_SMTP_PORT")]
    pub smtp_port: Option<u16>,
    /// none, starttls or tls.
    #[arg(long, env = "ALM_INSTALL_SMTP_SECURITY")]
    pub smtp_security: Option<String>,
    #[arg(long, env = "ALM_INSTALL_SMTP_USERNAME")]
    pub smtp_username: Option<String>,
    #[arg(long, env = "ALM_INSTALL_SMTP_PASSWORD", hide_env_values = true)]
    pub smtp_password: Option<String>,
    /// The sender address of alm's emails.
    #[arg(long, env = "ALM_INSTALL_SMTP_FROM")]
    pub smtp_from: Option<String>,
    /// No email: messages wait in the outbox, and the UI and /readyz say so.
    #[arg(long, conflicts_with = "smtp_host")]
    pub no_smtp: bool,
}

pub async fn run(args: InstallArgs) -> anyhow::Result<ExitCode> {
    let existing = config_file::read_existing(&args.config)?;
    let interactive = !args.non_interactive && std::io::IsTerminal::is_terminal(&std::io::stdin());
    let answers = answers::gather(&args, &existing, interactive)?;
    let table = config_file::render(&existing, &answers);
    let config = config_file::validate(&table, &args.config)?;

    // Every check before anything is written.
    checks::data_dir(&config)?;
    checks::database(&config).await?;
    checks::tls(&config)?;
    checks::oidc(&config).await?;
    checks::smtp(&config).await?;

    let key = alm_server::app::load_master_key(&config)?;
    drop(key);
    let clock = SystemClock;
    let db = alm_server::app::open_database(&config, &clock).await?;
    let admin = match &answers.admin_email {
        Some(email) => bootstrap::ensure_named_admin(&db, &clock, &answers.admin_name, email, None)
            .await
            .map_err(|e| anyhow::anyhow!("the first administrator: {e}")),
        None => {
            let mut conn = db.read().await?;
            if alm_store::users::count(&mut conn).await? == 0 {
                Err(refused(
                    "--admin-email",
                    "required: the database has no user yet",
                ))
            } else {
                Ok(AdminBootstrap::Existing)
            }
        }
    };
    db.close().await;
    let admin = admin?;
    config_file::write(&args.config, &table)?;
    checks::hand_over_to_service_user(&config);

    println!(
        "alm is configured: {} (data in {})",
        args.config.display(),
        config.data_dir.display()
    );
    match admin {
        AdminBootstrap::Existing => println!("The administrator exists already: unchanged."),
        AdminBootstrap::Created { email } => println!("Created the administrator {email}."),
        AdminBootstrap::CreatedWithGenerated { email, password } => {
            println!("Created the administrator {email}");
            println!("  one-time password: {password}");
            println!("  (shown only now and good for one sign-in: you choose your own then)");
        }
    }
    if config.smtp.host.is_none() {
        println!("No SMTP server: no email is sent; messages wait in the outbox (the UI and /readyz say so).");
    }
    let unit = std::path::Path::new("/lib/systemd/system/alm.service").exists();
    if unit && args.config == std::path::Path::new("/etc/alm/alm.toml") {
        println!("Start it:  systemctl enable --now alm   (after a change: systemctl restart alm)");
    } else {
        println!("Start it:  alm serve --config {}", args.config.display());
    }
    println!("Sign in at {}/sign-in", config.base_url());
    Ok(ExitCode::SUCCESS)
}

/// An error naming what was asked and why it was refused.
pub(crate) fn refused(what: &str, why: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("{what}: {why}")
}

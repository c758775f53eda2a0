//! `alm`: the one binary. `serve` runs the server; `install` writes its configuration; `admin`
//! and `db` are the operator's tools. `discover` is the standalone discovery tool.

mod commands;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "alm",
    // "0.4.0-dev (commit 0123456789ab)": the commit from build.rs.
    version = env!("ALM_VERSION_LONG"),
    about = "Account lifecycle manager for service accounts"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the configuration comes from; shared by every subcommand that reads it.
#[derive(Args, Clone, Debug)]
pub struct ConfigArgs {
    /// The TOML configuration file.
    #[arg(long, env = "ALM_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Overrides `data_dir` (where the SQLite database lives by default).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

// One value per process, parsed once: the size of the discover options (grown by `--import`)
// costs nothing worth a Box through clap's flatten.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run the alm server.
    Serve {
        #[command(flatten)]
        config: ConfigArgs,
        /// Overrides `listen`, e.g. 127.0.0.1:8080 (port 0 picks a free port).
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
    },
    /// Configure alm: asks (or reads flags and ALM_INSTALL_* variables) the public URL, TLS, the
    /// database, the first administrator, OIDC and SMTP, checks each, and writes the
    /// configuration file and the master key. Re-run it to change settings.
    Install {
        #[command(flatten)]
        args: commands::install::InstallArgs,
    },
    /// Run a remote engine: register with an activation token once, then do the directory
    /// and vault work of its pool. `alm engine check` tests its ways to the server, the
    /// domains and the vaults from this host.
    #[command(args_conflicts_with_subcommands = true)]
    Engine {
        #[command(flatten)]
        args: commands::engine::EngineArgs,
        #[command(subcommand)]
        command: Option<EngineCommand>,
    },
    /// Administrator tools that work on the database directly.
    Admin {
        #[command(subcommand)]
        command: commands::admin::AdminCommand,
    },
    /// Database tools: migrate, back up, verify the audit chain.
    Db {
        #[command(subcommand)]
        command: commands::db::DbCommand,
    },
    /// Find the service accounts of an Active Directory domain, rate their risks and write
    /// reports (standalone: no server needed).
    Discover {
        #[command(flatten)]
        args: alm_discover::DiscoverArgs,
    },
    /// Exit 0 when the server at URL is ready (for scripts and container health checks).
    Healthcheck {
        /// The server's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
    },
}

#[derive(Subcommand)]
enum EngineCommand {
    /// On the engine's host: test, one line each, the way to the server, each domain
    /// controller of the pool's domains (LDAPS bind) and each vault; exit 1 when any failed.
    Check {
        #[command(flatten)]
        args: commands::engine_check::EngineCheckArgs,
    },
}

fn main() -> ExitCode {
    // One TLS stack for every client in the process (reqwest, sqlx, ldap later): rustls + ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve { config, listen } => commands::serve::run(config, listen).await,
            Command::Engine {
                command: Some(EngineCommand::Check { args }),
                ..
            } => commands::engine_check::run(args).await,
            Command::Engine {
                args,
                command: None,
            } => commands::engine::run(args).await,
            Command::Install { args } => commands::install::run(args).await,
            Command::Admin { command } => commands::admin::run(command).await,
            Command::Db { command } => commands::db::run(command).await,
            Command::Healthcheck { url } => commands::healthcheck::run(&url).await,
            Command::Discover { args } => commands::discover::run(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;
    use std::collections::BTreeMap;

    /// Every environment variable a subcommand's options read.
    fn option_env_names(cmd: &clap::Command, out: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            if let Some(env) = arg.get_env() {
                out.push(env.to_string_lossy().into_owned());
            }
        }
        for sub in cmd.get_subcommands() {
            option_env_names(sub, out);
        }
    }

    /// `alm serve` refuses unknown `ALM_*` variables by name; it must not refuse the ones another
    /// subcommand reads, or it would not start in a shell that set them for `alm discover`.
    #[test]
    fn alm_serve_accepts_every_variable_another_subcommand_reads() {
        let mut names = Vec::new();
        option_env_names(&Cli::command(), &mut names);
        // Read directly, not through an option.
        names.push(alm_discover::cli::run::IMPORT_TOKEN_ENV.to_owned());
        names.push("ALM_LOG".into());
        assert!(
            names.iter().any(|n| n.starts_with("ALM_DISCOVER_")),
            "{names:?}"
        );
        assert!(
            names.iter().any(|n| n.starts_with("ALM_ENGINE_")),
            "{names:?}"
        );
        assert!(
            names.iter().any(|n| n.starts_with("ALM_INSTALL_")),
            "{names:?}"
        );
        let overrides = alm_server::config::Overrides {
            listen: None,
            data_dir: Some(std::env::temp_dir()),
        };
        for name in names.into_iter().filter(|n| n != "ALM_CONFIG") {
            let env = BTreeMap::from([(name.clone(), "some value".to_owned())]);
            if let Err(e) = alm_server::config::Config::load(None, &env, &overrides) {
                assert!(
                    !e.to_string().contains("unknown environment variable"),
                    "alm serve refuses {name}: {e}"
                );
            }
        }
        // And still refuses what nobody reads.
        let env = BTreeMap::from([("ALM_LISTN".to_owned(), "x".to_owned())]);
        let e = alm_server::config::Config::load(None, &env, &overrides).unwrap_err();
        assert!(
            e.to_string()
                .contains("ALM_LISTN: unknown environment variable"),
            "{e}"
        );
    }
}

//! `alm engine check` (SPEC §5): run on the engine's host, it reads the engine's state file
//! and tests, one line each, the way to the server (TLS verified, the engine's credential
//! accepted), each domain controller of the domains its pool serves (LDAPS, bind) and each
//! vault of the pool, saying what is wrong and how to fix it. Exits non-zero when anything
//! failed. The server only lists what to test; the tests run here and are recorded nowhere.

use alm_core::SystemClock;
use alm_engine::check::{self, CheckLine};
use alm_engine::http;
use alm_engine::state_file;
use alm_engine::Executor;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct EngineCheckArgs {
    /// Where the engine keeps its identity and credential (as for `alm engine`).
    #[arg(
        long,
        env = "ALM_ENGINE_DATA_DIR",
        default_value = "/var/lib/alm-engine"
    )]
    pub data_dir: PathBuf,
    /// PEM file of the CA that signed the server's certificate (default: the system's store).
    #[arg(long, env = "ALM_ENGINE_SERVER_CA", value_name = "FILE")]
    pub server_ca: Option<PathBuf>,
    /// A DNS server to ask for the controllers of domains that find them in DNS (as for
    /// `alm engine`); repeat for more. Default: the machine's own.
    #[arg(
        long = "nameserver",
        env = "ALM_ENGINE_NAMESERVERS",
        value_name = "ADDRESS",
        value_delimiter = ',',
        value_parser = alm_directory::dc_discovery::parse_nameserver
    )]
    pub nameservers: Vec<std::net::SocketAddr>,
    /// Seconds to wait for each connection or answer (1–60), so an unreachable host does not
    /// hold the check up.
    #[arg(long, value_name = "SECONDS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=60))]
    pub timeout: u64,
}

/// Prints the lines as they come and counts the failures.
#[derive(Default)]
struct Report {
    lines: usize,
    failed: usize,
}

impl Report {
    fn print(&mut self, line: CheckLine) {
        println!("{line}");
        self.lines += 1;
        if !line.ok {
            self.failed += 1;
        }
    }
}

pub async fn run(args: EngineCheckArgs) -> anyhow::Result<ExitCode> {
    let ca_pem = match &args.server_ca {
        Some(path) => {
            let pem = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("--server-ca: cannot read {}: {e}", path.display()))?;
            // A file that holds no certificate is the operator's mistake, not the server's.
            alm_tls::client_config(Some(&pem))
                .map_err(|e| anyhow::anyhow!("--server-ca: {}: {e}", path.display()))?;
            Some(pem)
        }
        None => None,
    };
    let timeout = Duration::from_secs(args.timeout);
    let state_path = state_file::path(&args.data_dir);
    let mut report = Report::default();
    let Some(state) = state_file::load(&args.data_dir).map_err(anyhow::Error::msg)? else {
        report.print(CheckLine {
            ok: false,
            what: "engine".into(),
            detail: format!(
                "not registered on this host (no {}): start `alm engine --server URL --token-file TOKEN` once with an activation token made under Engines in alm, or give the engine's --data-dir",
                state_path.display()
            ),
        });
        return Ok(ExitCode::FAILURE);
    };
    let server = http::server_url(&state.server).map_err(|e| {
        anyhow::anyhow!(
            "{}: the server recorded there is not usable ({e})",
            state_path.display()
        )
    })?;
    let answer = http::check_targets(&server, ca_pem.as_deref(), &state.credential, timeout).await;
    for line in check::server_lines(&server, &answer, &state_path.display().to_string()) {
        report.print(line);
    }
    if let Ok(targets) = &answer {
        let executor = Executor::new(Arc::new(SystemClock))
            .with_nameservers(args.nameservers.clone())
            .with_timeout(timeout);
        for domain in &targets.domains {
            for line in check::domain_lines(&executor, domain).await {
                report.print(line);
            }
        }
        for vault in &targets.vaults {
            report.print(check::vault_line(&executor, vault).await);
        }
    }
    println!("{} of {} checks failed", report.failed, report.lines);
    Ok(if report.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

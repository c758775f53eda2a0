//! One run of `alm discover`: gather the inputs (flags, environment, questions), bind, show
//! the scope and ask, read and analyse the directory, scan hosts, write the reports, and
//! (`--import`) send the findings to an alm server after the reports are safe on disk.

use super::args::DiscoverArgs;
use super::prompt;
use super::run_log::RunLog;
use crate::analysis::analyse;
use crate::builtin_accounts::{builtin_accounts, left_out_line};
use crate::directory_reader;
use crate::errors::DiscoverError;
use crate::host_scan::{
    not_scanned, scan_hosts, HostCredentials, HostResult, NotScanned, ScanOptions, ServiceLister,
};
use crate::import::{self, ImportTarget};
use crate::report::{self, Report};
use crate::settings::AnalysisSettings;
use crate::usage::usage;
use alm_core::{Clock, Secret};
use alm_directory::{ActiveDirectory, Directory, DirectoryConfig};
use std::io::BufRead;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a run ended (errors aside).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    pub out: PathBuf,
    /// Ctrl-C stopped the host scan; the reports cover what was scanned.
    pub interrupted: bool,
    /// The alm server's answer to `--import`.
    pub imported: Option<alm_core::discovery::RunReceipt>,
}

/// A value from the flags/environment, else asked at a terminal, else an error naming the flag.
fn value_or_ask(
    given: Option<String>,
    flag: &str,
    question: &str,
    default: Option<&str>,
) -> Result<String, DiscoverError> {
    match given.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) {
        Some(v) => Ok(v),
        None if prompt::interactive() => prompt::ask(question, default),
        None => match default {
            Some(d) => Ok(d.to_owned()),
            None => Err(DiscoverError::Input(format!(
                "{flag} is missing (or its ALM_DISCOVER_* variable); no terminal to ask on"
            ))),
        },
    }
}

fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or("")
        .trim_end_matches('\r')
        .to_owned()
}

/// The first line of a password file; `flag` names the option for the error.
fn read_password_file(path: &std::path::Path, flag: &str) -> Result<String, DiscoverError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        DiscoverError::Input(format!("{flag} {}: cannot read it ({e})", path.display()))
    })?;
    Ok(first_line(&text))
}

fn password(args: &DiscoverArgs) -> Result<Secret, DiscoverError> {
    let password = if let Some(path) = &args.password_file {
        read_password_file(path, "--password-file")?
    } else if args.password_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(|e| {
            DiscoverError::Input(format!(
                "--password-stdin: cannot read standard input ({e})"
            ))
        })?;
        first_line(&line)
    } else if prompt::interactive() {
        prompt::ask_password("Password")?
    } else {
        return Err(DiscoverError::Input(
            "no password: give --password-file FILE or --password-stdin (there is no terminal to ask on)".into(),
        ));
    };
    if password.is_empty() {
        return Err(DiscoverError::Input("the password is empty".into()));
    }
    Ok(Secret::new(password))
}

/// The logon for the hosts: --host-user with its own password, else the directory account.
fn host_credentials(
    args: &DiscoverArgs,
    identity: &str,
    password: &Secret,
) -> Result<HostCredentials, DiscoverError> {
    let host_user = args
        .host_user
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty());
    let Some(host_user) = host_user else {
        if args.host_password_file.is_some() {
            return Err(DiscoverError::Input(
                "--host-password-file needs --host-user: name the account that password belongs to"
                    .into(),
            ));
        }
        return HostCredentials::parse(
            identity,
            password.clone(),
            "--user (also the hosts' logon, as --host-user is not given)",
        )
        .map_err(|e| DiscoverError::Input(format!("{e}; or give --host-user")));
    };
    let host_password = if let Some(path) = &args.host_password_file {
        read_password_file(path, "--host-password-file")?
    } else if prompt::interactive() {
        prompt::ask_password(&format!("Password of {host_user} on the hosts"))?
    } else {
        return Err(DiscoverError::Input(format!(
            "--host-user {host_user}: no password for it; give --host-password-file FILE (there is no terminal to ask on)"
        )));
    };
    if host_password.is_empty() {
        return Err(DiscoverError::Input(
            "the password of --host-user is empty".into(),
        ));
    }
    HostCredentials::parse(host_user, Secret::new(host_password), "--host-user")
        .map_err(DiscoverError::Input)
}

/// The variable the alm API token may come from (never a flag: it would show in `ps`).
pub const IMPORT_TOKEN_ENV: &str = "ALM_IMPORT_TOKEN";

/// `--import` and its token and CA, checked before anything connects; `None` without it.
fn import_target(args: &DiscoverArgs) -> Result<Option<ImportTarget>, DiscoverError> {
    let Some(url) = args
        .import
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    else {
        for (given, flag) in [
            (args.import_token_file.is_some(), "--import-token-file"),
            (args.import_ca_file.is_some(), "--import-ca-file"),
        ] {
            if given {
                return Err(DiscoverError::Input(format!(
                    "{flag} needs --import URL: name the alm server to send the findings to"
                )));
            }
        }
        return Ok(None);
    };
    let url = import::parse_url(url).map_err(DiscoverError::Input)?;
    let token = if let Some(path) = &args.import_token_file {
        let token = read_password_file(path, "--import-token-file")?;
        if token.trim().is_empty() {
            return Err(DiscoverError::Input(format!(
                "--import-token-file {}: the file is empty; put the alm API token on its first line",
                path.display()
            )));
        }
        token.trim().to_owned()
    } else if let Some(env) = std::env::var_os(IMPORT_TOKEN_ENV) {
        let token = env.to_string_lossy().trim().to_owned();
        if token.is_empty() {
            return Err(DiscoverError::Input(format!(
                "{IMPORT_TOKEN_ENV} is empty; set it to an alm API token, or give --import-token-file FILE"
            )));
        }
        token
    } else if prompt::interactive() {
        let token = prompt::ask_password(&format!("alm API token for {url}"))?;
        if token.trim().is_empty() {
            return Err(DiscoverError::Input("the alm API token is empty".into()));
        }
        token.trim().to_owned()
    } else {
        return Err(DiscoverError::Input(format!(
            "--import needs an alm API token: give --import-token-file FILE or set {IMPORT_TOKEN_ENV} (there is no terminal to ask on; a token is never a flag value, it would show in the process list)"
        )));
    };
    let ca_pem = match &args.import_ca_file {
        Some(path) => {
            let pem = std::fs::read_to_string(path).map_err(|e| {
                DiscoverError::Input(format!(
                    "--import-ca-file {}: cannot read it ({e})",
                    path.display()
                ))
            })?;
            alm_tls::client_config(Some(&pem)).map_err(|e| {
                DiscoverError::Input(format!(
                    "--import-ca-file {}: {e}; give the CA certificate as PEM",
                    path.display()
                ))
            })?;
            Some(pem)
        }
        None => None,
    };
    Ok(Some(ImportTarget {
        url,
        token: Secret::new(token),
        ca_pem,
    }))
}

/// The LDAPS URL and a display name for what the administrator typed.
fn domain_url(domain: &str) -> Result<(String, String), DiscoverError> {
    if domain.contains("://") {
        let host = url_host(domain)
            .ok_or_else(|| DiscoverError::Input(format!("--domain: {domain:?} names no host")))?;
        Ok((domain.to_owned(), host))
    } else if domain.contains('/') || domain.contains(' ') {
        Err(DiscoverError::Input(format!(
            "--domain: {domain:?} is neither a DNS name (corp.example.com) nor an LDAPS URL"
        )))
    } else {
        Ok((format!("ldaps://{domain}"), domain.to_owned()))
    }
}

fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let host = rest.split(['/', '?']).next()?;
    let host = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    (!host.is_empty()).then(|| host.to_owned())
}

/// A bare user name is taken as user@domain when the domain is a DNS name.
fn bind_identity(user: &str, domain_host: &str) -> String {
    let is_dns_name = domain_host.contains('.') && domain_host.parse::<std::net::IpAddr>().is_err();
    if user.contains(['@', '\\', '=']) || !is_dns_name {
        user.to_owned()
    } else {
        format!("{user}@{domain_host}")
    }
}

fn default_out(clock: &dyn Clock) -> PathBuf {
    let n = clock.now();
    PathBuf::from(format!(
        "alm-discover-{:04}{:02}{:02}-{:02}{:02}{:02}",
        n.year(),
        u8::from(n.month()),
        n.day(),
        n.hour(),
        n.minute(),
        n.second()
    ))
}

/// One run; `lister` lists a host's services (`ScmrLister` over SMB in the binary).
pub async fn run(
    args: DiscoverArgs,
    lister: Arc<dyn ServiceLister>,
    clock: Arc<dyn Clock>,
) -> Result<RunOutcome, DiscoverError> {
    // Everything that can be checked without the network, first.
    let settings = AnalysisSettings::parse(
        &args.name_patterns,
        &args.description_keywords,
        args.password_age_days,
        args.stale_days,
    )
    .map_err(|e| DiscoverError::Input(e.to_string()))?;
    if args.host_timeout == 0 || args.ldap_timeout == 0 {
        return Err(DiscoverError::Input(
            "--host-timeout and --ldap-timeout must be at least 1 second".into(),
        ));
    }
    let ca_pem = match &args.ca_file {
        Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
            DiscoverError::Input(format!(
                "--ca-file {}: cannot read it ({e})",
                path.display()
            ))
        })?),
        None => None,
    };

    let domain = value_or_ask(
        args.domain.clone(),
        "--domain",
        "Domain (DNS name or ldaps:// URL)",
        None,
    )?;
    let (url, domain_host) = domain_url(&domain)?;
    let user = value_or_ask(
        args.user.clone(),
        "--user",
        "User (user@domain or DOMAIN\\user)",
        None,
    )?;
    let identity = bind_identity(&user, &domain_host);
    let password = password(&args)?;
    // Before any connection too: a bad --import should not cost a scan.
    let import_to = import_target(&args)?;
    // Checked before any connection: a typo in the host logon should not cost a directory read.
    let host_credentials = if args.no_host_scan {
        None
    } else {
        Some(Arc::new(host_credentials(&args, &identity, &password)?))
    };
    let fail = |e| DiscoverError::from_directory(e, &url, &identity);

    let directory = DirectoryConfig {
        url: url.clone(),
        failover_urls: Vec::new(),
        discovery: None,
        bind_identity: identity.clone(),
        bind_password: password.clone(),
        ca_pem,
        base_dn: args.base_dn.clone().unwrap_or_default(),
        timeout: Duration::from_secs(args.ldap_timeout),
    };
    let ad = ActiveDirectory::new(directory.clone()).map_err(fail)?;
    // A second connection for the reads that can run beside the accounts' (see read_scope).
    let ad_beside = ActiveDirectory::new(directory).map_err(fail)?;
    ad.check().await.map_err(fail)?;
    let naming_context = match &args.base_dn {
        Some(dn) => dn.clone(),
        None => directory_reader::naming_context(&ad).await.map_err(fail)?,
    };
    eprintln!("Connected to {url} as {identity} ({naming_context}).");

    let scope = if args.whole_domain {
        naming_context.clone()
    } else {
        let answer = value_or_ask(
            args.ou.clone(),
            "--ou",
            "Scope: an OU's DN, or 'all' for the whole domain",
            Some("all"),
        )?;
        if answer.eq_ignore_ascii_case("all") {
            naming_context.clone()
        } else {
            answer
        }
    };
    let company = value_or_ask(
        args.company.clone(),
        "--company",
        "Company name for the reports",
        Some(&domain_host),
    )?;
    directory_reader::check_base(&ad, &scope)
        .await
        .map_err(fail)?;

    // The scope's count is its read: the accounts and computers are read once, here, and
    // the question comes before anything is written or any host is contacted. (Counting
    // with separate searches first cost a third pass over the scope.)
    let started = Instant::now();
    let scanned_at = clock.now();
    let (accounts, computers) =
        directory_reader::read_scope(&ad, &ad_beside, &naming_context, &scope)
            .await
            .map_err(fail)?;
    let read_time = started.elapsed();
    let (account_count, computer_count) = (accounts.len(), computers.len());
    eprintln!("In scope ({scope}): {account_count} accounts and {computer_count} computers.");
    if !args.yes {
        if !prompt::interactive() {
            return Err(DiscoverError::Input(
                "pass --yes to scan without a terminal to confirm on".into(),
            ));
        }
        if !prompt::confirm("Go on with the scan?")? {
            return Err(DiscoverError::Declined);
        }
    }

    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(clock.as_ref()));
    let out_error = |e: std::io::Error| DiscoverError::Output {
        path: out.display().to_string(),
        detail: e.to_string(),
    };
    let log = RunLog::create(&out, clock.clone()).map_err(out_error)?;
    log.line(&format!("scan of {url} as {identity}, scope {scope}: {account_count} accounts, {computer_count} computers"));

    let analysing = Instant::now();
    let analysed = analyse(&accounts, &settings, scanned_at);
    let findings: usize = analysed.iter().map(|a| a.findings.len()).sum();
    let analysis_line = format!(
        "read {} accounts and {} computers in {} ms, analysed in {} ms: {} service accounts, {findings} findings",
        accounts.len(),
        computers.len(),
        read_time.as_millis(),
        analysing.elapsed().as_millis(),
        analysed.len()
    );
    eprintln!("{analysis_line}");
    log.line(&analysis_line);
    let builtin = builtin_accounts(&accounts);
    if let Some(line) = left_out_line(&builtin) {
        eprintln!("{line}");
        log.line(&line);
    }

    let hosts = match host_credentials {
        None => not_scanned(computers, NotScanned::NotRequested),
        Some(credentials) => {
            log.line(&format!(
                "host scan as {}, {} at once, {} s per host",
                credentials.display(),
                args.parallel,
                args.host_timeout
            ));
            let scan_started = Instant::now();
            let scan = scan_with_progress(lister, computers, credentials, &args, &log).await;
            let took = scan_started.elapsed();
            let visited = scan
                .outcomes
                .iter()
                .filter(|o| !matches!(o.result, HostResult::NotScanned(_)))
                .count();
            let failed = scan
                .outcomes
                .iter()
                .filter(|o| matches!(o.result, HostResult::Failed(_)))
                .count();
            let scan_line = format!(
                "scanned {visited} hosts ({failed} failed) in {} ms, {:.1} hosts/s, {} at once",
                took.as_millis(),
                visited as f64 / took.as_secs_f64().max(0.001),
                args.parallel
            );
            eprintln!("{scan_line}");
            log.line(&scan_line);
            scan
        }
    };
    if hosts.interrupted {
        log.line("host scan interrupted (Ctrl-C); writing the reports for what was scanned");
    }
    let usage = usage(&analysed, &hosts);
    let report = Report {
        company,
        scanned_at,
        domain,
        scope,
        accounts_in_scope: accounts.len(),
        accounts: analysed,
        builtin_accounts: builtin,
        hosts,
        usage,
    };
    let writing = Instant::now();
    let written = report::write_all(&report, &out).map_err(out_error)?;
    let write_ms = writing.elapsed().as_millis();
    log.line(&format!(
        "reports written to {} in {write_ms} ms",
        out.display()
    ));
    eprintln!("Reports written to {} in {write_ms} ms:", out.display());
    for path in written {
        eprintln!("  {}", path.display());
    }
    let imported = match import_to {
        None => None,
        Some(target) => {
            let host_scan_ran = !args.no_host_scan;
            Some(
                send_import(
                    &target,
                    &report,
                    &naming_context,
                    &domain_host,
                    host_scan_ran,
                    &log,
                )
                .await
                .map_err(|detail| DiscoverError::Import {
                    out: out.display().to_string(),
                    detail,
                })?,
            )
        }
    };
    Ok(RunOutcome {
        out,
        interrupted: report.hosts.interrupted,
        imported,
    })
}

/// `--import`: sends the run and says what was sent (stderr and the run log).
async fn send_import(
    target: &ImportTarget,
    report: &Report,
    base_dn: &str,
    fqdn: &str,
    host_scan_ran: bool,
    log: &RunLog,
) -> Result<alm_core::discovery::RunReceipt, String> {
    let (run, left_out) = import::build_run(report, base_dn, fqdn, host_scan_ran);
    let findings: usize = run.accounts.iter().map(|a| a.findings.len()).sum();
    let hosts_note = if !host_scan_ran {
        "no host data (--no-host-scan)"
    } else if report.hosts.interrupted {
        "host data partial: the host scan was stopped (Ctrl-C)"
    } else {
        "host data complete"
    };
    let server = target.url.as_str().trim_end_matches('/');
    let sending = format!(
        "sending {} service accounts with {findings} findings ({hosts_note}) for {base_dn} to {server}",
        run.accounts.len()
    );
    eprintln!("Import: {sending}");
    log.line(&format!("import: {sending}"));
    if left_out > 0 {
        let line = format!(
            "{left_out} accounts without a readable objectGUID were left out of the import"
        );
        eprintln!("Import: {line}");
        log.line(&format!("import: {line}"));
    }
    match import::send(target, &run).await {
        Ok(r) => {
            let line = format!(
                "sent {} service accounts with {findings} findings to {server} ({hosts_note}): {} stored as unmanaged ({} new, {} updated), {} skipped as managed by alm already; {} services recorded where accounts run, {} no longer found; run {}",
                r.received, r.stored, r.new, r.updated, r.skipped_managed, r.services_recorded, r.services_removed, r.run_id
            );
            eprintln!("Import: {line}");
            log.line(&format!("import: {line}"));
            Ok(r)
        }
        Err(e) => {
            log.line(&format!("import failed: {e}"));
            Err(e)
        }
    }
}

/// The host scan with a progress bar (ETA) and Ctrl-C to stop it.
async fn scan_with_progress(
    lister: Arc<dyn ServiceLister>,
    computers: Vec<crate::account::Computer>,
    credentials: Arc<HostCredentials>,
    args: &DiscoverArgs,
    log: &RunLog,
) -> crate::host_scan::HostScan {
    let interrupt = interrupt_signal();
    let bar = indicatif::ProgressBar::new(computers.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} hosts, {elapsed} elapsed, ETA {eta} {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let ctrl_c = tokio::spawn(async move {
        if interrupt.await {
            let _ = stop_tx.send(true);
        }
    });
    let options = ScanOptions {
        parallel: usize::from(args.parallel),
        timeout: Duration::from_secs(args.host_timeout),
    };
    let scan = scan_hosts(
        lister,
        computers,
        credentials,
        options,
        stop_rx,
        &|outcome| {
            bar.inc(1);
            log.host(outcome);
        },
    )
    .await;
    ctrl_c.abort();
    if scan.interrupted {
        bar.abandon_with_message("interrupted");
    } else {
        bar.finish();
    }
    scan
}

/// Resolves true on Ctrl-C (SIGINT). On Unix the handler is installed here, before the first
/// host is contacted, not when the future is first polled: a Ctrl-C in between would
/// otherwise end the process without reports.
fn interrupt_signal() -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut sigint) = signal(SignalKind::interrupt()) {
            return Box::pin(async move { sigint.recv().await.is_some() });
        }
    }
    Box::pin(async { tokio::signal::ctrl_c().await.is_ok() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_and_users_are_read_as_typed() {
        assert_eq!(
            domain_url("corp.example.com").unwrap().0,
            "ldaps://corp.example.com"
        );
        assert_eq!(domain_url("ldaps://127.0.0.2:636").unwrap().1, "127.0.0.2");
        assert!(domain_url("corp example").is_err());
        assert_eq!(
            bind_identity("admin", "corp.example.com"),
            "admin@corp.example.com"
        );
        assert_eq!(
            bind_identity("CORP\\admin", "corp.example.com"),
            "CORP\\admin"
        );
        assert_eq!(bind_identity("admin", "127.0.0.2"), "admin");
        assert_eq!(first_line("pw\r\nnext"), "pw");
    }

    fn args(extra: &[&str]) -> DiscoverArgs {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            args: DiscoverArgs,
        }
        let mut argv = vec!["discover"];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).unwrap().args
    }

    #[test]
    fn the_hosts_logon_is_the_directory_account_unless_host_user_is_given() {
        let pw = Secret::new("Dir-Pw-4711");
        let c = host_credentials(&args(&[]), "admin@corp.example.com", &pw).unwrap();
        assert_eq!((c.domain(), c.user()), ("corp.example.com", "admin"));
        assert_eq!(c.password.expose(), "Dir-Pw-4711");
        let c = host_credentials(&args(&[]), "CORP\\admin", &pw).unwrap();
        assert_eq!((c.domain(), c.user()), ("CORP", "admin"));

        let dir = std::env::temp_dir().join(format!("alm-hostpw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pw");
        std::fs::write(&file, "Host-Pw-4711\n").unwrap();
        let file = file.to_str().unwrap();
        let c = host_credentials(
            &args(&["--host-user", ".\\localadmin", "--host-password-file", file]),
            "admin@corp.example.com",
            &pw,
        )
        .unwrap();
        assert_eq!((c.domain(), c.user()), (".", "localadmin"));
        assert_eq!(c.password.expose(), "Host-Pw-4711");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_host_logon_that_cannot_work_is_refused_before_any_connection() {
        let pw = Secret::new("Dir-Pw-4711");
        let err = |a: &[&str], identity: &str| {
            let e = host_credentials(&args(a), identity, &pw)
                .unwrap_err()
                .to_string();
            assert!(!e.contains("Dir-Pw-4711"), "{e}");
            e
        };
        // A DN binds to LDAP but cannot log on over SMB.
        let e = err(&[], "CN=Administrator,CN=Users,DC=corp,DC=test");
        assert!(e.contains("is a DN") && e.contains("--host-user"), "{e}");
        let e = err(&["--host-password-file", "/nonexistent"], "CORP\\a");
        assert!(e.contains("--host-password-file needs --host-user"), "{e}");
        let e = err(
            &[
                "--host-user",
                "HOSTS\\a",
                "--host-password-file",
                "/nonexistent/pw",
            ],
            "CORP\\a",
        );
        assert!(
            e.starts_with("--host-password-file /nonexistent/pw: cannot read it"),
            "{e}"
        );
        let e = err(
            &[
                "--host-user",
                "localadmin",
                "--host-password-file",
                "/dev/null",
            ],
            "CORP\\a",
        );
        assert!(e.contains("password of --host-user is empty"), "{e}");
    }
}

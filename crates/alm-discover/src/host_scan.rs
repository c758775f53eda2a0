//! The host scan's orchestration: visits the computers in scope through a `ServiceLister`
//! (the SMB + MS-SCMR transport lives elsewhere), a bounded number at once, each with a
//! timeout, and stops cleanly when asked, keeping what was already scanned.
//!
//! No network code here: the lister does the talking; this module decides who is visited,
//! when, and what is recorded for each host.

use crate::account::Computer;
pub use crate::host_credentials::HostCredentials;
use async_trait::async_trait;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub const DEFAULT_PARALLEL: usize = 32;
pub const DEFAULT_HOST_TIMEOUT: Duration = Duration::from_secs(30);

/// One Windows service as the service control manager lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceEntry {
    pub name: String,
    pub display_name: String,
    /// The account it runs as (`DOMAIN\user`, `user@domain`, `LocalSystem`, `.\local`...).
    pub start_name: String,
    pub binary_path: String,
    /// How it starts: boot, system, auto, demand, disabled (or unknown).
    pub start_type: String,
    /// Its state at the time of the scan: running, stopped, ... (or unknown).
    pub state: String,
    /// Why the host did not show the service's configuration (`start_name` is then empty).
    pub config_error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostErrorKind {
    Unreachable,
    Timeout,
    LogonFailure,
    AccessDenied,
    Protocol,
}

impl HostErrorKind {
    pub fn label(self) -> &'static str {
        match self {
            HostErrorKind::Unreachable => "unreachable",
            HostErrorKind::Timeout => "timeout",
            HostErrorKind::LogonFailure => "logon-failure",
            HostErrorKind::AccessDenied => "access-denied",
            HostErrorKind::Protocol => "protocol",
        }
    }
}

/// Why one host could not be scanned. The message must never carry the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostError {
    pub kind: HostErrorKind,
    pub message: String,
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.label(), self.message)
    }
}

/// Lists a host's services: the plug-in point for the SMB + MS-SCMR transport.
#[async_trait]
pub trait ServiceLister: Send + Sync {
    /// The services of `host` (a DNS name), logging on with `credentials`, giving up after
    /// `timeout`.
    async fn list_services(
        &self,
        host: &str,
        credentials: &HostCredentials,
        timeout: Duration,
    ) -> Result<Vec<ServiceEntry>, HostError>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotScanned {
    /// The run was stopped (Ctrl-C) before or while this host was scanned.
    Interrupted,
    /// `--no-host-scan`.
    NotRequested,
    NoDnsHostName,
    Disabled,
}

impl NotScanned {
    pub fn label(&self) -> &'static str {
        match self {
            NotScanned::Interrupted => {
                "the run was stopped (Ctrl-C) before this host's scan finished"
            }
            NotScanned::NotRequested => "host scan not requested (--no-host-scan)",
            NotScanned::NoDnsHostName => "the computer has no dNSHostName",
            NotScanned::Disabled => "the computer account is disabled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostResult {
    Services(Vec<ServiceEntry>),
    Failed(HostError),
    NotScanned(NotScanned),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostOutcome {
    pub computer: Computer,
    pub result: HostResult,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostScan {
    /// One outcome per computer in scope, in the order given.
    pub outcomes: Vec<HostOutcome>,
    pub interrupted: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct ScanOptions {
    pub parallel: usize,
    pub timeout: Duration,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            parallel: DEFAULT_PARALLEL,
            timeout: DEFAULT_HOST_TIMEOUT,
        }
    }
}

/// Every computer marked not scanned for `why` (for `--no-host-scan`).
pub fn not_scanned(computers: Vec<Computer>, why: NotScanned) -> HostScan {
    HostScan {
        outcomes: computers
            .into_iter()
            .map(|computer| HostOutcome {
                computer,
                result: HostResult::NotScanned(why.clone()),
            })
            .collect(),
        interrupted: false,
    }
}

/// Which computers are visited: enabled ones with a DNS name.
fn skip_reason(c: &Computer) -> Option<NotScanned> {
    if !c.enabled {
        Some(NotScanned::Disabled)
    } else if c.dns_host_name.as_deref().is_none_or(str::is_empty) {
        Some(NotScanned::NoDnsHostName)
    } else {
        None
    }
}

/// Scans `computers`, at most `options.parallel` at once. When `stop` turns true the hosts
/// in flight are abandoned and every unfinished host is recorded as interrupted; what was
/// scanned is kept. `on_done` is called once per visited host as it finishes (progress).
pub async fn scan_hosts(
    lister: Arc<dyn ServiceLister>,
    computers: Vec<Computer>,
    credentials: Arc<HostCredentials>,
    options: ScanOptions,
    mut stop: watch::Receiver<bool>,
    on_done: &(dyn Fn(&HostOutcome) + Send + Sync),
) -> HostScan {
    let parallel = options.parallel.max(1);
    let mut results: Vec<Option<HostResult>> = computers
        .iter()
        .map(|c| skip_reason(c).map(HostResult::NotScanned))
        .collect();
    let mut queue: std::collections::VecDeque<usize> = (0..computers.len())
        .filter(|i| results[*i].is_none())
        .collect();
    let mut running: JoinSet<(usize, HostResult)> = JoinSet::new();
    let mut interrupted = *stop.borrow();
    let mut stop_open = true;

    while !interrupted && (!queue.is_empty() || !running.is_empty()) {
        if *stop.borrow() {
            interrupted = true;
            break;
        }
        while running.len() < parallel {
            let Some(i) = queue.pop_front() else { break };
            let lister = lister.clone();
            let credentials = credentials.clone();
            let host = computers[i].dns_host_name.clone().unwrap_or_default();
            let timeout = options.timeout;
            running.spawn(async move {
                // The lister gets the timeout; this one is the backstop for a lister that
                // does not keep it (a hung peer must not hang the run).
                let call = lister.list_services(&host, &credentials, timeout);
                let result =
                    match tokio::time::timeout(timeout + Duration::from_secs(1), call).await {
                        Ok(Ok(services)) => HostResult::Services(services),
                        Ok(Err(e)) => HostResult::Failed(e),
                        Err(_) => HostResult::Failed(HostError {
                            kind: HostErrorKind::Timeout,
                            message: format!("no answer within {} s", timeout.as_secs_f32()),
                        }),
                    };
                (i, result)
            });
        }
        tokio::select! {
            joined = running.join_next() => {
                // An Err is a lister that panicked: the sweep below marks its host.
                if let Some(Ok((i, result))) = joined {
                    on_done(&HostOutcome { computer: computers[i].clone(), result: result.clone() });
                    results[i] = Some(result);
                }
            },
            changed = stop.changed(), if stop_open => {
                // A dropped sender means nobody can stop us any more: keep going.
                match changed {
                    Ok(()) => interrupted = *stop.borrow(),
                    Err(_) => stop_open = false,
                }
            }
        }
    }
    running.abort_all();
    let outcomes = computers
        .into_iter()
        .zip(results)
        .map(|(computer, result)| HostOutcome {
            computer,
            result: result.unwrap_or(if interrupted {
                HostResult::NotScanned(NotScanned::Interrupted)
            } else {
                HostResult::Failed(HostError {
                    kind: HostErrorKind::Protocol,
                    message: "the scan of this host failed unexpectedly".into(),
                })
            }),
        })
        .collect();
    HostScan {
        outcomes,
        interrupted,
    }
}

#[cfg(test)]
mod tests {
    //! An in-memory lister: test scaffolding for the orchestration only.
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct MemoryLister {
        now_running: AtomicUsize,
        max_running: AtomicUsize,
    }

    #[async_trait]
    impl ServiceLister for MemoryLister {
        async fn list_services(
            &self,
            host: &str,
            _credentials: &HostCredentials,
            _timeout: Duration,
        ) -> Result<Vec<ServiceEntry>, HostError> {
            let n = self.now_running.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_running.fetch_max(n, Ordering::SeqCst);
            let result = if host.starts_with("hang") {
                std::future::pending::<()>().await;
                unreachable!()
            } else if host.starts_with("down") {
                Err(HostError {
                    kind: HostErrorKind::Unreachable,
                    message: "connection refused".into(),
                })
            } else {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Ok(vec![ServiceEntry {
                    name: "Svc".into(),
                    display_name: "A service".into(),
                    start_name: format!("CORP\\svc-{host}"),
                    binary_path: "C:\\svc.exe".into(),
                    start_type: "auto".into(),
                    state: "running".into(),
                    config_error: None,
                }])
            };
            self.now_running.fetch_sub(1, Ordering::SeqCst);
            result
        }
    }

    fn lister() -> Arc<MemoryLister> {
        Arc::new(MemoryLister {
            now_running: AtomicUsize::new(0),
            max_running: AtomicUsize::new(0),
        })
    }

    fn computer(dns: &str) -> Computer {
        Computer {
            dn: format!("CN={dns},DC=x"),
            name: dns.to_owned(),
            dns_host_name: Some(dns.to_owned()),
            enabled: true,
            domain_controller: false,
        }
    }

    fn creds() -> Arc<HostCredentials> {
        Arc::new(HostCredentials::parse("a@b", alm_core::Secret::new("pw"), "test").unwrap())
    }

    #[tokio::test]
    async fn results_failures_and_skips_are_kept_per_host_within_the_parallel_bound() {
        let l = lister();
        let mut computers: Vec<Computer> = (0..10).map(|i| computer(&format!("h{i}"))).collect();
        computers.push(computer("down1"));
        let mut no_dns = computer("nodns");
        no_dns.dns_host_name = None;
        computers.push(no_dns);
        let done = AtomicUsize::new(0);
        let (_tx, rx) = watch::channel(false);
        let scan = scan_hosts(
            l.clone(),
            computers,
            creds(),
            ScanOptions {
                parallel: 3,
                timeout: Duration::from_secs(5),
            },
            rx,
            &|_| {
                done.fetch_add(1, Ordering::SeqCst);
            },
        )
        .await;
        assert!(!scan.interrupted);
        assert_eq!(done.load(Ordering::SeqCst), 11);
        assert!(l.max_running.load(Ordering::SeqCst) <= 3);
        assert!(
            l.max_running.load(Ordering::SeqCst) >= 2,
            "hosts ran concurrently"
        );
        assert!(
            matches!(&scan.outcomes[0].result, HostResult::Services(s) if s[0].start_name == "CORP\\svc-h0")
        );
        assert!(
            matches!(&scan.outcomes[10].result, HostResult::Failed(e) if e.kind == HostErrorKind::Unreachable)
        );
        assert_eq!(
            scan.outcomes[11].result,
            HostResult::NotScanned(NotScanned::NoDnsHostName)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_hung_host_times_out_even_when_nobody_can_stop_the_scan() {
        // The sender is gone at once: the scan must neither spin nor wait for it.
        let rx = watch::channel(false).1;
        let scan = scan_hosts(
            lister(),
            vec![computer("hang1")],
            creds(),
            ScanOptions {
                parallel: 1,
                timeout: Duration::from_secs(2),
            },
            rx,
            &|_| {},
        )
        .await;
        assert!(
            matches!(&scan.outcomes[0].result, HostResult::Failed(e) if e.kind == HostErrorKind::Timeout)
        );
    }

    #[tokio::test]
    async fn stopping_keeps_what_was_scanned_and_marks_the_rest_interrupted() {
        let computers = vec![
            computer("h1"),
            computer("h2"),
            computer("hang1"),
            computer("hang2"),
            computer("h3"),
        ];
        let (tx, rx) = watch::channel(false);
        let finished = AtomicUsize::new(0);
        let tx = std::sync::Mutex::new(Some(tx));
        let scan = scan_hosts(
            lister(),
            computers,
            creds(),
            ScanOptions {
                parallel: 4,
                timeout: Duration::from_secs(3600),
            },
            rx,
            // Ctrl-C arrives once the two quick hosts are done and two hosts hang.
            &|_| {
                if finished.fetch_add(1, Ordering::SeqCst) + 1 == 2 {
                    if let Some(tx) = tx.lock().unwrap().as_ref() {
                        tx.send(true).unwrap();
                    }
                }
            },
        )
        .await;
        assert!(scan.interrupted);
        assert!(matches!(scan.outcomes[0].result, HostResult::Services(_)));
        assert!(matches!(scan.outcomes[1].result, HostResult::Services(_)));
        for i in 2..5 {
            assert_eq!(
                scan.outcomes[i].result,
                HostResult::NotScanned(NotScanned::Interrupted),
                "host {i}"
            );
        }
        // The reports of the interrupted scan are written and readable.
        let dir = std::env::temp_dir().join(format!("alm-discover-unit-{}", std::process::id()));
        let mut report = crate::report::sample::report();
        report.hosts = scan;
        crate::report::write_all(&report, &dir).unwrap();
        let hosts = std::fs::read_to_string(dir.join("hosts.csv")).unwrap();
        let statuses: Vec<&str> = csv::Reader::from_reader(hosts.as_bytes())
            .into_records()
            .map(|r| {
                if r.unwrap()[4].to_owned() == "scanned" {
                    "scanned"
                } else {
                    "other"
                }
            })
            .collect();
        assert_eq!(statuses, ["scanned", "scanned", "other", "other", "other"]);
        let html = std::fs::read_to_string(dir.join("summary.html")).unwrap();
        assert!(html.contains("The host scan was interrupted"));
        assert!(std::fs::read(dir.join("summary.pdf"))
            .unwrap()
            .starts_with(b"%PDF-"));
        std::fs::remove_dir_all(&dir).ok();
    }
}

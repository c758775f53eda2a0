//! The host scan through the real `alm discover` binary: computers of the main DC whose
//! `dNSHostName` is the SMB DC (tests/peers/samba_smb.sh, `ALMTEST_SMB_*`), an address with
//! nothing on port 445, and a listener that accepts and never answers. Expected services come
//! from Samba's own client (`net rpc service ...`) and from the SMB DC's seed, never from alm.

use crate::cli::{alm_bin, csv_rows, files, in_any_cmdline, pdf_text, render_check, temp_dir};
use crate::host_seed::{HostSeed, WINS_ACCOUNT};
use crate::seed::env;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A loopback address nothing listens on: connecting to port 445 is refused at once.
const CLOSED_HOST: &str = "127.0.0.9";

fn assert_refused(host: &str) {
    let addr: SocketAddr = format!("{host}:445").parse().unwrap();
    match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
        other => panic!("{addr} must refuse connections for this test, got {other:?}"),
    }
}

/// `alm discover` over the test OU, with the directory password from a file.
fn discover(ou: &str, out: &Path, password_file: &Path) -> Command {
    let mut cmd = Command::new(alm_bin());
    cmd.arg("discover")
        .env("ALM_DISCOVER_DOMAIN", env("ALMTEST_AD_URL"))
        .args(["--user", &env("ALMTEST_AD_BIND")])
        .arg("--password-file")
        .arg(password_file)
        .arg("--ca-file")
        .arg(env("ALMTEST_AD_CA_FILE"))
        .args(["--ou", ou, "--company", "Host Scan Test Ltd", "--yes"])
        .arg("--out")
        .arg(out)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("RUST_LOG")
        .env_remove("ALM_DISCOVER_HOST_USER")
        .env_remove("ALM_DISCOVER_HOST_PASSWORD_FILE");
    cmd
}

/// Drains a child's pipes in threads (so a chatty child never blocks) and watches the
/// process list for `secrets` until the child exits.
fn watch(mut child: Child, secrets: &[&str], deadline: Duration) -> Output {
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        out.read_to_end(&mut b).ok();
        b
    });
    let err_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        err.read_to_end(&mut b).ok();
        b
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        for s in secrets {
            assert!(!in_any_cmdline(s), "a password showed in /proc/*/cmdline");
        }
        if started.elapsed() > deadline {
            child.kill().ok();
            panic!("alm discover did not finish within {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Output {
        status,
        stdout: out_t.join().unwrap(),
        stderr: err_t.join().unwrap(),
    }
}

/// No file under `out` and neither output stream holds any of `secrets`.
fn assert_no_secrets(out: &Path, output: &Output, secrets: &[&str]) {
    let streams = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    for s in secrets {
        assert!(!streams.contains(s), "a password was printed");
        for f in files(out) {
            let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
            assert!(!text.contains(s), "a password is in {}", f.display());
        }
    }
}

fn write_secret(path: &Path, value: &str) {
    std::fs::write(path, format!("{value}\n")).unwrap();
}

/// One service as Samba's own client shows it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct NetService {
    name: String,
    display_name: String,
    start_name: String,
    start_type: String,
    state: String,
    binary_path: String,
}

/// `net rpc service list` and `net rpc service status NAME` against the SMB DC (the
/// password through an authentication file, as ps shows command lines).
fn net_rpc_services(auth_dir: &Path) -> Vec<NetService> {
    let auth = auth_dir.join("net-auth");
    std::fs::write(
        &auth,
        format!(
            "username={}\npassword={}\ndomain={}\n",
            env("ALMTEST_SMB_USER"),
            env("ALMTEST_SMB_PASSWORD"),
            env("ALMTEST_SMB_DOMAIN")
        ),
    )
    .unwrap();
    let net = |args: &[&str]| {
        let o = Command::new("net")
            .args(["rpc", "service"])
            .args(args)
            .args(["-S", &env("ALMTEST_SMB_ADDR"), "-A"])
            .arg(&auth)
            .output()
            .expect("net (Debian samba-common-bin)");
        assert!(o.status.success(), "net rpc service {args:?}: {o:?}");
        String::from_utf8(o.stdout).unwrap()
    };
    let list = net(&["list"]);
    let services = list
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(|name| {
            let status = net(&["status", name]);
            let field = |key: &str| {
                status
                    .lines()
                    .find_map(|l| l.trim().strip_prefix(key)?.trim().strip_prefix("= "))
                    .unwrap_or_else(|| panic!("{key} missing from {status}"))
                    .to_owned()
            };
            // "WINS service is stopped." / "... is running."
            let state = status
                .lines()
                .next()
                .and_then(|l| l.rsplit_once(" is "))
                .map(|(_, s)| s.trim_end_matches('.').to_owned())
                .unwrap_or_else(|| panic!("no state in {status}"));
            // MS-SCMR 2.2.15 dwStartType codes, named as `sc qc` names them.
            let start_type = match field("Start Type").as_str() {
                "0x0" => "boot",
                "0x1" => "system",
                "0x2" => "auto",
                "0x3" => "demand",
                "0x4" => "disabled",
                other => panic!("start type {other}"),
            };
            NetService {
                name: name.to_owned(),
                display_name: field("Display Name"),
                start_name: field("Start Name"),
                start_type: start_type.to_owned(),
                state,
                binary_path: field("Executable Path"),
            }
        })
        .collect();
    std::fs::remove_file(&auth).ok();
    services
}

fn by_host(rows: &[BTreeMap<String, String>]) -> BTreeMap<String, &BTreeMap<String, String>> {
    rows.iter()
        .map(|r| (r["dns_host_name"].clone(), r))
        .collect()
}

fn out_dir(work: &Path, name: &str) -> PathBuf {
    work.join(name)
}

#[tokio::test]
async fn the_binary_scans_hosts_over_smb_joins_accounts_and_reports_unreachable_and_refused_hosts()
{
    let started = Instant::now();
    let smb = env("ALMTEST_SMB_ADDR");
    let smb_domain = env("ALMTEST_SMB_DOMAIN");
    let host_user = format!("{smb_domain}\\{}", env("ALMTEST_SMB_USER"));
    let dir_password = env("ALMTEST_AD_PASSWORD");
    let host_password = env("ALMTEST_SMB_PASSWORD");
    let wrong_password = format!("Wrong-{}-Pw1", uuid::Uuid::new_v4().simple());
    assert_refused(CLOSED_HOST);
    assert_ne!(dir_password, host_password, "the two DCs must differ");

    let work = temp_dir("hosts");
    let expected_services = net_rpc_services(&work);
    // The SMB DC's seed (tests/peers/samba_smb.sh) gives two services other start accounts;
    // Samba's client must show them, or the comparison below proves nothing.
    let start_of = |name: &str| {
        expected_services
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.start_name.clone())
    };
    assert_eq!(
        start_of("WINS"),
        Some(format!("{smb_domain}\\{WINS_ACCOUNT}"))
    );
    assert_eq!(start_of("RemoteRegistry").as_deref(), Some(".\\localsvc"));
    assert_eq!(start_of("Spooler").as_deref(), Some("LocalSystem"));

    let seed = HostSeed::new("hosts", &[("hsok", &smb), ("hsdown", CLOSED_HOST)], true).await;
    let dir_pw_file = work.join("dir-pw");
    let host_pw_file = work.join("host-pw");
    let wrong_pw_file = work.join("wrong-pw");
    write_secret(&dir_pw_file, &dir_password);
    write_secret(&host_pw_file, &host_password);
    write_secret(&wrong_pw_file, &wrong_password);
    let secrets = [
        dir_password.as_str(),
        host_password.as_str(),
        wrong_password.as_str(),
    ];

    // 1. A local administrator of the SMB host (flags): it is scanned, the closed one fails.
    let out = out_dir(&work, "good");
    let run_started = Instant::now();
    let child = discover(&seed.ou, &out, &dir_pw_file)
        .args(["--host-user", &host_user, "--host-password-file"])
        .arg(&host_pw_file)
        .args(["--host-timeout", "20"])
        .spawn()
        .expect("start alm discover");
    let output = watch(child, &secrets, Duration::from_secs(90));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "alm discover failed: {stderr}");
    eprintln!(
        "scan with the host administrator: {:?}\n{stderr}",
        run_started.elapsed()
    );
    assert!(stderr.contains("1 accounts and 2 computers"), "{stderr}");

    let hosts = csv_rows(&out.join("hosts.csv"));
    let hosts_by = by_host(&hosts);
    assert_eq!(hosts.len(), 2, "{hosts:?}");
    let ok = hosts_by[&smb];
    assert_eq!(
        (
            ok["status"].as_str(),
            ok["services"].as_str(),
            ok["error_kind"].as_str()
        ),
        ("scanned", expected_services.len().to_string().as_str(), ""),
        "{ok:?}"
    );
    let down = hosts_by[CLOSED_HOST];
    assert_eq!(
        (down["status"].as_str(), down["error_kind"].as_str()),
        ("failed", "unreachable"),
        "{down:?}"
    );

    // services.csv: exactly what Samba's client shows, field by field.
    let got: BTreeSet<NetService> = csv_rows(&out.join("services.csv"))
        .iter()
        .map(|r| {
            assert_eq!(r["dns_host_name"], smb, "{r:?}");
            assert_eq!(r["config_error"], "", "{r:?}");
            NetService {
                name: r["service_name"].clone(),
                display_name: r["display_name"].clone(),
                start_name: r["start_name"].clone(),
                start_type: r["start_type"].clone(),
                state: r["state"].clone(),
                binary_path: r["binary_path"].clone(),
            }
        })
        .collect();
    let want: BTreeSet<NetService> = expected_services.iter().cloned().collect();
    assert_eq!(got, want);
    let kinds: BTreeMap<String, String> = csv_rows(&out.join("services.csv"))
        .into_iter()
        .map(|r| (r["service_name"].clone(), r["account_kind"].clone()))
        .collect();
    assert_eq!(kinds["WINS"], "domain");
    assert_eq!(kinds["RemoteRegistry"], "local");
    assert_eq!(kinds["Spooler"], "built-in");

    // usage.csv: the seeded account → the SMB host, through WINS's start name.
    let usage = csv_rows(&out.join("usage.csv"));
    let usage: Vec<[&str; 4]> = usage
        .iter()
        .map(|u| {
            [
                u["account"].as_str(),
                u["host"].as_str(),
                u["service_name"].as_str(),
                u["start_name"].as_str(),
            ]
        })
        .collect();
    let wins_start = format!("{smb_domain}\\{WINS_ACCOUNT}");
    assert_eq!(
        usage,
        [[WINS_ACCOUNT, smb.as_str(), "WINS", wins_start.as_str()]]
    );
    let accounts = csv_rows(&out.join("accounts.csv"));
    let wins = accounts
        .iter()
        .find(|a| a["sam_account_name"] == WINS_ACCOUNT)
        .expect("svc_wins in accounts.csv");
    assert_eq!(wins["used_on_hosts"], smb);

    // errors.csv and the per-host logs: only the closed host.
    let errors = csv_rows(&out.join("errors.csv"));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        (
            errors[0]["dns_host_name"].as_str(),
            errors[0]["error_kind"].as_str()
        ),
        (CLOSED_HOST, "unreachable")
    );
    assert!(
        errors[0]["message"].contains("connection refused"),
        "{errors:?}"
    );
    let log = std::fs::read_to_string(out.join(format!("logs/{CLOSED_HOST}.log")))
        .expect("a log file for the unreachable host");
    assert!(
        log.contains("unreachable: ") && log.contains("connection refused"),
        "{log}"
    );
    assert!(!out.join(format!("logs/{smb}.log")).exists());
    let run_log = std::fs::read_to_string(out.join("logs/discover.log")).unwrap();
    assert!(
        run_log.contains(&format!("host scan as {host_user}")),
        "{run_log}"
    );

    let page = render_check(&out.join("summary.html"));
    assert!(page.contains("Host Scan Test Ltd"), "{page}");
    let pdf = pdf_text(&out.join("summary.pdf"));
    assert!(
        pdf.contains("Computers: 2 (1 scanned, 1 failed, 0 not scanned)"),
        "{pdf}"
    );
    assert_no_secrets(&out, &output, &secrets);

    // 2. A wrong host password (through the environment this time): the SMB host refuses
    // the logon, the run still ends normally with both hosts in the error section.
    let out = out_dir(&work, "wrong");
    let run_started = Instant::now();
    let child = discover(&seed.ou, &out, &dir_pw_file)
        .env("ALM_DISCOVER_HOST_USER", &host_user)
        .env("ALM_DISCOVER_HOST_PASSWORD_FILE", &wrong_pw_file)
        .args(["--host-timeout", "20"])
        .spawn()
        .expect("start alm discover");
    let output = watch(child, &secrets, Duration::from_secs(90));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "alm discover failed: {stderr}");
    eprintln!(
        "scan with a wrong host password: {:?}",
        run_started.elapsed()
    );
    let errors: BTreeMap<String, String> = csv_rows(&out.join("errors.csv"))
        .into_iter()
        .map(|e| (e["dns_host_name"].clone(), e["error_kind"].clone()))
        .collect();
    assert_eq!(
        errors,
        BTreeMap::from([
            (smb.clone(), "logon-failure".to_owned()),
            (CLOSED_HOST.to_owned(), "unreachable".to_owned()),
        ])
    );
    let log = std::fs::read_to_string(out.join(format!("logs/{smb}.log")))
        .expect("a log file for the host that refused the logon");
    assert!(
        log.contains("logon-failure: ") && log.contains("logon refused"),
        "{log}"
    );
    assert!(csv_rows(&out.join("usage.csv")).is_empty());
    assert!(csv_rows(&out.join("services.csv")).is_empty());
    render_check(&out.join("summary.html"));
    assert_no_secrets(&out, &output, &secrets);

    std::fs::remove_dir_all(&work).ok();
    seed.remove().await;
    eprintln!("host scan test took {:?}", started.elapsed());
}

/// Accepts TCP connections and never answers (a hung host); reports each accept.
fn silent_listener() -> (String, std::sync::mpsc::Receiver<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for sock in listener.incoming().flatten() {
            held.push(sock);
            let _ = tx.send(());
        }
    });
    (host, rx)
}

#[tokio::test]
async fn ctrl_c_during_a_hung_host_exits_130_with_valid_reports_for_what_was_scanned() {
    let started = Instant::now();
    assert_refused(CLOSED_HOST);
    let (hung, accepted) = silent_listener();
    // alm-scmr takes `host:port`, so the silent listener can stand in for a host.
    let seed = HostSeed::new("hang", &[("hshang", &hung), ("hsdown", CLOSED_HOST)], false).await;
    let work = temp_dir("hang");
    let dir_password = env("ALMTEST_AD_PASSWORD");
    let host_password = env("ALMTEST_SMB_PASSWORD");
    let dir_pw_file = work.join("dir-pw");
    let host_pw_file = work.join("host-pw");
    write_secret(&dir_pw_file, &dir_password);
    write_secret(&host_pw_file, &host_password);
    let host_user = format!("{}\\{}", env("ALMTEST_SMB_DOMAIN"), env("ALMTEST_SMB_USER"));
    let out = work.join("out");

    let child = discover(&seed.ou, &out, &dir_pw_file)
        .args(["--host-user", &host_user, "--host-password-file"])
        .arg(&host_pw_file)
        // Far longer than the test waits: only Ctrl-C can end this host's scan.
        .args(["--host-timeout", "600"])
        .spawn()
        .expect("start alm discover");
    let pid = child.id();
    // The hung host has been reached, and the closed one is done (its log file is written
    // when its outcome is recorded): now Ctrl-C.
    accepted
        .recv_timeout(Duration::from_secs(60))
        .expect("alm discover never connected to the hung host");
    let down_log = out.join(format!("logs/{CLOSED_HOST}.log"));
    let waited = Instant::now();
    while !down_log.exists() {
        assert!(
            waited.elapsed() < Duration::from_secs(30),
            "the closed host was never recorded"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let interrupted_at = Instant::now();
    let kill = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let output = watch(
        child,
        &[dir_password.as_str(), host_password.as_str()],
        Duration::from_secs(30),
    );
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    eprintln!(
        "stopped {:?} after SIGINT; alm said:\n{stderr}",
        interrupted_at.elapsed()
    );
    assert_eq!(output.status.code(), Some(130), "{stderr}");

    let hosts = csv_rows(&out.join("hosts.csv"));
    let hosts_by = by_host(&hosts);
    assert_eq!(hosts.len(), 2, "{hosts:?}");
    assert_eq!(hosts_by[&hung]["status"], "interrupted", "{hosts:?}");
    assert!(hosts_by[&hung]["message"].contains("Ctrl-C"), "{hosts:?}");
    assert_eq!(
        (
            hosts_by[CLOSED_HOST]["status"].as_str(),
            hosts_by[CLOSED_HOST]["error_kind"].as_str()
        ),
        ("failed", "unreachable")
    );
    let errors = csv_rows(&out.join("errors.csv"));
    assert_eq!(
        errors.len(),
        1,
        "an interrupted host is no error: {errors:?}"
    );
    assert_eq!(errors[0]["dns_host_name"], CLOSED_HOST);
    for csv in ["accounts.csv", "findings.csv", "services.csv", "usage.csv"] {
        csv_rows(&out.join(csv));
    }
    let page = render_check(&out.join("summary.html"));
    assert!(page.contains("interrupted"), "{page}");
    let pdf = pdf_text(&out.join("summary.pdf"));
    for needle in [
        "Host Scan Test Ltd",
        "Computers: 2 (0 scanned, 1 failed, 1 not scanned)",
        "The host scan was interrupted",
    ] {
        assert!(pdf.contains(needle), "the PDF lacks {needle:?}: {pdf}");
    }
    let leftovers: Vec<PathBuf> = files(&out)
        .into_iter()
        .filter(|f| f.to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let run_log = std::fs::read_to_string(out.join("logs/discover.log")).unwrap();
    assert!(run_log.contains("host scan interrupted"), "{run_log}");
    assert_no_secrets(
        &out,
        &output,
        &[dir_password.as_str(), host_password.as_str()],
    );

    std::fs::remove_dir_all(&work).ok();
    seed.remove().await;
    eprintln!("interrupted scan test took {:?}", started.elapsed());
}

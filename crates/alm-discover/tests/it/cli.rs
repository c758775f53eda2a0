//! The real `alm discover` binary against the real DC: reports on disk that pdftotext and
//! headless Chromium read back, the password nowhere to be seen, clear errors for bad input.
//!
//! The binary is the workspace's `alm` (built by `cargo test --workspace`, or
//! `cargo build -p alm`): `ALM_BIN` names it, else it is looked for beside this test binary.

use crate::seed::{env, Seeded};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) fn alm_bin() -> PathBuf {
    if let Ok(p) = std::env::var("ALM_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test binary path");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("alm");
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build -p alm` (or set ALM_BIN)",
        bin.display()
    );
    bin
}

pub(crate) fn temp_dir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "alm-discover-it-{label}-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub(crate) fn common_args(cmd: &mut Command) -> &mut Command {
    cmd.arg("discover")
        // The domain through the environment, so a test can override it with --domain.
        .env("ALM_DISCOVER_DOMAIN", env("ALMTEST_AD_URL"))
        .args(["--user", &env("ALMTEST_AD_BIND")])
        .args(["--yes", "--no-host-scan"])
        .stdin(Stdio::null())
        .env_remove("RUST_LOG")
}

/// Every file under `dir`, recursively.
pub(crate) fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p))
        } else {
            out.push(p)
        }
    }
    out
}

pub(crate) fn csv_rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            headers
                .iter()
                .zip(rec.unwrap().iter())
                .map(|(h, v)| (h.to_owned(), v.to_owned()))
                .collect()
        })
        .collect()
}

/// True when some process's command line holds `needle`.
pub(crate) fn in_any_cmdline(needle: &str) -> bool {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .any(|e| {
            std::fs::read(e.path().join("cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(needle))
                .unwrap_or(false)
        })
}

#[tokio::test]
async fn the_binary_writes_reports_that_pdftotext_and_chromium_read_and_never_the_password() {
    let seed = Seeded::new("cli").await;
    let work = temp_dir("cli");
    let password = env("ALMTEST_AD_PASSWORD");
    let password_file = work.join("password");
    std::fs::write(&password_file, format!("{password}\n")).unwrap();
    let out = work.join("out");
    let company = format!("Discovery Test {} GmbH", seed.run);

    let mut child = common_args(&mut Command::new(alm_bin()))
        .arg("--password-file")
        .arg(&password_file)
        .arg("--ca-file")
        .arg(env("ALMTEST_AD_CA_FILE"))
        .args(["--ou", &seed.ou, "--company", &company])
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start alm discover");
    // While it runs, no command line anywhere carries the password.
    let mut looks = 0;
    while child.try_wait().unwrap().is_none() {
        assert!(
            !in_any_cmdline(&password),
            "the password showed in /proc/*/cmdline"
        );
        looks += 1;
        std::thread::sleep(Duration::from_millis(5));
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "alm discover failed: {stderr}");
    eprintln!("checked the process list {looks} times; alm said:\n{stderr}");
    assert!(
        stderr.contains("In scope") && stderr.contains("18 accounts and 1 computers"),
        "{stderr}"
    );

    // accounts.csv: every service account with exactly its seeded findings (real clock).
    let accounts = csv_rows(&out.join("accounts.csv"));
    let got: BTreeMap<String, BTreeSet<String>> = accounts
        .iter()
        .map(|r| {
            (
                r["sam_account_name"].clone(),
                r["findings"]
                    .split(';')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            )
        })
        .collect();
    let want: BTreeMap<String, BTreeSet<String>> = seed
        .expected_now
        .iter()
        .map(|(k, v)| (k.clone(), v.iter().map(|s| s.to_string()).collect()))
        .collect();
    assert_eq!(got, want);
    // findings.csv agrees, one row per finding, each with a fix.
    let findings = csv_rows(&out.join("findings.csv"));
    assert_eq!(findings.len(), 13);
    assert!(findings
        .iter()
        .all(|f| !f["fix"].is_empty() && !f["severity"].is_empty()));
    let hosts = csv_rows(&out.join("hosts.csv"));
    assert_eq!(hosts.len(), 1);
    assert_eq!(
        (
            hosts[0]["dns_host_name"].as_str(),
            hosts[0]["status"].as_str()
        ),
        (seed.computer_dns.as_str(), "not-scanned")
    );
    assert!(csv_rows(&out.join("errors.csv")).is_empty());
    assert!(csv_rows(&out.join("usage.csv")).is_empty());

    // The PDF, read back by poppler's pdftotext: the company and the counts from the seed.
    let squeezed = pdf_text(&out.join("summary.pdf"));
    for needle in [
        company.as_str(),
        "Accounts in scope: 18",
        "Service accounts: 17",
        "Findings: 13",
        "Accounts with findings: 13",
        "Computers: 1 (0 scanned, 0 failed, 1 not scanned)",
        "critical 3",
        "high 5",
        "medium 5",
        "low 0",
        "privileged 2",
        "stale 1",
        "gmsa-broad-readers 1",
        "des-only 2",
    ] {
        assert!(
            squeezed.contains(needle),
            "the PDF text lacks {needle:?}:\n{squeezed}"
        );
    }
    // "What to do": one whole line per finding kind found, each fix as findings.csv has it
    // (some are longer than a line: wrapped, never cut).
    let kinds: BTreeSet<(String, String, String)> = findings
        .iter()
        .map(|f| {
            (
                f["finding_id"].clone(),
                f["severity"].clone(),
                f["fix"].clone(),
            )
        })
        .collect();
    // Every kind but the two that need an old account (kerberoastable-old-password, never-used).
    assert_eq!(kinds.len(), 11, "{kinds:?}");
    for (id, severity, fix) in &kinds {
        let line = format!("{id} ({severity}): {fix}");
        assert!(
            squeezed.contains(&line),
            "the PDF text lacks {line:?}:\n{squeezed}"
        );
    }
    assert!(!squeezed.contains("..."), "{squeezed}");

    // The HTML in headless Chromium: no console errors, the numbers on the page.
    let report = render_check(&out.join("summary.html"));
    assert!(
        report.contains(&company) && report.contains("13\\nfindings"),
        "{report}"
    );

    // The password is in no report, no log, no output.
    let mut checked = 0;
    for f in files(&out) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(&password),
            "the password is in {}",
            f.display()
        );
        checked += 1;
    }
    assert!(checked >= 8 && out.join("logs/discover.log").exists());
    assert!(
        !stderr.contains(&password) && !String::from_utf8_lossy(&output.stdout).contains(&password)
    );
    std::fs::remove_dir_all(&work).ok();
    seed.remove().await;
}

/// Renders `html` in headless Chromium (tests/peers/html_render.sh); asserts it loaded with
/// no console errors and returns what the check reports (the page's text among it).
pub(crate) fn render_check(html: &Path) -> String {
    let render_dir = env("ALMTEST_HTML_RENDER_DIR");
    let url = format!("file://{}", html.display());
    let render = Command::new("node")
        .arg(Path::new(&render_dir).join("render_check.mjs"))
        .arg(&url)
        .output()
        .expect("node");
    let report = String::from_utf8_lossy(&render.stdout).into_owned();
    assert!(
        render.status.success(),
        "Chromium render check failed: {report} {}",
        String::from_utf8_lossy(&render.stderr)
    );
    assert!(report.contains("\"errors\":[]"), "{report}");
    report
}

/// The text poppler's pdftotext reads from `pdf`, whitespace squeezed to single spaces.
pub(crate) fn pdf_text(pdf: &Path) -> String {
    let text = Command::new("pdftotext")
        .arg("-layout")
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext (Debian poppler-utils; scripts/test.sh installs it)");
    assert!(
        text.status.success(),
        "pdftotext: {}",
        String::from_utf8_lossy(&text.stderr)
    );
    String::from_utf8_lossy(&text.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn run_failing(extra: &[&str], password: &str) -> String {
    let work = temp_dir("bad");
    let pw = work.join("pw");
    std::fs::write(&pw, password).unwrap();
    let started = Instant::now();
    let output = common_args(&mut Command::new(alm_bin()))
        .arg("--password-file")
        .arg(&pw)
        .args(["--company", "X"])
        .arg("--out")
        .arg(work.join("out"))
        .args(extra)
        .output()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(60));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !output.status.success(),
        "expected a failure for {extra:?}: {text}"
    );
    assert!(!text.contains(password), "the password was printed");
    assert!(
        !work.join("out/summary.html").exists(),
        "no report after a failure"
    );
    std::fs::remove_dir_all(&work).ok();
    text
}

#[test]
fn bad_inputs_and_refusals_give_errors_that_say_what_to_do() {
    let ca = env("ALMTEST_AD_CA_FILE");
    let good = env("ALMTEST_AD_PASSWORD");
    let missing_ou = format!(
        "OU=no-such-ou-{},{}",
        uuid::Uuid::new_v4().simple(),
        env("ALMTEST_AD_BASE_DN")
    );
    let e = run_failing(&["--ca-file", &ca, "--ou", &missing_ou], &good);
    assert!(
        e.contains("was not found") && e.contains("--ou") && e.contains(&missing_ou),
        "{e}"
    );
    let e = run_failing(&["--ca-file", &ca, "--stale-days", "0"], &good);
    assert!(e.contains("--stale-days: 0 is out of range"), "{e}");
    let e = run_failing(&["--ca-file", &ca, "--password-age-days", "soon"], &good);
    assert!(e.contains("--password-age-days"), "{e}");
    let e = run_failing(&["--ca-file", &ca, "--name-pattern", "(svc"], &good);
    assert!(
        e.contains("--name-pattern") && e.contains("not a valid regular expression"),
        "{e}"
    );
    let wrong = format!("Wrong-{}-Pw1", uuid::Uuid::new_v4().simple());
    let e = run_failing(&["--ca-file", &ca], &wrong);
    assert!(
        e.contains("refused the user name or password") && e.contains("LDAP result 49"),
        "{e}"
    );
    // Without the test CA the DC's certificate is not trusted.
    let e = run_failing(&[], &good);
    assert!(e.contains("not trusted") && e.contains("--ca-file"), "{e}");
    // A port nobody listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = listener.local_addr().unwrap().port();
    drop(listener);
    let url = format!("ldaps://127.0.0.1:{closed}");
    let e = run_failing(&["--ca-file", &ca, "--domain", &url], &good);
    assert!(
        e.contains("cannot reach the domain controller") && e.contains(&url),
        "{e}"
    );
}

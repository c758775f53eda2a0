//! The PDF executive summary read back by poppler (`pdftotext`, `pdfinfo`): long texts are
//! wrapped, never cut; pages are added when the text needs them; and no word runs past the
//! margins as poppler itself measures the words (an independent check of the writer's metrics).

use crate::cli::temp_dir;
use alm_discover::account::{Account, AccountKind, Computer};
use alm_discover::analysis::AnalysedAccount;
use alm_discover::findings::{Finding, FindingKind};
use alm_discover::host_scan::{HostError, HostErrorKind, HostOutcome, HostResult, HostScan};
use alm_discover::report::{pdf, Report};
use std::path::Path;
use std::process::Command;

const PAGE_WIDTH: f32 = 595.0;
const MARGIN: f32 = 50.0;

fn analysed(name: &str, kinds: &[FindingKind]) -> AnalysedAccount {
    AnalysedAccount {
        account: Account::new(name, AccountKind::User),
        reasons: vec![alm_discover::classify::ServiceReason::SpnOnUser],
        findings: kinds
            .iter()
            .map(|k| Finding {
                kind: *k,
                detail: format!("evidence of {}", k.id()),
            })
            .collect(),
    }
}

fn failed_host(name: &str, message: String) -> HostOutcome {
    HostOutcome {
        computer: Computer {
            dn: format!("CN={name},OU=Servers,DC=corp,DC=test"),
            name: name.to_owned(),
            dns_host_name: Some(format!("{name}.corp.test")),
            enabled: true,
            domain_controller: false,
        },
        result: HostResult::Failed(HostError {
            kind: HostErrorKind::AccessDenied,
            message,
        }),
    }
}

fn report(
    company: &str,
    scope: &str,
    accounts: Vec<AnalysedAccount>,
    hosts: Vec<HostOutcome>,
) -> Report {
    Report {
        company: company.to_owned(),
        scanned_at: time::macros::datetime!(2026-06-01 09:30 UTC),
        domain: "corp.test".into(),
        scope: scope.to_owned(),
        accounts_in_scope: accounts.len(),
        accounts,
        builtin_accounts: Vec::new(),
        hosts: HostScan {
            outcomes: hosts,
            interrupted: false,
        },
        usage: Vec::new(),
    }
}

fn poppler(tool: &str, args: &[&str], pdf: &Path) -> String {
    let out = Command::new(tool)
        .args(args)
        .arg(pdf)
        .arg("-")
        .output()
        .unwrap_or_else(|e| panic!("{tool} (Debian poppler-utils): {e}"));
    assert!(
        out.status.success(),
        "{tool}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn page_count(pdf: &Path) -> usize {
    let out = Command::new("pdfinfo").arg(pdf).output().expect("pdfinfo");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("pdfinfo names the page count")
}

fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn no_whitespace(text: &str) -> String {
    text.split_whitespace().collect()
}

fn write(dir: &Path, name: &str, r: &Report) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, pdf::render(r)).unwrap();
    path
}

#[test]
fn long_texts_are_wrapped_not_cut_and_pages_are_added_as_needed() {
    let dir = temp_dir("pdf");

    // A small summary is one page.
    let small = write(
        &dir,
        "small.pdf",
        &report(
            "Small Ltd",
            "OU=Servers,DC=corp,DC=test",
            vec![analysed("svc-one", &[FindingKind::Stale])],
            vec![],
        ),
    );
    assert_eq!(page_count(&small), 1);

    // A long one: every finding kind ("What to do" has a line for each, some longer than a
    // line), a company and a scope longer than a line (the scope a DN without a space), and
    // 60 hosts that failed with messages of three lines and more.
    let company = "Müller & Söhne Industrie- und Handelsgesellschaft für Rechenzentrumsdienste, \
                   Netzwerkbetrieb und Verwaltungsautomatisierung mbH & Co. KG, Niederlassung Süd";
    let scope = (0..30)
        .map(|i| format!("OU=Abteilung-{i:02}"))
        .chain(["DC=corp".to_owned(), "DC=test".to_owned()])
        .collect::<Vec<_>>()
        .join(",");
    let mut accounts: Vec<AnalysedAccount> = FindingKind::ALL
        .iter()
        .map(|k| analysed(&format!("svc-{}", k.id()), &[*k]))
        .collect();
    accounts.push(analysed("svc-everything", &FindingKind::ALL));
    let message = |i: usize| {
        format!(
            "the host {i:03} refused the SMB session setup after NTLMv2 authentication: \
             STATUS_ACCESS_DENIED from the service control manager while opening the \
             configuration of every service; the account needs local administrator rights on \
             this host, which a group policy may grant; marker-{i:03}-end"
        )
    };
    let mut hosts: Vec<HostOutcome> = (0..60)
        .map(|i| failed_host(&format!("app{i:03}"), message(i)))
        .collect();
    let path_token = format!(
        "C:\\{}\\service.exe",
        (0..25)
            .map(|i| format!("Programme-{i:02}"))
            .collect::<Vec<_>>()
            .join("\\")
    );
    hosts.insert(
        0,
        failed_host("pathhost", format!("cannot open {path_token}")),
    );
    let big_report = report(company, &scope, accounts, hosts);
    let big = write(&dir, "big.pdf", &big_report);

    let pages = page_count(&big);
    assert!(pages > 1, "the long summary has {pages} page(s)");
    let raw = poppler("pdftotext", &["-layout"], &big);
    let text = squeeze(&raw);
    assert!(!text.contains("..."), "cut somewhere:\n{text}");
    for k in FindingKind::ALL {
        let line = format!("{} ({}): {}", k.id(), k.severity().label(), k.fix());
        assert!(
            text.contains(&line),
            "\"What to do\" lacks {line:?}:\n{text}"
        );
    }
    for i in 0..60 {
        let line = format!(
            "app{i:03}.corp.test: access-denied - {}",
            squeeze(&message(i))
        );
        assert!(text.contains(&line), "lacks {line:?}");
    }
    // Texts without a space are broken inside, so compare them without the line breaks.
    let solid = no_whitespace(&raw);
    for whole in [
        format!("Scope:{scope}"),
        no_whitespace(company),
        format!("cannotopen{path_token}"),
    ] {
        assert!(solid.contains(&whole), "lacks {whole:?}");
    }
    // The text flows onto the pages in order: the last host is on the last page, the title on
    // the first.
    let page = |n: usize| {
        poppler(
            "pdftotext",
            &["-layout", "-f", &n.to_string(), "-l", &n.to_string()],
            &big,
        )
    };
    assert!(page(1).contains("Service account discovery"));
    assert!(page(pages).contains("marker-059-end"), "{}", page(pages));

    // Every word inside the margins, as poppler measures it.
    let bbox = poppler("pdftotext", &["-bbox"], &big);
    let word = regex::Regex::new(r#"<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)""#).unwrap();
    let mut words = 0;
    for c in word.captures_iter(&bbox) {
        let (x_min, x_max): (f32, f32) = (c[1].parse().unwrap(), c[2].parse().unwrap());
        assert!(
            x_min >= MARGIN - 0.5 && x_max <= PAGE_WIDTH - MARGIN + 0.5,
            "a word at {x_min}..{x_max}: {}",
            &c[0]
        );
        words += 1;
    }
    assert!(words > 2000, "{words} words");
    std::fs::remove_dir_all(&dir).ok();
}

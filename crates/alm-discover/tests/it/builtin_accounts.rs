//! The domain's built-in accounts against the real DC: krbtgt (which carries the SPN
//! `kadmin/changepw` on Samba), Administrator and Guest each look like a service account
//! (krbtgt by its SPN and Guest by its password that never expires under the default
//! settings; Administrator, plain on this DC, by a name pattern the test adds), and yet the
//! real binary lists none of them in its reports nor sends any with `--import`; the
//! summaries name them apart.
//!
//! What `--import` sends is caught by a listener on this machine that answers as an alm
//! server does (its acceptance is the server's own test, crates/alm/tests/it/discovery.rs):
//! the body is the binary's real request.

use crate::analysis::directory;
use crate::cli::{alm_bin, common_args, csv_rows, pdf_text, temp_dir};
use crate::seed::env;
use alm_discover::classify::service_reasons;
use alm_discover::directory_reader;
use alm_discover::settings::AnalysisSettings;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Command;

/// Takes one HTTP request on `listener`, answers it with a receipt, returns its body.
fn catch_one_request(listener: TcpListener) -> std::thread::JoinHandle<serde_json::Value> {
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("the import connects");
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut length = 0usize;
        let mut request_line = String::new();
        reader.read_line(&mut request_line).unwrap();
        assert!(
            request_line.starts_with("POST /api/v1/discovery/runs "),
            "{request_line}"
        );
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap();
                }
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).unwrap();
        let run: serde_json::Value = serde_json::from_slice(&body).expect("a JSON run");
        let received = run["accounts"].as_array().map_or(0, Vec::len);
        let receipt = serde_json::json!({
            "run_id": uuid::Uuid::new_v4().to_string(),
            "domain_id": uuid::Uuid::new_v4().to_string(),
            "received": received, "stored": received, "new": received,
            "updated": 0, "skipped_managed": 0,
        })
        .to_string();
        let mut stream = stream;
        write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{receipt}",
            receipt.len()
        )
        .unwrap();
        run
    })
}

#[tokio::test]
async fn the_domains_built_in_accounts_are_neither_listed_nor_sent() {
    let base = env("ALMTEST_AD_BASE_DN");
    let users = format!("CN=Users,{base}");
    let built_in = [("krbtgt", 502u32), ("Administrator", 500), ("Guest", 501)];
    let patterns = [
        "^(svc|sa|srv)[-_]".to_owned(),
        "^(administrator|guest|krbtgt)$".to_owned(),
    ];

    // They are there, with their well-known RIDs, and each looks like a service account.
    let ad = directory();
    let accounts = directory_reader::read_accounts(&ad, &base, &users)
        .await
        .expect("read CN=Users");
    let defaults = AnalysisSettings::defaults();
    let settings = AnalysisSettings::parse(&patterns, &["service".to_owned()], 365, 90).unwrap();
    for (name, rid) in built_in {
        let a = accounts
            .iter()
            .find(|a| a.sam_account_name.eq_ignore_ascii_case(name))
            .unwrap_or_else(|| panic!("{name} is not in {users}"));
        assert!(
            a.sid.as_deref().unwrap().ends_with(&format!("-{rid}")),
            "{name}: {:?}",
            a.sid
        );
        assert!(
            !service_reasons(a, &settings).is_empty(),
            "{name} would match as a service account"
        );
    }
    let by_name = |name: &str| {
        accounts
            .iter()
            .find(|a| a.sam_account_name == name)
            .unwrap()
    };
    let krbtgt = by_name("krbtgt");
    assert!(!service_reasons(krbtgt, &defaults).is_empty());
    assert!(!service_reasons(by_name("Guest"), &defaults).is_empty());
    assert!(
        krbtgt
            .service_principal_names
            .iter()
            .any(|s| s.eq_ignore_ascii_case("kadmin/changepw")),
        "{:?}",
        krbtgt.service_principal_names
    );

    // The real binary over CN=Users, sending to the listener.
    let work = temp_dir("builtin");
    let password_file = work.join("password");
    std::fs::write(&password_file, format!("{}\n", env("ALMTEST_AD_PASSWORD"))).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = format!("http://{}", listener.local_addr().unwrap());
    let caught = catch_one_request(listener);
    let out = work.join("out");
    let output = common_args(&mut Command::new(alm_bin()))
        .arg("--password-file")
        .arg(&password_file)
        .args(["--ca-file", &env("ALMTEST_AD_CA_FILE")])
        .args(["--ou", &users, "--company", "Built-in Test"])
        .args([
            "--name-pattern",
            &patterns[0],
            "--name-pattern",
            &patterns[1],
        ])
        .arg("--out")
        .arg(&out)
        .args(["--import", &server])
        .env("ALM_IMPORT_TOKEN", "alm_builtin-accounts-test-token")
        .output()
        .expect("run alm discover");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "alm discover failed: {stderr}");
    let run = caught.join().expect("the listener caught the import");

    let is_built_in = |name: &str| built_in.iter().any(|(b, _)| b.eq_ignore_ascii_case(name));
    let listed: Vec<String> = csv_rows(&out.join("accounts.csv"))
        .into_iter()
        .map(|r| r["sam_account_name"].clone())
        .collect();
    assert!(
        !listed.iter().any(|n| is_built_in(n)),
        "accounts.csv lists {listed:?}"
    );
    let with_findings: Vec<String> = csv_rows(&out.join("findings.csv"))
        .into_iter()
        .map(|r| r["account"].clone())
        .collect();
    assert!(
        !with_findings.iter().any(|n| is_built_in(n)),
        "findings.csv: {with_findings:?}"
    );
    let sent: Vec<&str> = run["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .map(|a| a["sam_account_name"].as_str().unwrap())
        .collect();
    assert!(!sent.iter().any(|n| is_built_in(n)), "sent {sent:?}");
    for a in run["accounts"].as_array().unwrap() {
        let sid = a["sid"].as_str().unwrap_or_default();
        assert!(
            !["-500", "-501", "-502"].iter().any(|r| sid.ends_with(r)),
            "sent {a}"
        );
    }
    assert_eq!(
        sent.len(),
        listed.len(),
        "the import sends what accounts.csv lists"
    );

    // Shown apart: named, with why, in both summaries and on stderr.
    for name in [
        "Administrator (RID 500)",
        "Guest (RID 501)",
        "krbtgt (RID 502)",
    ] {
        let html = std::fs::read_to_string(out.join("summary.html")).unwrap();
        assert!(html.contains(name), "summary.html lacks {name}");
        assert!(
            pdf_text(&out.join("summary.pdf")).contains(name),
            "summary.pdf lacks {name}"
        );
        assert!(stderr.contains(name), "{stderr}");
    }
    std::fs::remove_dir_all(&work).ok();
}

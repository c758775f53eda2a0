//! `alm discover --import` against the real server (SPEC §11, last bullet): the real binary
//! scans a seeded OU of the Samba DC and sends its findings; the unmanaged accounts are listed
//! with the findings and reasons the seed gave them; a second send updates; a managed account
//! is skipped; a wrong token, a non-manager's token and an unknown base DN fail clearly and
//! store nothing; the token shows nowhere; and an import through `/domains/{id}/import` takes
//! an account off the list.

use crate::support::{ad, on_both_backends, TestServer};
use crate::templates::{definition, world};
use alm_directory::password::Generate as _;
use alm_directory::Directory;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: this test needs the Samba AD DC of `scripts/test.sh`")
    })
}

/// An account the seed made: its entry, reasons, (finding, severity) pairs, highest severity.
type Expected<'a> = (
    &'a alm_directory::DirectoryEntry,
    &'a [&'a str],
    &'a [(&'a str, &'a str)],
    Option<&'a str>,
);

/// One finished run of the binary.
pub(crate) struct Run {
    pub(crate) ok: bool,
    pub(crate) output: String,
    out: PathBuf,
}

/// `alm discover --import` of `ou`, read as the domain whose naming context is `base_dn`,
/// with the token from a file (or, when `token_file` is None, from `ALM_IMPORT_TOKEN`).
pub(crate) fn discover(
    work: &Path,
    label: &str,
    ou: &str,
    base_dn: &str,
    server: &str,
    token: &str,
    by_env: bool,
) -> Run {
    run_discover(work, label, ou, base_dn, server, token, by_env, &[])
}

/// As [`discover`] with the token from a file, and `host_scan`'s flags (`--host-user` …);
/// without any, `--no-host-scan`.
pub(crate) fn discover_with(
    work: &Path,
    label: &str,
    ou: &str,
    base_dn: &str,
    server: &str,
    token: &str,
    host_scan: &[&str],
) -> Run {
    run_discover(work, label, ou, base_dn, server, token, false, host_scan)
}

#[allow(clippy::too_many_arguments)]
fn run_discover(
    work: &Path,
    label: &str,
    ou: &str,
    base_dn: &str,
    server: &str,
    token: &str,
    by_env: bool,
    host_scan: &[&str],
) -> Run {
    let password = work.join("password");
    std::fs::write(&password, format!("{}\n", env("ALMTEST_AD_PASSWORD"))).unwrap();
    let out = work.join(label);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_alm"));
    cmd.arg("discover")
        .args([
            "--domain",
            &env("ALMTEST_AD_URL"),
            "--user",
            &env("ALMTEST_AD_BIND"),
        ])
        .arg("--password-file")
        .arg(&password)
        .args(["--ca-file", &env("ALMTEST_AD_CA_FILE")])
        .args([
            "--ou",
            ou,
            "--base-dn",
            base_dn,
            "--company",
            "Import Test",
            "--yes",
        ])
        .args(if host_scan.is_empty() {
            &["--no-host-scan"][..]
        } else {
            host_scan
        })
        .arg("--out")
        .arg(&out)
        .args(["--import", server])
        .env_remove("RUST_LOG")
        .env_remove("ALM_IMPORT_TOKEN")
        .env_remove("ALM_DISCOVER_HOST_USER")
        .env_remove("ALM_DISCOVER_HOST_PASSWORD_FILE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if by_env {
        cmd.env("ALM_IMPORT_TOKEN", token);
    } else {
        let file = work.join(format!("{label}.token"));
        std::fs::write(&file, format!("{token}\n")).unwrap();
        cmd.arg("--import-token-file").arg(&file);
    }
    let child = cmd.spawn().expect("start alm discover");
    let output = child.wait_with_output().unwrap();
    Run {
        ok: output.status.success(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
        out,
    }
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
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

async fn runs_stored(s: &TestServer) -> i64 {
    let mut conn = s.state().db.read().await.unwrap();
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM discovery_runs")
        .fetch_one(&mut *conn)
        .await
        .unwrap()
}

fn names(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["sam_account_name"].as_str().unwrap().to_owned())
        .collect()
}

on_both_backends! {
    async fn discovered_accounts_arrive_from_alm_discover_and_leave_when_imported(backend: Backend) {
        let s = TestServer::start_with(backend, &[("ALM_SCHEDULER__ENABLED", "false")]).await;
        let admin = s.admin();
        let w = world(&s).await;
        // The tool stamps its scan with the real clock; the server must not think it future.
        s.clock.set(alm_core::Clock::now(&alm_core::SystemClock) + time::Duration::minutes(5));
        let dir = ad::connect();
        let tag = &uuid::Uuid::new_v4().simple().to_string()[..5];
        let user = |sam: String, description: Option<&str>, attributes: Vec<(String, Vec<String>)>| alm_directory::NewUser {
            parent_dn: w.ou.clone(), user_principal_name: format!("{sam}@corp.example.test"), sam_account_name: sam,
            description: description.map(str::to_owned), attributes,
            password: alm_directory::password::PasswordPolicy::default().generate("d", ""),
            enabled: true, account_expires: alm_core::filetime::AccountExpires::Never,
        };
        // What the seed gives each account (default settings: name pattern ^(svc|sa|srv)[-_],
        // description keyword "service"; the accounts are new, so no old password or stale logon):
        // an SPN with RC4 only → reasons spn + name, finding no-aes (medium);
        let rc4 = dir.create_user(&user(format!("svc-rc4{tag}"), None, vec![
            ("servicePrincipalName".into(), vec![format!("HTTP/rc4{tag}.disc.test")]),
            ("msDS-SupportedEncryptionTypes".into(), vec!["4".into()]),
        ])).await.unwrap();
        // adminCount=1 → reason name, finding privileged (critical);
        let adm = dir.create_user(&user(format!("svc-adm{tag}"), None, vec![("adminCount".into(), vec!["1".into()])])).await.unwrap();
        // a description naming a service → reason description:service, no finding;
        let app = dir.create_user(&user(format!("app{tag}"), Some("runs the billing service"), vec![])).await.unwrap();
        // a plain user → not a service account, not sent;
        dir.create_user(&user(format!("plain{tag}"), Some("a person"), vec![])).await.unwrap();
        // a service account alm manages already (imported below) → sent, skipped.
        let managed = dir.create_user(&user(format!("svc-man{tag}"), None, vec![])).await.unwrap();

        let (_, domain) = admin.get(&format!("/api/v1/domains/{}", w.domain)).await;
        let base_dn = domain["base_dn"].as_str().unwrap().to_owned();
        let (_, run) = admin.post_empty(&format!("/api/v1/domains/{}/sync", w.domain)).await;
        assert_eq!(run["outcome"], "succeeded", "{run}");
        let (_, t) = admin.post("/api/v1/templates", json!({"name": "Found", "definition": definition(&w)})).await;
        let template = t["id"].as_str().unwrap().to_owned();
        assert_eq!(admin.post_empty(&format!("/api/v1/templates/{template}/publish")).await.0, 200);
        let import = |guid: String| json!({"object_guids": [guid], "template_id": template, "interval": "90d", "owners": {"users": [w.requester_id]}});
        let (st, done) = admin.post(&format!("/api/v1/domains/{}/import", w.domain), import(managed.guid.to_string())).await;
        assert_eq!(st, 200, "{done}");

        let work = crate::support::db::temp_dir("discover-import");
        let token = s.admin_token.clone();
        let mut outputs = Vec::new();

        // 1. The first send: three stored, the managed one skipped, no host data.
        let first = discover(&work, "first", &w.ou, &base_dn, &s.base, &token, false);
        assert!(first.ok, "{}", first.output);
        assert!(first.output.contains("Import: sent 4 service accounts with 2 findings")
                && first.output.contains("3 stored as unmanaged (3 new, 0 updated), 1 skipped as managed by alm already")
                && first.output.contains("no host data (--no-host-scan)"), "{}", first.output);
        let url = format!("/api/v1/discovery/accounts?domain_id={}", w.domain);
        let (st, page) = admin.get(&url).await;
        assert_eq!(st, 200, "{page}");
        assert_eq!(page["total"], 3, "{page}");
        // Highest severity first: privileged (critical), no-aes (medium), then none.
        assert_eq!(names(&page), [format!("svc-adm{tag}"), format!("svc-rc4{tag}"), format!("app{tag}")]);
        let items = page["items"].as_array().unwrap();
        let expect: [Expected; 3] = [
            (&adm, &["name:^(svc|sa|srv)[-_]"], &[("privileged", "critical")], Some("critical")),
            (&rc4, &["spn", "name:^(svc|sa|srv)[-_]"], &[("no-aes", "medium")], Some("medium")),
            (&app, &["description:service"], &[], None),
        ];
        for (item, (entry, reasons, findings, highest)) in items.iter().zip(expect) {
            assert_eq!(item["guid"], entry.guid.to_string(), "{item}");
            assert_eq!(item["dn"], entry.dn.as_str(), "{item}");
            assert_eq!(item["kind"], "user", "{item}");
            assert!(item["sid"].as_str().unwrap().starts_with("S-1-5-21-"), "{item}");
            let got: BTreeSet<&str> = item["reasons"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
            assert_eq!(got, reasons.iter().copied().collect(), "{item}");
            let got: BTreeSet<(&str, &str)> = item["findings"].as_array().unwrap().iter()
                .map(|f| (f["code"].as_str().unwrap(), f["severity"].as_str().unwrap())).collect();
            assert_eq!(got, findings.iter().copied().collect(), "{item}");
            assert!(item["findings"].as_array().unwrap().iter().all(|f| !f["fix"].as_str().unwrap().is_empty()), "{item}");
            assert_eq!(item["highest_severity"].as_str(), highest, "{item}");
            assert_eq!((item["hosts"].as_array().unwrap().len(), &item["host_scan_complete"]), (0, &json!(false)), "{item}");
        }
        let first_run = items[0]["last_run_id"].clone();
        let first_seen = items[0]["first_seen_at"].clone();
        assert_eq!(runs_stored(&s).await, 1);
        outputs.push(first);

        // 2. The same scan again (token from the environment this time): updated, not doubled.
        s.clock.advance(time::Duration::minutes(10));
        let second = discover(&work, "second", &w.ou, &base_dn, &s.base, &token, true);
        assert!(second.ok, "{}", second.output);
        assert!(second.output.contains("3 stored as unmanaged (0 new, 3 updated), 1 skipped"), "{}", second.output);
        let (_, page) = admin.get(&url).await;
        assert_eq!(page["total"], 3, "{page}");
        let adm_item = &page["items"][0];
        assert_eq!(adm_item["first_seen_at"], first_seen, "{adm_item}");
        assert_ne!(adm_item["last_seen_at"], first_seen, "{adm_item}");
        assert_ne!(adm_item["last_run_id"], first_run, "{adm_item}");
        assert_eq!(runs_stored(&s).await, 2);
        outputs.push(second);

        // 3. Refusals store nothing, fail with a message, and keep the reports.
        let wrong = discover(&work, "wrong", &w.ou, &base_dn, &s.base, "alm_notarealtokenatallxxxxxxxxxxxxxxxxxxxxxxx", false);
        assert!(!wrong.ok, "{}", wrong.output);
        assert!(wrong.output.contains("refused the API token (401)") && wrong.output.contains("Create an API token in alm")
                && wrong.output.contains("the reports are written to"), "{}", wrong.output);
        assert!(wrong.out.join("accounts.csv").exists(), "the reports come before the import");
        let requester_token = w.requester.token.clone().unwrap();
        let denied = discover(&work, "denied", &w.ou, &base_dn, &s.base, &requester_token, false);
        assert!(!denied.ok, "{}", denied.output);
        assert!(denied.output.contains("may not send discovery runs") && denied.output.contains("(403"), "{}", denied.output);
        // The OU itself is no alm domain's base DN.
        let unknown = discover(&work, "unknown", &w.ou, &w.ou, &s.base, &token, false);
        assert!(!unknown.ok, "{}", unknown.output);
        assert!(unknown.output.contains("(422)") && unknown.output.contains("domain.base_dn")
                && unknown.output.contains("add the domain to alm first"), "{}", unknown.output);
        assert_eq!(runs_stored(&s).await, 2, "a refused run stores nothing");
        assert_eq!(admin.get(&url).await.1["total"], 3);
        let (_, audit) = admin.get("/api/v1/audit?action=discovery.run-received").await;
        assert_eq!(audit["total"], 2, "{audit}");
        assert_eq!(audit["items"][0]["summary"]["received"], 4, "{audit}");
        assert!(!audit.to_string().contains(&format!("svc-adm{tag}")), "counts, not account lists: {audit}");
        let requester_secret = requester_token.clone();
        for run in [wrong, denied, unknown] {
            outputs.push(run);
        }

        // 4. The tokens are nowhere: not in any output, report or run log.
        for run in &outputs {
            for secret in [&token, &requester_secret] {
                assert!(!run.output.contains(secret.as_str()), "a token in the output of {}", run.out.display());
                for f in files(&run.out) {
                    let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
                    assert!(!text.contains(secret.as_str()), "a token in {}", f.display());
                }
            }
        }

        // 5. From discovered to managed: import one; it leaves the list.
        assert_eq!(w.requester.get(&url).await.0, 403, "managers only");
        let (st, done) = admin.post(&format!("/api/v1/domains/{}/import", w.domain), import(rc4.guid.to_string())).await;
        assert_eq!(st, 200, "{done}");
        let (_, page) = admin.get(&url).await;
        assert_eq!((page["total"].as_u64(), names(&page)), (Some(2), vec![format!("svc-adm{tag}"), format!("app{tag}")]), "{page}");
        let (_, page) = admin.get("/api/v1/discovery/accounts?sort=name&limit=1").await;
        assert_eq!((page["total"].as_u64(), names(&page)), (Some(2), vec![format!("app{tag}")]), "{page}");
        std::fs::remove_dir_all(&work).ok();
        s.stop().await;
    }
}

on_both_backends! {
    async fn discovery_runs_are_checked_field_by_field_and_stored_all_or_nothing(backend: Backend) {
        let s = TestServer::start(backend).await;
        let admin = s.admin();
        let base_dn = format!("OU=runs-{},DC=corp,DC=example,DC=test", &uuid::Uuid::new_v4().simple().to_string()[..6]);
        let (st, d) = admin.post("/api/v1/domains", json!({"name": "Runs", "url": "ldaps://127.0.0.1:1", "bind_identity": "svc@corp.example.test",
                                                          "bind_password": "x", "base_dn": base_dn})).await;
        assert_eq!(st, 201, "{d}");
        let account = |guid: &str, name: &str| json!({"object_guid": guid, "sam_account_name": name, "dn": format!("CN={name},{base_dn}"),
            "sid": "S-1-5-21-1-2-3-1105", "kind": "gmsa", "reasons": ["gmsa"],
            "findings": [{"code": "gmsa-broad-readers", "severity": "high", "detail": "readable by Domain Users", "fix": "limit it"}],
            "hosts": ["web1.corp.example.test"]});
        let g1 = uuid::Uuid::new_v4().to_string();
        let g2 = uuid::Uuid::new_v4().to_string();
        let run = |accounts: Value, base: &str| json!({"domain": {"fqdn": "corp.example.test", "base_dn": base},
            "scanned_at": "2026-11-29T09:00:00Z", "tool_version": "0.1.0", "host_scan_complete": true, "accounts": accounts});
        // One bad account among good ones: 422 naming it, and nothing stored.
        let mut bad = account(&g2, "gmsa-b$");
        bad["findings"][0]["severity"] = json!("severe");
        bad["sid"] = json!("not-a-sid");
        let (st, p) = admin.post("/api/v1/discovery/runs", run(json!([account(&g1, "gmsa-a$"), bad]), &base_dn)).await;
        assert_eq!(st, 422, "{p}");
        let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["accounts[1].sid", "accounts[1].findings[0].severity"], "{p}");
        assert_eq!(admin.get("/api/v1/discovery/accounts").await.1["total"], 0);
        // An unknown field, a malformed GUID, a duplicate, too many accounts.
        let mut extra = run(json!([]), &base_dn);
        extra["password"] = json!("x");
        assert_eq!(admin.post("/api/v1/discovery/runs", extra).await.1["errors"][0]["field"], "password");
        let (_, p) = admin.post("/api/v1/discovery/runs", run(json!([account("nope", "a"), account(&g1, "b"), account(&g1, "c")]), &base_dn)).await;
        let got: Vec<(&str, &str)> = p["errors"].as_array().unwrap().iter().map(|e| (e["field"].as_str().unwrap(), e["rule"].as_str().unwrap())).collect();
        assert_eq!(got, [("accounts[0].object_guid", "format"), ("accounts[2].object_guid", "unique")], "{p}");
        // The domain is matched case-insensitively; another base DN names the field.
        let (st, p) = admin.post("/api/v1/discovery/runs", run(json!([]), "DC=nowhere,DC=test")).await;
        assert_eq!((st, p["errors"][0]["field"].as_str(), p["errors"][0]["rule"].as_str()), (422, Some("domain.base_dn"), Some("exists")), "{p}");
        let (st, r) = admin.post("/api/v1/discovery/runs", run(json!([account(&g1, "gmsa-a$"), account(&g2, "gmsa-b$")]), &base_dn.to_uppercase())).await;
        assert_eq!(st, 200, "{r}");
        assert_eq!((r["received"].as_u64(), r["stored"].as_u64(), r["new"].as_u64(), r["skipped_managed"].as_u64()), (Some(2), Some(2), Some(2), Some(0)), "{r}");
        assert_eq!(r["domain_id"], d["id"]);
        let (_, page) = admin.get(&format!("/api/v1/discovery/accounts?domain_id={}", d["id"].as_str().unwrap())).await;
        assert_eq!(page["total"], 2, "{page}");
        assert_eq!((page["items"][0]["hosts"].clone(), page["items"][0]["host_scan_complete"].clone(), page["items"][0]["highest_severity"].clone()),
                   (json!(["web1.corp.example.test"]), json!(true), json!("high")), "{page}");
        let (st, _) = admin.get(&format!("/api/v1/discovery/accounts?domain_id={}", uuid::Uuid::new_v4())).await;
        assert_eq!(st, 404);
        assert_eq!(admin.get("/api/v1/discovery/accounts?sort=eol").await.0, 400);
        // A second domain with the same base DN makes the run ambiguous.
        admin.post("/api/v1/domains", json!({"name": "Runs twin", "url": "ldaps://127.0.0.1:1", "bind_identity": "svc@corp.example.test",
                                             "bind_password": "x", "base_dn": base_dn})).await;
        let (st, p) = admin.post("/api/v1/discovery/runs", run(json!([]), &base_dn)).await;
        assert_eq!((st, p["errors"][0]["rule"].as_str()), (422, Some("ambiguous")), "{p}");
        s.stop().await;
    }
}

/// Bad `--import` flags are refused by name before anything connects (the domain named here
/// does not exist), and the token given is never echoed back.
#[test]
fn import_flags_are_refused_by_name_before_anything_connects() {
    let work = crate::support::db::temp_dir("discover-flags");
    let password = work.join("password");
    std::fs::write(&password, "not-used\n").unwrap();
    let empty = work.join("empty.token");
    std::fs::write(&empty, "\n").unwrap();
    let token = work.join("good.token");
    std::fs::write(&token, "alm_flagtestsecret0123456789\n").unwrap();
    let not_pem = work.join("ca.pem");
    std::fs::write(&not_pem, "not a certificate\n").unwrap();
    let (token, empty, not_pem) = (
        token.to_str().unwrap(),
        empty.to_str().unwrap(),
        not_pem.to_str().unwrap(),
    );
    let cases: Vec<(Vec<&str>, Option<&str>, &str)> = vec![
        (vec!["--import", "ftp://alm.example.test", "--import-token-file", token], None, "not http:// or https://"),
        (vec!["--import", "http://alm.example.test", "--import-token-file", token], None, "use https://"),
        (vec!["--import", "alm.example.test", "--import-token-file", token], None, "--import \"alm.example.test\": not a URL"),
        (vec!["--import", "https://alm.example.test"], None, "--import needs an alm API token: give --import-token-file FILE or set ALM_IMPORT_TOKEN"),
        (vec!["--import", "https://alm.example.test"], Some(""), "ALM_IMPORT_TOKEN is empty"),
        (vec!["--import", "https://alm.example.test", "--import-token-file", "/nonexistent/token"], None, "--import-token-file /nonexistent/token: cannot read it"),
        (vec!["--import", "https://alm.example.test", "--import-token-file", empty], None, "the file is empty"),
        (vec!["--import-token-file", token], None, "--import-token-file needs --import URL"),
        (vec!["--import", "https://alm.example.test", "--import-token-file", token, "--import-ca-file", not_pem], None, "--import-ca-file"),
    ];
    for (flags, env_token, want) in cases {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_alm"));
        cmd.args([
            "discover",
            "--domain",
            "nowhere.invalid",
            "--user",
            "someone",
            "--yes",
            "--no-host-scan",
        ])
        .arg("--password-file")
        .arg(&password)
        .args(&flags)
        .env_remove("ALM_IMPORT_TOKEN")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
        if let Some(t) = env_token {
            cmd.env("ALM_IMPORT_TOKEN", t);
        }
        let out = cmd.output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.status.success(), "{flags:?}: {text}");
        assert!(
            text.contains(want),
            "{flags:?}: expected {want:?} in {text}"
        );
        assert!(
            !text.contains("cannot reach the domain controller"),
            "{flags:?}: checked before connecting: {text}"
        );
        assert!(
            !text.contains("alm_flagtestsecret"),
            "{flags:?}: the token was echoed: {text}"
        );
    }
    std::fs::remove_dir_all(&work).ok();
}

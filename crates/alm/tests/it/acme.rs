//! A certificate by ACME against Debian's `pebble` (the test CA of Let's Encrypt's authors): alm
//! registers, answers HTTP-01 on its redirect listener, obtains a certificate at first start and
//! serves it (verified up to pebble's root); pebble issues 60-second certificates, so alm renews
//! after two thirds of that and serves the new one without a restart; a restart serves the stored
//! one; and a CA that does not answer stops the first start with a message naming it.

use crate::https::TestCa;
use crate::oidc::free_port;
use crate::support::db::temp_dir;
use crate::support::process::AlmProcess;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Pebble {
    child: Child,
    directory: String,
    management: String,
    log: PathBuf,
}

impl Drop for Pebble {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts pebble on free ports, validating HTTP-01 on `http_port`, issuing certificates valid
/// for `validity` seconds; its own HTTPS certificate comes from `ca`.
fn start_pebble(dir: &Path, ca: &TestCa, http_port: u16, validity: u32) -> Pebble {
    let (cert, key) = ca.leaf("pebble");
    let (api, management) = (free_port(), free_port());
    let config = serde_json::json!({"pebble": {
        "listenAddress": format!("127.0.0.1:{api}"),
        "managementListenAddress": format!("127.0.0.1:{management}"),
        "certificate": cert, "privateKey": key,
        "httpPort": http_port, "tlsPort": free_port(),
        "ocspResponderURL": "", "externalAccountBindingRequired": false,
        "certificateValidityPeriod": validity,
    }});
    let config_file = dir.join("pebble.json");
    std::fs::write(&config_file, config.to_string()).unwrap();
    let log = dir.join("pebble.log");
    let child = Command::new("pebble")
        .arg("-config")
        .arg(&config_file)
        // No random sleeps before validating, no nonces refused on purpose: a quick, sure test.
        .env("PEBBLE_VA_NOSLEEP", "1")
        .env("PEBBLE_WFE_NONCEREJECT", "0")
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("start pebble (Debian package pebble; scripts/test.sh installs it)");
    let pebble = Pebble {
        child,
        directory: format!("https://127.0.0.1:{api}/dir"),
        management: format!("https://127.0.0.1:{management}"),
        log,
    };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", api)).is_ok() {
            return pebble;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "pebble did not listen: {}",
        std::fs::read_to_string(&pebble.log).unwrap_or_default()
    );
}

/// Pebble's issuing root (made anew at each pebble start), through its management API.
async fn pebble_root(pebble: &Pebble, ca: &TestCa) -> String {
    let client = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let r = client
        .get(format!("{}/roots/0", pebble.management))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    r.text().await.unwrap()
}

/// The serial of the certificate served at `addr`, verified against `root`.
fn served_serial(addr: &str, root: &Path) -> String {
    let (ok, text) = crate::https::s_client(addr, root, &["-verify_return_error"]);
    assert!(ok && text.contains("Verify return code: 0 (ok)"), "{text}");
    let pem_start = text.find("-----BEGIN CERTIFICATE-----").unwrap();
    let pem_end = text.find("-----END CERTIFICATE-----").unwrap() + 25;
    let mut x509 = Command::new("openssl")
        .args(["x509", "-noout", "-serial"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    x509.stdin
        .take()
        .unwrap()
        .write_all(&text.as_bytes()[pem_start..pem_end])
        .unwrap();
    let out = x509.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn alm_env(pebble_directory: &str, ca: &Path, redirect_port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("ALM_TLS__ACME__DOMAINS", "localhost".into()),
        ("ALM_TLS__ACME__EMAIL", "admin@example.test".into()),
        ("ALM_TLS__ACME__DIRECTORY_URL", pebble_directory.into()),
        ("ALM_TLS__ACME__DIRECTORY_CA_FILE", ca.display().to_string()),
        ("ALM_TLS__ACME__CHECK_SECONDS", "1".into()),
        (
            "ALM_TLS__REDIRECT_LISTEN",
            format!("127.0.0.1:{redirect_port}"),
        ),
        ("ALM_ADMIN_PASSWORD", "a long enough test password".into()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alm_obtains_its_certificate_from_an_acme_ca_and_renews_it_without_a_restart() {
    let dir = temp_dir("acme");
    let ca = TestCa::new(&dir);
    let redirect_port = free_port();
    let pebble = start_pebble(&dir, &ca, redirect_port, 60);
    let root = dir.join("pebble-root.pem");
    std::fs::write(&root, pebble_root(&pebble, &ca).await).unwrap();
    let data = dir.join("data");
    let env = alm_env(&pebble.directory, &dir.join("ca.pem"), redirect_port);

    let server = AlmProcess::start_on_real_clock("alm-acme", &data, &env);
    let addr = server.base.trim_start_matches("https://").to_owned();
    let first = served_serial(&addr, &root);
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(
        log.contains("ACME account registered") && log.contains("ACME certificate obtained"),
        "{log}"
    );
    for (file, mode) in [
        ("account.json", 0o600),
        ("key.pem", 0o600),
        ("cert.pem", 0o600),
    ] {
        assert_eq!(
            crate::data_files::mode(&data.join("acme").join(file)),
            mode,
            "{file}"
        );
    }
    // Renewed when a third of the 60 s is left (about 40 s after issuance), served at once.
    let mut renewed = None;
    for _ in 0..120 {
        std::thread::sleep(Duration::from_secs(1));
        let now = served_serial(&addr, &root);
        if now != first {
            renewed = Some(now);
            break;
        }
    }
    let renewed = renewed.unwrap_or_else(|| {
        panic!(
            "not renewed: {}",
            std::fs::read_to_string(&server.log).unwrap()
        )
    });
    assert!(std::fs::read_to_string(&server.log)
        .unwrap()
        .contains("ACME certificate renewed"));
    drop(server);

    // A restart serves the stored certificate (no new order while it is not due).
    let orders_before = std::fs::read_to_string(&pebble.log)
        .unwrap()
        .matches("Issued certificate")
        .count();
    let server = AlmProcess::start_on_real_clock("alm-acme-again", &data, &env);
    let addr = server.base.trim_start_matches("https://").to_owned();
    let served = served_serial(&addr, &root);
    let orders_after = std::fs::read_to_string(&pebble.log)
        .unwrap()
        .matches("Issued certificate")
        .count();
    if served == renewed {
        assert_eq!(
            orders_before, orders_after,
            "the stored certificate was served without a new order"
        );
    } else {
        // It had become due in the meantime (a slow machine): then a new one was ordered.
        assert!(std::fs::read_to_string(&server.log)
            .unwrap()
            .contains("ACME certificate obtained"));
    }
    drop(server);
    drop(pebble);

    // No CA: a first start without a stored certificate stops, naming the CA.
    let empty = dir.join("data-without-ca");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_alm"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&empty)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in alm_env("https://127.0.0.1:1/dir", &dir.join("ca.pem"), free_port()) {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.status.success()
            && text.contains("tls.acme:")
            && text.contains("https://127.0.0.1:1/dir"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

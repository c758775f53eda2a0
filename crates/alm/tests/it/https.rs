//! HTTPS served by alm itself (`tls.*`), checked from the outside with OpenSSL's own client: TLS
//! 1.0 and 1.1 refused by the server, 1.2 and 1.3 accepted, HSTS on every answer, the plain-HTTP
//! address only redirecting, a certificate replaced on disk served without a restart (and a
//! half-written pair never served), and a remote `alm engine` that trusts the server's CA with
//! `--server-ca`.

use crate::engines::{activation_token, registered, EngineProcess};
use crate::support::db::temp_dir;
use crate::support::process::AlmProcess;
use crate::support::Api;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const ADMIN: &str = "admin@https.example.test";
const PASSWORD: &str = "a long enough test password";

/// A test CA made with the openssl command line, and leaf certificates it signs.
pub(crate) struct TestCa {
    dir: PathBuf,
}

fn openssl(args: &[&str], dir: &Path) -> String {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl (Debian package openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl TestCa {
    pub(crate) fn new(dir: &Path) -> Self {
        openssl(
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=alm test CA",
            ],
            dir,
        );
        std::fs::write(
            dir.join("leaf.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        Self {
            dir: dir.to_owned(),
        }
    }

    pub(crate) fn pem(&self) -> String {
        std::fs::read_to_string(self.dir.join("ca.pem")).unwrap()
    }

    /// Writes `<name>.pem` and `<name>.key`: a certificate for localhost/127.0.0.1 whose
    /// subject is CN=`name`.
    pub(crate) fn leaf(&self, name: &str) -> (PathBuf, PathBuf) {
        let (key, csr, pem) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
        );
        openssl(
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                &format!("/CN={name}"),
            ],
            &self.dir,
        );
        openssl(
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                "2",
                "-extfile",
                "leaf.ext",
            ],
            &self.dir,
        );
        (self.dir.join(pem), self.dir.join(key))
    }
}

/// `openssl s_client` against `addr` with extra options; (exit success, everything printed).
pub(crate) fn s_client(addr: &str, ca: &Path, extra: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            addr,
            "-servername",
            "localhost",
            "-CAfile",
        ])
        .arg(ca)
        .args(extra)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run openssl s_client");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The subject CN of the certificate the server at `addr` presents now.
fn served_cn(addr: &str, ca: &Path) -> String {
    let (ok, text) = s_client(addr, ca, &[]);
    assert!(ok, "{text}");
    text.lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("subject=")
                .map(|s| s.replace(" ", ""))
        })
        .unwrap_or_else(|| panic!("no subject in: {text}"))
}

type TlsStream = rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>;

/// A kept-alive HTTPS connection to `addr` trusting `ca_pem`.
fn keep_alive_connection(addr: &str, ca_pem: &str) -> TlsStream {
    let config = alm_tls::client_config(Some(ca_pem)).unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let connection = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
    rustls::StreamOwned::new(connection, std::net::TcpStream::connect(addr).unwrap())
}

/// `GET /healthz` on the kept-alive connection: the status line and the body.
fn get_healthz(stream: &mut TlsStream) -> String {
    use std::io::{Read, Write};
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream
            .read_exact(&mut byte)
            .expect("the connection is still open");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap();
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).unwrap();
    format!(
        "{} {}",
        head.lines().next().unwrap(),
        String::from_utf8(body).unwrap()
    )
}

/// Polls `check` every 200 ms for at most 30 s (a bound against hanging, not a timing check);
/// the failure shows `evidence`.
fn eventually_or(what: &str, mut check: impl FnMut() -> bool, evidence: impl Fn() -> String) {
    for _ in 0..150 {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("gave up waiting for {what}: {}", evidence());
}

fn eventually(what: &str, check: impl FnMut() -> bool) {
    eventually_or(what, check, String::new)
}

/// Replaces `target` with `source`'s content the way renewal tools do: a new file renamed over.
fn replace(source: &Path, target: &Path) {
    let tmp = target.with_extension("new");
    std::fs::copy(source, &tmp).unwrap();
    std::fs::rename(&tmp, target).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alm_serves_https_itself_with_modern_tls_hsts_a_redirect_and_reloaded_certificates() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = temp_dir("https");
    let ca = TestCa::new(&dir);
    let ca_file = dir.join("ca.pem");
    let (first_pem, first_key) = ca.leaf("first");
    let (second_pem, second_key) = ca.leaf("second");
    let (third_pem, _) = ca.leaf("third");
    // What the server is configured with: files that are later replaced in place.
    let (served_pem, served_key) = (dir.join("served.pem"), dir.join("served.key"));
    replace(&first_pem, &served_pem);
    replace(&first_key, &served_key);

    let data = dir.join("data");
    let server = AlmProcess::start_on_real_clock(
        "alm-https",
        &data,
        &[
            ("ALM_TLS__CERT_FILE", served_pem.display().to_string()),
            ("ALM_TLS__KEY_FILE", served_key.display().to_string()),
            ("ALM_TLS__REDIRECT_LISTEN", "127.0.0.1:0".into()),
            ("ALM_ADMIN_EMAIL", ADMIN.into()),
            ("ALM_ADMIN_PASSWORD", PASSWORD.into()),
        ],
    );
    assert!(
        server.base.starts_with("https://127.0.0.1:"),
        "{}",
        server.base
    );
    let addr = server.base.trim_start_matches("https://").to_owned();

    // TLS 1.0 and 1.1 are refused by the server: the client is allowed to offer them (security
    // level 0), so the refusal is an alert the server sent (rustls answers handshake_failure),
    // not the client's own policy (which would fail before a byte is read).
    for old in ["-tls1", "-tls1_1"] {
        let (ok, text) = s_client(&addr, &ca_file, &[old, "-cipher", "DEFAULT@SECLEVEL=0"]);
        assert!(!ok, "{old} was accepted: {text}");
        assert!(text.contains("SSL alert number"), "{old}: {text}");
    }
    for (modern, name) in [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")] {
        let (ok, text) = s_client(&addr, &ca_file, &[modern]);
        assert!(ok, "{modern}: {text}");
        assert!(
            text.contains(&format!("New, {name}, Cipher is")),
            "{modern}: {text}"
        );
        assert!(
            text.contains("Verify return code: 0 (ok)"),
            "{modern}: {text}"
        );
    }
    // HTTP/1.1 by ALPN; no plain HTTP on the HTTPS port.
    let (_, text) = s_client(&addr, &ca_file, &["-alpn", "h2,http/1.1"]);
    assert!(text.contains("ALPN protocol: http/1.1"), "{text}");
    let plain = reqwest::Client::new()
        .get(format!("http://{addr}/healthz"))
        .send()
        .await;
    assert!(
        plain.is_err(),
        "plain HTTP was answered on the HTTPS port: {plain:?}"
    );

    // HSTS on pages and API answers alike; cookies are Secure.
    let mut admin = Api::anonymous_trusting(&server.base, &ca.pem());
    for path in ["/healthz", "/sign-in", "/api/v1/me"] {
        let r = admin
            .client
            .get(format!("{}{path}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.headers()
                .get("strict-transport-security")
                .map(|v| v.to_str().unwrap()),
            Some("max-age=31536000"),
            "{path}"
        );
    }
    let login = admin
        .client
        .post(format!("{}/api/v1/auth/login", server.base))
        .json(&serde_json::json!({"email": ADMIN, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookies: Vec<String> = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(
        !cookies.is_empty() && cookies.iter().all(|c| c.contains("; Secure")),
        "{cookies:?}"
    );

    // The plain-HTTP address only redirects, keeping the path and the query.
    let printed = server.stdout.lock().unwrap().clone();
    let redirect = printed
        .iter()
        .find_map(|l| l.strip_prefix("alm redirects http://"))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no redirect address printed: {printed:?}"))
        .to_owned();
    let port = addr.rsplit(':').next().unwrap();
    for (method, path) in [
        ("GET", "/sign-in?next=%2Frequests"),
        ("POST", "/api/v1/auth/login"),
    ] {
        let r = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .request(method.parse().unwrap(), format!("http://{redirect}{path}"))
            .header(
                "host",
                format!("localhost:{}", redirect.rsplit(':').next().unwrap()),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 308, "{method} {path}");
        assert_eq!(
            r.headers()["location"].to_str().unwrap(),
            format!("https://localhost:{port}{path}"),
        );
        assert!(r.headers().get("set-cookie").is_none());
    }

    // Certificates replaced on disk are served without a restart. A key that does not match
    // the certificate (a renewal caught between its two writes) is not served: the old pair
    // stays, and the log says why.
    assert_eq!(served_cn(&addr, &ca_file), "CN=first");
    // A connection opened before the change keeps working after it.
    let mut kept = keep_alive_connection(&addr, &ca.pem());
    assert_eq!(get_healthz(&mut kept), "HTTP/1.1 200 OK ok");
    replace(&second_key, &served_key);
    eventually("the server to refuse the mismatched pair", || {
        std::fs::read_to_string(&server.log)
            .unwrap()
            .contains("TLS certificate not reloaded")
    });
    assert_eq!(served_cn(&addr, &ca_file), "CN=first");
    replace(&second_pem, &served_pem);
    eventually("the second certificate to be served", || {
        served_cn(&addr, &ca_file) == "CN=second"
    });
    // A certificate without its key (third's key was never installed): refused again.
    replace(&third_pem, &served_pem);
    eventually("the mismatch to be logged again", || {
        std::fs::read_to_string(&server.log)
            .unwrap()
            .matches("TLS certificate not reloaded")
            .count()
            >= 2
    });
    assert_eq!(served_cn(&addr, &ca_file), "CN=second");
    replace(&second_pem, &served_pem);

    // SIGHUP reloads at once too (the same pair again: still served, and logged).
    let reloads = || {
        std::fs::read_to_string(&server.log)
            .unwrap()
            .matches("TLS certificate reloaded")
            .count()
    };
    let before = reloads();
    let kill = Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    eventually("SIGHUP to reload the certificate", || reloads() > before);
    assert_eq!(served_cn(&addr, &ca_file), "CN=second");

    // A remote engine reaches the server over HTTPS, trusting its CA with --server-ca; without
    // it (the system's store does not know the test CA) it cannot.
    let (st, body) = admin.login(ADMIN, PASSWORD).await;
    assert_eq!(st, 200, "{body}");
    let untrusting = EngineProcess::start(
        &server.base,
        &activation_token(&admin).await,
        "engine-no-ca",
    );
    let engine = EngineProcess::start_with(
        &server.base,
        &activation_token(&admin).await,
        "engine-https",
        &["--server-ca", ca_file.to_str().unwrap()],
    );
    let id = registered(&admin, "engine-https", &engine).await;
    assert!(!id.is_empty());
    eventually_or(
        "the engine without the CA to fail on the certificate",
        || {
            // rustls's words, passed on by the engine so the operator sees why.
            untrusting
                .log()
                .contains("invalid peer certificate: UnknownIssuer")
        },
        || untrusting.log(),
    );
    let (_, engines) = admin.get("/api/v1/engines").await;
    assert!(
        !engines.to_string().contains("engine-no-ca"),
        "an engine that does not trust the server registered: {engines}"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

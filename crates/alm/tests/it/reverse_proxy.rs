//! The other way to serve HTTPS: nginx (Debian's) in front, terminating TLS, configured with the
//! server block the README gives (read from the README, so the documentation is what is
//! tested). Through it: login works, the cookie is Secure (`public_url` is the proxy's https
//! address), nginx's HSTS arrives, and the audit log records the client's own address taken from
//! `X-Forwarded-For` because the proxy is in `auth.trusted_proxies` — not the proxy's, and not
//! what the client wrote into the header itself.

use crate::https::TestCa;
use crate::oidc::free_port;
use crate::support::db::temp_dir;
use crate::support::server::{ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::support::{Backend, TestServer};
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

/// The README's ```nginx block that starts with `first_line`.
pub(crate) fn readme_nginx_block(first_line: &str) -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let fence = format!("```nginx\n{first_line}");
    let start = readme
        .find(&fence)
        .unwrap_or_else(|| panic!("the README shows an nginx block starting {first_line:?}"))
        + 9;
    let end = start + readme[start..].find("```").unwrap();
    readme[start..end].to_owned()
}

pub(crate) struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts nginx on `port` with the README's block, its certificate and alm's address put in.
fn start_nginx(dir: &Path, port: u16, cert: &Path, key: &Path, alm_port: u16) -> Nginx {
    let target = format!("http://127.0.0.1:{alm_port}");
    start_nginx_with(dir, port, cert, key, |server| {
        server.replace("http://127.0.0.1:8080", &target)
    })
}

/// Starts nginx on `port` with the README's server block, its certificate put in, and
/// `adapt` applied to the block (alm's address, more directives); the result goes into nginx's
/// `http` section, so `adapt` may put blocks such as an `upstream` before the server.
pub(crate) fn start_nginx_with(
    dir: &Path,
    port: u16,
    cert: &Path,
    key: &Path,
    adapt: impl FnOnce(&str) -> String,
) -> Nginx {
    let block = readme_nginx_block("server {");
    let server = adapt(
        &block
            .replace("listen 443 ssl;", &format!("listen 127.0.0.1:{port} ssl;"))
            .replace("/etc/ssl/alm/fullchain.pem", cert.to_str().unwrap())
            .replace("/etc/ssl/alm/privkey.pem", key.to_str().unwrap()),
    );
    assert!(!server.contains("127.0.0.1:8080"), "{server}");
    let d = dir.display();
    let conf = format!(
        "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log info;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n access_log {d}/access.log;\n client_body_temp_path {d}/body;\n\
         proxy_temp_path {d}/proxy;\n fastcgi_temp_path {d}/fastcgi;\n uwsgi_temp_path {d}/uwsgi;\n\
         scgi_temp_path {d}/scgi;\n{server}\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let nginx = ["/usr/sbin/nginx", "nginx"]
        .into_iter()
        .find(|n| Path::new(n).exists() || which(n))
        .expect("nginx (Debian package nginx-light; scripts/test.sh installs it)");
    let mut child = Command::new(nginx)
        .args(["-e", &format!("{d}/startup.log"), "-p"])
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .stderr(std::fs::File::create(dir.join("stderr.log")).unwrap())
        .spawn()
        .expect("start nginx");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Nginx(child);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!(
        "nginx did not listen on {port}: {}{}",
        std::fs::read_to_string(dir.join("error.log")).unwrap_or_default(),
        std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default()
    );
}

fn which(name: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_nginx_as_the_readme_says_logins_are_secure_and_audited_with_the_clients_address() {
    let dir = temp_dir("proxy");
    let ca = TestCa::new(&dir);
    let (cert, key) = ca.leaf("proxy");
    let port = free_port();
    let public = format!("https://localhost:{port}");
    let s = TestServer::start_with(
        Backend::Sqlite,
        &[
            ("ALM_AUTH__TRUSTED_PROXIES", "127.0.0.1"),
            ("ALM_PUBLIC_URL", &public),
        ],
    )
    .await;
    let alm_port: u16 = s.base.rsplit(':').next().unwrap().parse().unwrap();
    let _nginx = start_nginx(&dir, port, &cert, &key, alm_port);

    // The client is 127.0.0.2 and claims to be 1.2.3.4; nginx appends the address it saw.
    let client = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap())
        .resolve("localhost", ([127, 0, 0, 1], port).into())
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let login = client
        .post(format!("{public}/api/v1/auth/login"))
        .header("x-forwarded-for", "1.2.3.4")
        .json(&serde_json::json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status().as_u16(), 200);
    assert_eq!(
        login
            .headers()
            .get("strict-transport-security")
            .map(|v| v.to_str().unwrap()),
        Some("max-age=31536000")
    );
    let cookie = login
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.contains("; Secure"), "{cookie}");

    let (_, audit) = s.admin().get("/api/v1/audit?action=login").await;
    let sources: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["outcome"] == "success")
        .map(|r| r["source_ip"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(sources, ["127.0.0.2"], "{audit}");
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

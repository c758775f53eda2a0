//! OpenID Connect login end to end against a real provider (panva's `oidc-provider`, started
//! by this test from `ALMTEST_OIDC_DIR`, which `scripts/test.sh` installs): a known enabled
//! user logs in; an unknown email, a disabled user, a wrong client secret and an unregistered
//! redirect URI are refused.

use crate::support::{on_both_backends, Api, Backend, TestServer};
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CLIENT_ID: &str = "alm-test";
const CLIENT_SECRET: &str = "alm-test-secret";

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The provider process; killed when dropped.
pub(crate) struct Provider {
    child: Child,
    pub(crate) issuer: String,
    log: std::path::PathBuf,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

impl Provider {
    pub(crate) async fn start(redirect_uris: &[String]) -> Self {
        let dir = std::env::var("ALMTEST_OIDC_DIR").unwrap_or_else(|_| {
            panic!("ALMTEST_OIDC_DIR is not set: the OIDC test needs the provider that `bash scripts/test.sh` installs")
        });
        let port = free_port();
        let issuer = format!("http://127.0.0.1:{port}");
        let log = std::env::temp_dir().join(format!("alm-it-oidc-{port}.log"));
        let child = Command::new("node")
            .arg(format!("{dir}/provider.mjs"))
            .env("OIDC_PORT", port.to_string())
            .env("OIDC_ISSUER", &issuer)
            .env("OIDC_CLIENT_ID", CLIENT_ID)
            .env("OIDC_CLIENT_SECRET", CLIENT_SECRET)
            .env("OIDC_REDIRECT_URIS", redirect_uris.join(","))
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start node provider.mjs");
        let provider = Self { child, issuer, log };
        // reqwest is built without a TLS provider of its own: the process's must be set
        // (the server does it at start; this runs before any server).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let started = Instant::now();
        let discovery = format!("{}/.well-known/openid-configuration", provider.issuer);
        loop {
            if let Ok(r) = reqwest::get(&discovery).await {
                if r.status().is_success() {
                    return provider;
                }
            }
            if started.elapsed() > Duration::from_secs(20) {
                panic!(
                    "the OIDC provider did not start: {}",
                    std::fs::read_to_string(&provider.log).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// An alm server whose OIDC client points at `issuer` with `secret`.
pub(crate) async fn alm_with_oidc(
    backend: Backend,
    port: u16,
    issuer: &str,
    secret: &str,
) -> TestServer {
    let public = format!("http://127.0.0.1:{port}");
    TestServer::start_on(
        backend,
        &[
            ("ALM_PUBLIC_URL", public.as_str()),
            ("ALM_AUTH__OIDC__ISSUER", issuer),
            ("ALM_AUTH__OIDC__CLIENT_ID", CLIENT_ID),
            ("ALM_AUTH__OIDC__CLIENT_SECRET", secret),
        ],
        &format!("127.0.0.1:{port}"),
    )
    .await
}

fn attr<'a>(html: &'a str, before: &str, name: &str) -> Option<&'a str> {
    let start = html.find(before)?;
    let rest = &html[start..];
    let at = rest.find(&format!("{name}=\""))? + name.len() + 2;
    rest[at..].split('"').next()
}

/// Drives a browser through the login at the provider; returns alm's answer to the callback.
async fn browser_login(alm_base: &str, email: &str) -> (u16, String, reqwest::Client) {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut url = url::Url::parse(&format!("{alm_base}/auth/oidc/login")).unwrap();
    let mut resp = client.get(url.clone()).send().await.unwrap();
    for _ in 0..20 {
        let status = resp.status();
        if status.is_redirection() {
            let location = resp.headers()["location"].to_str().unwrap().to_owned();
            url = url.join(&location).unwrap();
            resp = client.get(url.clone()).send().await.unwrap();
            if url
                .as_str()
                .starts_with(&format!("{alm_base}/auth/oidc/callback"))
            {
                let status = resp.status().as_u16();
                let location = resp
                    .headers()
                    .get("location")
                    .map(|l| l.to_str().unwrap().to_owned());
                let body = resp.text().await.unwrap();
                return (status, location.unwrap_or(body), client);
            }
            continue;
        }
        let body = resp.text().await.unwrap();
        assert_eq!(
            status, 200,
            "the provider answered {status} at {url}: {body}"
        );
        let action = attr(&body, "<form", "action")
            .unwrap_or_else(|| panic!("no form at {url}: {body}"))
            .replace("&amp;", "&");
        let prompt = attr(&body, "name=\"prompt\"", "value")
            .unwrap_or("login")
            .to_owned();
        let form: Vec<(&str, &str)> = if body.contains("name=\"login\"") {
            vec![
                ("prompt", "login"),
                ("login", email),
                ("password", "anything"),
            ]
        } else {
            vec![("prompt", prompt.as_str())]
        };
        url = url.join(&action).unwrap();
        resp = client.post(url.clone()).form(&form).send().await.unwrap();
    }
    panic!("the login did not reach alm's callback");
}

on_both_backends! {
    async fn oidc_logs_in_known_users_and_refuses_the_rest(backend: Backend) {
        let port = free_port();
        let callback = format!("http://127.0.0.1:{port}/auth/oidc/callback");
        let provider = Provider::start(&[callback]).await;
        let s = alm_with_oidc(backend, port, &provider.issuer, CLIENT_SECRET).await;
        let (alice, _) = s.user_with_token("Alice", "alice@example.test").await;
        let (bob, _) = s.user_with_token("Bob", "bob@example.test").await;
        assert_eq!(s.admin().post_empty(&format!("/api/v1/users/{bob}/disable")).await.0, 200);

        let (status, location, browser) = browser_login(&s.base, "Alice@Example.test").await;
        assert_eq!((status, location.as_str()), (303, "/"), "a known user is logged in and sent home");
        let me = Api { client: browser, ..Api::anonymous(&s.base) };
        let (st, body) = me.get("/api/v1/me").await;
        assert_eq!(st, 200, "{body}");
        assert_eq!(body["user"]["id"], json!(alice));
        assert_eq!(body["authenticated_by"], "session");
        let (st, home) = me.get("/").await;
        assert_eq!(st, 200);
        let home = home.as_str().unwrap();
        assert!(home.contains("<span class=\"user-name\">Alice</span>") && home.contains("My accounts"), "Home names who is signed in: {home}");

        let (status, page, _) = browser_login(&s.base, "mallory@example.test").await;
        assert_eq!(status, 403);
        assert!(page.contains("no alm user has this email address"), "{page}");

        let (status, page, _) = browser_login(&s.base, "bob@example.test").await;
        assert_eq!(status, 403);
        assert!(page.contains("disabled"), "{page}");

        let (_, audit) = s.admin().get("/api/v1/audit?action=login.oidc&outcome=denied").await;
        assert_eq!(audit["total"], 2, "{audit}");
        // The address is in the erasable personal part, never in the chained summary (§13).
        assert!(audit["items"].as_array().unwrap().iter().all(|r| !r["summary"].to_string().contains("example.test")), "{audit}");
        let (_, ok) = s.admin().get(&format!("/api/v1/audit?action=login&actor_id={alice}")).await;
        assert_eq!(ok["items"][0]["summary"]["method"], "oidc");
        s.stop().await;
    }
}

#[tokio::test]
async fn oidc_refuses_a_wrong_client_secret_and_an_unregistered_redirect() {
    let port = free_port();
    let callback = format!("http://127.0.0.1:{port}/auth/oidc/callback");
    let provider = Provider::start(&[callback]).await;
    let s = alm_with_oidc(Backend::Sqlite, port, &provider.issuer, "not-the-secret").await;
    s.user_with_token("Alice", "alice@example.test").await;
    let (status, page, browser) = browser_login(&s.base, "alice@example.test").await;
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("refused the login"), "{page}");
    let me = Api {
        client: browser,
        ..Api::anonymous(&s.base)
    };
    assert_eq!(me.get("/api/v1/me").await.0, 401, "no session was opened");
    s.stop().await;

    // An alm at an address the provider does not know: the provider refuses to send the code.
    let other = free_port();
    let s = alm_with_oidc(Backend::Sqlite, other, &provider.issuer, CLIENT_SECRET).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = client
        .get(format!("{}/auth/oidc/login", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let authorize = resp.headers()["location"].to_str().unwrap().to_owned();
    let resp = client.get(&authorize).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("redirect_uri"));
    s.stop().await;
}

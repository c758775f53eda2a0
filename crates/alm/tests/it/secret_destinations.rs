//! A stored, write-only secret is never sent to a destination it was not given for: changing a
//! domain's URL, CA or bind identity needs the bind password again, a vault's address or CA its
//! credential, a webhook's callback or token URL its password or client secret. A listener
//! stands where an attacker's would: it is never contacted with a kept secret, and it is
//! contacted once the secret is given again (so the test would see a leak).

use crate::support::{ad, on_both_backends};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set (bash scripts/test.sh sets it)"))
}

/// A TCP listener that counts who connects and answers nothing.
struct Listener {
    port: u16,
    connections: Arc<AtomicUsize>,
}

impl Listener {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let seen = connections.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                seen.fetch_add(1, Ordering::SeqCst);
                drop(socket);
            }
        });
        Self { port, connections }
    }

    fn contacted(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

fn refused_field(status: u16, body: &Value) -> (u16, Option<&str>, Option<&str>) {
    (
        status,
        body["errors"][0]["field"].as_str(),
        body["errors"][0]["rule"].as_str(),
    )
}

on_both_backends! {
    async fn a_stored_secret_is_never_sent_to_a_new_destination(backend: Backend) {
        let s = crate::support::TestServer::start(backend).await;
        let admin = s.admin();
        let listener = Listener::start().await;
        let elsewhere = format!("ldaps://127.0.0.1:{}", listener.port);

        // Domain: the URL, the CA or the bind identity alone → 422 on bind_password, nothing changed.
        let c = ad::config();
        let (st, d) = admin.post("/api/v1/domains", json!({"name": "Corp", "url": c.url, "bind_identity": c.bind_identity,
            "bind_password": c.bind_password.expose(), "ca_pem": c.ca_pem, "base_dn": c.base_dn})).await;
        assert_eq!(st, 201, "{d}");
        let id = d["id"].as_str().unwrap().to_owned();
        for change in [json!({"url": elsewhere}), json!({"ca_pem": ""}), json!({"bind_identity": "attacker@corp.example.test"}),
                       json!({"url": elsewhere, "name": "Renamed"}), json!({"failover_urls": [elsewhere]})] {
            let (st, p) = admin.patch(&format!("/api/v1/domains/{id}"), change.clone()).await;
            assert_eq!(refused_field(st, &p), (422, Some("bind_password"), Some("required")), "{change}: {p}");
        }
        // Failover controllers are checked one by one, each named in the error.
        let (st, p) = admin.patch(&format!("/api/v1/domains/{id}"), json!({"failover_urls": ["ldaps://dc2.corp.example.test", "ldap://dc3.corp.example.test"],
            "bind_password": c.bind_password.expose()})).await;
        assert_eq!(refused_field(st, &p), (422, Some("failover_urls[1]"), Some("format")), "{p}");
        let (st, p) = admin.patch(&format!("/api/v1/domains/{id}"), json!({"failover_urls": [c.url], "bind_password": c.bind_password.expose()})).await;
        assert_eq!(refused_field(st, &p), (422, Some("failover_urls[0]"), Some("format")), "the first controller again: {p}");
        let (_, now) = admin.get(&format!("/api/v1/domains/{id}")).await;
        assert_eq!((now["url"].as_str(), now["name"].as_str()), (Some(c.url.as_str()), Some("Corp")), "nothing changed: {now}");
        assert_eq!(now["failover_urls"], json!([]), "{now}");
        let (_, check) = admin.post_empty(&format!("/api/v1/domains/{id}/check")).await;
        assert_eq!(check["ok"], true, "still the real DC: {check}");
        // What may change without the password still does.
        let (st, p) = admin.patch(&format!("/api/v1/domains/{id}"), json!({"name": "Corp HQ", "sync_time": "03:00"})).await;
        assert_eq!(st, 200, "{p}");
        assert_eq!(listener.contacted(), 0, "the listener never heard of the domain");
        // Given again, the password goes where it was given for.
        let (st, p) = admin.patch(&format!("/api/v1/domains/{id}"), json!({"url": elsewhere, "bind_password": "a password for that host"})).await;
        assert_eq!(st, 200, "{p}");
        admin.post_empty(&format!("/api/v1/domains/{id}/check")).await;
        assert!(listener.contacted() > 0, "the check went to the new URL");
        let heard = listener.contacted();

        // Vault: OpenBao's address or CA alone → 422 on credential.
        let (st, v) = admin.post("/api/v1/vaults", json!({"name": "OpenBao", "kind": "openbao",
            "address": env("ALMTEST_OPENBAO_ADDR"), "credential": env("ALMTEST_OPENBAO_ALM_TOKEN")})).await;
        assert_eq!(st, 201, "{v}");
        let vault = v["id"].as_str().unwrap().to_owned();
        let bao_elsewhere = format!("http://127.0.0.1:{}", listener.port);
        let another_ca = std::fs::read_to_string(env("ALMTEST_AD_CA_FILE")).unwrap();
        for change in [json!({"address": bao_elsewhere}), json!({"ca_pem": another_ca})] {
            let (st, p) = admin.patch(&format!("/api/v1/vaults/{vault}"), change.clone()).await;
            assert_eq!(refused_field(st, &p), (422, Some("credential"), Some("required")), "{change}: {p}");
        }
        let (_, check) = admin.post_empty(&format!("/api/v1/vaults/{vault}/check")).await;
        assert_eq!(check["ok"], true, "still the real OpenBao: {check}");
        assert_eq!(listener.contacted(), heard, "the listener never heard of the vault");
        let (st, p) = admin.patch(&format!("/api/v1/vaults/{vault}"), json!({"address": bao_elsewhere, "credential": "a token for that host"})).await;
        assert_eq!(st, 200, "{p}");

        // Webhook: a new callback URL with the stored basic password → 422 on the password; the
        // same URL keeps it.
        let hook = |url: &str, password: &str| json!({"description": "tests", "event": "request.approved", "url": url,
            "body_template": "{}", "signing_secret": "sign-me-with-enough-characters",
            "authorization": {"type": "basic", "username": "alm", "password": password}});
        let first = format!("http://127.0.0.1:{}/first", listener.port);
        let (st, w) = admin.post("/api/v1/webhooks", hook(&first, "basic-secret")).await;
        assert_eq!(st, 201, "{w}");
        let webhook = w["id"].as_str().unwrap().to_owned();
        let (st, p) = admin.put(&format!("/api/v1/webhooks/{webhook}"), hook(&format!("http://127.0.0.1:{}/second", listener.port), "")).await;
        assert_eq!(refused_field(st, &p), (422, Some("authorization.password"), Some("required")), "{p}");
        let (_, still) = admin.get(&format!("/api/v1/webhooks/{webhook}")).await;
        assert_eq!(still["url"], first.as_str(), "nothing changed: {still}");
        let (st, p) = admin.put(&format!("/api/v1/webhooks/{webhook}"), hook(&first, "")).await;
        assert_eq!(st, 200, "the same URL keeps the stored password: {p}");
        s.stop().await;
    }
}

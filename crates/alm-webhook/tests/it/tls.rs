//! https callbacks: delivered when the sender trusts the receiver's CA, refused (a retryable
//! connection error, nothing sent) when it does not. The certificates are made by the
//! `openssl` command for each run: a test CA and a server certificate for 127.0.0.1.

use crate::receiver::Receiver;
use crate::support::{definition, START};
use alm_core::FixedClock;
use alm_webhook::{DeliveryErrorKind, SenderConfig, WebhookSender};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

struct TestPki {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn make_pki(name: &str) -> TestPki {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("webhook-pki-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=alm webhook test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
    ]);
    openssl(&dir, &ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "key.pem",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    openssl(&dir, &csr);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    let pki = TestPki {
        ca_pem: read("ca.pem"),
        cert_pem: read("cert.pem"),
        key_pem: read("key.pem"),
    };
    let _ = std::fs::remove_dir_all(&dir);
    pki
}

fn sender_trusting(ca_pem: Option<String>) -> WebhookSender {
    WebhookSender::new(
        &SenderConfig {
            connect_timeout: Duration::from_secs(2),
            timeout: Duration::from_secs(2),
            ca_pem,
        },
        Arc::new(FixedClock::new(START)),
    )
    .expect("sender builds")
}

fn params() -> serde_json::Value {
    json!({"request": {"account_name": "svc-tls", "reason": "r", "step": 1}})
}

#[tokio::test]
async fn an_https_callback_with_a_trusted_ca_is_delivered() {
    let pki = make_pki("trusted");
    let receiver = Receiver::start_tls(&pki.cert_pem, &pki.key_pem).await;
    let def = definition(receiver.url("/hook"));
    assert!(def.url.starts_with("https://127.0.0.1:"), "{}", def.url);

    let outcome = sender_trusting(Some(pki.ca_pem))
        .send(&def, &params(), "dlv-tls", 1, START)
        .await;
    assert_eq!(outcome.status, Some(200), "{outcome:?}");
    assert!(outcome.delivered());
    assert_eq!(receiver.requests("/hook")[0].json()["account"], "svc-tls");
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_connection_error_and_nothing_is_sent() {
    let pki = make_pki("untrusted");
    let other = make_pki("other-ca");
    let receiver = Receiver::start_tls(&pki.cert_pem, &pki.key_pem).await;
    let def = definition(receiver.url("/hook"));

    let outcome = sender_trusting(Some(other.ca_pem))
        .send(&def, &params(), "dlv-tls", 1, START)
        .await;
    assert_eq!(outcome.status, None);
    assert!(outcome.retryable);
    let error = outcome.error.expect("an error");
    assert_eq!(error.kind, DeliveryErrorKind::Connect, "{}", error.message);
    assert!(
        error.message.to_lowercase().contains("certificate"),
        "{}",
        error.message
    );
    assert!(receiver.requests("/hook").is_empty());
}

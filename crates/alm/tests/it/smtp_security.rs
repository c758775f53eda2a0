//! SMTP with TLS and a login (SPEC §7.2) against a server that requires both
//! (`tests/peers/smtp_server.py`, aiosmtpd): STARTTLS and TLS from the first byte each deliver,
//! under the configured login and over TLS, with the server certificate checked against
//! `smtp.ca_file`; a server showing a certificate of another CA is refused, the message waits in
//! the outbox and is tried again — and delivered once the right server answers; a refused
//! login (535) waits the same way instead of being given up. The password shows nowhere an
//! administrator reads (outbox, audit).

use crate::https::TestCa;
use crate::support::db::{temp_dir, Backend};
use crate::support::smtp::{Secure, SecureSink, SmtpSink};
use crate::support::TestServer;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

const USER: &str = "alm-mailer";
const PASSWORD: &str = "smtp pass 7f3Kq!z";

async fn start(sink: &SmtpSink, security: &str, ca: &Path) -> TestServer {
    let settings = [
        ("ALM_SMTP__HOST", "127.0.0.1".to_string()),
        ("ALM_SMTP__PORT", sink.port.to_string()),
        ("ALM_SMTP__SECURITY", security.into()),
        ("ALM_SMTP__USERNAME", USER.into()),
        ("ALM_SMTP__PASSWORD", PASSWORD.into()),
        ("ALM_SMTP__CA_FILE", ca.display().to_string()),
        ("ALM_SMTP__FROM", "alm@example.test".into()),
        ("ALM_SCHEDULER__ENABLED", "false".into()),
    ];
    let refs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TestServer::start_with(Backend::Sqlite, &refs).await
}

/// Creates a user who is sent the welcome email.
async fn welcome(s: &TestServer, email: &str) {
    let (st, u) = s
        .admin()
        .post(
            "/api/v1/users",
            json!({"display_name": "Newcomer", "emails": [email], "welcome_email": true}),
        )
        .await;
    assert_eq!(st, 201, "{u}");
}

/// The outbox's messages (every status).
async fn outbox(s: &TestServer) -> Vec<Value> {
    let (_, page) = s.admin().get("/api/v1/outbox").await;
    page["items"].as_array().unwrap().clone()
}

async fn until_mail(s: &TestServer, sink: &SmtpSink) -> crate::support::smtp::Mail {
    for _ in 0..300 {
        if let Some(m) = sink.mails().into_iter().next() {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "no mail arrived; outbox: {:?}\nserver log: {}",
        outbox(s).await,
        sink.log()
    );
}

fn assert_no_password(s: &str, what: &str) {
    assert!(
        !s.contains(PASSWORD),
        "the SMTP password shows in {what}: {s}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_and_implicit_tls_with_a_login_deliver_with_the_certificate_checked() {
    let dir = temp_dir("smtp-tls");
    let ca = TestCa::new(&dir);
    let (cert, key) = ca.leaf("smtp");
    let ca_file = dir.join("ca.pem");
    for (mode, security) in [(Secure::StartTls, "starttls"), (Secure::Tls, "tls")] {
        let sink = SmtpSink::start_secure(SecureSink {
            mode,
            cert: &cert,
            key: &key,
            user: USER,
            password: PASSWORD,
            port: None,
        })
        .await;
        let s = start(&sink, security, &ca_file).await;
        welcome(&s, "new@example.test").await;
        let m = until_mail(&s, &sink).await;
        assert_eq!(m.to, "new@example.test", "{security}: {m:?}");
        assert_eq!(m.subject, "Welcome to alm, Newcomer", "{security}: {m:?}");
        assert!(
            m.body.contains("/sign-in"),
            "{security}: the sign-in link: {m:?}"
        );
        assert!(
            m.tls.starts_with("TLSv1."),
            "{security}: came over TLS: {m:?}"
        );
        assert_eq!(m.auth, USER, "{security}: sent under the login: {m:?}");
        let (_, audit) = s.admin().get("/api/v1/audit?limit=500").await;
        assert_no_password(&audit.to_string(), "the audit log");
        assert_no_password(&format!("{:?}", outbox(&s).await), "the outbox");
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_with_a_certificate_of_another_ca_is_refused_and_the_mail_retried() {
    let dir = temp_dir("smtp-wrong-ca");
    let (trusted_dir, other_dir) = (dir.join("trusted"), dir.join("other"));
    std::fs::create_dir_all(&trusted_dir).unwrap();
    std::fs::create_dir_all(&other_dir).unwrap();
    let trusted = TestCa::new(&trusted_dir);
    let other = TestCa::new(&other_dir);
    let (good_cert, good_key) = trusted.leaf("smtp");
    // Same names (127.0.0.1, localhost), same login: only the issuer is wrong.
    let (bad_cert, bad_key) = other.leaf("smtp");
    let impostor = SmtpSink::start_secure(SecureSink {
        mode: Secure::StartTls,
        cert: &bad_cert,
        key: &bad_key,
        user: USER,
        password: PASSWORD,
        port: None,
    })
    .await;
    let port = impostor.port;
    let s = start(&impostor, "starttls", &trusted_dir.join("ca.pem")).await;
    welcome(&s, "new@example.test").await;

    // Tried, refused, waiting with the reason; then tried again after the back-off.
    let mut attempts_seen = 0;
    for round in 1..=2 {
        let mut waiting = Value::Null;
        for _ in 0..300 {
            let all = outbox(&s).await;
            if let Some(m) = all.iter().find(|m| m["attempts"].as_i64() >= Some(round)) {
                waiting = m.clone();
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            waiting["status"], "pending",
            "round {round}: not given up: {waiting}"
        );
        let error = waiting["last_error"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase();
        assert!(
            error.contains("certificate"),
            "round {round}: the reason names the certificate: {waiting}"
        );
        assert_no_password(&waiting.to_string(), "the outbox");
        attempts_seen = waiting["attempts"].as_i64().unwrap();
        assert!(
            impostor.mails().is_empty(),
            "nothing handed to a server alm does not trust"
        );
        s.clock.advance(time::Duration::hours(1));
    }
    assert!(attempts_seen >= 2);

    // The right server on the same address: the waiting message goes out, once.
    drop(impostor);
    let sink = SmtpSink::start_secure(SecureSink {
        mode: Secure::StartTls,
        cert: &good_cert,
        key: &good_key,
        user: USER,
        password: PASSWORD,
        port: Some(port),
    })
    .await;
    s.clock.advance(time::Duration::hours(1));
    let m = until_mail(&s, &sink).await;
    assert_eq!(
        (m.to.as_str(), m.auth.as_str()),
        ("new@example.test", USER),
        "{m:?}"
    );
    let (_, sent) = s.admin().get("/api/v1/outbox?status=sent").await;
    assert_eq!(sent["items"].as_array().unwrap().len(), 1, "{sent}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(sink.mails().len(), 1, "once");
    s.stop().await;
}

/// A refused login (535) is alm's configuration, not the message: the message waits, saying
/// why, and goes out once the server accepts the login — instead of being given up as a
/// permanent refusal would be.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_login_keeps_the_mail_waiting_until_the_login_works() {
    let dir = temp_dir("smtp-login");
    let ca = TestCa::new(&dir);
    let (cert, key) = ca.leaf("smtp");
    // The server knows alm's user with another password.
    let refusing = SmtpSink::start_secure(SecureSink {
        mode: Secure::StartTls,
        cert: &cert,
        key: &key,
        user: USER,
        password: "the server's other password",
        port: None,
    })
    .await;
    let port = refusing.port;
    let s = start(&refusing, "starttls", &dir.join("ca.pem")).await;
    welcome(&s, "new@example.test").await;
    let mut waiting = Value::Null;
    for _ in 0..300 {
        if let Some(m) = outbox(&s)
            .await
            .into_iter()
            .find(|m| m["attempts"].as_i64() >= Some(1))
        {
            waiting = m;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(waiting["status"], "pending", "not given up: {waiting}");
    let error = waiting["last_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("refused alm's login") && error.contains("535"),
        "the reason says the login was refused: {waiting}"
    );
    assert_no_password(&waiting.to_string(), "the outbox");
    assert!(refusing.mails().is_empty());

    // The server now takes alm's password (as after an administrator fixed one side).
    drop(refusing);
    let sink = SmtpSink::start_secure(SecureSink {
        mode: Secure::StartTls,
        cert: &cert,
        key: &key,
        user: USER,
        password: PASSWORD,
        port: Some(port),
    })
    .await;
    s.clock.advance(time::Duration::hours(1));
    let m = until_mail(&s, &sink).await;
    assert_eq!((m.to.as_str(), m.auth.as_str()), ("new@example.test", USER));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(sink.mails().len(), 1, "once");
    s.stop().await;
}

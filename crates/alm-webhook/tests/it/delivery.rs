//! What arrives at the receiver, and how each kind of failure is classified.

use crate::receiver::{Receiver, Reply};
use crate::support::{clock, definition, sender, SIGNING_SECRET, START};
use alm_core::Secret;
use alm_webhook::{Authorization, CustomHeader, DeliveryErrorKind};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::json;
use std::time::Duration;

fn params() -> serde_json::Value {
    json!({"request": {"account_name": "svc-web", "reason": "new CMDB feed", "step": 2}})
}

#[tokio::test]
async fn basic_authorization_and_custom_headers_arrive() {
    let receiver = Receiver::start().await;
    let mut def = definition(receiver.url("/hook"));
    def.authorization = Some(Authorization::Basic {
        username: "svc-hooks".into(),
        password: Secret::new("p@ss:wörd"),
    });
    def.headers = vec![
        CustomHeader {
            name: "X-Api-Version".into(),
            value: "2".into(),
        },
        CustomHeader {
            name: "X-Tenant".into(),
            value: "blue team".into(),
        },
    ];
    let outcome = sender(clock())
        .send(&def, &params(), "dlv-0001", 3, START)
        .await;

    assert_eq!(outcome.status, Some(200));
    assert!(outcome.delivered(), "{outcome:?}");
    assert!(!outcome.retryable);
    assert_eq!(outcome.attempt, 3);
    assert_eq!(outcome.delivery_id, "dlv-0001");
    assert_eq!(outcome.started_at, START);
    assert_eq!(outcome.response_excerpt, "ok");

    let got = receiver.requests("/hook");
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!(r.method, "POST");
    let expected_basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("svc-hooks:p@ss:wörd".as_bytes())
    );
    assert_eq!(r.header("authorization"), Some(expected_basic.as_str()));
    assert_eq!(r.header("x-api-version"), Some("2"));
    assert_eq!(r.header("x-tenant"), Some("blue team"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.header("user-agent"),
        Some(format!("alm/{}", env!("CARGO_PKG_VERSION")).as_str())
    );
    assert_eq!(r.header("x-alm-event"), Some("request.approved"));
    assert_eq!(r.header("x-alm-delivery"), Some("dlv-0001"));
    assert_eq!(r.header("x-alm-test"), None);
}

#[tokio::test]
async fn json_body_values_are_escaped_and_stay_valid_json() {
    let receiver = Receiver::start().await;
    let def = definition(receiver.url("/hook"));
    let account = r#"svc "quoted" \ back"#;
    let reason = "line one\nline two\ttab — é 日本 😀 \u{1} end";
    let params = json!({"request": {"account_name": account, "reason": reason, "step": 2}});
    let outcome = sender(clock())
        .send(&def, &params, "dlv-json", 1, START)
        .await;
    assert!(outcome.delivered(), "{outcome:?}");

    let got = receiver.requests("/hook");
    assert_eq!(
        got[0].json(),
        json!({"account": account, "reason": reason, "step": 2})
    );
}

#[tokio::test]
async fn a_plain_text_body_is_sent_as_rendered() {
    let receiver = Receiver::start().await;
    let mut def = definition(receiver.url("/hook"));
    def.content_type = "text/plain; charset=utf-8".into();
    def.body_template = "Account {{request.account_name}} approved\n".into();
    let params = json!({"request": {"account_name": "svc \"q\""}});
    sender(clock())
        .send(&def, &params, "dlv-text", 1, START)
        .await;

    let got = receiver.requests("/hook");
    assert_eq!(got[0].body, b"Account svc \"q\" approved\n");
    assert_eq!(
        got[0].header("content-type"),
        Some("text/plain; charset=utf-8")
    );
}

/// Checks `t=<t>,v1=<hex>` over `body` with the hmac crate, not the one alm uses.
fn verify(header: &str, body: &[u8], secret: &str) -> Result<i64, String> {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = Some(v.parse::<i64>().map_err(|e| e.to_string())?),
            Some(("v1", v)) => v1 = Some(hex::decode(v).map_err(|e| e.to_string())?),
            _ => return Err(format!("unexpected part {part:?}")),
        }
    }
    let (t, v1) = (t.ok_or("no t")?, v1.ok_or("no v1")?);
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    mac.verify_slice(&v1)
        .map_err(|_| "signature mismatch".to_owned())?;
    Ok(t)
}

#[tokio::test]
async fn the_signature_verifies_independently_and_fails_for_a_tampered_body() {
    let receiver = Receiver::start().await;
    let def = definition(receiver.url("/hook"));
    sender(clock())
        .send(&def, &params(), "dlv-sig", 1, START)
        .await;

    let got = receiver.requests("/hook");
    let header = got[0].header("x-alm-signature").expect("signature header");
    let body = &got[0].body;
    assert_eq!(
        verify(header, body, SIGNING_SECRET),
        Ok(START.unix_timestamp())
    );

    let mut tampered = body.clone();
    let at = tampered
        .iter()
        .position(|b| *b == b'2')
        .expect("the step digit");
    tampered[at] = b'3';
    assert_eq!(
        verify(header, &tampered, SIGNING_SECRET),
        Err("signature mismatch".into())
    );
    assert_eq!(
        verify(header, body, "whsec_some_other_secret"),
        Err("signature mismatch".into())
    );
    // A replayed body under another timestamp does not verify either.
    let v1 = header.split_once(",v1=").unwrap().1;
    let shifted = format!("t={},v1={v1}", START.unix_timestamp() + 1);
    assert_eq!(
        verify(&shifted, body, SIGNING_SECRET),
        Err("signature mismatch".into())
    );
}

#[tokio::test]
async fn a_receiver_that_is_down_is_a_retryable_connection_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }; // closed again: nothing listens there now
    let def = definition(format!("http://127.0.0.1:{port}/hook"));
    let outcome = sender(clock())
        .send(&def, &params(), "dlv-down", 1, START)
        .await;

    assert_eq!(outcome.status, None);
    assert!(outcome.retryable);
    let error = outcome.error.expect("an error");
    assert_eq!(error.kind, DeliveryErrorKind::Connect, "{}", error.message);
    assert!(
        error.message.starts_with("cannot connect to the callback"),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn unavailable_twice_then_delivered_with_the_same_delivery_id() {
    let receiver = Receiver::start().await;
    receiver.script(
        "/hook",
        vec![
            Reply::status(503, "down for maintenance"),
            Reply::status(503, "down for maintenance"),
            Reply::status(202, "accepted"),
        ],
    );
    let def = definition(receiver.url("/hook"));
    let sender = sender(clock());
    for attempt in 1..=2 {
        let outcome = sender
            .send(&def, &params(), "dlv-503", attempt, START)
            .await;
        assert_eq!(outcome.status, Some(503));
        assert!(outcome.retryable, "attempt {attempt}");
        assert_eq!(outcome.response_excerpt, "down for maintenance");
        assert_eq!(outcome.error.unwrap().kind, DeliveryErrorKind::Status);
    }
    let outcome = sender.send(&def, &params(), "dlv-503", 3, START).await;
    assert_eq!(outcome.status, Some(202));
    assert!(outcome.delivered());
    assert_eq!(outcome.attempt, 3);

    let ids: Vec<_> = receiver
        .requests("/hook")
        .iter()
        .map(|r| r.header("x-alm-delivery").unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["dlv-503", "dlv-503", "dlv-503"]);
}

#[tokio::test]
async fn statuses_are_classified_for_retry() {
    let receiver = Receiver::start().await;
    let def = definition(receiver.url("/hook"));
    let sender = sender(clock());
    let table = [
        (404, false),
        (400, false),
        (401, false),
        (403, false),
        (410, false),
        (422, false),
        (301, false),
        (408, true),
        (429, true),
        (500, true),
        (502, true),
        (503, true),
    ];
    for (status, retryable) in table {
        receiver.script("/hook", vec![Reply::status(status, "no")]);
        let outcome = sender.send(&def, &params(), "dlv-c", 1, START).await;
        assert_eq!(outcome.status, Some(status));
        assert_eq!(outcome.retryable, retryable, "status {status}");
        assert!(!outcome.delivered(), "status {status}");
    }
    // Not followed: one request per status, the 301 included.
    assert_eq!(receiver.requests("/hook").len(), table.len());
}

#[tokio::test]
async fn a_slow_receiver_times_out_and_is_retryable() {
    let receiver = Receiver::start().await;
    receiver.script(
        "/hook",
        vec![Reply::status(200, "late").after(Duration::from_secs(5))],
    );
    let def = definition(receiver.url("/hook"));
    let outcome = sender(clock())
        .send(&def, &params(), "dlv-slow", 1, START)
        .await;

    assert_eq!(outcome.status, None);
    assert!(outcome.retryable);
    assert_eq!(
        outcome.error.as_ref().unwrap().kind,
        DeliveryErrorKind::Timeout
    );
    // The sender's total limit is 1 s.
    assert!(
        outcome.duration >= Duration::from_secs(1),
        "{:?}",
        outcome.duration
    );
    assert!(
        outcome.duration < Duration::from_secs(4),
        "{:?}",
        outcome.duration
    );
}

#[tokio::test]
async fn the_excerpt_keeps_the_first_kib_without_splitting_a_character() {
    let receiver = Receiver::start().await;
    receiver.script("/hook", vec![Reply::status(500, &"日".repeat(2000))]);
    let def = definition(receiver.url("/hook"));
    let outcome = sender(clock())
        .send(&def, &params(), "dlv-x", 1, START)
        .await;
    // 3 bytes each: 341 whole characters fit in 1,024 bytes.
    assert_eq!(outcome.response_excerpt, "日".repeat(341));
}

#[tokio::test]
async fn an_answer_echoing_a_secret_is_scrubbed() {
    let receiver = Receiver::start().await;
    receiver.script(
        "/hook",
        vec![Reply::status(400, "bad password p@ss:wörd for svc-hooks")],
    );
    let mut def = definition(receiver.url("/hook"));
    def.authorization = Some(Authorization::Basic {
        username: "svc-hooks".into(),
        password: Secret::new("p@ss:wörd"),
    });
    let outcome = sender(clock())
        .send(&def, &params(), "dlv-e", 1, START)
        .await;
    assert_eq!(outcome.response_excerpt, "bad password **** for svc-hooks");
}

#[tokio::test]
async fn the_test_call_fills_every_placeholder_and_says_it_is_a_test() {
    let receiver = Receiver::start().await;
    let def = definition(receiver.url("/hook"));
    let outcome = sender(clock()).send_test(&def, START).await;
    assert!(outcome.delivered(), "{outcome:?}");
    assert_eq!(outcome.attempt, 1);
    assert!(
        outcome.delivery_id.starts_with("test-"),
        "{}",
        outcome.delivery_id
    );

    let got = receiver.requests("/hook");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].header("x-alm-test"), Some("true"));
    assert_eq!(
        got[0].header("x-alm-delivery"),
        Some(outcome.delivery_id.as_str())
    );
    assert_eq!(
        got[0].json(),
        json!({
            "account": "test request.account_name",
            "reason": "test request.reason",
            "step": "test request.step",
        })
    );
    assert!(verify(
        got[0].header("x-alm-signature").unwrap(),
        &got[0].body,
        SIGNING_SECRET
    )
    .is_ok());
}

#[tokio::test]
async fn a_stored_definition_that_breaks_the_rules_is_not_sent() {
    let receiver = Receiver::start().await;
    let mut def = definition(receiver.url("/hook"));
    def.url = "http://hooks.example.com/alm".into();
    let outcome = sender(clock())
        .send(&def, &params(), "dlv-bad", 1, START)
        .await;
    assert!(!outcome.retryable);
    assert_eq!(
        outcome.error.unwrap().kind,
        DeliveryErrorKind::InvalidDefinition
    );

    let mut def = definition(receiver.url("/hook"));
    def.headers = vec![CustomHeader {
        name: "Host".into(),
        value: "evil".into(),
    }];
    let outcome = sender(clock())
        .send(&def, &params(), "dlv-bad", 1, START)
        .await;
    assert!(!outcome.retryable);
    assert_eq!(
        outcome.error.unwrap().kind,
        DeliveryErrorKind::InvalidDefinition
    );
    assert!(receiver.requests("/hook").is_empty());
}

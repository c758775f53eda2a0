//! Every format over every transport arrives in rsyslog and parses to what was sent.

use crate::rsyslog::the_message;
use crate::{
    cef_parser, event, new_id, sender_to_rsyslog, syslog_parser, AT_MILLIS, AT_TEXT, HOSTNAME,
    PRI_LOCAL0_WARNING, TRANSPORTS, VERSION,
};
use alm_siem::{test_message, Format, SiemEvent, Transport};
use std::collections::BTreeMap;

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Sends `events` on one sender (so TCP and TLS reuse one connection) and returns what rsyslog
/// received for each, in order.
async fn send_and_receive(
    transport: Transport,
    format: Format,
    events: &[SiemEvent],
) -> Vec<String> {
    let (mut sender, file) = sender_to_rsyslog(transport, format);
    for e in events {
        sender
            .send(e)
            .await
            .unwrap_or_else(|err| panic!("{transport:?} {format:?}: {err}"));
    }
    sender.close().await;
    events.iter().map(|e| the_message(&file, &e.id)).collect()
}

#[tokio::test]
async fn rfc5424_over_udp_tcp_and_tls_arrives_and_parses() {
    for transport in TRANSPORTS {
        let events = [event(&new_id()), event(&new_id())];
        let received = send_and_receive(transport, Format::Rfc5424, &events).await;
        for (sent, raw) in events.iter().zip(received) {
            let m = syslog_parser::parse(&raw)
                .unwrap_or_else(|e| panic!("{transport:?}: {e}: {raw:?}"));
            assert_eq!(m.pri, PRI_LOCAL0_WARNING, "{transport:?}");
            assert_eq!(m.version, "1");
            assert_eq!(m.timestamp, AT_TEXT);
            assert_eq!(m.hostname, HOSTNAME);
            assert_eq!(m.app_name, "alm");
            assert_eq!(m.procid, "-");
            assert_eq!(m.msgid, "account.provisioned");
            assert_eq!(m.structured_data.len(), 2, "{m:?}");
            assert_eq!(
                m.sd("alm@32473"),
                pairs(&[
                    ("id", &sent.id),
                    ("kind", "account.provisioned"),
                    ("severity", "warning")
                ])
            );
            assert_eq!(
                m.sd("almFields@32473"),
                pairs(&[
                    ("account", "svc-backup"),
                    ("attempt", "2"),
                    ("domain", "corp.example.test")
                ])
            );
            assert!(m.bom, "{transport:?}: MSG without BOM");
            assert_eq!(m.msg.as_deref(), Some("Account svc-backup provisioned"));
        }
    }
}

#[tokio::test]
async fn cef_over_udp_tcp_and_tls_arrives_and_parses() {
    for transport in TRANSPORTS {
        let events = [event(&new_id()), event(&new_id())];
        let received = send_and_receive(transport, Format::Cef, &events).await;
        for (sent, raw) in events.iter().zip(received) {
            // The syslog envelope: header, no structured data, no BOM, CEF as MSG.
            let m = syslog_parser::parse(&raw)
                .unwrap_or_else(|e| panic!("{transport:?}: {e}: {raw:?}"));
            assert_eq!(m.pri, PRI_LOCAL0_WARNING);
            assert_eq!(m.timestamp, AT_TEXT);
            assert_eq!(m.hostname, HOSTNAME);
            assert_eq!(m.app_name, "alm");
            assert_eq!(m.msgid, "account.provisioned");
            assert!(m.structured_data.is_empty());
            assert!(!m.bom);
            let cef = cef_parser::parse(m.msg.as_deref().unwrap())
                .unwrap_or_else(|e| panic!("{e}: {raw:?}"));
            assert_eq!(cef.version, "0");
            assert_eq!(cef.vendor, "alm");
            assert_eq!(cef.product, "alm");
            assert_eq!(cef.device_version, VERSION);
            assert_eq!(cef.signature_id, "account.provisioned");
            assert_eq!(cef.name, "Account svc-backup provisioned");
            assert_eq!(cef.severity, "6");
            assert_eq!(
                cef.extension,
                pairs(&[
                    ("rt", AT_MILLIS),
                    ("dvchost", HOSTNAME),
                    ("externalId", &sent.id),
                    ("msg", "Account svc-backup provisioned"),
                    ("account", "svc-backup"),
                    ("attempt", "2"),
                    ("domain", "corp.example.test"),
                ])
            );
        }
    }
}

#[tokio::test]
async fn json_lines_over_udp_tcp_and_tls_arrive_and_parse() {
    for transport in TRANSPORTS {
        let events = [event(&new_id()), event(&new_id())];
        let received = send_and_receive(transport, Format::JsonLines, &events).await;
        for (sent, raw) in events.iter().zip(received) {
            let value: serde_json::Value = serde_json::from_str(&raw)
                .unwrap_or_else(|e| panic!("{transport:?}: {e}: {raw:?}"));
            assert_eq!(
                value,
                serde_json::json!({
                    "id": sent.id,
                    "at": AT_TEXT,
                    "kind": "account.provisioned",
                    "severity": "warning",
                    "message": "Account svc-backup provisioned",
                    "fields": {"account": "svc-backup", "attempt": 2, "domain": "corp.example.test"},
                    "host": HOSTNAME,
                    "app": "alm",
                    "version": VERSION,
                }),
                "{transport:?}"
            );
        }
    }
}

/// Everything each format must escape, plus a line break and non-ASCII text.
const AWKWARD: &str =
    "quote \" bracket ] backslash \\ pipe | equals = end\nline two: Grüße, 日本語 ✓";

fn awkward_event() -> SiemEvent {
    let mut fields = BTreeMap::new();
    fields.insert("note".to_owned(), serde_json::json!(AWKWARD));
    fields.insert(
        "odd key=]\"".to_owned(),
        serde_json::json!({"list": [1, "a\"b"]}),
    );
    SiemEvent {
        id: new_id(),
        kind: "audit.record".to_owned(),
        message: AWKWARD.to_owned(),
        fields,
        ..crate::event("unused")
    }
}

#[tokio::test]
async fn characters_that_need_escaping_round_trip_in_every_format_and_transport() {
    // The object field as compact JSON text, written out by hand.
    let object_text = r#"{"list":[1,"a\"b"]}"#;
    for transport in TRANSPORTS {
        let sent = awkward_event();
        let raw =
            &send_and_receive(transport, Format::Rfc5424, std::slice::from_ref(&sent)).await[0];
        let m = syslog_parser::parse(raw).unwrap_or_else(|e| panic!("{transport:?}: {e}: {raw:?}"));
        assert_eq!(m.msgid, "audit.record");
        assert_eq!(m.msg.as_deref(), Some(AWKWARD), "{transport:?}");
        // SD-NAMEs cannot hold space, '=', ']' or '"': each became '_'.
        assert_eq!(
            m.sd("almFields@32473"),
            pairs(&[("note", AWKWARD), ("odd_key___", object_text)]),
            "{transport:?}"
        );

        let sent = awkward_event();
        let raw = &send_and_receive(transport, Format::Cef, std::slice::from_ref(&sent)).await[0];
        let m = syslog_parser::parse(raw).unwrap_or_else(|e| panic!("{transport:?}: {e}: {raw:?}"));
        let cef =
            cef_parser::parse(m.msg.as_deref().unwrap()).unwrap_or_else(|e| panic!("{e}: {raw:?}"));
        assert_eq!(cef.signature_id, "audit.record");
        // The header cannot span lines: the line break became a space.
        assert_eq!(cef.name, AWKWARD.replace('\n', " "));
        assert_eq!(cef.ext("msg"), AWKWARD, "{transport:?}");
        assert_eq!(cef.ext("note"), AWKWARD);
        assert_eq!(cef.ext("odd_key___"), object_text);
        assert_eq!(cef.ext("externalId"), sent.id);

        let sent = awkward_event();
        let raw =
            &send_and_receive(transport, Format::JsonLines, std::slice::from_ref(&sent)).await[0];
        assert!(
            !raw.contains('\n'),
            "a JSON line holds no line break: {raw:?}"
        );
        let value: serde_json::Value = serde_json::from_str(raw).unwrap();
        assert_eq!(value["message"], AWKWARD);
        assert_eq!(value["fields"]["note"], AWKWARD);
        assert_eq!(
            value["fields"]["odd key=]\""],
            serde_json::json!({"list": [1, "a\"b"]})
        );
    }
}

#[tokio::test]
async fn the_test_message_arrives_over_tls() {
    let id = new_id();
    let sent = test_message(
        &id,
        time::macros::datetime!(2030-12-31 23:59:59.5 UTC),
        "rsyslog \"it\"",
    );
    let raw =
        &send_and_receive(Transport::Tls, Format::Rfc5424, std::slice::from_ref(&sent)).await[0];
    let m = syslog_parser::parse(raw).unwrap_or_else(|e| panic!("{e}: {raw:?}"));
    // local0 (16) * 8 + informational (6).
    assert_eq!(m.pri, 134);
    assert_eq!(m.timestamp, "2030-12-31T23:59:59.500000Z");
    assert_eq!(m.msgid, "siem.test");
    assert_eq!(
        m.sd("alm@32473"),
        pairs(&[("id", &id), ("kind", "siem.test"), ("severity", "info")])
    );
    assert_eq!(
        m.sd("almFields@32473"),
        pairs(&[("integration", "rsyslog \"it\"")])
    );
    assert_eq!(
        m.msg.as_deref(),
        Some("alm SIEM test message for the integration \"rsyslog \"it\"\"")
    );
}

#[tokio::test]
async fn a_udp_message_over_the_limit_arrives_cut_at_a_character_with_the_marker() {
    let r = crate::rsyslog::receiver();
    let mut config = alm_siem::SenderConfig::new(
        "127.0.0.1",
        r.udp_port,
        Transport::Udp,
        Format::Rfc5424,
        crate::options(),
    );
    config.max_datagram = 1000;
    let mut sender = alm_siem::Sender::new(config).unwrap();
    let mut sent = event(&new_id());
    // 3 bytes each: 3,000 bytes of MSG.
    sent.message = "✓".repeat(1000);
    sender.send(&sent).await.unwrap();
    let raw = the_message(&r.out.join("udp.log"), &sent.id);
    assert!(raw.len() <= 1000, "{} bytes arrived", raw.len());
    let m = syslog_parser::parse(&raw).unwrap();
    let msg = m.msg.clone().unwrap();
    let kept = msg
        .strip_suffix("…[truncated]")
        .expect("the truncation marker");
    assert!(
        !kept.is_empty() && kept.chars().all(|c| c == '✓'),
        "{kept:?}"
    );
    // Header and structured data survive whole.
    assert_eq!(m.sd("alm@32473")[0].1, sent.id);
}

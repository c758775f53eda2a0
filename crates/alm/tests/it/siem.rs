//! SIEM (SPEC §7.5) through the integration outbox into the rsyslog of `tests/peers/rsyslog.sh`
//! (`ALMTEST_RSYSLOG_*`): every audit record and every event reach each enabled integration,
//! over UDP, TCP and TLS, in the three formats. The receiver writes each input to its own file;
//! a message is found by the id of the request that caused it.

use crate::support::{on_both_backends, TestServer};
use crate::webhooks::{approval_template, start, submit, wait_for};
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

// The RFC 5424 and CEF parsers alm-siem's own tests read rsyslog's files with (written from
// the RFC and the CEF specification, independent of the formatter): one copy, used by both.
#[path = "../../../alm-siem/tests/it/cef_parser.rs"]
#[allow(dead_code)]
mod cef_parser;
#[path = "../../../alm-siem/tests/it/syslog_parser.rs"]
#[allow(dead_code)]
mod syslog_parser;
// The spare rsyslog of tests/peers/rsyslog.sh (configured, not started), which a test starts
// to bring a receiver back; the same helper alm-siem's tests use.
#[path = "../../../alm-siem/tests/it/rsyslog.rs"]
#[allow(dead_code)]
mod rsyslog;

/// One test at a time plays with the spare rsyslog (the two backends' runs are concurrent).
static SPARE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// rsyslog writes each raw message JSON-escaped (its `alm_raw` template): the message as sent.
fn raw_message(line: &str) -> String {
    serde_json::from_str(&format!("\"{}\"", line.trim_end()))
        .unwrap_or_else(|e| panic!("{e}: {line}"))
}

/// The parameter values of every SD element of `m`.
fn sd_values(m: &syslog_parser::Syslog) -> Vec<&str> {
    m.structured_data
        .iter()
        .flat_map(|(_, ps)| ps.iter().map(|(_, v)| v.as_str()))
        .collect()
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run scripts/test.sh (or start tests/peers/rsyslog.sh and export ALMTEST_RSYSLOG_*)"))
}

/// The first line of `file` that `matches`, waiting for it.
async fn line_where(file: &PathBuf, what: &str, matches: impl Fn(&str) -> bool) -> String {
    for _ in 0..300 {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if let Some(l) = text.lines().find(|l| matches(l)) {
            return l.to_owned();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} did not arrive in {}", file.display());
}

/// Whether a line is in `format` (the inputs are shared by integrations of several formats).
fn in_format(line: &str, format: &str) -> bool {
    match format {
        "cef" => line.contains("CEF:0|"),
        // rsyslog writes the message JSON-escaped.
        "json-lines" => line.trim_start().starts_with('{'),
        _ => line.contains("[alm@") && !line.contains("CEF:0|"),
    }
}

on_both_backends! {
    async fn audit_records_and_events_reach_rsyslog_over_udp_tcp_and_tls_in_every_format(backend: Backend) {
        let s: TestServer = start(backend).await;
        let admin = s.admin();
        let out = PathBuf::from(var("ALMTEST_RSYSLOG_DIR"));
        let ca = std::fs::read_to_string(var("ALMTEST_RSYSLOG_CA_FILE")).unwrap();
        let cases = [
            ("udp", "ALMTEST_RSYSLOG_UDP_PORT", "udp.log", "rfc5424"),
            ("tcp", "ALMTEST_RSYSLOG_TCP_PORT", "tcp.log", "cef"),
            ("tls", "ALMTEST_RSYSLOG_TLS_PORT", "tls.log", "json-lines"),
            ("udp", "ALMTEST_RSYSLOG_UDP_PORT", "udp.log", "json-lines"),
            ("tcp", "ALMTEST_RSYSLOG_TCP_PORT", "tcp.log", "rfc5424"),
            ("tls", "ALMTEST_RSYSLOG_TLS_PORT", "tls.log", "cef"),
        ];
        let mut ids = Vec::new();
        for (i, (protocol, port, _, format)) in cases.iter().enumerate() {
            let (st, r) = admin
                .post("/api/v1/siem-integrations", json!({"name": format!("rsyslog {i}"), "server": "127.0.0.1",
                    "port": var(port).parse::<u16>().unwrap(), "protocol": protocol, "format": format, "ca_pem": ca}))
                .await;
            assert_eq!(st, 201, "{r}");
            ids.push(r["id"].as_str().unwrap().to_owned());
        }
        let (st, bad) = admin.post("/api/v1/siem-integrations", json!({"name": "bad", "server": "127.0.0.1", "port": 0, "protocol": "smtp", "format": "rfc5424"})).await;
        assert_eq!(st, 422, "{bad}");
        let fields: Vec<&str> = bad["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["port", "protocol"], "{bad}");
        // The test message.
        let (st, t) = admin.post_empty(&format!("/api/v1/siem-integrations/{}/test", ids[2])).await;
        assert_eq!((st, t["delivered"].as_bool()), (200, Some(true)), "{t}");

        // An event (and the audit records of the request) after every integration exists.
        let template = approval_template(&s).await;
        let request = submit(&admin, &template, "siem1").await;
        for (i, (_, _, file, format)) in cases.iter().enumerate() {
            let file = out.join(file);
            let event = line_where(&file, &format!("the event for integration {i}"), |l| {
                l.contains(&request) && l.contains("request.step-requires-approval") && !l.contains("audit.record") && in_format(l, format)
            })
            .await;
            if *format == "json-lines" {
                let text = event.replace("\\\"", "\"").replace("\\/", "/");
                let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {event}"));
                assert_eq!((v["kind"].as_str(), v["fields"]["request.id"].as_str()), (Some("request.step-requires-approval"), Some(request.as_str())), "{v}");
            }
            // The audit record of the submit names the request as its object.
            line_where(&file, &format!("the audit record for integration {i}"), |l| {
                l.contains("audit.record") && l.contains(&request) && l.contains("request.submitted") && in_format(l, format)
            })
            .await;
        }
        s.stop().await;
    }
}

on_both_backends! {
    async fn siem_messages_wait_while_the_receiver_is_down_and_arrive_parsed_when_it_is_back(backend: Backend) {
        let s: TestServer = start(backend).await;
        let admin = s.admin();
        let _one = SPARE.lock().await;
        // The spare rsyslog is down (configured, not started): its port refuses connections.
        let mut spare = rsyslog::spare();
        let file = spare.out.join("tcp.log");
        let port = spare.tcp_port;
        let formats = ["rfc5424", "cef"];
        let mut ids = Vec::new();
        for format in formats {
            let (st, r) = admin.post("/api/v1/siem-integrations", json!({"name": format!("down {format}"), "server": "127.0.0.1",
                "port": port, "protocol": "tcp", "format": format})).await;
            assert_eq!(st, 201, "{r}");
            // Its own creation's audit record waits already; nothing has failed yet.
            assert_eq!((r["waiting"].as_i64(), r["last_error"].as_str()), (Some(1), None), "{r}");
            ids.push(r["id"].as_str().unwrap().to_owned());
        }
        let template = approval_template(&s).await;
        let request = submit(&admin, &template, "siemdown").await;

        // Tried, refused: the event and the audit records wait, with the reason shown.
        for id in &ids {
            let v = wait_for("a failed attempt", async || {
                let (_, v) = admin.get(&format!("/api/v1/siem-integrations/{id}")).await;
                v["last_error"].is_string().then_some(v)
            }).await;
            assert!(v["waiting"].as_i64().unwrap() >= 2, "the event and the submit's audit record at least: {v}");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!std::fs::read_to_string(&file).unwrap_or_default().contains(&request), "nothing can have arrived");

        // rsyslog starts; after the back-off everything arrives and parses.
        spare.start();
        s.clock.advance(time::Duration::minutes(10));
        for (id, format) in ids.iter().zip(formats) {
            let event = line_where(&file, &format!("the {format} event"), |l| {
                l.contains(&request) && l.contains("request.step-requires-approval") && !l.contains("audit.record") && in_format(l, format)
            }).await;
            let audit = line_where(&file, &format!("the {format} audit record"), |l| {
                l.contains("audit.record") && l.contains(&request) && l.contains("request.submitted") && in_format(l, format)
            }).await;
            for (line, msgid) in [(&event, "request.step-requires-approval"), (&audit, "audit.record")] {
                let raw = raw_message(line);
                let m = syslog_parser::parse(&raw).unwrap_or_else(|e| panic!("{format}: {e}: {raw:?}"));
                assert_eq!((m.version.as_str(), m.app_name.as_str(), m.msgid.as_str()), ("1", "alm", msgid), "{m:?}");
                if format == "rfc5424" {
                    assert!(m.bom, "{m:?}");
                    assert!(sd_values(&m).contains(&request.as_str()), "the request id in the structured data: {m:?}");
                } else {
                    assert!(m.structured_data.is_empty(), "{m:?}");
                    let cef = cef_parser::parse(m.msg.as_deref().unwrap_or("")).unwrap_or_else(|e| panic!("{e}: {raw:?}"));
                    assert_eq!((cef.version.as_str(), cef.vendor.as_str(), cef.signature_id.as_str()), ("0", "alm", msgid), "{cef:?}");
                    assert!(cef.extension.iter().any(|(_, v)| v == &request), "the request id in the extension: {cef:?}");
                }
            }
            let v = wait_for("an empty backlog", async || {
                let (_, v) = admin.get(&format!("/api/v1/siem-integrations/{id}")).await;
                (v["waiting"] == 0).then_some(v)
            }).await;
            assert!(v["last_error"].is_null(), "{v}");
        }
        spare.stop();
        s.stop().await;
    }
}

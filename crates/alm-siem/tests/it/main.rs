//! alm-siem's one integration test binary: events sent to a real rsyslog (tests/peers/rsyslog.sh)
//! over UDP, TCP and TLS, read back from the files rsyslog wrote and parsed with parsers written
//! here from the RFC and the CEF specification. Expected values come from the event the test
//! built, never from the formatter.

mod cef_parser;
mod delivery;
mod failures;
mod rsyslog;
mod syslog_parser;

use alm_siem::{
    Facility, Format, FormatOptions, Origin, Sender, SenderConfig, Severity, SiemEvent, Transport,
};
use std::collections::BTreeMap;
use std::path::PathBuf;
use time::macros::datetime;

// `cargo bolero` (scripts/fuzz.sh) builds every test binary of this crate with libFuzzer's
// coverage counters; bolero brings the runtime that defines them, so this binary links too.
use bolero as _;

pub const HOSTNAME: &str = "alm-it.example.test";
pub const VERSION: &str = "9.9.9-it";
/// 2024-05-01T12:34:56.123456Z: 1714566896 s after the epoch (checked with Python's
/// datetime), so CEF's `rt` is 1714566896123 ms.
pub const AT_TEXT: &str = "2024-05-01T12:34:56.123456Z";
pub const AT_MILLIS: &str = "1714566896123";
/// local0 (16) * 8 + warning (4).
pub const PRI_LOCAL0_WARNING: u16 = 132;

/// A fresh event id: tests share rsyslog's files and find their messages by it.
pub fn new_id() -> String {
    format!("it-{}", uuid::Uuid::new_v4())
}

/// The event most tests send: a warning with three fields (a string, a number, another string).
pub fn event(id: &str) -> SiemEvent {
    let mut fields = BTreeMap::new();
    fields.insert("account".to_owned(), serde_json::json!("svc-backup"));
    fields.insert("attempt".to_owned(), serde_json::json!(2));
    fields.insert("domain".to_owned(), serde_json::json!("corp.example.test"));
    SiemEvent {
        id: id.to_owned(),
        at: datetime!(2024-05-01 12:34:56.123456 UTC),
        kind: "account.provisioned".to_owned(),
        severity: Severity::Warning,
        message: "Account svc-backup provisioned".to_owned(),
        fields,
    }
}

pub fn options() -> FormatOptions {
    FormatOptions {
        origin: Origin {
            hostname: HOSTNAME.to_owned(),
            app_name: "alm".to_owned(),
            app_version: VERSION.to_owned(),
        },
        facility: Facility::LOCAL0,
    }
}

/// A sender to the shared rsyslog for `transport` and `format` (TLS trusting the test CA),
/// and the file that receiver input writes to.
pub fn sender_to_rsyslog(transport: Transport, format: Format) -> (Sender, PathBuf) {
    let r = rsyslog::receiver();
    let (port, file) = match transport {
        Transport::Udp => (r.udp_port, "udp.log"),
        Transport::Tcp => (r.tcp_port, "tcp.log"),
        Transport::Tls => (r.tls_port, "tls.log"),
    };
    let mut config = SenderConfig::new("127.0.0.1", port, transport, format, options());
    config.ca_pem = Some(r.ca_pem);
    (Sender::new(config).expect("sender"), r.out.join(file))
}

pub const TRANSPORTS: [Transport; 3] = [Transport::Udp, Transport::Tcp, Transport::Tls];

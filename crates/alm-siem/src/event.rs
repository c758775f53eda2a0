//! The event a SIEM receives: what the server fills in, and the names alm gives itself on the
//! wire. Plain data, no I/O; the time is carried by the event (never read from the clock here).

use std::collections::BTreeMap;
use time::OffsetDateTime;

/// How bad an event is. Three levels are all alm's events need; each format maps them to its
/// own scale ([`Severity::syslog_code`], [`Severity::cef_severity`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    /// RFC 5424 §6.2.1 severity: 6 Informational, 4 Warning, 3 Error.
    pub fn syslog_code(self) -> u8 {
        match self {
            Severity::Info => 6,
            Severity::Warning => 4,
            Severity::Error => 3,
        }
    }

    /// CEF severity (0–10; 0–3 low, 4–6 medium, 7–8 high, 9–10 very high): 3, 6 and 8,
    /// the top of "low" and "medium" and an ordinary "high" — alm's errors are failed
    /// operations, not attacks, so "very high" stays free for the SIEM's own correlation.
    pub fn cef_severity(self) -> u8 {
        match self {
            Severity::Info => 3,
            Severity::Warning => 6,
            Severity::Error => 8,
        }
    }

    /// The lower-case name used in structured data and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One event for the SIEM. `id` is stable across retries so the receiver can drop duplicates
/// (a retried send may arrive twice: TCP gives no application-level acknowledgement).
#[derive(Debug, Clone, PartialEq)]
pub struct SiemEvent {
    /// Stable id (e.g. the outbox row's UUID or the audit record's sequence number).
    pub id: String,
    /// When it happened; written in UTC whatever offset it carries.
    pub at: OffsetDateTime,
    /// Dotted kind, e.g. `account.provisioned`, `audit.record`.
    pub kind: String,
    pub severity: Severity,
    /// One human sentence (may hold any Unicode, newlines included).
    pub message: String,
    /// Extra named values. Strings are written as they are; other JSON values (numbers, lists,
    /// objects) as compact JSON text in syslog and CEF, as themselves in JSON lines.
    pub fields: BTreeMap<String, serde_json::Value>,
}

/// Who is speaking: the names alm puts in every message's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The sending machine's name (syslog HOSTNAME, CEF `dvchost`, JSON `host`).
    pub hostname: String,
    /// The application (syslog APP-NAME, CEF product, JSON `app`); "alm" normally.
    pub app_name: String,
    /// alm's version (CEF Device Version, JSON `version`).
    pub app_version: String,
}

impl Origin {
    /// `app_name` "alm" and this crate's version (all alm crates share the workspace version).
    pub fn alm(hostname: impl Into<String>) -> Origin {
        Origin {
            hostname: hostname.into(),
            app_name: "alm".to_owned(),
            app_version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

/// The event behind an integration's *test* button: kind `siem.test`, severity info, the
/// integration's name in a field. The caller gives the id and the time (from its clock).
pub fn test_message(id: impl Into<String>, at: OffsetDateTime, integration: &str) -> SiemEvent {
    let mut fields = BTreeMap::new();
    fields.insert(
        "integration".to_owned(),
        serde_json::Value::String(integration.to_owned()),
    );
    SiemEvent {
        id: id.into(),
        at,
        kind: "siem.test".to_owned(),
        severity: Severity::Info,
        message: format!("alm SIEM test message for the integration \"{integration}\""),
        fields,
    }
}

/// A field value as text: strings as they are, anything else as compact JSON.
pub(crate) fn field_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

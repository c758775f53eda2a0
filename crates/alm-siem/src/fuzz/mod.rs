//! Fuzz targets of the wire formats: events with any text in every field (ids, kinds,
//! messages, host and app names, field names and values, times), formatted as CEF, RFC 5424
//! and JSON lines and framed for each transport. The output is read back with the integration
//! tests' own parsers, written from the RFC and the CEF specification (`tests/it`), and must
//! give every value back: CEF stays on one line and escapes `|`, `\`, `=` and line breaks as
//! the specification says. `scripts/fuzz.sh` runs these coverage-guided; `cargo test` gives
//! each a second of random input.

#[path = "../../tests/it/cef_parser.rs"]
mod cef_parser;
#[path = "../../tests/it/syslog_parser.rs"]
mod syslog_parser;

use crate::event::field_text;
use crate::framing::{fit_datagram, TRUNCATION_MARKER};
use crate::{cef, encode, frame, rfc5424, Facility, Format, FormatOptions, Origin, Severity};
use crate::{SiemEvent, Transport};
use bolero::TypeGenerator;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// A field value: text, or what becomes compact JSON (floats left out: JSON text need not
/// give the same float back).
#[derive(Debug, Clone, TypeGenerator)]
enum FieldValue {
    Text(String),
    Number(i64),
    Bool(bool),
    Null,
    List(Vec<String>),
    Object(Vec<(String, String)>),
}

impl FieldValue {
    fn json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            FieldValue::Text(t) => Value::String(t.clone()),
            FieldValue::Number(n) => Value::from(*n),
            FieldValue::Bool(b) => Value::Bool(*b),
            FieldValue::Null => Value::Null,
            FieldValue::List(l) => l.iter().map(|s| Value::String(s.clone())).collect(),
            FieldValue::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            ),
        }
    }
}

#[derive(Debug, TypeGenerator)]
struct Input {
    id: String,
    unix_seconds: i64,
    nanos: u32,
    offset_seconds: i32,
    kind: String,
    severity: u8,
    /// Past CEF's 512-character Name now and then.
    #[generator(String::produce().with().len(0usize..=600))]
    message: String,
    fields: Vec<(String, FieldValue)>,
    hostname: String,
    app_name: String,
    app_version: String,
    facility: u8,
    max_datagram: u16,
}

impl Input {
    fn event(&self) -> SiemEvent {
        let at = OffsetDateTime::from_unix_timestamp(self.unix_seconds)
            .ok()
            .and_then(|t| {
                t.checked_add(time::Duration::nanoseconds(i64::from(
                    self.nanos % 1_000_000_000,
                )))
            })
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let offset =
            UtcOffset::from_whole_seconds(self.offset_seconds % 86_400).unwrap_or(UtcOffset::UTC);
        SiemEvent {
            id: self.id.clone(),
            at: at.checked_to_offset(offset).unwrap_or(at),
            kind: self.kind.clone(),
            severity: [Severity::Info, Severity::Warning, Severity::Error]
                [usize::from(self.severity % 3)],
            message: self.message.clone(),
            fields: self
                .fields
                .iter()
                .map(|(k, v)| (k.clone(), v.json()))
                .collect(),
        }
    }

    fn options(&self) -> FormatOptions {
        FormatOptions {
            origin: Origin {
                hostname: self.hostname.clone(),
                app_name: self.app_name.clone(),
                app_version: self.app_version.clone(),
            },
            facility: Facility::new(self.facility % 24).expect("0-23"),
        }
    }
}

/// A CEF header field as the specification wants it read back: line breaks became spaces.
fn header_text(value: &str) -> String {
    value.replace(['\r', '\n'], " ")
}

/// An RFC 5424 header field: PRINTUSASCII only (others `_`), at most `max`, `-` when empty.
fn syslog_field(value: &str, max: usize) -> String {
    let cleaned: String = value
        .chars()
        .map(|c| if ('!'..='~').contains(&c) { c } else { '_' })
        .take(max)
        .collect();
    if cleaned.is_empty() {
        "-".to_owned()
    } else {
        cleaned
    }
}

/// The CEF record read back: header fields, alm's four keys first with their values, then
/// each field under a key of its own (no two keys alike, none of alm's reused), value intact.
#[test]
fn fuzz_cef_record() {
    bolero::check!().with_type::<Input>().for_each(|input| {
        let (event, origin) = (input.event(), input.options().origin);
        let record = cef::record(&event, &origin);
        assert!(!record.contains(['\r', '\n']), "one line: {record:?}");
        let cef = cef_parser::parse(&record).unwrap_or_else(|e| panic!("{e}: {record:?}"));
        let name: String = event.message.chars().take(512).collect();
        assert_eq!(
            [
                &cef.version,
                &cef.vendor,
                &cef.product,
                &cef.device_version,
                &cef.signature_id,
                &cef.name
            ],
            [
                &"0".to_owned(),
                &"alm".to_owned(),
                &header_text(&origin.app_name),
                &header_text(&origin.app_version),
                &header_text(&event.kind),
                &header_text(&name)
            ],
        );
        assert_eq!(cef.severity, event.severity.cef_severity().to_string());
        // Extension values: a CR LF reads back as LF (both are one line break).
        let ext = |s: &str| s.replace("\r\n", "\n");
        let own: Vec<(&str, &str)> = cef.extension[..4]
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let rt: i128 = own[0].1.parse().expect("rt is a number");
        assert!(
            (rt * 1_000_000 - event.at.unix_timestamp_nanos()).abs() < 1_000_000,
            "rt {rt}"
        );
        assert_eq!(
            own[1..],
            [
                ("dvchost", ext(&origin.hostname).as_str()),
                ("externalId", &ext(&event.id)),
                ("msg", &ext(&event.message))
            ]
        );
        assert_eq!(own[0].0, "rt");
        let mut keys = std::collections::HashSet::new();
        assert!(
            cef.extension.iter().all(|(k, _)| keys.insert(k)),
            "a key repeats: {:?}",
            cef.extension.iter().map(|(k, _)| k).collect::<Vec<_>>()
        );
        assert_eq!(cef.extension.len(), 4 + event.fields.len());
        for ((key, value), (field, expected)) in cef.extension[4..].iter().zip(&event.fields) {
            assert_eq!(value, &ext(&field_text(expected)), "{field:?}");
            let cleaned: String = field
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let cleaned = if cleaned.is_empty() {
                "_".to_owned()
            } else {
                cleaned
            };
            let base = if ["rt", "dvchost", "externalId", "msg"].contains(&cleaned.as_str()) {
                format!("alm_{cleaned}")
            } else {
                cleaned
            };
            // The key, or (when an earlier field took it) the key with a number.
            let suffix = key
                .strip_prefix(&base)
                .unwrap_or_else(|| panic!("{field:?} as {key:?}"));
            assert!(
                suffix.is_empty()
                    || suffix
                        .strip_prefix('_')
                        .is_some_and(|n| n.parse::<u32>().is_ok_and(|n| n >= 2)),
                "{field:?} as {key:?}"
            );
        }
    });
}

/// The RFC 5424 message read back: PRI, cleaned header fields, the event's own and its
/// fields' structured data with every value intact, and the message after the BOM.
#[test]
fn fuzz_rfc5424_message() {
    bolero::check!().with_type::<Input>().for_each(|input| {
        let (event, options) = (input.event(), input.options());
        let text = rfc5424::message(&event, &options);
        let m = syslog_parser::parse(&text).unwrap_or_else(|e| panic!("{e}: {text:?}"));
        assert_eq!(
            m.pri,
            u16::from(options.facility.code()) * 8 + u16::from(event.severity.syslog_code())
        );
        let utc = event.at.to_offset(UtcOffset::UTC);
        if (0..=9999).contains(&utc.year()) {
            let read = OffsetDateTime::parse(&m.timestamp, &Rfc3339)
                .unwrap_or_else(|e| panic!("{e}: {}", m.timestamp));
            let micros = utc
                .replace_nanosecond(utc.microsecond() * 1000)
                .expect("micros");
            assert_eq!(read, micros, "{}", m.timestamp);
            assert!(m.timestamp.ends_with('Z'));
        } else {
            assert_eq!(m.timestamp, "-");
        }
        assert_eq!(m.hostname, syslog_field(&options.origin.hostname, 255));
        assert_eq!(m.app_name, syslog_field(&options.origin.app_name, 48));
        assert_eq!(
            (m.procid.as_str(), m.msgid.as_str()),
            ("-", syslog_field(&event.kind, 32).as_str())
        );
        let own = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        assert_eq!(
            m.sd(rfc5424::SD_ID_EVENT),
            [
                own("id", &event.id),
                own("kind", &event.kind),
                own("severity", event.severity.as_str())
            ]
        );
        if event.fields.is_empty() {
            assert_eq!(m.structured_data.len(), 1);
        } else {
            let params = m.sd(rfc5424::SD_ID_FIELDS);
            assert_eq!(params.len(), event.fields.len());
            for ((name, value), (field, expected)) in params.iter().zip(&event.fields) {
                assert_eq!(value, &field_text(expected), "{field:?}");
                let cleaned: String = field
                    .chars()
                    .map(|c| {
                        if ('!'..='~').contains(&c) && !matches!(c, '=' | ']' | '"') {
                            c
                        } else {
                            '_'
                        }
                    })
                    .take(32)
                    .collect();
                assert_eq!(name, if cleaned.is_empty() { "_" } else { &cleaned });
            }
        }
        if event.message.is_empty() {
            assert_eq!(m.msg, None);
        } else {
            assert_eq!(
                (m.msg.as_deref(), m.bom),
                (Some(event.message.as_str()), true)
            );
        }
    });
}

/// Every format on every transport: CEF rides in a syslog header with no structured data or
/// BOM; JSON lines is one line that parses back to the event; octet counting counts bytes; a
/// datagram fits its limit and is cut only at a character boundary, with the marker.
#[test]
fn fuzz_encode_and_frame() {
    bolero::check!().with_type::<Input>().for_each(|input| {
        let (event, options) = (input.event(), input.options());
        for format in [Format::Rfc5424, Format::Cef, Format::JsonLines] {
            let message = encode(&event, format, &options);
            match format {
                Format::Rfc5424 => assert_eq!(message, rfc5424::message(&event, &options)),
                Format::Cef => {
                    let m = syslog_parser::parse(&message)
                        .unwrap_or_else(|e| panic!("{e}: {message:?}"));
                    assert!(m.structured_data.is_empty() && !m.bom);
                    assert_eq!(m.msg, Some(cef::record(&event, &options.origin)));
                    assert!(!message.contains(['\r', '\n']));
                }
                Format::JsonLines => {
                    assert!(!message.contains(['\r', '\n']));
                    let v: serde_json::Value = serde_json::from_str(&message).expect("JSON");
                    let expected = serde_json::json!({
                        "id": event.id, "kind": event.kind, "severity": event.severity.as_str(),
                        "message": event.message, "fields": event.fields,
                        "host": options.origin.hostname, "app": options.origin.app_name,
                        "version": options.origin.app_version,
                    });
                    for key in [
                        "id", "kind", "severity", "message", "fields", "host", "app", "version",
                    ] {
                        assert_eq!(v[key], expected[key], "{key}: {message:?}");
                    }
                }
            }
            let max = usize::from(input.max_datagram);
            for transport in [Transport::Udp, Transport::Tcp, Transport::Tls] {
                let bytes = frame(&message, format, transport, max);
                let text = String::from_utf8(bytes).expect("frames are UTF-8");
                match transport {
                    Transport::Udp => {
                        assert_eq!(text, fit_datagram(&message, max));
                        let limit = max.max(crate::framing::MIN_DATAGRAM);
                        assert!(text.len() <= limit);
                        if message.len() <= limit {
                            assert_eq!(text, message);
                        } else {
                            let head = text.strip_suffix(TRUNCATION_MARKER).expect("marker");
                            assert!(message.starts_with(head));
                            // As much as fits: the next character would not have.
                            let next = message[head.len()..]
                                .chars()
                                .next()
                                .map_or(0, char::len_utf8);
                            assert!(head.len() + next + TRUNCATION_MARKER.len() > limit);
                        }
                    }
                    Transport::Tcp | Transport::Tls if format.is_syslog() => {
                        let (len, rest) = text.split_once(' ').expect("LEN SP MSG");
                        assert_eq!(
                            (len.parse::<usize>().ok(), rest),
                            (Some(message.len()), message.as_str())
                        );
                    }
                    Transport::Tcp | Transport::Tls => assert_eq!(text, format!("{message}\n")),
                }
            }
        }
    });
}

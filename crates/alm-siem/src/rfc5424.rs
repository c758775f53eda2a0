//! RFC 5424 syslog messages: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [BOM MSG]`.
//! Pure text building; header fields are cleaned to what the RFC allows rather than rejected,
//! because an event must never be refused for a strange host name.
//!
//! Structured data uses the SD-IDs `alm@32473` (id, kind, severity) and `almFields@32473`
//! (the event's fields). 32473 is the example private enterprise number of RFC 5612 — a
//! placeholder until alm has its own PEN; receivers should match on the name part.

use crate::event::{field_text, SiemEvent};
use crate::format::FormatOptions;
use crate::timestamp::rfc3339_utc_micros;

/// The private enterprise number in alm's SD-IDs (RFC 5612's documentation example).
pub const PEN: u32 = 32473;
/// SD-ID of the element with the event's own attributes.
pub const SD_ID_EVENT: &str = "alm@32473";
/// SD-ID of the element with the event's fields.
pub const SD_ID_FIELDS: &str = "almFields@32473";

/// RFC 5424 §6: HOSTNAME at most 255, APP-NAME 48, PROCID 128, MSGID 32 printable US-ASCII
/// characters; SD-NAME (parameter names) 32.
const HOSTNAME_MAX: usize = 255;
const APP_NAME_MAX: usize = 48;
const MSGID_MAX: usize = 32;
const SD_NAME_MAX: usize = 32;
/// UTF-8 byte order mark: RFC 5424 §6.4, MSG-UTF8 starts with it.
const BOM: &str = "\u{feff}";

/// The event as an RFC 5424 message with alm's structured data and the message as MSG.
pub fn message(event: &SiemEvent, options: &FormatOptions) -> String {
    let mut out = header(event, options);
    out.push(' ');
    push_sd_element(
        &mut out,
        SD_ID_EVENT,
        [
            ("id", event.id.as_str()),
            ("kind", event.kind.as_str()),
            ("severity", event.severity.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    if !event.fields.is_empty() {
        push_sd_element(
            &mut out,
            SD_ID_FIELDS,
            event
                .fields
                .iter()
                .map(|(k, v)| (sd_name(k), field_text(v))),
        );
    }
    if !event.message.is_empty() {
        out.push(' ');
        out.push_str(BOM);
        out.push_str(&event.message);
    }
    out
}

/// An RFC 5424 message whose MSG is a CEF record: no structured data (the CEF extension holds
/// everything) and no BOM, because CEF parsers look for `CEF:` at the start of MSG.
pub fn carrying_cef(event: &SiemEvent, options: &FormatOptions, cef_record: &str) -> String {
    let mut out = header(event, options);
    out.push_str(" - ");
    out.push_str(cef_record);
    out
}

/// `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID` (PROCID is always NILVALUE: alm runs as
/// several replicas and a process id tells a SIEM nothing).
fn header(event: &SiemEvent, options: &FormatOptions) -> String {
    let pri = u16::from(options.facility.code()) * 8 + u16::from(event.severity.syslog_code());
    format!(
        "<{pri}>1 {} {} {} - {}",
        rfc3339_utc_micros(event.at).unwrap_or_else(|| "-".to_owned()),
        header_field(&options.origin.hostname, HOSTNAME_MAX),
        header_field(&options.origin.app_name, APP_NAME_MAX),
        header_field(&event.kind, MSGID_MAX),
    )
}

/// A header field: characters outside PRINTUSASCII (33–126) become `_`, cut to `max`,
/// NILVALUE `-` when empty.
fn header_field(value: &str, max: usize) -> String {
    let cleaned: String = value
        .chars()
        .map(|c| if is_printusascii(c) { c } else { '_' })
        .take(max)
        .collect();
    if cleaned.is_empty() {
        "-".to_owned()
    } else {
        cleaned
    }
}

/// An SD-NAME: PRINTUSASCII except `=`, space, `]` and `"` (others become `_`), at most 32,
/// never empty.
fn sd_name(value: &str) -> String {
    let cleaned: String = value
        .chars()
        .map(|c| {
            if is_printusascii(c) && !matches!(c, '=' | ']' | '"') {
                c
            } else {
                '_'
            }
        })
        .take(SD_NAME_MAX)
        .collect();
    if cleaned.is_empty() {
        "_".to_owned()
    } else {
        cleaned
    }
}

fn is_printusascii(c: char) -> bool {
    ('!'..='~').contains(&c)
}

fn push_sd_element(out: &mut String, id: &str, params: impl Iterator<Item = (String, String)>) {
    out.push('[');
    out.push_str(id);
    for (name, value) in params {
        out.push(' ');
        out.push_str(&name);
        out.push_str("=\"");
        push_param_value(out, &value);
        out.push('"');
    }
    out.push(']');
}

/// RFC 5424 §6.3.3: inside PARAM-VALUE, `"`, `\` and `]` are escaped with a backslash;
/// everything else (any UTF-8) is written as it is.
fn push_param_value(out: &mut String, value: &str) {
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Origin, Severity};
    use crate::format::Facility;
    use std::collections::BTreeMap;
    use time::macros::datetime;

    fn options(facility: Facility) -> FormatOptions {
        FormatOptions {
            origin: Origin {
                hostname: "alm1.example.test".to_owned(),
                app_name: "alm".to_owned(),
                app_version: "0.1.0".to_owned(),
            },
            facility,
        }
    }

    fn event() -> SiemEvent {
        let mut fields = BTreeMap::new();
        fields.insert("account".to_owned(), serde_json::json!("svc-backup"));
        fields.insert("count".to_owned(), serde_json::json!(3));
        SiemEvent {
            id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".to_owned(),
            at: datetime!(2024-05-01 12:34:56.0789 UTC),
            kind: "account.provisioned".to_owned(),
            severity: Severity::Info,
            message: "Account svc-backup provisioned".to_owned(),
            fields,
        }
    }

    #[test]
    fn message_matches_rfc5424_layout() {
        // PRI = facility 10 (authpriv) * 8 + severity 6 (informational) = 86.
        let expected = "<86>1 2024-05-01T12:34:56.078900Z alm1.example.test alm - account.provisioned \
[alm@32473 id=\"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\" kind=\"account.provisioned\" severity=\"info\"]\
[almFields@32473 account=\"svc-backup\" count=\"3\"] \u{feff}Account svc-backup provisioned";
        assert_eq!(message(&event(), &options(Facility::AUTHPRIV)), expected);
    }

    #[test]
    fn pri_follows_facility_and_severity() {
        let mut e = event();
        e.severity = Severity::Error;
        // local0 (16) * 8 + error (3) = 131.
        assert!(message(&e, &options(Facility::LOCAL0)).starts_with("<131>1 "));
        e.severity = Severity::Warning;
        // authpriv (10) * 8 + warning (4) = 84.
        assert!(message(&e, &options(Facility::AUTHPRIV)).starts_with("<84>1 "));
    }

    #[test]
    fn param_values_escape_quote_backslash_and_bracket() {
        let mut e = event();
        e.fields.clear();
        e.fields
            .insert("note".to_owned(), serde_json::json!(r#"a"b\c]d é"#));
        let text = message(&e, &options(Facility::AUTHPRIV));
        assert!(
            text.contains(r#"[almFields@32473 note="a\"b\\c\]d é"]"#),
            "{text}"
        );
    }

    #[test]
    fn header_fields_are_cleaned_cut_and_nil_when_empty() {
        let mut o = options(Facility::AUTHPRIV);
        o.origin.hostname = String::new();
        o.origin.app_name = "my app\u{e9}".to_owned();
        let mut e = event();
        e.kind = "k".repeat(40);
        e.message = String::new();
        e.fields.clear();
        let expected = format!(
            "<86>1 2024-05-01T12:34:56.078900Z - my_app_ - {} \
[alm@32473 id=\"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\" kind=\"{}\" severity=\"info\"]",
            "k".repeat(32),
            "k".repeat(40)
        );
        assert_eq!(message(&e, &o), expected);
    }

    #[test]
    fn param_names_are_sd_names() {
        assert_eq!(sd_name("a b=c]d\"e"), "a_b_c_d_e");
        assert_eq!(sd_name(""), "_");
        assert_eq!(sd_name(&"n".repeat(40)), "n".repeat(32));
    }

    #[test]
    fn unwritable_year_gives_nil_timestamp() {
        let mut e = event();
        e.at = datetime!(-0001-01-01 0:00 UTC);
        assert!(message(&e, &options(Facility::AUTHPRIV)).starts_with("<86>1 - alm1.example.test "));
    }
}

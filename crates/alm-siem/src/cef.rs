//! ArcSight Common Event Format records:
//! `CEF:0|Vendor|Product|Version|SignatureID|Name|Severity|Extension`. Pure text building.
//!
//! Header: vendor `alm`, product = the app name, version = alm's version, signature id = the
//! event kind, name = the message's first 512 characters on one line, severity 0–10.
//! Extension: `rt` (event time, milliseconds since the epoch), `dvchost`, `externalId` (the
//! event id, for dedupe), `msg` (the whole message), then the event's fields under their own
//! names (characters other than letters, digits and `_` become `_`; a field named like one of
//! the four keys above gets an `alm_` prefix; a key an earlier field already took gets `_2`,
//! `_3`, …, so no value is overwritten: receivers keep one value per key).

use crate::event::{field_text, Origin, SiemEvent};
use std::collections::HashSet;

pub const VENDOR: &str = "alm";
/// The CEF spec limits Name to 512 characters.
const NAME_MAX: usize = 512;
const OWN_KEYS: [&str; 4] = ["rt", "dvchost", "externalId", "msg"];

/// The CEF record of `event` (one line: newlines are escaped or replaced).
pub fn record(event: &SiemEvent, origin: &Origin) -> String {
    let name: String = event.message.chars().take(NAME_MAX).collect();
    let mut out = format!(
        "CEF:0|{}|{}|{}|{}|{}|{}|",
        header_value(VENDOR),
        header_value(&origin.app_name),
        header_value(&origin.app_version),
        header_value(&event.kind),
        header_value(&name),
        event.severity.cef_severity(),
    );
    let millis = event.at.unix_timestamp_nanos() / 1_000_000;
    let mut pairs: Vec<(String, String)> = vec![
        ("rt".to_owned(), millis.to_string()),
        ("dvchost".to_owned(), origin.hostname.clone()),
        ("externalId".to_owned(), event.id.clone()),
        ("msg".to_owned(), event.message.clone()),
    ];
    let mut taken: HashSet<String> = OWN_KEYS.iter().map(|k| (*k).to_owned()).collect();
    for (key, value) in &event.fields {
        let mut key = extension_key(key);
        if OWN_KEYS.contains(&key.as_str()) {
            key = format!("alm_{key}");
        }
        pairs.push((unique_key(key, &mut taken), field_text(value)));
    }
    for (i, (key, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(key);
        out.push('=');
        out.push_str(&extension_value(value));
    }
    out
}

/// Header fields: `\` and `|` are escaped with a backslash; a header cannot span lines, so
/// CR and LF become spaces.
fn header_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' | '|' => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// Extension values: `\` and `=` are escaped with a backslash, a line break is written as the
/// two characters `\n` (CR LF and a lone LF alike), a lone CR as `\r`. `|` needs no escape here.
fn extension_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            '\n' => out.push_str("\\n"),
            '\r' if chars.peek() == Some(&'\n') => {
                chars.next();
                out.push_str("\\n");
            }
            '\r' => out.push_str("\\r"),
            _ => out.push(c),
        }
    }
    out
}

/// `key`, or `key_2`, `key_3`, … when taken: two field names may clean to one key (`a b` and
/// `a_b`, or `msg` made `alm_msg` beside an `alm_msg` of its own).
fn unique_key(key: String, taken: &mut HashSet<String>) -> String {
    let mut candidate = key.clone();
    let mut n = 2;
    while !taken.insert(candidate.clone()) {
        candidate = format!("{key}_{n}");
        n += 1;
    }
    candidate
}

/// Extension keys hold no spaces or `=`; alm keeps them to letters, digits and `_`.
fn extension_key(key: &str) -> String {
    let cleaned: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "_".to_owned()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Severity;
    use std::collections::BTreeMap;
    use time::macros::datetime;

    fn origin() -> Origin {
        Origin {
            hostname: "alm1.example.test".to_owned(),
            app_name: "alm".to_owned(),
            app_version: "0.1.0".to_owned(),
        }
    }

    #[test]
    fn record_matches_the_cef_layout() {
        let mut fields = BTreeMap::new();
        fields.insert("account".to_owned(), serde_json::json!("svc-backup"));
        fields.insert("groups".to_owned(), serde_json::json!(["a", "b"]));
        let event = SiemEvent {
            id: "e-1".to_owned(),
            // 1714566896 s since the epoch + 78.9 ms.
            at: datetime!(2024-05-01 12:34:56.0789 UTC),
            kind: "account.provisioned".to_owned(),
            severity: Severity::Warning,
            message: "Account svc-backup provisioned".to_owned(),
            fields,
        };
        assert_eq!(
            record(&event, &origin()),
            "CEF:0|alm|alm|0.1.0|account.provisioned|Account svc-backup provisioned|6|\
rt=1714566896078 dvchost=alm1.example.test externalId=e-1 msg=Account svc-backup provisioned \
account=svc-backup groups=[\"a\",\"b\"]"
        );
    }

    #[test]
    fn escaping_in_header_and_extension() {
        let mut fields = BTreeMap::new();
        fields.insert("a b".to_owned(), serde_json::json!("x=y\\z|w\r\nv\rq"));
        fields.insert("msg".to_owned(), serde_json::json!("mine"));
        let event = SiemEvent {
            id: "e=2".to_owned(),
            at: datetime!(1970-01-01 0:00:01 UTC),
            kind: "k|i\\nd".to_owned(),
            severity: Severity::Error,
            message: "two\nlines | a=b".to_owned(),
            fields,
        };
        assert_eq!(
            record(&event, &origin()),
            "CEF:0|alm|alm|0.1.0|k\\|i\\\\nd|two lines \\| a=b|8|\
rt=1000 dvchost=alm1.example.test externalId=e\\=2 msg=two\\nlines | a\\=b \
a_b=x\\=y\\\\z|w\\nv\\rq alm_msg=mine"
        );
    }

    /// Found by `fuzz::fuzz_cef_record`: field names that clean to one key (or a field `msg`,
    /// prefixed, meeting a field `alm_msg`) gave the extension a key twice, and receivers keep
    /// only one of the values.
    #[test]
    fn every_field_gets_a_key_of_its_own() {
        let mut fields = BTreeMap::new();
        for (key, value) in [
            ("a b", "1"),
            ("a_b", "2"),
            ("a=b", "3"),
            ("alm_msg", "4"),
            ("msg", "5"),
        ] {
            fields.insert(key.to_owned(), serde_json::json!(value));
        }
        let event = SiemEvent {
            id: "e".to_owned(),
            at: datetime!(1970-01-01 0:00:01 UTC),
            kind: "k".to_owned(),
            severity: Severity::Info,
            message: "m".to_owned(),
            fields,
        };
        let record = record(&event, &origin());
        let extension = record.rsplit('|').next().unwrap();
        assert_eq!(
            extension,
            "rt=1000 dvchost=alm1.example.test externalId=e msg=m \
a_b=1 a_b_2=3 a_b_3=2 alm_msg=4 alm_msg_2=5"
        );
    }
}

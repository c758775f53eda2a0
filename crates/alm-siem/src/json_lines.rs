//! JSON lines: the event as one JSON object on one line (serde_json escapes every control
//! character, so the text never holds a newline). Keys come out sorted. Pure.

use crate::event::{Origin, SiemEvent};
use crate::timestamp::rfc3339_utc_micros;

/// `{"app":…,"at":…,"fields":{…},"host":…,"id":…,"kind":…,"message":…,"severity":…,"version":…}`
/// without a trailing newline (framing adds it where the transport needs one). `at` is
/// null for years RFC 3339 cannot write.
pub fn object(event: &SiemEvent, origin: &Origin) -> String {
    serde_json::json!({
        "id": event.id,
        "at": rfc3339_utc_micros(event.at),
        "kind": event.kind,
        "severity": event.severity.as_str(),
        "message": event.message,
        "fields": event.fields,
        "host": origin.hostname,
        "app": origin.app_name,
        "version": origin.app_version,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Severity;
    use std::collections::BTreeMap;
    use time::macros::datetime;

    #[test]
    fn one_sorted_object_on_one_line() {
        let mut fields = BTreeMap::new();
        fields.insert("n".to_owned(), serde_json::json!(1));
        fields.insert("s".to_owned(), serde_json::json!("a\"b"));
        let event = SiemEvent {
            id: "e-1".to_owned(),
            at: datetime!(2024-05-01 14:34:56.5 +02:00),
            kind: "audit.record".to_owned(),
            severity: Severity::Error,
            message: "line 1\nline 2 é".to_owned(),
            fields,
        };
        let origin = Origin {
            hostname: "h".to_owned(),
            app_name: "alm".to_owned(),
            app_version: "0.1.0".to_owned(),
        };
        assert_eq!(
            object(&event, &origin),
            r#"{"app":"alm","at":"2024-05-01T12:34:56.500000Z","fields":{"n":1,"s":"a\"b"},"host":"h","id":"e-1","kind":"audit.record","message":"line 1\nline 2 é","severity":"error","version":"0.1.0"}"#
        );
    }
}

//! Fuzz targets of the RFC 4514 parser: any text may arrive as a DN (a form field, an API
//! body, the directory's own answers). Beyond "never panics": a parsed DN's display, the
//! normalised text alm stores and compares, parses back to the same DN, and every value
//! survives escaping. `scripts/fuzz.sh` runs these coverage-guided; `cargo test` gives each a
//! second of random input and replays `__fuzz__/*/crashes`.

use super::*;
use bolero::TypeGenerator;

fn values(dn: &Dn) -> Vec<Vec<(String, String)>> {
    dn.rdns()
        .iter()
        .map(|r| {
            r.avas()
                .iter()
                .map(|a| (a.attr().to_owned(), a.value().to_owned()))
                .collect()
        })
        .collect()
}

/// Any text: a refusal is one of the two rules; a DN's display parses back to an equal DN
/// with exactly the same types and values, and displays the same again.
#[test]
fn fuzz_dn_parse_round_trip() {
    bolero::check!().for_each(|input: &[u8]| {
        let text = String::from_utf8_lossy(input);
        let dn = match Dn::parse(&text) {
            Ok(dn) => dn,
            Err(e) => {
                match &e {
                    // As given, or once normalised (escapes written out).
                    DnError::TooLong(n) => assert!(*n > MAX_DN_CHARS),
                    DnError::Syntax(why) => assert!(!why.is_empty()),
                }
                assert!(matches!(e.rule(), "max-length" | "format"));
                return;
            }
        };
        assert!(!dn.rdns().is_empty() && dn.rdns().iter().all(|r| !r.avas().is_empty()));
        let shown = dn.to_string();
        let again = Dn::parse(&shown)
            .unwrap_or_else(|e| panic!("{text:?} parsed, but its display {shown:?} does not: {e}"));
        assert_eq!(again, dn, "{text:?} → {shown:?}");
        assert_eq!(values(&again), values(&dn), "{text:?} → {shown:?}");
        assert_eq!(again.to_string(), shown, "the display is normalised");
        assert!(dn.is_at_or_under(&dn) && !dn.is_under(&dn));
        if let Some(parent) = dn.parent() {
            assert!(dn.is_under(&parent) && !parent.is_under(&dn));
            assert_eq!(parent.rdns().len() + 1, dn.rdns().len());
        }
    });
}

/// An attribute type as alm and the directory write them.
#[derive(Debug, Clone, Copy, TypeGenerator)]
enum AttrType {
    Cn,
    Ou,
    Dc,
    /// A dotted OID that has no short name.
    Oid,
}

impl AttrType {
    fn text(self) -> &'static str {
        match self {
            AttrType::Cn => "CN",
            AttrType::Ou => "OU",
            AttrType::Dc => "DC",
            AttrType::Oid => "1.2.840.113556.1.4.1",
        }
    }
}

/// Any values, each escaped with the module's own `escape`, joined into a DN (with or without
/// the spaces RFC 4514 lets writers put around separators): parsing gives the values back.
#[test]
fn fuzz_dn_values_escape_and_unescape() {
    bolero::check!()
        .with_type::<(bool, Vec<Vec<(AttrType, String)>>)>()
        .for_each(|(spaced, rdns)| {
            let rdns: Vec<&Vec<(AttrType, String)>> = rdns
                .iter()
                .filter(|r| !r.is_empty() && r.iter().all(|(_, v)| !v.is_empty()))
                .collect();
            if rdns.is_empty() {
                return;
            }
            let (comma, plus) = if *spaced { (" , ", " + ") } else { (",", "+") };
            let text = rdns
                .iter()
                .map(|r| {
                    r.iter()
                        .map(|(t, v)| format!("{}={}", t.text(), escape(v)))
                        .collect::<Vec<_>>()
                        .join(plus)
                })
                .collect::<Vec<_>>()
                .join(comma);
            let dn = match Dn::parse(&text) {
                Ok(dn) => dn,
                Err(DnError::TooLong(_)) if text.chars().count() > MAX_DN_CHARS => return,
                Err(e) => panic!("{text:?} (escaped by `escape`) does not parse: {e}"),
            };
            let expected: Vec<Vec<(String, String)>> = rdns
                .iter()
                .map(|r| {
                    r.iter()
                        .map(|(t, v)| (t.text().to_owned(), v.clone()))
                        .collect()
                })
                .collect();
            assert_eq!(values(&dn), expected, "{text:?}");
        });
}

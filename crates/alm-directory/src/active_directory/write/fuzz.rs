//! Fuzz targets of the escaping alm applies before text reaches Active Directory: RFC 4515
//! filter values (`ldap_escape` for names, `binary_filter_value` for GUIDs) and RFC 4514 child
//! DNs (`child_dn`, `first_rdn`). The properties: an escaped value holds no filter syntax, and
//! the filter ldap3 puts on the wire asserts exactly the input; a child DN parses (with alm's
//! own parser) to the name under its parent. `scripts/fuzz.sh` runs these coverage-guided;
//! `cargo test` gives each a second of random input.

use super::*;
use alm_core::Dn;
use ldap3::asn1::{OctetString, Sequence, Tag, TagClass};

/// RFC 4515 §3: `\XX` back to bytes; None when a backslash is not followed by two hex digits.
fn unescape(escaped: &str) -> Option<Vec<u8>> {
    let bytes = escaped.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// The filter the directory receives: one equality assertion of `attr` with exactly `value`.
fn assert_equality_filter(filter: &str, attr: &str, value: &[u8]) {
    let parsed = ldap3::parse_filter(filter).unwrap_or_else(|()| panic!("{filter:?} is no filter"));
    let expected = Tag::Sequence(Sequence {
        class: TagClass::Context,
        id: 3, // equalityMatch (RFC 4511 §4.5.1)
        inner: vec![
            Tag::OctetString(OctetString {
                inner: attr.as_bytes().to_vec(),
                ..Default::default()
            }),
            Tag::OctetString(OctetString {
                inner: value.to_vec(),
                ..Default::default()
            }),
        ],
    });
    assert_eq!(parsed, expected, "{filter:?}");
}

/// A name in a filter (`sAMAccountName=`): no `*`, `(`, `)` or NUL left, every backslash
/// starts an escape, unescaping gives the name back, and the filter matches only it.
#[test]
fn fuzz_filter_value_escaping() {
    bolero::check!().for_each(|input: &[u8]| {
        let name = String::from_utf8_lossy(input);
        let escaped = ldap_escape(name.as_ref());
        assert!(
            !escaped.bytes().any(|b| matches!(b, b'*' | b'(' | b')' | 0)),
            "{escaped:?}"
        );
        assert_eq!(
            unescape(&escaped).as_deref(),
            Some(name.as_bytes()),
            "{escaped:?}"
        );
        assert_equality_filter(
            &format!("(sAMAccountName={escaped})"),
            "sAMAccountName",
            name.as_bytes(),
        );
    });
}

/// Any bytes (an objectGUID): every byte escaped, and the filter asserts exactly those bytes.
#[test]
fn fuzz_binary_filter_value() {
    bolero::check!().for_each(|bytes: &[u8]| {
        let escaped = binary_filter_value(bytes);
        assert_eq!(escaped.len(), 3 * bytes.len());
        assert_eq!(unescape(&escaped).as_deref(), Some(bytes));
        assert_equality_filter(&format!("(objectGUID={escaped})"), "objectGUID", bytes);
    });
}

const PARENT: &str = "OU=Service Accounts,OU=T\\,1,DC=corp,DC=example,DC=test";

/// A child DN: its first RDN is the escaped name (what a rename keeps), and alm's RFC 4514
/// parser reads the name back from it, under the parent. Any text given to `first_rdn` (a DN
/// the directory returned) gives a prefix that ends at an unescaped comma or the end.
#[test]
fn fuzz_child_dn_and_first_rdn() {
    bolero::check!().for_each(|input: &[u8]| {
        let text = String::from_utf8_lossy(input);
        let rdn = first_rdn(&text);
        assert!(text.starts_with(rdn));
        assert!(rdn.len() == text.len() || text[rdn.len()..].starts_with(','));

        let name = text.as_ref();
        let dn = child_dn(name, PARENT);
        assert_eq!(first_rdn(&dn), format!("CN={}", dn_escape(name)), "{dn:?}");
        if name.is_empty() {
            return;
        }
        let parsed = match Dn::parse(&dn) {
            Ok(parsed) => parsed,
            Err(e) if e.rule() == "max-length" => return,
            Err(e) => panic!("{dn:?}: {e}"),
        };
        let first = &parsed.rdns()[0].avas();
        assert_eq!(first.len(), 1, "{dn:?}");
        assert_eq!((first[0].attr(), first[0].value()), ("CN", name), "{dn:?}");
        assert_eq!(parsed.parent(), Dn::parse(PARENT).ok(), "{dn:?}");
    });
}

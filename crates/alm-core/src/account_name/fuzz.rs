//! Fuzz target of the account-name rules (SPEC §2.5) under a template's prefix and pattern:
//! any typed text, any prefix, patterns built from the pieces people write. A name that is
//! accepted meets every rule, matches the pattern as a whole, and rechecks to itself (a draft
//! submitted later); one refused by the pattern really does not match it. `scripts/fuzz.sh`
//! runs this coverage-guided; `cargo test` gives it a second of random input.

use super::*;
use bolero::TypeGenerator;

/// The pieces template authors build name patterns from.
#[derive(Debug, Clone, Copy, TypeGenerator)]
enum Piece {
    Letter(#[generator(b'a'..=b'e')] u8),
    Digit(#[generator(b'0'..=b'2')] u8),
    Dash,
    Dot,
    Space,
    Lower,
    Digits,
    Any,
    Plus,
    Star,
    Optional,
    Lazy,
    Repeat(#[generator(0u8..=3)] u8),
    Or,
    Open,
    Close,
    Start,
    End,
    CaseInsensitive,
    Other(char),
}

impl Piece {
    fn push(self, out: &mut String) {
        match self {
            Piece::Letter(c) | Piece::Digit(c) => out.push(char::from(c)),
            Piece::Dash => out.push('-'),
            Piece::Dot => out.push_str("\\."),
            Piece::Space => out.push(' '),
            Piece::Lower => out.push_str("[a-z]"),
            Piece::Digits => out.push_str("\\d"),
            Piece::Any => out.push('.'),
            Piece::Plus => out.push('+'),
            Piece::Star => out.push('*'),
            Piece::Optional => out.push('?'),
            Piece::Lazy => out.push_str("+?"),
            Piece::Repeat(n) => out.push_str(&format!("{{{n},{}}}", n + 2)),
            Piece::Or => out.push('|'),
            Piece::Open => out.push('('),
            Piece::Close => out.push(')'),
            Piece::Start => out.push('^'),
            Piece::End => out.push('$'),
            Piece::CaseInsensitive => out.push_str("(?i)"),
            Piece::Other(c) => out.push(c),
        }
    }
}

#[derive(Debug, TypeGenerator)]
struct Input {
    gmsa: bool,
    #[generator(String::produce().with().len(0usize..=6))]
    prefix: String,
    pattern: Option<Vec<Piece>>,
    #[generator(String::produce().with().len(0usize..=24))]
    typed: String,
}

fn template(input: &Input) -> TemplateDefinition {
    let nil = uuid::Uuid::nil();
    let mut t: TemplateDefinition = serde_json::from_value(serde_json::json!({
        "account_type": if input.gmsa { "gmsa" } else { "ad-user" },
        "eol_action": "disable",
        "vault_id": nil, "folders": [], "domain_id": nil, "ous": [],
        "audience_groups": [], "lifecycle": {"intervals": []}, "steps": [],
    }))
    .expect("a template definition");
    t.name_prefix = input.prefix.clone();
    t.name_regex = input.pattern.as_ref().map(|pieces| {
        let mut re = String::new();
        pieces.iter().for_each(|p| p.push(&mut re));
        re
    });
    t
}

/// The pattern's meaning: the whole name matches it (not merely a part of it). None when the
/// pattern is no regex (wrapped, `)|(` would be one).
fn matches_as_a_whole(pattern: &str, name: &str) -> Option<bool> {
    regex::Regex::new(pattern).ok()?;
    let whole = regex::Regex::new(&format!("^(?:{pattern})$")).ok()?;
    Some(whole.is_match(name))
}

#[test]
fn fuzz_account_name_under_template_rules() {
    bolero::check!().with_type::<Input>().for_each(|input| {
        let t = template(input);
        let got = AccountName::requested("account_name", &input.typed, &t);
        // The same name with no pattern: every other rule decided alone.
        let mut unpatterned = t.clone();
        unpatterned.name_regex = None;
        let without_pattern = AccountName::requested("account_name", &input.typed, &unpatterned);
        match &got {
            Ok(name) => {
                let full = name.as_str();
                assert_eq!(full, format!("{}{}", t.name_prefix, input.typed.trim()));
                assert!(full.chars().count() <= max_chars(&t));
                assert!(!full
                    .chars()
                    .any(|c| FORBIDDEN_NAME_CHARS.contains(&c) || c.is_control()));
                assert!(!full.starts_with(' ') && !full.ends_with(' ') && !full.ends_with('.'));
                assert_eq!(without_pattern.as_ref(), Ok(name));
                assert_eq!(
                    AccountName::recheck("account_name", full, &t).as_ref(),
                    Ok(name),
                    "a stored name rechecks to itself"
                );
            }
            Err(e) => {
                assert_eq!(e.field, "account_name");
                assert!(
                    matches!(
                        e.rule.as_str(),
                        "required" | "max-length" | "characters" | "pattern"
                    ),
                    "{e:?}"
                );
                if e.rule != "pattern" {
                    assert_eq!(without_pattern.as_ref().err(), Some(e));
                }
            }
        }
        // With every other rule met, the pattern alone decides, and as a whole-name match.
        if let (Ok(name), Some(pattern)) = (&without_pattern, &t.name_regex) {
            if let Some(expected) = matches_as_a_whole(pattern, name.as_str()) {
                assert_eq!(
                    got.is_ok(),
                    expected,
                    "{name:?} against {pattern:?}: {got:?}"
                );
            }
        }
    });
}

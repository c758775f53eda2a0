//! Fuzz target of `ObjectName::parse`: any text, any field name. A name that parses is the
//! trimmed input, within the limits, parses to itself again and survives JSON. `scripts/fuzz.sh`
//! runs this coverage-guided; `cargo test` gives it a second of random input.

use super::*;
use bolero::TypeGenerator;

#[derive(Debug, TypeGenerator)]
struct Input {
    field: String,
    /// Past the 128-character limit now and then.
    #[generator(String::produce().with().len(0usize..=160))]
    text: String,
}

#[test]
fn fuzz_object_name_parse() {
    bolero::check!().with_type::<Input>().for_each(
        |Input { field, text }| match ObjectName::parse(field, text) {
            Ok(name) => {
                assert_eq!(name.as_str(), text.trim());
                assert!(!name.as_str().is_empty());
                assert!(text.chars().count() <= MAX_NAME_CHARS);
                assert!(!name.as_str().chars().any(char::is_control));
                assert_eq!(ObjectName::parse(field, name.as_str()), Ok(name.clone()));
                let json = serde_json::to_string(&name).expect("a name serialises");
                assert_eq!(serde_json::from_str::<ObjectName>(&json).ok(), Some(name));
            }
            Err(e) => {
                assert_eq!(&e.field, field);
                let expected = if text.trim().is_empty() {
                    "required"
                } else if text.chars().count() > MAX_NAME_CHARS {
                    "max-length"
                } else {
                    "characters"
                };
                assert_eq!(e.rule, expected, "{text:?}");
                // What the API refuses, JSON refuses too.
                let json = serde_json::to_string(text).expect("text serialises");
                assert!(serde_json::from_str::<ObjectName>(&json).is_err());
            }
        },
    );
}

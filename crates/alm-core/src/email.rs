//! `Email`: an address that has been checked once, at the edge, and is stored lowercased.
//!
//! Deliberately simple (RFC 5321 sizes, one `@`, a dotted domain, no spaces or controls):
//! alm only needs to match logins by email and send mail, not to judge every RFC 5322 form.

use crate::validation::FieldError;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// Parses `input` for the field `field`; the stored form is trimmed and lowercased, so
    /// `Alice@Example.test` and `alice@example.test` are the same person.
    pub fn parse(field: &str, input: &str) -> Result<Self, FieldError> {
        let value = input.trim().to_lowercase();
        let bad = |msg: &str| Err(FieldError::new(field, "email", msg));
        if value.is_empty() {
            return Err(FieldError::new(
                field,
                "required",
                "an email address is required",
            ));
        }
        if value.chars().count() > 254 {
            return Err(FieldError::new(
                field,
                "max-length",
                "an email address has at most 254 characters",
            ));
        }
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return bad("an email address contains no spaces or control characters");
        }
        let Some((local, domain)) = value.split_once('@') else {
            return bad("expected the form name@domain.example");
        };
        if local.is_empty() || local.chars().count() > 64 || domain.contains('@') {
            return bad("expected the form name@domain.example");
        }
        let labels_ok = domain.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
        if !domain.contains('.') || !labels_ok {
            return bad("the part after @ must be a domain name such as example.com (international names in punycode)");
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Email::parse("email", &value).map_err(|e| e.message)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> Self {
        e.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_normalises_ordinary_addresses() {
        assert_eq!(
            Email::parse("email", " Alice@Example.TEST ")
                .unwrap()
                .as_str(),
            "alice@example.test"
        );
        assert!(Email::parse("email", "svc.team+alm@corp.example.test").is_ok());
    }

    #[test]
    fn refuses_malformed_addresses_naming_the_field() {
        for bad in [
            "",
            "alice",
            "alice@",
            "@example.test",
            "alice@localhost",
            "a b@example.test",
            "alice@@example.test",
            "alice@exa_mple.test",
            "alice@-example.test",
        ] {
            let err = Email::parse("emails[0]", bad).unwrap_err();
            assert_eq!(err.field, "emails[0]", "input {bad:?}");
        }
        let long = format!("{}@example.test", "a".repeat(250));
        assert_eq!(Email::parse("email", &long).unwrap_err().rule, "max-length");
    }
}

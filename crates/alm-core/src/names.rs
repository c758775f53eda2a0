//! `ObjectName`: the name of a user, group, role or token as people type it.
//!
//! Trimmed, 1 to 128 characters, no control characters. Uniqueness is the store's job.

use crate::validation::FieldError;
use serde::{Deserialize, Serialize};
use std::fmt;

pub const MAX_NAME_CHARS: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ObjectName(String);

impl ObjectName {
    pub fn parse(field: &str, input: &str) -> Result<Self, FieldError> {
        let value = input.trim();
        if value.is_empty() {
            return Err(FieldError::new(field, "required", "must not be empty"));
        }
        // The limit applies to the input as sent (as the OpenAPI maxLength says), spaces included.
        if input.chars().count() > MAX_NAME_CHARS {
            return Err(FieldError::new(
                field,
                "max-length",
                format!("must have at most {MAX_NAME_CHARS} characters"),
            ));
        }
        if value.chars().any(char::is_control) {
            return Err(FieldError::new(
                field,
                "characters",
                "must not contain control characters",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ObjectName {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        ObjectName::parse("name", &value).map_err(|e| e.message)
    }
}

impl From<ObjectName> for String {
    fn from(n: ObjectName) -> Self {
        n.0
    }
}

impl fmt::Display for ObjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_bounds_names() {
        assert_eq!(
            ObjectName::parse("name", "  Auditors ").unwrap().as_str(),
            "Auditors"
        );
        assert_eq!(
            ObjectName::parse("name", "   ").unwrap_err().rule,
            "required"
        );
        assert!(ObjectName::parse("name", &"é".repeat(128)).is_ok());
        assert_eq!(
            ObjectName::parse("name", &"é".repeat(129))
                .unwrap_err()
                .rule,
            "max-length"
        );
        assert_eq!(
            ObjectName::parse("name", "a\u{7}b").unwrap_err().rule,
            "characters"
        );
    }
}

#[cfg(test)]
mod fuzz;

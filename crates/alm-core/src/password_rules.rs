//! A domain's rules for the passwords alm generates (length and character classes): one
//! definition for the API, the stored domain, the engine protocol and the generator
//! (`alm_directory::password`), checked against what Active Directory accepts.

use crate::FieldError;
use serde::{Deserialize, Serialize};

pub const MIN_LENGTH: usize = 14;
pub const MAX_LENGTH: usize = 128;

/// Rules for the passwords alm generates for a domain's accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PasswordRules {
    #[cfg_attr(feature = "openapi", schema(minimum = 14, maximum = 128))]
    pub length: usize,
    pub lowercase: bool,
    pub uppercase: bool,
    pub digits: bool,
    pub symbols: bool,
}

impl Default for PasswordRules {
    fn default() -> Self {
        Self {
            length: 24,
            lowercase: true,
            uppercase: true,
            digits: true,
            symbols: true,
        }
    }
}

impl PasswordRules {
    /// Refuses rules whose passwords Active Directory could reject or that are weak.
    pub fn validate(&self, field: &str) -> Result<(), FieldError> {
        if !(MIN_LENGTH..=MAX_LENGTH).contains(&self.length) {
            return Err(FieldError::new(
                format!("{field}.length"),
                "range",
                format!("must be between {MIN_LENGTH} and {MAX_LENGTH}"),
            ));
        }
        let classes = [self.lowercase, self.uppercase, self.digits, self.symbols]
            .iter()
            .filter(|c| **c)
            .count();
        if classes < 3 {
            return Err(FieldError::new(
                field,
                "complexity",
                "at least three of lowercase, uppercase, digits and symbols are needed (Active Directory's complexity rule)",
            ));
        }
        Ok(())
    }
}

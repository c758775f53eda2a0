//! `AccountName`: a managed account's sAMAccountName (SPEC §2.5), made once from what the
//! requester typed under the template's rules (prefix applied), then carried as this type to
//! the store, the engine and the directory; and `Upn`, its user principal name in a domain,
//! built from the domain's base DN (parsed), never by cutting strings.

use crate::dn::Dn;
use crate::templates::{AccountType, TemplateDefinition, FORBIDDEN_NAME_CHARS};
use crate::validation::FieldError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A full account name (the template's prefix applied) that met the template's rules.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct AccountName(String);

impl AccountName {
    /// What a requester typed (without the prefix), checked against the template.
    pub fn requested(
        field: &str,
        requested: &str,
        template: &TemplateDefinition,
    ) -> Result<Self, FieldError> {
        checked_full_name(field, requested, template).map(Self)
    }

    /// A full name alm stored earlier (prefix applied), checked again against `template` (a
    /// draft is submitted under the version published now). The prefix is taken off once,
    /// here, and the rest checked as if typed.
    pub fn recheck(
        field: &str,
        full: &str,
        template: &TemplateDefinition,
    ) -> Result<Self, FieldError> {
        Self::requested(field, Self::typed_part(full, template), template)
    }

    /// The part a requester types: the name without the template's prefix.
    pub fn typed_part<'a>(full: &'a str, template: &TemplateDefinition) -> &'a str {
        full.strip_prefix(template.name_prefix.as_str())
            .unwrap_or(full)
    }

    /// A name as the directory and alm's records hold it (e.g. an imported account), taken
    /// as it is: no template rule applies to what already exists.
    pub fn existing(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// The user principal name of this account in the domain whose base DN is `base_dn`:
    /// `name@` and the DC components joined by dots.
    pub fn upn(&self, base_dn: &Dn) -> Result<Upn, FieldError> {
        let labels: Vec<&str> = base_dn
            .rdns()
            .iter()
            .filter_map(|rdn| match rdn.avas() {
                [ava] if ava.attr().eq_ignore_ascii_case("dc") => Some(ava.value()),
                _ => None,
            })
            .collect();
        if labels.is_empty() {
            return Err(FieldError::new(
                "base_dn",
                "dc-components",
                "the domain's base DN has no DC= components to make a user principal name from",
            ));
        }
        Ok(Upn(format!("{}@{}", self.0, labels.join("."))))
    }
}

impl fmt::Display for AccountName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Read-only: the name is text wherever text is read (a lookup, an LDAP value, a vault key).
impl std::ops::Deref for AccountName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for AccountName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

/// A user principal name (`name@dns.domain`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upn(String);

impl Upn {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Upn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The most characters a full name (prefix included) may have with this template: the
/// directory's sAMAccountName limit (20; 15 for a gMSA, before its trailing `$`).
pub fn max_chars(template: &TemplateDefinition) -> usize {
    match template.account_type {
        AccountType::AdUser => 20,
        AccountType::Gmsa => 15,
    }
}

/// Checks a requested account name against the template and returns the full name (prefix
/// applied). sAMAccountName: at most 20 characters (15 for a gMSA, before its trailing `$`),
/// none of `"/\[]:;|=,+*?<>@`, no control characters, no leading or trailing space or dot.
fn checked_full_name(
    field: &str,
    requested: &str,
    template: &TemplateDefinition,
) -> Result<String, FieldError> {
    let requested = requested.trim();
    if requested.is_empty() {
        return Err(FieldError::new(
            field,
            "required",
            "an account name is required",
        ));
    }
    let full = format!("{}{}", template.name_prefix, requested);
    let max = max_chars(template);
    if full.chars().count() > max {
        return Err(FieldError::new(
            field,
            "max-length",
            format!(
                "{full:?} has {} characters; at most {max} with the prefix {:?}",
                full.chars().count(),
                template.name_prefix
            ),
        ));
    }
    if let Some(c) = full
        .chars()
        .find(|c| FORBIDDEN_NAME_CHARS.contains(c) || c.is_control())
    {
        return Err(FieldError::new(
            field,
            "characters",
            format!("{c:?} is not allowed in an account name"),
        ));
    }
    if full.ends_with('.') || full.ends_with(' ') || full.starts_with(' ') {
        return Err(FieldError::new(
            field,
            "characters",
            "an account name may not start with a space or end with a space or dot",
        ));
    }
    if let Some(re) = &template.name_regex {
        let matches = regex::Regex::new(re)
            .ok()
            .and_then(|r| r.find(&full))
            .is_some_and(|m| m.start() == 0 && m.end() == full.len());
        if !matches {
            return Err(FieldError::new(
                field,
                "pattern",
                format!("{full:?} does not match the template's pattern {re}"),
            ));
        }
    }
    Ok(full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upn_suffix_comes_from_the_dc_components_of_the_base_dn() {
        let name = AccountName::existing("svc-web");
        let upn = |dn: &str| name.upn(&Dn::parse(dn).unwrap());
        assert_eq!(
            upn("DC=corp,DC=example,DC=com").unwrap().as_str(),
            "svc-web@corp.example.com"
        );
        assert_eq!(
            upn("OU=Svc,DC=corp,DC=example,DC=com").unwrap().as_str(),
            "svc-web@corp.example.com"
        );
        assert_eq!(
            upn("dc=Corp , dc=Test").unwrap().as_str(),
            "svc-web@Corp.Test"
        );
        assert_eq!(upn("OU=Only,O=Org").unwrap_err().rule, "dc-components");
    }
}

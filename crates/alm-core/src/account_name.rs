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

/// A template's name pattern as the rule applies it: the whole name must match, not merely
/// its leftmost match (`svc-[a-z]+|svc-[a-z]+-\d+` accepts `svc-web-01`, although the
/// leftmost match of that name is `svc-web`). An error when `pattern` is no regex.
pub fn name_pattern(pattern: &str) -> Result<regex::Regex, regex::Error> {
    // Wrapped, `)|(` would compile: the pattern must be a regex by itself.
    regex::Regex::new(pattern)?;
    regex::Regex::new(&format!("\\A(?:{pattern})\\z"))
        // A verbose (`(?x)`) pattern may end in a `#` comment, which would swallow the `)`: a
        // line break ends the comment.
        .or_else(|_| regex::Regex::new(&format!("\\A(?:{pattern}\n)\\z")))
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
        let matches = name_pattern(re).is_ok_and(|r| r.is_match(&full));
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

    /// Found by `account_name::fuzz`: the pattern was applied as its leftmost match, so an
    /// alternation or a lazy repeat refused names that match the pattern as a whole.
    #[test]
    fn the_whole_name_must_match_the_pattern_not_its_leftmost_match() {
        let mut t: TemplateDefinition = serde_json::from_value(serde_json::json!({
            "account_type": "ad-user", "eol_action": "disable",
            "vault_id": uuid::Uuid::nil(), "folders": [], "domain_id": uuid::Uuid::nil(),
            "ous": [], "audience_groups": [], "lifecycle": {"intervals": []}, "steps": [],
            "name_prefix": "svc-",
        }))
        .unwrap();
        let check = |t: &TemplateDefinition, pattern: &str, typed: &str| {
            let mut t = t.clone();
            t.name_regex = Some(pattern.to_owned());
            AccountName::requested("account_name", typed, &t).map(AccountName::into_string)
        };
        let either = r"svc-[a-z]+|svc-[a-z]+-\d+";
        assert_eq!(check(&t, either, "web").unwrap(), "svc-web");
        assert_eq!(check(&t, either, "web-01").unwrap(), "svc-web-01");
        assert_eq!(check(&t, either, "web-x").unwrap_err().rule, "pattern");
        assert_eq!(check(&t, "svc-.+?", "web").unwrap(), "svc-web");
        assert_eq!(check(&t, "|svc-.+", "web").unwrap(), "svc-web");
        // Anchors written by the author still work; a part of the name is still not enough.
        assert_eq!(check(&t, "^svc-[a-z]+$", "web").unwrap(), "svc-web");
        assert_eq!(check(&t, "svc", "web").unwrap_err().rule, "pattern");
        // A verbose pattern ending in a comment.
        let verbose = "(?x) svc- [a-z]+  # service accounts";
        assert_eq!(check(&t, verbose, "web").unwrap(), "svc-web");
        assert_eq!(check(&t, verbose, "web1").unwrap_err().rule, "pattern");
        // No regex by itself, even though wrapped it would compile.
        assert!(name_pattern(")|(").is_err());
        assert_eq!(check(&t, ")|(", "web").unwrap_err().rule, "pattern");
        t.name_prefix.clear();
        assert_eq!(check(&t, "a|ab", "ab").unwrap(), "ab");
    }
}

#[cfg(test)]
mod fuzz;

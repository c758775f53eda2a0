//! Passwords for the accounts alm creates: cryptographically random, length and character
//! classes set per domain, and always acceptable to Active Directory's default complexity
//! policy (three of the character categories, no sAMAccountName or display-name token).

use alm_core::Secret;
use rand::rngs::OsRng;
use rand::Rng;

const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
const DIGITS: &[u8] = b"23456789";
/// Symbols that survive shells, INI files and connection strings without quoting.
const SYMBOLS: &[u8] = b"!#%+-=?@^_~.:";

/// The rules are alm-core's (one definition for API, storage, protocol and generator).
pub use alm_core::password_rules::{PasswordRules as PasswordPolicy, MAX_LENGTH, MIN_LENGTH};

/// Generating a password by a domain's rules.
pub trait Generate {
    /// A new password for the account `sam_account_name` (displayed as `display_name`).
    /// The rules must have passed `validate`.
    fn generate(&self, sam_account_name: &str, display_name: &str) -> Secret;
}

fn classes(p: &PasswordPolicy) -> Vec<&'static [u8]> {
    let mut out = Vec::new();
    for (on, set) in [
        (p.lowercase, LOWER),
        (p.uppercase, UPPER),
        (p.digits, DIGITS),
        (p.symbols, SYMBOLS),
    ] {
        if on {
            out.push(set);
        }
    }
    out
}

impl Generate for PasswordPolicy {
    fn generate(&self, sam_account_name: &str, display_name: &str) -> Secret {
        let classes = classes(self);
        let all: Vec<u8> = classes.concat();
        loop {
            let mut chars: Vec<u8> = classes
                .iter()
                .map(|set| set[OsRng.gen_range(0..set.len())])
                .collect();
            while chars.len() < self.length {
                chars.push(all[OsRng.gen_range(0..all.len())]);
            }
            for i in (1..chars.len()).rev() {
                chars.swap(i, OsRng.gen_range(0..=i));
            }
            let candidate = String::from_utf8(chars).expect("ASCII alphabet");
            // Random text containing the account name is unlikely but possible for short names.
            if meets_ad_complexity(&candidate, sam_account_name, display_name) {
                return Secret::new(candidate);
            }
        }
    }
}

/// Active Directory's "passwords must meet complexity requirements" rule.
pub fn meets_ad_complexity(password: &str, sam_account_name: &str, display_name: &str) -> bool {
    let lower = password.to_lowercase();
    if sam_account_name.chars().count() >= 3 && lower.contains(&sam_account_name.to_lowercase()) {
        return false;
    }
    let separators = |c: char| matches!(c, ',' | '.' | '-' | '_' | '#' | '\t' | ' ');
    if display_name
        .split(separators)
        .filter(|t| t.chars().count() >= 3)
        .any(|t| lower.contains(&t.to_lowercase()))
    {
        return false;
    }
    let categories = [
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ];
    categories.iter().filter(|c| **c).count() >= 3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_meet_the_policy_and_are_distinct() {
        let p = PasswordPolicy::default();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..500 {
            let pw = p.generate("svc-backup", "Backup service");
            assert_eq!(pw.expose().len(), 24);
            assert!(meets_ad_complexity(
                pw.expose(),
                "svc-backup",
                "Backup service"
            ));
            assert!(seen.insert(pw.expose().to_owned()));
        }
        let no_symbols = PasswordPolicy {
            symbols: false,
            length: 16,
            ..PasswordPolicy::default()
        };
        assert!(no_symbols
            .generate("abc", "")
            .expose()
            .chars()
            .all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn policies_ad_would_reject_are_refused() {
        assert_eq!(
            PasswordPolicy {
                length: 8,
                ..Default::default()
            }
            .validate("password_policy")
            .unwrap_err()
            .field,
            "password_policy.length"
        );
        let two_classes = PasswordPolicy {
            digits: false,
            symbols: false,
            ..Default::default()
        };
        assert_eq!(
            two_classes.validate("password_policy").unwrap_err().rule,
            "complexity"
        );
    }

    #[test]
    fn complexity_rule_matches_active_directory() {
        assert!(meets_ad_complexity("Tr0ub4dor&3x", "svc", "Service"));
        assert!(
            !meets_ad_complexity("abcdefghij", "svc", ""),
            "one category"
        );
        assert!(
            !meets_ad_complexity("Xsvc-backup9!", "svc-backup", ""),
            "contains the account name"
        );
        assert!(
            !meets_ad_complexity("Backup!2026x", "svc1", "Nightly Backup job"),
            "contains a display-name token"
        );
        assert!(
            meets_ad_complexity("Ab1!Ab1!Ab1!", "ab", "Ab"),
            "names under 3 characters are not checked"
        );
    }
}

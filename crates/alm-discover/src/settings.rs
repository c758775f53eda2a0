//! The analysis settings: naming patterns, description keywords and day thresholds, parsed
//! once at the edge so the analysis only ever sees valid values. No I/O here.

use regex::{Regex, RegexBuilder};

pub const DEFAULT_NAME_PATTERNS: &[&str] = &["^(svc|sa|srv)[-_]"];
pub const DEFAULT_DESCRIPTION_KEYWORDS: &[&str] = &["service"];
pub const DEFAULT_PASSWORD_AGE_DAYS: u32 = 365;
pub const DEFAULT_STALE_DAYS: u32 = 90;
/// A hundred years: anything larger is a typo, not a policy.
const MAX_DAYS: u32 = 36_500;

#[derive(Debug, Clone)]
pub struct AnalysisSettings {
    /// Case-insensitive patterns matched against `sAMAccountName`.
    pub name_patterns: Vec<Regex>,
    /// Lowercased words looked for in `description`.
    pub description_keywords: Vec<String>,
    /// A kerberoastable account's password older than this many days is a finding.
    pub password_age_days: u32,
    /// No logon for more than this many days is stale (and never-used after creation).
    pub stale_days: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("{option}: {value:?} is not a valid regular expression ({reason})")]
    BadPattern {
        option: &'static str,
        value: String,
        reason: String,
    },
    #[error("{option}: {value} is out of range; give a number of days from 1 to {MAX_DAYS}")]
    BadDays { option: &'static str, value: u32 },
    #[error("{option}: an empty keyword matches every description; leave it out")]
    EmptyKeyword { option: &'static str },
}

impl AnalysisSettings {
    pub fn parse(
        name_patterns: &[String],
        description_keywords: &[String],
        password_age_days: u32,
        stale_days: u32,
    ) -> Result<Self, SettingsError> {
        let name_patterns = name_patterns
            .iter()
            .map(|p| {
                RegexBuilder::new(p)
                    .case_insensitive(true)
                    .build()
                    .map_err(|e| SettingsError::BadPattern {
                        option: "--name-pattern",
                        value: p.clone(),
                        reason: e.to_string().lines().last().unwrap_or("").trim().to_owned(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let description_keywords = description_keywords
            .iter()
            .map(|k| {
                let k = k.trim().to_lowercase();
                if k.is_empty() {
                    Err(SettingsError::EmptyKeyword {
                        option: "--description-keyword",
                    })
                } else {
                    Ok(k)
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        for (option, value) in [
            ("--password-age-days", password_age_days),
            ("--stale-days", stale_days),
        ] {
            if value == 0 || value > MAX_DAYS {
                return Err(SettingsError::BadDays { option, value });
            }
        }
        Ok(Self {
            name_patterns,
            description_keywords,
            password_age_days,
            stale_days,
        })
    }

    pub fn defaults() -> Self {
        let patterns: Vec<String> = DEFAULT_NAME_PATTERNS
            .iter()
            .map(|s| s.to_string())
            .collect();
        let keywords: Vec<String> = DEFAULT_DESCRIPTION_KEYWORDS
            .iter()
            .map(|s| s.to_string())
            .collect();
        Self::parse(
            &patterns,
            &keywords,
            DEFAULT_PASSWORD_AGE_DAYS,
            DEFAULT_STALE_DAYS,
        )
        .expect("the defaults are valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_bad_values_name_the_option() {
        let d = AnalysisSettings::defaults();
        assert!(d.name_patterns[0].is_match("SVC_backup"));
        let e = AnalysisSettings::parse(&["(".into()], &[], 1, 1).unwrap_err();
        assert!(e.to_string().starts_with("--name-pattern: \"(\""), "{e}");
        let e = AnalysisSettings::parse(&[], &[], 0, 90).unwrap_err();
        assert!(e.to_string().starts_with("--password-age-days: 0"), "{e}");
        let e = AnalysisSettings::parse(&[], &[], 1, 99_999).unwrap_err();
        assert!(e.to_string().starts_with("--stale-days: 99999"), "{e}");
        assert!(AnalysisSettings::parse(&[], &[" ".into()], 1, 1).is_err());
    }
}

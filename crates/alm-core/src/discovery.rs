//! What `alm discover --import` sends to the server (SPEC §11, last bullet), one definition for
//! both sides, and the rules a received run must meet. Pure: the server's clock comes in as a
//! parameter, and nothing here stores or sends anything.
//!
//! A run carries no secret: names, DNs, SIDs, finding codes, host and service names only.
//! A service's binary path is not sent: Windows services are often started with their
//! credentials on the command line (`app.exe -user x -password y`), and the server needs only
//! the host and the service's name to say where an account is used; a path kept on the server
//! would carry such passwords into its API answers, pages and backups.

use crate::{FieldError, ValidationErrors};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The most accounts one run may carry (a domain's service accounts, not all its users).
pub const MAX_ACCOUNTS: usize = 50_000;
/// Per account: reasons and findings (the tool knows 7 reasons and 13 findings today).
pub const MAX_REASONS: usize = 32;
pub const MAX_FINDINGS: usize = 32;
/// Per account: the hosts where it runs services.
pub const MAX_HOSTS: usize = 1_000;
/// Per account: the services that run as it.
pub const MAX_SERVICES: usize = 1_000;
/// Per run: the hosts whose services the scan read.
pub const MAX_HOSTS_READ: usize = 100_000;
/// Field errors reported for one run; more would only make the answer huge.
pub const MAX_ERRORS: usize = 100;
/// A scan stamped further ahead of the server's clock than this is refused (a wrong clock).
pub const MAX_CLOCK_AHEAD_MINUTES: i64 = 60;

/// The severities a finding may have, highest first (the tool's, SPEC §11).
pub const SEVERITIES: [&str; 4] = ["critical", "high", "medium", "low"];
/// The kinds of account the tool tells apart.
pub const KINDS: [&str; 3] = ["user", "msa", "gmsa"];

/// The domain as the tool knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RunDomain {
    /// The DNS name (or address) the tool connected to.
    pub fqdn: String,
    /// The naming context the tool read; alm matches it to the domain with this base DN.
    pub base_dn: String,
}

/// One risk finding on one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RunFinding {
    /// The finding's stable id (`kerberoastable-old-password`, `privileged`, …).
    pub code: String,
    /// `critical`, `high`, `medium` or `low`.
    pub severity: String,
    /// The evidence, one line.
    pub detail: String,
    /// What to do about it, one line.
    pub fix: String,
}

/// One service that runs as the account, as the host scan found it (never its binary path:
/// see the module's header).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RunService {
    /// The host's DNS name (or its computer name when it has none); one of the run's `hosts_read`.
    pub host: String,
    /// The service's key name (`MSSQLSERVER`).
    pub service_name: String,
    /// The name the host shows (`SQL Server (MSSQLSERVER)`); may be empty.
    #[serde(default)]
    pub display_name: String,
}

/// One account that looks like a service account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RunAccount {
    /// The objectGUID (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`).
    pub object_guid: String,
    pub sam_account_name: String,
    pub dn: String,
    /// The objectSid (`S-1-5-21-…`), when the tool could read it.
    #[serde(default)]
    pub sid: Option<String>,
    /// `user`, `msa` or `gmsa`.
    pub kind: String,
    /// Why it looks like a service account (`spn`, `name:^svc[-_]`, `password-never-expires`, …).
    pub reasons: Vec<String>,
    #[serde(default)]
    pub findings: Vec<RunFinding>,
    /// Hosts where a service runs as this account (from the host scan).
    #[serde(default)]
    pub hosts: Vec<String>,
    /// The services that run as this account, host by host (from the host scan); tools before
    /// 0.2 do not send them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<RunService>,
}

/// A discovery run as `alm discover --import` sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DiscoveryRun {
    pub domain: RunDomain,
    /// When the tool read the directory (RFC 3339, UTC).
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub scanned_at: OffsetDateTime,
    pub tool_version: String,
    /// False when the host scan was stopped (Ctrl-C) or not run: `hosts` are then partial.
    pub host_scan_complete: bool,
    /// The hosts whose services the scan read in full (failed and skipped hosts are not
    /// named). Absent from tools that send no `services`: such a run changes no dependency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts_read: Option<Vec<String>>,
    pub accounts: Vec<RunAccount>,
}

/// The server's answer to a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunReceipt {
    pub run_id: String,
    pub domain_id: String,
    pub received: u64,
    /// Stored as unmanaged accounts: `new` + `updated`.
    pub stored: u64,
    pub new: u64,
    pub updated: u64,
    /// Accounts alm manages already (same objectGUID in the domain): not stored.
    pub skipped_managed: u64,
    /// Services now known to run as the run's accounts, managed or not (host scan only).
    #[serde(default)]
    pub services_recorded: u64,
    /// Services a complete host scan no longer found on a host it read: forgotten.
    #[serde(default)]
    pub services_removed: u64,
}

/// Severity rank for ordering: 0 critical … 3 low, 4 for an account without findings.
pub fn severity_rank(severity: &str) -> i64 {
    SEVERITIES
        .iter()
        .position(|s| *s == severity)
        .map_or(SEVERITIES.len() as i64, |p| p as i64)
}

/// The lowercase hyphenated form alm keeps objectGUIDs in (as domain sync stores them).
pub fn normalize_guid(text: &str) -> Option<String> {
    let t = text.trim();
    // Only the hyphenated 36-character form (with or without braces) is accepted, the form
    // AD tools print; uuid would also take 32 bare hex digits, which nobody means here.
    let t = t
        .strip_prefix('{')
        .and_then(|x| x.strip_suffix('}'))
        .unwrap_or(t);
    if t.len() != 36 {
        return None;
    }
    uuid::Uuid::parse_str(t).ok().map(|u| u.to_string())
}

/// `S-1-<authority>-<sub>…`, at most 15 sub-authorities (MS-DTYP 2.4.2).
pub fn is_sid(text: &str) -> bool {
    let Some(rest) = text.strip_prefix("S-1-") else {
        return false;
    };
    let parts: Vec<&str> = rest.split('-').collect();
    (2..=16).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 20 && p.bytes().all(|b| b.is_ascii_digit()))
}

struct Errors {
    inner: ValidationErrors,
    dropped: usize,
}

impl Errors {
    fn push(&mut self, field: impl Into<String>, rule: &str, message: impl Into<String>) {
        if self.inner.0.len() < MAX_ERRORS {
            self.inner.push(FieldError::new(field, rule, message));
        } else {
            self.dropped += 1;
        }
    }

    /// A text of `min..=max` characters without control characters.
    fn text(&mut self, field: &str, value: &str, min: usize, max: usize) {
        let n = value.chars().count();
        if n < min || (min > 0 && value.trim().is_empty()) {
            self.push(field, "required", "must not be empty");
        } else if n > max {
            self.push(
                field,
                "max-length",
                format!("at most {max} characters ({n} given)"),
            );
        } else if value.chars().any(char::is_control) {
            self.push(field, "format", "must not contain control characters");
        }
    }
}

/// A run that passed every rule, with its objectGUIDs normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidRun(pub DiscoveryRun);

/// Checks every field of a run; every broken rule is named (up to [`MAX_ERRORS`]).
pub fn validate(mut run: DiscoveryRun, now: OffsetDateTime) -> Result<ValidRun, ValidationErrors> {
    let mut e = Errors {
        inner: ValidationErrors::new(),
        dropped: 0,
    };
    e.text("domain.fqdn", &run.domain.fqdn, 1, 255);
    e.text("domain.base_dn", &run.domain.base_dn, 1, 2048);
    if !run.domain.base_dn.contains('=') {
        e.push(
            "domain.base_dn",
            "format",
            "a DN such as DC=corp,DC=example,DC=com",
        );
    }
    e.text("tool_version", &run.tool_version, 1, 64);
    if run.scanned_at > now + time::Duration::minutes(MAX_CLOCK_AHEAD_MINUTES) {
        e.push(
            "scanned_at",
            "not-future",
            "lies in the future: check the clock of the machine that ran the scan",
        );
    }
    if run.accounts.len() > MAX_ACCOUNTS {
        e.push(
            "accounts",
            "max-items",
            format!(
                "at most {MAX_ACCOUNTS} accounts per run ({} given); scan one OU at a time",
                run.accounts.len()
            ),
        );
        return Err(e.inner);
    }
    let mut hosts_read = std::collections::HashSet::new();
    if let Some(hosts) = &run.hosts_read {
        if hosts.len() > MAX_HOSTS_READ {
            e.push(
                "hosts_read",
                "max-items",
                format!("at most {MAX_HOSTS_READ} ({} given)", hosts.len()),
            );
        }
        for (i, h) in hosts.iter().enumerate().take(MAX_HOSTS_READ) {
            e.text(&format!("hosts_read[{i}]"), h, 1, 255);
            hosts_read.insert(h.to_lowercase());
        }
    }
    let mut seen = std::collections::HashMap::new();
    for (n, a) in run.accounts.iter_mut().enumerate() {
        let f = |name: &str| format!("accounts[{n}].{name}");
        match normalize_guid(&a.object_guid) {
            Some(g) => {
                if let Some(first) = seen.insert(g.clone(), n) {
                    e.push(
                        f("object_guid"),
                        "unique",
                        format!("the same objectGUID as accounts[{first}]"),
                    );
                }
                a.object_guid = g;
            }
            None => e.push(
                f("object_guid"),
                "format",
                "an objectGUID such as 3f2504e0-4f89-41d3-9a0c-0305e82c3301",
            ),
        }
        e.text(&f("sam_account_name"), &a.sam_account_name, 1, 256);
        e.text(&f("dn"), &a.dn, 1, 2048);
        if let Some(sid) = &a.sid {
            if !is_sid(sid) {
                e.push(f("sid"), "format", "a SID such as S-1-5-21-1-2-3-1105");
            }
        }
        if !KINDS.contains(&a.kind.as_str()) {
            e.push(f("kind"), "one-of", format!("one of {}", KINDS.join(", ")));
        }
        if a.reasons.is_empty() {
            e.push(
                f("reasons"),
                "required",
                "why it looks like a service account",
            );
        }
        if a.reasons.len() > MAX_REASONS {
            e.push(f("reasons"), "max-items", format!("at most {MAX_REASONS}"));
        }
        for (i, r) in a.reasons.iter().enumerate() {
            e.text(&f(&format!("reasons[{i}]")), r, 1, 200);
        }
        if a.findings.len() > MAX_FINDINGS {
            e.push(
                f("findings"),
                "max-items",
                format!("at most {MAX_FINDINGS}"),
            );
        }
        for (i, x) in a.findings.iter().enumerate() {
            let g = |name: &str| f(&format!("findings[{i}].{name}"));
            e.text(&g("code"), &x.code, 1, 64);
            if !x
                .code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                e.push(g("code"), "format", "lowercase letters, digits and '-'");
            }
            if !SEVERITIES.contains(&x.severity.as_str()) {
                e.push(
                    g("severity"),
                    "one-of",
                    format!("one of {}", SEVERITIES.join(", ")),
                );
            }
            e.text(&g("detail"), &x.detail, 0, 500);
            e.text(&g("fix"), &x.fix, 0, 500);
        }
        if a.hosts.len() > MAX_HOSTS {
            e.push(f("hosts"), "max-items", format!("at most {MAX_HOSTS}"));
        }
        for (i, h) in a.hosts.iter().enumerate() {
            e.text(&f(&format!("hosts[{i}]")), h, 1, 255);
        }
        if a.services.len() > MAX_SERVICES {
            e.push(
                f("services"),
                "max-items",
                format!("at most {MAX_SERVICES}"),
            );
        }
        if !a.services.is_empty() && run.hosts_read.is_none() {
            e.push(
                f("services"),
                "needs-hosts-read",
                "services come with the run's hosts_read (the hosts the scan read)",
            );
        }
        for (i, s) in a.services.iter().enumerate().take(MAX_SERVICES) {
            let g = |name: &str| f(&format!("services[{i}].{name}"));
            e.text(&g("host"), &s.host, 1, 255);
            if run.hosts_read.is_some()
                && !s.host.trim().is_empty()
                && !hosts_read.contains(&s.host.to_lowercase())
            {
                e.push(
                    g("host"),
                    "in-hosts-read",
                    format!("{:?} is not one of the run's hosts_read", s.host),
                );
            }
            e.text(&g("service_name"), &s.service_name, 1, 256);
            e.text(&g("display_name"), &s.display_name, 0, 256);
        }
    }
    if e.dropped > 0 {
        let more = e.dropped;
        e.inner.push(FieldError::new(
            "accounts",
            "more-errors",
            format!("{more} more errors not listed"),
        ));
    }
    e.inner.into_result()?;
    Ok(ValidRun(run))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    fn account() -> RunAccount {
        RunAccount {
            object_guid: "3F2504E0-4F89-41D3-9A0C-0305E82C3301".into(),
            sam_account_name: "svc-web".into(),
            dn: "CN=svc-web,OU=Svc,DC=corp,DC=test".into(),
            sid: Some("S-1-5-21-1-2-3-1105".into()),
            kind: "user".into(),
            reasons: vec!["spn".into()],
            findings: vec![RunFinding {
                code: "privileged".into(),
                severity: "critical".into(),
                detail: "member of Domain Admins".into(),
                fix: "remove it".into(),
            }],
            hosts: vec!["web1.corp.test".into()],
            services: vec![RunService {
                host: "web1.corp.test".into(),
                service_name: "W3SVC".into(),
                display_name: "World Wide Web Publishing Service".into(),
            }],
        }
    }

    fn run(accounts: Vec<RunAccount>) -> DiscoveryRun {
        DiscoveryRun {
            domain: RunDomain {
                fqdn: "corp.test".into(),
                base_dn: "DC=corp,DC=test".into(),
            },
            scanned_at: datetime!(2026-11-29 10:00 UTC),
            tool_version: "0.1.0".into(),
            host_scan_complete: true,
            hosts_read: Some(vec!["WEB1.corp.test".into()]),
            accounts,
        }
    }

    const NOW: OffsetDateTime = datetime!(2026-11-29 12:00 UTC);

    fn fields(r: Result<ValidRun, ValidationErrors>) -> Vec<(String, String)> {
        r.unwrap_err()
            .0
            .into_iter()
            .map(|e| (e.field, e.rule))
            .collect()
    }

    #[test]
    fn a_good_run_passes_with_its_guids_normalised() {
        let ValidRun(r) = validate(run(vec![account()]), NOW).unwrap();
        assert_eq!(
            r.accounts[0].object_guid,
            "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
        );
        assert!(validate(run(vec![]), NOW).is_ok(), "an empty scan is a run");
    }

    #[test]
    fn every_broken_rule_names_its_field() {
        let mut bad = account();
        bad.object_guid = "3f2504e04f8941d39a0c0305e82c3301".into();
        bad.sid = Some("S-1-5-x".into());
        bad.kind = "computer".into();
        bad.reasons = vec![];
        bad.findings[0].severity = "severe".into();
        bad.findings[0].code = "Privileged!".into();
        bad.hosts = vec![String::new()];
        bad.services[0].host = "db9.corp.test".into();
        bad.services.push(RunService {
            host: "web1.corp.test".into(),
            service_name: String::new(),
            display_name: "x\u{7}".into(),
        });
        let mut r = run(vec![account(), bad, account()]);
        r.domain.base_dn = "corp.test".into();
        r.scanned_at = datetime!(2026-11-30 12:00 UTC);
        let got = fields(validate(r, NOW));
        let want: Vec<(String, String)> = [
            ("domain.base_dn", "format"),
            ("scanned_at", "not-future"),
            ("accounts[1].object_guid", "format"),
            ("accounts[1].sid", "format"),
            ("accounts[1].kind", "one-of"),
            ("accounts[1].reasons", "required"),
            ("accounts[1].findings[0].code", "format"),
            ("accounts[1].findings[0].severity", "one-of"),
            ("accounts[1].hosts[0]", "required"),
            ("accounts[1].services[0].host", "in-hosts-read"),
            ("accounts[1].services[1].service_name", "required"),
            ("accounts[1].services[1].display_name", "format"),
            ("accounts[2].object_guid", "unique"),
        ]
        .iter()
        .map(|(f, r)| (f.to_string(), r.to_string()))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn too_many_accounts_or_errors_are_cut_short() {
        let too_many = vec![account(); MAX_ACCOUNTS + 1];
        assert_eq!(
            fields(validate(run(too_many), NOW)),
            [("accounts".to_string(), "max-items".to_string())]
        );
        let mut bad = account();
        bad.kind = "x".into();
        let mut many: Vec<RunAccount> = (0..150)
            .map(|n| {
                let mut a = bad.clone();
                a.object_guid = uuid::Uuid::from_u128(n).to_string();
                a
            })
            .collect();
        many[0].kind = "gmsa".into();
        let got = fields(validate(run(many), NOW));
        assert_eq!(got.len(), MAX_ERRORS + 1);
        assert_eq!(
            got.last().unwrap(),
            &("accounts".to_string(), "more-errors".to_string())
        );
    }

    #[test]
    fn old_tools_runs_still_parse_and_services_carry_no_binary_path() {
        let old = json!({"domain": {"fqdn": "corp.test", "base_dn": "DC=corp,DC=test"},
            "scanned_at": "2026-11-29T10:00:00Z", "tool_version": "0.1.0", "host_scan_complete": true,
            "accounts": [{"object_guid": "3f2504e0-4f89-41d3-9a0c-0305e82c3301", "sam_account_name": "svc",
                "dn": "CN=svc,DC=corp,DC=test", "kind": "user", "reasons": ["spn"], "hosts": ["a"]}]});
        let r: DiscoveryRun = serde_json::from_value(old.clone()).unwrap();
        assert!(r.hosts_read.is_none() && r.accounts[0].services.is_empty());
        assert!(validate(r, NOW).is_ok());
        let mut with_path = old;
        with_path["hosts_read"] = json!(["a"]);
        with_path["accounts"][0]["services"] =
            json!([{"host": "a", "service_name": "s", "binary_path": "s.exe -p x"}]);
        let e = serde_json::from_value::<DiscoveryRun>(with_path).unwrap_err();
        assert!(e.to_string().contains("binary_path"), "{e}");
        let mut no_hosts_read = run(vec![account()]);
        no_hosts_read.hosts_read = None;
        assert_eq!(
            fields(validate(no_hosts_read, NOW)),
            [(
                "accounts[0].services".to_string(),
                "needs-hosts-read".to_string()
            )]
        );
    }

    #[test]
    fn sids_and_severities() {
        assert!(is_sid("S-1-5-32-544"));
        assert!(!is_sid("S-1-5"));
        assert!(!is_sid("S-2-5-32"));
        assert_eq!(severity_rank("critical"), 0);
        assert_eq!(severity_rank("low"), 3);
        assert_eq!(severity_rank(""), 4);
    }
}

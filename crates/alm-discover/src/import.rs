//! `--import URL`: sends the findings to an alm server as unmanaged accounts for a later
//! import (SPEC §11, last bullet), authenticated with an alm API token (Bearer).
//!
//! One job: build the run from the report and POST it to `/api/v1/discovery/runs`, turning
//! each way it can fail into a sentence that says what to do. The token lives in a `Secret`
//! and appears in no message, log line or report; reading it (file, environment, prompt) is
//! the CLI's.

use crate::builtin_accounts::builtin_kind;
use crate::host_scan::HostResult;
use crate::report::Report;
use crate::usage::UsageRow;
use alm_core::discovery::{
    DiscoveryRun, RunAccount, RunDomain, RunFinding, RunReceipt, RunService,
};
use alm_core::Secret;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Where the run goes, and the token it goes with.
pub struct ImportTarget {
    /// The server's base URL (`https://alm.example.com`), checked by [`parse_url`].
    pub url: reqwest::Url,
    pub token: Secret,
    /// The CA (PEM) of a server with a private CA; the system's trusted CAs otherwise.
    pub ca_pem: Option<String>,
}

/// The server's base URL: https anywhere, http only to this machine (tests, a local server).
pub fn parse_url(text: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(text.trim()).map_err(|e| {
        format!("--import {text:?}: not a URL ({e}); give the alm server's address, e.g. https://alm.example.com")
    })?;
    let local = matches!(url.host(), Some(url::Host::Domain("localhost")))
        || matches!(url.host(), Some(url::Host::Ipv4(a)) if a.is_loopback())
        || matches!(url.host(), Some(url::Host::Ipv6(a)) if a.is_loopback());
    match url.scheme() {
        "https" => {}
        "http" if local => {}
        "http" => {
            return Err(format!(
                "--import {url}: http:// sends the API token in clear; use https:// (http:// is accepted for localhost only)"
            ))
        }
        other => {
            return Err(format!(
                "--import {url}: the scheme {other}:// is not http:// or https://"
            ))
        }
    }
    if url.host().is_none() {
        return Err(format!("--import {url}: the URL names no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "--import: put no credentials in the URL; give the API token with --import-token-file or ALM_IMPORT_TOKEN"
                .to_owned(),
        );
    }
    Ok(url)
}

/// The run as the server takes it; `host_scan_ran` is false with `--no-host-scan` (then, as
/// after Ctrl-C, the host data is partial). Accounts without an objectGUID (the reader could
/// not see it) cannot be told apart on the server and are left out; their number is returned.
/// The domain's built-in accounts (krbtgt, Administrator…) are never sent: the analysis
/// leaves them out already, and this is the one place where accounts leave for alm's
/// governance, so it does not rely on how the report was made.
///
/// Each account carries the services that run as it (host, name, display name) and the run
/// names the hosts read in full, so the server can tell a service gone from a host not looked
/// at. The binary path stays in the local reports: command lines can hold passwords.
pub fn build_run(
    report: &Report,
    base_dn: &str,
    fqdn: &str,
    host_scan_ran: bool,
) -> (DiscoveryRun, usize) {
    let mut hosts_of: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut services_of: BTreeMap<String, Vec<RunService>> = BTreeMap::new();
    for UsageRow {
        account,
        host,
        service_name,
        display_name,
        ..
    } in &report.usage
    {
        hosts_of
            .entry(account.to_lowercase())
            .or_default()
            .insert(host.clone());
        services_of
            .entry(account.to_lowercase())
            .or_default()
            .push(RunService {
                host: host.clone(),
                service_name: service_name.clone(),
                display_name: display_name.clone(),
            });
    }
    // The same name as `usage` gives the host: its DNS name, or its computer name.
    let hosts_read: Vec<String> = report
        .hosts
        .outcomes
        .iter()
        .filter(|o| matches!(o.result, HostResult::Services(_)))
        .map(|o| {
            o.computer
                .dns_host_name
                .clone()
                .unwrap_or_else(|| o.computer.name.clone())
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut left_out = 0;
    let mut accounts = Vec::with_capacity(report.accounts.len());
    for a in report
        .accounts
        .iter()
        .filter(|a| builtin_kind(&a.account).is_none())
    {
        let Some(guid) = a.account.object_guid.clone() else {
            left_out += 1;
            continue;
        };
        accounts.push(RunAccount {
            object_guid: guid,
            sam_account_name: a.account.sam_account_name.clone(),
            dn: a.account.dn.clone(),
            sid: a.account.sid.clone(),
            kind: a.account.kind.label().to_owned(),
            reasons: a.reasons.iter().map(|r| r.code()).collect(),
            findings: a
                .findings
                .iter()
                .map(|f| RunFinding {
                    code: f.kind.id().to_owned(),
                    severity: f.kind.severity().label().to_owned(),
                    detail: f.detail.clone(),
                    fix: f.kind.fix().to_owned(),
                })
                .collect(),
            hosts: hosts_of
                .get(&a.account.sam_account_name.to_lowercase())
                .map(|h| h.iter().cloned().collect())
                .unwrap_or_default(),
            services: services_of
                .remove(&a.account.sam_account_name.to_lowercase())
                .unwrap_or_default(),
        });
    }
    let run = DiscoveryRun {
        domain: RunDomain {
            fqdn: fqdn.to_owned(),
            base_dn: base_dn.to_owned(),
        },
        scanned_at: report.scanned_at,
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        host_scan_complete: host_scan_ran && !report.hosts.interrupted,
        hosts_read: Some(hosts_read),
        accounts,
    };
    (run, left_out)
}

/// The field errors of a problem document, one per line.
fn field_errors(problem: &serde_json::Value) -> String {
    let lines: Vec<String> = problem["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            format!(
                "  {} ({}): {}",
                e["field"].as_str().unwrap_or("?"),
                e["rule"].as_str().unwrap_or("?"),
                e["message"].as_str().unwrap_or("")
            )
        })
        .collect();
    if lines.is_empty() {
        format!(
            "  {}",
            problem["detail"].as_str().unwrap_or("no detail given")
        )
    } else {
        lines.join("\n")
    }
}

/// Sends the run; the server's receipt, or what went wrong and what to do.
pub async fn send(target: &ImportTarget, run: &DiscoveryRun) -> Result<RunReceipt, String> {
    let base = target.url.as_str().trim_end_matches('/');
    let endpoint = format!("{base}/api/v1/discovery/runs");
    let tls = alm_tls::client_config(target.ca_pem.as_deref())
        .map_err(|e| format!("--import-ca-file: {e}; give the CA certificate as PEM"))?;
    let http = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        // A redirect could carry the token elsewhere; the server answers where it is asked.
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(30))
        .timeout(Duration::from_secs(600))
        .build()
        .map_err(|e| format!("cannot set up the HTTPS client: {e}"))?;
    let answer = http
        .post(&endpoint)
        .bearer_auth(target.token.expose())
        .json(run)
        .send()
        .await
        .map_err(|e| {
            let detail = alm_core::error_chain::error_chain(&e);
            let lower = detail.to_lowercase();
            if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
                format!(
                    "the certificate of the alm server at {base} is not trusted or does not match its name ({detail}). \
                     Pass --import-ca-file with the CA certificate (PEM) that issued the server's certificate, and use the name the certificate carries."
                )
            } else if e.is_timeout() {
                format!("the alm server at {base} did not answer in time ({detail}). Try again, or send a smaller scope (--ou).")
            } else {
                format!(
                    "cannot reach the alm server at {base} ({detail}). Check the --import URL, that the server runs and that this machine may connect to it."
                )
            }
        })?;
    let status = answer.status();
    let body = answer.text().await.unwrap_or_default();
    let problem: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    match status.as_u16() {
        200 => serde_json::from_str(&body).map_err(|e| {
            format!("the alm server at {base} answered 200 with an unexpected body ({e}); is --import the alm server's address?")
        }),
        401 => Err(format!(
            "the alm server at {base} refused the API token (401). Create an API token in alm (API tokens → New token, as an administrator) \
             and give it with --import-token-file FILE or ALM_IMPORT_TOKEN; check that it has not expired and that its user is enabled."
        )),
        403 => Err(format!(
            "the API token's user may not send discovery runs to {base} (403: {}). It needs managed-account update with manage, \
             as for importing accounts (the System Administrator role has it).",
            problem["detail"].as_str().unwrap_or("forbidden")
        )),
        422 => Err(format!(
            "the alm server at {base} refused the findings (422):\n{}",
            field_errors(&problem)
        )),
        404 => Err(format!(
            "{endpoint} does not exist (404): is --import the alm server's address, and is the server new enough to take discovery runs?"
        )),
        _ => Err(format!(
            "the alm server at {base} answered {status}: {}",
            problem["detail"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| body.chars().take(300).collect())
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_carries_each_account_with_its_reasons_findings_and_hosts() {
        let mut report = crate::report::sample::report();
        for (n, a) in report.accounts.iter_mut().enumerate() {
            a.account.object_guid = Some(format!("00000000-0000-0000-0000-00000000000{n}"));
        }
        report.accounts[2].account.object_guid = None;
        let (run, left_out) = build_run(&report, "DC=corp,DC=test", "corp.test", true);
        assert_eq!(left_out, 1, "no objectGUID, not sent");
        assert_eq!(
            (run.domain.base_dn.as_str(), run.domain.fqdn.as_str()),
            ("DC=corp,DC=test", "corp.test")
        );
        assert!(
            !run.host_scan_complete,
            "the fixture's host scan was interrupted"
        );
        let sql = &run.accounts[0];
        assert_eq!(
            (sql.sam_account_name.as_str(), sql.kind.as_str()),
            ("svc-sql", "user")
        );
        assert_eq!(sql.reasons, ["spn"]);
        let codes: Vec<(&str, &str)> = sql
            .findings
            .iter()
            .map(|f| (f.code.as_str(), f.severity.as_str()))
            .collect();
        assert_eq!(
            codes,
            [
                ("kerberoastable-old-password", "high"),
                ("privileged", "critical")
            ]
        );
        assert!(sql.findings.iter().all(|f| !f.fix.is_empty()));
        assert_eq!(sql.hosts, ["app1.corp.test"]);
        assert!(run.accounts[1].hosts.is_empty());
        let services: Vec<(&str, &str)> = sql
            .services
            .iter()
            .map(|s| (s.host.as_str(), s.service_name.as_str()))
            .collect();
        let want: Vec<(&str, &str)> = report
            .usage
            .iter()
            .filter(|u| u.account == "svc-sql")
            .map(|u| (u.host.as_str(), u.service_name.as_str()))
            .collect();
        assert!(
            !want.is_empty(),
            "the fixture has a service running as svc-sql"
        );
        assert_eq!(services, want);
        let read = run.hosts_read.clone().unwrap();
        assert!(
            sql.services.iter().all(|s| read.contains(&s.host)),
            "{read:?}"
        );
        let body = serde_json::to_string(&run).unwrap();
        for u in &report.usage {
            // The file name, as JSON escapes the path's backslashes.
            let file = u.binary_path.rsplit('\\').next().unwrap();
            assert!(!body.contains(file), "binary paths stay local: {body}");
        }
        let (run, _) = build_run(&report, "DC=corp,DC=test", "corp.test", false);
        assert!(!run.host_scan_complete);
        report.hosts.interrupted = false;
        let (run, _) = build_run(&report, "DC=corp,DC=test", "corp.test", true);
        assert!(run.host_scan_complete);
    }

    #[test]
    fn the_domains_built_in_accounts_are_never_sent() {
        let mut report = crate::report::sample::report();
        let template = report.accounts[0].clone();
        for (name, rid) in [("krbtgt", 502), ("Administrator", 500), ("Guest", 501)] {
            let mut a = template.clone();
            a.account.sam_account_name = name.into();
            a.account.sid = Some(format!("S-1-5-21-1-2-3-{rid}"));
            report.accounts.push(a);
        }
        let mut rodc = template.clone();
        rodc.account.sam_account_name = "krbtgt_40615".into();
        rodc.account.sid = Some("S-1-5-21-1-2-3-1120".into());
        rodc.account.rodc_krbtgt_link = true;
        report.accounts.push(rodc);
        for (n, a) in report.accounts.iter_mut().enumerate() {
            a.account.object_guid = Some(format!("00000000-0000-0000-0000-{n:012}"));
        }
        let (run, left_out) = build_run(&report, "DC=corp,DC=test", "corp.test", true);
        let sent: Vec<&str> = run
            .accounts
            .iter()
            .map(|a| a.sam_account_name.as_str())
            .collect();
        assert_eq!(sent, ["svc-sql", "svc-web", "svc-ok"]);
        assert_eq!(left_out, 0, "not counted as accounts without an objectGUID");
        let body = serde_json::to_string(&run).unwrap();
        assert!(!body.to_lowercase().contains("krbtgt"), "{body}");
    }

    #[test]
    fn urls_are_https_or_local_http() {
        assert!(parse_url("https://alm.example.com").is_ok());
        assert!(parse_url("http://127.0.0.1:8080").is_ok());
        assert!(parse_url("http://localhost:8080/").is_ok());
        let e = parse_url("http://alm.example.com").unwrap_err();
        assert!(e.starts_with("--import") && e.contains("https://"), "{e}");
        let e = parse_url("ftp://alm.example.com").unwrap_err();
        assert!(e.contains("not http:// or https://"), "{e}");
        let e = parse_url("alm.example.com").unwrap_err();
        assert!(e.contains("not a URL"), "{e}");
        let e = parse_url("https://u:p@alm.example.com").unwrap_err();
        assert!(e.contains("no credentials"), "{e}");
    }
}

//! `alm engine check` (SPEC §5): from the engine's host, one line per thing tested — the way
//! to the server, each domain controller of the pool's domains, each vault — saying what is
//! wrong and how to fix it. The tests are the executor's calibration code (a fresh LDAPS bind,
//! the vault's own check); nothing is recorded on the server. No line holds a secret: the
//! directory's and vaults' errors never carry one.

use crate::executor::Executor;
use crate::http::ServerCheckError;
use crate::protocol::{
    CheckTargets, DomainTarget, Problem, Task, TaskResult, VaultConnection, VaultTarget,
};
use std::fmt;

/// One result: what was tested, and what was found (with the fix when it failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckLine {
    pub ok: bool,
    pub what: String,
    pub detail: String,
}

impl CheckLine {
    fn ok(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            ok: true,
            what: what.into(),
            detail: detail.into(),
        }
    }

    fn fail(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            ok: false,
            what: what.into(),
            detail: detail.into(),
        }
    }
}

impl fmt::Display for CheckLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mark = if self.ok { "ok" } else { "FAIL" };
        write!(f, "{mark:<4}  {}: {}", self.what, self.detail)
    }
}

/// The lines about the server: whether it was reached (TLS verified for `https://`) and took
/// the engine's credential, and whether the engine serves a pool. `state_file` is named in the
/// fix for a refused credential. After a failure, a last line says the domains and vaults were
/// not checked (the server lists them).
pub fn server_lines(
    server: &url::Url,
    answer: &Result<CheckTargets, ServerCheckError>,
    state_file: &str,
) -> Vec<CheckLine> {
    let what = format!("server {}", server.as_str().trim_end_matches('/'));
    let reached = if server.scheme() == "https" {
        "reached over TLS (certificate verified), engine credential accepted"
    } else {
        "reached over plain http (this machine only), engine credential accepted"
    };
    let not_checked = |why: &str| {
        CheckLine::fail(
            "domains and vaults",
            format!("not checked: the server lists them for this engine, and {why}"),
        )
    };
    match answer {
        Ok(targets) => vec![
            CheckLine::ok(what, reached),
            CheckLine::ok(
                format!("pool {}", targets.pool_name),
                format!(
                    "engine {} is active in it; {} domain(s) and {} vault(s) to check",
                    targets.engine_name,
                    targets.domains.len(),
                    targets.vaults.len()
                ),
            ),
        ],
        Err(ServerCheckError::Unreachable(detail)) => vec![
            CheckLine::fail(
                what,
                format!("cannot connect ({detail}): is the server up, and is this URL right and reachable from this host (firewall, proxy, DNS name)?"),
            ),
            not_checked("it could not be reached"),
        ],
        Err(ServerCheckError::Tls(detail)) => vec![
            CheckLine::fail(
                what,
                format!("TLS: the server's certificate is not trusted or does not name this host ({detail}): give the CA that signed it with --server-ca (ALM_ENGINE_SERVER_CA), and use the name its certificate carries in the URL"),
            ),
            not_checked("it could not be reached"),
        ],
        Err(ServerCheckError::Refused(detail)) => vec![
            CheckLine::fail(
                what,
                format!("reached, but it refused this engine's credential ({detail}): the engine was removed, or belongs to another server; delete {state_file} and register again with a new activation token"),
            ),
            not_checked("it refused this engine"),
        ],
        Err(ServerCheckError::NotServing(detail)) => vec![
            CheckLine::ok(what, reached),
            CheckLine::fail("pool", detail.clone()),
            not_checked("this engine serves no pool yet"),
        ],
        Err(ServerCheckError::Unsupported(detail)) => vec![
            CheckLine::fail(
                what,
                format!("the server does not know this check ({detail}): it is older than this engine; upgrade the server first"),
            ),
            not_checked("it cannot give them"),
        ],
        Err(ServerCheckError::Failed(detail)) => vec![
            CheckLine::fail(what, format!("the server failed ({detail}); see its log")),
            not_checked("it failed"),
        ],
    }
}

/// What to do about a domain controller's failure, by its kind.
fn domain_fix(kind: &str) -> &'static str {
    match kind {
        "unreachable" => "is the DC up, and its LDAPS port open from this host (firewall, DNS name)?",
        "tls" => "give the domain's CA certificate (the CA that signed the DC's certificate) on the domain's page in alm, and name the DC in its URL as its certificate does",
        "bad-credentials" => "the bind identity or its password is wrong (or the account is disabled or locked): correct them on the domain's page in alm",
        "insufficient-rights" => "give the bind identity the rights alm needs on the domain",
        "configuration" => "correct the domain's settings on its page in alm",
        _ => "see the directory's answer above",
    }
}

/// What to do about a vault's failure, by its kind.
fn vault_fix(kind: &str) -> &'static str {
    match kind {
        "unreachable" => {
            "is the vault up, and its address reachable from this host (firewall, proxy, DNS name)?"
        }
        "tls" => "give the vault's CA certificate on the vault's page in alm",
        "bad-credentials" => {
            "the vault's credential is wrong or expired: set a new one on the vault's page in alm"
        }
        "insufficient-rights" => {
            "the vault's policy must let alm's credential read and write its secrets"
        }
        "configuration" => "correct the vault's settings on its page in alm",
        _ => "see the vault's answer above",
    }
}

/// A failure's sentence without the address it starts with (the line names it already), then
/// the fix.
fn failed(problem: &Problem, address: &str, fix: &str) -> String {
    let message = problem
        .message
        .strip_prefix(address)
        .and_then(|m| m.strip_prefix(": "))
        .unwrap_or(&problem.message);
    format!("{message}. Fix: {fix}")
}

/// One line per domain controller of the domain (a fresh LDAPS connection and bind each).
pub async fn domain_lines(executor: &Executor, target: &DomainTarget) -> Vec<CheckLine> {
    let Some(domain) = &target.connection else {
        return vec![CheckLine::fail(
            format!("domain {}", target.name),
            format!(
                "the server cannot give its settings ({}): set the bind password again on the domain's page in alm",
                target.problem.as_deref().unwrap_or("no reason given")
            ),
        )];
    };
    executor
        .check_each_controller(domain)
        .await
        .into_iter()
        .map(|(url, outcome)| {
            let what = format!("domain {}, DC {url}", target.name);
            match outcome {
                Ok(()) => CheckLine::ok(what, format!("bound as {}", domain.bind_identity)),
                Err(problem) => {
                    CheckLine::fail(what, failed(&problem, &url, domain_fix(&problem.problem)))
                }
            }
        })
        .collect()
}

/// Where a vault is, for its line.
fn vault_address(vault: &VaultConnection) -> String {
    match vault {
        VaultConnection::Openbao { address, .. }
        | VaultConnection::SecretServer { address, .. }
        | VaultConnection::DevopsSecretsVault { address, .. } => address.clone(),
        VaultConnection::AzureKeyVault { vault_url, .. } => vault_url.clone(),
        VaultConnection::AwsSecretsManager {
            region, endpoint, ..
        } => endpoint
            .clone()
            .unwrap_or_else(|| format!("AWS Secrets Manager, {region}")),
    }
}

/// The vault's line: the calibration check (authenticates with the stored credential).
pub async fn vault_line(executor: &Executor, target: &VaultTarget) -> CheckLine {
    let Some(vault) = &target.connection else {
        return CheckLine::fail(
            format!("vault {}", target.name),
            format!(
                "the server cannot give its settings ({}): set the credential again on the vault's page in alm",
                target.problem.as_deref().unwrap_or("no reason given")
            ),
        );
    };
    let address = vault_address(vault);
    let what = format!("vault {} ({address})", target.name);
    let result = executor
        .run(&Task::VaultCheck {
            vault: vault.clone(),
        })
        .await;
    match result {
        TaskResult::Check { message, problem } => match problem {
            None => CheckLine::ok(what, message),
            Some(problem) => {
                let address = address.trim_end_matches('/');
                CheckLine::fail(what, failed(&problem, address, vault_fix(&problem.problem)))
            }
        },
        other => CheckLine::fail(
            what,
            format!("the check answered {other:?}, not a check result"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(text: &str) -> url::Url {
        url::Url::parse(text).unwrap()
    }

    fn targets() -> CheckTargets {
        CheckTargets {
            engine_name: "e1".into(),
            pool_name: "Branch".into(),
            domains: vec![],
            vaults: vec![],
        }
    }

    #[test]
    fn a_reached_server_names_how_it_was_reached() {
        let lines = server_lines(&server("https://alm.example.test"), &Ok(targets()), "f");
        assert!(lines.iter().all(|l| l.ok), "{lines:?}");
        assert_eq!(lines[0].what, "server https://alm.example.test");
        assert!(
            lines[0].detail.contains("certificate verified"),
            "{lines:?}"
        );
        assert_eq!(lines[1].what, "pool Branch");
        let plain = server_lines(&server("http://127.0.0.1:8080"), &Ok(targets()), "f");
        assert!(plain[0].detail.contains("plain http"), "{plain:?}");
    }

    #[test]
    fn each_way_the_server_fails_says_what_to_do_and_that_nothing_else_was_checked() {
        let url = server("https://alm.example.test");
        for (error, ok_first, words) in [
            (
                ServerCheckError::Unreachable("connection refused".into()),
                false,
                "is the server up",
            ),
            (
                ServerCheckError::Tls("invalid peer certificate: UnknownIssuer".into()),
                false,
                "--server-ca",
            ),
            (
                ServerCheckError::Refused("401".into()),
                false,
                "delete /var/lib/alm-engine/engine.json",
            ),
            (
                ServerCheckError::Unsupported("404".into()),
                false,
                "upgrade the server",
            ),
            (
                ServerCheckError::NotServing("engine e1 is not assigned to a pool yet".into()),
                true,
                "not assigned",
            ),
        ] {
            let lines = server_lines(&url, &Err(error), "/var/lib/alm-engine/engine.json");
            assert_eq!(lines[0].ok, ok_first, "{lines:?}");
            let text: Vec<String> = lines.iter().map(ToString::to_string).collect();
            assert!(text.join("\n").contains(words), "{words}: {text:?}");
            let last = lines.last().unwrap();
            assert_eq!(
                (last.ok, last.what.as_str()),
                (false, "domains and vaults"),
                "{lines:?}"
            );
        }
    }

    #[test]
    fn a_failure_line_drops_the_repeated_address_and_ends_with_the_fix() {
        let problem = Problem {
            problem: "unreachable".into(),
            message: "ldaps://dc2:636: unreachable (connection refused); check the host, port 636 and firewalls".into(),
        };
        let text = failed(&problem, "ldaps://dc2:636", domain_fix("unreachable"));
        assert!(
            text.starts_with("unreachable (connection refused)"),
            "{text}"
        );
        assert!(
            text.ends_with("open from this host (firewall, DNS name)?"),
            "{text}"
        );
        let line = CheckLine::fail("domain Corp, DC ldaps://dc2:636", text);
        assert!(line
            .to_string()
            .starts_with("FAIL  domain Corp, DC ldaps://dc2:636: unreachable"));
        assert!(CheckLine::ok("a", "b")
            .to_string()
            .starts_with("ok    a: b"));
    }
}

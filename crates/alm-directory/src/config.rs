//! How to reach a directory: LDAPS only, the server certificate always verified.

use crate::dc_discovery::DcDiscovery;
use crate::error::DirectoryError;
use alm_core::Secret;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct DirectoryConfig {
    /// `ldaps://host[:port]` (port 636 when omitted): the domain controller tried first.
    pub url: String,
    /// Other domain controllers of the same domain, tried in this order when the ones before
    /// cannot be reached (or fail TLS). Everything one connection does — a write and its read
    /// back — goes to the one controller it reached.
    pub failover_urls: Vec<String>,
    /// When set, the controllers DNS names for the domain are tried after the listed ones
    /// (`crate::dc_discovery`), on the LDAPS port of `url`.
    pub discovery: Option<DcDiscovery>,
    /// The bind identity: a DN or a user principal name (`svc-alm@corp.example.com`).
    pub bind_identity: String,
    pub bind_password: Secret,
    /// PEM text of the CA certificate(s) to trust; `None` trusts the system's store.
    pub ca_pem: Option<String>,
    /// The naming context, e.g. `DC=corp,DC=example,DC=com`.
    pub base_dn: String,
    /// Connect and per-operation timeout.
    pub timeout: Duration,
}

impl DirectoryConfig {
    /// Checks the URL (LDAPS only) and returns it with the port made explicit.
    pub fn validated_url(&self) -> Result<String, DirectoryError> {
        validated("url", &self.url)
    }

    /// Every domain controller in the order they are tried, each checked like `url`; the
    /// same controller named twice is refused (it would be tried twice).
    pub fn validated_urls(&self) -> Result<Vec<String>, DirectoryError> {
        let mut urls = vec![self.validated_url()?];
        for (i, url) in self.failover_urls.iter().enumerate() {
            let url = validated(&format!("failover_urls[{i}]"), url)?;
            if urls.contains(&url) {
                return Err(DirectoryError::Config(format!(
                    "failover_urls[{i}]: {url} is listed already"
                )));
            }
            urls.push(url);
        }
        Ok(urls)
    }
}

/// One LDAPS URL, with the port made explicit; `field` names it in the error.
fn validated(field: &str, url: &str) -> Result<String, DirectoryError> {
    let parsed = url::Url::parse(url).map_err(|_| {
        DirectoryError::Config(format!(
            "{field}: {url:?} is not a URL such as ldaps://dc1.corp.example.com"
        ))
    })?;
    if parsed.scheme() != "ldaps" {
        return Err(DirectoryError::Config(format!(
            "{field}: {url:?} must use ldaps:// (plain LDAP would send passwords readable on the network)"
        )));
    }
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| DirectoryError::Config(format!("{field}: {url:?} names no host")))?;
    Ok(format!("ldaps://{host}:{}", parsed.port().unwrap_or(636)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> DirectoryConfig {
        DirectoryConfig {
            url: url.into(),
            failover_urls: Vec::new(),
            discovery: None,
            bind_identity: "a".into(),
            bind_password: Secret::new("p"),
            ca_pem: None,
            base_dn: "DC=x".into(),
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn only_ldaps_is_accepted_and_the_port_defaults_to_636() {
        assert_eq!(
            config("ldaps://dc1.corp.example.test")
                .validated_url()
                .unwrap(),
            "ldaps://dc1.corp.example.test:636"
        );
        assert_eq!(
            config("ldaps://127.0.0.1:6360").validated_url().unwrap(),
            "ldaps://127.0.0.1:6360"
        );
        let e = config("ldap://dc1")
            .validated_url()
            .unwrap_err()
            .to_string();
        assert!(e.contains("ldaps://"), "{e}");
        assert!(config("dc1").validated_url().is_err());
    }

    #[test]
    fn failover_controllers_follow_the_first_and_are_checked_alike() {
        let mut c = config("ldaps://dc1.corp.example.test");
        c.failover_urls = vec!["ldaps://dc2.corp.example.test:6360".into()];
        assert_eq!(
            c.validated_urls().unwrap(),
            [
                "ldaps://dc1.corp.example.test:636",
                "ldaps://dc2.corp.example.test:6360"
            ]
        );
        c.failover_urls = vec![
            "ldaps://dc2.corp.example.test".into(),
            "ldap://dc3.corp.example.test".into(),
        ];
        let e = c.validated_urls().unwrap_err().to_string();
        assert!(
            e.contains("failover_urls[1]") && e.contains("ldaps://"),
            "{e}"
        );
        c.failover_urls = vec!["ldaps://dc1.corp.example.test:636".into()];
        let e = c.validated_urls().unwrap_err().to_string();
        assert!(
            e.contains("failover_urls[0]") && e.contains("listed already"),
            "{e}"
        );
    }
}

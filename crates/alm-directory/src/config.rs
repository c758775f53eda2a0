//! How to reach a directory: LDAPS only, the server certificate always verified.

use crate::error::DirectoryError;
use alm_core::Secret;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct DirectoryConfig {
    /// `ldaps://host[:port]` (port 636 when omitted).
    pub url: String,
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
        let parsed = url::Url::parse(&self.url).map_err(|_| {
            DirectoryError::Config(format!(
                "url: {:?} is not a URL such as ldaps://dc1.corp.example.com",
                self.url
            ))
        })?;
        if parsed.scheme() != "ldaps" {
            return Err(DirectoryError::Config(format!(
                "url: {:?} must use ldaps:// (plain LDAP would send passwords readable on the network)",
                self.url
            )));
        }
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| DirectoryError::Config(format!("url: {:?} names no host", self.url)))?;
        Ok(format!("ldaps://{host}:{}", parsed.port().unwrap_or(636)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> DirectoryConfig {
        DirectoryConfig {
            url: url.into(),
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
}

//! alm-scmr: the host scan transport of `alm discover`. Lists a Windows host's services with
//! the account each one runs as, over SMB2/3 (NTLMv2, signed) to the `svcctl` named pipe and
//! the service control manager RPC interface (MS-SCMR), from any OS.
//!
//! Read-only: it asks for connect/enumerate/query-config rights and nothing that could change
//! a service. The password is held in a `Secret` and never reaches a log or an error.

mod dcerpc;
mod error;
mod ndr;
mod ntlm;
mod scmr;
mod services;
mod smb2_client;
mod smb2_messages;
mod smb2_signing;
mod spnego;
mod wire;

pub use alm_core::Secret;
pub use error::ScanError;
pub use services::{ServiceEntry, ServiceState, StartType};

use std::time::Duration;

/// Who to log on as. `domain` is the NetBIOS or DNS domain name, or the host's own name (or
/// ".") for a local account.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub domain: String,
    pub user: String,
    password: Secret,
}

impl Credentials {
    pub fn new(domain: impl Into<String>, user: impl Into<String>, password: Secret) -> Self {
        Self {
            domain: domain.into(),
            user: user.into(),
            password,
        }
    }
}

const SMB_PORT: u16 = 445;

/// A host as given: `name`, `name:port`, an IPv4 or IPv6 address, or `[v6]:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    host: String,
    port: u16,
}

impl Target {
    fn parse(input: &str) -> Result<Self, ScanError> {
        let bad = |why: &str| ScanError::Unreachable {
            host: input.to_string(),
            reason: format!(
                "not a usable host ({why}); give a name or address, optionally with :port"
            ),
        };
        let input = input.trim();
        let (host, port) = if let Some(rest) = input.strip_prefix('[') {
            let (h, after) = rest.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
            match after.strip_prefix(':') {
                Some(p) => (h, Some(p)),
                None if after.is_empty() => (h, None),
                None => return Err(bad("junk after ']'")),
            }
        } else if input.matches(':').count() == 1 {
            let (h, p) = input.split_once(':').expect("one colon");
            (h, Some(p))
        } else {
            (input, None) // a name, IPv4, or a bare IPv6 address
        };
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| bad("bad port"))?,
            None => SMB_PORT,
        };
        if host.is_empty()
            || host
                .chars()
                .any(|c| c.is_whitespace() || c == '\\' || c == '/')
        {
            return Err(bad("empty or contains spaces or slashes"));
        }
        Ok(Target {
            host: host.to_string(),
            port,
        })
    }

    /// How errors name the host: as given, with the port only when it is not 445.
    fn label(&self) -> String {
        match (self.port, self.host.contains(':')) {
            (SMB_PORT, _) => self.host.clone(),
            (p, true) => format!("[{}]:{p}", self.host),
            (p, false) => format!("{}:{p}", self.host),
        }
    }
}

/// Lists the Win32 services of `host` (name or address, port 445 unless `host:port`) with
/// their start accounts. `timeout` bounds the whole exchange: connect, negotiate, logon and
/// every RPC call.
pub async fn list_services(
    host: &str,
    creds: &Credentials,
    timeout: Duration,
) -> Result<Vec<ServiceEntry>, ScanError> {
    let target = Target::parse(host)?;
    let label = target.label();
    match tokio::time::timeout(timeout, scan(&target, &label, creds)).await {
        Ok(result) => result,
        Err(_) => Err(ScanError::Timeout {
            host: label,
            after: timeout,
        }),
    }
}

async fn scan(
    target: &Target,
    label: &str,
    creds: &Credentials,
) -> Result<Vec<ServiceEntry>, ScanError> {
    let mut smb = smb2_client::Smb2Client::connect(&target.host, target.port, label).await?;
    smb.negotiate().await?;
    smb.session_setup(creds).await?;
    let tree_id = smb
        .tree_connect(&format!(r"\\{}\IPC$", target.host))
        .await?;
    let file_id = smb.open_pipe(tree_id, "svcctl").await?;
    let result = async {
        let mut rpc =
            dcerpc::PipeRpc::bind(&mut smb, label, tree_id, file_id, &scmr::SVCCTL).await?;
        scmr::list(&mut rpc, label).await
    }
    .await;
    smb.close_all(tree_id, &file_id).await;
    tracing::debug!(
        host = label,
        services = result.as_ref().map(Vec::len).ok(),
        "service scan done"
    );
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts_with_and_without_ports() {
        let t = |s: &str| Target::parse(s).map(|t| (t.host, t.port));
        assert_eq!(t("srv1").unwrap(), ("srv1".into(), 445));
        assert_eq!(t("10.0.0.5:1445").unwrap(), ("10.0.0.5".into(), 1445));
        assert_eq!(t("fe80::1").unwrap(), ("fe80::1".into(), 445));
        assert_eq!(t("[fe80::1]:446").unwrap(), ("fe80::1".into(), 446));
        assert_eq!(t("[fe80::1]").unwrap(), ("fe80::1".into(), 445));
        for bad in ["", "h:0", "h:x", "[::1", "a b", r"\\h"] {
            assert!(
                matches!(Target::parse(bad), Err(ScanError::Unreachable { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn labels_show_the_port_only_when_not_445() {
        assert_eq!(Target::parse("h").unwrap().label(), "h");
        assert_eq!(Target::parse("h:1445").unwrap().label(), "h:1445");
        assert_eq!(Target::parse("[::1]:9").unwrap().label(), "[::1]:9");
    }

    #[test]
    fn credentials_debug_hides_the_password() {
        let c = Credentials::new("CORP", "admin", Secret::new("hunter2"));
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("admin"));
    }
}

#[cfg(test)]
mod fuzz;

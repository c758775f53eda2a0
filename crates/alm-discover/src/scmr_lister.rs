//! The real `ServiceLister`: alm-scmr's SMB2/3 + MS-SCMR client, adapted to the host scan's
//! types. Only translation here — the protocol lives in alm-scmr, the scheduling in
//! `host_scan` — so the orchestration's tests stay free of the network.

use crate::host_credentials::HostCredentials;
use crate::host_scan::{HostError, HostErrorKind, ServiceEntry, ServiceLister};
use alm_scmr::{Credentials, ScanError, ServiceState, StartType};
use async_trait::async_trait;
use std::time::Duration;

/// Lists services over SMB (port 445, or `host:port`) with alm-scmr.
#[derive(Debug, Default, Clone, Copy)]
pub struct ScmrLister;

#[async_trait]
impl ServiceLister for ScmrLister {
    async fn list_services(
        &self,
        host: &str,
        credentials: &HostCredentials,
        timeout: Duration,
    ) -> Result<Vec<ServiceEntry>, HostError> {
        let creds = Credentials::new(
            credentials.domain(),
            credentials.user(),
            credentials.password.clone(),
        );
        alm_scmr::list_services(host, &creds, timeout)
            .await
            .map(|services| services.into_iter().map(service_entry).collect())
            .map_err(host_error)
    }
}

fn service_entry(s: alm_scmr::ServiceEntry) -> ServiceEntry {
    ServiceEntry {
        name: s.name,
        display_name: s.display_name,
        start_name: s.start_name,
        binary_path: s.binary_path,
        start_type: start_type_label(s.start_type).to_owned(),
        state: state_label(s.state).to_owned(),
        config_error: s.config_error,
    }
}

/// alm-scmr's messages already name the host and say what to do; the kind is kept apart
/// for the reports' error section.
fn host_error(e: ScanError) -> HostError {
    let kind = match &e {
        ScanError::Unreachable { .. } => HostErrorKind::Unreachable,
        ScanError::Timeout { .. } => HostErrorKind::Timeout,
        ScanError::LogonFailure { .. } => HostErrorKind::LogonFailure,
        ScanError::AccessDenied { .. } => HostErrorKind::AccessDenied,
        ScanError::Protocol { .. } => HostErrorKind::Protocol,
    };
    HostError {
        kind,
        message: e.to_string(),
    }
}

/// The start types as `sc qc` names them (lower-cased, without `_START`).
fn start_type_label(t: StartType) -> &'static str {
    match t {
        StartType::Boot => "boot",
        StartType::System => "system",
        StartType::Automatic => "auto",
        StartType::Manual => "demand",
        StartType::Disabled => "disabled",
        StartType::Unknown => "unknown",
    }
}

fn state_label(s: ServiceState) -> &'static str {
    match s {
        ServiceState::Stopped => "stopped",
        ServiceState::StartPending => "start-pending",
        ServiceState::StopPending => "stop-pending",
        ServiceState::Running => "running",
        ServiceState::ContinuePending => "continue-pending",
        ServiceState::PausePending => "pause-pending",
        ServiceState::Paused => "paused",
        ServiceState::Unknown => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alm_core::Secret;

    #[test]
    fn every_scan_error_keeps_its_kind_and_its_message() {
        let host = || "h1".to_owned();
        for (e, kind) in [
            (
                ScanError::Unreachable {
                    host: host(),
                    reason: "connection refused".into(),
                },
                HostErrorKind::Unreachable,
            ),
            (
                ScanError::Timeout {
                    host: host(),
                    after: Duration::from_secs(3),
                },
                HostErrorKind::Timeout,
            ),
            (
                ScanError::LogonFailure {
                    host: host(),
                    reason: "wrong password".into(),
                },
                HostErrorKind::LogonFailure,
            ),
            (
                ScanError::AccessDenied {
                    host: host(),
                    step: "the IPC$ share".into(),
                },
                HostErrorKind::AccessDenied,
            ),
            (
                ScanError::Protocol {
                    host: host(),
                    detail: "odd answer".into(),
                },
                HostErrorKind::Protocol,
            ),
        ] {
            let text = e.to_string();
            let mapped = host_error(e);
            assert_eq!(mapped.kind, kind);
            assert_eq!(mapped.message, text);
            assert!(mapped.message.starts_with("h1: "), "{}", mapped.message);
        }
    }

    #[test]
    fn services_keep_their_start_accounts_and_get_readable_states() {
        let s = service_entry(alm_scmr::ServiceEntry {
            name: "WINS".into(),
            display_name: "WINS".into(),
            start_name: "HOSTS\\svc_wins".into(),
            binary_path: "/svcctl/nmbd".into(),
            start_type: StartType::Disabled,
            state: ServiceState::Stopped,
            config_error: None,
        });
        assert_eq!(
            (
                s.start_name.as_str(),
                s.start_type.as_str(),
                s.state.as_str()
            ),
            ("HOSTS\\svc_wins", "disabled", "stopped")
        );
    }

    #[tokio::test]
    async fn a_refused_connection_is_an_unreachable_host_without_the_password() {
        // A loopback port that was free a moment ago: the kernel refuses the connection.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let creds = HostCredentials::parse("CORP\\a", Secret::new("Pw-4711-x"), "x").unwrap();
        let e = ScmrLister
            .list_services(&format!("127.0.0.1:{port}"), &creds, Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(e.kind, HostErrorKind::Unreachable, "{e}");
        assert!(!e.to_string().contains("Pw-4711-x"));
    }
}

//! The one error type of the host scan, worded for the administrator reading a scan log: each
//! says which host, what happened and what to do. Never carries the password (nothing that
//! builds these messages ever sees it).

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    /// No SMB connection could be made (name not resolved, refused, no route).
    #[error("{host}: cannot connect: {reason}")]
    Unreachable { host: String, reason: String },
    /// The whole scan of the host (connect, logon, listing) took longer than allowed.
    #[error(
        "{host}: no complete answer within {:.1} s; the host may be overloaded, or a firewall \
         silently drops SMB (TCP 445) instead of refusing it; retry with a longer timeout",
        after.as_secs_f64()
    )]
    Timeout { host: String, after: Duration },
    /// The host refused the user name or password.
    #[error(
        "{host}: logon refused ({reason}); check the domain, user name and password, and that \
         the account is enabled, not locked out and allowed to log on over the network"
    )]
    LogonFailure { host: String, reason: String },
    /// Logged on, but the host refused a step (IPC$, the svcctl pipe, the service manager).
    #[error(
        "{host}: access denied to {step}; the scan account needs local administrator rights \
         on the host to read its service configuration"
    )]
    AccessDenied { host: String, step: String },
    /// The host answered something this client does not understand or did not expect.
    #[error("{host}: {detail}")]
    Protocol { host: String, detail: String },
}

impl ScanError {
    pub(crate) fn protocol(host: &str, detail: impl Into<String>) -> Self {
        ScanError::Protocol {
            host: host.to_string(),
            detail: detail.into(),
        }
    }

    pub(crate) fn access_denied(host: &str, step: &str) -> Self {
        ScanError::AccessDenied {
            host: host.to_string(),
            step: step.to_string(),
        }
    }
}

/// Turns a failing NT status of an SMB2 step into the error a person can act on.
pub(crate) fn nt_status_error(host: &str, step: &str, status: u32) -> ScanError {
    let logon = |reason: &str| ScanError::LogonFailure {
        host: host.to_string(),
        reason: reason.to_string(),
    };
    // MS-ERREF 2.3.1.
    match status {
        0xc000_006d => logon("wrong user name or password"),
        0xc000_006a => logon("wrong password"),
        0xc000_0064 => logon("no such user"),
        0xc000_006e => logon("account restriction, e.g. blank password or logon hours"),
        0xc000_006f => logon("outside the account's logon hours"),
        0xc000_0070 => logon("not allowed to log on from this workstation"),
        0xc000_0071 => logon("password expired"),
        0xc000_0072 => logon("account disabled"),
        0xc000_0193 => logon("account expired"),
        0xc000_0224 => logon("password must be changed first"),
        0xc000_0234 => logon("account locked out"),
        0xc000_015b => logon("network logon not granted to this account"),
        0xc000_0022 => ScanError::access_denied(host, step),
        0xc000_00cc => ScanError::protocol(
            host,
            format!("{step}: the host has no such share (STATUS_BAD_NETWORK_NAME)"),
        ),
        0xc000_0034 => ScanError::protocol(
            host,
            format!(
                "{step}: the host has no service control pipe (STATUS_OBJECT_NAME_NOT_FOUND); \
                 is it a Windows host with the Server service running?"
            ),
        ),
        other => ScanError::protocol(
            host,
            format!("{step}: the host answered NT status {other:#010x}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_what_a_person_can_act_on() {
        assert!(matches!(
            nt_status_error("h", "logon", 0xc000_006d),
            ScanError::LogonFailure { .. }
        ));
        let e = nt_status_error("h", "the IPC$ share", 0xc000_0022);
        assert_eq!(
            e.to_string(),
            "h: access denied to the IPC$ share; the scan account needs local administrator \
             rights on the host to read its service configuration"
        );
        assert!(nt_status_error("h", "x", 0xc000_0001)
            .to_string()
            .contains("0xc0000001"));
    }

    #[test]
    fn timeout_message_says_how_long() {
        let e = ScanError::Timeout {
            host: "h:445".into(),
            after: Duration::from_millis(1500),
        };
        assert!(e
            .to_string()
            .starts_with("h:445: no complete answer within 1.5 s"));
    }
}

//! Turning ldap3's errors and Active Directory's result codes into `DirectoryError` kinds.
//!
//! AD puts a Win32 code in the diagnostic text (`0000052D: Constraint violation -
//! check_password_restrictions…`, `80090308: … data 52e`): those decide between kinds that
//! share one LDAP result code.

use crate::error::DirectoryError;
use ldap3::{LdapError, LdapResult};

/// LDAP result codes alm tells apart (RFC 4511 A.1).
mod rc {
    pub const CONSTRAINT_VIOLATION: u32 = 19;
    pub const NO_SUCH_OBJECT: u32 = 32;
    pub const INVALID_CREDENTIALS: u32 = 49;
    pub const INSUFFICIENT_ACCESS_RIGHTS: u32 = 50;
    pub const UNWILLING_TO_PERFORM: u32 = 53;
    pub const ENTRY_ALREADY_EXISTS: u32 = 68;
}

/// An unsuccessful result of an operation on `dn`.
pub fn from_result(result: &LdapResult, dn: &str) -> DirectoryError {
    let detail = result.text.trim().to_owned();
    match result.rc {
        rc::NO_SUCH_OBJECT => DirectoryError::NoSuchObject { dn: dn.to_owned() },
        rc::INSUFFICIENT_ACCESS_RIGHTS => DirectoryError::InsufficientRights { detail },
        rc::ENTRY_ALREADY_EXISTS => DirectoryError::AlreadyExists { detail },
        // Samba's access-control module refuses a password change the DACL denies with a
        // constraint violation ("error in module acl"): it is a missing right, not a rule.
        rc::CONSTRAINT_VIOLATION if detail.contains("module acl") => {
            DirectoryError::InsufficientRights { detail }
        }
        rc::CONSTRAINT_VIOLATION | rc::UNWILLING_TO_PERFORM if is_password_policy(&detail) => {
            DirectoryError::PasswordPolicy { detail }
        }
        // A userPrincipalName or servicePrincipalName already in use elsewhere.
        rc::CONSTRAINT_VIOLATION
            if detail.contains("already in use") || detail.contains("would cause a conflict") =>
        {
            DirectoryError::AlreadyExists { detail }
        }
        rc::INVALID_CREDENTIALS => DirectoryError::BadCredentials {
            identity: dn.to_owned(),
            detail: explain_bind(&detail),
        },
        other => DirectoryError::Other(format!("LDAP result {other}: {detail}")),
    }
}

fn is_password_policy(detail: &str) -> bool {
    detail.starts_with("0000052D")
        || detail.contains("check_password_restrictions")
        || detail.contains("password")
}

/// AD's bind failures carry a sub-code after `data`: say it in words.
fn explain_bind(detail: &str) -> String {
    let code = detail
        .split("data ")
        .nth(1)
        .and_then(|rest| rest.split([',', ' ']).next())
        .unwrap_or("");
    let meaning = match code {
        "525" => "user not found",
        "52e" => "wrong password",
        "530" => "not permitted to log on at this time",
        "531" => "not permitted to log on at this workstation",
        "532" => "password expired",
        "533" => "account disabled",
        "701" => "account expired",
        "773" => "password must be reset",
        "775" => "account locked out",
        _ => return detail.to_owned(),
    };
    format!("{meaning}; {detail}")
}

/// A failure before or outside an LDAP result (connecting, TLS, timeouts).
pub fn from_ldap(error: LdapError, url: &str, dn: &str) -> DirectoryError {
    match error {
        LdapError::LdapResult { result } => from_result(&result, dn),
        LdapError::Timeout { .. } => DirectoryError::Unreachable {
            url: url.to_owned(),
            detail: "timed out".into(),
        },
        LdapError::Rustls { source } => DirectoryError::Tls {
            url: url.to_owned(),
            detail: source.to_string(),
        },
        LdapError::DNSName { source } => DirectoryError::Tls {
            url: url.to_owned(),
            detail: source.to_string(),
        },
        LdapError::Io { source } => {
            let tls = source
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                .map(|e| e.to_string());
            match tls {
                Some(detail) => DirectoryError::Tls {
                    url: url.to_owned(),
                    detail,
                },
                None => DirectoryError::Unreachable {
                    url: url.to_owned(),
                    detail: source.to_string(),
                },
            }
        }
        LdapError::OpSend { .. } | LdapError::ResultRecv { .. } | LdapError::EndOfStream => {
            DirectoryError::Unreachable {
                url: url.to_owned(),
                detail: "the connection was closed".into(),
            }
        }
        other => DirectoryError::Other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(rc: u32, text: &str) -> LdapResult {
        LdapResult {
            rc,
            matched: String::new(),
            text: text.into(),
            refs: vec![],
            ctrls: vec![],
        }
    }

    #[test]
    fn result_codes_and_diagnostics_become_kinds() {
        let weak = result(19, "0000052D: Constraint violation - check_password_restrictions: the password is too short.");
        assert!(matches!(
            from_result(&weak, "cn=x"),
            DirectoryError::PasswordPolicy { .. }
        ));
        let upn = result(
            19,
            "0000202F: samldb: userPrincipalName 'a@b' is already in use",
        );
        assert!(matches!(
            from_result(&upn, "cn=x"),
            DirectoryError::AlreadyExists { .. }
        ));
        let dup = result(
            68,
            "00002071: samldb: samAccountName 'ALICE' already in use!",
        );
        assert!(matches!(
            from_result(&dup, "cn=x"),
            DirectoryError::AlreadyExists { .. }
        ));
        let acl = result(
            19,
            "error in module acl: Constraint violation during LDB_MODIFY (19)",
        );
        assert!(matches!(
            from_result(&acl, "CN=x"),
            DirectoryError::InsufficientRights { .. }
        ));
        let spn = result(19, "0000202F: samldb: spn[HTTP/gm1] would cause a conflict");
        assert!(matches!(
            from_result(&spn, "cn=x"),
            DirectoryError::AlreadyExists { .. }
        ));
        assert!(matches!(
            from_result(&result(32, ""), "cn=x"),
            DirectoryError::NoSuchObject { .. }
        ));
        assert!(matches!(
            from_result(&result(50, ""), "cn=x"),
            DirectoryError::InsufficientRights { .. }
        ));
        let bad = from_result(&result(49, "80090308: LdapErr: DSID-0C09030B, comment: AcceptSecurityContext error, data 52e, v893"), "svc");
        assert!(bad.to_string().contains("wrong password"), "{bad}");
        let expired = from_result(&result(49, "80090308: … data 701, v893"), "svc");
        assert!(expired.to_string().contains("account expired"), "{expired}");
    }
}

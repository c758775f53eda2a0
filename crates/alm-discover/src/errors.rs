//! The errors `alm discover` shows: what happened and what to do, for people. They carry
//! the server's diagnostic text and the names typed, never a password.

use alm_directory::DirectoryError;

#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error("{0}")]
    Input(String),
    #[error("cannot reach the domain controller at {url} ({detail}). Check the name or address, that LDAPS (port 636) is open from here, and firewalls.")]
    Unreachable { url: String, detail: String },
    #[error("the certificate of {url} is not trusted or does not match the name ({detail}). Pass --ca-file with the CA certificate (PEM) that issued the domain controller's certificate, and connect by a name the certificate carries.")]
    Certificate { url: String, detail: String },
    #[error("the domain refused the user name or password of {user} (LDAP result 49: {detail}). Check both; the account may also be locked, disabled or expired.")]
    WrongCredentials { user: String, detail: String },
    #[error("{user} may not read what the scan needs ({detail}). Run it as an account that can read the domain's users, groups and computers.")]
    InsufficientRights { user: String, detail: String },
    #[error("the scope {dn} was not found in the domain (or {user} cannot see it). Check --ou: give the OU's full DN, e.g. OU=Servers,DC=corp,DC=example,DC=com.")]
    NoSuchScope { dn: String, user: String },
    #[error("the directory answered with an error: {0}")]
    Directory(String),
    #[error("stopped: nothing was scanned")]
    Declined,
    #[error("cannot write the reports to {path}: {detail}")]
    Output { path: String, detail: String },
    /// The reports are written; sending them to the alm server failed.
    #[error("the reports are written to {out}, but the import into alm failed: {detail}")]
    Import { out: String, detail: String },
}

impl DiscoverError {
    /// A directory error in the administrator's terms.
    pub fn from_directory(error: DirectoryError, url: &str, user: &str) -> Self {
        match error {
            DirectoryError::Unreachable { detail, .. } => DiscoverError::Unreachable {
                url: url.to_owned(),
                detail,
            },
            DirectoryError::Tls { detail, .. } => DiscoverError::Certificate {
                url: url.to_owned(),
                detail,
            },
            DirectoryError::BadCredentials { detail, .. } => DiscoverError::WrongCredentials {
                user: user.to_owned(),
                detail,
            },
            DirectoryError::InsufficientRights { detail } => DiscoverError::InsufficientRights {
                user: user.to_owned(),
                detail,
            },
            DirectoryError::NoSuchObject { dn } => DiscoverError::NoSuchScope {
                dn,
                user: user.to_owned(),
            },
            DirectoryError::Config(detail) => DiscoverError::Input(detail),
            other => DiscoverError::Directory(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_directory_failure_says_what_to_do() {
        let tls = DiscoverError::from_directory(
            DirectoryError::Tls {
                url: "u".into(),
                detail: "invalid peer certificate: UnknownIssuer".into(),
            },
            "ldaps://dc1:636",
            "a@b",
        );
        assert!(tls.to_string().contains("--ca-file"), "{tls}");
        let creds = DiscoverError::from_directory(
            DirectoryError::BadCredentials {
                identity: "a@b".into(),
                detail: "wrong password".into(),
            },
            "u",
            "a@b",
        );
        assert!(creds.to_string().contains("LDAP result 49"), "{creds}");
        let ou = DiscoverError::from_directory(
            DirectoryError::NoSuchObject { dn: "OU=x".into() },
            "u",
            "a@b",
        );
        assert!(ou.to_string().contains("--ou"), "{ou}");
    }
}

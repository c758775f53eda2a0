//! Directory errors as kinds an administrator can act on; each says what to do.
//! Messages carry the server's diagnostic text, never a password.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum DirectoryError {
    #[error("{url}: unreachable ({detail}); check the host, port 636 and firewalls")]
    Unreachable { url: String, detail: String },
    #[error("{url}: TLS problem ({detail}); check the CA certificate configured for this domain")]
    Tls { url: String, detail: String },
    #[error("the directory refused the credentials of {identity} ({detail})")]
    BadCredentials { identity: String, detail: String },
    #[error("the bind identity lacks the rights for this ({detail}); delegate them on the OU")]
    InsufficientRights { detail: String },
    #[error("an object with this name already exists ({detail})")]
    AlreadyExists { detail: String },
    #[error("the directory's password policy refused the password ({detail})")]
    PasswordPolicy { detail: String },
    #[error("no such object: {dn}")]
    NoSuchObject { dn: String },
    #[error("invalid directory configuration: {0}")]
    Config(String),
    #[error("the directory refused the operation: {0}")]
    Other(String),
}

pub type DirectoryResult<T> = Result<T, DirectoryError>;

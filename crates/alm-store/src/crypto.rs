//! Encryption of secrets at rest: AES-256-GCM under a master key that never enters the
//! database (a key file beside it, mode 600, or `ALM_MASTER_KEY[_FILE]`).
//!
//! Each value is sealed with a fresh 96-bit nonce and with associated data naming where it
//! belongs (`domain:<id>:bind_password`), so a ciphertext copied into another row or column
//! fails to open. Stored form: `v1:<base64 nonce>:<base64 ciphertext+tag>`.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;
use std::path::Path;
use zeroize::Zeroizing;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("master key: {0}")]
    Key(String),
    #[error(
        "a stored secret could not be opened: wrong master key, or the value was altered or moved"
    )]
    Open,
    #[error("a stored secret is not in the form alm writes")]
    Format,
}

/// The key that seals every secret alm stores.
pub struct MasterKey {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(****)")
    }
}

impl MasterKey {
    /// From 32 bytes given as 64 hex digits or base64 (as in a key file or the environment).
    pub fn from_text(text: &str) -> Result<Self, CryptoError> {
        let text = text.trim();
        let bytes = Zeroizing::new(
            if text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()) {
                hex::decode(text).map_err(|e| CryptoError::Key(e.to_string()))?
            } else {
                STANDARD.decode(text).map_err(|_| {
                    CryptoError::Key("expected 32 bytes as 64 hex digits or base64".into())
                })?
            },
        );
        if bytes.len() != 32 {
            return Err(CryptoError::Key(format!(
                "expected 32 bytes, found {}",
                bytes.len()
            )));
        }
        let cipher =
            Aes256Gcm::new_from_slice(&bytes).map_err(|e| CryptoError::Key(e.to_string()))?;
        Ok(Self { cipher })
    }

    /// Reads the key file, or creates it (mode 600) with a new random key when it is missing.
    pub fn load_or_create(path: &Path) -> Result<Self, CryptoError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_text(&text)
                .map_err(|e| CryptoError::Key(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = Zeroizing::new([0u8; 32]);
                rand::rngs::OsRng.fill_bytes(key.as_mut());
                let text = Zeroizing::new(hex::encode(key.as_ref()));
                write_private(path, text.as_bytes())
                    .map_err(|e| CryptoError::Key(format!("{}: {e}", path.display())))?;
                Self::from_text(&text)
            }
            Err(e) => Err(CryptoError::Key(format!("{}: {e}", path.display()))),
        }
    }

    pub fn seal(&self, plaintext: &str, context: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        format!("v1:{}:{}", STANDARD.encode(nonce), STANDARD.encode(sealed))
    }

    pub fn open(&self, stored: &str, context: &str) -> Result<Zeroizing<String>, CryptoError> {
        let mut parts = stored.splitn(3, ':');
        let (Some("v1"), Some(nonce), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(CryptoError::Format);
        };
        let nonce = STANDARD.decode(nonce).map_err(|_| CryptoError::Format)?;
        let body = STANDARD.decode(body).map_err(|_| CryptoError::Format)?;
        if nonce.len() != 12 {
            return Err(CryptoError::Format);
        }
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &body,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Open)?;
        String::from_utf8(plain)
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::Format)
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> MasterKey {
        MasterKey::from_text(&"11".repeat(32)).unwrap()
    }

    #[test]
    fn sealed_values_open_only_with_the_same_key_and_context() {
        let k = key();
        let sealed = k.seal("bind-passw0rd", "domain:1:bind_password");
        assert!(sealed.starts_with("v1:") && !sealed.contains("bind-passw0rd"));
        assert_eq!(
            k.open(&sealed, "domain:1:bind_password").unwrap().as_str(),
            "bind-passw0rd"
        );
        assert_ne!(
            sealed,
            k.seal("bind-passw0rd", "domain:1:bind_password"),
            "fresh nonce each time"
        );
        assert_eq!(
            k.open(&sealed, "domain:2:bind_password").unwrap_err(),
            CryptoError::Open,
            "moved to another row"
        );
        let other = MasterKey::from_text(&"22".repeat(32)).unwrap();
        assert_eq!(
            other.open(&sealed, "domain:1:bind_password").unwrap_err(),
            CryptoError::Open
        );
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(k.open(&tampered, "domain:1:bind_password").is_err());
        assert_eq!(k.open("plain text", "x").unwrap_err(), CryptoError::Format);
    }

    #[test]
    fn keys_are_32_bytes_and_a_missing_key_file_is_created_private() {
        assert!(MasterKey::from_text("abcd").is_err());
        assert!(
            MasterKey::from_text(&base64::engine::general_purpose::STANDARD.encode([7u8; 32]))
                .is_ok()
        );
        let dir = std::env::temp_dir().join(format!("alm-key-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("master.key");
        let first = MasterKey::load_or_create(&path).unwrap();
        let sealed = first.seal("x", "c");
        let again = MasterKey::load_or_create(&path).unwrap();
        assert_eq!(
            again.open(&sealed, "c").unwrap().as_str(),
            "x",
            "the same key is read back"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

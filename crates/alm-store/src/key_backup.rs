//! The master key sealed under a passphrase, so that a backup can carry its key: a database
//! restored without the key that sealed its secrets is useless, and a key stored beside the
//! backup in clear would give the secrets to whoever holds the backup.
//!
//! Argon2id (64 MiB, 3 passes: OWASP's recommended floor is 19 MiB/2) derives a 256-bit key
//! from the passphrase and a random salt; AES-256-GCM seals the key's text with it. The file is
//! JSON, so a person can see what it is and which parameters opened it.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// What the file says it is.
const FORMAT: &str = "alm-sealed-master-key-v1";
/// The shortest passphrase accepted: the same floor as alm's passwords.
pub const MIN_PASSPHRASE_CHARS: usize = 12;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyBackupError {
    #[error("the passphrase must have at least {MIN_PASSPHRASE_CHARS} characters")]
    ShortPassphrase,
    #[error("not a sealed alm master key ({0})")]
    Format(String),
    #[error("wrong passphrase, or the sealed key was altered")]
    Open,
}

#[derive(Serialize, Deserialize)]
struct SealedKey {
    format: String,
    kdf: String,
    memory_kib: u32,
    passes: u32,
    lanes: u32,
    salt: String,
    nonce: String,
    ciphertext: String,
}

fn derive(
    passphrase: &str,
    salt: &[u8],
    memory_kib: u32,
    passes: u32,
    lanes: u32,
) -> Result<Zeroizing<[u8; 32]>, KeyBackupError> {
    let params = argon2::Params::new(memory_kib, passes, lanes, Some(32))
        .map_err(|e| KeyBackupError::Format(format!("argon2 parameters: {e}")))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(passphrase.as_bytes(), salt, out.as_mut())
        .map_err(|e| KeyBackupError::Format(format!("argon2: {e}")))?;
    Ok(out)
}

/// Seals `key_text` (the master key as alm reads it: hex or base64) under `passphrase`.
pub fn seal(key_text: &str, passphrase: &str) -> Result<String, KeyBackupError> {
    if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(KeyBackupError::ShortPassphrase);
    }
    let (memory_kib, passes, lanes) = (65_536, 3, 1);
    let mut salt = [0u8; 16];
    let mut nonce = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let kek = derive(passphrase, &salt, memory_kib, passes, lanes)?;
    let cipher = Aes256Gcm::new_from_slice(kek.as_ref()).expect("a 32-byte key");
    let ciphertext = cipher
        .encrypt(Nonce::from_slice(&nonce), key_text.trim().as_bytes())
        .expect("AES-GCM sealing does not fail for short inputs");
    let sealed = SealedKey {
        format: FORMAT.into(),
        kdf: "argon2id".into(),
        memory_kib,
        passes,
        lanes,
        salt: STANDARD.encode(salt),
        nonce: STANDARD.encode(nonce),
        ciphertext: STANDARD.encode(ciphertext),
    };
    Ok(serde_json::to_string_pretty(&sealed).expect("plain JSON") + "\n")
}

/// Opens a sealed key; the text returned is a master key alm can read.
pub fn open(sealed: &str, passphrase: &str) -> Result<Zeroizing<String>, KeyBackupError> {
    let s: SealedKey =
        serde_json::from_str(sealed).map_err(|e| KeyBackupError::Format(e.to_string()))?;
    if s.format != FORMAT || s.kdf != "argon2id" {
        return Err(KeyBackupError::Format(format!(
            "format {:?}, kdf {:?}",
            s.format, s.kdf
        )));
    }
    // Bounds against a crafted file that would make the derivation take the machine.
    if s.memory_kib > 1_048_576 || s.passes > 16 || s.lanes > 16 {
        return Err(KeyBackupError::Format(
            "argon2 parameters out of bounds".into(),
        ));
    }
    let decode = |what: &str, v: &str| {
        STANDARD
            .decode(v)
            .map_err(|_| KeyBackupError::Format(format!("{what} is not base64")))
    };
    let salt = decode("salt", &s.salt)?;
    let nonce = decode("nonce", &s.nonce)?;
    let ciphertext = decode("ciphertext", &s.ciphertext)?;
    if nonce.len() != 12 {
        return Err(KeyBackupError::Format("nonce is not 12 bytes".into()));
    }
    let kek = derive(passphrase, &salt, s.memory_kib, s.passes, s.lanes)?;
    let cipher = Aes256Gcm::new_from_slice(kek.as_ref()).expect("a 32-byte key");
    let plain = Zeroizing::new(
        cipher
            .decrypt(Nonce::from_slice(&nonce), ciphertext.as_slice())
            .map_err(|_| KeyBackupError::Open)?,
    );
    let text = Zeroizing::new(String::from_utf8(plain.to_vec()).map_err(|_| KeyBackupError::Open)?);
    crate::crypto::MasterKey::from_text(&text)
        .map_err(|e| KeyBackupError::Format(e.to_string()))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    #[test]
    fn a_sealed_key_opens_with_its_passphrase_only() {
        let sealed = seal(KEY, "a long passphrase").unwrap();
        assert!(!sealed.contains(KEY) && sealed.contains(FORMAT));
        assert_eq!(open(&sealed, "a long passphrase").unwrap().as_str(), KEY);
        assert_eq!(
            open(&sealed, "another passphrase").unwrap_err(),
            KeyBackupError::Open
        );
        assert_eq!(
            seal(KEY, "short").unwrap_err(),
            KeyBackupError::ShortPassphrase
        );
        // One bit changed in the ciphertext: refused, not a different key.
        let mut v: serde_json::Value = serde_json::from_str(&sealed).unwrap();
        let mut c = STANDARD.decode(v["ciphertext"].as_str().unwrap()).unwrap();
        c[0] ^= 1;
        v["ciphertext"] = STANDARD.encode(c).into();
        assert_eq!(
            open(&v.to_string(), "a long passphrase").unwrap_err(),
            KeyBackupError::Open
        );
        v["memory_kib"] = 100_000_000.into();
        assert!(matches!(
            open(&v.to_string(), "a long passphrase"),
            Err(KeyBackupError::Format(_))
        ));
        assert!(matches!(
            open("{}", "a long passphrase"),
            Err(KeyBackupError::Format(_))
        ));
    }
}

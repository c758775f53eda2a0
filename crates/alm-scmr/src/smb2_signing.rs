//! SMB2 message signing (MS-SMB2 3.1.4.1): HMAC-SHA256 for dialects 2.x, AES-128-CMAC for
//! 3.0 and 3.0.2 with the key derived by the SP800-108 KDF (MS-SMB2 3.2.5.3.1). Servers that
//! require signing (every domain controller) refuse unsigned requests after session setup.
//! No I/O here.

use aes::Aes128;
use cmac::Cmac;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Offset and length of the signature in the 64-byte SMB2 header; bit 0x8 of Flags marks a
/// signed message.
const SIGNATURE_AT: usize = 48;
pub const FLAGS_SIGNED: u32 = 0x0000_0008;

#[derive(Clone)]
pub enum Signer {
    HmacSha256([u8; 16]),
    AesCmac([u8; 16]),
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys stay out of logs.
        match self {
            Signer::HmacSha256(_) => f.write_str("Signer::HmacSha256(****)"),
            Signer::AesCmac(_) => f.write_str("Signer::AesCmac(****)"),
        }
    }
}

impl Signer {
    /// The signer for a dialect (0x02xx or 0x030x) and the session key from authentication.
    pub fn new(dialect: u16, session_key: &[u8; 16]) -> Self {
        if dialect >= 0x0300 {
            Signer::AesCmac(kdf_sha256(session_key, b"SMB2AESCMAC\0", b"SmbSign\0"))
        } else {
            Signer::HmacSha256(*session_key)
        }
    }

    fn mac(&self, message: &[u8]) -> [u8; 16] {
        let mut out = [0u8; 16];
        match self {
            Signer::HmacSha256(key) => {
                let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
                m.update(message);
                out.copy_from_slice(&m.finalize().into_bytes()[..16]);
            }
            Signer::AesCmac(key) => {
                let mut m = <Cmac<Aes128> as Mac>::new_from_slice(key).expect("16-byte key");
                m.update(message);
                out.copy_from_slice(&m.finalize().into_bytes());
            }
        }
        out
    }

    /// Sets the signed flag and writes the signature of the whole message (header + body)
    /// into its header, the signature field being zero while computing it.
    pub fn sign(&self, message: &mut [u8]) {
        let flags = u32::from_le_bytes(message[16..20].try_into().expect("4 bytes")) | FLAGS_SIGNED;
        message[16..20].copy_from_slice(&flags.to_le_bytes());
        message[SIGNATURE_AT..SIGNATURE_AT + 16].fill(0);
        let sig = self.mac(message);
        message[SIGNATURE_AT..SIGNATURE_AT + 16].copy_from_slice(&sig);
    }

    /// Whether a received message's signature is right.
    pub fn verify(&self, message: &[u8]) -> bool {
        if message.len() < 64 {
            return false;
        }
        let mut copy = message.to_vec();
        copy[SIGNATURE_AT..SIGNATURE_AT + 16].fill(0);
        self.mac(&copy) == message[SIGNATURE_AT..SIGNATURE_AT + 16]
    }
}

/// Status codes a server cannot sign because the session it would sign with is gone (MS-SMB2
/// 3.3.5.2.9): STATUS_USER_SESSION_DELETED, STATUS_NETWORK_SESSION_EXPIRED. Such an answer ends
/// the scan of the host with an error either way, so taking it unsigned gives nothing away.
const UNSIGNABLE: [u32; 2] = [0xc000_0203, 0xc000_035c];

/// Why a final answer cannot be trusted, if it cannot: a signed answer must carry a right
/// signature, and once our requests are signed (every request after session setup) so must
/// every answer (MS-SMB2 3.3.4.1.1: the server signs the answer to a signed request). Taking an
/// unsigned answer then would let anyone between here and the host strip the signature and
/// rewrite what the host said.
pub fn distrust(
    signer: Option<&Signer>,
    request_signed: bool,
    flags: u32,
    status: u32,
    message: &[u8],
) -> Option<&'static str> {
    if flags & FLAGS_SIGNED != 0 {
        return match signer {
            Some(s) if !s.verify(message) => Some(
                "an answer's SMB signature is wrong: something between here and the host altered it, or the host does not share our session key",
            ),
            _ => None,
        };
    }
    (request_signed && !UNSIGNABLE.contains(&status)).then_some(
        "an answer to a signed request came back unsigned: something between here and the host removed its signature",
    )
}

/// SP800-108 KDF in counter mode with HMAC-SHA256, r = 32, L = 128, one iteration:
/// HMAC(Ki, [i=1]_32be || Label || 0x00 || Context || [L=128]_32be), first 16 bytes.
pub fn kdf_sha256(key: &[u8; 16], label: &[u8], context: &[u8]) -> [u8; 16] {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
    m.update(&1u32.to_be_bytes());
    m.update(label);
    m.update(&[0]);
    m.update(context);
    m.update(&128u32.to_be_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&m.finalize().into_bytes()[..16]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// A 64-byte header plus a body, with flags and status at their offsets.
    fn message(flags: u32, status: u32) -> Vec<u8> {
        let mut m = vec![0u8; 81];
        m[0..4].copy_from_slice(b"\xfeSMB");
        m[8..12].copy_from_slice(&status.to_le_bytes());
        m[16..20].copy_from_slice(&flags.to_le_bytes());
        m[64..].copy_from_slice(b"the host's answer");
        m
    }

    #[test]
    fn once_requests_are_signed_only_rightly_signed_answers_are_taken() {
        let signer = Signer::new(0x0311, &[7u8; 16]);
        let mut signed = message(0x1, 0);
        signer.sign(&mut signed);
        let flags = u32::from_le_bytes(signed[16..20].try_into().unwrap());
        assert_eq!(distrust(Some(&signer), true, flags, 0, &signed), None);
        // The body changed on the way: the signature no longer matches.
        let mut altered = signed.clone();
        altered[70] ^= 1;
        assert!(distrust(Some(&signer), true, flags, 0, &altered)
            .unwrap()
            .contains("signature is wrong"));
        // The signature stripped (flag cleared): refused, whatever the body says.
        let stripped = message(0x1, 0);
        assert!(distrust(Some(&signer), true, 0x1, 0, &stripped)
            .unwrap()
            .contains("came back unsigned"));
        // Unless the host cannot sign it: its session is gone.
        assert_eq!(
            distrust(
                Some(&signer),
                true,
                0x1,
                0xc000_0203,
                &message(0x1, 0xc000_0203)
            ),
            None
        );
        // Before session setup nothing is signed, and nothing is asked of the answers.
        assert_eq!(distrust(None, false, 0x1, 0, &stripped), None);
    }

    #[test]
    fn aes_cmac_matches_rfc_4493_example_2() {
        // RFC 4493 4, Example 2: K = 2b7e1516 28aed2a6 abf71588 09cf4f3c, M = 6bc1bee2 2e409f96
        // e93d7e11 7393172a, AES-CMAC = 070a16b4 6b4d4144 f79bdd9d d04a287c.
        let key: [u8; 16] = hex("2b7e151628aed2a6abf7158809cf4f3c").try_into().unwrap();
        let s = Signer::AesCmac(key);
        assert_eq!(
            s.mac(&hex("6bc1bee22e409f96e93d7e117393172a")).to_vec(),
            hex("070a16b46b4d4144f79bdd9dd04a287c")
        );
    }

    #[test]
    fn hmac_sha256_signature_is_the_first_16_bytes_of_the_hmac() {
        // MS-SMB2 3.1.4.1: for 2.x dialects the signature is the first 16 bytes of
        // HMAC-SHA256(SessionKey, message).
        let key = [0x0bu8; 16];
        let full = {
            let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap();
            m.update(b"Hi There");
            m.finalize().into_bytes()
        };
        assert_eq!(Signer::HmacSha256(key).mac(b"Hi There"), full[..16]);
    }

    #[test]
    fn sign_sets_the_flag_and_verify_accepts_only_the_signed_message() {
        let mut msg = vec![0u8; 80];
        msg[..4].copy_from_slice(b"\xfeSMB");
        msg[70] = 7;
        let s = Signer::new(0x0302, &[9; 16]);
        s.sign(&mut msg);
        assert_eq!(msg[16] & 0x08, 0x08);
        assert_ne!(&msg[48..64], &[0; 16]);
        assert!(s.verify(&msg));
        msg[70] = 8;
        assert!(!s.verify(&msg));
    }

    #[test]
    fn dialect_picks_the_algorithm() {
        assert!(matches!(
            Signer::new(0x0210, &[0; 16]),
            Signer::HmacSha256(_)
        ));
        assert!(matches!(Signer::new(0x0300, &[0; 16]), Signer::AesCmac(_)));
    }
}

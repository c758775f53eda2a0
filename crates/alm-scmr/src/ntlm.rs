//! NTLMSSP (MS-NLMP) for the SMB2 session setup: the NEGOTIATE message, reading the server's
//! CHALLENGE, and the AUTHENTICATE message with an NTLMv2 response. Also yields the session
//! key SMB2 signs with. No I/O; the password only passes through here and is never formatted.
//!
//! Deliberately left out: NTLMv1/LM (refused by current servers), key exchange
//! (NEGOTIATE_KEY_EXCH, which would need RC4: without it the exported session key is the
//! session base key, MS-NLMP 3.4.5.1), sealing, and the MIC (not required by servers unless
//! they are configured to; sending it would oblige SPNEGO's mechListMIC too).

use crate::wire::{slice_at, utf16le, Reader, WireResult, Writer};
use hmac::{Hmac, Mac};
use md4::{Digest, Md4};
use md5::Md5;

type HmacMd5 = Hmac<Md5>;

const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";

// Negotiate flags (MS-NLMP 2.2.2.5).
const NEGOTIATE_UNICODE: u32 = 0x0000_0001;
const REQUEST_TARGET: u32 = 0x0000_0004;
const NEGOTIATE_SIGN: u32 = 0x0000_0010;
const NEGOTIATE_NTLM: u32 = 0x0000_0200;
const NEGOTIATE_ALWAYS_SIGN: u32 = 0x0000_8000;
const NEGOTIATE_EXTENDED_SESSIONSECURITY: u32 = 0x0008_0000;
const NEGOTIATE_TARGET_INFO: u32 = 0x0080_0000;
const NEGOTIATE_128: u32 = 0x2000_0000;
const NEGOTIATE_56: u32 = 0x8000_0000;

/// What we ask for: Unicode, NTLMv2-capable (extended session security), signing keys.
const CLIENT_FLAGS: u32 = NEGOTIATE_UNICODE
    | REQUEST_TARGET
    | NEGOTIATE_SIGN
    | NEGOTIATE_NTLM
    | NEGOTIATE_ALWAYS_SIGN
    | NEGOTIATE_EXTENDED_SESSIONSECURITY
    | NEGOTIATE_TARGET_INFO
    | NEGOTIATE_128
    | NEGOTIATE_56;

/// AV pair ids (MS-NLMP 2.2.2.1) that we look at.
const AV_EOL: u16 = 0;
const AV_TIMESTAMP: u16 = 7;

/// The NEGOTIATE message (MS-NLMP 2.2.1.1): flags only, no domain or workstation supplied.
pub fn negotiate_message() -> Vec<u8> {
    let mut w = Writer::new();
    w.bytes(SIGNATURE).u32(1).u32(CLIENT_FLAGS);
    // DomainNameFields and WorkstationFields: empty (len, maxlen, offset).
    w.u16(0).u16(0).u32(32).u16(0).u16(0).u32(32);
    w.into_inner()
}

/// The parts of the server's CHALLENGE message (MS-NLMP 2.2.1.2) the response needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub flags: u32,
    pub server_challenge: [u8; 8],
    /// The raw AV pairs, echoed back inside the NTLMv2 response.
    pub target_info: Vec<u8>,
    /// MsvAvTimestamp, when the server sent one (it then expects it back).
    pub timestamp: Option<u64>,
}

pub fn parse_challenge(msg: &[u8]) -> WireResult<Challenge> {
    let mut r = Reader::new(msg, "NTLMSSP CHALLENGE message");
    if r.take(8)? != SIGNATURE {
        return Err(r.err("does not start with the NTLMSSP signature"));
    }
    let kind = r.u32()?;
    if kind != 2 {
        return Err(r.err(format!("message type {kind}, expected 2")));
    }
    r.skip(8)?; // TargetNameFields
    let flags = r.u32()?;
    let server_challenge = r.array::<8>()?;
    r.skip(8)?; // Reserved
    let (ti_len, ti_off) = if flags & NEGOTIATE_TARGET_INFO != 0 {
        let len = r.u16()?;
        r.skip(2)?;
        (len as usize, r.u32()? as usize)
    } else {
        (0, 0)
    };
    let target_info = slice_at(msg, ti_off, ti_len, "NTLMSSP target info")?.to_vec();
    let timestamp = find_av(&target_info, AV_TIMESTAMP)?.and_then(|v| {
        let a: [u8; 8] = v.try_into().ok()?;
        Some(u64::from_le_bytes(a))
    });
    Ok(Challenge {
        flags,
        server_challenge,
        target_info,
        timestamp,
    })
}

/// The value of one AV pair, walking the list up to MsvAvEOL.
fn find_av(target_info: &[u8], id: u16) -> WireResult<Option<&[u8]>> {
    let mut r = Reader::new(target_info, "NTLMSSP target info");
    while r.remaining() >= 4 {
        let av_id = r.u16()?;
        let len = r.u16()? as usize;
        if av_id == AV_EOL {
            break;
        }
        let value = r.take(len)?;
        if av_id == id {
            return Ok(Some(value));
        }
    }
    Ok(None)
}

/// NTOWFv2 (MS-NLMP 3.3.2): HMAC_MD5(MD4(UTF16(password)), UTF16(UPPER(user) + domain)).
/// The user name is upper-cased, the domain is not.
pub fn ntowf_v2(password: &str, user: &str, domain: &str) -> [u8; 16] {
    let nt_hash = Md4::digest(utf16le(password));
    let mut mac = HmacMd5::new_from_slice(&nt_hash).expect("HMAC takes keys of any length");
    mac.update(&utf16le(&(user.to_uppercase() + domain)));
    mac.finalize().into_bytes().into()
}

fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    let mut mac = HmacMd5::new_from_slice(key).expect("HMAC takes keys of any length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// The NTLMv2 responses and the session base key (MS-NLMP 3.3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V2Response {
    /// NTProofStr followed by the client blob ("temp").
    pub nt_response: Vec<u8>,
    /// LMv2: HMAC_MD5(key, server || client challenge) || client challenge.
    pub lm_response: Vec<u8>,
    pub session_base_key: [u8; 16],
}

pub fn v2_response(
    response_key: &[u8; 16],
    server_challenge: &[u8; 8],
    client_challenge: &[u8; 8],
    timestamp: u64,
    target_info: &[u8],
) -> V2Response {
    // temp = Responserversion, HiResponserversion, Z(6), Time, ClientChallenge, Z(4),
    //        ServerName (the AV pairs), Z(4).
    let mut temp = Writer::new();
    temp.u8(1)
        .u8(1)
        .zeros(6)
        .u64(timestamp)
        .bytes(client_challenge)
        .zeros(4);
    temp.bytes(target_info).zeros(4);
    let temp = temp.into_inner();
    let nt_proof = hmac_md5(response_key, &[server_challenge, &temp]);
    let mut nt_response = nt_proof.to_vec();
    nt_response.extend_from_slice(&temp);
    let mut lm_response = hmac_md5(response_key, &[server_challenge, client_challenge]).to_vec();
    lm_response.extend_from_slice(client_challenge);
    V2Response {
        nt_response,
        lm_response,
        session_base_key: hmac_md5(response_key, &[&nt_proof]),
    }
}

/// The AUTHENTICATE message (MS-NLMP 2.2.1.3) without Version and MIC fields.
///
/// When the server sent a timestamp, the LM response is 24 zero bytes (MS-NLMP 3.1.5.1.2:
/// the timestamp makes LMv2 pointless and servers ignore it).
pub fn authenticate_message(
    challenge: &Challenge,
    response: &V2Response,
    user: &str,
    domain: &str,
    workstation: &str,
) -> Vec<u8> {
    let lm: Vec<u8> = if challenge.timestamp.is_some() {
        vec![0; 24]
    } else {
        response.lm_response.clone()
    };
    let domain = utf16le(domain);
    let user = utf16le(user);
    let workstation = utf16le(workstation);
    // Only the flags both sides have, as the server answered them (MS-NLMP 3.1.5.1.2).
    let flags = CLIENT_FLAGS & challenge.flags | NEGOTIATE_UNICODE;

    const HEADER: usize = 64;
    let fields: [&[u8]; 6] = [
        &lm,
        &response.nt_response,
        &domain,
        &user,
        &workstation,
        &[],
    ];
    let mut w = Writer::new();
    w.bytes(SIGNATURE).u32(3);
    let mut offset = HEADER;
    for f in fields {
        w.u16(f.len() as u16).u16(f.len() as u16).u32(offset as u32);
        offset += f.len();
    }
    w.u32(flags);
    debug_assert_eq!(w.len(), HEADER);
    for f in fields {
        w.bytes(f);
    }
    w.into_inner()
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

    // MS-NLMP 4.2.4 (NTLMv2 authentication): User "User", domain "Domain", password
    // "Password", server challenge 0123456789abcdef, client challenge aa*8, time 0, and the
    // AV pairs MsvAvNbDomainName "Domain", MsvAvNbComputerName "Server", MsvAvEOL.
    const AV_PAIRS: &str =
        "02000c0044006f006d00610069006e0001000c0053006500720076006500720000000000";

    #[test]
    fn ntowf_v2_matches_ms_nlmp_4_2_4_1_1() {
        assert_eq!(
            ntowf_v2("Password", "User", "Domain").to_vec(),
            hex("0c868a403bfd7a93a3001ef22ef02e3f")
        );
        // Only the user name is upper-cased.
        assert_eq!(
            ntowf_v2("Password", "user", "Domain"),
            ntowf_v2("Password", "User", "Domain")
        );
        assert_ne!(
            ntowf_v2("Password", "User", "domain"),
            ntowf_v2("Password", "User", "Domain")
        );
    }

    #[test]
    fn v2_response_matches_ms_nlmp_4_2_4() {
        let key = ntowf_v2("Password", "User", "Domain");
        let r = v2_response(
            &key,
            &[0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef],
            &[0xaa; 8],
            0,
            &hex(AV_PAIRS),
        );
        // 4.2.4.2.2: NTProofStr; 4.2.4.2.1: LMv2 response; 4.2.4.1.2: session base key.
        assert_eq!(
            r.nt_response[..16].to_vec(),
            hex("68cd0ab851e51c96aabc927bebef6a1c")
        );
        assert_eq!(
            r.lm_response,
            hex("86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa")
        );
        assert_eq!(
            r.session_base_key.to_vec(),
            hex("8de40ccadbc14a82f15cb0ad0de95ca3")
        );
        // temp: 0x0101, Z(6), time, client challenge, Z(4), AV pairs, Z(4).
        let temp = &r.nt_response[16..];
        assert_eq!(&temp[..8], &[1, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&temp[16..24], &[0xaa; 8]);
        assert_eq!(&temp[28..28 + AV_PAIRS.len() / 2], hex(AV_PAIRS).as_slice());
        assert_eq!(temp.len(), 28 + AV_PAIRS.len() / 2 + 4);
    }

    #[test]
    fn parses_the_ms_nlmp_4_2_4_3_challenge_message() {
        // MS-NLMP 4.2.4.3: the CHALLENGE message of the NTLMv2 example.
        let msg = hex(concat!(
            "4e544c4d53535000020000000c000c003800000033828ae20123456789abcdef",
            "00000000000000002400240044000000060070170000000f53006500720076006500720002000c00",
            "44006f006d00610069006e0001000c0053006500720076006500720000000000"
        ));
        let c = parse_challenge(&msg).unwrap();
        assert_eq!(c.flags, 0xe28a8233);
        assert_eq!(
            c.server_challenge,
            [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]
        );
        assert_eq!(c.target_info, hex(AV_PAIRS));
        assert_eq!(c.timestamp, None);
    }

    #[test]
    fn finds_the_timestamp_av_pair() {
        let mut ti = hex("02000c0044006f006d00610069006e00");
        ti.extend_from_slice(&[7, 0, 8, 0]);
        ti.extend_from_slice(&0x01d9_0000_1234_5678u64.to_le_bytes());
        ti.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(
            find_av(&ti, AV_TIMESTAMP).unwrap(),
            Some(&0x01d9_0000_1234_5678u64.to_le_bytes()[..])
        );
    }

    #[test]
    fn rejects_a_truncated_challenge() {
        let e = parse_challenge(b"NTLMSSP\0\x02\0\0\0").unwrap_err();
        assert!(e.0.contains("CHALLENGE"), "{e}");
    }

    #[test]
    fn authenticate_message_layout() {
        let c = Challenge {
            flags: 0xe28a8233,
            server_challenge: [0; 8],
            target_info: vec![0, 0, 0, 0],
            timestamp: Some(1),
        };
        let resp = v2_response(&[0; 16], &[0; 8], &[0; 8], 1, &c.target_info);
        let m = authenticate_message(&c, &resp, "Ab", "D", "");
        assert_eq!(&m[..12], b"NTLMSSP\0\x03\0\0\0");
        // LmChallengeResponseFields: 24 zero bytes at offset 64 (timestamp present).
        assert_eq!(&m[12..20], &[24, 0, 24, 0, 64, 0, 0, 0]);
        assert_eq!(&m[64..88], &[0; 24]);
        // UserNameFields at 36: 4 bytes ("Ab" in UTF-16) after the NT response and domain.
        let user_off = 88 + resp.nt_response.len() + 2;
        assert_eq!(
            &m[36..44],
            &[4, 0, 4, 0, user_off as u8, (user_off >> 8) as u8, 0, 0]
        );
        assert_eq!(&m[user_off..user_off + 4], b"A\0b\0");
        assert_eq!(u32::from_le_bytes(m[60..64].try_into().unwrap()) & 1, 1);
    }
}

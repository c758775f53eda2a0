//! The SPNEGO (RFC 4178) envelope around NTLMSSP tokens in SMB2 SESSION_SETUP: a NegTokenInit
//! offering only NTLMSSP, a NegTokenResp carrying our AUTHENTICATE message, and extracting the
//! server's responseToken. Just enough DER for that; no I/O.

use crate::wire::WireError;

/// 1.3.6.1.5.5.2 (SPNEGO) and 1.3.6.1.4.1.311.2.2.10 (NTLMSSP), DER-encoded with tag and length.
const SPNEGO_OID: &[u8] = &[0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
const NTLMSSP_OID: &[u8] = &[
    0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a,
];

/// A DER tag-length-value with a definite length (short or long form).
fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(value);
    out
}

/// GSS-API InitialContextToken [APPLICATION 0] { SPNEGO OID, NegTokenInit { mechTypes
/// [NTLMSSP], mechToken } } (RFC 4178 4.2.1, RFC 2743 3.1).
pub fn neg_token_init(ntlm_negotiate: &[u8]) -> Vec<u8> {
    let mech_types = tlv(0xa0, &tlv(0x30, NTLMSSP_OID));
    let mech_token = tlv(0xa2, &tlv(0x04, ntlm_negotiate));
    let init = tlv(0xa0, &tlv(0x30, &[mech_types, mech_token].concat()));
    tlv(0x60, &[SPNEGO_OID, &init].concat())
}

/// NegTokenResp [1] { responseToken [2] OCTET STRING } (RFC 4178 4.2.2).
pub fn neg_token_resp(ntlm_authenticate: &[u8]) -> Vec<u8> {
    tlv(0xa1, &tlv(0x30, &tlv(0xa2, &tlv(0x04, ntlm_authenticate))))
}

/// Reads one TLV at the start of `data`: (tag, value, rest).
fn read_tlv(data: &[u8]) -> Result<(u8, &[u8], &[u8]), WireError> {
    let bad = || WireError("SPNEGO token: malformed DER".into());
    let (&tag, rest) = data.split_first().ok_or_else(bad)?;
    let (&first, mut rest) = rest.split_first().ok_or_else(bad)?;
    let len = if first < 0x80 {
        first as usize
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return Err(bad());
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| acc << 8 | *b as usize);
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return Err(bad());
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

/// The server's answer: accept state and responseToken of a NegTokenResp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegTokenResp {
    /// 0 accept-completed, 1 accept-incomplete, 2 reject, 3 request-mic.
    pub neg_state: Option<u8>,
    pub response_token: Option<Vec<u8>>,
}

pub fn parse_neg_token_resp(data: &[u8]) -> Result<NegTokenResp, WireError> {
    let (tag, body, _) = read_tlv(data)?;
    if tag != 0xa1 {
        return Err(WireError(format!(
            "SPNEGO token: expected a NegTokenResp (tag 0xa1), got tag {tag:#04x}"
        )));
    }
    let (tag, mut seq, _) = read_tlv(body)?;
    if tag != 0x30 {
        return Err(WireError(
            "SPNEGO token: NegTokenResp is not a SEQUENCE".into(),
        ));
    }
    let mut out = NegTokenResp {
        neg_state: None,
        response_token: None,
    };
    while !seq.is_empty() {
        let (tag, field, rest) = read_tlv(seq)?;
        seq = rest;
        let (inner_tag, value, _) = read_tlv(field)?;
        match (tag, inner_tag) {
            (0xa0, 0x0a) if value.len() == 1 => out.neg_state = Some(value[0]),
            (0xa2, 0x04) => out.response_token = Some(value.to_vec()),
            _ => {} // supportedMech, mechListMIC: not needed for NTLMSSP without MIC
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neg_token_init_matches_the_rfc_4178_structure() {
        let t = neg_token_init(b"NTLMSSP\0");
        // 60 len | 06 06 2b0601050502 | a0 len 30 len | a0 0e 30 0c <NTLMSSP OID> | a2 0a 04 08 ...
        let expected: Vec<u8> = [
            &[0x60, 0x28][..],
            SPNEGO_OID,
            &[0xa0, 0x1e, 0x30, 0x1c, 0xa0, 0x0e, 0x30, 0x0c],
            NTLMSSP_OID,
            &[0xa2, 0x0a, 0x04, 0x08],
            b"NTLMSSP\0",
        ]
        .concat();
        assert_eq!(t, expected);
    }

    #[test]
    fn long_lengths_use_the_long_form() {
        let t = tlv(0x04, &[0u8; 300]);
        assert_eq!(&t[..4], &[0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(read_tlv(&t).unwrap().1.len(), 300);
    }

    #[test]
    fn reads_the_response_token_of_a_server_answer() {
        // a1 { 30 { a0 { 0a 01 01 } a1 { 06 .. NTLMSSP OID } a2 { 04 03 'abc' } } }
        let mut seq = tlv(0xa0, &[0x0a, 0x01, 0x01]);
        seq.extend(tlv(0xa1, NTLMSSP_OID));
        seq.extend(tlv(0xa2, &tlv(0x04, b"abc")));
        let token = tlv(0xa1, &tlv(0x30, &seq));
        let r = parse_neg_token_resp(&token).unwrap();
        assert_eq!(r.neg_state, Some(1));
        assert_eq!(r.response_token.as_deref(), Some(&b"abc"[..]));
        assert_eq!(
            neg_token_resp(b"abc"),
            tlv(0xa1, &tlv(0x30, &tlv(0xa2, &tlv(0x04, b"abc"))))
        );
    }

    #[test]
    fn rejects_truncated_der() {
        assert!(parse_neg_token_resp(&[0xa1, 0x05, 0x30]).is_err());
        assert!(parse_neg_token_resp(&[]).is_err());
    }
}

//! Connection-oriented DCE/RPC (C706 chapter 12, MS-RPCE 2.2.2) over an SMB2 named pipe
//! (ncacn_np): one BIND to one interface with the NDR 2.0 transfer syntax, then REQUEST /
//! RESPONSE calls, reassembling multi-fragment responses. No authentication at this level:
//! the SMB2 session already authenticated and signs the pipe traffic.

use crate::error::ScanError;
use crate::smb2_client::Smb2Client;
use crate::smb2_messages::STATUS_BUFFER_OVERFLOW;
use crate::wire::{Reader, WireResult, Writer};

// Packet types (C706 12.6.4.1).
const PTYPE_REQUEST: u8 = 0;
const PTYPE_RESPONSE: u8 = 2;
const PTYPE_FAULT: u8 = 3;
const PTYPE_BIND: u8 = 11;
const PTYPE_BIND_ACK: u8 = 12;
const PTYPE_BIND_NAK: u8 = 13;
const PFC_FIRST_FRAG: u8 = 0x01;
const PFC_LAST_FRAG: u8 = 0x02;
/// Little-endian integers, ASCII characters, IEEE floats (C706 12.6.3.1, 14.2.5).
const DREP_LE: [u8; 4] = [0x10, 0, 0, 0];
const COMMON_HEADER: usize = 16;
/// A REQUEST's header: the common one, then alloc_hint, context id and opnum.
const REQUEST_HEADER: usize = COMMON_HEADER + 8;
/// The most an answer may pile up before one fragment of it is whole: a host that keeps
/// answering STATUS_BUFFER_OVERFLOW would otherwise grow the buffer until the scan's timeout.
const MAX_PENDING_ANSWER: usize = 256 * 1024;
/// What we offer for fragment sizes: the common ncacn_np value (Windows and Samba use it).
pub const MAX_FRAG: u16 = 4280;

/// An interface or transfer syntax: UUID (in the string form's field order) and version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntaxId {
    pub uuid: (u32, u16, u16, [u8; 8]),
    pub major: u16,
    pub minor: u16,
}

impl SyntaxId {
    /// 16 bytes of UUID (first three fields little-endian, the rest as written), then the
    /// major and minor version (C706 appendix A, 12.6.3.1 p_syntax_id_t).
    fn encode(&self, w: &mut Writer) {
        let (a, b, c, d) = self.uuid;
        w.u32(a)
            .u16(b)
            .u16(c)
            .bytes(&d)
            .u16(self.major)
            .u16(self.minor);
    }
}

/// NDR 2.0: 8a885d04-1ceb-11c9-9fe8-08002b104860 version 2.0 (C706 appendix I).
pub const NDR20: SyntaxId = SyntaxId {
    uuid: (
        0x8a88_5d04,
        0x1ceb,
        0x11c9,
        [0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60],
    ),
    major: 2,
    minor: 0,
};

fn common_header(w: &mut Writer, ptype: u8, flags: u8, call_id: u32) {
    w.u8(5).u8(0).u8(ptype).u8(flags).bytes(&DREP_LE);
    w.u16(0); // frag_length, patched when the PDU is complete
    w.u16(0); // auth_length
    w.u32(call_id);
}

fn finish(mut w: Writer) -> Vec<u8> {
    let len = w.len() as u16;
    w.patch_u16(8, len);
    w.into_inner()
}

/// BIND (C706 12.6.4.3) with one presentation context (id 0): `interface` over NDR 2.0.
pub fn bind_pdu(call_id: u32, interface: &SyntaxId) -> Vec<u8> {
    let mut w = Writer::new();
    common_header(&mut w, PTYPE_BIND, PFC_FIRST_FRAG | PFC_LAST_FRAG, call_id);
    w.u16(MAX_FRAG).u16(MAX_FRAG).u32(0); // max_xmit_frag, max_recv_frag, new association
    w.u8(1).u8(0).u16(0); // n_context_elem, reserved, reserved2
    w.u16(0).u8(1).u8(0); // p_cont_id, n_transfer_syn, reserved
    interface.encode(&mut w);
    NDR20.encode(&mut w);
    finish(w)
}

/// REQUEST (C706 12.6.4.9), one fragment, presentation context 0.
///
/// alm sends every request in one fragment (its stubs are small): a stub that does not fit
/// in `max_frag` bytes is refused rather than sent with a wrong length (the fragment length
/// is 16 bits) or over the size the server said it receives.
pub fn request_pdu(call_id: u32, opnum: u16, stub: &[u8], max_frag: u16) -> WireResult<Vec<u8>> {
    let total = REQUEST_HEADER + stub.len();
    if total > usize::from(max_frag) {
        return Err(crate::wire::WireError(format!(
            "a request of {total} bytes does not fit in one RPC fragment of {max_frag}"
        )));
    }
    let mut w = Writer::new();
    common_header(
        &mut w,
        PTYPE_REQUEST,
        PFC_FIRST_FRAG | PFC_LAST_FRAG,
        call_id,
    );
    w.u32(stub.len() as u32).u16(0).u16(opnum).bytes(stub);
    Ok(finish(w))
}

/// One received fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment<'a> {
    pub ptype: u8,
    pub flags: u8,
    pub call_id: u32,
    /// Everything after the 16-byte common header up to the auth verifier.
    pub body: &'a [u8],
}

/// The fragment at the start of `data` and its total length, or None when `data` holds
/// less than a whole fragment yet.
pub fn split_fragment(data: &[u8]) -> WireResult<Option<(Fragment<'_>, usize)>> {
    if data.len() < COMMON_HEADER {
        return Ok(None);
    }
    let mut r = Reader::new(data, "DCE/RPC fragment");
    let (vers, minor, ptype, flags) = (r.u8()?, r.u8()?, r.u8()?, r.u8()?);
    if vers != 5 || minor > 1 {
        return Err(r.err(format!("RPC version {vers}.{minor}, expected 5.0 or 5.1")));
    }
    let drep = r.array::<4>()?;
    if drep[0] & 0xf0 != 0x10 {
        return Err(r.err("big-endian data representation is not supported"));
    }
    let frag_len = r.u16()? as usize;
    let auth_len = r.u16()? as usize;
    let call_id = r.u32()?;
    if frag_len < COMMON_HEADER || frag_len < COMMON_HEADER + auth_len {
        return Err(r.err(format!("impossible fragment length {frag_len}")));
    }
    if data.len() < frag_len {
        return Ok(None);
    }
    // An auth verifier is 8 bytes of sec_trailer plus auth_len bytes (C706 12.6.3.1).
    let end = if auth_len > 0 {
        frag_len - auth_len - 8
    } else {
        frag_len
    };
    Ok(Some((
        Fragment {
            ptype,
            flags,
            call_id,
            body: data
                .get(COMMON_HEADER..end)
                .ok_or_else(|| r.err("bad auth length"))?,
        },
        frag_len,
    )))
}

/// What a BIND_ACK said about our one context: accepted (with the server's max fragment
/// sizes), or the provider's reason for refusing.
pub fn parse_bind_ack(body: &[u8]) -> WireResult<Result<(u16, u16), u16>> {
    let mut r = Reader::new(body, "DCE/RPC BIND_ACK");
    let max_xmit = r.u16()?;
    let max_recv = r.u16()?;
    r.skip(4)?; // assoc_group_id
    let addr_len = r.u16()? as usize;
    r.skip(addr_len)?;
    // The result list starts 4-byte aligned relative to the PDU, whose body starts at 16.
    r.align(4)?;
    let n = r.u8()?;
    r.skip(3)?;
    if n < 1 {
        return Err(r.err("no result for our presentation context"));
    }
    let result = r.u16()?;
    let reason = r.u16()?;
    Ok(if result == 0 {
        Ok((max_xmit, max_recv))
    } else {
        Err(reason)
    })
}

/// An RPC conversation over an open named pipe.
pub struct PipeRpc<'c> {
    pub smb: &'c mut Smb2Client,
    pub tree_id: u32,
    pub file_id: [u8; 16],
    host: String,
    next_call_id: u32,
    max_recv_frag: u16,
    /// The largest fragment the server receives (its BIND_ACK's max_recv_frag, at most ours).
    max_xmit_frag: u16,
}

impl<'c> PipeRpc<'c> {
    /// Binds the pipe to `interface`; refusal means the host does not offer it.
    pub async fn bind(
        smb: &'c mut Smb2Client,
        host: &str,
        tree_id: u32,
        file_id: [u8; 16],
        interface: &SyntaxId,
    ) -> Result<PipeRpc<'c>, ScanError> {
        let mut rpc = PipeRpc {
            smb,
            tree_id,
            file_id,
            host: host.to_string(),
            next_call_id: 1,
            max_recv_frag: MAX_FRAG,
            max_xmit_frag: MAX_FRAG,
        };
        let (ptype, body) = rpc.exchange(bind_pdu(1, interface)).await?;
        let wire = |e: crate::wire::WireError| {
            ScanError::protocol(host, format!("malformed RPC answer: {e}"))
        };
        match ptype {
            PTYPE_BIND_ACK => match parse_bind_ack(&body).map_err(wire)? {
                Ok((max_xmit, max_recv)) => {
                    // Our receive size is what the server transmits at most, and the other
                    // way round.
                    rpc.max_recv_frag = max_xmit.clamp(1024, MAX_FRAG);
                    rpc.max_xmit_frag = max_recv.min(MAX_FRAG);
                    rpc.next_call_id = 2;
                    Ok(rpc)
                }
                Err(reason) => Err(ScanError::protocol(
                    host,
                    format!("the host refused the service control RPC interface (reason {reason})"),
                )),
            },
            PTYPE_BIND_NAK => Err(ScanError::protocol(
                host,
                "the host rejected the RPC bind (BIND_NAK)",
            )),
            other => Err(ScanError::protocol(
                host,
                format!("unexpected RPC packet type {other} after bind"),
            )),
        }
    }

    /// One call: the stub of the RESPONSE, or the fault status as an error.
    pub async fn call(
        &mut self,
        opnum: u16,
        what: &str,
        stub: &[u8],
    ) -> Result<Vec<u8>, ScanError> {
        let call_id = self.next_call_id;
        self.next_call_id += 1;
        let pdu = request_pdu(call_id, opnum, stub, self.max_xmit_frag)
            .map_err(|e| ScanError::protocol(&self.host, format!("{what}: {}", e.0)))?;
        let (ptype, body) = self.exchange(pdu).await?;
        match ptype {
            PTYPE_RESPONSE => Ok(body),
            PTYPE_FAULT => {
                let status = Reader::new(&body, "DCE/RPC FAULT")
                    .take(12)
                    .map(|b| u32::from_le_bytes([b[8], b[9], b[10], b[11]]))
                    .unwrap_or(0);
                Err(match status {
                    5 => ScanError::access_denied(&self.host, what),
                    0x1c01_0002 => ScanError::protocol(
                        &self.host,
                        format!("{what}: the host does not implement this call"),
                    ),
                    s => ScanError::protocol(&self.host, format!("{what}: RPC fault {s:#010x}")),
                })
            }
            other => Err(ScanError::protocol(
                &self.host,
                format!("{what}: unexpected RPC packet type {other}"),
            )),
        }
    }

    /// Sends one PDU and collects the answer's fragments: returns the packet type and, for
    /// responses, the concatenated stubs (the 8-byte response header of each fragment
    /// removed); for other types the first fragment's body.
    async fn exchange(&mut self, pdu: Vec<u8>) -> Result<(u8, Vec<u8>), ScanError> {
        let host = self.host.clone();
        let wire = |e: crate::wire::WireError| {
            ScanError::protocol(&host, format!("malformed RPC answer: {e}"))
        };
        let (mut status, mut buf) = self
            .smb
            .transceive(
                self.tree_id,
                &self.file_id,
                &pdu,
                u32::from(self.max_recv_frag),
            )
            .await?;
        let mut stub = Vec::new();
        let mut first = true;
        // A response of up to 256 KiB (the SCMR limit) in 1 KiB fragments at worst.
        for _ in 0..1024 {
            // The message mode pipe returns the rest of a fragment with STATUS_BUFFER_OVERFLOW
            // set while more of it remains.
            while status == STATUS_BUFFER_OVERFLOW || split_fragment(&buf).map_err(wire)?.is_none()
            {
                let (s, more) = self
                    .smb
                    .read(self.tree_id, &self.file_id, u32::from(self.max_recv_frag))
                    .await?;
                if more.is_empty() && s != STATUS_BUFFER_OVERFLOW {
                    return Err(ScanError::protocol(
                        &host,
                        "the RPC answer ended in the middle of a fragment",
                    ));
                }
                status = s;
                buf.extend_from_slice(&more);
                if buf.len() > MAX_PENDING_ANSWER {
                    return Err(ScanError::protocol(
                        &host,
                        format!("the RPC answer exceeds {MAX_PENDING_ANSWER} bytes without a whole fragment"),
                    ));
                }
            }
            let (frag, len) = split_fragment(&buf).map_err(wire)?.expect("checked above");
            if first && frag.flags & PFC_FIRST_FRAG == 0 {
                return Err(ScanError::protocol(
                    &host,
                    "the RPC answer did not start with a first fragment",
                ));
            }
            first = false;
            if frag.ptype != PTYPE_RESPONSE {
                return Ok((frag.ptype, frag.body.to_vec()));
            }
            // alloc_hint(4) p_cont_id(2) cancel_count(1) reserved(1), then the stub.
            stub.extend_from_slice(
                frag.body
                    .get(8..)
                    .ok_or_else(|| wire(crate::wire::WireError("short RESPONSE".into())))?,
            );
            let last = frag.flags & PFC_LAST_FRAG != 0;
            buf.drain(..len);
            if last {
                return Ok((PTYPE_RESPONSE, stub));
            }
        }
        Err(ScanError::protocol(
            &host,
            "the RPC answer has too many fragments",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCMR: SyntaxId = SyntaxId {
        uuid: (
            0x367a_bb81,
            0x9844,
            0x35f1,
            [0xad, 0x32, 0x98, 0xf0, 0x38, 0x00, 0x10, 0x03],
        ),
        major: 2,
        minor: 0,
    };

    #[test]
    fn bind_pdu_follows_c706_12_6_4_3() {
        let p = bind_pdu(1, &SCMR);
        let expected: Vec<u8> = [
            // version 5.0, bind, first|last, drep LE/ASCII, frag_length 72, auth 0, call 1
            &[5, 0, 11, 3, 0x10, 0, 0, 0, 72, 0, 0, 0, 1, 0, 0, 0][..],
            // max_xmit 4280, max_recv 4280, assoc group 0
            &[0xb8, 0x10, 0xb8, 0x10, 0, 0, 0, 0],
            // one context, id 0, one transfer syntax
            &[1, 0, 0, 0, 0, 0, 1, 0],
            // 367ABB81-9844-35F1-AD32-98F038001003 v2.0
            &[0x81, 0xbb, 0x7a, 0x36, 0x44, 0x98, 0xf1, 0x35],
            &[0xad, 0x32, 0x98, 0xf0, 0x38, 0x00, 0x10, 0x03, 2, 0, 0, 0],
            // 8a885d04-1ceb-11c9-9fe8-08002b104860 v2
            &[0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11],
            &[0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60, 2, 0, 0, 0],
        ]
        .concat();
        assert_eq!(p, expected);
    }

    #[test]
    fn request_pdu_follows_c706_12_6_4_9() {
        let p = request_pdu(7, 15, &[0xaa, 0xbb, 0xcc, 0xdd], MAX_FRAG).unwrap();
        assert_eq!(
            p,
            vec![
                5, 0, 0, 3, 0x10, 0, 0, 0, 28, 0, 0, 0, 7, 0, 0, 0, // header, frag_length 28
                4, 0, 0, 0, 0, 0, 15, 0, // alloc_hint 4, context 0, opnum 15
                0xaa, 0xbb, 0xcc, 0xdd,
            ]
        );
    }

    #[test]
    fn a_request_that_does_not_fit_in_one_fragment_is_refused() {
        // 24 header bytes + 4256 = 4280, the fragment size offered: fits exactly.
        let fits = request_pdu(1, 14, &[0; 4256], MAX_FRAG).unwrap();
        assert_eq!(fits.len(), 4280);
        assert_eq!(u16::from_le_bytes([fits[8], fits[9]]), 4280);
        let err = request_pdu(1, 14, &[0; 4257], MAX_FRAG).unwrap_err();
        assert!(
            err.0.contains("4281 bytes") && err.0.contains("4280"),
            "{}",
            err.0
        );
        // A server that receives less: its size is the limit.
        assert!(request_pdu(1, 14, &[0; 1001], 1024).is_err());
        // The 16-bit length can no longer wrap: 65,536 bytes are refused, not sent as 0.
        assert!(request_pdu(1, 14, &[0; 65_512], u16::MAX).is_err());
    }

    #[test]
    fn splits_fragments_and_waits_for_whole_ones() {
        let mut resp = vec![5, 0, 2, 3, 0x10, 0, 0, 0, 28, 0, 0, 0, 9, 0, 0, 0];
        resp.extend_from_slice(&[4, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
        assert_eq!(split_fragment(&resp[..20]).unwrap(), None);
        let (f, len) = split_fragment(&resp).unwrap().unwrap();
        assert_eq!(
            (f.ptype, f.flags, f.call_id, len),
            (PTYPE_RESPONSE, 3, 9, 28)
        );
        assert_eq!(&f.body[8..], &[1, 2, 3, 4]);
        resp[0] = 4;
        assert!(split_fragment(&resp).is_err());
    }

    #[test]
    fn parses_a_bind_ack_accepting_ndr() {
        // max_xmit 4280, max_recv 4280, assoc 0x1234, sec_addr "\PIPE\svcctl" (13 bytes with
        // NUL), padding to 4, one result: acceptance, NDR 2.0.
        let mut b = Writer::new();
        b.u16(4280)
            .u16(4280)
            .u32(0x1234)
            .u16(13)
            .bytes(b"\\PIPE\\svcctl\0");
        // body offset 16 + 8 + 2 + 13 = 39: one pad byte to 40.
        b.u8(0);
        b.u8(1).u8(0).u16(0).u16(0).u16(0);
        NDR20.encode(&mut b);
        assert_eq!(parse_bind_ack(&b.buf).unwrap(), Ok((4280, 4280)));
    }

    #[test]
    fn parses_a_bind_ack_refusing_the_context() {
        let mut b = Writer::new();
        b.u16(4280).u16(4280).u32(0).u16(0).u16(0); // empty sec_addr, pad to 4
        b.u8(1).u8(0).u16(0).u16(2).u16(1); // provider rejection, abstract syntax not supported
        b.zeros(20);
        assert_eq!(parse_bind_ack(&b.buf).unwrap(), Err(1));
    }
}

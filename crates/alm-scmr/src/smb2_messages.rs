//! SMB2 message encoding and decoding (MS-SMB2 2.2): the header and the few commands a named
//! pipe client needs (NEGOTIATE, SESSION_SETUP, TREE_CONNECT, CREATE, IOCTL, READ, CLOSE,
//! TREE_DISCONNECT, LOGOFF). Pure functions over bytes; the connection lives in `smb2_client`.

use crate::wire::{slice_at, utf16le, Reader, WireResult, Writer};

pub const HEADER_LEN: usize = 64;

/// Command codes (MS-SMB2 2.2.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum Command {
    Negotiate = 0x00,
    SessionSetup = 0x01,
    Logoff = 0x02,
    TreeConnect = 0x03,
    TreeDisconnect = 0x04,
    Create = 0x05,
    Close = 0x06,
    Read = 0x08,
    Ioctl = 0x0b,
}

/// The dialects we offer: 2.1, 3.0, 3.0.2. 2.0.2 (Vista/2008) is left out: it has no
/// multi-credit rules and nothing current speaks only it. 3.1.1 would need pre-auth integrity
/// hashing and negotiate contexts for no gain on a named pipe.
pub const DIALECTS: [u16; 3] = [0x0210, 0x0300, 0x0302];

// Header flags (MS-SMB2 2.2.1).
pub const FLAGS_ASYNC_COMMAND: u32 = 0x0000_0002;

// Status codes the client acts on (MS-ERREF 2.3.1).
pub const STATUS_SUCCESS: u32 = 0x0000_0000;
pub const STATUS_PENDING: u32 = 0x0000_0103;
pub const STATUS_BUFFER_OVERFLOW: u32 = 0x8000_0005;
pub const STATUS_MORE_PROCESSING_REQUIRED: u32 = 0xc000_0016;

/// Security mode bit (MS-SMB2 2.2.3): we can sign. We always sign once logged on, so whether
/// the server requires it does not matter.
pub const SIGNING_ENABLED: u16 = 0x0001;

/// Session flags of the SESSION_SETUP response (MS-SMB2 2.2.6).
pub const SESSION_FLAG_IS_GUEST: u16 = 0x0001;
pub const SESSION_FLAG_IS_NULL: u16 = 0x0002;

/// The fields of a request header we vary.
#[derive(Debug, Clone, Copy)]
pub struct RequestHeader {
    pub command: Command,
    pub credit_charge: u16,
    pub message_id: u64,
    pub tree_id: u32,
    pub session_id: u64,
}

/// The 64-byte sync header of a request (MS-SMB2 2.2.1.2), signature zero.
pub fn encode_header(h: &RequestHeader) -> Writer {
    let mut w = Writer::new();
    w.bytes(b"\xfeSMB").u16(64).u16(h.credit_charge);
    w.u32(0); // ChannelSequence/Reserved
    w.u16(h.command as u16);
    w.u16(32); // CreditRequest: plenty for one request at a time
    w.u32(0); // Flags (the signer sets SIGNED)
    w.u32(0); // NextCommand: no compounding
    w.u64(h.message_id);
    w.u32(0xfeff); // Reserved (ProcessId)
    w.u32(h.tree_id);
    w.u64(h.session_id);
    w.zeros(16);
    w
}

/// A response header (sync or async form; MS-SMB2 2.2.1.1/2.2.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHeader {
    pub status: u32,
    pub command: u16,
    pub flags: u32,
    pub message_id: u64,
    pub tree_id: u32,
    pub session_id: u64,
}

pub fn parse_header(msg: &[u8]) -> WireResult<ResponseHeader> {
    let mut r = Reader::new(msg, "SMB2 header");
    if r.take(4)? != b"\xfeSMB" {
        return Err(r.err("not an SMB2 message (protocol id is not 0xFE 'SMB')"));
    }
    if r.u16()? != 64 {
        return Err(r.err("structure size is not 64"));
    }
    r.skip(2)?; // CreditCharge
    let status = r.u32()?;
    let command = r.u16()?;
    r.skip(2)?; // CreditResponse
    let flags = r.u32()?;
    r.skip(4)?; // NextCommand
    let message_id = r.u64()?;
    let tree_id = if flags & FLAGS_ASYNC_COMMAND != 0 {
        r.skip(8)?; // AsyncId
        0
    } else {
        r.skip(4)?;
        r.u32()?
    };
    let session_id = r.u64()?;
    Ok(ResponseHeader {
        status,
        command,
        flags,
        message_id,
        tree_id,
        session_id,
    })
}

/// NEGOTIATE request body (MS-SMB2 2.2.3).
pub fn negotiate_body(w: &mut Writer, client_guid: &[u8; 16]) {
    w.u16(36)
        .u16(DIALECTS.len() as u16)
        .u16(SIGNING_ENABLED)
        .u16(0);
    w.u32(0); // Capabilities: none needed for a named pipe
    w.bytes(client_guid);
    w.u64(0); // ClientStartTime
    for d in DIALECTS {
        w.u16(d);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiateResponse {
    pub security_mode: u16,
    pub dialect: u16,
    pub max_transact_size: u32,
    pub max_read_size: u32,
}

pub fn parse_negotiate(msg: &[u8]) -> WireResult<NegotiateResponse> {
    let mut r = Reader::new(msg, "SMB2 NEGOTIATE response");
    r.seek(HEADER_LEN)?;
    if r.u16()? != 65 {
        return Err(r.err("structure size is not 65"));
    }
    let security_mode = r.u16()?;
    let dialect = r.u16()?;
    r.skip(2 + 16 + 4)?; // NegotiateContextCount, ServerGuid, Capabilities
    let max_transact_size = r.u32()?;
    let max_read_size = r.u32()?;
    Ok(NegotiateResponse {
        security_mode,
        dialect,
        max_transact_size,
        max_read_size,
    })
}

/// SESSION_SETUP request body (MS-SMB2 2.2.5) carrying a security token.
pub fn session_setup_body(w: &mut Writer, token: &[u8]) {
    w.u16(25).u8(0).u8(SIGNING_ENABLED as u8).u32(0).u32(0);
    w.u16((HEADER_LEN + 24) as u16).u16(token.len() as u16);
    w.u64(0); // PreviousSessionId
    w.bytes(token);
}

/// SESSION_SETUP response (MS-SMB2 2.2.6): session flags and the server's security token.
pub fn parse_session_setup(msg: &[u8]) -> WireResult<(u16, Vec<u8>)> {
    let mut r = Reader::new(msg, "SMB2 SESSION_SETUP response");
    r.seek(HEADER_LEN)?;
    if r.u16()? != 9 {
        return Err(r.err("structure size is not 9"));
    }
    let flags = r.u16()?;
    let off = r.u16()? as usize;
    let len = r.u16()? as usize;
    let token = slice_at(msg, off, len, "SMB2 SESSION_SETUP security buffer")?;
    Ok((flags, token.to_vec()))
}

/// TREE_CONNECT request body (MS-SMB2 2.2.9) for a UNC path like `\\host\IPC$`.
pub fn tree_connect_body(w: &mut Writer, unc_path: &str) {
    let path = utf16le(unc_path);
    w.u16(9)
        .u16(0)
        .u16((HEADER_LEN + 8) as u16)
        .u16(path.len() as u16);
    w.bytes(&path);
}

/// CREATE request body (MS-SMB2 2.2.13) opening an existing named pipe for read and write.
pub fn create_pipe_body(w: &mut Writer, pipe_name: &str) {
    let name = utf16le(pipe_name);
    w.u16(57).u8(0).u8(0); // SecurityFlags, RequestedOplockLevel: none
    w.u32(2); // ImpersonationLevel: Impersonation
    w.u64(0).u64(0); // SmbCreateFlags, Reserved
                     // DesiredAccess: read/write data, append, EAs, attributes, READ_CONTROL, SYNCHRONIZE.
    w.u32(0x0012_019f);
    w.u32(0); // FileAttributes
    w.u32(0x0000_0003); // ShareAccess: read | write
    w.u32(1); // CreateDisposition: FILE_OPEN
    w.u32(0x0000_0040); // CreateOptions: FILE_NON_DIRECTORY_FILE
    w.u16((HEADER_LEN + 56) as u16).u16(name.len() as u16);
    w.u32(0).u32(0); // no create contexts
    w.bytes(&name);
}

/// The FileId of a CREATE response (MS-SMB2 2.2.14): 16 bytes at body offset 64.
pub fn parse_create(msg: &[u8]) -> WireResult<[u8; 16]> {
    let mut r = Reader::new(msg, "SMB2 CREATE response");
    r.seek(HEADER_LEN)?;
    if r.u16()? != 89 {
        return Err(r.err("structure size is not 89"));
    }
    r.seek(HEADER_LEN + 64)?;
    r.array::<16>()
}

/// FSCTL_PIPE_TRANSCEIVE (MS-FSCC 2.3.49): write a message to the pipe and read the answer
/// in one round trip.
pub const FSCTL_PIPE_TRANSCEIVE: u32 = 0x0011_c017;

/// IOCTL request body (MS-SMB2 2.2.31) for an FSCTL with input data.
pub fn ioctl_body(w: &mut Writer, ctl_code: u32, file_id: &[u8; 16], input: &[u8], max_out: u32) {
    w.u16(57).u16(0).u32(ctl_code).bytes(file_id);
    w.u32((HEADER_LEN + 56) as u32).u32(input.len() as u32);
    w.u32(0); // MaxInputResponse
    w.u32(0).u32(0); // OutputOffset, OutputCount
    w.u32(max_out);
    w.u32(1); // Flags: SMB2_0_IOCTL_IS_FSCTL
    w.u32(0);
    w.bytes(input);
}

/// The output buffer of an IOCTL response (MS-SMB2 2.2.32).
pub fn parse_ioctl(msg: &[u8]) -> WireResult<Vec<u8>> {
    let mut r = Reader::new(msg, "SMB2 IOCTL response");
    r.seek(HEADER_LEN)?;
    if r.u16()? != 49 {
        return Err(r.err("structure size is not 49"));
    }
    r.skip(2 + 4 + 16 + 8)?; // Reserved, CtlCode, FileId, InputOffset, InputCount
    let off = r.u32()? as usize;
    let len = r.u32()? as usize;
    Ok(slice_at(msg, off, len, "SMB2 IOCTL output")?.to_vec())
}

/// READ request body (MS-SMB2 2.2.19).
pub fn read_body(w: &mut Writer, file_id: &[u8; 16], length: u32) {
    w.u16(49).u8(0x50).u8(0).u32(length).u64(0).bytes(file_id);
    w.u32(0).u32(0).u32(0).u16(0).u16(0); // MinimumCount, Channel, Remaining, channel info
    w.u8(0); // the Buffer field must hold one byte
}

/// The data of a READ response (MS-SMB2 2.2.20).
pub fn parse_read(msg: &[u8]) -> WireResult<Vec<u8>> {
    let mut r = Reader::new(msg, "SMB2 READ response");
    r.seek(HEADER_LEN)?;
    if r.u16()? != 17 {
        return Err(r.err("structure size is not 17"));
    }
    let off = r.u8()? as usize;
    r.skip(1)?;
    let len = r.u32()? as usize;
    Ok(slice_at(msg, off, len, "SMB2 READ data")?.to_vec())
}

/// CLOSE request body (MS-SMB2 2.2.15).
pub fn close_body(w: &mut Writer, file_id: &[u8; 16]) {
    w.u16(24).u16(0).u32(0).bytes(file_id);
}

/// TREE_DISCONNECT and LOGOFF request bodies (MS-SMB2 2.2.11, 2.2.7): size 4, reserved.
pub fn empty_body(w: &mut Writer) {
    w.u16(4).u16(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(cmd: Command) -> RequestHeader {
        RequestHeader {
            command: cmd,
            credit_charge: 1,
            message_id: 0x0102,
            tree_id: 7,
            session_id: 0x1122_3344_5566_7788,
        }
    }

    #[test]
    fn request_header_layout_follows_ms_smb2_2_2_1_2() {
        let w = encode_header(&header(Command::Ioctl)).into_inner();
        assert_eq!(w.len(), 64);
        assert_eq!(&w[0..4], b"\xfeSMB");
        assert_eq!(&w[4..6], &[64, 0]); // StructureSize
        assert_eq!(&w[6..8], &[1, 0]); // CreditCharge
        assert_eq!(&w[12..14], &[0x0b, 0]); // Command
        assert_eq!(&w[24..32], &[2, 1, 0, 0, 0, 0, 0, 0]); // MessageId
        assert_eq!(&w[36..40], &[7, 0, 0, 0]); // TreeId
        assert_eq!(
            &w[40..48],
            &[0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]
        );
    }

    #[test]
    fn bodies_have_their_documented_fixed_sizes() {
        // The StructureSize of a request counts the fixed part plus one byte of buffer
        // (MS-SMB2 2.2): so the buffer starts at 64 + (size - 1) rounded down to even.
        let mut w = Writer::new();
        negotiate_body(&mut w, &[0; 16]);
        assert_eq!(w.len(), 36 + 2 * DIALECTS.len());
        let mut w = Writer::new();
        session_setup_body(&mut w, b"tok");
        assert_eq!(w.len(), 24 + 3);
        assert_eq!(&w.buf[12..16], &[88, 0, 3, 0]);
        let mut w = Writer::new();
        create_pipe_body(&mut w, "svcctl");
        assert_eq!(w.len(), 56 + 12);
        assert_eq!(&w.buf[44..48], &[120, 0, 12, 0]); // NameOffset, NameLength
        let mut w = Writer::new();
        ioctl_body(&mut w, FSCTL_PIPE_TRANSCEIVE, &[0; 16], b"abcd", 4280);
        assert_eq!(w.len(), 56 + 4);
        assert_eq!(&w.buf[4..8], &[0x17, 0xc0, 0x11, 0x00]);
        assert_eq!(&w.buf[24..28], &[120, 0, 0, 0]); // InputOffset
        let mut w = Writer::new();
        read_body(&mut w, &[0; 16], 100);
        assert_eq!(w.len(), 49);
        let mut w = Writer::new();
        close_body(&mut w, &[0; 16]);
        assert_eq!(w.len(), 24);
        let mut w = Writer::new();
        tree_connect_body(&mut w, r"\\h\IPC$");
        assert_eq!(&w.buf[..8], &[9, 0, 0, 0, 72, 0, 16, 0]);
    }

    fn response(cmd: u16, status: u32, body: &[u8]) -> Vec<u8> {
        let mut w = encode_header(&header(Command::Negotiate));
        w.patch_u32(8, status);
        w.patch_u16(12, cmd);
        w.patch_u32(16, 0x0000_0001); // SERVER_TO_REDIR
        w.bytes(body);
        w.into_inner()
    }

    #[test]
    fn parses_response_headers() {
        let msg = response(3, STATUS_MORE_PROCESSING_REQUIRED, &[]);
        let h = parse_header(&msg).unwrap();
        assert_eq!(h.status, 0xc000_0016);
        assert_eq!(h.command, 3);
        assert_eq!(h.message_id, 0x0102);
        assert_eq!(h.tree_id, 7);
        assert_eq!(h.session_id, 0x1122_3344_5566_7788);
        assert!(parse_header(b"\xffSMB").is_err());
    }

    #[test]
    fn parses_an_ioctl_response_output() {
        let mut body = Writer::new();
        body.u16(49).u16(0).u32(FSCTL_PIPE_TRANSCEIVE).zeros(16);
        body.u32(0).u32(0).u32(64 + 48).u32(3).u32(0).u32(0);
        body.bytes(b"xyz");
        let msg = response(0x0b, 0, &body.into_inner());
        assert_eq!(parse_ioctl(&msg).unwrap(), b"xyz");
    }

    #[test]
    fn parses_a_read_response_and_rejects_bad_offsets() {
        let mut body = Writer::new();
        body.u16(17).u8(80).u8(0).u32(2).u32(0).u32(0).bytes(b"ok");
        let msg = response(8, 0, &body.into_inner());
        assert_eq!(parse_read(&msg).unwrap(), b"ok");
        let mut body = Writer::new();
        body.u16(17).u8(200).u8(0).u32(2).u32(0).u32(0).bytes(b"ok");
        assert!(parse_read(&response(8, 0, &body.into_inner())).is_err());
    }
}

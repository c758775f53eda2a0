//! Fuzz targets of the host scan's parsers: every byte they read comes from a host on the
//! network, which may be hostile. Fed any bytes, the SMB2, NTLMSSP, SPNEGO, DCE/RPC, NDR and
//! MS-SCMR decoders never panic, return nothing larger than what they were given, and make no
//! allocation sized by a length field rather than by the bytes that arrived (a global allocator
//! in the test binary records the largest allocation of each run). What the encoders write,
//! the decoders read back. `scripts/fuzz.sh` runs these coverage-guided; `cargo test` gives
//! each a second of random input.

use crate::dcerpc::{parse_bind_ack, request_pdu, split_fragment, MAX_FRAG};
use crate::ndr::{NdrReader, NdrWriter};
use crate::smb2_messages as smb2;
use crate::{ntlm, scmr, spnego};
use bolero::TypeGenerator;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, noting the largest allocation (or reallocation) on each thread.
struct LargestAllocation;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
}

// SAFETY: every call is passed to `System` unchanged; noting a size allocates nothing.
unsafe impl GlobalAlloc for LargestAllocation {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: LargestAllocation = LargestAllocation;

/// Runs `parse` on `input` and checks that no allocation outgrew the input: a few KiB for
/// messages and small vectors, plus a small multiple of the input (UTF-16 to UTF-8, copies).
fn parse_within_input(input: &[u8], parse: impl FnOnce(&[u8])) {
    LARGEST.with(|largest| largest.set(0));
    parse(input);
    let largest = LARGEST.with(Cell::get);
    let limit = 16 * 1024 + 8 * input.len();
    assert!(
        largest <= limit,
        "an allocation of {largest} bytes for {} bytes of input",
        input.len()
    );
}

/// The answers of the SMB2 session (negotiate, session setup with its NTLMSSP challenge inside
/// SPNEGO, create, ioctl, read).
#[test]
fn fuzz_smb2_and_session_answers() {
    bolero::check!().for_each(|input: &[u8]| {
        parse_within_input(input, |msg| {
            if smb2::parse_header(msg).is_ok() {
                // Up to SessionId, sync or async form (the signature that follows is the
                // signer's to check).
                assert!(msg.len() >= 48);
            }
            let _ = smb2::parse_negotiate(msg);
            if let Ok((_, token)) = smb2::parse_session_setup(msg) {
                assert!(token.len() <= msg.len());
            }
            let _ = smb2::parse_create(msg);
            for out in [smb2::parse_ioctl(msg), smb2::parse_read(msg)]
                .into_iter()
                .flatten()
            {
                assert!(out.len() <= msg.len());
            }
            if let Ok(challenge) = ntlm::parse_challenge(msg) {
                assert!(challenge.target_info.len() <= msg.len());
            }
            if let Ok(answer) = spnego::parse_neg_token_resp(msg) {
                assert!(answer.response_token.map_or(0, |t| t.len()) <= msg.len());
            }
        });
    });
}

/// A stream of DCE/RPC fragments, split as the pipe reader splits them: each fragment lies
/// within what arrived, and a BIND_ACK body is read without panicking. A REQUEST alm writes
/// splits back into its own header and stub.
#[test]
fn fuzz_dcerpc_fragments() {
    bolero::check!().for_each(|input: &[u8]| {
        parse_within_input(input, |data| {
            let mut rest = data;
            while let Ok(Some((fragment, len))) = split_fragment(rest) {
                assert!((16..=rest.len()).contains(&len));
                assert!(fragment.body.len() <= len - 16);
                let _ = parse_bind_ack(fragment.body);
                rest = &rest[len..];
            }
        });
        let stub = &input[..input.len().min(4096)];
        let pdu = request_pdu(7, 14, stub, MAX_FRAG).expect("4,096 bytes fit in 4,280");
        let (fragment, len) = split_fragment(&pdu).expect("a PDU").expect("a whole one");
        assert_eq!((fragment.ptype, fragment.call_id, len), (0, 7, pdu.len()));
        // alloc_hint, context id, opnum, then the stub.
        assert_eq!(&fragment.body[8..], stub);
        assert_eq!(u16::from_le_bytes([fragment.body[6], fragment.body[7]]), 14);
    });
}

/// How many ENUM_SERVICE_STATUSW entries (36 bytes each) can start in `buffer`: the parser
/// reads the first 16 bytes of each (two offsets, the type and the state), so the last may be
/// cut after those.
fn entries_within(buffer: &[u8]) -> usize {
    if buffer.len() < 16 {
        0
    } else {
        (buffer.len() - 16) / 36 + 1
    }
}

/// The service manager's answers (handles, the enumeration and its buffer of offsets,
/// service configurations).
#[test]
fn fuzz_scmr_answers() {
    bolero::check!().for_each(|input: &[u8]| {
        parse_within_input(input, |stub| {
            let _ = scmr::decode_handle_reply(stub, "ROpenSCManagerW answer");
            if let Ok(reply) = scmr::decode_enum_services(stub) {
                assert!(reply.buffer.len() <= stub.len());
                if let Ok(entries) = scmr::parse_enum_buffer(&reply.buffer, reply.returned) {
                    assert!(entries.len() <= entries_within(&reply.buffer));
                }
            }
            // The enumeration buffer alone, with a count from the first bytes.
            if let Some((count, buffer)) = stub.split_first_chunk::<4>() {
                let count = u32::from_le_bytes(*count);
                if let Ok(entries) = scmr::parse_enum_buffer(buffer, count) {
                    assert!(entries.len() <= count as usize);
                    assert!(entries.len() <= entries_within(buffer));
                }
            }
            if let Ok((config, _, _)) = scmr::decode_query_config(stub) {
                let text =
                    config.binary_path.len() + config.start_name.len() + config.display_name.len();
                // UTF-16 to UTF-8: at most 3 bytes for every 2 read.
                assert!(text <= 3 * stub.len() / 2);
            }
        });
    });
}

/// What the NDR writer writes — unique pointers to strings or NULL, DWORDs — the reader reads
/// back (a string's trailing NULs excepted: the reader drops the terminator).
#[derive(Debug, TypeGenerator)]
enum NdrValue {
    String(Option<String>),
    Dword(u32),
}

#[test]
fn fuzz_ndr_round_trip() {
    bolero::check!()
        .with_type::<Vec<NdrValue>>()
        .for_each(|values| {
            let mut w = NdrWriter::new();
            for v in values {
                match v {
                    NdrValue::String(s) => w.unique_wstring(s.as_deref()),
                    NdrValue::Dword(n) => w.u32(*n),
                };
            }
            let stub = w.finish();
            assert_eq!(stub.len() % 4, 0);
            let mut r = NdrReader::new(&stub, "round trip");
            for v in values {
                match v {
                    NdrValue::String(None) => assert_eq!(r.u32(), Ok(0)),
                    NdrValue::String(Some(s)) => {
                        assert_ne!(r.u32(), Ok(0), "a referent id");
                        assert_eq!(r.wstring().as_deref(), Ok(s.trim_end_matches('\0')));
                    }
                    NdrValue::Dword(n) => assert_eq!(r.u32(), Ok(*n)),
                }
            }
        });
}

/// Found by `fuzz_scmr_answers`: the enumeration reserved room for up to 4096 entries (229,376
/// bytes) on the host's word, before looking at the buffer those entries must fit in.
#[test]
fn an_enumeration_count_reserves_no_more_than_its_buffer_holds() {
    parse_within_input(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0], |stub| {
        let (count, buffer) = stub.split_first_chunk::<4>().expect("4 bytes");
        assert!(scmr::parse_enum_buffer(buffer, u32::from_le_bytes(*count)).is_err());
    });
}

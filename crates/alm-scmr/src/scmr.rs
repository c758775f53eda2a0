//! The five MS-SCMR calls the host scan makes, as NDR stubs (encoders and decoders, no I/O),
//! and `list`, which drives them over a bound pipe: open the service manager, enumerate the
//! Win32 services, and read each one's configuration (start account, binary, start type).

use crate::dcerpc::{PipeRpc, SyntaxId};
use crate::error::ScanError;
use crate::ndr::{ContextHandle, NdrReader, NdrWriter};
use crate::services::{ServiceEntry, ServiceState, StartType};
use crate::wire::{from_utf16le, Reader, WireResult};

/// svcctl: 367ABB81-9844-35F1-AD32-98F038001003 version 2.0 (MS-SCMR 2.1).
pub const SVCCTL: SyntaxId = SyntaxId {
    uuid: (
        0x367a_bb81,
        0x9844,
        0x35f1,
        [0xad, 0x32, 0x98, 0xf0, 0x38, 0x00, 0x10, 0x03],
    ),
    major: 2,
    minor: 0,
};

// Opnums (MS-SCMR 3.1.4).
const OP_CLOSE_SERVICE_HANDLE: u16 = 0;
const OP_ENUM_SERVICES_STATUS_W: u16 = 14;
const OP_OPEN_SC_MANAGER_W: u16 = 15;
const OP_OPEN_SERVICE_W: u16 = 16;
const OP_QUERY_SERVICE_CONFIG_W: u16 = 17;

// Access rights (MS-SCMR 3.1.4): connect + enumerate on the manager, query config on services.
const SC_MANAGER_CONNECT: u32 = 0x0001;
const SC_MANAGER_ENUMERATE_SERVICE: u32 = 0x0004;
const SERVICE_QUERY_CONFIG: u32 = 0x0001;
/// SERVICE_WIN32 = own process | share process: services with accounts, not drivers.
const SERVICE_WIN32: u32 = 0x0000_0030;
const SERVICE_STATE_ALL: u32 = 0x0000_0003;
/// cbBufSize limits: 256 KiB for REnumServicesStatusW, 8 KiB for RQueryServiceConfigW.
const MAX_ENUM_BUFFER: u32 = 256 * 1024;
const MAX_CONFIG_BUFFER: u32 = 8 * 1024;

// Win32 error codes (MS-ERREF 2.2).
pub const ERROR_SUCCESS: u32 = 0;
pub const ERROR_ACCESS_DENIED: u32 = 5;
#[cfg(test)]
pub const ERROR_INSUFFICIENT_BUFFER: u32 = 122;
pub const ERROR_MORE_DATA: u32 = 234;

/// ROpenSCManagerW (opnum 15) request: [unique, string] lpMachineName, [unique, string]
/// lpDatabaseName (NULL: the active database), dwDesiredAccess.
pub fn open_sc_manager_request(machine: &str) -> Vec<u8> {
    let mut w = NdrWriter::new();
    w.unique_wstring(Some(machine))
        .unique_wstring(None)
        .u32(SC_MANAGER_CONNECT | SC_MANAGER_ENUMERATE_SERVICE);
    w.finish()
}

/// A handle and the return code, the answer of ROpenSCManagerW and ROpenServiceW.
pub fn decode_handle_reply(stub: &[u8], what: &'static str) -> WireResult<(ContextHandle, u32)> {
    let mut r = NdrReader::new(stub, what);
    Ok((r.handle()?, r.u32()?))
}

/// REnumServicesStatusW (opnum 14) request: hSCManager, dwServiceType, dwServiceState,
/// cbBufSize, [in, out, unique] lpResumeIndex.
pub fn enum_services_request(scm: &ContextHandle, buf_size: u32, resume: Option<u32>) -> Vec<u8> {
    let mut w = NdrWriter::new();
    w.handle(scm)
        .u32(SERVICE_WIN32)
        .u32(SERVICE_STATE_ALL)
        .u32(buf_size)
        .unique_u32(resume);
    w.finish()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumReply {
    pub buffer: Vec<u8>,
    pub bytes_needed: u32,
    pub returned: u32,
    pub resume: Option<u32>,
    pub status: u32,
}

/// REnumServicesStatusW answer: [out, size_is(cbBufSize)] lpBuffer, pcbBytesNeeded,
/// lpServicesReturned, lpResumeIndex, return code.
pub fn decode_enum_services(stub: &[u8]) -> WireResult<EnumReply> {
    let mut r = NdrReader::new(stub, "REnumServicesStatusW answer");
    let buffer = r.byte_array()?.to_vec();
    let bytes_needed = r.u32()?;
    let returned = r.u32()?;
    let resume = match r.u32()? {
        0 => None,
        _ => Some(r.u32()?),
    };
    let status = r.u32()?;
    Ok(EnumReply {
        buffer,
        bytes_needed,
        returned,
        resume,
        status,
    })
}

/// One ENUM_SERVICE_STATUSW of the enumeration buffer (MS-SCMR 2.2.11): the two string
/// pointers are offsets from the buffer's start (it is a flat copy of the server's memory,
/// MS-SCMR 3.1.4.14), followed by SERVICE_STATUS (2.2.47, seven DWORDs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumEntry {
    pub name: String,
    pub display_name: String,
    pub service_type: u32,
    pub current_state: u32,
}

pub fn parse_enum_buffer(buffer: &[u8], count: u32) -> WireResult<Vec<EnumEntry>> {
    const ENTRY: usize = 4 + 4 + 7 * 4;
    let mut r = Reader::new(buffer, "REnumServicesStatusW buffer");
    // The count comes from the host: reserve only for the entries the buffer can hold.
    let mut out = Vec::with_capacity((count as usize).min(buffer.len() / ENTRY));
    for i in 0..count as usize {
        r.seek(i * ENTRY)?;
        let name_at = r.u32()? as usize;
        let display_at = r.u32()? as usize;
        let service_type = r.u32()?;
        let current_state = r.u32()?;
        out.push(EnumEntry {
            name: string_at(buffer, name_at)?,
            display_name: string_at(buffer, display_at)?,
            service_type,
            current_state,
        });
    }
    Ok(out)
}

/// The NUL-terminated UTF-16 string at `offset` of the enumeration buffer.
fn string_at(buffer: &[u8], offset: usize) -> WireResult<String> {
    let tail = buffer.get(offset..).ok_or_else(|| {
        crate::wire::WireError(format!(
            "REnumServicesStatusW buffer: string offset {offset} outside the {}-byte buffer",
            buffer.len()
        ))
    })?;
    let end = tail
        .chunks_exact(2)
        .position(|c| c == [0, 0])
        .map(|i| i * 2)
        .ok_or_else(|| {
            crate::wire::WireError("REnumServicesStatusW buffer: unterminated string".into())
        })?;
    Ok(from_utf16le(&tail[..end]))
}

/// ROpenServiceW (opnum 16) request: hSCManager, [string] lpServiceName (a reference
/// pointer: no referent id), dwDesiredAccess.
pub fn open_service_request(scm: &ContextHandle, name: &str) -> Vec<u8> {
    let mut w = NdrWriter::new();
    w.handle(scm).wstring(name).u32(SERVICE_QUERY_CONFIG);
    w.finish()
}

/// RQueryServiceConfigW (opnum 17) request: hService, cbBufSize.
pub fn query_config_request(service: &ContextHandle, buf_size: u32) -> Vec<u8> {
    let mut w = NdrWriter::new();
    w.handle(service).u32(buf_size);
    w.finish()
}

/// QUERY_SERVICE_CONFIGW (MS-SCMR 2.2.15), the fields the scan reports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceConfig {
    pub service_type: u32,
    pub start_type: u32,
    pub binary_path: String,
    pub start_name: String,
    pub display_name: String,
}

/// RQueryServiceConfigW answer: the structure (its five string pointers deferred after the
/// fixed part, in order), pcbBytesNeeded, return code.
pub fn decode_query_config(stub: &[u8]) -> WireResult<(ServiceConfig, u32, u32)> {
    let mut r = NdrReader::new(stub, "RQueryServiceConfigW answer");
    let service_type = r.u32()?;
    let start_type = r.u32()?;
    let _error_control = r.u32()?;
    let binary_ptr = r.u32()?;
    let group_ptr = r.u32()?;
    let _tag_id = r.u32()?;
    let deps_ptr = r.u32()?;
    let start_name_ptr = r.u32()?;
    let display_ptr = r.u32()?;
    let mut read = |ptr: u32| -> WireResult<String> {
        if ptr == 0 {
            Ok(String::new())
        } else {
            r.wstring()
        }
    };
    let binary_path = read(binary_ptr)?;
    let _group = read(group_ptr)?;
    let _deps = read(deps_ptr)?;
    let start_name = read(start_name_ptr)?;
    let display_name = read(display_ptr)?;
    let bytes_needed = r.u32()?;
    let status = r.u32()?;
    Ok((
        ServiceConfig {
            service_type,
            start_type,
            binary_path,
            start_name,
            display_name,
        },
        bytes_needed,
        status,
    ))
}

/// RCloseServiceHandle (opnum 0) request: [in, out] the handle.
pub fn close_request(handle: &ContextHandle) -> Vec<u8> {
    let mut w = NdrWriter::new();
    w.handle(handle);
    w.finish()
}

fn malformed(host: &str, e: crate::wire::WireError) -> ScanError {
    ScanError::protocol(host, format!("malformed service manager answer: {e}"))
}

fn win32_error(host: &str, what: &str, status: u32) -> ScanError {
    match status {
        ERROR_ACCESS_DENIED => ScanError::access_denied(host, what),
        s => ScanError::protocol(host, format!("{what}: the host answered Win32 error {s}")),
    }
}

/// Lists the Win32 services of the host with their configuration.
pub async fn list(rpc: &mut PipeRpc<'_>, host: &str) -> Result<Vec<ServiceEntry>, ScanError> {
    const SCM: &str = "the service control manager";
    let stub = rpc
        .call(OP_OPEN_SC_MANAGER_W, SCM, &open_sc_manager_request(host))
        .await?;
    let (scm, status) =
        decode_handle_reply(&stub, "ROpenSCManagerW answer").map_err(|e| malformed(host, e))?;
    if status != ERROR_SUCCESS {
        return Err(win32_error(host, SCM, status));
    }
    let result = list_with(rpc, host, &scm).await;
    let _ = rpc
        .call(OP_CLOSE_SERVICE_HANDLE, SCM, &close_request(&scm))
        .await;
    result
}

async fn list_with(
    rpc: &mut PipeRpc<'_>,
    host: &str,
    scm: &ContextHandle,
) -> Result<Vec<ServiceEntry>, ScanError> {
    const WHAT: &str = "the service list";
    let mut found = Vec::new();
    // Ask for the size first (an empty buffer), then for everything; a host that still has
    // more (services added meanwhile, or a 256 KiB cap) hands out a resume index.
    let mut buf_size = 0;
    let mut resume = Some(0);
    for _ in 0..64 {
        let stub = rpc
            .call(
                OP_ENUM_SERVICES_STATUS_W,
                WHAT,
                &enum_services_request(scm, buf_size, resume),
            )
            .await?;
        let reply = decode_enum_services(&stub).map_err(|e| malformed(host, e))?;
        if reply.status != ERROR_SUCCESS && reply.status != ERROR_MORE_DATA {
            return Err(win32_error(host, WHAT, reply.status));
        }
        found.extend(
            parse_enum_buffer(&reply.buffer, reply.returned).map_err(|e| malformed(host, e))?,
        );
        if reply.status == ERROR_SUCCESS {
            let mut out = Vec::with_capacity(found.len());
            for entry in found {
                out.push(describe(rpc, host, scm, entry).await?);
            }
            return Ok(out);
        }
        resume = reply.resume.or(resume);
        buf_size = reply.bytes_needed.clamp(1, MAX_ENUM_BUFFER);
    }
    Err(ScanError::protocol(
        host,
        "the service list never ended (64 rounds of ERROR_MORE_DATA)",
    ))
}

/// One service with its configuration; a service whose configuration the host refuses is
/// kept, with the reason, rather than failing the whole host.
async fn describe(
    rpc: &mut PipeRpc<'_>,
    host: &str,
    scm: &ContextHandle,
    entry: EnumEntry,
) -> Result<ServiceEntry, ScanError> {
    let what = "a service's configuration";
    let mut service = ServiceEntry {
        name: entry.name,
        display_name: entry.display_name,
        start_name: String::new(),
        binary_path: String::new(),
        start_type: StartType::Unknown,
        state: ServiceState::from_code(entry.current_state),
        config_error: None,
    };
    let stub = rpc
        .call(
            OP_OPEN_SERVICE_W,
            what,
            &open_service_request(scm, &service.name),
        )
        .await?;
    let (handle, status) =
        decode_handle_reply(&stub, "ROpenServiceW answer").map_err(|e| malformed(host, e))?;
    if status != ERROR_SUCCESS {
        service.config_error = Some(format!(
            "opening the service failed with Win32 error {status}"
        ));
        return Ok(service);
    }
    // 8 KiB is the most the call allows and more than any real configuration needs, so one
    // round trip usually does; ERROR_INSUFFICIENT_BUFFER would still say how much.
    let stub = rpc
        .call(
            OP_QUERY_SERVICE_CONFIG_W,
            what,
            &query_config_request(&handle, MAX_CONFIG_BUFFER),
        )
        .await;
    let _ = rpc
        .call(OP_CLOSE_SERVICE_HANDLE, what, &close_request(&handle))
        .await;
    let (config, _, status) = decode_query_config(&stub?).map_err(|e| malformed(host, e))?;
    if status != ERROR_SUCCESS {
        service.config_error = Some(format!(
            "reading the configuration failed with Win32 error {status}"
        ));
        return Ok(service);
    }
    service.start_name = config.start_name;
    service.binary_path = config.binary_path;
    service.start_type = StartType::from_code(config.start_type);
    Ok(service)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn le(v: u32) -> [u8; 4] {
        v.to_le_bytes()
    }

    #[test]
    fn open_sc_manager_request_layout() {
        // MS-SCMR 3.1.4.15 with C706 14.3.12.3 (top-level unique pointers): referent id,
        // conformant varying string "h\0" (max 2, offset 0, actual 2; 4 bytes, so no
        // padding), NULL database pointer, access SC_MANAGER_CONNECT | ENUMERATE_SERVICE.
        let expected: Vec<u8> = [
            &le(0x0002_0000)[..],
            &le(2),
            &le(0),
            &le(2),
            &[b'h', 0, 0, 0],
            &le(0),
            &le(0x5),
        ]
        .concat();
        assert_eq!(open_sc_manager_request("h"), expected);
    }

    #[test]
    fn open_service_request_layout() {
        // handle (20), then a reference-pointer string without referent id: "ab\0" = 6
        // bytes + 2 padding, then SERVICE_QUERY_CONFIG.
        let expected: Vec<u8> = [
            &[7u8; 20][..],
            &le(3),
            &le(0),
            &le(3),
            &[b'a', 0, b'b', 0, 0, 0, 0, 0],
            &le(1),
        ]
        .concat();
        assert_eq!(open_service_request(&[7; 20], "ab"), expected);
    }

    #[test]
    fn enum_services_request_layout() {
        let expected: Vec<u8> = [
            &[1u8; 20][..],
            &le(0x30),
            &le(3),
            &le(0x100),
            &le(0x0002_0000),
            &le(0),
        ]
        .concat();
        assert_eq!(enum_services_request(&[1; 20], 0x100, Some(0)), expected);
        assert_eq!(enum_services_request(&[1; 20], 0, None)[32..], le(0));
    }

    /// An enumeration buffer as a server lays it out: two ENUM_SERVICE_STATUSW entries,
    /// then the strings they point to.
    fn enum_buffer() -> Vec<u8> {
        let s = |t: &str| -> Vec<u8> {
            t.encode_utf16()
                .chain([0])
                .flat_map(u16::to_le_bytes)
                .collect()
        };
        let names = [
            s("Spooler"),
            s("Print Spooler"),
            s("WINS"),
            s("Windows Internet Name Service (WINS)"),
        ];
        let mut offset = 2 * 36;
        let mut offsets = Vec::new();
        for n in &names {
            offsets.push(offset as u32);
            offset += n.len();
        }
        let mut b = Vec::new();
        for (i, state) in [(0usize, 4u32), (2, 1)] {
            b.extend_from_slice(&le(offsets[i]));
            b.extend_from_slice(&le(offsets[i + 1]));
            b.extend_from_slice(&le(0x10));
            b.extend_from_slice(&le(state));
            b.extend_from_slice(&[0; 20]);
        }
        for n in names {
            b.extend(n);
        }
        b
    }

    #[test]
    fn parses_the_enumeration_buffer() {
        let got = parse_enum_buffer(&enum_buffer(), 2).unwrap();
        assert_eq!(
            got,
            vec![
                EnumEntry {
                    name: "Spooler".into(),
                    display_name: "Print Spooler".into(),
                    service_type: 0x10,
                    current_state: 4
                },
                EnumEntry {
                    name: "WINS".into(),
                    display_name: "Windows Internet Name Service (WINS)".into(),
                    service_type: 0x10,
                    current_state: 1
                },
            ]
        );
        assert!(parse_enum_buffer(&enum_buffer(), 3).is_err());
        let mut bad = enum_buffer();
        bad[0] = 0xff;
        assert!(parse_enum_buffer(&bad, 1).is_err());
    }

    #[test]
    fn decodes_an_enum_reply() {
        let buf = enum_buffer();
        let mut stub = le(buf.len() as u32).to_vec();
        stub.extend(&buf);
        while stub.len() % 4 != 0 {
            stub.push(0);
        }
        for v in [buf.len() as u32, 2, 0x0002_0000, 0, 0] {
            stub.extend(le(v));
        }
        let r = decode_enum_services(&stub).unwrap();
        assert_eq!(
            (r.bytes_needed, r.returned, r.resume, r.status),
            (buf.len() as u32, 2, Some(0), 0)
        );
        assert_eq!(r.buffer, buf);
    }

    #[test]
    fn decodes_a_query_config_reply() {
        // MS-SCMR 2.2.15 QUERY_SERVICE_CONFIGW in NDR: 3 DWORDs, 2 pointers, tag, 3 pointers;
        // then the non-NULL strings in pointer order; pcbBytesNeeded; return code.
        let mut s: Vec<u8> = Vec::new();
        for v in [
            0x10,
            2,
            1,
            0x0002_0000,
            0,
            0,
            0x0002_0004,
            0x0002_0008,
            0x0002_000c,
        ] {
            s.extend(le(v));
        }
        let string = |t: &str| -> Vec<u8> {
            let units: Vec<u16> = t.encode_utf16().chain([0]).collect();
            let mut v = [le(units.len() as u32), le(0), le(units.len() as u32)].concat();
            v.extend(units.iter().flat_map(|u| u.to_le_bytes()));
            while v.len() % 4 != 0 {
                v.push(0);
            }
            v
        };
        s.extend(string(r"C:\svc.exe"));
        s.extend(string(""));
        s.extend(string(r"CORP\svc_x"));
        s.extend(string("X"));
        s.extend(le(300));
        s.extend(le(0));
        let (c, needed, status) = decode_query_config(&s).unwrap();
        assert_eq!(
            c,
            ServiceConfig {
                service_type: 0x10,
                start_type: 2,
                binary_path: r"C:\svc.exe".into(),
                start_name: r"CORP\svc_x".into(),
                display_name: "X".into(),
            }
        );
        assert_eq!((needed, status), (300, 0));
    }

    #[test]
    fn decodes_a_refused_query_config_reply() {
        // On ERROR_INSUFFICIENT_BUFFER the structure is all zeros and NULL pointers.
        let mut s = vec![0u8; 36];
        s.extend(le(512));
        s.extend(le(ERROR_INSUFFICIENT_BUFFER));
        let (c, needed, status) = decode_query_config(&s).unwrap();
        assert_eq!(c, ServiceConfig::default());
        assert_eq!((needed, status), (512, 122));
    }
}

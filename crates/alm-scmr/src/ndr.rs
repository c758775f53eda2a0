//! The slice of NDR 2.0 (C706 chapter 14, MS-RPCE 2.2.5) the SCMR calls use: 4-byte aligned
//! integers, context handles, unique and full pointers as referent ids, conformant varying
//! UTF-16 strings and conformant byte arrays. Little-endian only (we asked for it in the bind).
//! No I/O.

use crate::wire::{from_utf16le, Reader, WireResult, Writer};

/// An RPC context handle (C706 14.3.9.1 ndr_context_handle): 20 opaque bytes.
pub type ContextHandle = [u8; 20];

/// Writes NDR stub data; alignment counts from the stub's start.
#[derive(Default)]
pub struct NdrWriter {
    w: Writer,
    next_referent: u32,
}

impl NdrWriter {
    pub fn new() -> Self {
        Self {
            w: Writer::new(),
            next_referent: 0x0002_0000,
        }
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.w.align(4).u32(v);
        self
    }
    pub fn handle(&mut self, h: &ContextHandle) -> &mut Self {
        self.w.align(4).bytes(h);
        self
    }
    /// A [string] wchar_t* as a conformant varying array (C706 14.3.4.2): max count, offset
    /// 0, actual count (both counting the terminating NUL), the UTF-16 units, padding.
    pub fn wstring(&mut self, s: &str) -> &mut Self {
        let mut units: Vec<u16> = s.encode_utf16().collect();
        units.push(0);
        self.w
            .align(4)
            .u32(units.len() as u32)
            .u32(0)
            .u32(units.len() as u32);
        for u in units {
            self.w.u16(u);
        }
        self
    }
    /// A [unique] pointer to a string: a non-zero referent id, then the string; or 0 for
    /// NULL. At the top level of a call the referent follows immediately (C706 14.3.12.3).
    pub fn unique_wstring(&mut self, s: Option<&str>) -> &mut Self {
        match s {
            Some(s) => {
                let id = self.referent();
                self.u32(id).wstring(s)
            }
            None => self.u32(0),
        }
    }
    /// A [unique] pointer to a DWORD, or NULL.
    pub fn unique_u32(&mut self, v: Option<u32>) -> &mut Self {
        match v {
            Some(v) => {
                let id = self.referent();
                self.u32(id).u32(v)
            }
            None => self.u32(0),
        }
    }
    fn referent(&mut self) -> u32 {
        let id = self.next_referent;
        self.next_referent += 4;
        id
    }
    pub fn finish(mut self) -> Vec<u8> {
        self.w.align(4);
        self.w.into_inner()
    }
}

/// Reads NDR stub data of a response.
pub struct NdrReader<'a> {
    pub r: Reader<'a>,
}

impl<'a> NdrReader<'a> {
    pub fn new(stub: &'a [u8], what: &'static str) -> Self {
        Self {
            r: Reader::new(stub, what),
        }
    }
    pub fn u32(&mut self) -> WireResult<u32> {
        self.r.align(4)?;
        self.r.u32()
    }
    pub fn handle(&mut self) -> WireResult<ContextHandle> {
        self.r.align(4)?;
        self.r.array::<20>()
    }
    /// A conformant varying UTF-16 string (the pointee; the referent id was read before).
    /// The terminating NUL, if any, is dropped.
    pub fn wstring(&mut self) -> WireResult<String> {
        let max = self.u32()? as usize;
        let offset = self.r.u32()? as usize;
        let actual = self.r.u32()? as usize;
        if offset != 0 || actual > max || actual > 0x10_0000 {
            return Err(self.r.err(format!(
                "string with offset {offset}, {actual} of {max} characters"
            )));
        }
        let bytes = self.r.take(actual * 2)?;
        let mut s = from_utf16le(bytes);
        while s.ends_with('\0') {
            s.pop();
        }
        Ok(s)
    }
    /// A conformant byte array ([size_is(n)] BYTE*): count, then the bytes.
    pub fn byte_array(&mut self) -> WireResult<&'a [u8]> {
        let n = self.u32()? as usize;
        self.r.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wstring_is_a_conformant_varying_array_with_nul_and_padding() {
        let mut w = NdrWriter::new();
        w.wstring("ab");
        // max 3, offset 0, actual 3, 'a' 'b' NUL, 2 bytes of padding to 4.
        assert_eq!(
            w.finish(),
            vec![3, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, b'a', 0, b'b', 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn unique_pointers_carry_referent_ids_or_null() {
        let mut w = NdrWriter::new();
        w.unique_wstring(None)
            .unique_u32(Some(9))
            .unique_wstring(Some(""));
        assert_eq!(
            w.finish(),
            vec![
                0, 0, 0, 0, // NULL
                0, 0, 2, 0, 9, 0, 0, 0, // referent 0x00020000, value 9
                4, 0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, // "" = just NUL
            ]
        );
    }

    #[test]
    fn reads_strings_and_refuses_nonsense_counts() {
        let data = [2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, b'X', 0, 0, 0];
        assert_eq!(NdrReader::new(&data, "t").wstring().unwrap(), "X");
        let bad = [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, b'X', 0, 0, 0];
        assert!(NdrReader::new(&bad, "t").wstring().is_err());
    }
}

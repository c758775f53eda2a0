//! Little-endian byte writing and bounds-checked reading for the wire formats (SMB2, NTLMSSP,
//! DCE/RPC, NDR). No I/O here; every read past the end is a `WireError`, never a panic, because
//! every byte read comes from the network.

use std::fmt;

/// A message ended early or held an impossible value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError(pub String);

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub type WireResult<T> = Result<T, WireError>;

/// Appends little-endian values to a growing buffer.
#[derive(Default, Debug)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(v);
        self
    }
    pub fn zeros(&mut self, n: usize) -> &mut Self {
        self.buf.resize(self.buf.len() + n, 0);
        self
    }
    /// Pads with zeros to a multiple of `n` bytes from the start of this buffer.
    pub fn align(&mut self, n: usize) -> &mut Self {
        while self.buf.len() % n != 0 {
            self.buf.push(0);
        }
        self
    }
    pub fn len(&self) -> usize {
        self.buf.len()
    }
    /// Overwrites a little-endian u16 written earlier (lengths known only at the end).
    pub fn patch_u16(&mut self, at: usize, v: u16) {
        self.buf[at..at + 2].copy_from_slice(&v.to_le_bytes());
    }
    #[cfg(test)]
    pub fn patch_u32(&mut self, at: usize, v: u32) {
        self.buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }
    pub fn into_inner(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads little-endian values from a byte slice, with the position kept for alignment.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// `what` names the message in errors ("SMB2 NEGOTIATE response").
    pub fn new(data: &'a [u8], what: &'static str) -> Self {
        Self { data, pos: 0, what }
    }
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }
    pub fn err(&self, msg: impl fmt::Display) -> WireError {
        WireError(format!("{}: {msg}", self.what))
    }
    pub fn take(&mut self, n: usize) -> WireResult<&'a [u8]> {
        if self.remaining() < n {
            return Err(self.err(format!(
                "ends after {} bytes, {} more needed at offset {}",
                self.data.len(),
                n,
                self.pos
            )));
        }
        let out = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }
    pub fn skip(&mut self, n: usize) -> WireResult<()> {
        self.take(n).map(|_| ())
    }
    pub fn seek(&mut self, pos: usize) -> WireResult<()> {
        if pos > self.data.len() {
            return Err(self.err(format!(
                "offset {pos} lies past the end ({})",
                self.data.len()
            )));
        }
        self.pos = pos;
        Ok(())
    }
    pub fn align(&mut self, n: usize) -> WireResult<()> {
        let pad = (n - self.pos % n) % n;
        self.skip(pad)
    }
    pub fn u8(&mut self) -> WireResult<u8> {
        Ok(self.take(1)?[0])
    }
    pub fn u16(&mut self) -> WireResult<u16> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    pub fn u32(&mut self) -> WireResult<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub fn u64(&mut self) -> WireResult<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    pub fn array<const N: usize>(&mut self) -> WireResult<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
}

/// `len` bytes at `offset` of `data` (offset/length pairs of SMB2 and NTLMSSP messages).
pub fn slice_at<'a>(data: &'a [u8], offset: usize, len: usize, what: &str) -> WireResult<&'a [u8]> {
    data.get(offset..offset.saturating_add(len)).ok_or_else(|| {
        WireError(format!(
            "{what}: {len} bytes at offset {offset} lie outside the {}-byte message",
            data.len()
        ))
    })
}

/// UTF-16LE bytes of a string, without a terminator.
pub fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
}

/// A string from UTF-16LE bytes; an odd trailing byte or bad surrogate is replaced, not fatal
/// (names are shown to people, not parsed further).
pub fn from_utf16le(b: &[u8]) -> String {
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16_lossy(&units)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_refuses_to_read_past_the_end() {
        let mut r = Reader::new(&[1, 0, 0], "test message");
        assert_eq!(r.u16().unwrap(), 1);
        let e = r.u32().unwrap_err();
        assert!(e.0.starts_with("test message: ends after 3 bytes"), "{e}");
    }

    #[test]
    fn utf16_round_trip() {
        assert_eq!(utf16le("Ab"), vec![0x41, 0, 0x62, 0]);
        assert_eq!(from_utf16le(&[0x41, 0, 0x62, 0]), "Ab");
    }

    #[test]
    fn slice_at_checks_bounds() {
        assert_eq!(slice_at(&[1, 2, 3], 1, 2, "x").unwrap(), &[2, 3]);
        assert!(slice_at(&[1, 2, 3], 2, 2, "x").is_err());
        assert!(slice_at(&[1, 2, 3], usize::MAX, 2, "x").is_err());
    }
}

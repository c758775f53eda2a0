//! Security identifiers and the small security descriptor a gMSA needs.
//!
//! `msDS-GroupMSAMembership` holds a self-relative security descriptor whose DACL lists who
//! may retrieve the managed password: `O:BAD:(A;;0xf01ff;;;<SID>)…`. Built by hand here (a
//! few dozen bytes, [MS-DTYP] 2.4.6) rather than pulling in a Windows security library.

use std::fmt;
use std::str::FromStr;

/// A security identifier (`S-1-5-21-…`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sid {
    pub revision: u8,
    pub authority: u64,
    pub sub_authorities: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a security identifier: {0}")]
pub struct SidError(String);

impl Sid {
    /// Reads the binary form (as `objectSid` comes back from the directory).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SidError> {
        let bad = || SidError(format!("{} bytes", bytes.len()));
        if bytes.len() < 8 {
            return Err(bad());
        }
        let count = bytes[1] as usize;
        if bytes.len() != 8 + 4 * count {
            return Err(bad());
        }
        let authority = bytes[2..8]
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        let sub_authorities = bytes[8..]
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Ok(Self {
            revision: bytes[0],
            authority,
            sub_authorities,
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![self.revision, self.sub_authorities.len() as u8];
        out.extend_from_slice(&self.authority.to_be_bytes()[2..8]);
        for s in &self.sub_authorities {
            out.extend_from_slice(&s.to_le_bytes());
        }
        out
    }

    /// BUILTIN\Administrators, the owner alm gives the descriptor.
    pub fn builtin_administrators() -> Self {
        Self {
            revision: 1,
            authority: 5,
            sub_authorities: vec![32, 544],
        }
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "S-{}-{}", self.revision, self.authority)?;
        for s in &self.sub_authorities {
            write!(f, "-{s}")?;
        }
        Ok(())
    }
}

impl FromStr for Sid {
    type Err = SidError;
    fn from_str(text: &str) -> Result<Self, SidError> {
        let bad = || SidError(text.to_owned());
        let mut parts = text.strip_prefix("S-").ok_or_else(bad)?.split('-');
        let revision = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let authority = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let sub_authorities = parts
            .map(|p| p.parse::<u32>().map_err(|_| bad()))
            .collect::<Result<Vec<_>, _>>()?;
        if sub_authorities.is_empty() || sub_authorities.len() > 15 {
            return Err(bad());
        }
        Ok(Self {
            revision,
            authority,
            sub_authorities,
        })
    }
}

/// Full control over the managed password, as Windows grants it (0x000f01ff).
const GMSA_READ_MASK: u32 = 0x000f_01ff;

/// A self-relative security descriptor, owner BUILTIN\Administrators, whose DACL allows each
/// of `readers` to retrieve the gMSA's password.
pub fn gmsa_membership(readers: &[Sid]) -> Vec<u8> {
    let owner = Sid::builtin_administrators().to_bytes();
    let aces: Vec<Vec<u8>> = readers
        .iter()
        .map(|sid| {
            let sid = sid.to_bytes();
            let mut ace = vec![0x00, 0x00]; // ACCESS_ALLOWED_ACE_TYPE, no flags
            ace.extend_from_slice(&((8 + sid.len()) as u16).to_le_bytes());
            ace.extend_from_slice(&GMSA_READ_MASK.to_le_bytes());
            ace.extend_from_slice(&sid);
            ace
        })
        .collect();
    let acl_size = 8 + aces.iter().map(Vec::len).sum::<usize>();
    let mut sd = vec![0x01, 0x00, 0x04, 0x80]; // revision 1; SE_SELF_RELATIVE | SE_DACL_PRESENT
    let owner_offset = 20u32;
    let dacl_offset = owner_offset + owner.len() as u32;
    sd.extend_from_slice(&owner_offset.to_le_bytes());
    sd.extend_from_slice(&0u32.to_le_bytes()); // no group
    sd.extend_from_slice(&0u32.to_le_bytes()); // no SACL
    sd.extend_from_slice(&dacl_offset.to_le_bytes());
    sd.extend_from_slice(&owner);
    sd.extend_from_slice(&[0x04, 0x00]); // ACL_REVISION_DS
    sd.extend_from_slice(&(acl_size as u16).to_le_bytes());
    sd.extend_from_slice(&(aces.len() as u16).to_le_bytes());
    sd.extend_from_slice(&[0x00, 0x00]);
    for ace in aces {
        sd.extend_from_slice(&ace);
    }
    sd
}

/// The SIDs that ACCESS_ALLOWED ACEs of a self-relative descriptor's DACL name, in order
/// (who may retrieve a gMSA's password); `None` when the bytes are not such a descriptor.
pub fn allowed_sids(sd: &[u8]) -> Option<Vec<Sid>> {
    let u16_at = |at: usize| sd.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let dacl = u32::from_le_bytes(sd.get(16..20)?.try_into().ok()?) as usize;
    if dacl == 0 {
        return Some(vec![]);
    }
    let count = u16_at(dacl + 4)? as usize;
    let mut at = dacl + 8;
    let mut out = Vec::new();
    for _ in 0..count {
        let kind = *sd.get(at)?;
        let size = u16_at(at + 2)? as usize;
        if size < 8 {
            return None;
        }
        if kind == 0x00 {
            out.push(Sid::from_bytes(sd.get(at + 8..at + size)?).ok()?);
        }
        at += size;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sids_round_trip_between_text_and_bytes() {
        let sid: Sid = "S-1-5-21-1004336348-1177238915-682003330-1103"
            .parse()
            .unwrap();
        assert_eq!(Sid::from_bytes(&sid.to_bytes()).unwrap(), sid);
        assert_eq!(
            sid.to_string(),
            "S-1-5-21-1004336348-1177238915-682003330-1103"
        );
        assert_eq!(
            Sid::builtin_administrators().to_bytes(),
            [1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 32, 2, 0, 0]
        );
        assert!("S-1-5".parse::<Sid>().is_err());
        assert!(Sid::from_bytes(&[1, 2, 0]).is_err());
    }

    #[test]
    fn gmsa_descriptor_has_the_documented_layout() {
        let reader: Sid = "S-1-5-21-1-2-3-1103".parse().unwrap();
        let sd = gmsa_membership(std::slice::from_ref(&reader));
        // Header, then the owner at 0x14 and the DACL at 0x24, as Windows and Samba write it.
        assert_eq!(&sd[..4], &[1, 0, 4, 0x80]);
        assert_eq!(u32::from_le_bytes(sd[4..8].try_into().unwrap()), 0x14);
        assert_eq!(u32::from_le_bytes(sd[16..20].try_into().unwrap()), 0x24);
        let dacl = &sd[0x24..];
        assert_eq!(dacl[0], 4);
        assert_eq!(u16::from_le_bytes([dacl[2], dacl[3]]) as usize, dacl.len());
        assert_eq!(u16::from_le_bytes([dacl[4], dacl[5]]), 1);
        let ace = &dacl[8..];
        assert_eq!(
            u32::from_le_bytes(ace[4..8].try_into().unwrap()),
            0x000f_01ff
        );
        assert_eq!(Sid::from_bytes(&ace[8..]).unwrap(), reader);
        assert_eq!(allowed_sids(&sd), Some(vec![reader]));
        assert_eq!(allowed_sids(&sd[..30]), None);
    }
}

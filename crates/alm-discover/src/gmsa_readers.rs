//! Who may read a gMSA's password: the allow entries of the DACL in the
//! `msDS-GroupMSAMembership` security descriptor ([MS-DTYP] 2.4.6 self-relative layout,
//! 2.4.4.2 ACCESS_ALLOWED_ACE), and which of them are broad groups. Pure parsing, no I/O.

use alm_directory::security_descriptor::Sid;

const SE_DACL_PRESENT: u16 = 0x0004;
const ACCESS_ALLOWED_ACE_TYPE: u8 = 0x00;
const ACCESS_ALLOWED_OBJECT_ACE_TYPE: u8 = 0x05;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("msDS-GroupMSAMembership is not a valid security descriptor: {0}")]
pub struct DescriptorError(&'static str);

fn u16_at(b: &[u8], at: usize) -> Result<u16, DescriptorError> {
    b.get(at..at + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .ok_or(DescriptorError("truncated"))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, DescriptorError> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or(DescriptorError("truncated"))
}

/// Reads a SID that starts at `at` (its length comes from its sub-authority count).
fn sid_at(b: &[u8], at: usize) -> Result<Sid, DescriptorError> {
    let count = *b.get(at + 1).ok_or(DescriptorError("truncated SID"))? as usize;
    let bytes = b
        .get(at..at + 8 + 4 * count)
        .ok_or(DescriptorError("truncated SID"))?;
    Sid::from_bytes(bytes).map_err(|_| DescriptorError("bad SID"))
}

/// The SIDs the DACL allows (deny entries and other ACE types are skipped).
pub fn password_readers(descriptor: &[u8]) -> Result<Vec<Sid>, DescriptorError> {
    if descriptor.len() < 20 || descriptor[0] != 1 {
        return Err(DescriptorError("not revision 1"));
    }
    let control = u16_at(descriptor, 2)?;
    let dacl_offset = u32_at(descriptor, 16)? as usize;
    if control & SE_DACL_PRESENT == 0 || dacl_offset == 0 {
        return Ok(Vec::new());
    }
    let count = u16_at(descriptor, dacl_offset + 4)? as usize;
    let mut at = dacl_offset + 8;
    let mut readers = Vec::new();
    for _ in 0..count {
        let ace_type = *descriptor.get(at).ok_or(DescriptorError("truncated ACE"))?;
        let size = u16_at(descriptor, at + 2)? as usize;
        if size < 8 {
            return Err(DescriptorError("ACE shorter than its header"));
        }
        match ace_type {
            ACCESS_ALLOWED_ACE_TYPE => readers.push(sid_at(descriptor, at + 8)?),
            ACCESS_ALLOWED_OBJECT_ACE_TYPE => {
                // Flags say which of the two optional GUIDs follow the mask.
                let flags = u32_at(descriptor, at + 8)?;
                let guids = 16 * ((flags & 1) + ((flags >> 1) & 1)) as usize;
                readers.push(sid_at(descriptor, at + 12 + guids)?);
            }
            _ => {}
        }
        at += size;
    }
    Ok(readers)
}

/// The name of a broad group, when the SID is one: everyone, every authenticated user,
/// every domain user or computer (of any domain: the RID decides), BUILTIN\Users.
pub fn broad_group(sid: &Sid) -> Option<&'static str> {
    let s = &sid.sub_authorities;
    match (sid.authority, s.as_slice()) {
        (1, [0]) => Some("Everyone"),
        (5, [11]) => Some("Authenticated Users"),
        (5, [32, 545]) => Some("BUILTIN\\Users"),
        (5, [21, _, _, _, 513]) => Some("Domain Users"),
        (5, [21, _, _, _, 515]) => Some("Domain Computers"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alm_directory::security_descriptor::gmsa_membership;

    #[test]
    fn readers_come_back_from_the_descriptor_alm_writes() {
        let users: Sid = "S-1-5-21-1-2-3-513".parse().unwrap();
        let host: Sid = "S-1-5-21-1-2-3-1105".parse().unwrap();
        let sd = gmsa_membership(&[host.clone(), users.clone()]);
        assert_eq!(
            password_readers(&sd).unwrap(),
            vec![host.clone(), users.clone()]
        );
        assert_eq!(broad_group(&users), Some("Domain Users"));
        assert_eq!(broad_group(&host), None);
        assert_eq!(broad_group(&"S-1-1-0".parse().unwrap()), Some("Everyone"));
        assert_eq!(
            broad_group(&"S-1-5-11".parse().unwrap()),
            Some("Authenticated Users")
        );
        assert_eq!(
            broad_group(&"S-1-5-21-9-8-7-515".parse().unwrap()),
            Some("Domain Computers")
        );
    }

    #[test]
    fn broken_descriptors_are_errors_not_panics() {
        assert!(password_readers(&[]).is_err());
        assert!(password_readers(&[1, 0, 4, 0x80, 0, 0]).is_err());
        let mut sd = gmsa_membership(&["S-1-5-11".parse().unwrap()]);
        sd.truncate(sd.len() - 3);
        assert!(password_readers(&sd).is_err());
    }
}

//! "User cannot change password" as Active Directory understands it: two deny ACEs on the
//! account's own DACL, for Everyone (S-1-1-0) and SELF (S-1-5-10), on the *Change Password*
//! extended right. The `PASSWD_CANT_CHANGE` bit of `userAccountControl` is not stored by the
//! directory (Windows computes it from these ACEs), so writing the bit does nothing.
//!
//! Pure byte work on a self-relative security descriptor ([MS-DTYP] 2.4.6), no I/O: the
//! caller reads `nTSecurityDescriptor` with the SD-flags control asking for the DACL only
//! and writes back what this returns.

use crate::security_descriptor::Sid;

/// The *User-Change-Password* control access right, `ab721a53-1e2f-11d0-9819-00aa0040529b`,
/// in the GUID's on-the-wire layout (first three fields little-endian).
const CHANGE_PASSWORD_RIGHT: [u8; 16] = [
    0x53, 0x1a, 0x72, 0xab, 0x2f, 0x1e, 0xd0, 0x11, 0x98, 0x19, 0x00, 0xaa, 0x00, 0x40, 0x52, 0x9b,
];
/// ACCESS_DENIED_OBJECT_ACE_TYPE.
const DENIED_OBJECT_ACE: u8 = 0x06;
/// ADS_RIGHT_DS_CONTROL_ACCESS: the ACE is about an extended right.
const CONTROL_ACCESS: u32 = 0x0000_0100;
/// ACE_OBJECT_TYPE_PRESENT: the ObjectType GUID follows.
const OBJECT_TYPE_PRESENT: u32 = 0x1;
/// ACL_REVISION_DS, required by object ACEs.
const ACL_REVISION_DS: u8 = 4;
/// SE_DACL_PRESENT in the descriptor's control field.
const DACL_PRESENT: u16 = 0x0004;

/// The SD-flags control ([MS-ADTS] 3.1.1.3.4.1.11, LDAP_SERVER_SD_FLAGS_OID) asking for the
/// DACL only, so reading needs no right on the SACL and writing leaves owner, group and SACL.
pub const SD_FLAGS_CONTROL_OID: &str = "1.2.840.113556.1.4.801";
/// Its BER value: SEQUENCE { INTEGER 4 (DACL_SECURITY_INFORMATION) }.
pub const SD_FLAGS_DACL_ONLY: [u8; 5] = [0x30, 0x03, 0x02, 0x01, 0x04];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable security descriptor: {0}")]
pub struct DescriptorError(&'static str);

fn everyone() -> Sid {
    Sid {
        revision: 1,
        authority: 1,
        sub_authorities: vec![0],
    }
}

fn self_principal() -> Sid {
    Sid {
        revision: 1,
        authority: 5,
        sub_authorities: vec![10],
    }
}

/// One deny ACE on the Change Password right for `sid`.
fn deny_change_password(sid: &Sid) -> Vec<u8> {
    let sid = sid.to_bytes();
    let size = 4 + 4 + 4 + 16 + sid.len();
    let mut ace = vec![DENIED_OBJECT_ACE, 0x00];
    ace.extend_from_slice(&(size as u16).to_le_bytes());
    ace.extend_from_slice(&CONTROL_ACCESS.to_le_bytes());
    ace.extend_from_slice(&OBJECT_TYPE_PRESENT.to_le_bytes());
    ace.extend_from_slice(&CHANGE_PASSWORD_RIGHT);
    ace.extend_from_slice(&sid);
    ace
}

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

/// The bytes of the SID at `offset` (0: absent).
fn sid_part(sd: &[u8], offset: usize) -> Result<&[u8], DescriptorError> {
    if offset == 0 {
        return Ok(&[]);
    }
    let count = *sd.get(offset + 1).ok_or(DescriptorError("truncated SID"))? as usize;
    sd.get(offset..offset + 8 + 4 * count)
        .ok_or(DescriptorError("truncated SID"))
}

/// The bytes of the ACL at `offset` (0: absent).
fn acl_part(sd: &[u8], offset: usize) -> Result<&[u8], DescriptorError> {
    if offset == 0 {
        return Ok(&[]);
    }
    let size = u16_at(sd, offset + 2)? as usize;
    if size < 8 {
        return Err(DescriptorError("ACL shorter than its header"));
    }
    sd.get(offset..offset + size)
        .ok_or(DescriptorError("truncated ACL"))
}

/// The ACEs of an ACL, each as its bytes.
fn aces(acl: &[u8]) -> Result<Vec<&[u8]>, DescriptorError> {
    let count = u16_at(acl, 4)? as usize;
    let mut at = 8;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let size = u16_at(acl, at + 2)? as usize;
        if size < 4 {
            return Err(DescriptorError("ACE shorter than its header"));
        }
        out.push(
            acl.get(at..at + size)
                .ok_or(DescriptorError("truncated ACE"))?,
        );
        at += size;
    }
    Ok(out)
}

/// The descriptor with the two deny ACEs first in its DACL, or `None` when both are there
/// already (so applying it twice changes nothing). Explicit deny ACEs go first: that is the
/// canonical order Windows keeps (explicit deny, explicit allow, then inherited).
pub fn with_password_change_denied(sd: &[u8]) -> Result<Option<Vec<u8>>, DescriptorError> {
    if sd.len() < 20 || sd[0] != 1 {
        return Err(DescriptorError(
            "not a self-relative descriptor of revision 1",
        ));
    }
    let control = u16_at(sd, 2)?;
    let owner = sid_part(sd, u32_at(sd, 4)? as usize)?;
    let group = sid_part(sd, u32_at(sd, 8)? as usize)?;
    let sacl = acl_part(sd, u32_at(sd, 12)? as usize)?;
    let dacl = acl_part(sd, u32_at(sd, 16)? as usize)?;
    if control & DACL_PRESENT == 0 || dacl.is_empty() {
        return Err(DescriptorError("no DACL"));
    }
    let existing = aces(dacl)?;
    let wanted: Vec<Vec<u8>> = [everyone(), self_principal()]
        .iter()
        .map(deny_change_password)
        .filter(|ace| !existing.contains(&ace.as_slice()))
        .collect();
    if wanted.is_empty() {
        return Ok(None);
    }
    let body: Vec<u8> = wanted
        .iter()
        .map(Vec::as_slice)
        .chain(existing.iter().copied())
        .flatten()
        .copied()
        .collect();
    let mut new_dacl = vec![dacl[0].max(ACL_REVISION_DS), 0];
    new_dacl.extend_from_slice(&((8 + body.len()) as u16).to_le_bytes());
    new_dacl.extend_from_slice(&((existing.len() + wanted.len()) as u16).to_le_bytes());
    new_dacl.extend_from_slice(&[0, 0]);
    new_dacl.extend_from_slice(&body);

    // Lay the parts out again: header, owner, group, SACL, DACL (offsets 0 for absent parts).
    let mut out = vec![1, sd[1]];
    out.extend_from_slice(&control.to_le_bytes());
    let mut next = 20u32;
    let mut offsets = [0u32; 4];
    for (i, part) in [owner, group, sacl, new_dacl.as_slice()].iter().enumerate() {
        if !part.is_empty() {
            offsets[i] = next;
            next += part.len() as u32;
        }
    }
    for o in offsets {
        out.extend_from_slice(&o.to_le_bytes());
    }
    for part in [owner, group, sacl, new_dacl.as_slice()] {
        out.extend_from_slice(part);
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DACL-only descriptor (as the SD-flags control returns it) with one allow ACE for
    /// Authenticated Users (S-1-5-11), mask 0x20094 (read).
    fn dacl_only() -> Vec<u8> {
        let ace = [
            0x00, 0x00, 0x14, 0x00, // ACCESS_ALLOWED, no flags, 20 bytes
            0x94, 0x00, 0x02, 0x00, // mask
            0x01, 0x01, 0, 0, 0, 0, 0, 0x05, 0x0b, 0, 0, 0, // S-1-5-11
        ];
        let mut sd = vec![
            1, 0, 0x04, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0,
        ];
        sd.extend_from_slice(&[4, 0, 28, 0, 1, 0, 0, 0]);
        sd.extend_from_slice(&ace);
        sd
    }

    #[test]
    fn the_deny_aces_come_first_and_the_old_ones_stay() {
        let sd = with_password_change_denied(&dacl_only()).unwrap().unwrap();
        // Header unchanged but for the DACL, which still starts at 20.
        assert_eq!(&sd[..4], &[1, 0, 0x04, 0x80]);
        assert_eq!(
            &sd[4..20],
            &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0]
        );
        let dacl = &sd[20..];
        // Two ACEs of 4+4+4+16+12 = 40 bytes plus the old 20, plus the 8-byte header.
        assert_eq!(&dacl[..8], &[4, 0, 108, 0, 3, 0, 0, 0]);
        let everyone_ace = [
            0x06, 0x00, 40, 0, // ACCESS_DENIED_OBJECT, 40 bytes
            0x00, 0x01, 0x00, 0x00, // ADS_RIGHT_DS_CONTROL_ACCESS
            0x01, 0x00, 0x00, 0x00, // ACE_OBJECT_TYPE_PRESENT
            0x53, 0x1a, 0x72, 0xab, 0x2f, 0x1e, 0xd0, 0x11, 0x98, 0x19, 0x00, 0xaa, 0x00, 0x40,
            0x52, 0x9b, // User-Change-Password
            0x01, 0x01, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0, // S-1-1-0
        ];
        assert_eq!(&dacl[8..48], &everyone_ace);
        assert_eq!(&dacl[48 + 28..88], &[1, 1, 0, 0, 0, 0, 0, 5, 10, 0, 0, 0]); // S-1-5-10
        assert_eq!(&dacl[88..], &dacl_only()[28..], "the old ACE follows");
        assert_eq!(sd.len(), 20 + 108);
    }

    #[test]
    fn applying_it_twice_changes_nothing() {
        let once = with_password_change_denied(&dacl_only()).unwrap().unwrap();
        assert_eq!(with_password_change_denied(&once).unwrap(), None);
    }

    #[test]
    fn owner_and_group_are_kept_in_place() {
        // Owner S-1-5-32-544 and group S-1-5-18 before the DACL.
        let mut sd = vec![1, 0, 0x04, 0x80];
        for o in [20u32, 36, 0, 48] {
            sd.extend_from_slice(&o.to_le_bytes());
        }
        sd.extend_from_slice(&[1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x20, 0x02, 0, 0]);
        sd.extend_from_slice(&[1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0]);
        sd.extend_from_slice(&[2, 0, 8, 0, 0, 0, 0, 0]); // an empty revision-2 DACL
        let out = with_password_change_denied(&sd).unwrap().unwrap();
        assert_eq!(&out[..48], &sd[..48]);
        assert_eq!(
            &out[48..56],
            &[4, 0, 88, 0, 2, 0, 0, 0],
            "revision raised to 4"
        );
    }

    #[test]
    fn a_descriptor_without_dacl_is_refused() {
        let mut sd = dacl_only();
        sd[2] = 0; // SE_DACL_PRESENT off
        assert!(with_password_change_denied(&sd).is_err());
        assert!(with_password_change_denied(&[1, 0]).is_err());
    }
}

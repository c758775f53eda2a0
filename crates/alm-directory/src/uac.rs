//! `userAccountControl` flags as Microsoft documents them ([MS-ADTS] 2.2.16), and the
//! changes alm makes to them.

pub const SCRIPT: u32 = 0x0001;
pub const ACCOUNTDISABLE: u32 = 0x0002;
pub const HOMEDIR_REQUIRED: u32 = 0x0008;
pub const LOCKOUT: u32 = 0x0010;
pub const PASSWD_NOTREQD: u32 = 0x0020;
pub const PASSWD_CANT_CHANGE: u32 = 0x0040;
pub const ENCRYPTED_TEXT_PWD_ALLOWED: u32 = 0x0080;
pub const NORMAL_ACCOUNT: u32 = 0x0200;
pub const WORKSTATION_TRUST_ACCOUNT: u32 = 0x1000;
pub const SERVER_TRUST_ACCOUNT: u32 = 0x2000;
pub const DONT_EXPIRE_PASSWORD: u32 = 0x1_0000;
pub const SMARTCARD_REQUIRED: u32 = 0x4_0000;
pub const TRUSTED_FOR_DELEGATION: u32 = 0x8_0000;
pub const NOT_DELEGATED: u32 = 0x10_0000;
pub const USE_DES_KEY_ONLY: u32 = 0x20_0000;
pub const DONT_REQ_PREAUTH: u32 = 0x40_0000;
pub const PASSWORD_EXPIRED: u32 = 0x80_0000;
pub const TRUSTED_TO_AUTH_FOR_DELEGATION: u32 = 0x100_0000;

/// The value with the account enabled or disabled, every other flag kept.
pub fn with_enabled(value: u32, enabled: bool) -> u32 {
    if enabled {
        value & !ACCOUNTDISABLE
    } else {
        value | ACCOUNTDISABLE
    }
}

pub fn is_enabled(value: u32) -> bool {
    value & ACCOUNTDISABLE == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enabling_touches_only_the_disable_bit() {
        let v = NORMAL_ACCOUNT | DONT_EXPIRE_PASSWORD | ACCOUNTDISABLE;
        assert_eq!(with_enabled(v, true), NORMAL_ACCOUNT | DONT_EXPIRE_PASSWORD);
        assert_eq!(with_enabled(with_enabled(v, true), false), v);
        assert!(is_enabled(512) && !is_enabled(514));
    }
}

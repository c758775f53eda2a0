//! Writing to Active Directory: creating accounts, passwords, enabling, expiry, moves, deletes.
//! Every DN alm builds goes through RFC 4514 escaping; every filter value through RFC 4515.

use super::read::{account, ACCOUNT_ATTRIBUTES};
use super::ActiveDirectory;
use crate::entry::{DirectoryEntry, NewGmsa, NewUser};
use crate::error::{DirectoryError, DirectoryResult};
use crate::password_change_acl::{
    with_password_change_denied, SD_FLAGS_CONTROL_OID, SD_FLAGS_DACL_ONLY,
};
use crate::security_descriptor::gmsa_membership;
use crate::{uac, Lookup};
use alm_core::filetime::AccountExpires;
use alm_core::Secret;
use ldap3::controls::RawControl;
use ldap3::{dn_escape, ldap_escape, Mod};
use std::collections::HashSet;

type Attrs = Vec<(Vec<u8>, HashSet<Vec<u8>>)>;

fn attr(name: &str, values: &[&[u8]]) -> (Vec<u8>, HashSet<Vec<u8>>) {
    (
        name.as_bytes().to_vec(),
        values.iter().map(|v| v.to_vec()).collect(),
    )
}

/// `unicodePwd` wants the password in double quotes, UTF-16LE.
fn unicode_pwd(password: &Secret) -> Vec<u8> {
    format!("\"{}\"", password.expose())
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect()
}

/// Every attribute of the object (`*`) plus the named ones (one object is read, not thousands).
fn with_all_attributes() -> Vec<&'static str> {
    let mut attrs = vec!["*"];
    attrs.extend_from_slice(ACCOUNT_ATTRIBUTES);
    attrs
}

/// `CN=<escaped name>,<parent>`.
pub fn child_dn(name: &str, parent_dn: &str) -> String {
    format!("CN={},{parent_dn}", dn_escape(name))
}

/// The first RDN of a DN (`CN=svc\, x`), escapes kept; splits at the first unescaped comma.
fn first_rdn(dn: &str) -> &str {
    let bytes = dn.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b',' => return &dn[..i],
            _ => i += 1,
        }
    }
    dn
}

/// An LDAP filter matching exactly these bytes (every byte escaped, RFC 4515).
pub fn binary_filter_value(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("\\{b:02x}")).collect()
}

impl ActiveDirectory {
    async fn add(&self, dn: &str, attrs: Attrs) -> DirectoryResult<()> {
        let mut ldap = self.handle().await?;
        let result = ldap.add(dn, attrs).await.map_err(|e| self.fail(e, dn))?;
        if result.rc != 0 {
            return Err(super::errors::from_result(&result, dn));
        }
        Ok(())
    }

    async fn modify(&self, dn: &str, mods: Vec<Mod<Vec<u8>>>) -> DirectoryResult<()> {
        let mut ldap = self.handle().await?;
        let result = ldap.modify(dn, mods).await.map_err(|e| self.fail(e, dn))?;
        if result.rc != 0 {
            return Err(super::errors::from_result(&result, dn));
        }
        Ok(())
    }

    async fn read_account(&self, dn: &str) -> DirectoryResult<DirectoryEntry> {
        let entry = self
            .read_entry(dn, &with_all_attributes())
            .await?
            .ok_or_else(|| DirectoryError::NoSuchObject { dn: dn.to_owned() })?;
        account(&entry)
    }

    /// Creates the user with its password in one add, so a refused password leaves nothing.
    pub(crate) async fn add_user(&self, user: &NewUser) -> DirectoryResult<DirectoryEntry> {
        let dn = child_dn(&user.sam_account_name, &user.parent_dn);
        let control = if user.enabled {
            uac::NORMAL_ACCOUNT
        } else {
            uac::NORMAL_ACCOUNT | uac::ACCOUNTDISABLE
        };
        let expires = user
            .account_expires
            .to_attribute()
            .map_err(|e| DirectoryError::Config(e.to_string()))?;
        let mut attrs: Attrs = vec![
            attr(
                "objectClass",
                &[b"top", b"person", b"organizationalPerson", b"user"],
            ),
            attr("cn", &[user.sam_account_name.as_bytes()]),
            attr("sAMAccountName", &[user.sam_account_name.as_bytes()]),
            attr("userPrincipalName", &[user.user_principal_name.as_bytes()]),
            attr("unicodePwd", &[&unicode_pwd(&user.password)]),
            attr("userAccountControl", &[control.to_string().as_bytes()]),
            attr("accountExpires", &[expires.as_bytes()]),
        ];
        if let Some(d) = user.description.as_deref().filter(|d| !d.is_empty()) {
            attrs.push(attr("description", &[d.as_bytes()]));
        }
        for (name, values) in &user.attributes {
            let values: Vec<&[u8]> = values
                .iter()
                .map(|v| v.as_bytes())
                .filter(|v| !v.is_empty())
                .collect();
            if !values.is_empty() {
                attrs.push(attr(name, &values));
            }
        }
        self.add(&dn, attrs).await?;
        self.read_account(&dn).await
    }

    pub(crate) async fn add_gmsa(&self, gmsa: &NewGmsa) -> DirectoryResult<DirectoryEntry> {
        let dn = child_dn(&gmsa.name, &gmsa.parent_dn);
        let sam = format!("{}$", gmsa.name);
        let interval = gmsa.password_interval_days.to_string();
        let mut attrs: Attrs = vec![
            attr("objectClass", &[b"msDS-GroupManagedServiceAccount"]),
            attr("cn", &[gmsa.name.as_bytes()]),
            attr("sAMAccountName", &[sam.as_bytes()]),
            attr("dNSHostName", &[gmsa.dns_host_name.as_bytes()]),
            attr("msDS-ManagedPasswordInterval", &[interval.as_bytes()]),
        ];
        if !gmsa.password_readers.is_empty() {
            attrs.push(attr(
                "msDS-GroupMSAMembership",
                &[&gmsa_membership(&gmsa.password_readers)],
            ));
        }
        if let Some(bits) = gmsa.encryption.supported_types() {
            attrs.push(attr(
                "msDS-SupportedEncryptionTypes",
                &[bits.to_string().as_bytes()],
            ));
        }
        let spns: Vec<&[u8]> = gmsa
            .service_principal_names
            .iter()
            .map(|s| s.as_bytes())
            .collect();
        if !spns.is_empty() {
            attrs.push(attr("servicePrincipalName", &spns));
        }
        if let Some(d) = gmsa.description.as_deref().filter(|d| !d.is_empty()) {
            attrs.push(attr("description", &[d.as_bytes()]));
        }
        self.add(&dn, attrs).await?;
        self.read_account(&dn).await
    }

    /// Creates an organisational unit (test fixtures, benchmarks, retirement OUs); returns its DN.
    pub async fn create_organizational_unit(
        &self,
        name: &str,
        parent_dn: &str,
    ) -> DirectoryResult<String> {
        let dn = format!("OU={},{parent_dn}", dn_escape(name));
        self.add(
            &dn,
            vec![
                attr("objectClass", &[b"top", b"organizationalUnit"]),
                attr("ou", &[name.as_bytes()]),
            ],
        )
        .await?;
        Ok(dn)
    }

    /// Creates a global security group with these members (fixtures and benchmarks: alm
    /// itself governs accounts, not groups); returns its DN.
    pub async fn create_group(
        &self,
        name: &str,
        parent_dn: &str,
        member_dns: &[String],
    ) -> DirectoryResult<String> {
        let dn = child_dn(name, parent_dn);
        let mut attrs = vec![
            attr("objectClass", &[b"top", b"group"]),
            attr("cn", &[name.as_bytes()]),
            attr("sAMAccountName", &[name.as_bytes()]),
        ];
        let members: Vec<&[u8]> = member_dns.iter().map(|m| m.as_bytes()).collect();
        if !members.is_empty() {
            attrs.push(attr("member", &members));
        }
        self.add(&dn, attrs).await?;
        Ok(dn)
    }

    /// Reads the DACL (SD-flags control: the DACL only, so owner, group and SACL are neither
    /// needed nor touched), adds the deny ACEs when missing and writes it back.
    pub(crate) async fn deny_own_password_change(&self, dn: &str) -> DirectoryResult<bool> {
        let control = || RawControl {
            ctype: SD_FLAGS_CONTROL_OID.to_owned(),
            crit: true,
            val: Some(SD_FLAGS_DACL_ONLY.to_vec()),
        };
        let mut ldap = self.handle().await?;
        let result = ldap
            .with_controls(vec![control()])
            .search(
                dn,
                ldap3::Scope::Base,
                "(objectClass=*)",
                vec!["nTSecurityDescriptor"],
            )
            .await
            .map_err(|e| self.fail(e, dn))?;
        let (entries, _) = result
            .success()
            .map_err(|e| super::errors::from_ldap(e, &self.url(), dn))?;
        let entry = entries
            .into_iter()
            .next()
            .map(ldap3::SearchEntry::construct)
            .ok_or_else(|| DirectoryError::NoSuchObject { dn: dn.to_owned() })?;
        let current = super::read::raw_bytes(&entry, "nTSecurityDescriptor").ok_or_else(|| {
            DirectoryError::Other(format!(
                "{dn}: the security descriptor is not readable (the bind identity needs READ_CONTROL)"
            ))
        })?;
        let Some(updated) = with_password_change_denied(&current)
            .map_err(|e| DirectoryError::Other(format!("{dn}: {e}")))?
        else {
            return Ok(false);
        };
        let value: HashSet<Vec<u8>> = [updated].into_iter().collect();
        let result = ldap
            .with_controls(vec![control()])
            .modify(
                dn,
                vec![Mod::Replace(b"nTSecurityDescriptor".to_vec(), value)],
            )
            .await
            .map_err(|e| self.fail(e, dn))?;
        if result.rc != 0 {
            return Err(super::errors::from_result(&result, dn));
        }
        Ok(true)
    }

    /// The bound account changes its own password, as a person at a keyboard would (delete the
    /// old value, add the new one, in one modify); with a reset (`replace`) an administrator
    /// sets it instead. Used to prove "cannot change password" against the directory itself.
    pub async fn change_own_password(
        &self,
        dn: &str,
        old: &Secret,
        new: &Secret,
    ) -> DirectoryResult<()> {
        let old: HashSet<Vec<u8>> = [unicode_pwd(old)].into_iter().collect();
        let new: HashSet<Vec<u8>> = [unicode_pwd(new)].into_iter().collect();
        self.modify(
            dn,
            vec![
                Mod::Delete(b"unicodePwd".to_vec(), old),
                Mod::Add(b"unicodePwd".to_vec(), new),
            ],
        )
        .await
    }

    pub(crate) async fn replace_password(
        &self,
        dn: &str,
        password: &Secret,
    ) -> DirectoryResult<()> {
        let value: HashSet<Vec<u8>> = [unicode_pwd(password)].into_iter().collect();
        self.modify(dn, vec![Mod::Replace(b"unicodePwd".to_vec(), value)])
            .await
    }

    /// Flips ACCOUNTDISABLE, keeping every other userAccountControl flag as it is.
    pub(crate) async fn change_enabled(&self, dn: &str, enabled: bool) -> DirectoryResult<()> {
        let current = self.read_account(dn).await?;
        let value = uac::with_enabled(current.user_account_control, enabled);
        if value == current.user_account_control {
            return Ok(());
        }
        let set: HashSet<Vec<u8>> = [value.to_string().into_bytes()].into_iter().collect();
        self.modify(dn, vec![Mod::Replace(b"userAccountControl".to_vec(), set)])
            .await
    }

    pub(crate) async fn replace_account_expires(
        &self,
        dn: &str,
        expires: AccountExpires,
    ) -> DirectoryResult<()> {
        let value = expires
            .to_attribute()
            .map_err(|e| DirectoryError::Config(e.to_string()))?;
        let set: HashSet<Vec<u8>> = [value.into_bytes()].into_iter().collect();
        self.modify(dn, vec![Mod::Replace(b"accountExpires".to_vec(), set)])
            .await
    }

    pub(crate) async fn move_entry(
        &self,
        dn: &str,
        new_parent_dn: &str,
    ) -> DirectoryResult<String> {
        let rdn = first_rdn(dn).to_owned();
        let mut ldap = self.handle().await?;
        let result = ldap
            .modifydn(dn, &rdn, true, Some(new_parent_dn))
            .await
            .map_err(|e| self.fail(e, dn))?;
        if result.rc != 0 {
            return Err(super::errors::from_result(&result, dn));
        }
        Ok(format!("{rdn},{new_parent_dn}"))
    }

    pub(crate) async fn delete_entry(&self, dn: &str) -> DirectoryResult<()> {
        let mut ldap = self.handle().await?;
        let result = ldap.delete(dn).await.map_err(|e| self.fail(e, dn))?;
        if result.rc != 0 {
            return Err(super::errors::from_result(&result, dn));
        }
        Ok(())
    }

    pub(crate) async fn find_account(
        &self,
        lookup: &Lookup,
    ) -> DirectoryResult<Option<DirectoryEntry>> {
        let filter = match lookup {
            Lookup::Guid(g) => format!("(objectGUID={})", binary_filter_value(&g.to_bytes_le())),
            Lookup::SamAccountName(name) => {
                format!("(sAMAccountName={})", ldap_escape(name.as_str()))
            }
        };
        let base = self.base_dn().to_owned();
        let found = self
            .paged_search(&base, &filter, &with_all_attributes())
            .await?;
        match found.as_slice() {
            [] => Ok(None),
            [one] => account(one).map(Some),
            many => Err(DirectoryError::Other(format!(
                "{} objects match {lookup:?}; expected one",
                many.len()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_and_filters_are_escaped() {
        // ldap3 escapes specials as hex pairs (RFC 4514 allows both forms).
        assert_eq!(
            child_dn("svc,admin=x", "OU=a,DC=b"),
            "CN=svc\\2cadmin\\3dx,OU=a,DC=b"
        );
        let lead = child_dn(" lead", "OU=a");
        assert!(
            lead.starts_with("CN=\\20lead") || lead.starts_with("CN=\\ lead"),
            "{lead}"
        );
        assert_eq!(first_rdn("CN=svc\\2cx,OU=a"), "CN=svc\\2cx");
        assert_eq!(first_rdn("CN=svc\\,x,OU=a,DC=b"), "CN=svc\\,x");
        assert_eq!(
            ldap_escape("*)(objectClass=*"),
            "\\2a\\29\\28objectClass=\\2a"
        );
        assert_eq!(binary_filter_value(&[0x00, 0xff, 0x2a]), "\\00\\ff\\2a");
    }

    #[test]
    fn unicode_pwd_is_quoted_utf16le() {
        assert_eq!(
            unicode_pwd(&Secret::new("Ab1")),
            vec![b'"', 0, b'A', 0, b'b', 0, b'1', 0, b'"', 0]
        );
    }
}

#[cfg(test)]
mod fuzz;

//! Reading from Active Directory: decoding entries and the paged, incremental searches.

use super::errors::from_ldap;
use super::ActiveDirectory;
use crate::entry::{
    ChangeSet, DirectoryEntry, EntryKind, GroupEntry, OuEntry, RawEntry, SearchScope,
};
use crate::error::{DirectoryError, DirectoryResult};
use crate::security_descriptor::Sid;
use alm_core::filetime::AccountExpires;
use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::controls::RawControl;
use ldap3::{Scope, SearchEntry};
use std::collections::BTreeMap;

/// Page size of paged searches: AD's default MaxPageSize.
pub const PAGE_SIZE: i32 = 1000;

/// What alm reads of an account (the discovery tool reads more through `attributes`).
pub const ACCOUNT_ATTRIBUTES: &[&str] = &[
    "objectGUID",
    "objectSid",
    "objectClass",
    "sAMAccountName",
    "userPrincipalName",
    "description",
    "displayName",
    "userAccountControl",
    "accountExpires",
    "uSNChanged",
    "whenCreated",
    "servicePrincipalName",
    "memberOf",
    "pwdLastSet",
    "lastLogonTimestamp",
    "adminCount",
    "msDS-SupportedEncryptionTypes",
    "dNSHostName",
    "msDS-AllowedToDelegateTo",
    "mail",
];
pub const GROUP_ATTRIBUTES: &[&str] = &[
    "objectGUID",
    "objectSid",
    "sAMAccountName",
    "member",
    "uSNChanged",
];
pub const OU_ATTRIBUTES: &[&str] = &["objectGUID", "ou", "name", "uSNChanged"];

/// Users, managed service accounts and group managed service accounts (not computers).
pub const ACCOUNT_FILTER: &str = "(|(&(objectCategory=person)(objectClass=user))\
    (objectClass=msDS-GroupManagedServiceAccount)(objectClass=msDS-ManagedServiceAccount))";

/// An attribute's raw bytes, wherever ldap3 put it: binary values that happen to be valid
/// UTF-8 (an objectGUID can be) land among the text attributes.
pub(crate) fn raw_bytes(entry: &SearchEntry, name: &str) -> Option<Vec<u8>> {
    if let Some((_, v)) = entry
        .bin_attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
    {
        return v.first().cloned();
    }
    entry
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.first())
        .map(|s| s.as_bytes().to_vec())
}

fn text(entry: &SearchEntry, name: &str) -> Option<String> {
    entry
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.first())
        .cloned()
}

fn texts(entry: &SearchEntry, name: &str) -> Vec<String> {
    entry
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

fn guid(entry: &SearchEntry) -> DirectoryResult<uuid::Uuid> {
    let bytes = raw_bytes(entry, "objectGUID").ok_or_else(|| {
        DirectoryError::Other(format!(
            "{}: no objectGUID (missing read rights?)",
            entry.dn
        ))
    })?;
    let array: [u8; 16] = bytes
        .try_into()
        .map_err(|_| DirectoryError::Other(format!("{}: objectGUID is not 16 bytes", entry.dn)))?;
    // AD stores the first three GUID fields little-endian.
    Ok(uuid::Uuid::from_bytes_le(array))
}

fn sid(entry: &SearchEntry) -> Option<Sid> {
    raw_bytes(entry, "objectSid").and_then(|b| Sid::from_bytes(&b).ok())
}

/// The entry's `uSNChanged`. Every object has one: an entry without it (or with a value that
/// is not a number) is refused rather than read as 0, which would move the next incremental
/// sync's start backwards or hide a change.
fn usn(entry: &SearchEntry) -> DirectoryResult<i64> {
    let value = text(entry, "uSNChanged")
        .ok_or_else(|| DirectoryError::Other(format!("{} has no uSNChanged", entry.dn)))?;
    value.parse().map_err(|_| {
        DirectoryError::Other(format!(
            "{} has a uSNChanged that is not a number: {value:?}",
            entry.dn
        ))
    })
}

pub fn kind(entry: &SearchEntry) -> EntryKind {
    let classes = texts(entry, "objectClass");
    let has = |c: &str| classes.iter().any(|x| x.eq_ignore_ascii_case(c));
    if has("msDS-GroupManagedServiceAccount") {
        EntryKind::Gmsa
    } else if has("msDS-ManagedServiceAccount") {
        EntryKind::Msa
    } else if has("computer") {
        EntryKind::Computer
    } else if has("user") {
        EntryKind::User
    } else if has("group") {
        EntryKind::Group
    } else if has("organizationalUnit") {
        EntryKind::OrganizationalUnit
    } else {
        EntryKind::Other
    }
}

pub fn account(entry: &SearchEntry) -> DirectoryResult<DirectoryEntry> {
    let skip = ["objectguid", "objectsid", "objectclass"];
    let attributes: BTreeMap<String, Vec<String>> = entry
        .attrs
        .iter()
        .filter(|(k, _)| !skip.contains(&k.to_ascii_lowercase().as_str()))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    Ok(DirectoryEntry {
        dn: entry.dn.clone(),
        guid: guid(entry)?,
        kind: kind(entry),
        sam_account_name: text(entry, "sAMAccountName").unwrap_or_default(),
        user_principal_name: text(entry, "userPrincipalName"),
        description: text(entry, "description"),
        user_account_control: text(entry, "userAccountControl")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        account_expires: text(entry, "accountExpires")
            .and_then(|v| AccountExpires::parse(&v).ok())
            .unwrap_or(AccountExpires::Never),
        usn_changed: usn(entry)?,
        sid: sid(entry),
        attributes,
    })
}

fn organizational_unit(entry: &SearchEntry) -> DirectoryResult<OuEntry> {
    Ok(OuEntry {
        dn: entry.dn.clone(),
        guid: guid(entry)?,
        name: text(entry, "ou")
            .or_else(|| text(entry, "name"))
            .unwrap_or_default(),
        usn_changed: usn(entry)?,
    })
}

/// Every attribute of a search entry, text and bytes, names lowercased.
fn raw_entry(entry: SearchEntry) -> RawEntry {
    let mut raw = RawEntry {
        dn: entry.dn,
        ..RawEntry::default()
    };
    for (k, v) in entry.attrs {
        let key = k.to_ascii_lowercase();
        raw.bytes
            .entry(key.clone())
            .or_default()
            .extend(v.iter().map(|s| s.as_bytes().to_vec()));
        raw.text.entry(key).or_default().extend(v);
    }
    for (k, v) in entry.bin_attrs {
        raw.bytes
            .entry(k.to_ascii_lowercase())
            .or_default()
            .extend(v);
    }
    raw
}

impl ActiveDirectory {
    /// Any search, every entry with the named attributes as read (text and bytes). For tools
    /// that read what alm's own types do not carry; an absent base object gives `NoSuchObject`.
    pub async fn search_raw(
        &self,
        base: &str,
        scope: SearchScope,
        filter: &str,
        attrs: &[&str],
    ) -> DirectoryResult<Vec<RawEntry>> {
        match scope {
            SearchScope::Subtree => Ok(self
                .paged_search(base, filter, attrs)
                .await?
                .into_iter()
                .map(raw_entry)
                .collect()),
            SearchScope::Base => {
                let mut ldap = self.handle().await?;
                let result = ldap
                    .search(base, Scope::Base, filter, attrs.to_vec())
                    .await
                    .map_err(|e| self.fail(e, base))?;
                let (entries, _) = result
                    .success()
                    .map_err(|e| from_ldap(e, &self.url(), base))?;
                Ok(entries
                    .into_iter()
                    .map(|e| raw_entry(SearchEntry::construct(e)))
                    .collect())
            }
        }
    }

    /// A paged subtree search returning every entry.
    pub(crate) async fn paged_search(
        &self,
        base: &str,
        filter: &str,
        attrs: &[&str],
    ) -> DirectoryResult<Vec<SearchEntry>> {
        self.paged_search_with(base, filter, attrs, Vec::new())
            .await
    }

    /// A paged subtree search with extra request controls (the paging control is added).
    async fn paged_search_with(
        &self,
        base: &str,
        filter: &str,
        attrs: &[&str],
        controls: Vec<RawControl>,
    ) -> DirectoryResult<Vec<SearchEntry>> {
        let mut ldap = self.handle().await?;
        let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![
            Box::new(EntriesOnly::new()),
            Box::new(PagedResults::new(PAGE_SIZE)),
        ];
        let attrs: Vec<String> = attrs.iter().map(|a| a.to_string()).collect();
        if !controls.is_empty() {
            ldap.with_controls(controls);
        }
        let mut stream = ldap
            .streaming_search_with(adapters, base, Scope::Subtree, filter, attrs)
            .await
            .map_err(|e| self.fail(e, base))?;
        let mut out = Vec::new();
        while let Some(entry) = stream.next().await.map_err(|e| self.fail(e, base))? {
            out.push(SearchEntry::construct(entry));
        }
        let result = stream.finish().await;
        if result.rc != 0 {
            return Err(super::errors::from_result(&result, base));
        }
        Ok(out)
    }

    /// One entry read at its DN (base scope), or `None`.
    pub(crate) async fn read_entry(
        &self,
        dn: &str,
        attrs: &[&str],
    ) -> DirectoryResult<Option<SearchEntry>> {
        let mut ldap = self.handle().await?;
        let result = ldap
            .search(dn, Scope::Base, "(objectClass=*)", attrs.to_vec())
            .await
            .map_err(|e| self.fail(e, dn))?;
        match result.success() {
            Ok((entries, _)) => Ok(entries.into_iter().next().map(SearchEntry::construct)),
            Err(ldap3::LdapError::LdapResult { result }) if result.rc == 32 => Ok(None),
            Err(e) => Err(from_ldap(e, &self.url(), dn)),
        }
    }

    /// Who may retrieve a gMSA's password: the SIDs its `msDS-GroupMSAMembership` allows.
    pub async fn gmsa_password_readers(
        &self,
        dn: &str,
    ) -> DirectoryResult<Vec<crate::security_descriptor::Sid>> {
        let entry = self
            .read_entry(dn, &["msDS-GroupMSAMembership"])
            .await?
            .ok_or_else(|| DirectoryError::NoSuchObject { dn: dn.to_owned() })?;
        let Some(sd) = raw_bytes(&entry, "msDS-GroupMSAMembership") else {
            return Ok(vec![]);
        };
        crate::security_descriptor::allowed_sids(&sd).ok_or_else(|| {
            DirectoryError::Other(format!("{dn}: unreadable msDS-GroupMSAMembership"))
        })
    }

    pub(crate) async fn group_entry(&self, entry: &SearchEntry) -> DirectoryResult<GroupEntry> {
        Ok(GroupEntry {
            dn: entry.dn.clone(),
            guid: guid(entry)?,
            sam_account_name: text(entry, "sAMAccountName").unwrap_or_default(),
            sid: sid(entry),
            members: self.all_members(entry).await?,
            usn_changed: usn(entry)?,
        })
    }

    /// A group's members, following AD's ranged retrieval (`member;range=0-1499`) for
    /// groups larger than one answer.
    async fn all_members(&self, entry: &SearchEntry) -> DirectoryResult<Vec<String>> {
        let ranged = entry
            .attrs
            .iter()
            .find(|(k, _)| k.to_ascii_lowercase().starts_with("member;range="));
        let Some((mut key, first)) = ranged.map(|(k, v)| (k.clone(), v.clone())) else {
            return Ok(texts(entry, "member"));
        };
        let mut members = first;
        loop {
            let end = key.rsplit('-').next().unwrap_or("*").to_owned();
            if end == "*" {
                return Ok(members);
            }
            let next: u64 = end
                .parse()
                .map_err(|_| DirectoryError::Other(format!("bad range {key}")))?;
            let attr = format!("member;range={}-*", next + 1);
            let Some(more) = self.read_entry(&entry.dn, &[attr.as_str()]).await? else {
                return Ok(members);
            };
            let Some((k, v)) = more
                .attrs
                .iter()
                .find(|(k, _)| k.to_ascii_lowercase().starts_with("member;range="))
            else {
                return Ok(members);
            };
            members.extend(v.iter().cloned());
            key = k.clone();
        }
    }

    pub(crate) async fn search_accounts(
        &self,
        base: Option<&str>,
    ) -> DirectoryResult<Vec<DirectoryEntry>> {
        let base = base.unwrap_or(&self.config.base_dn);
        self.paged_search(base, ACCOUNT_FILTER, ACCOUNT_ATTRIBUTES)
            .await?
            .iter()
            .map(account)
            .collect()
    }

    pub(crate) async fn search_groups(
        &self,
        base: Option<&str>,
    ) -> DirectoryResult<Vec<GroupEntry>> {
        let base = base.unwrap_or(&self.config.base_dn);
        let entries = self
            .paged_search(base, "(objectClass=group)", GROUP_ATTRIBUTES)
            .await?;
        let mut out = Vec::with_capacity(entries.len());
        for e in &entries {
            out.push(self.group_entry(e).await?);
        }
        Ok(out)
    }

    pub(crate) async fn search_ous(&self, base: Option<&str>) -> DirectoryResult<Vec<OuEntry>> {
        let base = base.unwrap_or(&self.config.base_dn);
        self.paged_search(base, "(objectClass=organizationalUnit)", OU_ATTRIBUTES)
            .await?
            .iter()
            .map(organizational_unit)
            .collect()
    }

    /// The `lDAPDisplayName` of every attribute in the schema, sorted.
    pub(crate) async fn schema_attributes(&self) -> DirectoryResult<Vec<String>> {
        let root = self.read_entry("", &["schemaNamingContext"]).await?;
        let schema = root
            .and_then(|e| text(&e, "schemaNamingContext"))
            .ok_or_else(|| {
                DirectoryError::Other("the rootDSE has no schemaNamingContext".into())
            })?;
        let mut names: Vec<String> = self
            .paged_search(
                &schema,
                "(objectClass=attributeSchema)",
                &["lDAPDisplayName"],
            )
            .await?
            .iter()
            .filter_map(|e| text(e, "lDAPDisplayName"))
            .collect();
        names.sort_by_key(|n| n.to_ascii_lowercase());
        Ok(names)
    }

    pub(crate) async fn root_usn(&self) -> DirectoryResult<i64> {
        let root = self.read_entry("", &["highestCommittedUSN"]).await?;
        root.and_then(|e| text(&e, "highestCommittedUSN"))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| DirectoryError::Other("the rootDSE has no highestCommittedUSN".into()))
    }

    /// A bare `(uSNChanged>=n)` query, classified here: AD answers it faster than one
    /// combined with an objectClass term (measured, TESTING.md).
    pub(crate) async fn search_changes(&self, since: i64) -> DirectoryResult<ChangeSet> {
        let mut attrs: Vec<&str> = ACCOUNT_ATTRIBUTES.to_vec();
        attrs.extend(["member", "ou", "name"]);
        let filter = format!("(uSNChanged>={since})");
        let entries = self
            .paged_search(&self.config.base_dn, &filter, &attrs)
            .await?;
        let mut changes = ChangeSet {
            highest_usn: since,
            ..ChangeSet::default()
        };
        for e in &entries {
            changes.highest_usn = changes.highest_usn.max(usn(e)?);
            match kind(e) {
                EntryKind::User | EntryKind::Gmsa | EntryKind::Msa => {
                    changes.users.push(account(e)?)
                }
                EntryKind::Group => changes.groups.push(self.group_entry(e).await?),
                EntryKind::OrganizationalUnit => {
                    changes.organizational_units.push(organizational_unit(e)?)
                }
                EntryKind::Computer | EntryKind::Other => {}
            }
        }
        for e in self.search_deleted(since).await? {
            changes.highest_usn = changes.highest_usn.max(usn(&e)?);
            changes.deleted.push(guid(&e)?);
        }
        Ok(changes)
    }

    /// The tombstones (and, with the recycle bin, the deleted objects) whose deletion is at or
    /// after `since`. Deleted objects move to the naming context's Deleted Objects container,
    /// outside any OU the domain's base DN may name, so the search starts at the naming context
    /// (from the rootDSE); the server keeps only the deletions of objects it knows.
    async fn search_deleted(&self, since: i64) -> DirectoryResult<Vec<SearchEntry>> {
        let root = self.read_entry("", &["defaultNamingContext"]).await?;
        let naming_context = root
            .and_then(|e| text(&e, "defaultNamingContext"))
            .ok_or_else(|| {
                DirectoryError::Other("the rootDSE has no defaultNamingContext".into())
            })?;
        let show_deleted = RawControl {
            ctype: SHOW_DELETED_OID.into(),
            crit: true,
            val: None,
        };
        self.paged_search_with(
            &naming_context,
            &format!("(&(isDeleted=TRUE)(uSNChanged>={since}))"),
            &["objectGUID", "uSNChanged"],
            vec![show_deleted],
        )
        .await
    }
}

/// LDAP_SERVER_SHOW_DELETED_OID (MS-ADTS 3.1.1.3.4.1.14): searches also return deleted objects.
const SHOW_DELETED_OID: &str = "1.2.840.113556.1.4.417";

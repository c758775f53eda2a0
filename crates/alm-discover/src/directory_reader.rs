//! Reading the domain over LDAPS into the analysis's plain types: the accounts and computers
//! under the scope, and who is in a privileged group. All LDAP lives here; decisions do not.
//!
//! Privileged membership, nesting included: the groups nested (at any depth) in each
//! privileged group are asked of the directory with LDAP_MATCHING_RULE_IN_CHAIN
//! (1.2.840.113556.1.4.1941, which AD and Samba both evaluate; checked against Samba 4.17) on
//! group objects only, and each account's `memberOf` (read with its other attributes) is
//! matched against them. Asking the same rule of every account instead costs one pass over
//! the whole scope per privileged group (seven on Samba, ≈ 0.3 ms per account each: more than
//! the whole read at 20,000 accounts, bench/RESULTS.md). The primary group (`primaryGroupID`)
//! is not in `member`, so it is checked by RID.

use crate::account::{Account, AccountKind, Computer};
use crate::gmsa_readers::password_readers;
use alm_core::filetime::AccountExpires;
use alm_directory::security_descriptor::Sid;
use alm_directory::{uac, ActiveDirectory, DirectoryError, DirectoryResult, RawEntry, SearchScope};
use std::collections::HashMap;
use time::OffsetDateTime;

/// Users, managed service accounts and group managed service accounts (computers apart).
pub const ACCOUNT_FILTER: &str = alm_directory::active_directory::ACCOUNT_FILTER;
pub const COMPUTER_FILTER: &str = "(objectCategory=computer)";

const ACCOUNT_ATTRIBUTES: &[&str] = &[
    "objectClass",
    "sAMAccountName",
    "description",
    "userAccountControl",
    "msDS-User-Account-Control-Computed",
    "servicePrincipalName",
    "msDS-AllowedToDelegateTo",
    "pwdLastSet",
    "lastLogonTimestamp",
    "whenCreated",
    "adminCount",
    "msDS-SupportedEncryptionTypes",
    "userWorkstations",
    "primaryGroupID",
    "msDS-GroupMSAMembership",
    "memberOf",
    "objectGUID",
    "objectSid",
    // A back link: returned only when asked for by name (it tells an RODC's krbtgt apart).
    "msDS-KrbTgtLinkBl",
];
const COMPUTER_ATTRIBUTES: &[&str] = &["sAMAccountName", "dNSHostName", "userAccountControl"];

/// The privileged groups: well-known SIDs in BUILTIN and RIDs in the domain.
const BUILTIN_PRIVILEGED: &[(u32, &str)] = &[
    (544, "Administrators"),
    (548, "Account Operators"),
    (549, "Server Operators"),
    (551, "Backup Operators"),
];
const DOMAIN_PRIVILEGED: &[(u32, &str)] = &[
    (512, "Domain Admins"),
    (518, "Schema Admins"),
    (519, "Enterprise Admins"),
];

/// RFC 4515 escaping of a filter value.
fn filter_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'*' | b'(' | b')' | b'\\' | 0 => out.push_str(&format!("\\{b:02x}")),
            _ => out.push(b as char),
        }
    }
    out
}

/// A FILETIME attribute as an instant; 0 and "never" are `None`.
fn filetime(entry: &RawEntry, name: &str) -> Option<OffsetDateTime> {
    let ticks: i64 = entry.first(name)?.trim().parse().ok()?;
    match AccountExpires::from_ticks(ticks) {
        AccountExpires::At(t) => Some(t),
        AccountExpires::Never => None,
    }
}

/// A GeneralizedTime (`20260601093000.0Z`) as an instant.
fn generalized_time(text: &str) -> Option<OffsetDateTime> {
    let d = text.get(..14)?;
    if !d.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| d[r].parse::<u32>().ok();
    let date = time::Date::from_calendar_date(
        n(0..4)? as i32,
        time::Month::try_from(n(4..6)? as u8).ok()?,
        n(6..8)? as u8,
    )
    .ok()?;
    let t = time::Time::from_hms(n(8..10)? as u8, n(10..12)? as u8, n(12..14)? as u8).ok()?;
    Some(date.with_time(t).assume_utc())
}

fn number(entry: &RawEntry, name: &str) -> Option<i64> {
    entry.first(name)?.trim().parse().ok()
}

fn kind(entry: &RawEntry) -> AccountKind {
    let has = |c: &str| {
        entry
            .all("objectClass")
            .iter()
            .any(|x| x.eq_ignore_ascii_case(c))
    };
    if has("msDS-GroupManagedServiceAccount") {
        AccountKind::Gmsa
    } else if has("msDS-ManagedServiceAccount") {
        AccountKind::Msa
    } else {
        AccountKind::User
    }
}

/// One account from its entry; `privileged` maps the lowercased DNs of the privileged groups,
/// and of every group nested in them, to the privileged groups' names.
pub fn account_from_entry(entry: &RawEntry, privileged: &HashMap<String, Vec<String>>) -> Account {
    let kind = kind(entry);
    let mut privileged_groups: Vec<String> = Vec::new();
    for group in entry.all("memberOf") {
        for name in privileged
            .get(&group.to_ascii_lowercase())
            .into_iter()
            .flatten()
        {
            if !privileged_groups.contains(name) {
                privileged_groups.push(name.clone());
            }
        }
    }
    if let Some(rid) = number(entry, "primaryGroupID") {
        if let Some((_, name)) = DOMAIN_PRIVILEGED.iter().find(|(r, _)| i64::from(*r) == rid) {
            if !privileged_groups.iter().any(|g| g == name) {
                privileged_groups.push((*name).to_owned());
            }
        }
    }
    let gmsa_password_readers = if kind == AccountKind::Gmsa {
        entry
            .raw("msDS-GroupMSAMembership")
            .first()
            .and_then(|sd| password_readers(sd).ok())
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    Account {
        dn: entry.dn.clone(),
        sam_account_name: entry.first("sAMAccountName").unwrap_or_default().to_owned(),
        kind,
        description: entry.first("description").map(str::to_owned),
        // AD returns the flags as a signed 32-bit number; keep the bits.
        user_account_control: number(entry, "userAccountControl").unwrap_or(0) as u32,
        uac_computed: number(entry, "msDS-User-Account-Control-Computed").unwrap_or(0) as u32,
        service_principal_names: entry.all("servicePrincipalName").to_vec(),
        allowed_to_delegate_to: entry.all("msDS-AllowedToDelegateTo").to_vec(),
        password_last_set: filetime(entry, "pwdLastSet"),
        last_logon_timestamp: filetime(entry, "lastLogonTimestamp"),
        when_created: entry.first("whenCreated").and_then(generalized_time),
        admin_count: number(entry, "adminCount").unwrap_or(0) != 0,
        supported_encryption_types: number(entry, "msDS-SupportedEncryptionTypes")
            .map(|v| v as u32),
        user_workstations: entry.first("userWorkstations").map(str::to_owned),
        privileged_groups,
        gmsa_password_readers,
        object_guid: entry
            .raw("objectGUID")
            .into_iter()
            .next()
            .and_then(|b| <[u8; 16]>::try_from(b.as_slice()).ok())
            // AD stores the first three GUID fields little-endian.
            .map(|b| uuid::Uuid::from_bytes_le(b).to_string()),
        sid: entry
            .raw("objectSid")
            .into_iter()
            .next()
            .and_then(|b| Sid::from_bytes(&b).ok())
            .map(|s| s.to_string()),
        rodc_krbtgt_link: !entry.all("msDS-KrbTgtLinkBl").is_empty(),
    }
}

pub fn computer_from_entry(entry: &RawEntry) -> Computer {
    let control = number(entry, "userAccountControl").unwrap_or(0) as u32;
    Computer {
        dn: entry.dn.clone(),
        name: entry
            .first("sAMAccountName")
            .unwrap_or_default()
            .trim_end_matches('$')
            .to_owned(),
        dns_host_name: entry.first("dNSHostName").map(str::to_owned),
        enabled: uac::is_enabled(control),
        domain_controller: control & uac::SERVER_TRUST_ACCOUNT != 0,
    }
}

/// The domain's naming context, from the root DSE.
pub async fn naming_context(ad: &ActiveDirectory) -> DirectoryResult<String> {
    let root = ad
        .search_raw(
            "",
            SearchScope::Base,
            "(objectClass=*)",
            &["defaultNamingContext"],
        )
        .await?;
    root.first()
        .and_then(|e| e.first("defaultNamingContext"))
        .map(str::to_owned)
        .ok_or_else(|| DirectoryError::Other("the root DSE has no defaultNamingContext".into()))
}

/// Fails with `NoSuchObject` when the scope's base does not exist (or cannot be seen).
pub async fn check_base(ad: &ActiveDirectory, base: &str) -> DirectoryResult<()> {
    let found = ad
        .search_raw(base, SearchScope::Base, "(objectClass=*)", &["1.1"])
        .await?;
    if found.is_empty() {
        return Err(DirectoryError::NoSuchObject {
            dn: base.to_owned(),
        });
    }
    Ok(())
}

/// How many accounts and computers are under `base` (names only are read).
pub async fn count(ad: &ActiveDirectory, base: &str) -> DirectoryResult<(usize, usize)> {
    let accounts = ad
        .search_raw(base, SearchScope::Subtree, ACCOUNT_FILTER, &["1.1"])
        .await?;
    let computers = ad
        .search_raw(base, SearchScope::Subtree, COMPUTER_FILTER, &["1.1"])
        .await?;
    Ok((accounts.len(), computers.len()))
}

/// Lowercased DN of a privileged group, or of a group nested in one at any depth → the
/// privileged groups' names.
async fn privileged_groups(
    ad: &ActiveDirectory,
    naming_context: &str,
) -> DirectoryResult<HashMap<String, Vec<String>>> {
    let domain = ad
        .search_raw(
            naming_context,
            SearchScope::Base,
            "(objectClass=*)",
            &["objectSid"],
        )
        .await?;
    let domain_sid = domain
        .first()
        .and_then(|e| e.raw("objectSid").into_iter().next())
        .and_then(|b| Sid::from_bytes(&b).ok());
    let mut wanted: Vec<(String, &str)> = BUILTIN_PRIVILEGED
        .iter()
        .map(|(rid, name)| (format!("S-1-5-32-{rid}"), *name))
        .collect();
    if let Some(sid) = &domain_sid {
        wanted.extend(
            DOMAIN_PRIVILEGED
                .iter()
                .map(|(rid, name)| (format!("{sid}-{rid}"), *name)),
        );
    }
    let filter = format!(
        "(|{})",
        wanted
            .iter()
            .map(|(sid, _)| format!("(objectSid={sid})"))
            .collect::<String>()
    );
    let groups = ad
        .search_raw(
            naming_context,
            SearchScope::Subtree,
            &filter,
            &["objectSid"],
        )
        .await?;
    let mut groups_of: HashMap<String, Vec<String>> = HashMap::new();
    let mut add = |dn: &str, name: &str| {
        let names = groups_of.entry(dn.to_ascii_lowercase()).or_default();
        if !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
    };
    for g in groups {
        let sid = g
            .raw("objectSid")
            .into_iter()
            .next()
            .and_then(|b| Sid::from_bytes(&b).ok());
        let Some(name) = sid.and_then(|s| {
            wanted
                .iter()
                .find(|(w, _)| *w == s.to_string())
                .map(|(_, n)| *n)
        }) else {
            continue;
        };
        add(&g.dn, name);
        // Nested groups can live anywhere in the domain, not only under the scope.
        let filter = format!(
            "(&(objectCategory=group)(memberOf:1.2.840.113556.1.4.1941:={}))",
            filter_escape(&g.dn)
        );
        for nested in ad
            .search_raw(naming_context, SearchScope::Subtree, &filter, &["1.1"])
            .await?
        {
            add(&nested.dn, name);
        }
    }
    Ok(groups_of)
}

/// Every account under `base`, with its privileged groups resolved.
pub async fn read_accounts(
    ad: &ActiveDirectory,
    naming_context: &str,
    base: &str,
) -> DirectoryResult<Vec<Account>> {
    let privileged = privileged_groups(ad, naming_context).await?;
    Ok(ad
        .search_raw(
            base,
            SearchScope::Subtree,
            ACCOUNT_FILTER,
            ACCOUNT_ATTRIBUTES,
        )
        .await?
        .iter()
        .map(|e| account_from_entry(e, &privileged))
        .collect())
}

/// The accounts and the computers under `base`, read at once over two connections: the
/// accounts on `accounts_connection`, while `other_connection` resolves the privileged groups
/// (a few searches over the domain's groups) and then reads the computers. The DC serves the
/// two connections in parallel, so the scope costs about as long as its accounts' read.
pub async fn read_scope(
    accounts_connection: &ActiveDirectory,
    other_connection: &ActiveDirectory,
    naming_context: &str,
    base: &str,
) -> DirectoryResult<(Vec<Account>, Vec<Computer>)> {
    let accounts = accounts_connection.search_raw(
        base,
        SearchScope::Subtree,
        ACCOUNT_FILTER,
        ACCOUNT_ATTRIBUTES,
    );
    let others = async {
        let privileged = privileged_groups(other_connection, naming_context).await?;
        let computers = read_computers(other_connection, base).await?;
        Ok::<_, DirectoryError>((privileged, computers))
    };
    let (accounts, others) = tokio::join!(accounts, others);
    let (privileged, computers) = others?;
    let accounts = accounts?
        .iter()
        .map(|e| account_from_entry(e, &privileged))
        .collect();
    Ok((accounts, computers))
}

/// Every computer under `base`.
pub async fn read_computers(ad: &ActiveDirectory, base: &str) -> DirectoryResult<Vec<Computer>> {
    Ok(ad
        .search_raw(
            base,
            SearchScope::Subtree,
            COMPUTER_FILTER,
            COMPUTER_ATTRIBUTES,
        )
        .await?
        .iter()
        .map(computer_from_entry)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn entry(attrs: &[(&str, &[&str])]) -> RawEntry {
        let mut e = RawEntry {
            dn: "CN=svc-a,OU=T,DC=x".into(),
            ..RawEntry::default()
        };
        for (k, v) in attrs {
            e.text.insert(
                k.to_ascii_lowercase(),
                v.iter().map(|s| s.to_string()).collect(),
            );
        }
        e
    }

    #[test]
    fn attributes_are_read_as_ad_writes_them() {
        let e = entry(&[
            ("objectClass", &["top", "user"]),
            ("sAMAccountName", &["svc-a"]),
            ("userAccountControl", &["-2147417600"]),
            ("pwdLastSet", &["0"]),
            ("lastLogonTimestamp", &["133984800000000000"]),
            ("whenCreated", &["20260601093000.0Z"]),
            ("adminCount", &["1"]),
            ("primaryGroupID", &["512"]),
        ]);
        let a = account_from_entry(&e, &HashMap::new());
        assert_eq!(a.kind, AccountKind::User);
        assert_eq!(a.user_account_control, 0x8001_0200);
        assert_eq!(a.password_last_set, None);
        assert_eq!(
            a.last_logon_timestamp,
            Some(datetime!(2025-08-01 00:00 UTC))
        );
        assert_eq!(a.when_created, Some(datetime!(2026-06-01 09:30 UTC)));
        assert!(a.admin_count);
        assert_eq!(a.privileged_groups, ["Domain Admins"]);
        assert_eq!(filter_escape("CN=a\\, (b)*"), "CN=a\\5c, \\28b\\29\\2a");

        // Membership through memberOf: a nested group counts for the group it is nested in,
        // DNs compare without case, and each name is listed once.
        let e = entry(&[
            ("sAMAccountName", &["svc-b"]),
            (
                "memberOf",
                &["CN=Ops,OU=G,DC=x", "CN=Other,DC=x", "cn=admins2,DC=x"],
            ),
            ("primaryGroupID", &["512"]),
        ]);
        let privileged: HashMap<String, Vec<String>> = [
            ("cn=ops,ou=g,dc=x", vec!["Administrators".to_owned()]),
            (
                "cn=admins2,dc=x",
                vec!["Administrators".to_owned(), "Domain Admins".to_owned()],
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let a = account_from_entry(&e, &privileged);
        assert_eq!(a.privileged_groups, ["Administrators", "Domain Admins"]);
        assert_eq!(generalized_time("2026x"), None);
        assert!(!a.rodc_krbtgt_link);

        // A read-only DC's krbtgt: the back link of the RODC's msDS-KrbTgtLink is read.
        let e = entry(&[
            ("sAMAccountName", &["krbtgt_40615"]),
            (
                "msDS-KrbTgtLinkBl",
                &["CN=RODC1,OU=Domain Controllers,DC=x"],
            ),
        ]);
        assert!(account_from_entry(&e, &HashMap::new()).rodc_krbtgt_link);
        assert!(ACCOUNT_ATTRIBUTES.contains(&"msDS-KrbTgtLinkBl"));
    }
}

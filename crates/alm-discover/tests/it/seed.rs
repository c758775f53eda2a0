//! Seeds an OU with accounts that each show one finding, and clean ones, over LDAPS as the
//! domain's Administrator (ldap3 directly: the seed sets what alm itself never writes).
//!
//! What Samba refuses: `pwdLastSet` takes only 0 or -1 over LDAP (even with the relax
//! control), and `whenCreated` is the server's. So "old password" and "never used" are
//! seeded by time instead: `svc-kold` is created first, the rest at least two seconds later,
//! and the analysis runs with an injected clock set to one second past the password age
//! limit of `svc-kold` (`fake_now`). `lastLogonTimestamp` and `adminCount` Samba accepts.

use alm_directory::security_descriptor::{gmsa_membership, Sid};
use ldap3::{LdapConnAsync, LdapConnSettings, Mod, Scope, SearchEntry};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: these tests need the Samba AD DC that `bash scripts/test.sh` starts")
    })
}

pub const PASSWORD_AGE_DAYS: i64 = 365;
const TICKS_PER_SECOND: i64 = 10_000_000;
const UNIX_EPOCH_TICKS: i64 = 116_444_736_000_000_000;

fn ticks(at: OffsetDateTime) -> i64 {
    UNIX_EPOCH_TICKS + at.unix_timestamp() * TICKS_PER_SECOND
}

fn from_ticks(t: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp((t - UNIX_EPOCH_TICKS) / TICKS_PER_SECOND).unwrap()
}

pub struct Seeded {
    pub ou: String,
    pub run: String,
    /// sAMAccountName → the finding ids the seed gives it at `fake_now`.
    pub expected_at_fake_now: BTreeMap<String, BTreeSet<&'static str>>,
    /// The same under the real clock (the accounts are new: no old password, none unused).
    pub expected_now: BTreeMap<String, BTreeSet<&'static str>>,
    /// An account that is not a service account (must not be reported at all).
    pub plain_user: String,
    pub computer_dns: String,
    pub fake_now: OffsetDateTime,
    nested_group_dn: String,
    ldap: ldap3::Ldap,
}

pub(crate) async fn connect() -> ldap3::Ldap {
    let ca = std::fs::read_to_string(env("ALMTEST_AD_CA_FILE")).expect("read the test CA");
    let tls = alm_tls::client_config(Some(&ca)).expect("TLS config");
    let settings = LdapConnSettings::new().set_config(Arc::new(tls));
    let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &env("ALMTEST_AD_URL"))
        .await
        .expect("connect to the DC");
    ldap3::drive!(conn);
    ldap.simple_bind(&env("ALMTEST_AD_BIND"), &env("ALMTEST_AD_PASSWORD"))
        .await
        .expect("bind")
        .success()
        .expect("bind as the test administrator");
    ldap
}

pub(crate) type Attrs = Vec<(Vec<u8>, HashSet<Vec<u8>>)>;

pub(crate) fn a(name: &str, values: &[&[u8]]) -> (Vec<u8>, HashSet<Vec<u8>>) {
    (
        name.as_bytes().to_vec(),
        values.iter().map(|v| v.to_vec()).collect(),
    )
}

fn unicode_pwd(p: &str) -> Vec<u8> {
    format!("\"{p}\"")
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect()
}

pub(crate) async fn add(ldap: &mut ldap3::Ldap, dn: &str, attrs: Attrs) {
    ldap.add(dn, attrs)
        .await
        .expect("add")
        .success()
        .unwrap_or_else(|e| panic!("add {dn}: {e}"));
}

async fn replace(ldap: &mut ldap3::Ldap, dn: &str, name: &str, value: &str) {
    let mods = vec![Mod::Replace(
        name.as_bytes().to_vec(),
        HashSet::from([value.as_bytes().to_vec()]),
    )];
    ldap.modify(dn, mods)
        .await
        .expect("modify")
        .success()
        .unwrap_or_else(|e| panic!("set {name} on {dn}: {e}"));
}

async fn read_one(ldap: &mut ldap3::Ldap, dn: &str, attr: &str) -> SearchEntry {
    let (entries, _) = ldap
        .search(dn, Scope::Base, "(objectClass=*)", vec![attr])
        .await
        .expect("search")
        .success()
        .expect("read");
    SearchEntry::construct(entries.into_iter().next().expect("entry"))
}

async fn sid_of(ldap: &mut ldap3::Ldap, dn: &str) -> Sid {
    let e = read_one(ldap, dn, "objectSid").await;
    Sid::from_bytes(&e.bin_attrs["objectSid"][0]).unwrap()
}

/// A user with a password, UAC and extra text attributes; returns its DN.
pub(crate) async fn user(
    ldap: &mut ldap3::Ldap,
    ou: &str,
    sam: &str,
    uac: u32,
    extra: &[(&str, &str)],
) -> String {
    let dn = format!("CN={sam},{ou}");
    let pwd = unicode_pwd(&format!("Seed-{}-Pw9!", uuid::Uuid::new_v4().simple()));
    let uac = uac.to_string();
    let mut attrs: Attrs = vec![
        a(
            "objectClass",
            &[b"top", b"person", b"organizationalPerson", b"user"],
        ),
        a("sAMAccountName", &[sam.as_bytes()]),
        a("unicodePwd", &[&pwd]),
        a("userAccountControl", &[uac.as_bytes()]),
    ];
    for (k, v) in extra {
        attrs.push(a(k, &[v.as_bytes()]));
    }
    add(ldap, &dn, attrs).await;
    dn
}

impl Seeded {
    pub async fn new(label: &str) -> Self {
        let mut ldap = connect().await;
        let base = env("ALMTEST_AD_BASE_DN");
        let run = uuid::Uuid::new_v4().simple().to_string()[..6].to_owned();
        let ou = format!("OU=disc-{label}-{run},{base}");
        add(
            &mut ldap,
            &ou,
            vec![a("objectClass", &[b"organizationalUnit"])],
        )
        .await;
        let n = |s: &str| format!("{s}-{run}");
        let spn = |s: &str| format!("HTTP/{s}-{run}.disc.test");

        // First, the one whose password will be "old" at fake_now.
        let kold = user(
            &mut ldap,
            &ou,
            &n("svc-kold"),
            0x200,
            &[
                ("servicePrincipalName", &spn("kold")),
                ("msDS-SupportedEncryptionTypes", "24"),
            ],
        )
        .await;
        let kold_pwd: i64 = read_one(&mut ldap, &kold, "pwdLastSet").await.attrs["pwdLastSet"][0]
            .parse()
            .unwrap();
        let fake_now =
            from_ticks(kold_pwd) + Duration::days(PASSWORD_AGE_DAYS) + Duration::seconds(1);
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;

        let mut expected: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
        fn expect(
            map: &mut BTreeMap<String, BTreeSet<&'static str>>,
            sam: String,
            ids: &[&'static str],
        ) {
            map.insert(sam, ids.iter().copied().collect());
        }
        expect(
            &mut expected,
            n("svc-kold"),
            &["kerberoastable-old-password"],
        );
        let mut recent_logon = vec![kold];
        for (name, uac, ids, extra) in [
            ("svc-nexp", 0x1_0200u32, "password-never-expires", vec![]),
            ("svc-pnr", 0x220, "password-not-required", vec![]),
            ("svc-rev", 0x280, "reversible-encryption", vec![]),
            ("svc-asrep", 0x40_0200, "asrep-roastable", vec![]),
            ("svc-uncon", 0x8_0200, "unconstrained-delegation", vec![]),
            (
                "svc-t2a",
                0x100_0200,
                "constrained-delegation-protocol-transition",
                vec![(
                    "msDS-AllowedToDelegateTo",
                    format!("cifs/fs-{run}.disc.test"),
                )],
            ),
            (
                "svc-adm",
                0x200,
                "privileged",
                vec![("adminCount", "1".to_owned())],
            ),
            ("svc-nest", 0x200, "privileged", vec![]),
            (
                "svc-des",
                0x20_0200,
                "des-only",
                vec![
                    ("servicePrincipalName", spn("des")),
                    ("msDS-SupportedEncryptionTypes", "24".into()),
                ],
            ),
            // DES-only by the encryption types alone (0x3: DES-CBC-CRC | DES-CBC-MD5), no flag.
            (
                "svc-desmask",
                0x200,
                "des-only",
                vec![
                    ("servicePrincipalName", spn("desmask")),
                    ("msDS-SupportedEncryptionTypes", "3".into()),
                ],
            ),
            (
                "svc-noaes",
                0x200,
                "no-aes",
                vec![
                    ("servicePrincipalName", spn("noaes")),
                    ("msDS-SupportedEncryptionTypes", "4".into()),
                ],
            ),
            (
                "svc-clean",
                0x200,
                "",
                vec![("description", "a clean one".into())],
            ),
        ] {
            let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
            recent_logon.push(user(&mut ldap, &ou, &n(name), uac, &extra).await);
            let ids: Vec<&'static str> = if ids.is_empty() { vec![] } else { vec![ids] };
            expect(&mut expected, n(name), &ids);
        }
        let stale = user(&mut ldap, &ou, &n("svc-stale"), 0x200, &[]).await;
        expect(&mut expected, n("svc-stale"), &["stale"]);
        user(&mut ldap, &ou, &n("svc-never"), 0x200, &[]).await;
        expect(&mut expected, n("svc-never"), &["never-used"]);
        let plain_user = format!("plain{run}");
        recent_logon.push(user(&mut ldap, &ou, &plain_user, 0x200, &[]).await);

        // Nesting: svc-nest ∈ group ∈ BUILTIN\Backup Operators.
        let group = format!("CN=grp-nest-{run},{ou}");
        let nest_dn = format!("CN={},{ou}", n("svc-nest"));
        add(
            &mut ldap,
            &group,
            vec![
                a("objectClass", &[b"group"]),
                a("sAMAccountName", &[format!("grp-nest-{run}").as_bytes()]),
                a("member", &[nest_dn.as_bytes()]),
            ],
        )
        .await;
        let backup_ops = format!("CN=Backup Operators,CN=Builtin,{base}");
        ldap.modify(
            &backup_ops,
            vec![Mod::Add(
                b"member".to_vec(),
                HashSet::from([group.as_bytes().to_vec()]),
            )],
        )
        .await
        .unwrap()
        .success()
        .expect("nest the group into Backup Operators");
        let readers_group = format!("CN=grp-readers-{run},{ou}");
        add(
            &mut ldap,
            &readers_group,
            vec![
                a("objectClass", &[b"group"]),
                a("sAMAccountName", &[format!("grp-rd-{run}").as_bytes()]),
            ],
        )
        .await;

        // gMSAs: one readable by Domain Users, one by a group of its own.
        let domain_users: Sid = format!("{}-513", sid_of(&mut ldap, &base).await)
            .parse()
            .unwrap();
        let readers = sid_of(&mut ldap, &readers_group).await;
        for (name, reader, ids) in [
            ("gb", domain_users, vec!["gmsa-broad-readers"]),
            ("gk", readers, vec![]),
        ] {
            let sam = format!("{name}{run}$");
            let dn = format!("CN={name}{run},{ou}");
            let sd = gmsa_membership(&[reader]);
            add(
                &mut ldap,
                &dn,
                vec![
                    a("objectClass", &[b"msDS-GroupManagedServiceAccount"]),
                    a("sAMAccountName", &[sam.as_bytes()]),
                    a(
                        "dNSHostName",
                        &[format!("{name}{run}.disc.test").as_bytes()],
                    ),
                    a("msDS-ManagedPasswordInterval", &[b"30"]),
                    a("msDS-SupportedEncryptionTypes", &[b"24"]),
                    a("msDS-GroupMSAMembership", &[&sd]),
                ],
            )
            .await;
            recent_logon.push(dn);
            expected.insert(sam, ids.into_iter().collect());
        }

        // A computer for the host list.
        let computer_dns = format!("hc{run}.disc.test");
        add(
            &mut ldap,
            &format!("CN=hc{run},{ou}"),
            vec![
                a("objectClass", &[b"computer"]),
                a("sAMAccountName", &[format!("hc{run}$").as_bytes()]),
                a("dNSHostName", &[computer_dns.as_bytes()]),
                a("userAccountControl", &[b"4096"]),
            ],
        )
        .await;

        // Logons: recent at fake_now for everyone but the stale and never-used ones; the
        // stale one 200 days before the real now (stale under both clocks).
        let recent = ticks(fake_now - Duration::days(1)).to_string();
        for dn in &recent_logon {
            replace(&mut ldap, dn, "lastLogonTimestamp", &recent).await;
        }
        let real_now = alm_core::Clock::now(&alm_core::SystemClock);
        replace(
            &mut ldap,
            &stale,
            "lastLogonTimestamp",
            &ticks(real_now - Duration::days(200)).to_string(),
        )
        .await;

        let mut expected_now = expected.clone();
        expected_now.insert(n("svc-kold"), BTreeSet::new());
        expected_now.insert(n("svc-never"), BTreeSet::new());
        Seeded {
            ou,
            run,
            expected_at_fake_now: expected,
            expected_now,
            plain_user,
            computer_dns,
            fake_now,
            nested_group_dn: group,
            ldap,
        }
    }

    /// Removes the nesting into Backup Operators and the OU with everything in it.
    pub async fn remove(mut self) {
        let backup_ops = format!(
            "CN=Backup Operators,CN=Builtin,{}",
            env("ALMTEST_AD_BASE_DN")
        );
        let _ = self
            .ldap
            .modify(
                &backup_ops,
                vec![Mod::Delete(
                    b"member".to_vec(),
                    HashSet::from([self.nested_group_dn.as_bytes().to_vec()]),
                )],
            )
            .await;
        // Tree delete (1.2.840.113556.1.4.805), which AD and Samba both honour.
        let tree_delete = ldap3::controls::RawControl {
            ctype: "1.2.840.113556.1.4.805".into(),
            crit: true,
            val: None,
        };
        let _ = self
            .ldap
            .with_controls(vec![tree_delete])
            .delete(&self.ou)
            .await;
        let _ = self.ldap.unbind().await;
    }
}

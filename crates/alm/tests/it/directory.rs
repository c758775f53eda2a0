//! Active Directory over LDAPS against a real Samba AD DC: every operation, every error kind,
//! gMSAs, paged and incremental search, escaping, and the password generator.

use crate::support::ad;
use alm_core::filetime::{eol_instant, AccountExpires};
use alm_directory::password::Generate as _;
use alm_directory::password::PasswordPolicy;
use alm_directory::security_descriptor::Sid;
use alm_directory::{
    ActiveDirectory, Directory, DirectoryError, EntryKind, KerberosEncryption, Lookup, NewGmsa,
    NewUser, Secret,
};
use time::macros::date;

fn new_user(parent: &str, sam: &str) -> NewUser {
    NewUser {
        parent_dn: parent.to_owned(),
        sam_account_name: sam.to_owned(),
        user_principal_name: format!("{sam}@corp.example.test"),
        description: Some(format!("alm test account {sam}")),
        attributes: vec![
            ("department".into(), vec!["Platform".into()]),
            (
                "servicePrincipalName".into(),
                vec![format!("HTTP/{sam}.corp.example.test")],
            ),
        ],
        password: PasswordPolicy::default().generate(sam, ""),
        enabled: true,
        account_expires: AccountExpires::Never,
    }
}

fn sam(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// Binds as the account itself: the directory's own proof that it can (or cannot) log on.
async fn bind_as(upn: &str, password: &Secret) -> Result<(), DirectoryError> {
    let mut config = ad::config();
    config.bind_identity = upn.to_owned();
    config.bind_password = password.clone();
    ActiveDirectory::new(config).unwrap().check().await
}

#[tokio::test]
async fn accounts_are_created_read_changed_moved_and_deleted() {
    let ad = ad::connect();
    ad.check().await.expect("the configured bind works");
    let ou = ad::test_ou(&ad, "ops").await;
    let other_ou = ad.create_organizational_unit("moved", &ou).await.unwrap();
    let name = sam("svc");
    let user = new_user(&ou, &name);
    let created = ad.create_user(&user).await.expect("create");
    assert_eq!(created.dn, format!("CN={name},{ou}"));
    assert_eq!((created.kind, created.enabled()), (EntryKind::User, true));
    assert_eq!(
        created.user_principal_name.as_deref(),
        Some(format!("{name}@corp.example.test").as_str())
    );
    assert_eq!(created.first("department"), Some("Platform"));
    assert_eq!(created.account_expires, AccountExpires::Never);
    bind_as(&user.user_principal_name, &user.password)
        .await
        .expect("the new account logs on with its password");

    let by_guid = ad
        .find(&Lookup::Guid(created.guid))
        .await
        .unwrap()
        .expect("found by objectGUID");
    let by_sam = ad
        .find(&Lookup::SamAccountName(name.to_uppercase()))
        .await
        .unwrap()
        .expect("found by sAMAccountName");
    assert_eq!(
        (by_guid.dn.as_str(), by_sam.guid),
        (created.dn.as_str(), created.guid)
    );

    ad.set_enabled(&created.dn, false).await.unwrap();
    let disabled = ad.find(&Lookup::Guid(created.guid)).await.unwrap().unwrap();
    assert_eq!(
        disabled.user_account_control & 0x2,
        0x2,
        "ACCOUNTDISABLE set"
    );
    assert_eq!(
        disabled.user_account_control & !0x2,
        created.user_account_control,
        "other flags kept"
    );
    let refused = bind_as(&user.user_principal_name, &user.password)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, DirectoryError::BadCredentials { .. }),
        "{refused}"
    );
    ad.set_enabled(&created.dn, true).await.unwrap();

    let eol = AccountExpires::At(eol_instant(date!(2031 - 02 - 28)));
    ad.set_account_expires(&created.dn, eol).await.unwrap();
    let read = ad.find(&Lookup::Guid(created.guid)).await.unwrap().unwrap();
    assert_eq!(read.account_expires, eol);
    assert_eq!(
        read.first("accountExpires"),
        Some(eol.to_attribute().unwrap().as_str()),
        "exactly the EOL instant"
    );
    ad.set_account_expires(&created.dn, AccountExpires::Never)
        .await
        .unwrap();
    assert_eq!(
        ad.find(&Lookup::Guid(created.guid))
            .await
            .unwrap()
            .unwrap()
            .account_expires,
        AccountExpires::Never
    );

    let new_password = PasswordPolicy::default().generate(&name, "");
    ad.set_password(&created.dn, &new_password).await.unwrap();
    bind_as(&user.user_principal_name, &new_password)
        .await
        .expect("the new password works");

    let moved = ad.move_to(&created.dn, &other_ou).await.unwrap();
    assert_eq!(moved, format!("CN={name},{other_ou}"));
    assert_eq!(
        ad.find(&Lookup::Guid(created.guid))
            .await
            .unwrap()
            .unwrap()
            .dn,
        moved
    );

    ad.delete(&moved).await.unwrap();
    assert!(ad
        .find(&Lookup::Guid(created.guid))
        .await
        .unwrap()
        .is_none());
    let gone = ad.delete(&moved).await.unwrap_err();
    assert!(
        matches!(gone, DirectoryError::NoSuchObject { .. }),
        "{gone}"
    );
}

#[tokio::test]
async fn refusals_come_out_as_clear_kinds_and_leave_nothing() {
    let ad = ad::connect();
    let ou = ad::test_ou(&ad, "errors").await;
    let name = sam("dup");
    ad.create_user(&new_user(&ou, &name)).await.unwrap();
    let mut twin = new_user(&ou, &name.to_uppercase());
    twin.user_principal_name = format!("other-{name}@corp.example.test");
    let e = ad.create_user(&twin).await.unwrap_err();
    assert!(matches!(e, DirectoryError::AlreadyExists { .. }), "{e}");

    let weak_name = sam("weak");
    let mut weak = new_user(&ou, &weak_name);
    weak.password = Secret::new("abc");
    let e = ad.create_user(&weak).await.unwrap_err();
    assert!(matches!(e, DirectoryError::PasswordPolicy { .. }), "{e}");
    assert!(
        !e.to_string().contains("abc\""),
        "the password is not in the message: {e}"
    );
    assert!(
        ad.find(&Lookup::SamAccountName(weak_name))
            .await
            .unwrap()
            .is_none(),
        "a refused add leaves nothing"
    );

    let mut config = ad::config();
    config.bind_password = Secret::new("not the password");
    let e = ActiveDirectory::new(config)
        .unwrap()
        .check()
        .await
        .unwrap_err();
    assert!(matches!(e, DirectoryError::BadCredentials { .. }), "{e}");
    assert!(
        e.to_string().contains("wrong password") && !e.to_string().contains("not the password"),
        "{e}"
    );

    let mut config = ad::config();
    config.url = "ldaps://127.0.0.1:1".into();
    let e = ActiveDirectory::new(config)
        .unwrap()
        .check()
        .await
        .unwrap_err();
    assert!(
        matches!(e, DirectoryError::Unreachable { .. }),
        "a DC that does not answer: {e}"
    );

    let mut config = ad::config();
    config.ca_pem = None; // the system store does not know the test CA
    let e = ActiveDirectory::new(config)
        .unwrap()
        .check()
        .await
        .unwrap_err();
    assert!(
        matches!(e, DirectoryError::Tls { .. }),
        "an untrusted certificate: {e}"
    );
    assert!(
        e.to_string().contains("CA certificate"),
        "says what to do: {e}"
    );

    let mut config = ad::config();
    config.url = "ldap://127.0.0.1:389".into();
    assert!(
        matches!(
            ActiveDirectory::new(config).unwrap_err(),
            DirectoryError::Config(_)
        ),
        "LDAPS only"
    );

    let e = ad
        .set_enabled(&format!("CN=nobody,{ou}"), false)
        .await
        .unwrap_err();
    assert!(matches!(e, DirectoryError::NoSuchObject { .. }), "{e}");
}

#[tokio::test]
async fn a_filter_injection_matches_nothing() {
    let ad = ad::connect();
    let ou = ad::test_ou(&ad, "inject").await;
    ad.create_user(&new_user(&ou, &sam("victim")))
        .await
        .unwrap();
    for hostile in [
        "*)(objectClass=*",
        "*",
        "admin*",
        "\\2a",
        "x)(|(sAMAccountName=*",
    ] {
        let found = ad.find(&Lookup::SamAccountName(hostile.into())).await;
        assert!(
            matches!(found, Ok(None)),
            "{hostile:?} must match no object, got {found:?}"
        );
    }
    // A name with DN specials becomes an escaped RDN, not a different place in the tree.
    let odd = ad
        .create_organizational_unit("a,OU=b+c=\"d\"", &ou)
        .await
        .unwrap();
    assert!(
        odd.starts_with("OU=a\\2cOU\\3db\\2bc\\3d\\22d\\22,OU=inject-"),
        "{odd}"
    );
    assert_eq!(ad.organizational_units(Some(&odd)).await.unwrap().len(), 1);
}

#[tokio::test]
async fn gmsas_are_created_with_their_parameters() {
    let ad = ad::connect();
    let base = ad.base_dn().to_owned();
    let ou = ad::test_ou(&ad, "gmsa").await;
    let reader = new_user(&ou, &sam("reader"));
    let reader = ad.create_user(&reader).await.unwrap();
    let reader_sid: Sid = reader.sid.clone().expect("objectSid read");
    let name = sam("gm");
    let gmsa = NewGmsa {
        parent_dn: format!("CN=Managed Service Accounts,{base}"),
        name: name.clone(),
        dns_host_name: format!("{name}.corp.example.test"),
        service_principal_names: vec![
            format!("HTTP/app-{name}.corp.example.test"),
            format!("MSSQLSvc/db-{name}.corp.example.test:1433"),
        ],
        encryption: KerberosEncryption::Aes256,
        password_readers: vec![reader_sid],
        password_interval_days: 30,
        description: Some("gMSA made by the tests".into()),
    };
    let created = ad.create_gmsa(&gmsa).await.expect("create gMSA");
    assert_eq!(created.kind, EntryKind::Gmsa);
    assert_eq!(created.sam_account_name, format!("{name}$"));
    assert_eq!(
        created.first("dNSHostName"),
        Some(gmsa.dns_host_name.as_str())
    );
    assert_eq!(created.first("msDS-SupportedEncryptionTypes"), Some("16"));
    let mut spns = created.attributes["serviceprincipalname"].clone();
    spns.sort();
    let mut expected = gmsa.service_principal_names.clone();
    expected.sort();
    assert_eq!(spns, expected);
    // The same SPN twice in the domain is refused.
    let mut twin = gmsa.clone();
    twin.name = sam("gm");
    twin.dns_host_name = format!("{}.corp.example.test", twin.name);
    let e = ad.create_gmsa(&twin).await.unwrap_err();
    assert!(matches!(e, DirectoryError::AlreadyExists { .. }), "{e}");
    ad.delete(&created.dn).await.unwrap();
}

#[tokio::test]
async fn paged_search_returns_more_than_one_page() {
    let ad = ad::connect();
    let ou = ad::test_ou(&ad, "paged").await;
    for i in 0..1_050 {
        ad.create_organizational_unit(&format!("unit{i:04}"), &ou)
            .await
            .unwrap();
    }
    let ous = ad.organizational_units(Some(&ou)).await.unwrap();
    assert_eq!(
        ous.len(),
        1_051,
        "the 1,050 children and the OU itself, over two pages"
    );
    let mut names: Vec<&str> = ous.iter().map(|o| o.name.as_str()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 1_051, "no entry twice");
}

#[tokio::test]
async fn incremental_search_returns_exactly_the_changed_objects() {
    let ad = ad::connect();
    let ou = ad::test_ou(&ad, "delta").await;
    let a = ad.create_user(&new_user(&ou, &sam("a"))).await.unwrap();
    let b = ad.create_user(&new_user(&ou, &sam("b"))).await.unwrap();
    let c = ad.create_user(&new_user(&ou, &sam("c"))).await.unwrap();
    let group_ou = ad.create_organizational_unit("groups", &ou).await.unwrap();
    let start = ad.highest_usn().await.unwrap();
    ad.set_enabled(&a.dn, false).await.unwrap();
    ad.set_account_expires(
        &c.dn,
        AccountExpires::At(eol_instant(date!(2030 - 01 - 01))),
    )
    .await
    .unwrap();
    let d = ad
        .create_user(&new_user(&group_ou, &sam("d")))
        .await
        .unwrap();
    let changes = ad.changes_since(start + 1).await.unwrap();
    let mine: Vec<&str> = changes
        .users
        .iter()
        .filter(|u| u.dn.ends_with(&ou))
        .map(|u| u.dn.as_str())
        .collect();
    let mut expected = vec![a.dn.as_str(), c.dn.as_str(), d.dn.as_str()];
    let mut got = mine.clone();
    got.sort();
    expected.sort();
    assert_eq!(got, expected, "exactly the changed accounts, not {}", b.dn);
    assert!(changes.highest_usn > start);
    let untouched = ad.changes_since(changes.highest_usn + 1).await.unwrap();
    assert!(
        untouched.users.iter().all(|u| !u.dn.ends_with(&ou)),
        "nothing of ours changed since"
    );
    assert!(
        !untouched.deleted.contains(&b.guid),
        "nothing of ours deleted yet"
    );

    // A deletion is a change too: the tombstone's objectGUID, and nothing live for it.
    let before_delete = ad.highest_usn().await.unwrap();
    ad.delete(&b.dn).await.unwrap();
    let deleted = ad.changes_since(before_delete + 1).await.unwrap();
    assert_eq!(
        deleted.deleted.iter().filter(|g| **g == b.guid).count(),
        1,
        "{:?}",
        deleted.deleted
    );
    assert!(!deleted.deleted.contains(&a.guid), "a still lives");
    assert!(deleted.users.iter().all(|u| u.guid != b.guid));
    assert!(deleted.highest_usn > before_delete);
    let after = ad.changes_since(deleted.highest_usn + 1).await.unwrap();
    assert!(!after.deleted.contains(&b.guid), "reported once");
}

#[tokio::test]
async fn groups_are_read_with_their_members() {
    let ad = ad::connect();
    let ou = ad::test_ou(&ad, "grp").await;
    let members: Vec<_> = [sam("m"), sam("m")]
        .iter()
        .map(|n| new_user(&ou, n))
        .collect();
    let mut dns = Vec::new();
    for m in &members {
        dns.push(ad.create_user(m).await.unwrap().dn);
    }
    // No group creation in the trait (alm does not make groups): the test adds one itself.
    ad.create_group(&sam("team"), &ou, &dns).await.unwrap();

    let groups = ad.groups(Some(&ou)).await.unwrap();
    assert_eq!(groups.len(), 1);
    let mut got = groups[0].members.clone();
    got.sort();
    dns.sort();
    assert_eq!(got, dns);
}

#[tokio::test]
async fn a_thousand_generated_passwords_are_accepted_by_the_directory() {
    let ad = ad::connect();
    let ou = ad::test_ou(&ad, "pw").await;
    let name = sam("pw");
    let account = ad.create_user(&new_user(&ou, &name)).await.unwrap();
    let policy = PasswordPolicy::default();
    for i in 0..1_000 {
        let password = policy.generate(&name, "");
        if let Err(e) = ad.set_password(&account.dn, &password).await {
            panic!("generated password #{i} refused: {e}");
        }
    }
    // Shorter policies without symbols too.
    let plain = PasswordPolicy {
        length: 14,
        symbols: false,
        ..PasswordPolicy::default()
    };
    for _ in 0..50 {
        ad.set_password(&account.dn, &plain.generate(&name, ""))
            .await
            .expect("14 characters, no symbols");
    }
}

#[tokio::test]
async fn cannot_change_password_is_enforced_by_the_directory() {
    let ad = ad::connect();
    let ou = ad::test_ou(&ad, "ccp").await;
    let policy = PasswordPolicy::default();
    let mut made = Vec::new();
    for prefix in ["free", "held"] {
        let name = sam(prefix);
        let user = new_user(&ou, &name);
        let entry = ad.create_user(&user).await.unwrap();
        made.push((entry.dn, user.user_principal_name, user.password));
    }
    // Twice: the second time finds the ACEs and changes nothing.
    assert!(ad.deny_password_change(&made[1].0).await.unwrap());
    assert!(!ad.deny_password_change(&made[1].0).await.unwrap());

    for (i, (dn, upn, password)) in made.iter().enumerate() {
        let mut config = ad::config();
        config.bind_identity = upn.clone();
        config.bind_password = password.clone();
        let as_itself = ActiveDirectory::new(config).unwrap();
        let new = policy.generate("x", "");
        let changed = as_itself.change_own_password(dn, password, &new).await;
        if i == 0 {
            changed.expect("an account without the deny ACEs changes its own password");
            bind_as(upn, &new).await.expect("the new password binds");
        } else {
            let e = changed.expect_err("the deny ACEs stop the account changing its password");
            assert!(
                matches!(e, DirectoryError::InsufficientRights { .. }),
                "{e:?}"
            );
            bind_as(upn, password)
                .await
                .expect("the old password still binds");
            // An administrator's reset still works (alm rotates passwords this way).
            ad.set_password(dn, &new).await.unwrap();
            bind_as(upn, &new).await.unwrap();
        }
    }
}

//! The directory analysis against the real DC: every finding on exactly the seeded accounts.

use crate::seed::{env, Seeded};
use alm_directory::{ActiveDirectory, DirectoryConfig, Secret};
use alm_discover::analysis::analyse;
use alm_discover::directory_reader;
use alm_discover::settings::AnalysisSettings;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

pub(crate) fn directory() -> ActiveDirectory {
    ActiveDirectory::new(DirectoryConfig {
        url: env("ALMTEST_AD_URL"),
        failover_urls: Vec::new(),
        discovery: None,
        bind_identity: env("ALMTEST_AD_BIND"),
        bind_password: Secret::new(env("ALMTEST_AD_PASSWORD")),
        ca_pem: Some(std::fs::read_to_string(env("ALMTEST_AD_CA_FILE")).expect("read the test CA")),
        base_dn: env("ALMTEST_AD_BASE_DN"),
        timeout: Duration::from_secs(20),
    })
    .expect("directory config")
}

#[tokio::test]
async fn every_finding_is_reported_on_exactly_the_seeded_accounts() {
    let seed = Seeded::new("analysis").await;
    let ad = directory();
    let naming_context = directory_reader::naming_context(&ad)
        .await
        .expect("root DSE");
    assert_eq!(naming_context, env("ALMTEST_AD_BASE_DN"));
    let (accounts_in_scope, computers_in_scope) =
        directory_reader::count(&ad, &seed.ou).await.expect("count");
    // 15 finding accounts + 2 clean service accounts + 1 plain user; 1 computer.
    assert_eq!((accounts_in_scope, computers_in_scope), (18, 1));

    let started = Instant::now();
    let accounts = directory_reader::read_accounts(&ad, &naming_context, &seed.ou)
        .await
        .expect("read accounts");
    let analysed = analyse(&accounts, &AnalysisSettings::defaults(), seed.fake_now);
    eprintln!(
        "read and analysed {} accounts in {:?}",
        accounts.len(),
        started.elapsed()
    );

    let got: BTreeMap<String, BTreeSet<&'static str>> = analysed
        .iter()
        .map(|a| {
            (
                a.account.sam_account_name.clone(),
                a.findings.iter().map(|f| f.kind.id()).collect(),
            )
        })
        .collect();
    assert_eq!(
        got, seed.expected_at_fake_now,
        "findings per account at the injected clock"
    );
    assert!(
        !got.contains_key(&seed.plain_user),
        "a plain user is not a service account"
    );
    // Every finding kind is exercised by the seed.
    let kinds: BTreeSet<&str> = got.values().flatten().copied().collect();
    let all: BTreeSet<&str> = alm_discover::findings::FindingKind::ALL
        .iter()
        .map(|k| k.id())
        .collect();
    assert_eq!(kinds, all);

    // The nested member is privileged through its group, not by adminCount.
    let nest = analysed
        .iter()
        .find(|a| a.account.sam_account_name == format!("svc-nest-{}", seed.run))
        .unwrap();
    assert_eq!(nest.account.privileged_groups, ["Backup Operators"]);
    assert!(!nest.account.admin_count);

    let computers = directory_reader::read_computers(&ad, &seed.ou)
        .await
        .expect("computers");
    assert_eq!(computers.len(), 1);
    assert_eq!(
        computers[0].dns_host_name.as_deref(),
        Some(seed.computer_dns.as_str())
    );
    seed.remove().await;
}

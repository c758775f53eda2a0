//! The Samba Active Directory DC that `scripts/test.sh` starts (`ALMTEST_AD_*`), and a
//! private OU per test so tests running side by side never see each other's objects.

use alm_directory::{ActiveDirectory, DirectoryConfig, Secret};
use std::time::Duration;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: directory tests need the Samba AD DC that `bash scripts/test.sh` starts")
    })
}

pub fn config() -> DirectoryConfig {
    DirectoryConfig {
        url: env("ALMTEST_AD_URL"),
        failover_urls: Vec::new(),
        discovery: None,
        bind_identity: env("ALMTEST_AD_BIND"),
        bind_password: Secret::new(env("ALMTEST_AD_PASSWORD")),
        ca_pem: Some(std::fs::read_to_string(env("ALMTEST_AD_CA_FILE")).expect("read the test CA")),
        base_dn: env("ALMTEST_AD_BASE_DN"),
        timeout: Duration::from_secs(20),
    }
}

pub fn connect() -> ActiveDirectory {
    ActiveDirectory::new(config()).expect("valid directory configuration")
}

/// A fresh OU under the domain root for one test: `OU=<label>-<random>`.
pub async fn test_ou(ad: &ActiveDirectory, label: &str) -> String {
    let name = format!(
        "{label}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let base = ad.base_dn().to_owned();
    ad.create_organizational_unit(&name, &base)
        .await
        .expect("create the test OU")
}

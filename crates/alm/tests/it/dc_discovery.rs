//! Finding a domain's controllers in DNS (SPEC §6.1, §12), against a real DNS server
//! (dnsmasq, `support::dns`) serving the SRV records Active Directory registers: the order
//! RFC 2782 gives them, the addresses the same server gives, and the errors an administrator
//! reads when DNS has nothing.

use crate::support::dns::{Dns, Record};
use alm_directory::dc_discovery::{find_dcs, DcDiscovery, FoundDc};
use std::time::Duration;

const SRV: &str = "_ldap._tcp.dc._msdcs.corp.example.test";

fn srv<'a>(target: &'a str, priority: u16, weight: u16) -> Record<'a> {
    Record::Srv {
        name: SRV,
        target,
        port: 389,
        priority,
        weight,
    }
}

fn discovery(dns: &Dns, domain: &str) -> DcDiscovery {
    DcDiscovery {
        dns_name: domain.into(),
        nameservers: vec![dns.addr],
    }
}

#[tokio::test]
async fn controllers_come_in_priority_order_with_the_addresses_dns_gives() {
    let dns = Dns::start(&[
        srv("dc3.corp.example.test", 20, 100),
        srv("dc1.corp.example.test", 0, 100),
        srv("dc2.corp.example.test", 10, 0),
        Record::Host {
            name: "dc1.corp.example.test",
            addr: "192.0.2.1",
        },
        Record::Host {
            name: "dc2.corp.example.test",
            addr: "192.0.2.2",
        },
        Record::Host {
            name: "dc3.corp.example.test",
            addr: "192.0.2.3",
        },
    ]);
    let found = find_dcs(
        &discovery(&dns, "corp.example.test"),
        Duration::from_secs(5),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", dns.log_text()));
    let expected = [
        ("dc1.corp.example.test", "192.0.2.1"),
        ("dc2.corp.example.test", "192.0.2.2"),
        ("dc3.corp.example.test", "192.0.2.3"),
    ]
    .map(|(host, addr)| FoundDc {
        host: host.into(),
        addrs: vec![addr.parse().unwrap()],
    });
    assert_eq!(found, expected);
    assert!(
        dns.log_text().contains(&format!("query[SRV] {SRV}")),
        "the SRV name asked: {}",
        dns.log_text()
    );
}

#[tokio::test]
async fn a_controller_without_an_address_is_left_out() {
    let dns = Dns::start(&[
        srv("gone.corp.example.test", 0, 100),
        srv("dc2.corp.example.test", 10, 100),
        Record::Host {
            name: "dc2.corp.example.test",
            addr: "192.0.2.2",
        },
    ]);
    let found = find_dcs(
        &discovery(&dns, "corp.example.test"),
        Duration::from_secs(5),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", dns.log_text()));
    let hosts: Vec<&str> = found.iter().map(|d| d.host.as_str()).collect();
    assert_eq!(hosts, ["dc2.corp.example.test"]);
}

#[tokio::test]
async fn a_domain_dns_does_not_know_is_an_error_naming_the_record_and_the_server() {
    let dns = Dns::start(&[srv("dc1.corp.example.test", 0, 100)]);
    let e = find_dcs(
        &discovery(&dns, "other.example.test"),
        Duration::from_secs(5),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("_ldap._tcp.dc._msdcs.other.example.test") && e.contains(&dns.addr.to_string()),
        "{e}"
    );
    // Records whose targets have no address at all: nothing to connect to, said as such.
    let e = find_dcs(
        &discovery(&dns, "corp.example.test"),
        Duration::from_secs(5),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(e.contains("no domain controller with an address"), "{e}");
}

/// The SRV name of the pair's domain.
pub(crate) const PAIR_SRV: &str = "_ldap._tcp.dc._msdcs.pair.example.test";

fn pair_env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set (bash scripts/test.sh sets it)"))
}

/// The pair's DCs as Active Directory registers them (`tests/peers/samba_pair.sh`); the first
/// at `first_priority`, the second at 10.
pub(crate) fn pair_dns(first_priority: u16) -> Dns {
    let (host1, host2) = (
        pair_env("ALMTEST_PAIR_DC1_HOST"),
        pair_env("ALMTEST_PAIR_DC2_HOST"),
    );
    Dns::start(&[
        Record::Srv {
            name: PAIR_SRV,
            target: &host1,
            port: 389,
            priority: first_priority,
            weight: 100,
        },
        Record::Srv {
            name: PAIR_SRV,
            target: &host2,
            port: 389,
            priority: 10,
            weight: 100,
        },
        Record::Host {
            name: &host1,
            addr: &pair_env("ALMTEST_PAIR_DC1_ADDR"),
        },
        Record::Host {
            name: &host2,
            addr: &pair_env("ALMTEST_PAIR_DC2_ADDR"),
        },
    ])
}

fn pair_config(url: &str, dns: Option<&Dns>) -> alm_directory::DirectoryConfig {
    alm_directory::DirectoryConfig {
        url: url.into(),
        failover_urls: Vec::new(),
        discovery: dns.map(|d| DcDiscovery {
            dns_name: "pair.example.test".into(),
            nameservers: vec![d.addr],
        }),
        bind_identity: pair_env("ALMTEST_PAIR_BIND"),
        bind_password: alm_core::Secret::new(pair_env("ALMTEST_PAIR_PASSWORD")),
        ca_pem: Some(std::fs::read_to_string(pair_env("ALMTEST_PAIR_CA_FILE")).unwrap()),
        base_dn: pair_env("ALMTEST_PAIR_BASE_DN"),
        timeout: Duration::from_secs(10),
    }
}

/// Nothing answers on 127.0.0.8 (CI leaves it unused): the listed controller is down.
const DOWN: &str = "ldaps://127.0.0.8:636";

#[tokio::test]
async fn with_the_listed_controller_down_the_first_one_dns_names_is_bound_by_its_name() {
    use alm_directory::{ActiveDirectory, Directory};
    let dns = pair_dns(0);
    let ad = ActiveDirectory::new(pair_config(DOWN, Some(&dns))).unwrap();
    ad.check()
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", dns.log_text()));
    assert_eq!(
        ad.url(),
        format!("ldaps://{}:636", pair_env("ALMTEST_PAIR_DC1_HOST"))
    );
    // Without discovery the same domain is unreachable, and says which controller failed.
    let e = ActiveDirectory::new(pair_config(DOWN, None))
        .unwrap()
        .check()
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains(DOWN), "{e}");
}

#[tokio::test]
async fn none_answering_names_the_listed_controller_and_the_dns_lookup() {
    use alm_directory::{ActiveDirectory, Directory};
    let dns = Dns::start(&[]);
    let e = ActiveDirectory::new(pair_config(DOWN, Some(&dns)))
        .unwrap()
        .check()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(DOWN) && e.contains("_ldap._tcp.dc._msdcs.pair.example.test"),
        "{e}"
    );
}

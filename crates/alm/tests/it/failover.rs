//! Several domain controllers per domain (SPEC §6.1, §12): a domain of two Samba DCs that
//! replicate (`tests/peers/samba_pair.sh`), configured in alm as the first DC with the second
//! as its failover. With both up, an account is provisioned; with the first stopped in the
//! middle of the run, the next request is provisioned through the second DC (its read-back
//! too), and an owner's disable goes there as well; the first DC back, it has both changes
//! by replication. The same domain configured with its first DC alone and "find the others in
//! DNS" goes on through the second DC, found in the SRV records a DNS server of the test's own
//! serves (`support::dns`), asked only once the listed DC failed.

use crate::dc_discovery::{pair_dns, PAIR_SRV};
use crate::lifecycle::{provisioned_from, settled};
use crate::support::{Backend, TestServer};
use crate::templates::{definition, world_on};
use alm_core::Secret;
use alm_directory::{ActiveDirectory, Directory, DirectoryConfig, Lookup};
use serde_json::json;
use std::time::Duration;

/// Both tests stop and start the pair's first DC: one at a time.
static PAIR: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set (bash scripts/test.sh sets it)"))
}

/// The pair's first DC with the second as failover (`failover_urls` empty: one DC alone).
fn pair(url: &str, failover: &[String]) -> DirectoryConfig {
    DirectoryConfig {
        url: url.to_owned(),
        failover_urls: failover.to_vec(),
        discovery: None,
        bind_identity: env("ALMTEST_PAIR_BIND"),
        bind_password: Secret::new(env("ALMTEST_PAIR_PASSWORD")),
        ca_pem: Some(std::fs::read_to_string(env("ALMTEST_PAIR_CA_FILE")).expect("the pair's CA")),
        base_dn: env("ALMTEST_PAIR_BASE_DN"),
        timeout: Duration::from_secs(10),
    }
}

/// Stops or restarts the first DC of the pair.
fn first_dc(action: &str) {
    let out = std::process::Command::new("bash")
        .arg(env("ALMTEST_PAIR_SCRIPT"))
        .arg(action)
        .arg(env("ALMTEST_PAIR_DIR"))
        .output()
        .expect("run samba_pair.sh");
    assert!(
        out.status.success(),
        "samba_pair.sh {action}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The first DC stopped until [`Down::restart`]; a test that panics in between starts it again
/// on its way out, so the next test of the pair does not find it down.
struct Down(bool);

fn stop_first_dc() -> Down {
    first_dc("stop");
    Down(true)
}

impl Down {
    fn restart(mut self) {
        self.0 = false;
        first_dc("restart");
    }
}

impl Drop for Down {
    fn drop(&mut self) {
        if self.0 {
            first_dc("restart");
        }
    }
}

/// Whether `name` is on the DC of `c` (alone), and enabled.
async fn on(c: &DirectoryConfig, name: &str) -> Option<bool> {
    ActiveDirectory::new(c.clone())
        .unwrap()
        .find(&Lookup::SamAccountName(name.into()))
        .await
        .unwrap()
        .map(|e| e.enabled())
}

/// Waits (bounded) until `name` on the DC of `c` is `want` (replication is asynchronous).
async fn replicated(c: &DirectoryConfig, name: &str, want: Option<bool>) {
    let mut seen = None;
    for _ in 0..120 {
        seen = on(c, name).await;
        if seen == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!(
        "{name} on {}: {seen:?}, expected {want:?} within 60 s",
        c.url
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_first_domain_controller_down_the_second_serves_provisioning_and_disable() {
    let _pair = PAIR.lock().await;
    let (dc1, dc2) = (env("ALMTEST_PAIR_DC1_URL"), env("ALMTEST_PAIR_DC2_URL"));
    let both = pair(&dc1, std::slice::from_ref(&dc2));
    let (only1, only2) = (pair(&dc1, &[]), pair(&dc2, &[]));
    let s = TestServer::start(Backend::Sqlite).await;
    let w = world_on(&s, &both).await;
    let (_, domain) = s
        .admin()
        .get(&format!("/api/v1/domains/{}", w.domain))
        .await;
    assert_eq!(domain["failover_urls"], json!([dc2]), "{domain}");
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..6];

    // Both DCs up: provisioned (on the first), and the second has it by replication.
    let first = provisioned_from(&s, &w, definition(&w), &format!("one{tag}")).await;
    let first_name = first["name"].as_str().unwrap().to_owned();
    assert_eq!(on(&only1, &first_name).await, Some(true));
    replicated(&only2, &first_name, Some(true)).await;

    // The first DC stops: the next account is made, and read back, on the second.
    let down = stop_first_dc();
    let second = provisioned_from(&s, &w, definition(&w), &format!("two{tag}")).await;
    let second_name = second["name"].as_str().unwrap().to_owned();
    assert_eq!(second["status"], "active", "{second}");
    assert_eq!(
        on(&only2, &second_name).await,
        Some(true),
        "made on the second DC"
    );
    // An owner's disable goes to the second DC too.
    let (st, a) = w
        .requester
        .post(
            &format!(
                "/api/v1/accounts/{}/actions/disable",
                first["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    assert_eq!((st, a["status"].as_str()), (200, Some("disabled")), "{a}");
    settled(&s).await;
    assert_eq!(
        on(&only2, &first_name).await,
        Some(false),
        "disabled on the second DC"
    );
    let (_, jobs) = s.admin().get("/api/v1/jobs?status=failed").await;
    assert_eq!(jobs["items"], json!([]), "{jobs}");

    // The first DC back: replication brings it both changes.
    down.restart();
    replicated(&only1, &second_name, Some(true)).await;
    replicated(&only1, &first_name, Some(false)).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_listed_controller_down_one_found_in_dns_serves_provisioning() {
    let _pair = PAIR.lock().await;
    let (dc1, dc2) = (env("ALMTEST_PAIR_DC1_URL"), env("ALMTEST_PAIR_DC2_URL"));
    let srv = PAIR_SRV;
    // What Active Directory registers: each DC under the domain's SRV name, LDAP's port.
    let dns = pair_dns(0);
    let s = TestServer::start_with(
        Backend::Sqlite,
        &[("ALM_ENGINES__NAMESERVERS", &dns.addr.to_string())],
    )
    .await;
    let w = world_on(&s, &pair(&dc1, &[])).await;
    let path = format!("/api/v1/domains/{}", w.domain);

    // Turning discovery on sends the password to controllers nobody listed: it is asked again.
    let (st, e) = s.admin().patch(&path, json!({"discover_dcs": true})).await;
    assert_eq!(st, 422, "{e}");
    assert!(e.to_string().contains("bind_password"), "{e}");
    let (_, unchanged) = s.admin().get(&path).await;
    assert_eq!(unchanged["discover_dcs"], json!(false), "{unchanged}");
    let (st, d) = s
        .admin()
        .patch(
            &path,
            json!({"discover_dcs": true, "bind_password": env("ALMTEST_PAIR_PASSWORD")}),
        )
        .await;
    assert_eq!((st, &d["discover_dcs"]), (200, &json!(true)), "{d}");
    assert_eq!(d["failover_urls"], json!([]), "{d}");
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..6];
    let first = provisioned_from(&s, &w, definition(&w), &format!("dnsa{tag}")).await;
    assert_eq!(first["status"], "active", "{first}");
    // The template's OU, made on the first DC, must be on the second before it goes down.
    replicated(
        &pair(&dc2, &[]),
        first["name"].as_str().unwrap(),
        Some(true),
    )
    .await;
    assert!(
        !dns.log_text().contains("query[SRV]"),
        "DNS is asked only when the listed controllers fail: {}",
        dns.log_text()
    );

    // The listed DC stops: the next account is made, and read back, on the one DNS found.
    let down = stop_first_dc();
    let second = provisioned_from(&s, &w, definition(&w), &format!("dnsb{tag}")).await;
    let second_name = second["name"].as_str().unwrap().to_owned();
    assert_eq!(second["status"], "active", "{second}");
    assert_eq!(
        on(&pair(&dc2, &[]), &second_name).await,
        Some(true),
        "made on the second DC"
    );
    assert!(
        dns.log_text().contains(&format!("query[SRV] {srv}")),
        "{}",
        dns.log_text()
    );
    let (_, jobs) = s.admin().get("/api/v1/jobs?status=failed").await;
    assert_eq!(jobs["items"], json!([]), "{jobs}");
    down.restart();
    replicated(&pair(&dc1, &[]), &second_name, Some(true)).await;
    s.stop().await;
}

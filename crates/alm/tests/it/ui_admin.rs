//! Web UI part 2, Administration (issue 15): in the browser only, an administrator adds the
//! Samba domain (the services' rules at their fields first), checks it (the engine reaches it),
//! syncs it (the run and its counts), browses the objects found, chooses user sync groups,
//! adds an OpenBao vault and checks it, reads the usage page, and deletes the vault; and
//! (test 4) activates a real `alm engine`: token and command in the browser, the process
//! registers, is assigned to a new pool and activated in the browser, and a domain check of
//! that pool runs on it. The API confirms what the pages did. Both browsers; axe and
//! screenshots at both sizes.

use crate::engines::{registered, EngineProcess};
use crate::support::browser::{Browser, Kind};
use crate::support::server::{ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::support::{Backend, TestServer};
use fantoccini::Locator;
use serde_json::json;

pub(crate) fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run `bash scripts/test.sh`"))
}

async fn choose(b: &Browser, css: &str) {
    b.client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .click()
        .await
        .expect("choose");
}

pub(crate) async fn signed_in_admin(s: &TestServer, kind: Kind) -> Browser {
    let b = Browser::start_with(kind, true).await;
    b.goto(&format!("{}/sign-in", s.base)).await;
    b.fill("#email", ADMIN_EMAIL).await;
    b.fill("#password", ADMIN_PASSWORD).await;
    b.submit("form[action='/sign-in'] button[type=submit]")
        .await;
    b.wait_for_path("/").await;
    b
}

/// Fills the new-domain form (already open) for the test DC and saves it; with `bad_time`,
/// first with a sync time that is no time of day (refused at its field, the password not sent
/// back). Returns the domain's id.
pub(crate) async fn add_domain(b: &Browser, name: &str, bad_time: bool) -> String {
    b.fill("#name", name).await;
    b.fill("#url", &env("ALMTEST_AD_URL")).await;
    b.fill("#bind_identity", &env("ALMTEST_AD_BIND")).await;
    b.fill("#bind_password", &env("ALMTEST_AD_PASSWORD")).await;
    b.fill("#base_dn", &env("ALMTEST_AD_BASE_DN")).await;
    let ca = std::fs::read_to_string(env("ALMTEST_AD_CA_FILE")).expect("the test CA");
    b.fill("#ca_pem", &ca).await;
    if bad_time {
        b.fill("#sync_time", "25:00").await;
        b.submit("form[action='/domains/new'] button[type=submit]")
            .await;
        assert!(b.has("#sync_time-error").await, "25:00 is no time of day");
        assert_eq!(
            b.value("#bind_password").await,
            "",
            "a password is never sent back"
        );
        b.fill("#bind_password", &env("ALMTEST_AD_PASSWORD")).await;
        b.fill("#sync_time", "").await;
    }
    b.submit("form[action='/domains/new'] button[type=submit]")
        .await;
    let path = b.wait_for_path_starting("/domains/0").await;
    path.trim_start_matches("/domains/")
        .split('?')
        .next()
        .unwrap()
        .to_owned()
}

/// Fills the new-vault form (already open) for the test OpenBao with alm's least-privilege
/// token and saves it; returns the vault's id.
pub(crate) async fn add_openbao_vault(b: &Browser, name: &str) -> String {
    b.fill("#name", name).await;
    b.fill("#address", &env("ALMTEST_OPENBAO_ADDR")).await;
    b.fill("#credential", &env("ALMTEST_OPENBAO_ALM_TOKEN"))
        .await;
    b.submit("form[action='/vaults/new?kind=openbao'] button[type=submit]")
        .await;
    let path = b.wait_for_path_starting("/vaults/0").await;
    path.trim_start_matches("/vaults/")
        .split('?')
        .next()
        .unwrap()
        .to_owned()
}

async fn administration(s: &TestServer, kind: Kind) {
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..6];
    let b = signed_in_admin(s, kind).await;
    b.client
        .find(Locator::XPath(
            "//nav[@class='site-nav']//a[normalize-space(.)='Administration']",
        ))
        .await
        .expect("an Administration section")
        .click()
        .await
        .expect("click");
    b.wait_for_path("/templates").await;
    assert_eq!(
        b.texts(".section-nav a").await,
        [
            "Workflow templates",
            "Account discovery",
            "Engines and pools",
            "Job queue",
            "Email templates",
            "Email outbox",
            "Webhooks",
            "Usage"
        ]
    );

    // A domain: the rules at their fields, then the Samba DC.
    b.client
        .find(Locator::XPath(
            "//nav[@class='site-nav']//a[normalize-space(.)='Integrations']",
        ))
        .await
        .expect("an Integrations section")
        .click()
        .await
        .expect("click");
    b.wait_for_path("/domains").await;
    assert_eq!(
        b.texts(".section-nav a").await,
        ["Domains", "Vaults", "SIEM", "API clients"]
    );
    b.screenshots("domains-empty").await;
    b.click("a[href='/domains/new']").await;
    b.wait_for_path("/domains/new").await;
    b.submit("form[action='/domains/new'] button[type=submit]")
        .await;
    assert!(b.has("#name-error").await && b.has("#bind_password-error").await);
    assert!(b.has("#base_dn-error").await);
    b.screenshots("domain-new-errors").await;
    let domain_id = add_domain(&b, &format!("Corp {tag}"), true).await;
    assert!(b.text(".notice").await.contains("The domain is added"));
    b.screenshots("domain").await;

    // Check: the in-process engine binds over LDAPS.
    b.submit("#check-domain").await;
    let result = b.text("#check-result").await;
    assert!(
        b.text("#engine-checks").await.contains("Reaches it"),
        "{result}"
    );
    b.screenshots("domain-checked").await;

    // A full sync: its run with counts; the objects browser shows what it found.
    b.submit("#sync-full").await;
    let notice = b.wait_for_text("#domain-notice", "sync finished").await;
    assert!(notice.contains("added"), "{notice}");
    assert!(b.text("#sync-runs").await.contains("Succeeded"));
    b.screenshots("domain-synced").await;
    b.click(&format!("a[href='/domains/{domain_id}/objects']"))
        .await;
    b.wait_for_path(&format!("/domains/{domain_id}/objects"))
        .await;
    // (Other tests share the DC and add OUs of their own: search for the one every domain has.)
    choose(&b, "#state option[value='ou']").await;
    b.fill("#q", "domain controllers").await;
    b.click("#objects-table form.filters button[type=submit]")
        .await;
    b.wait_for_text("#objects-table tbody", "Domain Controllers")
        .await;
    assert!(b
        .texts("#objects-table tbody tr")
        .await
        .iter()
        .all(|r| r.contains("OU")));
    b.screenshots("domain-objects").await;

    // User sync groups: an unknown group and a bad limit at their fields, then saved.
    b.goto(&format!("{}/domains/{domain_id}/user-sync", s.base))
        .await;
    b.fill("#groups", &format!("No such group {tag}")).await;
    b.fill("#max_disable_percent", "150").await;
    b.submit(&format!(
        "form[action='/domains/{domain_id}/user-sync'] button[type=submit]"
    ))
    .await;
    assert!(b.text("#groups-error").await.contains("no group named"));
    assert!(b.has("#max_disable_percent-error").await);
    b.screenshots("domain-user-sync-errors").await;
    b.fill("#groups", "Domain Admins").await;
    b.fill("#max_disable_percent", "5").await;
    b.submit(&format!(
        "form[action='/domains/{domain_id}/user-sync'] button[type=submit]"
    ))
    .await;
    b.wait_for_path(&format!("/domains/{domain_id}?done=user-sync"))
        .await;
    let (_, sync) = s
        .admin()
        .get(&format!("/api/v1/domains/{domain_id}/user-sync"))
        .await;
    assert_eq!(sync["group_guids"].as_array().unwrap().len(), 1, "{sync}");
    assert_eq!(sync["max_disable_percent"], 5, "{sync}");

    // Editing the address without the password again is refused at the password.
    b.goto(&format!("{}/domains/{domain_id}/edit", s.base))
        .await;
    b.fill("#url", "ldaps://elsewhere.example.test").await;
    b.submit(&format!(
        "form[action='/domains/{domain_id}/edit'] button[type=submit]"
    ))
    .await;
    assert!(b.text("#bind_password-error").await.contains("again"));
    b.screenshots("domain-edit-errors").await;
    let (_, d) = s.admin().get(&format!("/api/v1/domains/{domain_id}")).await;
    assert_eq!(d["url"], env("ALMTEST_AD_URL").as_str(), "nothing changed");

    // Finding the other domain controllers in DNS: the password again, then the page says so.
    b.goto(&format!("{}/domains/{domain_id}/edit", s.base))
        .await;
    assert!(b.has("#discover_dcs").await && !b.has("#discover_dcs:checked").await);
    b.check("#discover_dcs").await;
    b.fill("#bind_password", &env("ALMTEST_AD_PASSWORD")).await;
    b.submit(&format!(
        "form[action='/domains/{domain_id}/edit'] button[type=submit]"
    ))
    .await;
    b.wait_for_path_starting(&format!("/domains/{domain_id}?"))
        .await;
    let dns_name = env("ALMTEST_AD_BASE_DN")
        .split(',')
        .filter_map(|rdn| rdn.strip_prefix("DC="))
        .collect::<Vec<_>>()
        .join(".")
        .to_lowercase();
    assert_eq!(
        b.text("#dns-discovery").await,
        format!("the domain controllers of {dns_name}")
    );
    b.screenshots("domain-dns-discovery").await;
    let (_, d) = s.admin().get(&format!("/api/v1/domains/{domain_id}")).await;
    assert_eq!(d["discover_dcs"], true, "{d}");

    // An OpenBao vault, checked by the engine.
    b.goto(&format!("{}/vaults", s.base)).await;
    b.click("a[href='/vaults/new']").await;
    b.wait_for_path("/vaults/new").await;
    b.click("a[href='/vaults/new?kind=openbao']").await;
    b.wait_for_path("/vaults/new?kind=openbao").await;
    b.submit("form[action='/vaults/new?kind=openbao'] button[type=submit]")
        .await;
    assert!(b.has("#name-error").await && b.has("#address-error").await);
    assert!(b.has("#credential-error").await);
    b.screenshots("vault-new-errors").await;
    let vault_id = add_openbao_vault(&b, &format!("OpenBao {tag}")).await;
    b.submit("#check-vault").await;
    let result = b.text("#vault-result").await;
    assert!(
        b.text("#engine-checks").await.contains("Reaches it"),
        "{result}"
    );
    b.screenshots("vault-checked").await;
    let (st, v) = s.admin().get(&format!("/api/v1/vaults/{vault_id}")).await;
    assert_eq!(st, 200);
    assert_eq!(v["kind"], "openbao");
    assert_eq!(v["has_credential"], true);

    // Usage counts the domain and both vaults.
    b.goto(&format!("{}/usage", s.base)).await;
    let usage = b.text("#usage").await;
    assert!(
        usage.contains("Domains\n1") || usage.contains("Domains 1"),
        "{usage}"
    );
    assert!(
        usage.contains("Vaults\n2") || usage.contains("Vaults 2"),
        "{usage}"
    );
    b.screenshots("usage").await;

    // The vault deleted, confirmed.
    b.goto(&format!("{}/vaults/{vault_id}/delete", s.base))
        .await;
    b.screenshots("vault-delete").await;
    b.submit("#confirm-button").await;
    b.wait_for_path("/vaults?done=deleted").await;
    assert_eq!(
        s.admin().get(&format!("/api/v1/vaults/{vault_id}")).await.0,
        404
    );
    b.screenshots("vaults").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_sets_up_a_domain_and_a_vault_in_chromium() {
    let s = TestServer::start(Backend::Sqlite).await;
    administration(&s, Kind::Chromium).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_sets_up_a_domain_and_a_vault_in_firefox() {
    let s = TestServer::start(Backend::Sqlite).await;
    administration(&s, Kind::Firefox).await;
    s.stop().await;
}

async fn engine_activation(s: &TestServer, kind: Kind) {
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..6];
    let b = signed_in_admin(s, kind).await;

    // The token, shown once, with the command for the engine host.
    b.goto(&format!("{}/engines", s.base)).await;
    b.submit("#new-activation-token").await;
    let token = b.value("#activation-token").await;
    assert!(token.starts_with("alma_"), "{token}");
    let command = b.value("#engine-command").await;
    assert!(
        command.contains(&format!("ALM_ENGINE_TOKEN='{token}'"))
            && command.contains(&format!("alm engine --server {}", s.base)),
        "{command}"
    );
    b.screenshots("engine-activation").await;

    // A real engine registers with it and waits, unassigned.
    let label = format!("site-{tag}");
    let process = EngineProcess::start(&s.base, &token, &label);
    let engine_id = registered(&s.admin(), &label, &process).await;
    b.goto(&format!("{}/engines", s.base)).await;
    assert!(b.text("#unassigned").await.contains("1 registered engine"));
    b.screenshots("engines-unassigned").await;

    // A pool of its own, made in the browser (a bad name first).
    b.goto(&format!("{}/engines/pools", s.base)).await;
    b.click("a[href='/engines/pools/new']").await;
    b.wait_for_path("/engines/pools/new").await;
    b.submit("form[action='/engines/pools/new'] button[type=submit]")
        .await;
    assert!(b.has("#name-error").await);
    let pool_name = format!("Site {tag}");
    b.screenshots("engine-pool-new-errors").await;
    b.fill("#name", &pool_name).await;
    b.submit("form[action='/engines/pools/new'] button[type=submit]")
        .await;
    b.wait_for_path("/engines/pools").await;
    assert!(b.text("main table").await.contains(&pool_name));
    b.screenshots("engine-pools").await;

    // Active without a pool is refused at the field; then assigned and activated.
    b.goto(&format!("{}/engines/{engine_id}", s.base)).await;
    b.check("#active").await;
    b.submit("#save-assignment").await;
    assert!(b
        .text("#active-error")
        .await
        .contains("assign the engine to a pool"));
    let option = b
        .client
        .find(Locator::XPath(&format!(
            "//select[@id='pool_id']/option[normalize-space(.)='{pool_name}']"
        )))
        .await
        .expect("the new pool is offered");
    let pool_id = option.attr("value").await.unwrap().expect("a pool id");
    option.click().await.expect("choose the pool");
    b.submit("#save-assignment").await;
    b.wait_for_path(&format!("/engines/{engine_id}?done=assigned"))
        .await;
    assert_eq!(b.text("#engine-pool").await, pool_name);
    b.screenshots("engine").await;
    let (_, e) = s.admin().get(&format!("/api/v1/engines/{engine_id}")).await;
    assert_eq!(e["active"], true, "{e}");
    assert_eq!(e["pool_id"], pool_id.as_str(), "{e}");

    // A domain served by that pool: its check runs on the new engine.
    let ca = std::fs::read_to_string(env("ALMTEST_AD_CA_FILE")).expect("the test CA");
    let (st, d) = s
        .admin()
        .post(
            "/api/v1/domains",
            json!({"name": format!("Site domain {tag}"), "url": env("ALMTEST_AD_URL"),
                   "bind_identity": env("ALMTEST_AD_BIND"), "bind_password": env("ALMTEST_AD_PASSWORD"),
                   "base_dn": env("ALMTEST_AD_BASE_DN"), "ca_pem": ca, "pool_id": pool_id}),
        )
        .await;
    assert_eq!(st, 201, "{d}");
    b.goto(&format!("{}/domains/{}", s.base, d["id"].as_str().unwrap()))
        .await;
    b.submit("#check-domain").await;
    let checks = b.text("#engine-checks").await;
    assert!(
        checks.contains(&label) && checks.contains("Reaches it"),
        "{checks}\n{}",
        process.log()
    );
    b.goto(&format!("{}/engine-logs", s.base)).await;
    assert!(
        b.text("main").await.contains(&label),
        "the engine has its log section"
    );
    b.screenshots("engine-logs").await;
    b.goto(&format!("{}/jobs?state=succeeded", s.base)).await;
    assert!(b.text("#jobs-table").await.contains("domain-check"));
    b.screenshots("jobs").await;

    // Removed, confirmed: its credential stops working.
    b.goto(&format!("{}/engines/{engine_id}/delete", s.base))
        .await;
    b.screenshots("engine-delete").await;
    b.submit("#confirm-button").await;
    b.wait_for_path("/engines").await;
    assert_eq!(
        s.admin()
            .get(&format!("/api/v1/engines/{engine_id}"))
            .await
            .0,
        404
    );
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_is_activated_in_the_browser_and_checks_a_domain_in_chromium() {
    let s = TestServer::start(Backend::Sqlite).await;
    engine_activation(&s, Kind::Chromium).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_is_activated_in_the_browser_and_checks_a_domain_in_firefox() {
    let s = TestServer::start(Backend::Sqlite).await;
    engine_activation(&s, Kind::Firefox).await;
    s.stop().await;
}

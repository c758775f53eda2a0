//! Web UI part 2, workflow templates (issue 15, test 1): an administrator, in the browser,
//! adds the Samba domain (the engine reaches it), syncs it, adds an OpenBao vault and builds a
//! template through the wizard — the service's rules at their fields first, the OU picked from
//! the synced tree with the picker, one required attribute, two approval steps —, checks the
//! summary, saves and publishes it. A requester files a request from it in the browser, two
//! approvers approve it in the browser, and the account is in Samba with the attribute and its
//! password in OpenBao. Then (test 2) an author without `provision-template-workflow:manage`
//! makes version 2 in the browser; its publish waits for a workflow manager, who approves it
//! in the browser; the account keeps version 1; the comparison shows the change. Last, the
//! template's audience group is disabled in the browser and its page offers to replace it in
//! the templates that name it (SPEC §2.2): done, a new version is published with the other
//! group. Both browsers; axe and screenshots at both sizes.

use crate::support::ad;
use crate::support::browser::{Browser, Kind};
use crate::support::{Backend, TestServer};
use crate::templates::group_with;
use crate::ui_admin::{add_domain, add_openbao_vault, env, signed_in_admin};
use alm_directory::{Directory, Lookup};
use alm_server::services::bootstrap;
use alm_vault::Vault;
use fantoccini::Locator;
use serde_json::json;
use std::time::Duration;

const PASSWORD: &str = "template wizard password 1";

/// A person with a password and a built-in role; returns their id.
async fn person(s: &TestServer, name: &str, email: &str, role: &str) -> String {
    let (id, _) = s.user_with_token(name, email).await;
    let role = s.role_id(role).await;
    let (st, body) = s
        .admin()
        .post(
            &format!("/api/v1/roles/{role}/members"),
            json!({"user_id": id}),
        )
        .await;
    assert!(st == 204 || st == 200, "{body}");
    bootstrap::reset_password(
        &s.state().db,
        s.clock.as_ref(),
        email,
        Some(PASSWORD.into()),
    )
    .await
    .expect("password");
    id
}

async fn sign_in_as(b: &Browser, s: &TestServer, email: &str) {
    b.goto(&format!("{}/", s.base)).await;
    if b.has(".user-menu button[type=submit]").await {
        b.submit(".user-menu button[type=submit]").await;
    }
    b.goto(&format!("{}/sign-in", s.base)).await;
    b.fill("#email", email).await;
    b.fill("#password", PASSWORD).await;
    b.submit("form[action='/sign-in'] button[type=submit]")
        .await;
    b.wait_for_path("/").await;
}

/// Chooses the option of `select` whose text is `label`.
async fn choose(b: &Browser, select: &str, label: &str) {
    b.client
        .find(Locator::XPath(&format!(
            "//select[@id='{select}']/option[normalize-space(.)='{label}']"
        )))
        .await
        .unwrap_or_else(|e| panic!("no {label} in #{select}: {e}"))
        .click()
        .await
        .expect("choose");
}

async fn approve(b: &Browser, s: &TestServer, email: &str, account: &str) {
    sign_in_as(b, s, email).await;
    b.goto(&format!("{}/approvals", s.base)).await;
    b.client
        .find(Locator::XPath(&format!(
            "//table//a[normalize-space(.)='{account}']"
        )))
        .await
        .unwrap_or_else(|e| panic!("{account} is not waiting for {email}: {e}"))
        .click()
        .await
        .expect("open");
    b.wait_for_path_starting("/approvals/").await;
    b.submit("form[action$='/approve'] button").await;
    b.wait_for_path("/approvals?done=approved").await;
}

async fn wizard(s: &TestServer, kind: Kind) {
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..6];
    let requester = format!("req-{tag}@example.test");
    let first = format!("first-{tag}@example.test");
    let second = format!("second-{tag}@example.test");
    let requester_id = person(s, "Requester", &requester, "requester").await;
    person(s, "First approver", &first, "approver").await;
    person(s, "Second approver", &second, "approver").await;
    let audience = format!("Web people {tag}");
    let audience_id = group_with(&s.admin(), &audience, &[&requester_id]).await;
    // A fresh OU of this test's own, so the sync finds it and the account lands there.
    let dc = ad::connect();
    let ou = ad::test_ou(&dc, &format!("wiz-{tag}")).await;

    // The domain and the vault, in the browser.
    let b = signed_in_admin(s, kind).await;
    b.goto(&format!("{}/domains/new", s.base)).await;
    let domain_name = format!("Corp {tag}");
    let domain = add_domain(&b, &domain_name, false).await;
    b.submit("#check-domain").await;
    assert!(b.text("#engine-checks").await.contains("Reaches it"));
    b.submit("#sync-full").await;
    b.wait_for_text("#domain-notice", "sync finished").await;
    b.goto(&format!("{}/vaults/new?kind=openbao", s.base)).await;
    let vault_name = format!("OpenBao {tag}");
    add_openbao_vault(&b, &vault_name).await;

    // The wizard: bad values are refused at their fields (nothing saved).
    b.goto(&format!("{}/templates", s.base)).await;
    b.click("a[href='/templates/new']").await;
    b.wait_for_path("/templates/new").await;
    assert_eq!(
        b.texts(".wizard-steps a").await,
        [
            "1. Setup",
            "2. Vault",
            "3. Directory",
            "4. Ownership",
            "5. Lifecycle",
            "6. Approval flow"
        ]
    );
    b.screenshots("template-wizard").await;
    choose(&b, "domain_id", &domain_name).await;
    choose(&b, "vault_id", &vault_name).await;
    b.fill("#ous", "OU=Nowhere,DC=corp,DC=example,DC=test")
        .await;
    b.fill("#intervals", "90 days").await;
    b.fill("#step_users_0", "nobody@example.test").await;
    b.submit("#review-template").await;
    assert!(b.has("#name-error").await);
    assert!(b.text("#intervals-error").await.contains("interval"));
    assert!(b
        .text("#step_users_0-error")
        .await
        .contains("nobody@example.test"));
    assert!(b.client.title().await.unwrap().starts_with("Error:"));
    b.screenshots("template-wizard-errors").await;
    // What the form reads is right now; the service's rules come next (the OU was not synced).
    b.fill("#name", &format!("Web accounts {tag}")).await;
    b.fill("#intervals", "90d").await;
    b.fill("#step_users_0", &first).await;
    b.submit("#review-template").await;
    let summary = b.texts(".error-summary li").await;
    assert!(
        b.has("#ous-error").await && summary.iter().any(|e| e.starts_with("OUs:")),
        "an OU the sync did not find: {summary:?}"
    );
    let (_, listed) = s.admin().get("/api/v1/templates").await;
    assert_eq!(listed["total"], 0, "nothing saved: {listed}");

    // Filled in properly: the OU comes from the picker over the synced tree.
    let name = format!("Web accounts {tag}");
    b.fill("#name", &name).await;
    b.fill("#purpose", "Accounts for the web shop.").await;
    b.fill("#folders", &format!("alm/wiz-{tag}")).await;
    b.fill("#name_prefix", "wz-").await;
    b.fill("#ous", "").await;
    b.fill("#ou-pick", &format!("wiz-{tag}")).await;
    let mut picked = String::new();
    for _ in 0..100 {
        if let Ok(option) = b.client.find(Locator::Css("#ou-pick-options option")).await {
            picked = option.attr("value").await.unwrap().unwrap_or_default();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        picked.eq_ignore_ascii_case(&ou),
        "the picker offers {ou}, not {picked:?}"
    );
    b.fill("#ou-pick", &picked).await;
    b.click("button[data-append='#ou-pick']").await;
    assert_eq!(b.value("#ous").await, picked);
    // The audience through the group picker (alm's groups, searched as typed).
    b.fill("#audience-pick", &format!("people {tag}")).await;
    let mut offered = String::new();
    for _ in 0..100 {
        if let Ok(option) = b
            .client
            .find(Locator::Css("#audience-pick-options option"))
            .await
        {
            offered = option.attr("value").await.unwrap().unwrap_or_default();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        offered, audience,
        "the group picker offers the audience group"
    );
    b.fill("#audience-pick", &offered).await;
    b.click("button[data-append='#audience-pick']").await;
    assert_eq!(b.value("#audience_groups").await, audience);
    b.fill("#attr_name_0", "department").await;
    b.check("#attr_required_0").await;
    b.fill("#intervals", "90d, 1y").await;
    b.fill("#step_users_0", &first).await;
    b.fill("#step_users_1", &second).await;
    b.fill("#step_min_1", "1").await;
    b.submit("#review-template").await;
    assert!(b.text("h1").await.starts_with("Check"));
    let summary = b.text("main").await;
    assert!(
        summary.contains(&picked)
            && summary.contains("Attribute department")
            && summary.contains(&second),
        "{summary}"
    );
    b.screenshots("template-review").await;
    b.submit("#save-template").await;
    let path = b.wait_for_path_starting("/templates/0").await;
    let template = path
        .trim_start_matches("/templates/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(b.text("#template-state").await, "Draft");
    b.submit("#template-publish").await;
    b.wait_for_path(&format!("/templates/{template}?done=publish"))
        .await;
    assert_eq!(b.text("#template-state").await, "Published");
    assert!(b.text(".notice").await.starts_with("Published"));
    b.goto(&format!("{}/templates", s.base)).await;
    assert!(b.text("#templates-table").await.contains(&name));
    b.screenshots("templates").await;
    b.screenshots("template").await;
    let (_, t) = s
        .admin()
        .get(&format!("/api/v1/templates/{template}"))
        .await;
    let d = &t["version"]["definition"];
    assert_eq!(d["domain_id"], domain.as_str(), "{t}");
    assert_eq!(d["attributes"][0]["name"], "department", "{t}");
    assert_eq!(d["attributes"][0]["required"], true, "{t}");
    assert_eq!(d["steps"].as_array().unwrap().len(), 2, "{t}");

    // The requester files a request from it; two approvers approve it.
    sign_in_as(&b, s, &requester).await;
    b.goto(&format!("{}/requests/new/{template}", s.base)).await;
    let typed = format!("a{}", &tag[..5]);
    let account = format!("wz-{typed}");
    b.fill("#account_name", &typed).await;
    b.fill("#justification", "The web shop reads orders.").await;
    b.fill("#attr-department", "Sales").await;
    b.submit("button[value=submit]").await;
    assert!(b
        .wait_for_path_starting("/requests/")
        .await
        .ends_with("?done=submitted"));
    approve(&b, s, &first, &account).await;
    approve(&b, s, &second, &account).await;

    // The account in Samba with the attribute, in the picked OU; its password in OpenBao.
    let mut entry = None;
    for _ in 0..600 {
        entry = dc
            .find(&Lookup::SamAccountName(account.clone()))
            .await
            .unwrap();
        if entry.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let entry = entry.unwrap_or_else(|| panic!("{account} was not made in Samba"));
    assert_eq!(entry.first("department"), Some("Sales"));
    assert!(
        entry.dn.to_lowercase().ends_with(&ou.to_lowercase()),
        "{}",
        entry.dn
    );
    let bao = alm_vault::openbao::OpenBaoVault::new(alm_vault::openbao::OpenBaoConfig {
        address: env("ALMTEST_OPENBAO_ADDR"),
        token: alm_core::Secret::new(env("ALMTEST_OPENBAO_TOKEN")),
        mount: "secret".into(),
        namespace: None,
        ca_pem: None,
        timeout: Duration::from_secs(10),
    })
    .unwrap();
    let mut secret = None;
    for _ in 0..600 {
        secret = bao
            .get(&alm_vault::SecretRef(format!("alm/wiz-{tag}/{account}")))
            .await
            .unwrap();
        if secret.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let secret = secret.expect("the password is in OpenBao");
    assert_eq!(secret.username, account);
    // The engine writes the secret before it reports: the account follows the report.
    let mut account_id = None;
    for _ in 0..600 {
        let (_, accounts) = s
            .admin()
            .get(&format!("/api/v1/accounts?q={account}"))
            .await;
        account_id = accounts["items"][0]["id"].as_str().map(str::to_owned);
        if account_id.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let account_id = account_id.expect("the managed account follows the secret");

    // Test 2: an author who may change templates but not approve their publishing.
    let author = format!("author-{tag}@example.test");
    let (author_id, _) = s.user_with_token("Template author", &author).await;
    let (st, role) = s
        .admin()
        .post(
            "/api/v1/roles",
            json!({"name": format!("Template authors {tag}"),
                   "permissions": ["provision-template:read", "provision-template:create",
                                   "provision-template:update", "provision-template:manage"]}),
        )
        .await;
    assert_eq!(st, 201, "{role}");
    s.admin()
        .post(
            &format!("/api/v1/roles/{}/members", role["id"].as_str().unwrap()),
            json!({"user_id": author_id}),
        )
        .await;
    bootstrap::reset_password(
        &s.state().db,
        s.clock.as_ref(),
        &author,
        Some(PASSWORD.into()),
    )
    .await
    .expect("password");
    sign_in_as(&b, s, &author).await;
    b.goto(&format!("{}/templates/{template}", s.base)).await;
    b.submit("#template-new-version").await;
    b.wait_for_path(&format!("/templates/{template}?done=new-version"))
        .await;
    assert_eq!(b.text("#version-state").await, "Draft");
    b.click("#edit-template").await;
    b.wait_for_path(&format!("/templates/{template}/edit"))
        .await;
    assert_eq!(
        b.value("#step_users_1").await,
        second,
        "the wizard shows names, not ids"
    );
    b.screenshots("template-edit").await;
    b.fill("#intervals", "30d, 90d").await;
    b.submit("#review-template").await;
    b.submit("#save-template").await;
    b.wait_for_path(&format!("/templates/{template}?done=saved"))
        .await;
    assert_eq!(b.text("#template-publish").await, "Send for approval");
    b.submit("#template-publish").await;
    b.wait_for_path(&format!("/templates/{template}?done=publish"))
        .await;
    assert!(b.text(".notice").await.starts_with("Sent for approval"));
    assert_eq!(b.text("#version-state").await, "Waiting for approval");
    b.screenshots("template-waiting").await;
    let (_, t) = s
        .admin()
        .get(&format!("/api/v1/templates/{template}"))
        .await;
    assert_eq!(t["published_version"], 1, "still version 1: {t}");

    // The comparison of version 2 with the published version 1 shows the periods changed.
    b.click(&format!(
        "a[href='/templates/{template}/versions/2?compare=published']"
    ))
    .await;
    b.wait_for_path_starting(&format!("/templates/{template}/versions/2"))
        .await;
    let changed = b.texts("#comparison tr.changed").await;
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert!(
        changed[0].contains("Periods")
            && changed[0].contains("30d, 90d")
            && changed[0].contains("90d, 1y"),
        "{changed:?}"
    );
    b.screenshots("template-compare").await;

    // A workflow manager approves it in the browser: version 2 is published.
    b.goto(&format!("{}/", s.base)).await;
    b.submit(".user-menu button[type=submit]").await;
    let b2 = signed_in_admin(s, kind).await;
    b.close().await;
    b2.goto(&format!("{}/templates/{template}", s.base)).await;
    assert_eq!(b2.text("#template-publish").await, "Approve and publish");
    b2.submit("#template-publish").await;
    b2.wait_for_path(&format!("/templates/{template}?done=publish"))
        .await;
    assert!(b2.text(".notice").await.contains("version 2"));
    let (_, t) = s
        .admin()
        .get(&format!("/api/v1/templates/{template}"))
        .await;
    assert_eq!(t["published_version"], 2, "{t}");
    let (_, a) = s
        .admin()
        .get(&format!("/api/v1/accounts/{account_id}"))
        .await;
    assert_eq!(
        a["template_version"], 1,
        "the account keeps its version: {a}"
    );

    // The audience group disabled: its page offers the replacement in the templates.
    let successor = format!("Web people 2 {tag}");
    let successor_id = group_with(&s.admin(), &successor, &[&requester_id]).await;
    b2.goto(&format!("{}/groups/{audience_id}/disable", s.base))
        .await;
    b2.submit("#confirm-button").await;
    b2.wait_for_path(&format!("/groups/{audience_id}?done=disable"))
        .await;
    let uses = b2.text("#template-uses").await;
    assert!(uses.contains(&name) && uses.contains("audience"), "{uses}");
    b2.fill("#replacement", "No such group").await;
    b2.submit("#replace-group").await;
    assert!(b2
        .text("#replacement-error")
        .await
        .contains("No such group"));
    b2.fill("#replacement", &successor).await;
    b2.submit("#replace-group").await;
    assert!(
        b2.text("#replaced").await.contains("version 3 published"),
        "{}",
        b2.text("main").await
    );
    assert!(
        !b2.has("#template-uses").await,
        "no template names it any more"
    );
    b2.screenshots("group-replaced").await;
    let (_, t) = s
        .admin()
        .get(&format!("/api/v1/templates/{template}"))
        .await;
    assert_eq!(t["published_version"], 3, "{t}");
    assert_eq!(
        t["version"]["definition"]["audience_groups"][0],
        successor_id.as_str(),
        "{t}"
    );

    // Disabling the template is for good: confirmed first.
    b2.goto(&format!("{}/templates/{template}", s.base)).await;
    b2.click("#template-disable").await;
    b2.wait_for_path(&format!("/templates/{template}/disable"))
        .await;
    b2.screenshots("template-disable").await;
    b2.submit("#confirm-button").await;
    b2.wait_for_path(&format!("/templates/{template}?done=disable"))
        .await;
    assert_eq!(b2.text("#template-state").await, "Disabled");
    b2.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_built_in_the_wizard_provisions_to_samba_and_openbao_in_chromium() {
    let s = TestServer::start(Backend::Sqlite).await;
    wizard(&s, Kind::Chromium).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_built_in_the_wizard_provisions_to_samba_and_openbao_in_firefox() {
    let s = TestServer::start(Backend::Sqlite).await;
    wizard(&s, Kind::Firefox).await;
    s.stop().await;
}

//! Web UI part 2, discovery import (issue 15, test 3): `alm discover --import` scans a seeded
//! OU of Samba and sends its findings; the administrator ticks two of the unmanaged accounts in
//! the browser and imports them under a template with an owner (the service's rules at their
//! fields first); they leave the unmanaged list and are managed accounts. Then both are
//! migrated (SPEC §6.4) in the wizard to another template with another period: an interval
//! the template does not offer is refused, the preview shows before and after and changes
//! nothing, the migration changes both. Both browsers.

use crate::discovery::discover;
use crate::support::browser::{Browser, Kind};
use crate::support::{ad, Backend, TestServer};
use crate::templates::{definition, world};
use crate::ui_admin::signed_in_admin;
use alm_directory::password::Generate as _;
use alm_directory::Directory;
use fantoccini::Locator;
use serde_json::json;

async fn tick(b: &Browser, name: &str) {
    b.client
        .find(Locator::XPath(&format!(
            "//tr[td[starts-with(normalize-space(.), '{name}')]]//input[@type='checkbox']"
        )))
        .await
        .unwrap_or_else(|e| panic!("{name} is not listed: {e}"))
        .click()
        .await
        .expect("tick");
}

async fn import(s: &TestServer, kind: Kind) {
    let admin = s.admin();
    let w = world(s).await;
    // The tool stamps its scan with the real clock; the server must not think it future.
    s.clock
        .set(alm_core::Clock::now(&alm_core::SystemClock) + time::Duration::minutes(5));
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..5];
    let dir = ad::connect();
    let names: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|x| format!("svc-{x}{tag}"))
        .collect();
    for sam in &names {
        dir.create_user(&alm_directory::NewUser {
            parent_dn: w.ou.clone(),
            user_principal_name: format!("{sam}@corp.example.test"),
            sam_account_name: sam.clone(),
            description: Some("found by discovery".into()),
            attributes: vec![],
            password: alm_directory::password::PasswordPolicy::default().generate("d", ""),
            enabled: true,
            account_expires: alm_core::filetime::AccountExpires::Never,
        })
        .await
        .unwrap();
    }
    let (_, run) = admin
        .post_empty(&format!("/api/v1/domains/{}/sync", w.domain))
        .await;
    assert_eq!(run["outcome"], "succeeded", "{run}");
    let (_, t) = admin
        .post(
            "/api/v1/templates",
            json!({"name": format!("Found {tag}"), "definition": definition(&w)}),
        )
        .await;
    let template = t["id"].as_str().unwrap().to_owned();
    assert_eq!(
        admin
            .post_empty(&format!("/api/v1/templates/{template}/publish"))
            .await
            .0,
        200
    );
    let (_, domain) = admin.get(&format!("/api/v1/domains/{}", w.domain)).await;
    let work = crate::support::db::temp_dir("ui-discover");
    let sent = discover(
        &work,
        "scan",
        &w.ou,
        domain["base_dn"].as_str().unwrap(),
        &s.base,
        &s.admin_token,
        false,
    );
    assert!(sent.ok, "{}", sent.output);

    // Two of the three ticked on the list, then the import form.
    let b: Browser = signed_in_admin(s, kind).await;
    b.goto(&format!("{}/discovery?q={tag}", s.base)).await;
    let rows = b.texts("#discovery-table tbody tr").await;
    assert_eq!(rows.len(), 3, "{rows:?}");
    b.screenshots("discovery").await;
    tick(&b, &names[0]).await;
    tick(&b, &names[1]).await;
    b.submit("#import-chosen").await;
    b.wait_for_path_starting("/discovery/import?").await;
    let chosen = b.text("#chosen").await;
    assert!(
        chosen.contains(&names[0]) && chosen.contains(&names[1]) && !chosen.contains(&names[2]),
        "{chosen}"
    );
    // No owner and no period: refused at the fields, nothing imported.
    b.submit("#import-accounts").await;
    assert!(b.text("#owner_emails-error").await.contains("owner"));
    assert!(b.has("#interval-error").await);
    b.screenshots("discovery-import-errors").await;
    b.fill("#interval", "90d").await;
    b.fill("#owner_emails", "req@example.test").await;
    b.submit("#import-accounts").await;
    let result = b.text("#import-result").await;
    assert!(
        result.contains(&names[0]) && result.contains(&names[1]),
        "{result}"
    );
    b.screenshots("discovery-imported").await;

    // Off the unmanaged list, on the managed one with their owner.
    b.goto(&format!("{}/discovery?q={tag}", s.base)).await;
    let rows = b.texts("#discovery-table tbody tr").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].contains(&names[2]));
    for name in &names[..2] {
        let (_, list) = admin.get(&format!("/api/v1/accounts?q={name}")).await;
        assert_eq!(list["total"], 1, "{name}: {list}");
        let owners = &list["items"][0]["owners"];
        assert!(owners.to_string().contains(&w.requester_id), "{owners}");
    }

    // The migration wizard: both accounts to another template of the domain, for a year.
    let mut d = definition(&w);
    d["lifecycle"]["intervals"] = json!(["1y", "2y"]);
    let (_, t2) = admin
        .post(
            "/api/v1/templates",
            json!({"name": format!("Kept {tag}"), "definition": d}),
        )
        .await;
    let kept = t2["id"].as_str().unwrap().to_owned();
    assert_eq!(
        admin
            .post_empty(&format!("/api/v1/templates/{kept}/publish"))
            .await
            .0,
        200
    );
    b.goto(&format!("{}/accounts?q={tag}", s.base)).await;
    tick(&b, &names[0]).await;
    tick(&b, &names[1]).await;
    b.submit("#migrate-chosen").await;
    b.wait_for_path_starting("/accounts/migrate?").await;
    b.client
        .find(Locator::XPath(&format!(
            "//select[@id='template_id']/option[normalize-space(.)='Kept {tag}']"
        )))
        .await
        .expect("the new template is offered")
        .click()
        .await
        .expect("choose it");
    b.fill("#interval", "90d").await;
    b.submit("#preview-migration").await;
    assert!(
        b.has("#interval-error").await,
        "90d is not offered by the new template"
    );
    b.screenshots("migration-errors").await;
    b.fill("#interval", "1y").await;
    b.submit("#preview-migration").await;
    let preview = b.text("#migration-preview").await;
    assert!(
        preview.contains(&format!("Found {tag} v1")) && preview.contains(&format!("Kept {tag} v1")),
        "{preview}"
    );
    b.screenshots("migration-preview").await;
    let (_, list) = admin.get(&format!("/api/v1/accounts?q={}", names[0])).await;
    assert_eq!(
        list["items"][0]["template_id"],
        template.as_str(),
        "the preview changed nothing"
    );
    b.submit("#run-migration").await;
    let result = b.text("#migration-result").await;
    b.screenshots("migration-done").await;
    assert!(
        result.contains(&names[0]) && result.contains(&names[1]),
        "{result}"
    );
    for name in &names[..2] {
        let (_, list) = admin.get(&format!("/api/v1/accounts?q={name}")).await;
        assert_eq!(list["items"][0]["template_id"], kept.as_str(), "{list}");
        assert_eq!(list["items"][0]["interval"], "1y", "{list}");
    }
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alm_discover_findings_are_imported_in_the_browser_in_chromium() {
    let s = TestServer::start_with(Backend::Sqlite, &[("ALM_SCHEDULER__ENABLED", "false")]).await;
    import(&s, Kind::Chromium).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alm_discover_findings_are_imported_in_the_browser_in_firefox() {
    let s = TestServer::start_with(Backend::Sqlite, &[("ALM_SCHEDULER__ENABLED", "false")]).await;
    import(&s, Kind::Firefox).await;
    s.stop().await;
}

//! Journey 1 of issue 14 in real browsers, with and without JavaScript: a requester files a
//! request from a template with two approval steps (a field error for a bad name first), a
//! second one as a draft that is then submitted; the first approver approves one and denies
//! the other (a reason is required), the second approver approves; alm provisions the account
//! in Samba; the owner finds it on Home with the right end of life, renews it, disables it
//! (Samba shows it disabled), reads the denial reason and the inbox's notifications. And
//! journey 3: what a user without those permissions, or without the account, gets; and the
//! request form by keyboard only.

use crate::lifecycle::{in_directory, settled};
use crate::support::browser::{Browser, Kind};
use crate::support::TestServer;
use crate::templates::{definition, world, World};
use alm_server::services::bootstrap;
use serde_json::{json, Value};
use std::time::Duration;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const PASSWORD: &str = "portal journey password 1";
const REQUESTER: &str = "req@example.test";
const APPROVER: &str = "appr1@example.test";
const FINAL: &str = "final@example.test";

/// The journey's people get passwords; a template with two one-person steps, a 90-day
/// interval whose renewal window is open from the start, and disable at end of life.
async fn setup(s: &TestServer) -> (World, String) {
    let w = world(s).await;
    for email in [REQUESTER, APPROVER, FINAL] {
        bootstrap::reset_password(
            &s.state().db,
            s.clock.as_ref(),
            email,
            Some(PASSWORD.into()),
        )
        .await
        .expect("password");
    }
    let mut d = definition(&w);
    d["eol_action"] = json!("disable");
    d["cannot_change_password"] = json!(false);
    d["purpose"] = json!("Accounts for the customer portal");
    d["ownership"] = json!({"min_owners": 1, "max_owners": 3, "allow_group_owners": true});
    d["lifecycle"] =
        json!({"intervals": ["90d"], "renewal_window_days": 100, "reminder_every_days": 7});
    d["steps"] = json!([
        {"users": [w.approver_ids[0]], "min_approvals": 1},
        {"users": [w.final_approver], "min_approvals": 1}
    ]);
    let admin = s.admin();
    let (st, t) = admin
        .post(
            "/api/v1/templates",
            json!({"name": "Portal accounts", "definition": d}),
        )
        .await;
    assert_eq!(st, 201, "{t}");
    let id = t["id"].as_str().unwrap().to_owned();
    let (st, t) = admin
        .post_empty(&format!("/api/v1/templates/{id}/publish"))
        .await;
    assert_eq!(st, 200, "{t}");
    (w, id)
}

/// Signs out whoever is signed in, then signs `email` in from the sign-in page.
async fn switch_to(b: &Browser, s: &TestServer, email: &str) {
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

fn time_of(text: &str) -> OffsetDateTime {
    OffsetDateTime::parse(text, &Rfc3339).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

/// The account the admin API has under this name, once provisioning made it.
async fn provisioned(s: &TestServer, name: &str) -> Value {
    for _ in 0..600 {
        let (_, list) = s.admin().get(&format!("/api/v1/accounts?q={name}")).await;
        if let Some(a) = list["items"].as_array().and_then(|i| i.first()) {
            return a.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{name} was not provisioned");
}

/// Runs journey 1; returns the id of the account it made.
async fn journey(
    s: &TestServer,
    template: &str,
    kind: Kind,
    javascript: bool,
    tag: &str,
) -> String {
    let b = Browser::start_with(kind, javascript).await;
    let shot = |name: &str| format!("{}{name}", if javascript { "" } else { "nojs-" });
    // Unique in Samba across runs (the DC outlives one test run on a developer's machine).
    let tag = format!("{tag}-{}", &uuid::Uuid::new_v4().simple().to_string()[..4]);
    let typed = format!("web-{tag}");
    let full = format!("svc-{typed}");
    let denied_typed = format!("den-{tag}");
    let denied_full = format!("svc-{denied_typed}");

    // The requester: the templates offered, the form, a bad name refused at its field.
    switch_to(&b, s, REQUESTER).await;
    let nav: Vec<String> = b
        .texts(".site-nav a")
        .await
        .iter()
        .map(|t| t.split_whitespace().next().unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        nav,
        ["Home", "Accounts", "Inbox"],
        "a requester sees no dashboard or administration"
    );
    b.goto(&format!("{}/requests/new", s.base)).await;
    assert_eq!(b.texts(".card-title").await, ["Portal accounts"]);
    b.screenshots(&shot("request-choose")).await;
    b.submit(".card-title a").await;
    assert_eq!(
        b.wait_for_path_starting("/requests/new/").await,
        format!("/requests/new/{template}")
    );
    assert_eq!(b.text(".prefix").await, "svc-");
    b.screenshots(&shot("request-form")).await;
    b.fill("#account_name", "Bad Name").await;
    b.fill("#justification", "The customer portal reads orders.")
        .await;
    b.check("#terms_accepted").await;
    b.submit("button[value=submit]").await;
    let summary = b.texts(".error-summary li").await;
    assert_eq!(summary.len(), 1, "{summary:?}");
    assert!(
        summary[0].starts_with("Account name:") && summary[0].contains("pattern"),
        "{summary:?}"
    );
    assert!(b.text("#account_name-error").await.contains("pattern"));
    assert_eq!(
        b.value("#justification").await,
        "The customer portal reads orders.",
        "what was typed is kept"
    );
    b.screenshots(&shot("request-form-errors")).await;

    // Fixed; with scripts the name is checked as it is typed.
    b.fill("#account_name", &typed).await;
    if javascript {
        b.wait_for_text("#account_name-check", "is free on the domain")
            .await;
    }
    b.check("#terms_accepted").await;
    b.submit("button[value=submit]").await;
    let path = b.wait_for_path_starting("/requests/").await;
    assert!(path.ends_with("?done=submitted"), "{path}");
    assert!(b.text("h1").await.starts_with(&full));
    assert_eq!(b.text("h1 .tag").await, "Pending approval");
    assert_eq!(
        b.texts(".step-status").await,
        ["Waiting for approval", "Not reached yet"]
    );
    b.screenshots(&shot("request-submitted")).await;

    // A second request, saved as a draft, then submitted from its page.
    b.goto(&format!("{}/requests/new/{template}", s.base)).await;
    b.fill("#account_name", &denied_typed).await;
    b.fill("#justification", "A second portal instance.").await;
    b.check("#terms_accepted").await;
    b.submit("button[value=draft]").await;
    assert!(b
        .wait_for_path_starting("/requests/")
        .await
        .ends_with("?done=saved"));
    assert_eq!(b.text("h1 .tag").await, "Draft");
    b.screenshots(&shot("request-draft")).await;
    b.submit("form[action$='/submit'] button").await;
    assert!(b
        .wait_for_path_starting("/requests/")
        .await
        .ends_with("?done=submitted"));
    b.goto(&format!("{}/requests?q={tag}", s.base)).await;
    let mut listed = b.texts("table.data tbody td:first-child").await;
    listed.sort();
    assert_eq!(listed, [denied_full.clone(), full.clone()]);
    b.screenshots(&shot("my-requests")).await;

    // The first approver: both wait; one is approved, the other denied with a reason.
    switch_to(&b, s, APPROVER).await;
    // Approvals is a page of the Accounts section: the section, then the page.
    b.client
        .find(fantoccini::Locator::XPath(
            "//nav[@class='site-nav']//a[normalize-space(.)='Accounts']",
        ))
        .await
        .expect("an Accounts section")
        .click()
        .await
        .expect("open Accounts");
    if b.path().await != "/approvals" {
        b.click(".section-nav a[href='/approvals']").await;
    }
    b.wait_for_path("/approvals").await;
    let waiting = b.texts("table.data tbody td:first-child a").await;
    assert!(
        waiting.contains(&full) && waiting.contains(&denied_full),
        "{waiting:?}"
    );
    b.screenshots(&shot("approvals")).await;
    open_waiting(&b, &full).await;
    assert!(b
        .text("main")
        .await
        .contains("The customer portal reads orders."));
    b.screenshots(&shot("approval")).await;
    if javascript {
        b.mark().await;
    }
    b.submit("form[action$='/approve'] button").await;
    b.wait_for_path("/approvals?done=approved").await;
    // With the script, the decision is posted without a page load: the list and its notice
    // replace the form in place.
    if javascript {
        assert!(b.still_marked().await, "approving reloaded the page");
        assert!(b
            .text("main .notice")
            .await
            .contains("approval is recorded"));
    }
    open_waiting(&b, &denied_full).await;
    b.submit("form[action$='/deny'] button").await;
    assert!(b.text("#reason-error").await.contains("say why"));
    b.screenshots(&shot("approval-errors")).await;
    b.fill("#reason", "One portal account is enough.").await;
    b.submit("form[action$='/deny'] button").await;
    b.wait_for_path("/approvals?done=denied").await;
    let decided = b.text("main").await;
    assert!(
        decided.contains("One portal account is enough."),
        "{decided}"
    );

    // The final approver approves step 2: alm provisions the account in Samba.
    switch_to(&b, s, FINAL).await;
    b.goto(&format!("{}/approvals", s.base)).await;
    open_waiting(&b, &full).await;
    b.submit("form[action$='/approve'] button").await;
    b.wait_for_path("/approvals?done=approved").await;
    let account = provisioned(s, &full).await;
    let id = account["id"].as_str().unwrap().to_owned();
    let start = time_of(account["lifecycle_start"].as_str().unwrap());
    settled(s).await;

    // The owner: the account on Home with its end of life 90 days after it was made.
    switch_to(&b, s, REQUESTER).await;
    let card = format!("a[href='/accounts/{id}']");
    assert!(b.has(&card).await, "the new account is on Home");
    let eol = b
        .client
        .find(fantoccini::Locator::XPath(&format!(
            "//li[.//a[@href='/accounts/{id}']]//dt[.='End of life']/following-sibling::dd[1]/time"
        )))
        .await
        .expect("the card's end of life")
        .attr("datetime")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(time_of(&eol), start + time::Duration::days(90));
    b.screenshots(&shot("home-accounts")).await;

    // Renew: the confirmation says where the end of life goes; then it is there.
    b.click(&format!("a[href='/accounts/{id}/renew']")).await;
    b.wait_for_path(&format!("/accounts/{id}/renew")).await;
    assert!(b
        .text(".consequences")
        .await
        .contains("one interval of 90d"));
    b.screenshots(&shot("account-renew")).await;
    b.submit("form button[type=submit].button").await;
    b.wait_for_path(&format!("/accounts/{id}?done=renew")).await;
    let (_, a) = s.admin().get(&format!("/api/v1/accounts/{id}")).await;
    assert_eq!(
        time_of(a["eol_at"].as_str().unwrap()),
        start + time::Duration::days(180)
    );
    b.screenshots(&shot("account")).await;

    // Owners: an unknown address is the field's error; a group is added by its name; removing
    // the person would leave only a group without enabled members — refused, saying why.
    let team = format!("Portal team {tag}");
    let (st, g) = s
        .admin()
        .post("/api/v1/groups", json!({"name": team}))
        .await;
    assert_eq!(st, 201, "{g}");
    b.fill("#owner-email", "nobody@example.test").await;
    b.submit("form[action$='/owners'] button").await;
    assert!(b
        .text("#owner-email-error")
        .await
        .contains("no enabled user has the email address nobody@example.test"));
    b.fill("#owner-email", &team).await;
    b.submit("form[action$='/owners'] button").await;
    b.wait_for_path(&format!("/accounts/{id}?done=owner-added"))
        .await;
    assert_eq!(
        b.texts(".owners .owner-name").await,
        ["Requester".to_owned(), team.clone()]
    );
    b.screenshots(&shot("account-owners")).await;
    let remove = |name: &str| {
        format!("//ul[@class='owners']/li[span[@class='owner-name' and .='{name}']]//button")
    };
    b.client
        .find(fantoccini::Locator::XPath(&remove("Requester")))
        .await
        .expect("a remove button for the person")
        .click()
        .await
        .expect("remove");
    b.wait_for_text(".error-summary", "last enabled owner")
        .await;
    assert_eq!(
        b.texts(".owners .owner-name").await.len(),
        2,
        "nothing changed"
    );
    b.client
        .find(fantoccini::Locator::XPath(&remove(&team)))
        .await
        .expect("a remove button for the group")
        .click()
        .await
        .expect("remove");
    b.wait_for_path(&format!("/accounts/{id}?done=owner-removed"))
        .await;
    assert_eq!(b.texts(".owners .owner-name").await, ["Requester"]);

    // Disable: Samba shows the account disabled.
    b.click(&format!("a[href='/accounts/{id}/disable']")).await;
    b.wait_for_path(&format!("/accounts/{id}/disable")).await;
    assert!(b.text(".consequences").await.contains("disabled in"));
    b.screenshots(&shot("account-disable")).await;
    b.submit("form button[type=submit].button").await;
    b.wait_for_path(&format!("/accounts/{id}?done=disable"))
        .await;
    assert_eq!(b.text("h1 .tag").await, "Disabled");
    settled(s).await;
    let (enabled, _, _) = in_directory(&full).await.expect("in Samba");
    assert!(!enabled, "Samba has {full} disabled");

    // The denied request says why; the approver's name stays hidden (the template hides it).
    b.goto(&format!("{}/requests?q={denied_typed}", s.base))
        .await;
    b.submit("table.data tbody a").await;
    assert_eq!(b.text("h1 .tag").await, "Rejected");
    assert!(b
        .text(".warning-text")
        .await
        .contains("One portal account is enough."));
    let trail = b.text(".trail").await;
    assert!(
        trail.contains("An approver denied") && !trail.contains("Approver 1"),
        "{trail}"
    );
    b.screenshots(&shot("request-denied")).await;

    // The inbox has the notifications.
    b.goto(&format!("{}/inbox", s.base)).await;
    let titles = b.texts(".message h3").await;
    for want in [
        format!("Approved: {full}"),
        format!("Rejected: {denied_full}"),
        format!("Created: {full}"),
    ] {
        assert!(titles.contains(&want), "{want} in {titles:?}");
    }
    b.close().await;
    id
}

/// Journey 3: a user without the approver's permission sees no Approvals link and gets the
/// 403 page at its address; someone who does not own an account gets "not found" for it.
async fn strangers_are_kept_out(s: &TestServer, kind: Kind, account: &str) {
    bootstrap::reset_password(
        &s.state().db,
        s.clock.as_ref(),
        "out@example.test",
        Some(PASSWORD.into()),
    )
    .await
    .expect("password");
    let b = Browser::start_with(kind, true).await;
    switch_to(&b, s, "out@example.test").await;
    assert_eq!(b.texts(".site-nav a").await, ["Home", "Accounts", "Inbox"]);
    b.goto(&format!("{}/requests", s.base)).await;
    assert!(
        !b.has(".section-nav").await,
        "only My requests in Accounts: no Approvals link"
    );
    b.goto(&format!("{}/approvals", s.base)).await;
    assert_eq!(b.text("h1").await, "You cannot open this page");
    b.screenshots("forbidden").await;
    for page in ["/discovery", "/engines", "/users", "/groups", "/roles"] {
        b.goto(&format!("{}{page}", s.base)).await;
        assert_eq!(b.text("h1").await, "You cannot open this page", "{page}");
    }
    b.goto(&format!("{}/accounts/{account}", s.base)).await;
    assert_eq!(b.text("h1").await, "Page not found");
    b.goto(&format!("{}/accounts/{account}/disable", s.base))
        .await;
    assert_eq!(b.text("h1").await, "Page not found");
    b.close().await;
    let (_, a) = s.admin().get(&format!("/api/v1/accounts/{account}")).await;
    assert_eq!(a["status"], "disabled", "nothing changed");
}

/// The request form by keyboard only: the skip link first, then every field in the page's
/// order, filled by typing, the terms ticked with Space, submitted with Enter.
async fn keyboard_only_request(s: &TestServer, template: &str, kind: Kind) {
    use fantoccini::key::Key;
    let tab = char::from(Key::Tab).to_string();
    let b = Browser::start_with(kind, true).await;
    switch_to(&b, s, REQUESTER).await;
    b.goto(&format!("{}/requests/new/{template}", s.base)).await;
    b.press(&tab).await;
    assert_eq!(b.focused().await, "a:Skip to main content");
    b.press(&char::from(Key::Enter).to_string()).await;
    assert_eq!(b.focused().await, "main");
    let mut order = Vec::new();
    let typed = format!("kb-{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
    for _ in 0..12 {
        b.press(&tab).await;
        let at = b.focused().await;
        match at.as_str() {
            "account_name" => b.press(&typed).await,
            "justification" => b.press("Typed without a mouse.").await,
            "terms_accepted" => b.press(" ").await,
            _ => {}
        }
        let last = at.starts_with("button:Submit");
        order.push(at);
        if last {
            break;
        }
    }
    assert_eq!(
        order,
        [
            "a:New request",
            "account_name",
            "interval",
            "justification",
            "description",
            "attr-department",
            "co_owners",
            "terms_accepted",
            "button:Submit for approval"
        ],
        "the focus follows the page"
    );
    b.press(&char::from(Key::Enter).to_string()).await;
    for _ in 0..100 {
        if b.path().await.ends_with("?done=submitted") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let path = b.path().await;
    assert!(path.ends_with("?done=submitted"), "{path}");
    assert_eq!(b.text("h1 .tag").await, "Pending approval");
    b.close().await;
}

/// The administrator's dashboard after the two journeys and the keyboard request: its counts
/// are what those made (two accounts, both disabled and renewed past 90 days; two requests
/// provisioned, two rejected, one waiting), and a count opens the list it counts.
async fn dashboard_counts_what_the_journeys_made(s: &TestServer, kind: Kind) {
    // One unmanaged account found by discovery in the journeys' domain.
    let admin = s.admin();
    let (_, domains) = admin.get("/api/v1/domains").await;
    let base_dn = domains["items"][0]["base_dn"]
        .as_str()
        .expect("a domain")
        .to_owned();
    let found = format!("legacy-{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
    let (st, r) = admin
        .post(
            "/api/v1/discovery/runs",
            json!({"domain": {"fqdn": "corp.example.test", "base_dn": base_dn},
                   "scanned_at": "2026-11-29T09:00:00Z", "tool_version": "0.1.0",
                   "host_scan_complete": true,
                   "accounts": [{"object_guid": uuid::Uuid::new_v4().to_string(),
                                 "sam_account_name": found, "dn": format!("CN={found},{base_dn}"),
                                 "kind": "user", "reasons": ["spn"],
                                 "findings": [{"code": "password-never-expires", "severity": "medium",
                                               "detail": "set since 2019", "fix": "rotate it"}],
                                 "hosts": ["app7.corp.example.test"]}]}),
        )
        .await;
    assert_eq!(st, 200, "{r}");
    let b = Browser::start_with(kind, true).await;
    b.goto(&format!("{}/sign-in", s.base)).await;
    b.fill("#email", crate::support::server::ADMIN_EMAIL).await;
    b.fill("#password", crate::support::server::ADMIN_PASSWORD)
        .await;
    b.submit("form[action='/sign-in'] button[type=submit]")
        .await;
    b.wait_for_path("/").await;
    b.click(".site-nav a[href='/dashboard']").await;
    b.wait_for_path("/dashboard").await;
    b.screenshots("dashboard").await;
    let tiles: Vec<(String, String)> = b
        .texts(".tile")
        .await
        .iter()
        .map(|t| {
            let (count, label) = t.split_once(char::is_whitespace).unwrap();
            (label.trim().to_owned(), count.to_owned())
        })
        .collect();
    let count = |label: &str| {
        tiles
            .iter()
            .filter(|(l, _)| l == label)
            .map(|(_, c)| c.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(count("Active"), ["0"], "{tiles:?}");
    assert_eq!(count("Disabled"), ["2"], "{tiles:?}");
    assert_eq!(count("In the next 90 days"), ["0"], "{tiles:?}");
    assert_eq!(count("Waiting for my approval"), ["1"], "{tiles:?}");
    assert_eq!(count("Without an enabled owner"), ["0"], "{tiles:?}");
    assert_eq!(count("Provisioned"), ["2"], "{tiles:?}");
    assert_eq!(count("Rejected"), ["2"], "{tiles:?}");
    assert_eq!(count("Pending approval"), ["1"], "{tiles:?}");
    assert_eq!(count("Unmanaged, found by discovery"), ["1"], "{tiles:?}");
    assert_eq!(count("Engines answering, of 1 active"), ["1"], "{tiles:?}");
    // The counts without a list of part 1 open their own pages.
    b.click("a[href='/discovery']").await;
    b.wait_for_path("/discovery").await;
    let row = b.text("table.data tbody tr").await;
    assert!(
        row.starts_with(&found)
            && row.contains("password-never-expires (medium)")
            && row.contains("app7.corp.example.test"),
        "{row}"
    );
    b.screenshots("discovery").await;
    b.client.back().await.expect("back");
    b.wait_for_path("/dashboard").await;
    b.click("a[href='/engines']").await;
    b.wait_for_path("/engines").await;
    let rows = b.texts("table.data tbody tr").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(
        rows[0].contains("inside the server") && rows[0].contains("Answering"),
        "{rows:?}"
    );
    b.screenshots("engines").await;
    b.client.back().await.expect("back");
    b.wait_for_path("/dashboard").await;
    b.click("a[href='/accounts?state=disabled']").await;
    b.wait_for_path("/accounts?state=disabled").await;
    let names = b.texts("table.data tbody td > a[href^='/accounts/']").await;
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.iter().all(|n| n.starts_with("svc-web-")), "{names:?}");
    b.screenshots("accounts-list").await;
    // Sorting loads the table's next view in place and puts it in the address: the list is
    // sorted by name, its header turns it to descending and back; the link opens the same view.
    b.mark().await;
    b.click("th a[href*='sort=-name']").await;
    b.wait_for_path("/accounts?state=disabled&sort=-name&limit=25")
        .await;
    let descending = b.texts("table.data tbody td > a[href^='/accounts/']").await;
    assert_eq!(
        b.focused().await,
        "a:Name",
        "the focus stays on the header followed"
    );
    b.click("th a[href*='sort=name']").await;
    b.wait_for_path("/accounts?state=disabled&sort=name&limit=25")
        .await;
    let ascending = b.texts("table.data tbody td > a[href^='/accounts/']").await;
    assert!(b.still_marked().await, "sorting reloaded the page");
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(ascending, sorted);
    sorted.reverse();
    assert_eq!(descending, sorted);
    // Back returns to the previous view by the same means.
    b.client.back().await.expect("back");
    b.wait_for_path("/accounts?state=disabled&sort=-name&limit=25")
        .await;
    b.wait_for_text(
        "table.data tbody td > a[href^='/accounts/']",
        &descending[0],
    )
    .await;
    assert!(b.still_marked().await, "back reloaded the page");
    b.close().await;
}

/// Opens the approval page of the waiting request for `name` from the approvals list.
async fn open_waiting(b: &Browser, name: &str) {
    let path = b.path().await;
    if !path.starts_with("/approvals") || path.len() > "/approvals?done=approved".len() {
        panic!("not on the approvals list: {path}");
    }
    let link = b
        .client
        .find(fantoccini::Locator::XPath(&format!(
            "//table//a[normalize-space(.)='{name}']"
        )))
        .await
        .unwrap_or_else(|e| panic!("{name} is not waiting: {e}"));
    link.click().await.expect("open");
    b.wait_for_path_starting("/approvals/").await;
    assert!(b.text("h1").await.ends_with(name));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_goes_from_the_form_through_two_approvers_to_samba_and_its_owner_in_chromium() {
    let s = TestServer::start(crate::support::Backend::Sqlite).await;
    let (_w, template) = setup(&s).await;
    journey(&s, &template, Kind::Chromium, true, "cj").await;
    let account = journey(&s, &template, Kind::Chromium, false, "cn").await;
    strangers_are_kept_out(&s, Kind::Chromium, &account).await;
    keyboard_only_request(&s, &template, Kind::Chromium).await;
    dashboard_counts_what_the_journeys_made(&s, Kind::Chromium).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_goes_from_the_form_through_two_approvers_to_samba_and_its_owner_in_firefox() {
    let s = TestServer::start(crate::support::Backend::Sqlite).await;
    let (_w, template) = setup(&s).await;
    journey(&s, &template, Kind::Firefox, true, "fj").await;
    let account = journey(&s, &template, Kind::Firefox, false, "fn").await;
    strangers_are_kept_out(&s, Kind::Firefox, &account).await;
    keyboard_only_request(&s, &template, Kind::Firefox).await;
    dashboard_counts_what_the_journeys_made(&s, Kind::Firefox).await;
    s.stop().await;
}

//! Web UI part 2, Personnel (issue 15): an administrator manages users, groups and roles in the
//! browser only — field errors from the services at their fields, a role built on the
//! permission grid and given to a user (their effective permissions change), a group with a
//! member and the role, disable and enable with a confirmation, deletes, and the protected
//! Everyone group. The API confirms what the pages did. Both browsers; every page is checked
//! with axe and photographed at both sizes.

use crate::support::browser::{Browser, Kind};
use crate::support::server::{ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::support::{Backend, TestServer};
use fantoccini::Locator;

/// Whether the user page's grid marks `feature` (its row label) with `right`.
async fn grid_says(b: &Browser, feature: &str, right: &str) -> bool {
    let cell = b
        .client
        .find(Locator::XPath(&format!(
            "//table[contains(@class,'grid')]//tr[th[normalize-space(.)='{feature}']]/td[.//span[normalize-space(.)='{right}: yes' or normalize-space(.)='{right}: no']]"
        )))
        .await
        .unwrap_or_else(|e| panic!("no {feature}/{right} cell: {e}"));
    cell.text().await.expect("cell").contains("✓")
}

async fn click_xpath(b: &Browser, xpath: &str) {
    b.client
        .find(Locator::XPath(xpath))
        .await
        .unwrap_or_else(|e| panic!("nothing at {xpath}: {e}"))
        .click()
        .await
        .expect("click");
}

async fn personnel(s: &TestServer, kind: Kind) {
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..6];
    let b = Browser::start_with(kind, true).await;
    b.goto(&format!("{}/sign-in", s.base)).await;
    b.fill("#email", ADMIN_EMAIL).await;
    b.fill("#password", ADMIN_PASSWORD).await;
    b.submit("form[action='/sign-in'] button[type=submit]")
        .await;
    b.wait_for_path("/").await;

    // The Personnel section opens Users and lists its three pages.
    click_xpath(
        &b,
        "//nav[@class='site-nav']//a[normalize-space(.)='Personnel']",
    )
    .await;
    b.wait_for_path("/users").await;
    assert_eq!(
        b.texts(".section-nav a").await,
        ["Users", "Groups", "Roles"]
    );
    b.screenshots("users").await;

    // A new user: the services' rules at the fields, then created.
    b.click("a[href='/users/new']").await;
    b.wait_for_path("/users/new").await;
    b.fill("#display_name", "").await;
    b.fill("#emails", "not-an-address").await;
    b.submit("form[action='/users/new'] button[type=submit]")
        .await;
    assert!(b.has("#display_name-error").await, "the name is required");
    assert!(b
        .text("#emails-error")
        .await
        .contains("name@domain.example"));
    assert!(b.client.title().await.unwrap().starts_with("Error:"));
    b.screenshots("user-new-errors").await;
    let email = format!("dana-{tag}@example.test");
    b.fill("#display_name", &format!("Dana {tag}")).await;
    b.fill("#emails", &email).await;
    b.submit("form[action='/users/new'] button[type=submit]")
        .await;
    let user_path = b.wait_for_path_starting("/users/0").await;
    let user_id = user_path
        .trim_start_matches("/users/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    assert!(b.text(".notice").await.contains("The user is created"));
    assert!(!grid_says(&b, "Audit", "read").await, "no audit right yet");
    b.screenshots("user").await;
    let (_, u) = s.admin().get(&format!("/api/v1/users/{user_id}")).await;
    assert_eq!(u["emails"][0], email.as_str(), "{u}");

    // A role from the grid: audit:read; given to Dana, who then reads the audit log.
    b.click(".section-nav a[href='/roles']").await;
    b.wait_for_path("/roles").await;
    b.screenshots("roles").await;
    b.click("a[href='/roles/new']").await;
    b.wait_for_path("/roles/new").await;
    b.fill("#name", &format!("Auditors {tag}")).await;
    b.check("#perm-audit-read").await;
    b.screenshots("role-new").await;
    b.submit("form[action='/roles/new'] button[type=submit]")
        .await;
    let role_path = b.wait_for_path_starting("/roles/0").await;
    let role_id = role_path
        .trim_start_matches("/roles/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    assert!(grid_says(&b, "Audit", "read").await);
    assert!(!grid_says(&b, "Audit", "manage").await);
    b.fill("#member-email", "nobody@example.test").await;
    b.submit("form[action$='/members'] button").await;
    assert!(b
        .text("#member-email-error")
        .await
        .contains("no enabled user"));
    b.fill("#member-email", &email).await;
    b.submit("form[action$='/members'] button").await;
    b.wait_for_path(&format!("/roles/{role_id}?done=member-added"))
        .await;
    assert!(b
        .text("#members-title + ul")
        .await
        .contains(&format!("Dana {tag}")));
    b.screenshots("role").await;
    b.goto(&format!("{}/users/{user_id}", s.base)).await;
    assert!(
        grid_says(&b, "Audit", "read").await,
        "Dana reads the audit log now"
    );

    // A group: Dana as member, the role carried; a bad address at its field first.
    b.goto(&format!("{}/groups", s.base)).await;
    b.screenshots("groups").await;
    b.click("a[href='/groups/new']").await;
    b.wait_for_path("/groups/new").await;
    b.fill("#name", &format!("Operations {tag}")).await;
    b.fill("#description", "<b>runs</b> the night shift").await;
    b.submit("form[action='/groups/new'] button[type=submit]")
        .await;
    let group_path = b.wait_for_path_starting("/groups/0").await;
    let group_id = group_path
        .trim_start_matches("/groups/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        b.text("#details-title + p").await,
        "<b>runs</b> the night shift",
        "shown as text"
    );
    b.fill("#member-email", &email).await;
    b.submit("form[action$='/members'] button").await;
    b.wait_for_path(&format!("/groups/{group_id}?done=member-added"))
        .await;
    b.check(&format!("#role-{role_id}")).await;
    b.submit("form[action$='/roles'] button").await;
    b.wait_for_path(&format!("/groups/{group_id}?done=roles"))
        .await;
    b.screenshots("group").await;
    let (_, g) = s.admin().get(&format!("/api/v1/groups/{group_id}")).await;
    assert_eq!(g["role_ids"], serde_json::json!([role_id]), "{g}");
    assert_eq!(g["member_count"], 1, "{g}");

    // Disable Dana, with a confirmation; then enable again.
    b.goto(&format!("{}/users/{user_id}", s.base)).await;
    b.click(&format!("a[href='/users/{user_id}/disable']"))
        .await;
    b.wait_for_path(&format!("/users/{user_id}/disable")).await;
    assert!(b
        .text(".consequences")
        .await
        .contains("signed out everywhere"));
    b.screenshots("user-disable").await;
    b.submit("#confirm-button").await;
    b.wait_for_path(&format!("/users/{user_id}?done=disable"))
        .await;
    assert_eq!(b.text("h1 .tag").await, "Disabled");
    let (_, u) = s.admin().get(&format!("/api/v1/users/{user_id}")).await;
    assert_eq!(u["enabled"], false);
    b.click(&format!("a[href='/users/{user_id}/enable']")).await;
    b.submit("#confirm-button").await;
    b.wait_for_path(&format!("/users/{user_id}?done=enable"))
        .await;
    assert_eq!(b.text("h1 .tag").await, "Enabled");

    // Edit: a duplicate address is refused at its field.
    b.click(&format!("a[href='/users/{user_id}/edit']")).await;
    b.fill("#emails", &format!("{email}\n{ADMIN_EMAIL}")).await;
    b.submit(&format!(
        "form[action='/users/{user_id}/edit'] button[type=submit]"
    ))
    .await;
    assert!(
        b.has("#emails-error").await,
        "the administrator's address is taken"
    );
    b.screenshots("user-edit-errors").await;

    // Everyone is protected: no disable or delete on its page.
    b.goto(&format!("{}/groups?q=Everyone", s.base)).await;
    click_xpath(&b, "//table//a[normalize-space(.)='Everyone']").await;
    b.wait_for_path_starting("/groups/0").await;
    assert!(b.text(".lead").await.contains("always contains every user"));
    assert!(!b.has("a[href$='/delete']").await && !b.has("a[href$='/disable']").await);

    // Delete the group and the role, each confirmed.
    b.goto(&format!("{}/groups/{group_id}/delete", s.base))
        .await;
    b.screenshots("group-delete").await;
    b.submit("#confirm-button").await;
    b.wait_for_path("/groups?done=deleted").await;
    assert_eq!(
        s.admin().get(&format!("/api/v1/groups/{group_id}")).await.0,
        404
    );
    b.goto(&format!("{}/roles/{role_id}/delete", s.base)).await;
    b.submit("#confirm-button").await;
    b.wait_for_path("/roles").await;
    assert_eq!(
        s.admin().get(&format!("/api/v1/roles/{role_id}")).await.0,
        404
    );
    b.goto(&format!("{}/users/{user_id}", s.base)).await;
    assert!(
        !grid_says(&b, "Audit", "read").await,
        "the role went with its permissions"
    );
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_manages_users_groups_and_roles_in_chromium() {
    let s = TestServer::start(Backend::Sqlite).await;
    personnel(&s, Kind::Chromium).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_manages_users_groups_and_roles_in_firefox() {
    let s = TestServer::start(Backend::Sqlite).await;
    personnel(&s, Kind::Firefox).await;
    s.stop().await;
}

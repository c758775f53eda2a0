//! The API clients page (issue 18, SPEC §7.7): an administrator registers a ticketing system's
//! client in the browser — an empty form refused at its fields, only enabled roles offered —,
//! is shown its client id and secret once, the client obtains a token by client credentials
//! and calls the API with it, and revoking it on the page stops that token at once. Both
//! browsers; axe and screenshots at both sizes.

use crate::api_clients::token_by_form;
use crate::support::browser::Kind;
use crate::support::{Api, Backend, TestServer};
use crate::ui_admin::signed_in_admin;
use fantoccini::Locator;
use serde_json::json;

async fn role(s: &TestServer, name: &str, perms: &[&str]) -> String {
    let (st, role) = s
        .admin()
        .post("/api/v1/roles", json!({"name": name, "permissions": perms}))
        .await;
    assert_eq!(st, 201, "{role}");
    role["id"].as_str().unwrap().to_owned()
}

async fn api_clients(s: &TestServer, kind: Kind) {
    let ticketing = role(s, "Ticketing", &["provision-request:read"]).await;
    let retired = role(s, "Retired integration", &["provision-request:read"]).await;
    let (st, body) = s
        .admin()
        .post(&format!("/api/v1/roles/{retired}/disable"), json!({}))
        .await;
    assert_eq!(st, 200, "{body}");

    let b = signed_in_admin(s, kind).await;
    b.goto(&format!("{}/domains", s.base)).await;
    b.click(".section-nav a[href='/api-clients'], nav a[href='/api-clients']")
        .await;
    b.wait_for_path("/api-clients").await;
    assert_eq!(b.text("h1").await, "API clients");
    assert_eq!(b.text(".empty").await, "No API client is registered.");
    let offered = b.texts("#role_id option").await;
    assert!(
        offered.contains(&"Ticketing".to_owned()),
        "an enabled role is offered: {offered:?}"
    );
    assert!(
        !offered.contains(&"Retired integration".to_owned()),
        "a disabled role is not: {offered:?}"
    );

    // An empty form: each field that is wrong says so, and nothing is registered.
    b.fill("#name", "").await;
    b.fill("#expires_in_days", "").await;
    b.submit("form[action='/api-clients'] button[type=submit]")
        .await;
    assert_eq!(
        b.texts(".error-summary li").await,
        [
            "Enter a name for the client",
            "Choose the role the client acts with"
        ]
    );
    assert!(b.has("#role_id[aria-invalid=true]").await);
    b.fill("#name", "ServiceNow").await;
    b.fill("#expires_in_days", "next year").await;
    b.submit("form[action='/api-clients'] button[type=submit]")
        .await;
    assert_eq!(
        b.texts(".error-summary li").await,
        ["Enter the number of days as a whole number, such as 365"]
    );
    assert_eq!(
        b.value("#name").await,
        "ServiceNow",
        "what was typed is kept"
    );
    b.screenshots("api-clients-errors").await;
    let (_, listed) = s.admin().get("/api/v1/api-clients").await;
    assert_eq!(listed["total"], 0, "{listed}");

    // Registered: the client id and the secret are shown once, and they work.
    b.client
        .find(Locator::Css(&format!(
            "#role_id option[value='{ticketing}']"
        )))
        .await
        .expect("the Ticketing role is offered")
        .click()
        .await
        .expect("choose it");
    b.fill("#expires_in_days", "30").await;
    b.submit("form[action='/api-clients'] button[type=submit]")
        .await;
    let client_id = b.value("#new-client-id").await;
    let secret = b.value("#new-client-secret").await;
    assert!(client_id.starts_with("almc_"), "{client_id}");
    assert!(!secret.is_empty() && secret != client_id);
    assert_eq!(
        b.texts("table.data tbody tr td:nth-child(3)").await,
        ["Ticketing"]
    );
    assert_eq!(b.text("table.data tbody tr .tag").await, "active");
    b.screenshots("api-clients-issued").await;
    let (st, issued) = token_by_form(s, &client_id, &secret).await;
    assert_eq!(st, 200, "{issued}");
    let access = Api::with_token(&s.base, issued["access_token"].as_str().unwrap());
    let (st, me) = access.get("/api/v1/me").await;
    assert_eq!(st, 200, "{me}");
    assert_eq!(me["permissions"], json!(["provision-request:read"]));
    // Shown once: a page read again does not hold it.
    b.goto(&format!("{}/api-clients", s.base)).await;
    assert!(!b.has("#new-client-secret").await);

    // Revoked on the page: its token stops at once, and it gets no new one.
    b.submit("table.data tbody tr:first-child form button[type=submit]")
        .await;
    b.wait_for_path("/api-clients?revoked=ServiceNow").await;
    assert!(b.text(".notice").await.contains("ServiceNow"));
    assert_eq!(b.text("table.data tbody tr .tag").await, "revoked");
    assert_eq!(access.get("/api/v1/me").await.0, 401);
    assert_eq!(token_by_form(s, &client_id, &secret).await.0, 401);
    b.screenshots("api-clients").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_client_is_registered_shown_once_and_revoked_in_chromium() {
    let s = TestServer::start(Backend::Sqlite).await;
    api_clients(&s, Kind::Chromium).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_client_is_registered_shown_once_and_revoked_in_firefox() {
    let s = TestServer::start(Backend::Sqlite).await;
    api_clients(&s, Kind::Firefox).await;
    s.stop().await;
}

//! Web UI part 2, email, webhooks and SIEM (issue 15, pages 4 and 5): an administrator edits an
//! email template with a preview (an unknown parameter refused at its field first), reads the
//! outbox, makes a webhook with a basic authorization (bad values refused at their fields),
//! sends it a test that a real local receiver gets, edits it without its secrets leaving the
//! server, deletes it; and adds a SIEM receiver whose test fails visibly because nothing
//! listens. Both browsers; axe and screenshots at both sizes.

use crate::support::browser::Kind;
use crate::support::receiver::Receiver;
use crate::support::{Backend, TestServer};
use crate::ui_admin::signed_in_admin;
use fantoccini::Locator;

const SIGNING_SECRET: &str = "a-signing-secret-of-some-length";
const BASIC_PASSWORD: &str = "basic-password-never-shown";

async fn integrations(s: &TestServer, kind: Kind) {
    let b = signed_in_admin(s, kind).await;
    let (_, list) = s.admin().get("/api/v1/email-templates").await;
    let event = list["items"][0]["event"].as_str().unwrap().to_owned();
    let param = list["items"][0]["parameters"][0]
        .as_str()
        .unwrap()
        .to_owned();

    // An email template: an unknown parameter is refused, a preview shows sample values.
    b.goto(&format!("{}/email-templates", s.base)).await;
    b.screenshots("email-templates").await;
    b.click(&format!("a[href='/email-templates/{event}']"))
        .await;
    b.wait_for_path(&format!("/email-templates/{event}")).await;
    b.fill("#subject", "Hello {{nope}}").await;
    b.submit("#preview-template").await;
    assert!(b.text("#subject-error").await.contains("unknown parameter"));
    b.screenshots("email-template-errors").await;
    let subject = format!("Check {{{{{param}}}}} now");
    b.fill("#subject", &subject).await;
    b.submit("#preview-template").await;
    assert_eq!(
        b.text("#preview-subject").await,
        format!("Check <{param}> now")
    );
    b.screenshots("email-template-preview").await;
    b.submit("#save-template").await;
    b.wait_for_path(&format!("/email-templates/{event}?done=saved"))
        .await;
    let (_, list) = s.admin().get("/api/v1/email-templates").await;
    assert_eq!(list["items"][0]["subject"], subject.as_str(), "{list}");
    b.goto(&format!("{}/outbox", s.base)).await;
    assert_eq!(b.text("h1").await, "Email outbox");
    // This server has no smtp.host: the page says that nothing leaves.
    assert!(b.text("#email-off").await.starts_with("No email is sent"));
    b.screenshots("outbox").await;

    // A webhook: bad values at their fields, then one with a basic authorization.
    let receiver = Receiver::start().await;
    b.goto(&format!("{}/webhooks", s.base)).await;
    b.screenshots("webhooks-empty").await;
    b.click("a[href='/webhooks/new']").await;
    b.wait_for_path("/webhooks/new").await;
    b.fill("#url", "ftp://nowhere.example.test/hook").await;
    b.fill("#signing_secret", "short").await;
    b.fill("#body_template", "{}").await;
    b.submit("form[action='/webhooks/new'] button[type=submit]")
        .await;
    assert!(b.has("#url-error").await, "ftp is no webhook address");
    assert!(
        b.has("#signing_secret-error").await,
        "the secret is too short"
    );
    assert_eq!(
        b.value("#signing_secret").await,
        "",
        "a secret is never sent back"
    );
    b.screenshots("webhook-new-errors").await;
    b.fill("#url", &receiver.url("/hook")).await;
    b.fill("#signing_secret", SIGNING_SECRET).await;
    b.fill(
        "#body_template",
        &format!("{{\"value\": \"{{{{{param}}}}}\"}}"),
    )
    .await;
    b.client
        .find(Locator::Css("#auth_type option[value='basic']"))
        .await
        .expect("basic")
        .click()
        .await
        .expect("choose basic");
    b.fill("#auth_username", "alm").await;
    b.fill("#auth_password", BASIC_PASSWORD).await;
    b.submit("form[action='/webhooks/new'] button[type=submit]")
        .await;
    let path = b.wait_for_path_starting("/webhooks/").await;
    let id = path
        .trim_start_matches("/webhooks/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(b.text("#authorization").await, "Basic, as alm");
    let source = b.client.source().await.unwrap();
    assert!(!source.contains(SIGNING_SECRET) && !source.contains(BASIC_PASSWORD));

    b.goto(&format!("{}/webhooks", s.base)).await;
    assert!(b.text("#webhooks-table").await.contains(&event));
    b.screenshots("webhooks").await;
    b.goto(&format!("{}/webhooks/{id}", s.base)).await;

    // The test call reaches the receiver, signed and authorized.
    b.submit("#test-webhook").await;
    assert!(
        b.text("#test-result").await.contains("delivered"),
        "{}",
        b.text("main").await
    );
    let calls = receiver.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].header("x-alm-test"), Some("true"));
    assert!(calls[0]
        .header("authorization")
        .is_some_and(|a| a.starts_with("Basic ")));
    assert!(calls[0].header("x-alm-signature").is_some());
    assert!(b.text("#deliveries").await.contains("test"));
    b.screenshots("webhook").await;

    // Edited without giving the secrets again: they are kept (a second test still signs).
    b.goto(&format!("{}/webhooks/{id}/edit", s.base)).await;
    assert_eq!(b.value("#signing_secret").await, "");
    assert_eq!(b.value("#auth_password").await, "");
    b.fill("#description", "Tells the ticket system").await;
    b.submit(&format!(
        "form[action='/webhooks/{id}/edit'] button[type=submit]"
    ))
    .await;
    b.wait_for_path(&format!("/webhooks/{id}?done=updated"))
        .await;
    b.submit("#test-webhook").await;
    assert!(b.text("#test-result").await.contains("delivered"));
    let calls = receiver.calls();
    assert!(calls[1].header("authorization") == calls[0].header("authorization"));
    b.goto(&format!("{}/webhooks/{id}/delete", s.base)).await;
    b.screenshots("webhook-delete").await;
    b.submit("#confirm-button").await;
    b.wait_for_path("/webhooks?done=deleted").await;
    assert_eq!(
        s.admin().get(&format!("/api/v1/webhooks/{id}")).await.0,
        404
    );

    // A SIEM receiver nobody listens to: its test says so.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    b.goto(&format!("{}/siem", s.base)).await;
    b.screenshots("siem-empty").await;
    b.click("a[href='/siem/new']").await;
    b.wait_for_path("/siem/new").await;
    b.fill("#name", "Security operations").await;
    b.fill("#server", "127.0.0.1").await;
    b.fill("#port", "not a port").await;
    b.submit("form[action='/siem/new'] button[type=submit]")
        .await;
    assert!(b.has("#port-error").await);
    b.screenshots("siem-new-errors").await;
    b.fill("#port", &port.to_string()).await;
    b.client
        .find(Locator::Css("#protocol option[value='tcp']"))
        .await
        .expect("tcp")
        .click()
        .await
        .expect("choose tcp");
    b.submit("form[action='/siem/new'] button[type=submit]")
        .await;
    b.wait_for_path_starting("/siem/").await;
    b.submit("#test-siem").await;
    assert!(b.text("#test-result").await.contains("not sent"));
    assert!(b.text("#siem-waiting").await.contains("record"));
    b.screenshots("siem").await;
    b.goto(&format!("{}/siem", s.base)).await;
    assert!(b.text("#siem-table").await.contains("Security operations"));
    b.screenshots("siem-list").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_webhooks_and_siem_are_managed_in_the_browser_in_chromium() {
    let s = TestServer::start(Backend::Sqlite).await;
    integrations(&s, Kind::Chromium).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_webhooks_and_siem_are_managed_in_the_browser_in_firefox() {
    let s = TestServer::start(Backend::Sqlite).await;
    integrations(&s, Kind::Firefox).await;
    s.stop().await;
}

//! Journey 2 of issue 14 in real browsers: the first administrator, signed in with the
//! one-time password alm printed, must choose their own password before any page opens; a
//! user signs in through the OpenID Connect provider peer (panva's `oidc-provider`).

use crate::oidc::{alm_with_oidc, free_port, Provider};
use crate::support::browser::{Browser, Kind};
use crate::support::server::ADMIN_EMAIL;
use crate::support::Backend;
use alm_server::services::bootstrap;

async fn journey(kind: Kind) {
    let port = free_port();
    let callback = format!("http://127.0.0.1:{port}/auth/oidc/callback");
    let provider = Provider::start(&[callback]).await;
    let s = alm_with_oidc(Backend::Sqlite, port, &provider.issuer, "alm-test-secret").await;
    s.user_with_token("Alice", "alice@example.test").await;
    // What `alm serve` prints at first start: a generated password, good for one sign-in.
    let once = bootstrap::reset_password(&s.state().db, s.clock.as_ref(), ADMIN_EMAIL, None)
        .await
        .unwrap();
    let b = Browser::start_with(kind, true).await;

    b.goto(&format!("{}/sign-in", s.base)).await;
    b.fill("#email", ADMIN_EMAIL).await;
    b.fill("#password", &once).await;
    b.submit("form[action='/sign-in'] button[type=submit]")
        .await;
    b.wait_for_path("/account/password").await;
    assert!(b.text(".warning-text").await.contains("one sign-in"));
    assert!(
        b.texts(".site-nav a").await.is_empty(),
        "no navigation to pages that would send the user back"
    );
    assert!(b
        .text("#new_password-hint")
        .await
        .contains("At least 12 characters"));
    b.screenshots("password-one-time").await;
    // Nothing else opens: the API neither.
    b.goto(&format!("{}/requests", s.base)).await;
    b.wait_for_path("/account/password").await;

    b.fill("#current_password", &once).await;
    b.fill("#new_password", "my own admin password").await;
    b.fill("#confirm_password", "my own admin passwort").await;
    b.submit("form[action='/account/password'] button").await;
    assert_eq!(
        b.texts(".error-summary li").await,
        ["Confirm new password: type the same new password twice"]
    );
    b.screenshots("password-errors").await;
    b.fill("#current_password", &once).await;
    b.fill("#new_password", "my own admin password").await;
    b.fill("#confirm_password", "my own admin password").await;
    b.submit("form[action='/account/password'] button").await;
    b.wait_for_path("/").await;
    assert_eq!(b.text("h1").await, "My accounts");
    b.goto(&format!("{}/requests", s.base)).await;
    assert_eq!(b.text("h1").await, "My requests", "every page opens now");
    b.submit(".user-menu button[type=submit]").await;
    b.wait_for_path("/sign-in?signed_out=1").await;

    // Alice signs in through the identity provider.
    let button = b.text("a.button[href^='/auth/oidc/login']").await;
    assert_eq!(button, "Sign in with 127.0.0.1");
    b.screenshots("sign-in-oidc").await;
    b.click("a.button[href^='/auth/oidc/login']").await;
    for _ in 0..5 {
        let url = b.client.current_url().await.unwrap();
        if url.as_str().starts_with(&s.base) {
            break;
        }
        if b.has("input[name=login]").await {
            b.fill("input[name=login]", "alice@example.test").await;
            b.fill("input[name=password]", "anything").await;
        }
        b.submit("button[type=submit]").await;
    }
    b.wait_for_path("/").await;
    assert_eq!(b.text(".user-name").await, "Alice");
    assert_eq!(b.text("h1").await, "My accounts");
    b.close().await;
    s.stop().await;
    drop(provider);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_time_password_is_changed_first_and_oidc_signs_in_in_chromium() {
    journey(Kind::Chromium).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_time_password_is_changed_first_and_oidc_signs_in_in_firefox() {
    journey(Kind::Firefox).await;
}

//! The web UI in real browsers (issue 14): Chromium and Firefox through WebDriver, at desktop
//! and phone size, with screenshots of every page for the reviewer. This part: signing in and
//! out, the page frame, the error pages, escaping, the security headers and the CSRF check of
//! forms; the inbox.

use crate::support::browser::{Browser, Kind};
use crate::support::server::{ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::support::{Backend, TestServer};
use serde_json::json;

/// Signs in through the form (the page must be the sign-in page).
async fn sign_in(b: &Browser, email: &str, password: &str) {
    b.fill("#email", email).await;
    b.fill("#password", password).await;
    b.submit("form[action='/sign-in'] button[type=submit]")
        .await;
}

async fn sign_in_journey(s: &TestServer, kind: Kind, javascript: bool) {
    let b = Browser::start_with(kind, javascript).await;
    let shots = |name: &str| format!("{}{name}", if javascript { "" } else { "nojs-" });

    // Home asks for a session first, and comes back after.
    b.goto(&format!("{}/", s.base)).await;
    b.wait_for_path("/sign-in?return_to=%2F").await;
    assert_eq!(b.text("h1").await, "Sign in to alm");
    b.screenshots(&shots("sign-in")).await;

    // Nothing typed: both fields named, in the summary and at the field.
    b.submit("form[action='/sign-in'] button[type=submit]")
        .await;
    assert_eq!(
        b.texts(".error-summary li").await,
        ["Enter your email address", "Enter your password"]
    );
    assert!(b
        .text("#email-error")
        .await
        .contains("Enter your email address"));
    assert!(b
        .text("#password-error")
        .await
        .contains("Enter your password"));
    assert!(
        b.client.title().await.unwrap().starts_with("Error: "),
        "the title says so too"
    );
    b.screenshots(&shots("sign-in-errors")).await;

    // A wrong password: one message that does not say which part was wrong.
    sign_in(&b, ADMIN_EMAIL, "not the password").await;
    let summary = b.texts(".error-summary li").await;
    assert_eq!(summary.len(), 1, "{summary:?}");
    assert!(
        summary[0].starts_with("Enter a correct email address and password"),
        "{summary:?}"
    );
    assert_eq!(
        b.client
            .find(fantoccini::Locator::Css("#email"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some(ADMIN_EMAIL),
        "the email is kept"
    );

    sign_in(&b, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    b.wait_for_path("/").await;
    assert_eq!(b.text("h1").await, "My accounts");
    assert_eq!(
        b.text(".user-name").await,
        "<script>alert(1)</script>",
        "a name is text, never markup"
    );
    assert!(b
        .text(".empty")
        .await
        .contains("You own no service accounts yet"));
    assert_eq!(
        b.texts(".site-nav a").await,
        [
            "Home",
            "Dashboard",
            "Accounts",
            "Personnel",
            "Administration",
            "Integrations",
            "Audit",
            "Inbox"
        ],
        "the administrator holds every permission the navigation asks for"
    );
    // A section opens its first page and lists its pages in a second row.
    b.click(".site-nav a[href='/requests']").await;
    b.wait_for_path("/requests").await;
    assert_eq!(
        b.texts(".section-nav a").await,
        ["Requests", "Approvals", "Managed accounts"]
    );
    assert_eq!(
        b.text(".section-nav a[aria-current=page]").await,
        "Requests"
    );
    b.click(".section-nav a[href='/approvals']").await;
    b.wait_for_path("/approvals").await;
    assert_eq!(
        b.text(".section-nav a[aria-current=page]").await,
        "Approvals"
    );
    assert_eq!(b.text(".site-nav a[aria-current=page]").await, "Accounts");
    b.goto(&format!("{}/", s.base)).await;
    assert!(
        !b.has(".section-nav").await,
        "Home is a section of one page"
    );
    b.screenshots(&shots("home-empty")).await;

    // An unknown address: the 404 page in the frame, still signed in.
    b.goto(&format!("{}/no-such-page", s.base)).await;
    assert_eq!(b.text("h1").await, "Page not found");
    assert_eq!(b.text(".user-name").await, "<script>alert(1)</script>");
    b.screenshots(&shots("not-found")).await;

    // Signing out ends the session: Home asks for a sign-in again.
    b.goto(&format!("{}/", s.base)).await;
    b.submit(".user-menu button[type=submit]").await;
    b.wait_for_path("/sign-in?signed_out=1").await;
    assert_eq!(b.text(".notice").await, "You have signed out.");
    b.goto(&format!("{}/", s.base)).await;
    b.wait_for_path("/sign-in?return_to=%2F").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_and_out_in_chromium_and_firefox_with_and_without_javascript() {
    let s = TestServer::start(Backend::Sqlite).await;
    let admin = s.admin();
    // The administrator's name is markup: every page must show it as text.
    let (_, me) = admin.get("/api/v1/me").await;
    let id = me["user"]["id"].as_str().unwrap();
    let (st, renamed) = admin
        .patch(
            &format!("/api/v1/users/{id}"),
            json!({"display_name": "<script>alert(1)</script>"}),
        )
        .await;
    assert_eq!(st, 200, "{renamed}");
    for kind in Kind::ALL {
        sign_in_journey(&s, kind, true).await;
        sign_in_journey(&s, kind, false).await;
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_and_the_api_carry_the_security_headers_and_forms_need_their_token() {
    let s = TestServer::start(Backend::Sqlite).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for path in ["/sign-in", "/api/v1/me", "/no-such-page"] {
        let r = http
            .get(format!("{}{path}", s.base))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        let h = r.headers();
        let csp = h
            .get("content-security-policy")
            .unwrap_or_else(|| panic!("{path}: no CSP"))
            .to_str()
            .unwrap();
        assert!(
            csp.contains("script-src 'self'")
                && csp.contains("frame-ancestors 'none'")
                && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
        assert_eq!(
            h.get("x-content-type-options").unwrap(),
            "nosniff",
            "{path}"
        );
        assert!(h.get("referrer-policy").is_some(), "{path}");
        assert_eq!(h.get("x-request-id").unwrap().len(), 32, "{path}");
        if path != "/api/v1/me" {
            assert_eq!(
                h.get("cache-control").unwrap(),
                "no-store",
                "{path}: pages are never cached"
            );
        }
    }
    // The API still answers JSON for an unknown route.
    let r = http
        .get(format!("{}/api/v1/nothing-here", s.base))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("json"));

    // The sign-in form without the token of its cookie changes nothing and says why.
    let r = http
        .post(format!("{}/sign-in", s.base))
        .form(&[
            ("email", ADMIN_EMAIL),
            ("password", ADMIN_PASSWORD),
            ("csrf_token", "made-up"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(
        r.headers().get("set-cookie").is_none(),
        "no session from a forged form"
    );
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("This form could not be verified"));

    // Signing out needs the session's token: a signed-in browser posting without it stays in.
    let mut api = crate::support::Api::anonymous(&s.base);
    let (st, _) = api.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(st, 200);
    let r = api
        .client
        .post(format!("{}/sign-out", s.base))
        .form(&[("csrf_token", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("This form could not be verified"));
    assert_eq!(api.get("/api/v1/me").await.0, 200, "the session lives on");

    // Hashed assets are kept for a year; another name is not served.
    let page = http
        .get(format!("{}/sign-in", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let css = page
        .split("href=\"")
        .find_map(|p| {
            p.split('"')
                .next()
                .filter(|u| u.starts_with("/assets/alm.") && u.ends_with(".css"))
        })
        .expect("a stylesheet link")
        .to_owned();
    let r = http.get(format!("{}{css}", s.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(
        http.get(format!("{}/assets/alm.000000000000.css", s.base))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    s.stop().await;
}

/// Puts a message in the administrator's inbox, as the notification service would.
async fn inbox_entry(s: &TestServer, user: alm_core::UserId, title: &str, minutes_ago: i64) {
    let db = &s.state().db;
    let mut tx = db.begin_write().await.unwrap();
    alm_store::notifications::add_inbox(
        &mut tx,
        &alm_store::notifications::InboxEntry {
            id: uuid::Uuid::new_v4().to_string(),
            user_id: user,
            category: "requests".into(),
            event: "request.submitted".into(),
            title: title.into(),
            body: "Line one.\nLine two.".into(),
            subject_type: None,
            subject_id: None,
            created_at: alm_core::Clock::now(s.clock.as_ref())
                - time::Duration::minutes(minutes_ago),
            read_at: None,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

async fn inbox_journey(s: &TestServer, kind: Kind, javascript: bool) {
    let b = Browser::start_with(kind, javascript).await;
    let shots = |name: &str| format!("{}{name}", if javascript { "" } else { "nojs-" });
    b.goto(&format!("{}/sign-in", s.base)).await;
    sign_in(&b, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    b.wait_for_path("/").await;
    assert_eq!(
        b.text(".site-nav a[href='/inbox'] .badge")
            .await
            .split_whitespace()
            .next(),
        Some("2"),
        "the nav counts the unread"
    );

    b.click(".site-nav a[href='/inbox']").await;
    b.wait_for_path("/inbox").await;
    assert_eq!(b.text("h1").await, "Inbox");
    let unread = b.texts(".message.unread h3").await;
    assert_eq!(
        unread,
        ["Newest request", "<b>Older</b> request"],
        "newest first, titles as text"
    );
    assert!(b.text(".empty").await.contains("No read messages"));
    b.screenshots(&shots("inbox")).await;

    // One read: it moves down, the count follows.
    b.submit(".message.unread form button[type=submit]").await;
    assert_eq!(b.text(".notice").await, "1 message marked as read.");
    assert_eq!(
        b.texts(".message.unread h3").await,
        ["<b>Older</b> request"]
    );
    assert_eq!(
        b.texts(".message:not(.unread) h3").await,
        ["Newest request"]
    );
    assert!(b
        .text(".site-nav a[href='/inbox'] .badge")
        .await
        .starts_with('1'));

    // All read.
    b.submit("form[action='/inbox/read-all'] button[type=submit]")
        .await;
    assert_eq!(b.text(".notice").await, "1 message marked as read.");
    assert!(b.text(".empty").await.contains("Nothing unread"));
    assert!(
        b.texts(".site-nav .badge").await.is_empty(),
        "no count when nothing is unread"
    );
    b.screenshots(&shots("inbox-all-read")).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_lists_unread_first_and_marks_one_or_all_read_in_both_browsers() {
    for kind in Kind::ALL {
        for javascript in [true, false] {
            let s = TestServer::start(Backend::Sqlite).await;
            let (_, me) = s.admin().get("/api/v1/me").await;
            let admin: alm_core::UserId = me["user"]["id"].as_str().unwrap().parse().unwrap();
            inbox_entry(&s, admin, "<b>Older</b> request", 30).await;
            inbox_entry(&s, admin, "Newest request", 1).await;
            inbox_journey(&s, kind, javascript).await;
            s.stop().await;
        }
    }
}

async fn tokens_journey(s: &TestServer, kind: Kind, javascript: bool) {
    let b = Browser::start_with(kind, javascript).await;
    let shots = |name: &str| format!("{}{name}", if javascript { "" } else { "nojs-" });
    b.goto(&format!("{}/sign-in", s.base)).await;
    sign_in(&b, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    b.wait_for_path("/").await;
    b.click(".user-menu a[href='/tokens']").await;
    b.wait_for_path("/tokens").await;
    assert_eq!(b.text("h1").await, "API tokens");
    let listed_before = b.texts("table.data tbody tr").await.len();

    // Field errors first: no name, then days that are not a number.
    b.fill("#name", "").await;
    b.submit("form[action='/tokens'] button[type=submit]").await;
    assert_eq!(
        b.texts(".error-summary li").await,
        ["Enter a name for the token"]
    );
    b.fill("#name", "backup script").await;
    b.fill("#expires_in_days", "soon").await;
    b.submit("form[action='/tokens'] button[type=submit]").await;
    assert_eq!(
        b.texts(".error-summary li").await,
        ["Enter the number of days as a whole number, such as 90"]
    );
    assert_eq!(
        b.client
            .find(fantoccini::Locator::Css("#name"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("backup script"),
        "what was typed is kept"
    );
    b.screenshots(&shots("tokens-errors")).await;

    // Made a minute after the fixture's own token, so it lists first (newest first).
    s.clock.advance(time::Duration::minutes(1));
    b.fill("#expires_in_days", "30").await;
    b.submit("form[action='/tokens'] button[type=submit]").await;
    let secret = b
        .client
        .find(fantoccini::Locator::Css("#new-token"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert!(secret.starts_with("alm_"), "{secret}");
    assert_eq!(
        b.texts("table.data tbody tr").await.len(),
        listed_before + 1
    );
    b.screenshots(&shots("tokens-issued")).await;
    let api = crate::support::Api::with_token(&s.base, &secret);
    assert_eq!(api.get("/api/v1/me").await.0, 200, "the token shown works");

    // Revoked: it stops working at once.
    b.submit("table.data tbody tr:first-child form button[type=submit]")
        .await;
    b.wait_for_path("/tokens?revoked=backup+script").await;
    assert!(b.text(".notice").await.contains("backup script"));
    assert_eq!(
        b.text("table.data tbody tr:first-child .tag").await,
        "revoked"
    );
    assert_eq!(api.get("/api/v1/me").await.0, 401);
    b.screenshots(&shots("tokens")).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_tokens_are_created_shown_once_and_revoked_in_both_browsers() {
    for kind in Kind::ALL {
        for javascript in [true, false] {
            let s = TestServer::start(Backend::Sqlite).await;
            tokens_journey(&s, kind, javascript).await;
            s.stop().await;
        }
    }
}

/// The accessibility check can fail: on a page with an image without a text alternative and a
/// field without a label, axe-core reports both (in each browser).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_accessibility_check_finds_what_is_wrong() {
    for kind in Kind::ALL {
        let b = Browser::start_with(kind, true).await;
        b.goto("data:text/html,<!doctype html><html lang=en><title>t</title><main><img src=x.png><input type=text></main></html>")
            .await;
        let ids: Vec<String> = b
            .violations()
            .await
            .iter()
            .map(|v| v["id"].as_str().unwrap().to_owned())
            .collect();
        assert!(
            ids.contains(&"image-alt".to_owned()) && ids.contains(&"label".to_owned()),
            "{}: {ids:?}",
            kind.name()
        );
        b.close().await;
    }
}

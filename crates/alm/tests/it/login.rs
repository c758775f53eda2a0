//! Local password login: sessions, cookies, CSRF, rate limits, logout, switching it off.

use crate::support::server::{ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::support::{on_both_backends, Api, Backend, TestServer};
use serde_json::json;

on_both_backends! {
    async fn sessions_need_csrf_for_changes_and_end_at_logout(backend: Backend) {
        let s = TestServer::start(backend).await;
        let mut browser = Api::anonymous(&s.base);
        let raw = reqwest::Client::new()
            .post(format!("{}/api/v1/auth/login", s.base))
            .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
            .send()
            .await
            .unwrap();
        let cookie = raw.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
        assert!(cookie.starts_with("alm_session="), "{cookie}");
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && !cookie.contains("Secure"), "{cookie}");

        let (st, body) = browser.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        assert_eq!(st, 200, "{body}");
        let csrf = browser.csrf.take().expect("csrf token");
        let (st, me) = browser.get("/api/v1/me").await;
        assert_eq!((st, me["authenticated_by"].as_str()), (200, Some("session")));
        assert_eq!(me["csrf_token"], json!(csrf));
        let (st, body) = browser.post("/api/v1/groups", json!({"name": "No CSRF"})).await;
        assert_eq!(st, 403, "{body}");
        assert!(body["detail"].as_str().unwrap().contains("X-CSRF-Token"));
        browser.csrf = Some("0".repeat(64));
        assert_eq!(browser.post("/api/v1/groups", json!({"name": "Wrong CSRF"})).await.0, 403);
        browser.csrf = Some(csrf);
        assert_eq!(browser.post("/api/v1/groups", json!({"name": "With CSRF"})).await.0, 201);
        let (_, groups) = s.admin().get("/api/v1/groups?q=csrf").await;
        assert_eq!(groups["total"], 1, "only the request with the right token changed anything");
        assert_eq!(browser.post_empty("/api/v1/auth/logout").await.0, 204);
        assert_eq!(browser.get("/api/v1/me").await.0, 401);
        s.stop().await;
    }
}

on_both_backends! {
    async fn repeated_failures_are_rate_limited_until_the_window_passes(backend: Backend) {
        let s = TestServer::start(backend).await;
        let mut browser = Api::anonymous(&s.base);
        for _ in 0..5 {
            assert_eq!(browser.login(ADMIN_EMAIL, "wrong password!").await.0, 401);
        }
        let (st, body) = browser.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        assert_eq!(st, 429, "even the right password waits: {body}");
        // Unknown emails and wrong passwords look the same from outside.
        let (st, unknown) = Api::anonymous(&s.base).login("nobody@example.test", "whatever password").await;
        assert_eq!(st, 401);
        assert_eq!(unknown["detail"], json!("the email address or the password is wrong, or the account is disabled"));
        s.clock.advance(time::Duration::minutes(16));
        assert_eq!(browser.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.0, 200);
        let (_, audit) = s.admin().get("/api/v1/audit?action=login.password&outcome=denied").await;
        assert!(audit["total"].as_u64().unwrap() >= 6, "{audit}");
        assert!(!audit.to_string().contains("wrong password!"), "passwords never reach the audit log");
        s.stop().await;
    }
}

#[tokio::test]
async fn local_login_can_be_switched_off_and_https_cookies_are_secure() {
    let s = TestServer::start_with(
        Backend::Sqlite,
        &[
            ("ALM_AUTH__LOCAL_LOGIN", "false"),
            ("ALM_AUTH__OIDC__ISSUER", "http://127.0.0.1:9"),
            ("ALM_AUTH__OIDC__CLIENT_ID", "alm"),
            ("ALM_AUTH__OIDC__CLIENT_SECRET", "s"),
            ("ALM_PUBLIC_URL", "https://alm.example.test"),
        ],
    )
    .await;
    let (st, body) = Api::anonymous(&s.base)
        .login(ADMIN_EMAIL, ADMIN_PASSWORD)
        .await;
    assert_eq!(st, 403, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("switched off"));
    // The provider at port 9 is unreachable: the login page says so instead of failing blindly.
    let resp = reqwest::get(format!("{}/auth/oidc/login", s.base))
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
    assert!(resp.text().await.unwrap().contains("unreachable"));
    s.stop().await;

    let s = TestServer::start_with(
        Backend::Sqlite,
        &[("ALM_PUBLIC_URL", "https://alm.example.test")],
    )
    .await;
    let raw = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/login", s.base))
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = raw
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.starts_with("__Host-alm_session=") && cookie.contains("; Secure"),
        "{cookie}"
    );
    s.stop().await;
}

/// Two clients behind the test's trusted proxy (127.0.0.1), and a third.
const A: &str = "203.0.113.7";
const B: &str = "198.51.100.9";
const C: &str = "192.0.2.50";

/// A password login through `base`, as if forwarded for `client`; the status and Retry-After.
async fn login_from(
    base: &str,
    client: Option<&str>,
    email: &str,
    password: &str,
) -> (u16, Option<String>) {
    let mut req = reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": email, "password": password}));
    if let Some(c) = client {
        req = req.header("x-forwarded-for", c);
    }
    let resp = req.send().await.unwrap();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (resp.status().as_u16(), retry)
}

on_both_backends! {
    async fn failures_from_elsewhere_never_keep_the_rightful_user_out(backend: Backend) {
        let s = TestServer::start_with(backend, &[("ALM_AUTH__TRUSTED_PROXIES", "127.0.0.1")]).await;
        for i in 0..5 {
            assert_eq!(login_from(&s.base, Some(A), ADMIN_EMAIL, "wrong password!").await.0, 401, "attempt {i}");
        }
        // A must now wait the first 30 s (README): there even the right password waits.
        let (st, retry) = login_from(&s.base, Some(A), ADMIN_EMAIL, ADMIN_PASSWORD).await;
        assert_eq!((st, retry.as_deref()), (429, Some("30")));
        // B has not failed: the right password works at once.
        assert_eq!(login_from(&s.base, Some(B), ADMIN_EMAIL, ADMIN_PASSWORD).await.0, 200);
        s.clock.advance(time::Duration::seconds(29));
        let (st, retry) = login_from(&s.base, Some(A), ADMIN_EMAIL, ADMIN_PASSWORD).await;
        assert_eq!((st, retry.as_deref()), (429, Some("1")));
        s.clock.advance(time::Duration::seconds(1));
        assert_eq!(login_from(&s.base, Some(A), ADMIN_EMAIL, ADMIN_PASSWORD).await.0, 200);
        // The success forgot A's failures for this email: a typo now is a plain 401.
        assert_eq!(login_from(&s.base, Some(A), ADMIN_EMAIL, "wrong password!").await.0, 401);
        assert_eq!(login_from(&s.base, Some(A), ADMIN_EMAIL, ADMIN_PASSWORD).await.0, 200);

        // One address guessing across emails waits after 5 × 5 failures, whoever it logs in as.
        for i in 0..25 {
            let (st, _) = login_from(&s.base, Some(C), &format!("user{i}@example.test"), "guess").await;
            assert_eq!(st, 401, "guess {i}");
        }
        assert_eq!(login_from(&s.base, Some(C), ADMIN_EMAIL, ADMIN_PASSWORD).await.0, 429);
        assert_eq!(login_from(&s.base, Some(B), ADMIN_EMAIL, ADMIN_PASSWORD).await.0, 200);
        s.stop().await;
    }
}

on_both_backends! {
    async fn replicas_share_the_login_counters(backend: Backend) {
        let trusted = [("ALM_AUTH__TRUSTED_PROXIES", "127.0.0.1")];
        let s = TestServer::start_with(backend, &trusted).await;
        let replica = s.replica(&trusted).await;
        let other = format!("http://{}", replica.addr);
        for i in 0..5 {
            assert_eq!(login_from(&s.base, Some(A), ADMIN_EMAIL, "wrong password!").await.0, 401, "attempt {i}");
        }
        let (st, retry) = login_from(&other, Some(A), ADMIN_EMAIL, ADMIN_PASSWORD).await;
        assert_eq!((st, retry.as_deref()), (429, Some("30")), "the other replica knows A failed");
        assert_eq!(login_from(&other, Some(B), ADMIN_EMAIL, ADMIN_PASSWORD).await.0, 200);
        replica.shutdown().await.unwrap();
        s.stop().await;
    }
}

#[tokio::test]
async fn x_forwarded_for_counts_only_from_trusted_proxies() {
    let denied_sources = |audit: serde_json::Value| -> Vec<String> {
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["source_ip"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    // No trusted proxy: the header is the client's own word and changes nothing.
    let s = TestServer::start(Backend::Sqlite).await;
    for _ in 0..5 {
        login_from(&s.base, Some(A), ADMIN_EMAIL, "wrong password!").await;
    }
    let (st, _) = login_from(&s.base, Some(B), ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(st, 429, "all five failures were counted against the peer");
    let (_, audit) = s
        .admin()
        .get("/api/v1/audit?action=login.password&outcome=denied")
        .await;
    assert!(
        denied_sources(audit).iter().all(|ip| ip == "127.0.0.1"),
        "the peer is recorded"
    );
    s.stop().await;

    // Through a trusted proxy: the right-most untrusted address, not what the client wrote.
    let s = TestServer::start_with(
        Backend::Sqlite,
        &[("ALM_AUTH__TRUSTED_PROXIES", "127.0.0.0/8, 10.0.0.0/8")],
    )
    .await;
    let forged = format!("1.2.3.4, {A}, 10.1.2.3");
    assert_eq!(
        login_from(&s.base, Some(&forged), ADMIN_EMAIL, "wrong password!")
            .await
            .0,
        401
    );
    let (_, audit) = s
        .admin()
        .get("/api/v1/audit?action=login.password&outcome=denied")
        .await;
    assert_eq!(denied_sources(audit), vec![A.to_owned()]);
    s.stop().await;
}

on_both_backends! {
    async fn a_one_time_password_opens_nothing_but_the_change_of_password(backend: Backend) {
        let s = TestServer::start(backend).await;
        let (st, u) = s.admin().post("/api/v1/users", json!({"display_name": "Once", "emails": ["once@example.test"]})).await;
        assert_eq!(st, 201, "{u}");
        // A reset without a given password prints a generated one: good for one sign-in.
        let once = alm_server::services::bootstrap::reset_password(&s.state().db, s.clock.as_ref(), "once@example.test", None)
            .await
            .unwrap();
        let mut api = Api::anonymous(&s.base);
        assert_eq!(api.login("once@example.test", &once).await.0, 200);
        let (st, me) = api.get("/api/v1/me").await;
        assert_eq!((st, me["password_must_change"].as_bool()), (200, Some(true)), "{me}");
        let (st, refused) = api.get("/api/v1/inbox").await;
        assert_eq!(st, 403, "{refused}");
        assert!(refused["detail"].as_str().unwrap().contains("choose your own password first"), "{refused}");

        // Bad input names each field and changes nothing.
        let (st, bad) = api.post("/api/v1/me/password", json!({"current_password": "not it", "new_password": "short"})).await;
        assert_eq!(st, 422, "{bad}");
        let fields: Vec<(&str, &str)> = bad["errors"].as_array().unwrap().iter()
            .map(|e| (e["field"].as_str().unwrap(), e["rule"].as_str().unwrap())).collect();
        assert_eq!(fields, [("current_password", "matches"), ("new_password", "min-length")]);
        let (st, same) = api.post("/api/v1/me/password", json!({"current_password": once, "new_password": once})).await;
        assert_eq!((st, same["errors"][0]["rule"].as_str()), (422, Some("differs")), "{same}");
        let (st, unknown) = api.post("/api/v1/me/password", json!({"current_password": once, "new_password": "x", "extra": 1})).await;
        assert_eq!(st, 422, "unknown fields are refused: {unknown}");
        assert_eq!(api.get("/api/v1/inbox").await.0, 403, "still the one-time password");

        let chosen = "a password of my own choosing";
        let (st, body) = api.post("/api/v1/me/password", json!({"current_password": once, "new_password": chosen})).await;
        assert_eq!(st, 204, "{body}");
        assert_eq!(api.get("/api/v1/inbox").await.0, 200, "the session may do what its permissions allow");
        assert_eq!(api.get("/api/v1/me").await.1["password_must_change"], false);
        assert_eq!(Api::anonymous(&s.base).login("once@example.test", &once).await.0, 401, "the one-time password is spent");
        assert_eq!(Api::anonymous(&s.base).login("once@example.test", chosen).await.0, 200);
        let (_, audit) = s.admin().get("/api/v1/audit?action=user.password-changed").await;
        assert_eq!(audit["items"].as_array().unwrap().len(), 1, "{audit}");
        assert_eq!(audit["items"][0]["summary"]["was_one_time"], true);
        assert!(!audit.to_string().contains(chosen), "no password in the audit log");
        s.stop().await;
    }
}

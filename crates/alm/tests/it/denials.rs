//! Refusals in the audit log (issue 12 item 2): a flood of anonymous refusals costs one
//! record per address and minute with the count, not one hash-chained record each; probes of
//! objects outside the caller's scope answer 404 like absent ones, and are audited as denied.

use crate::provisioning::stored_account;
use crate::support::{on_both_backends, TestServer};
use crate::templates::{definition, world};
use serde_json::{json, Value};
use std::time::Duration;

fn total(page: &Value) -> u64 {
    page["total"].as_u64().expect("total")
}

async fn audit_verifies(s: &TestServer) {
    let mut conn = s.state().db.read().await.unwrap();
    let report = alm_store::audit_log::verify(&mut conn).await.unwrap();
    assert!(report.first_broken.is_none(), "{report:?}");
}

on_both_backends! {
    async fn anonymous_refusals_cost_one_audit_record_per_address_and_minute(backend: Backend) {
        const N: usize = 300;
        let s = TestServer::start(backend).await;
        let admin = s.admin();
        let before = total(&admin.get("/api/v1/audit?limit=1").await.1);
        let client = reqwest::Client::new();
        for i in 0..N {
            let mut req = client.get(format!("{}/api/v1/users", s.base));
            if i % 3 == 0 {
                req = req.bearer_auth("alm_not-a-real-token");
            }
            assert_eq!(req.send().await.unwrap().status(), 401, "request {i}");
        }
        assert_eq!(total(&admin.get("/api/v1/audit?limit=1").await.1), before, "nothing written while the minute runs");

        // The minute ends; the next refusal (anyone's) writes it, as one record with the count.
        s.clock.advance(time::Duration::seconds(61));
        assert_eq!(client.get(format!("{}/api/v1/me", s.base)).send().await.unwrap().status(), 401);
        let (_, flood) = admin.get("/api/v1/audit?action=auth.anonymous-denied").await;
        assert_eq!(total(&flood), 1, "{flood}");
        let r = &flood["items"][0];
        assert_eq!(
            (r["summary"]["count"].as_u64(), r["summary"]["unauthenticated"].as_u64(), r["summary"]["throttled_logins"].as_u64()),
            (Some(N as u64), Some(N as u64), Some(0)),
            "{r}"
        );
        assert_eq!((r["actor_kind"].as_str(), r["outcome"].as_str(), r["source_ip"].as_str()), (Some("anonymous"), Some("denied"), Some("127.0.0.1")), "{r}");
        assert_eq!(total(&admin.get("/api/v1/audit?limit=1").await.1), before + 1, "{N} refusals, one record");

        // Without any further traffic the flusher writes the last minute too.
        s.clock.advance(time::Duration::seconds(61));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let last = loop {
            let (_, flood) = admin.get("/api/v1/audit?action=auth.anonymous-denied").await;
            if total(&flood) == 2 {
                break flood["items"][0].clone();
            }
            assert!(tokio::time::Instant::now() < deadline, "the last minute was not written: {flood}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(last["summary"]["count"], 1, "{last}");
        audit_verifies(&s).await;
        s.stop().await;
    }
}

on_both_backends! {
    async fn throttled_logins_are_counted_not_audited_one_by_one(backend: Backend) {
        use crate::support::server::ADMIN_EMAIL;
        let s = TestServer::start(backend).await;
        let mut browser = s.anonymous();
        for _ in 0..5 {
            assert_eq!(browser.login(ADMIN_EMAIL, "wrong password!").await.0, 401);
        }
        let before = total(&s.admin().get("/api/v1/audit?limit=1").await.1);
        for _ in 0..50 {
            assert_eq!(browser.login(ADMIN_EMAIL, "wrong password!").await.0, 429);
        }
        assert_eq!(total(&s.admin().get("/api/v1/audit?limit=1").await.1), before);
        s.clock.advance(time::Duration::seconds(61));
        assert_eq!(s.anonymous().get("/api/v1/me").await.0, 401);
        let (_, flood) = s.admin().get("/api/v1/audit?action=auth.anonymous-denied").await;
        assert_eq!(total(&flood), 1, "{flood}");
        assert_eq!(flood["items"][0]["summary"]["throttled_logins"], 50, "{flood}");
        s.stop().await;
    }
}

on_both_backends! {
    async fn probes_outside_the_callers_scope_are_404_and_audited_as_denied(backend: Backend) {
        use alm_store::accounts::Owner;
        use time::macros::datetime;
        let s = TestServer::start(backend).await;
        let admin = s.admin();
        let w = world(&s).await;
        let owner = Owner::User(w.requester_id.parse().unwrap());
        let account = stored_account(&s, &w, "probe-target", "active", datetime!(2027-01-01 00:00 UTC), &[owner]).await;
        let outsider_id = w.outsider.get("/api/v1/me").await.1["user"]["id"].as_str().expect("my id").to_owned();
        let absent = uuid::Uuid::new_v4();

        // The owner sees it; the outsider gets exactly what an absent id gets.
        assert_eq!(w.requester.get(&format!("/api/v1/accounts/{account}")).await.0, 200);
        let (st, probed) = w.outsider.get(&format!("/api/v1/accounts/{account}")).await;
        let (st_absent, missing) = w.outsider.get(&format!("/api/v1/accounts/{absent}")).await;
        assert_eq!((st, st_absent), (404, 404));
        assert_eq!(probed, missing, "nothing tells an existing account from an absent one");
        assert_eq!(w.outsider.get(&format!("/api/v1/accounts/{account}/history")).await.0, 404);

        // Another requester's request.
        let (st, t) = admin.post("/api/v1/templates", json!({"name": "Probe", "definition": definition(&w)})).await;
        assert_eq!(st, 201, "{t}");
        let template = t["id"].as_str().unwrap().to_owned();
        assert_eq!(admin.post_empty(&format!("/api/v1/templates/{template}/publish")).await.0, 200);
        let (st, r) = w.requester.post("/api/v1/requests", json!({
            "template_id": template, "account_name": "probe-req", "interval": "90d",
            "justification": "The web shop needs to read its database.",
            "description": "web shop", "attributes": {"department": "Sales"}, "terms_accepted": true,
        })).await;
        assert_eq!(st, 201, "{r}");
        let request = r["id"].as_str().unwrap().to_owned();
        let (st, probed) = w.outsider.get(&format!("/api/v1/requests/{request}")).await;
        let (_, missing) = w.outsider.get(&format!("/api/v1/requests/{absent}")).await;
        assert_eq!(st, 404);
        assert_eq!(probed, missing);

        let (_, denied) = admin.get(&format!("/api/v1/audit?action=access.denied&actor_id={outsider_id}")).await;
        let objects: Vec<(String, String)> = denied["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                assert_eq!((r["outcome"].as_str(), r["summary"]["status"].as_u64()), (Some("denied"), Some(404)), "{r}");
                (r["object_type"].as_str().unwrap().to_owned(), r["object_id"].as_str().unwrap().to_owned())
            })
            .collect();
        // The owner's history of the account shows what happened to it, not the probes.
        let (_, history) = w.requester.get(&format!("/api/v1/accounts/{account}/history")).await;
        assert!(!history.to_string().contains("access.denied"), "{history}");
        let mut objects = objects;
        objects.sort();
        let mut expected = vec![
            ("account".to_owned(), account.clone()),
            ("account".to_owned(), account.clone()),
            ("request".to_owned(), request.clone()),
        ];
        expected.sort();
        assert_eq!(objects, expected, "the probes of existing objects, not the absent id: {denied}");
        audit_verifies(&s).await;
        s.stop().await;
    }
}

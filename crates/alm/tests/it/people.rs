//! Users, groups and roles through the API: what disabling takes away, auto-apply roles,
//! built-in protections, scopes, and the audit records of denied attempts.

use crate::support::{on_both_backends, Api, TestServer};
use serde_json::json;

fn perms(me: &serde_json::Value) -> Vec<String> {
    me["permissions"]
        .as_array()
        .expect("permissions")
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect()
}

on_both_backends! {
    async fn disabling_a_group_or_role_removes_only_what_it_gave(backend: Backend) {
        let s = TestServer::start(backend).await;
        let admin = s.admin();
        let (user, token) = s.user_with_token("Dana", "dana@example.test").await;
        let me = Api::with_token(&s.base, &token);
        let (st, via_group) = admin.post("/api/v1/roles", json!({"name": "Readers", "permissions": ["user:read", "audit:read"]})).await;
        assert_eq!(st, 201, "{via_group}");
        let (_, direct) = admin.post("/api/v1/roles", json!({"name": "Auditors", "permissions": ["audit:read"]})).await;
        let (_, group) = admin.post("/api/v1/groups", json!({"name": "Team A"})).await;
        let (gid, rg, rd) = (group["id"].as_str().unwrap(), via_group["id"].as_str().unwrap(), direct["id"].as_str().unwrap());
        assert_eq!(admin.post(&format!("/api/v1/groups/{gid}/members"), json!({"user_id": user})).await.0, 200);
        assert_eq!(admin.put(&format!("/api/v1/groups/{gid}/roles"), json!({"role_ids": [rg]})).await.0, 200);
        assert_eq!(admin.post(&format!("/api/v1/roles/{rd}/members"), json!({"user_id": user})).await.0, 204);

        let p = perms(&me.get("/api/v1/me").await.1);
        assert!(p.contains(&"user:read".into()) && p.contains(&"audit:read".into()), "{p:?}");
        assert_eq!(me.get("/api/v1/users").await.0, 200);

        assert_eq!(admin.post_empty(&format!("/api/v1/groups/{gid}/disable")).await.0, 200);
        let p = perms(&me.get("/api/v1/me").await.1);
        assert!(!p.contains(&"user:read".into()), "only the group gave user:read: {p:?}");
        assert!(p.contains(&"audit:read".into()), "the direct role still gives audit:read: {p:?}");
        assert_eq!(me.get("/api/v1/users").await.0, 403);
        assert_eq!(me.get("/api/v1/audit").await.0, 200);

        assert_eq!(admin.post_empty(&format!("/api/v1/roles/{rd}/disable")).await.0, 200);
        assert!(!perms(&me.get("/api/v1/me").await.1).contains(&"audit:read".into()));
        assert_eq!(me.get("/api/v1/audit").await.0, 403);

        // Enabling restores both.
        admin.post_empty(&format!("/api/v1/groups/{gid}/enable")).await;
        admin.post_empty(&format!("/api/v1/roles/{rd}/enable")).await;
        let p = perms(&me.get("/api/v1/me").await.1);
        assert!(p.contains(&"user:read".into()) && p.contains(&"audit:read".into()));
        s.stop().await;
    }
}

on_both_backends! {
    async fn auto_apply_roles_reach_new_users_only(backend: Backend) {
        let s = TestServer::start(backend).await;
        let admin = s.admin();
        let (_, before) = s.user_with_token("Early", "early@example.test").await;
        let (st, role) = admin.post("/api/v1/roles", json!({"name": "Newcomers", "permissions": ["group:read"], "auto_apply": true})).await;
        assert_eq!(st, 201, "{role}");
        let (_, after) = s.user_with_token("Late", "late@example.test").await;
        let early = perms(&Api::with_token(&s.base, &before).get("/api/v1/me").await.1);
        let late = perms(&Api::with_token(&s.base, &after).get("/api/v1/me").await.1);
        assert!(!early.contains(&"group:read".into()), "{early:?}");
        assert!(late.contains(&"group:read".into()), "{late:?}");
        s.stop().await;
    }
}

on_both_backends! {
    async fn disabling_a_user_ends_sessions_and_tokens_at_once(backend: Backend) {
        let s = TestServer::start(backend).await;
        let admin = s.admin();
        let (user, token) = s.user_with_token("Erin", "erin@example.test").await;
        alm_server::services::bootstrap::reset_password(&s.state().db, s.clock.as_ref(), "erin@example.test", Some("erin's long password".into())).await.unwrap();
        let mut browser = Api::anonymous(&s.base);
        assert_eq!(browser.login("erin@example.test", "erin's long password").await.0, 200);
        let by_token = Api::with_token(&s.base, &token);
        assert_eq!(browser.get("/api/v1/me").await.0, 200);
        assert_eq!(by_token.get("/api/v1/me").await.0, 200);

        let (st, body) = admin.post_empty(&format!("/api/v1/users/{user}/disable")).await;
        assert_eq!((st, body["enabled"].as_bool()), (200, Some(false)), "{body}");
        assert_eq!(browser.get("/api/v1/me").await.0, 401, "session ended");
        assert_eq!(by_token.get("/api/v1/me").await.0, 401, "token stopped");
        assert_eq!(browser.login("erin@example.test", "erin's long password").await.0, 401, "no new login");

        assert_eq!(admin.post_empty(&format!("/api/v1/users/{user}/enable")).await.0, 200);
        assert_eq!(by_token.get("/api/v1/me").await.0, 200, "tokens work again once enabled");
        assert_eq!(browser.get("/api/v1/me").await.0, 401, "the ended session stays ended");

        // Nobody disables themselves (the last administrator could lock everyone out).
        let (_, me) = admin.get("/api/v1/me").await;
        let admin_id = me["user"]["id"].as_str().unwrap();
        let (st, body) = admin.post_empty(&format!("/api/v1/users/{admin_id}/disable")).await;
        assert_eq!(st, 409, "{body}");
        s.stop().await;
    }
}

on_both_backends! {
    async fn builtins_are_protected(backend: Backend) {
        let s = TestServer::start(backend).await;
        let admin = s.admin();
        let (_, groups) = admin.get("/api/v1/groups?q=everyone").await;
        let everyone = groups["items"][0]["id"].as_str().unwrap().to_owned();
        assert_eq!(groups["items"][0]["builtin"], true);
        assert_eq!(admin.post_empty(&format!("/api/v1/groups/{everyone}/disable")).await.0, 409);
        assert_eq!(admin.delete(&format!("/api/v1/groups/{everyone}")).await.0, 409);
        let sysadmin = s.role_id("system-administrator").await;
        let owner = s.role_id("account-owner").await;
        assert_eq!(admin.delete(&format!("/api/v1/roles/{owner}")).await.0, 409);
        assert_eq!(admin.post_empty(&format!("/api/v1/roles/{sysadmin}/disable")).await.0, 409);
        // Built-in permissions are editable.
        let (st, role) = admin.patch(&format!("/api/v1/roles/{owner}"), json!({"permissions": ["managed-account:read"]})).await;
        assert_eq!((st, role["permissions"].clone()), (200, json!(["managed-account:read"])));
        // Every user is in Everyone, including new ones.
        let (uid, _) = s.user_with_token("Finn", "finn@example.test").await;
        let (_, detail) = admin.get(&format!("/api/v1/users/{uid}")).await;
        assert!(detail["group_ids"].as_array().unwrap().contains(&json!(everyone)));
        s.stop().await;
    }
}

on_both_backends! {
    async fn role_create_cannot_grant_what_the_creator_lacks(backend: Backend) {
        let s = TestServer::start(backend).await;
        let admin = s.admin();
        let (uid, token) = s.user_with_token("Gail", "gail@example.test").await;
        let (_, maker) = admin.post("/api/v1/roles", json!({"name": "Role makers", "permissions": ["role:create", "role:read"]})).await;
        admin.post(&format!("/api/v1/roles/{}/members", maker["id"].as_str().unwrap()), json!({"user_id": uid})).await;
        let gail = Api::with_token(&s.base, &token);
        let (st, body) = gail.post("/api/v1/roles", json!({"name": "Escalate", "permissions": ["role:read", "user:manage"]})).await;
        assert_eq!(st, 422, "{body}");
        assert_eq!(body["errors"][0]["field"], "permissions[1]");
        assert_eq!(body["errors"][0]["rule"], "grantable");
        let (st, _) = gail.post("/api/v1/roles", json!({"name": "Fine", "permissions": ["role:read"]})).await;
        assert_eq!(st, 201);
        // Without role:manage, changing a role (even one's own) is refused.
        let (_, roles) = gail.get("/api/v1/roles").await;
        assert!(roles["items"].as_array().unwrap().iter().all(|r| r["name"] != "Fine"), "she does not hold Fine, so it is out of her scope");
        let mid = maker["id"].as_str().unwrap();
        assert_eq!(gail.patch(&format!("/api/v1/roles/{mid}"), json!({"permissions": ["user:manage"]})).await.0, 403);
        s.stop().await;
    }
}

on_both_backends! {
    async fn own_scope_shows_only_the_callers_objects(backend: Backend) {
        let s = TestServer::start(backend).await;
        let admin = s.admin();
        let (uid, token) = s.user_with_token("Hana", "hana@example.test").await;
        let (other, _) = s.user_with_token("Ivan", "ivan@example.test").await;
        let (_, role) = admin.post("/api/v1/roles", json!({"name": "Self readers", "permissions": ["user:read", "user:update", "api-token:read", "api-token:create", "api-token:delete"]})).await;
        admin.post(&format!("/api/v1/roles/{}/members", role["id"].as_str().unwrap()), json!({"user_id": uid})).await;
        let hana = Api::with_token(&s.base, &token);
        let (_, list) = hana.get("/api/v1/users").await;
        assert_eq!(list["total"], 1);
        assert_eq!(list["items"][0]["id"], json!(uid));
        assert_eq!(hana.get(&format!("/api/v1/users/{other}")).await.0, 404);
        assert_eq!(hana.patch(&format!("/api/v1/users/{uid}"), json!({"display_name": "Hana B."})).await.0, 200);
        assert_eq!(hana.patch(&format!("/api/v1/users/{other}"), json!({"display_name": "x"})).await.0, 404);
        let (st, _) = hana.patch(&format!("/api/v1/users/{uid}"), json!({"emails": ["hana2@example.test"]})).await;
        assert_eq!(st, 403, "emails are login identities: manage only");
        // Tokens: she sees and revokes only her own.
        let (_, admin_me) = admin.get("/api/v1/me").await;
        let admin_id = admin_me["user"]["id"].as_str().unwrap();
        let (_, admin_tokens) = admin.get(&format!("/api/v1/api-tokens?user_id={admin_id}")).await;
        let admin_token_id = admin_tokens["items"][0]["id"].as_str().unwrap().to_owned();
        let (_, mine) = hana.get("/api/v1/api-tokens").await;
        assert!(mine["items"].as_array().unwrap().iter().all(|t| t["user_id"] == json!(uid)));
        assert_eq!(hana.delete(&format!("/api/v1/api-tokens/{admin_token_id}")).await.0, 404);
        let (st, issued) = hana.post("/api/v1/api-tokens", json!({"name": "ci", "expires_in_days": 1})).await;
        assert_eq!(st, 201, "{issued}");
        let secret = issued["token_secret"].as_str().unwrap().to_owned();
        let ci = Api::with_token(&s.base, &secret);
        assert_eq!(ci.get("/api/v1/me").await.0, 200);
        // Expiry is judged by the injected clock.
        s.clock.advance(time::Duration::days(2));
        assert_eq!(ci.get("/api/v1/me").await.0, 401);
        let (st, revoked) = hana.delete(&format!("/api/v1/api-tokens/{}", issued["id"].as_str().unwrap())).await;
        assert_eq!(st, 200);
        assert!(revoked["revoked_at"].is_string());
        let (_, listed) = hana.get("/api/v1/api-tokens").await;
        assert!(!listed.to_string().contains(&secret), "secrets are never listed");
        s.stop().await;
    }
}

on_both_backends! {
    async fn denied_attempts_are_audited(backend: Backend) {
        let s = TestServer::start(backend).await;
        let (uid, token) = s.user_with_token("Jo", "jo@example.test").await;
        let jo = Api::with_token(&s.base, &token);
        assert_eq!(jo.post("/api/v1/groups", json!({"name": "Nope"})).await.0, 403);
        assert_eq!(s.anonymous().get("/api/v1/users").await.0, 401);
        let (_, denied) = s.admin().get("/api/v1/audit?action=access.denied&sort=seq").await;
        let items = denied["items"].as_array().unwrap();
        let forbidden = items.iter().find(|r| r["actor_id"] == json!(uid)).expect("403 audited");
        assert_eq!(forbidden["object_id"], "POST /api/v1/groups");
        assert_eq!(forbidden["summary"]["needed"], "group:create");
        assert_eq!(forbidden["outcome"], "denied");
        // Anonymous refusals are counted per address and minute (a flood must not write a
        // record each): the minute's record comes once it is over.
        assert!(items.iter().all(|r| r["actor_kind"] != "anonymous"), "{denied}");
        s.clock.advance(time::Duration::minutes(1));
        assert_eq!(s.anonymous().get("/api/v1/users").await.0, 401);
        let (_, counted) = s.admin().get("/api/v1/audit?action=auth.anonymous-denied").await;
        let anonymous = &counted["items"][0];
        assert_eq!(anonymous["actor_kind"], "anonymous");
        assert_eq!(anonymous["source_ip"], "127.0.0.1");
        assert_eq!((anonymous["outcome"].as_str(), anonymous["summary"]["count"].as_u64()), (Some("denied"), Some(1)), "{counted}");
        s.stop().await;
    }
}

on_both_backends! {
    async fn an_address_listed_twice_is_kept_once(backend: Backend) {
        let s = TestServer::start(backend).await;
        let (st, user) = s.admin().post("/api/v1/users", json!({"display_name": "Kim", "emails": ["kim@example.test", " KIM@example.test", "kim.b@example.test"]})).await;
        assert_eq!(st, 201, "{user}");
        assert_eq!(user["emails"], json!(["kim@example.test", "kim.b@example.test"]));
        s.stop().await;
    }
}

//! API clients (SPEC §7.7, §9; issue 18): a ticketing system — Authlib, a real OAuth 2.0
//! client library, in `tests/peers/ticketing_client.py` — gets a token by client credentials
//! (HTTP Basic and form both), submits a request for a person, approves it as the step's
//! approver and follows it to a provisioned account in Samba; everything it did is audited as
//! the client; it cannot go beyond its role (403, audited); revoking or expiring it stops its
//! tokens at once. The bad paths of creation, of the token endpoint and of acting for someone.

use crate::support::world::{definition, world};
use crate::support::{ad, on_both_backends, Api, TestServer};
use alm_directory::{Directory as _, Lookup};
use serde_json::{json, Value};
use std::process::Command;

/// The permissions a ticketing integration needs: make, submit and read requests, decide.
const TICKETING: [&str; 5] = [
    "provision-request:create",
    "provision-request:read",
    "provision-request:update",
    "provision-approval:read",
    "provision-approval:update",
];

fn oauth_python() -> String {
    std::env::var("ALMTEST_OAUTH_PYTHON").unwrap_or_else(|_| {
        panic!("ALMTEST_OAUTH_PYTHON is not set: the API-client tests need the Authlib that `bash scripts/test.sh` installs")
    })
}

/// Runs the ticketing system once; what it saw.
fn ticketing(
    s: &TestServer,
    client_id: &str,
    secret: &str,
    method: &str,
    request: &Value,
) -> Value {
    let dir = crate::support::db::temp_dir("ticketing");
    let secret_file = dir.join("secret");
    std::fs::write(&secret_file, secret).unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/peers/ticketing_client.py"
    );
    let out = Command::new(oauth_python())
        .args([
            script,
            &s.base,
            client_id,
            secret_file.to_str().unwrap(),
            method,
            &request.to_string(),
        ])
        .output()
        .expect("python runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "the ticketing client failed ({method}): {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// A token by client credentials in the form (client_secret_post), with reqwest.
pub(crate) async fn token_by_form(s: &TestServer, client_id: &str, secret: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/oauth/token", s.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
        ])
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn role_with(admin: &Api, name: &str, perms: &[&str]) -> String {
    let (st, role) = admin
        .post("/api/v1/roles", json!({"name": name, "permissions": perms}))
        .await;
    assert_eq!(st, 201, "{role}");
    role["id"].as_str().unwrap().to_owned()
}

on_both_backends! {
    async fn a_ticketing_system_submits_approves_and_follows_a_request_by_client_credentials(backend: Backend) {
        let s = TestServer::start(backend).await;
        let w = world(&s).await;
        let admin = s.admin();
        let role = role_with(&admin, "Ticketing", &TICKETING).await;
        let (st, client) = admin
            .post("/api/v1/api-clients", json!({"name": "ServiceNow", "role_id": role, "expires_in_days": 30}))
            .await;
        assert_eq!(st, 201, "{client}");
        let (client_id, secret) = (client["client_id"].as_str().unwrap().to_owned(), client["client_secret"].as_str().unwrap().to_owned());
        let client_user = client["user_id"].as_str().unwrap().to_owned();
        assert!(client_id.starts_with("almc_"), "{client}");
        // The secret is shown once: never listed or read back.
        let (_, listed) = admin.get("/api/v1/api-clients").await;
        let (_, one) = admin.get(&format!("/api/v1/api-clients/{}", client["id"].as_str().unwrap())).await;
        assert!(!listed.to_string().contains(&secret) && !one.to_string().contains(&secret), "{listed} {one}");
        assert_eq!(one["name"], "ServiceNow");

        // Step 1 is the client's to decide.
        let mut d = definition(&w);
        d["steps"] = json!([{"users": [client_user], "min_approvals": 1}]);
        let (st, t) = admin.post("/api/v1/templates", json!({"name": "Ticketed", "definition": d})).await;
        assert_eq!(st, 201, "{t}");
        let template = t["id"].as_str().unwrap().to_owned();
        assert_eq!(admin.post_empty(&format!("/api/v1/templates/{template}/publish")).await.0, 200);

        for (method, name) in [("client_secret_basic", "tktbasic"), ("client_secret_post", "tktpost")] {
            let suffix = &uuid::Uuid::new_v4().simple().to_string()[..5];
            let body = json!({"template_id": template, "account_name": format!("{name}{suffix}"), "interval": "90d",
                              "justification": "ticket CHG0042", "attributes": {"department": "Sales"},
                              "terms_accepted": true, "requester_id": w.requester_id});
            let seen = ticketing(&s, &client_id, &secret, method, &body);
            assert_eq!((seen["token_type"].as_str(), seen["expires_in"].as_i64()), (Some("Bearer"), Some(3600)), "{seen}");
            assert_eq!((seen["create_status"].as_u64(), seen["submit_status"].as_u64(), seen["approvals_status"].as_u64(), seen["approve_status"].as_u64()),
                       (Some(201), Some(200), Some(200), Some(200)), "{method}: {seen}");
            let id = seen["request_id"].as_str().unwrap().to_owned();
            assert_eq!(seen["requester_id"], json!(w.requester_id), "made as the person's: {seen}");
            assert!(seen["waiting"].as_array().unwrap().contains(&json!(id)), "the client saw it waiting for its decision: {seen}");
            assert_eq!(seen["states"].as_array().unwrap().last(), Some(&json!("provisioned")), "{method}: {seen}");
            // Beyond its role: refused, and the refusal audited as the client.
            assert_eq!(seen["forbidden_status"].as_u64(), Some(403), "{seen}");

            // The account is in Samba; the person sees the request as theirs.
            let account = format!("svc-{name}{suffix}");
            let entry = ad::connect().find(&Lookup::SamAccountName(account.clone())).await.unwrap();
            assert!(entry.is_some_and(|e| e.dn.to_lowercase().ends_with(&w.ou.to_lowercase())), "{account} is in the OU");
            let (st, mine) = w.requester.get(&format!("/api/v1/requests/{id}")).await;
            assert_eq!((st, mine["state"].as_str()), (200, Some("provisioned")), "{mine}");

            // Audited as the client: made, submitted, approved.
            for action in ["request.created", "request.submitted", "request.approved"] {
                let (_, audit) = admin.get(&format!("/api/v1/audit?action={action}&object_id={id}")).await;
                let items = audit["items"].as_array().unwrap();
                assert!(!items.is_empty() && items.iter().all(|r| r["actor_id"] == json!(client_user) && r["actor_name"] == "API client ServiceNow"),
                        "{action}: {audit}");
            }
        }
        let (_, denied) = admin.get(&format!("/api/v1/audit?action=access.denied&actor_id={client_user}")).await;
        assert!(denied["items"].as_array().unwrap().len() >= 2, "each refusal beyond the role is audited: {denied}");

        // Revoked: a token it holds stops at once, and it gets no new one.
        let (st, t) = token_by_form(&s, &client_id, &secret).await;
        assert_eq!(st, 200, "{t}");
        let token = t["access_token"].as_str().unwrap().to_owned();
        let as_client = Api::with_token(&s.base, &token);
        assert_eq!(as_client.get("/api/v1/approvals").await.0, 200);
        let (st, revoked) = admin.delete(&format!("/api/v1/api-clients/{}", client["id"].as_str().unwrap())).await;
        assert!(st == 200 && revoked["revoked_at"].is_string(), "{revoked}");
        assert_eq!(as_client.get("/api/v1/approvals").await.0, 401);
        let (st, refused) = token_by_form(&s, &client_id, &secret).await;
        assert_eq!((st, refused["error"].as_str()), (401, Some("invalid_client")), "{refused}");
        // Its user stays disabled: only the client's revocation changes it.
        let (st, body) = admin.post_empty(&format!("/api/v1/users/{client_user}/enable")).await;
        assert_eq!(st, 422, "{body}");
        s.stop().await;
    }
}

on_both_backends! {
    async fn api_clients_refuse_what_they_must(backend: Backend) {
        let s = TestServer::start(backend).await;
        let admin = s.admin();
        let ticketing_role = role_with(&admin, "Ticketing", &TICKETING).await;

        // Creation: every field checked, nothing made on a refusal.
        for (body, field) in [
            (json!({"name": "", "role_id": ticketing_role}), "name"),
            (json!({"name": "X"}), "role_id"),
            (json!({"name": "X", "role_id": "not-a-uuid"}), "role_id"),
            (json!({"name": "X", "role_id": uuid::Uuid::new_v4()}), "role_id"),
            (json!({"name": "X", "role_id": ticketing_role, "expires_in_days": 0}), "expires_in_days"),
        ] {
            let (st, r) = admin.post("/api/v1/api-clients", body.clone()).await;
            assert_eq!(st, 422, "{body}: {r}");
            assert!(r.to_string().contains(field), "{field} named: {r}");
        }
        // Never more than its creator holds: a user who may create clients but not decide
        // approvals cannot make a client that may.
        let (creator, creator_token) = s.user_with_token("Creator", "creator@example.test").await;
        let creator_role = role_with(&admin, "Client makers", &["api-client:create", "provision-request:create", "provision-request:read",
                                                                 "provision-request:update", "provision-approval:read"]).await;
        assert_eq!(admin.post(&format!("/api/v1/roles/{creator_role}/members"), json!({"user_id": creator})).await.0, 204);
        let creator_api = Api::with_token(&s.base, &creator_token);
        let (st, r) = creator_api.post("/api/v1/api-clients", json!({"name": "Too much", "role_id": ticketing_role})).await;
        assert_eq!(st, 403, "{r}");
        assert!(r.to_string().contains("provision-approval:update"), "the missing permission named: {r}");
        let (_, listed) = admin.get("/api/v1/api-clients").await;
        assert_eq!(listed["total"], 0, "nothing made: {listed}");

        // The token endpoint (RFC 6749 §5.2 answers).
        let (st, client) = admin.post("/api/v1/api-clients", json!({"name": "Tickets", "role_id": ticketing_role, "expires_in_days": 1})).await;
        assert_eq!(st, 201, "{client}");
        let (client_id, secret) = (client["client_id"].as_str().unwrap(), client["client_secret"].as_str().unwrap());
        let client_user = client["user_id"].as_str().unwrap();
        let http = reqwest::Client::new();
        let url = format!("{}/oauth/token", s.base);
        let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
            (http.post(&url).form(&[("grant_type", "client_credentials"), ("client_id", client_id), ("client_secret", "wrong")]), 401, "invalid_client"),
            (http.post(&url).form(&[("grant_type", "client_credentials"), ("client_id", "almc_nobody"), ("client_secret", secret)]), 401, "invalid_client"),
            (http.post(&url).form(&[("grant_type", "password"), ("client_id", client_id), ("client_secret", secret)]), 400, "unsupported_grant_type"),
            (http.post(&url).form(&[("client_id", client_id), ("client_secret", secret)]), 400, "invalid_request"),
            (http.post(&url).basic_auth(client_id, Some(secret)).form(&[("grant_type", "client_credentials"), ("client_secret", secret)]), 400, "invalid_request"),
            (http.post(&url).json(&json!({"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret})), 400, "invalid_request"),
            (http.post(&url).form(&[("grant_type", "client_credentials")]), 401, "invalid_client"),
            (http.post(&url).basic_auth(client_id, Some("wrong")).form(&[("grant_type", "client_credentials")]), 401, "invalid_client"),
        ];
        for (i, (request, status, error)) in cases.into_iter().enumerate() {
            let r = request.send().await.unwrap();
            let got = r.status().as_u16();
            let challenge = r.headers().get("www-authenticate").is_some();
            let body: Value = r.json().await.unwrap();
            assert_eq!((got, body["error"].as_str()), (status, Some(error)), "case {i}: {body}");
            assert!(!body.to_string().contains(secret), "no secret in an answer: {body}");
            if i == 7 {
                assert!(challenge, "a failed HTTP Basic answer carries its challenge");
            }
        }
        let (st, t) = token_by_form(&s, client_id, secret).await;
        assert_eq!(st, 200, "{t}");
        let as_client = Api::with_token(&s.base, t["access_token"].as_str().unwrap());

        // Acting for someone: only a client, only for an enabled person.
        let w_template = uuid::Uuid::new_v4();
        let (requester, requester_token) = s.user_with_token("Person", "person@example.test").await;
        let person = Api::with_token(&s.base, &requester_token);
        let body = |who: &str| json!({"template_id": w_template, "account_name": "x", "interval": "90d", "justification": "j", "requester_id": who});
        let (st, r) = person.post("/api/v1/requests", body(&requester)).await;
        assert!(st == 422 || st == 403, "{r}");
        if st == 422 {
            assert!(r.to_string().contains("requester_id"), "{r}");
        }
        let (st, r) = as_client.post("/api/v1/requests", body(&uuid::Uuid::new_v4().to_string())).await;
        assert!(st == 422 && r.to_string().contains("requester_id"), "{r}");
        let (st, r) = as_client.post("/api/v1/requests", body(client_user)).await;
        assert!(st == 422 && r.to_string().contains("requester_id"), "another client is no person: {r}");

        // A client's user is nobody's member, and holds no other role.
        let (_, group) = admin.post("/api/v1/groups", json!({"name": "Some group"})).await;
        let (st, r) = admin.post(&format!("/api/v1/groups/{}/members", group["id"].as_str().unwrap()), json!({"user_id": client_user})).await;
        assert!(st == 422 && r.to_string().contains("user_id"), "{r}");
        let admin_role = s.role_id("system-administrator").await;
        let (st, r) = admin.post(&format!("/api/v1/roles/{admin_role}/members"), json!({"user_id": client_user})).await;
        assert!(st == 422 && r.to_string().contains("user_id"), "{r}");
        // The role it acts with cannot go while it does.
        let (st, r) = admin.delete(&format!("/api/v1/roles/{ticketing_role}")).await;
        assert_eq!(st, 409, "{r}");

        // Expired: its tokens stop at its expiry, and it gets no new one.
        assert_eq!(as_client.get("/api/v1/approvals").await.0, 200);
        s.clock.advance(time::Duration::days(1));
        assert_eq!(as_client.get("/api/v1/approvals").await.0, 401);
        let (st, refused) = token_by_form(&s, client_id, secret).await;
        assert_eq!((st, refused["error"].as_str()), (401, Some("invalid_client")), "{refused}");
        s.stop().await;
    }
}

on_both_backends! {
    /// Wrong secrets at the token endpoint are throttled like password logins (per client id
    /// and address, and per address): past `auth.max_failed_logins` (5) even the right secret
    /// waits, told how long; once the wait is over it works and the count starts again.
    async fn failed_token_requests_are_throttled_like_logins(backend: Backend) {
        let s = TestServer::start(backend).await;
        let admin = s.admin();
        let role = role_with(&admin, "Reader", &["provision-request:read"]).await;
        let (st, client) = admin
            .post("/api/v1/api-clients", json!({"name": "Ticketing", "role_id": role}))
            .await;
        assert_eq!(st, 201, "{client}");
        let (client_id, secret) = (client["client_id"].as_str().unwrap(), client["client_secret"].as_str().unwrap());
        for n in 1..=5 {
            let (st, refused) = token_by_form(&s, client_id, "wrong").await;
            assert_eq!((st, refused["error"].as_str()), (401, Some("invalid_client")), "attempt {n}: {refused}");
        }
        let r = reqwest::Client::new()
            .post(format!("{}/oauth/token", s.base))
            .form(&[("grant_type", "client_credentials"), ("client_id", client_id), ("client_secret", secret)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 429);
        assert_eq!(r.headers()["retry-after"], "30", "30 s after the allowance is used up");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client", "{body}");
        assert!(body["error_description"].as_str().unwrap().contains("30 seconds"), "{body}");

        s.clock.advance(time::Duration::seconds(31));
        let (st, issued) = token_by_form(&s, client_id, secret).await;
        assert_eq!(st, 200, "{issued}");
        // The right secret cleared the pair's count: a wrong one is counted from one again.
        assert_eq!(token_by_form(&s, client_id, "wrong").await.0, 401);
        assert_eq!(token_by_form(&s, client_id, secret).await.0, 200);
        s.stop().await;
    }
}

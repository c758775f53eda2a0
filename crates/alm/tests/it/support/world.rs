//! The world most flow tests start from: a domain on a real DC scoped to a fresh OU (synced),
//! the built-in vault, a requester, an outsider, three approvers in a group and a final
//! approver, each with an API token; and the template definition that uses them. Shared by
//! the `it` and `crash` test binaries.

use crate::support::{ad, Api, TestServer};
use serde_json::{json, Value};

/// A domain on the DC that `c` reaches, scoped to a fresh OU with a child OU `Accounts`,
/// synced; returns (domain id, the child OU's DN).
pub(crate) async fn synced_domain_on(
    s: &TestServer,
    c: &alm_directory::DirectoryConfig,
) -> (String, String) {
    let dir = alm_directory::ActiveDirectory::new(c.clone()).expect("valid directory settings");
    let ou = ad::test_ou(&dir, "tmpl").await;
    let accounts = dir
        .create_organizational_unit("Accounts", &ou)
        .await
        .expect("child OU");
    let (st, d) = s
        .admin()
        .post(
            "/api/v1/domains",
            json!({"name": format!("Templates {}", &uuid::Uuid::new_v4().simple().to_string()[..6]),
                   "url": c.url, "failover_urls": c.failover_urls, "bind_identity": c.bind_identity, "bind_password": c.bind_password.expose(),
                   "ca_pem": c.ca_pem, "base_dn": ou}),
        )
        .await;
    assert_eq!(st, 201, "{d}");
    let id = d["id"].as_str().unwrap().to_owned();
    let (_, run) = s
        .admin()
        .post_empty(&format!("/api/v1/domains/{id}/sync"))
        .await;
    assert_eq!(run["outcome"], "succeeded", "{run}");
    // The full sync read the schema's attribute names too.
    let (_, attributes) = s
        .admin()
        .get(&format!("/api/v1/domains/{id}/attributes?q=DEPART"))
        .await;
    assert!(
        attributes["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "department"),
        "{attributes}"
    );
    (id, accounts)
}

pub(crate) async fn builtin_vault(admin: &Api) -> String {
    let (_, vaults) = admin.get("/api/v1/vaults").await;
    vaults["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["kind"] == "builtin")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub(crate) async fn group_with(admin: &Api, name: &str, members: &[&str]) -> String {
    let (st, g) = admin.post("/api/v1/groups", json!({"name": name})).await;
    assert_eq!(st, 201, "{g}");
    let id = g["id"].as_str().unwrap().to_owned();
    for m in members {
        let (st, body) = admin
            .post(
                &format!("/api/v1/groups/{id}/members"),
                json!({"user_id": m}),
            )
            .await;
        assert_eq!(st, 200, "{body}");
    }
    id
}

pub(crate) struct World {
    pub domain: String,
    pub ou: String,
    pub vault: String,
    pub audience: String,
    pub approvers: String,
    pub approver_ids: Vec<String>,
    pub final_approver: String,
    pub requester: Api,
    pub requester_id: String,
    pub outsider: Api,
    /// The three members of the Approvers group, then the final approver; all with the
    /// Approver role.
    pub approver_apis: Vec<Api>,
    pub final_api: Api,
}

pub(crate) async fn world(s: &TestServer) -> World {
    world_on(s, &ad::config()).await
}

/// [`world`] with its domain on the DC that `c` reaches.
pub(crate) async fn world_on(s: &TestServer, c: &alm_directory::DirectoryConfig) -> World {
    let admin = s.admin();
    let (domain, ou) = synced_domain_on(s, c).await;
    let vault = builtin_vault(&admin).await;
    let requester_role = s.role_id("requester").await;
    let (req_id, req_token) = s.user_with_token("Requester", "req@example.test").await;
    let (out_id, out_token) = s.user_with_token("Outsider", "out@example.test").await;
    for u in [&req_id, &out_id] {
        admin
            .post(
                &format!("/api/v1/roles/{requester_role}/members"),
                json!({"user_id": u}),
            )
            .await;
    }
    let approver_role = s.role_id("approver").await;
    let mut approver_ids = Vec::new();
    let mut approver_apis = Vec::new();
    for n in 1..=3 {
        let (id, token) = s
            .user_with_token(&format!("Approver {n}"), &format!("appr{n}@example.test"))
            .await;
        admin
            .post(
                &format!("/api/v1/roles/{approver_role}/members"),
                json!({"user_id": id}),
            )
            .await;
        approver_ids.push(id);
        approver_apis.push(Api::with_token(&s.base, &token));
    }
    let (final_approver, final_token) = s.user_with_token("Final", "final@example.test").await;
    admin
        .post(
            &format!("/api/v1/roles/{approver_role}/members"),
            json!({"user_id": final_approver}),
        )
        .await;
    let audience = group_with(&admin, "Web team", &[&req_id]).await;
    let refs: Vec<&str> = approver_ids.iter().map(String::as_str).collect();
    let approvers = group_with(&admin, "Approvers", &refs).await;
    World {
        domain,
        ou,
        vault,
        audience,
        approvers,
        approver_ids,
        final_approver,
        requester: Api::with_token(&s.base, &req_token),
        requester_id: req_id,
        outsider: Api::with_token(&s.base, &out_token),
        approver_apis,
        final_api: Api::with_token(&s.base, &final_token),
    }
}

pub(crate) fn definition(w: &World) -> Value {
    json!({
        "account_type": "ad-user",
        "eol_action": "expire",
        "terms": "Service accounts are reviewed yearly.",
        "purpose": "Web services",
        "vault_id": w.vault,
        "folders": ["service-accounts/web"],
        "domain_id": w.domain,
        "name_prefix": "svc-",
        "name_regex": "^svc-[a-z0-9-]+$",
        "ous": [w.ou],
        "attributes": [{"name": "department", "required": true, "editable": true, "default": "IT"}],
        "cannot_change_password": true,
        "audience_groups": [w.audience],
        "ownership": {"min_owners": 1, "max_owners": 3},
        "lifecycle": {"intervals": ["90d", "1y"], "renewal_window_days": 15, "reminder_every_days": 7},
        "steps": [
            {"groups": [w.approvers], "min_approvals": 2},
            {"users": [w.final_approver], "min_approvals": 1}
        ],
        "hide_approver_names": true
    })
}

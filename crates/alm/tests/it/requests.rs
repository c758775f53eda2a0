//! Requests and approvals through the API (SPEC §2.5, §2.6): drafts, submit, two approval
//! steps (a group with K = 2, then one user), the same approver counted once, separation of
//! duties, hidden approver names, rejection with a reason freeing the name, withdrawal, and
//! bad input refused field by field with nothing stored. Names are checked against the real
//! directory through the domain's sync of the Samba DC.

use crate::support::{ad, on_both_backends, TestServer};
use crate::templates::{definition, group_with, world, World};
use alm_directory::password::Generate as _;
use serde_json::{json, Value};

async fn published_template(s: &TestServer, w: &World) -> String {
    let admin = s.admin();
    let (st, t) = admin
        .post(
            "/api/v1/templates",
            json!({"name": "Web accounts", "definition": definition(w)}),
        )
        .await;
    assert_eq!(st, 201, "{t}");
    let id = t["id"].as_str().unwrap().to_owned();
    assert_eq!(
        admin
            .post_empty(&format!("/api/v1/templates/{id}/publish"))
            .await
            .0,
        200
    );
    id
}

fn request(template: &str, name: &str) -> Value {
    json!({
        "template_id": template, "account_name": name, "interval": "90d",
        "justification": "The web shop needs to read its database.",
        "description": "web shop", "attributes": {"department": "Sales"}, "terms_accepted": true,
    })
}

async fn submitted(w: &World, template: &str, name: &str) -> String {
    let (st, r) = w
        .requester
        .post("/api/v1/requests", request(template, name))
        .await;
    assert_eq!(st, 201, "{r}");
    let id = r["id"].as_str().unwrap().to_owned();
    let (st, r) = w
        .requester
        .post_empty(&format!("/api/v1/requests/{id}/submit"))
        .await;
    assert_eq!(
        (st, r["state"].as_str(), r["current_step"].as_i64()),
        (200, Some("pending-approval"), Some(1)),
        "{r}"
    );
    id
}

fn ids(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

on_both_backends! {
    async fn a_request_passes_two_approval_steps_with_hidden_approvers(backend: Backend) {
        let s = TestServer::start(backend).await;
        let admin = s.admin();
        let w = world(&s).await;
        let template = published_template(&s, &w).await;

        let (st, draft) = w.requester.post("/api/v1/requests", request(&template, "web01")).await;
        assert_eq!(st, 201, "{draft}");
        assert_eq!((draft["state"].as_str(), draft["account_name"].as_str()), (Some("draft"), Some("svc-web01")), "the prefix is applied");
        assert_eq!((draft["ou"].as_str(), draft["folder"].as_str()), (Some(w.ou.as_str()), Some("service-accounts/web")), "template defaults");
        let id = draft["id"].as_str().unwrap().to_owned();
        // Drafts change; nobody else sees them.
        let mut changed = request(&template, "web01");
        changed["description"] = json!("web shop (prod)");
        assert_eq!(w.requester.put(&format!("/api/v1/requests/{id}"), changed).await.0, 200);
        assert_eq!(w.outsider.get(&format!("/api/v1/requests/{id}")).await.0, 404);
        assert!(ids(&w.approver_apis[0].get("/api/v1/approvals").await.1).is_empty(), "a draft waits for nobody");

        let (_, r) = w.requester.post_empty(&format!("/api/v1/requests/{id}/submit")).await;
        assert_eq!((r["state"].as_str(), r["current_step"].as_i64(), r["steps"].as_u64()), (Some("pending-approval"), Some(1), Some(2)), "{r}");
        assert_eq!(w.requester.put(&format!("/api/v1/requests/{id}"), request(&template, "web01")).await.0, 409, "submitted requests do not change");

        // Step 1: the Approvers group, K = 2. The final approver is not at this step yet.
        assert_eq!(ids(&w.approver_apis[0].get("/api/v1/approvals").await.1), std::slice::from_ref(&id));
        assert!(ids(&w.final_api.get("/api/v1/approvals").await.1).is_empty());
        assert_eq!(w.final_api.post(&format!("/api/v1/approvals/{id}/approve"), json!({})).await.0, 404);
        let (st, r) = w.approver_apis[0].post(&format!("/api/v1/approvals/{id}/approve"), json!({})).await;
        assert_eq!((st, r["current_step"].as_i64()), (200, Some(1)), "one of two: {r}");
        let (st, twice) = w.approver_apis[0].post(&format!("/api/v1/approvals/{id}/approve"), json!({})).await;
        assert_eq!(st, 409, "the same approver counts once: {twice}");
        let (_, r) = w.approver_apis[1].post(&format!("/api/v1/approvals/{id}/approve"), json!({"reason": "fine"})).await;
        assert_eq!(r["current_step"], 2, "{r}");
        assert!(ids(&w.approver_apis[2].get("/api/v1/approvals").await.1).is_empty(), "step 1 is done");

        // Step 2: one user.
        assert_eq!(ids(&w.final_api.get("/api/v1/approvals").await.1), std::slice::from_ref(&id));
        let (_, r) = w.final_api.post(&format!("/api/v1/approvals/{id}/approve"), json!({})).await;
        // Approved: provisioning is queued at once (the provisioning tests follow it further).
        assert_eq!((r["state"].as_str(), r["current_step"].as_i64()), (Some("queued-for-provisioning"), None), "{r}");
        assert_eq!(w.requester.post_empty(&format!("/api/v1/requests/{id}/withdraw")).await.0, 409, "approved requests stay");

        // The template hides approver names from the requester, not from an administrator.
        let (_, mine) = w.requester.get(&format!("/api/v1/requests/{id}")).await;
        assert_eq!(mine["decisions"].as_array().unwrap().len(), 3);
        assert!(mine["decisions"].as_array().unwrap().iter().all(|d| d["approver_id"].is_null() && d["approver_name"].is_null()), "{mine}");
        for name in ["Approver 1", "Approver 2", "Final"] {
            assert!(!mine.to_string().contains(name), "{name} leaked: {mine}");
        }
        let (_, list) = w.requester.get("/api/v1/requests").await;
        assert!(!list.to_string().contains("Approver 1"), "{list}");
        let (_, theirs) = admin.get(&format!("/api/v1/requests/{id}")).await;
        let names: Vec<&str> = theirs["decisions"].as_array().unwrap().iter().map(|d| d["approver_name"].as_str().unwrap()).collect();
        assert!(names.contains(&"Approver 1") && names.contains(&"Final"), "{theirs}");

        let (_, audit) = admin.get(&format!("/api/v1/audit?object_type=request&object_id={id}&sort=seq")).await;
        let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
        // (Provisioning may have added its own records after these.) The outsider's look and
        // the final approver's early approval were refused as "not found" and audited.
        assert_eq!(actions[..8], ["request.created", "request.updated", "access.denied", "request.submitted", "access.denied",
                                  "request.approval-recorded", "request.step-approved", "request.approved"]);
        s.stop().await;
    }
}

on_both_backends! {
    async fn a_requester_never_approves_their_own_request(backend: Backend) {
        let s = TestServer::start(backend).await;
        let admin = s.admin();
        let w = world(&s).await;
        // The requester is also an approver of step 1.
        admin.post(&format!("/api/v1/groups/{}/members", w.approvers), json!({"user_id": w.requester_id})).await;
        let approver_role = s.role_id("approver").await;
        admin.post(&format!("/api/v1/roles/{approver_role}/members"), json!({"user_id": w.requester_id})).await;
        let template = published_template(&s, &w).await;
        let id = submitted(&w, &template, "sod01").await;
        assert!(ids(&w.requester.get("/api/v1/approvals").await.1).is_empty(), "not offered their own request");
        let (st, refused) = w.requester.post(&format!("/api/v1/approvals/{id}/approve"), json!({})).await;
        assert_eq!(st, 409, "{refused}");
        assert!(refused["detail"].as_str().unwrap().contains("separation of duties"), "{refused}");
        let (_, r) = admin.get(&format!("/api/v1/requests/{id}")).await;
        assert!(r["decisions"].as_array().unwrap().is_empty(), "{r}");
        s.stop().await;
    }
}

on_both_backends! {
    async fn a_rejection_gives_the_reason_and_frees_the_name(backend: Backend) {
        let s = TestServer::start(backend).await;
        let w = world(&s).await;
        let template = published_template(&s, &w).await;
        let id = submitted(&w, &template, "crm01").await;
        // The name is held while the request lives.
        let (st, taken) = w.requester.post("/api/v1/requests", request(&template, "crm01")).await;
        assert_eq!((st, taken["errors"][0]["field"].as_str()), (409, Some("account_name")), "{taken}");
        w.approver_apis[0].post(&format!("/api/v1/approvals/{id}/approve"), json!({})).await;
        w.approver_apis[1].post(&format!("/api/v1/approvals/{id}/approve"), json!({})).await;
        let (st, no_reason) = w.final_api.post(&format!("/api/v1/approvals/{id}/deny"), json!({})).await;
        assert_eq!((st, no_reason["errors"][0]["field"].as_str()), (422, Some("reason")), "{no_reason}");
        let (st, r) = w.final_api.post(&format!("/api/v1/approvals/{id}/deny"), json!({"reason": "Use the shared CRM account."})).await;
        assert_eq!((st, r["state"].as_str()), (200, Some("rejected")), "{r}");
        let (_, mine) = w.requester.get(&format!("/api/v1/requests/{id}")).await;
        assert_eq!(mine["rejection_reason"], "Use the shared CRM account.", "the requester is told why");
        // Free again; a withdrawn request frees its name too.
        let again = submitted(&w, &template, "crm01").await;
        assert_eq!(w.requester.post_empty(&format!("/api/v1/requests/{again}/withdraw")).await.0, 204);
        submitted(&w, &template, "crm01").await;
        s.stop().await;
    }
}

on_both_backends! {
    async fn bad_requests_are_refused_field_by_field_and_store_nothing(backend: Backend) {
        use alm_directory::{Directory, NewUser};
        let s = TestServer::start(backend).await;
        let admin = s.admin();
        let w = world(&s).await;
        // An account already in the directory, seen by a sync.
        let dir = ad::connect();
        dir.create_user(&NewUser {
            parent_dn: w.ou.clone(),
            sam_account_name: format!("svc-{}", &uuid::Uuid::new_v4().simple().to_string()[..6]),
            user_principal_name: format!("{}@corp.example.test", uuid::Uuid::new_v4().simple()),
            description: None,
            attributes: vec![],
            password: alm_directory::password::PasswordPolicy::default().generate("p", ""),
            enabled: false,
            account_expires: alm_core::filetime::AccountExpires::Never,
        }).await.unwrap();
        admin.post_empty(&format!("/api/v1/domains/{}/sync", w.domain)).await;
        let (_, existing) = admin.get(&format!("/api/v1/domains/{}/objects?kind=user&q=svc-", w.domain)).await;
        let existing = existing["items"][0]["name"].as_str().unwrap().trim_start_matches("svc-").to_owned();
        let template = published_template(&s, &w).await;
        submitted(&w, &template, "held").await;

        let (u1, _) = s.user_with_token("Owner 1", "o1@example.test").await;
        let (u2, _) = s.user_with_token("Owner 2", "o2@example.test").await;
        let (u3, _) = s.user_with_token("Owner 3", "o3@example.test").await;
        let group = group_with(&admin, "Owners", &[]).await;
        let with = |key: &str, value: Value| {
            let mut r = request(&template, "web02");
            r[key] = value;
            r
        };
        let cases = [
            (with("account_name", json!("web*02")), 422, "account_name"),
            (with("account_name", json!("a-very-long-name-1")), 422, "account_name"),
            (with("account_name", json!("Web02")), 422, "account_name"),
            (with("account_name", json!("held")), 409, "account_name"),
            (with("account_name", json!(existing)), 409, "account_name"),
            (with("interval", json!("3y")), 422, "interval"),
            (with("interval", json!("3w")), 422, "interval"),
            (with("terms_accepted", json!(false)), 422, "terms_accepted"),
            (with("justification", json!("  ")), 422, "justification"),
            (with("attributes", json!({"department": "x".repeat(1100)})), 422, "attributes.department"),
            (with("attributes", json!({"department": "IT", "title": "x"})), 422, "attributes.title"),
            (with("owners", json!({"users": [u1, u2, u3]})), 422, "owners"),
            (with("owners", json!({"groups": [group]})), 422, "owners.groups"),
            (with("owners", json!({"users": [uuid::Uuid::new_v4()]})), 422, "owners.users[0]"),
            (with("ou", json!("OU=Elsewhere,DC=corp,DC=example,DC=test")), 422, "ou"),
            (with("folder", json!("other")), 422, "folder"),
            (with("template_id", json!(uuid::Uuid::new_v4())), 422, "template_id"),
            (with("colour", json!("red")), 422, "colour"),
        ];
        for (body, status, field) in cases {
            let (st, problem) = w.requester.post("/api/v1/requests", body.clone()).await;
            assert_eq!((st, problem["errors"][0]["field"].as_str()), (status, Some(field)), "{body}: {problem}");
        }
        // Not in the audience: the template is not offered.
        let (st, problem) = w.outsider.post("/api/v1/requests", request(&template, "web02")).await;
        assert_eq!((st, problem["errors"][0]["field"].as_str()), (422, Some("template_id")), "{problem}");
        let (_, list) = admin.get("/api/v1/requests").await;
        assert_eq!(list["items"].as_array().unwrap().len(), 1, "only the one good request exists: {list}");
        // Nothing reached the directory either (requests touch it only once approved).
        for name in ["svc-web02", "svc-web*02", "svc-Web02"] {
            assert!(dir.find(&alm_directory::Lookup::SamAccountName(name.into())).await.unwrap().is_none(), "{name}");
        }
        let (_, jobs) = admin.get("/api/v1/jobs?limit=500").await;
        assert!(jobs["items"].as_array().unwrap().iter().all(|j| j["kind"] != "provision"), "no provisioning queued: {jobs}");
        s.stop().await;
    }
}

on_both_backends! {
    async fn gmsa_service_principal_names_are_unique_across_requests(backend: Backend) {
        let s = TestServer::start(backend).await;
        let admin = s.admin();
        let w = world(&s).await;
        let gmsa_template = |name: &str, spn: &str| {
            let mut d = definition(&w);
            d["account_type"] = json!("gmsa");
            d["eol_action"] = json!("disable");
            d["name_prefix"] = json!("g");
            d["name_regex"] = json!(null);
            d["attributes"] = json!([]);
            d["gmsa"] = json!({"password_reader_users": [w.requester_id], "encryption": "aes256",
                               "service_principal_names": [spn], "dns_host_name": "{name}.corp.example.test"});
            json!({"name": name, "definition": d})
        };
        let mut templates = Vec::new();
        for (name, spn) in [("Fixed SPN", "HTTP/shared.corp.example.test"), ("Per-account SPN", "HTTP/{name}.corp.example.test"),
                            ("Same fixed SPN", "http/SHARED.corp.example.test")] {
            let (st, t) = admin.post("/api/v1/templates", gmsa_template(name, spn)).await;
            assert_eq!(st, 201, "{t}");
            let id = t["id"].as_str().unwrap().to_owned();
            assert_eq!(admin.post_empty(&format!("/api/v1/templates/{id}/publish")).await.0, 200);
            templates.push(id);
        }
        let ask = |template: &str, name: &str| json!({"template_id": template, "account_name": name, "interval": "90d",
            "justification": "SPN", "terms_accepted": true});
        let requester = &w.requester;
        let submit = |id: String| async move { requester.post_empty(&format!("/api/v1/requests/{id}/submit")).await };
        let (st, first) = w.requester.post("/api/v1/requests", ask(&templates[0], "one")).await;
        assert_eq!(st, 201, "{first}");
        assert_eq!(submit(first["id"].as_str().unwrap().to_owned()).await.0, 200);
        // The fixed SPN is claimed: another account from the same template, or from another
        // template naming the same SPN (in other case), is refused before anything is made.
        for template in [&templates[0], &templates[2]] {
            let (st, p) = w.requester.post("/api/v1/requests", ask(template, "two")).await;
            assert_eq!((st, p["errors"][0]["field"].as_str()), (409, Some("account_name")), "{p}");
            assert!(p["errors"][0]["message"].as_str().unwrap().contains("HTTP/shared.corp.example.test"), "{p}");
        }
        // With {name} in the SPN every account has its own.
        for name in ["three", "four"] {
            let (st, r) = w.requester.post("/api/v1/requests", ask(&templates[1], name)).await;
            assert_eq!(st, 201, "{r}");
            assert_eq!(submit(r["id"].as_str().unwrap().to_owned()).await.0, 200);
        }
        s.stop().await;
    }
}

on_both_backends! {
    async fn a_chosen_ou_is_a_real_dn_below_the_template_ou_rdn_by_rdn(backend: Backend) {
        let s = TestServer::start(backend).await;
        let admin = s.admin();
        let w = world(&s).await;
        let dir = ad::connect();
        // w.ou is `OU=Accounts,<test OU>`. A real sub-OU of it, and a sibling of it whose RDN
        // value holds a comma: `OU=Evil\,OU=Accounts,<test OU>` ends with the text of w.ou.
        let test_ou = w.ou.split_once(',').unwrap().1.to_owned();
        let sub = dir.create_organizational_unit("Sub", &w.ou).await.expect("sub-OU");
        dir.create_organizational_unit("Evil,OU=Accounts", &test_ou).await.expect("sibling OU");
        let (_, run) = admin.post_empty(&format!("/api/v1/domains/{}/sync", w.domain)).await;
        assert_eq!(run["outcome"], "succeeded", "{run}");
        let mut d = definition(&w);
        d["allow_sub_ous"] = json!(true);
        let (st, t) = admin.post("/api/v1/templates", json!({"name": "Sub-OU accounts", "definition": d})).await;
        assert_eq!(st, 201, "{t}");
        let template = t["id"].as_str().unwrap().to_owned();
        assert_eq!(admin.post_empty(&format!("/api/v1/templates/{template}/publish")).await.0, 200);

        let with_ou = |ou: String| {
            let mut r = request(&template, "subou01");
            r["ou"] = json!(ou);
            r
        };
        let hostile = [
            (format!("OU=Evil\\,OU=Accounts,{test_ou}"), "one-of"),
            (format!("OU=Evil\\2cOU=Accounts,{test_ou}"), "one-of"),
            (format!("OU=Nope,{}", w.ou), "exists"),
            (format!("OU={},{}", "x".repeat(10_000), w.ou), "max-length"),
            ("Accounts".to_owned(), "format"),
        ];
        for (ou, rule) in &hostile {
            let (st, problem) = w.requester.post("/api/v1/requests", with_ou(ou.clone())).await;
            assert_eq!(
                (st, problem["errors"][0]["field"].as_str(), problem["errors"][0]["rule"].as_str()),
                (422, Some("ou"), Some(*rule)),
                "{}: {problem}", &ou[..ou.len().min(80)]
            );
            assert_eq!(problem["errors"].as_array().unwrap().len(), 1, "{problem}");
        }
        let (_, mine) = w.requester.get("/api/v1/requests").await;
        assert_eq!(mine["total"], 0, "nothing stored: {mine}");

        // The real sub-OU, written in another case and with spaces, is accepted; the request
        // keeps it as the directory spells it, and submitting checks it again.
        let written = sub.to_lowercase().replace(',', ", ");
        let (st, r) = w.requester.post("/api/v1/requests", with_ou(written)).await;
        assert_eq!(st, 201, "{r}");
        assert!(alm_core::Dn::parse(r["ou"].as_str().unwrap()).unwrap() == alm_core::Dn::parse(&sub).unwrap(), "{r}");
        assert_eq!(r["ou"].as_str().unwrap().to_lowercase(), sub.to_lowercase(), "{r}");
        let id = r["id"].as_str().unwrap();
        let (st, r) = w.requester.post_empty(&format!("/api/v1/requests/{id}/submit")).await;
        assert_eq!((st, r["state"].as_str()), (200, Some("pending-approval")), "{r}");
        s.stop().await;
    }
}

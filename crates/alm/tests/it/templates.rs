//! Workflow templates through the API (SPEC §2.4): every rule checked with its field, the
//! states and versions, the audience deciding who sees a template, and the publishing
//! workflow for authors without `provision-template-workflow:manage`. The domain's OUs come
//! from a real sync of the Samba DC.

use crate::support::{on_both_backends, Api, TestServer};
use serde_json::{json, Value};

pub(crate) use crate::support::world::{definition, group_with, world, world_on, World};

fn ids(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

on_both_backends! {
    async fn templates_are_published_versioned_and_offered_to_their_audience(backend: Backend) {
        let s = TestServer::start(backend).await;
        let admin = s.admin();
        let w = world(&s).await;
        let (st, t) = admin.post("/api/v1/templates", json!({"name": "Web service account", "definition": definition(&w)})).await;
        assert_eq!(st, 201, "{t}");
        let id = t["id"].as_str().unwrap().to_owned();
        assert_eq!((t["state"].as_str(), t["version"]["number"].as_i64(), t["version"]["state"].as_str()), (Some("draft"), Some(1), Some("draft")), "{t}");
        assert_eq!(t["version"]["definition"]["lifecycle"]["intervals"], json!(["90d", "1y"]));
        assert!(ids(&w.requester.get("/api/v1/templates").await.1).is_empty(), "a draft is not offered");

        let (st, t) = admin.post_empty(&format!("/api/v1/templates/{id}/publish")).await;
        assert_eq!((st, t["state"].as_str(), t["published_version"].as_i64()), (200, Some("published"), Some(1)), "{t}");
        assert_eq!(ids(&w.requester.get("/api/v1/templates").await.1), std::slice::from_ref(&id), "offered to its audience");
        assert!(ids(&w.outsider.get("/api/v1/templates").await.1).is_empty(), "not to others");
        assert_eq!(w.outsider.get(&format!("/api/v1/templates/{id}")).await.0, 404);
        assert_eq!(w.requester.post(&format!("/api/v1/templates/{id}/publish"), json!({})).await.0, 403);

        // A published template is never edited in place; a new version is.
        let mut changed = definition(&w);
        changed["purpose"] = json!("Web and API services");
        let (st, refused) = admin.patch(&format!("/api/v1/templates/{id}"), json!({"definition": changed})).await;
        assert_eq!(st, 409, "{refused}");
        let (st, v2) = admin.post_empty(&format!("/api/v1/templates/{id}/versions")).await;
        assert_eq!((st, v2["version"]["number"].as_i64(), v2["version"]["state"].as_str()), (201, Some(2), Some("draft")), "{v2}");
        assert_eq!(admin.post_empty(&format!("/api/v1/templates/{id}/versions")).await.0, 409, "one draft at a time");
        let (st, v2) = admin.patch(&format!("/api/v1/templates/{id}"), json!({"definition": changed})).await;
        assert_eq!((st, v2["version"]["definition"]["purpose"].as_str()), (200, Some("Web and API services")), "{v2}");
        let (_, seen) = w.requester.get(&format!("/api/v1/templates/{id}")).await;
        assert_eq!((seen["version"]["number"].as_i64(), seen["version"]["definition"]["purpose"].as_str()), (Some(1), Some("Web services")), "requesters keep seeing the published version");
        admin.post_empty(&format!("/api/v1/templates/{id}/publish")).await;
        let (_, versions) = admin.get(&format!("/api/v1/templates/{id}/versions")).await;
        let states: Vec<(i64, &str)> = versions["items"].as_array().unwrap().iter().map(|v| (v["number"].as_i64().unwrap(), v["state"].as_str().unwrap())).collect();
        assert_eq!(states, [(1, "superseded"), (2, "published")], "the old version stays readable");
        let (_, seen) = w.requester.get(&format!("/api/v1/templates/{id}")).await;
        assert_eq!(seen["version"]["number"], 2);

        // Unpublished: no longer offered; a change becomes version 3; published again.
        admin.post_empty(&format!("/api/v1/templates/{id}/unpublish")).await;
        assert!(ids(&w.requester.get("/api/v1/templates").await.1).is_empty());
        let (st, v3) = admin.patch(&format!("/api/v1/templates/{id}"), json!({"definition": definition(&w)})).await;
        assert_eq!((st, v3["version"]["number"].as_i64(), v3["published_version"].as_i64()), (200, Some(3), Some(2)), "{v3}");
        let (_, t) = admin.post_empty(&format!("/api/v1/templates/{id}/publish")).await;
        assert_eq!((t["state"].as_str(), t["published_version"].as_i64()), (Some("published"), Some(3)), "{t}");

        // Disabled for good; a published template is kept.
        let (st, t) = admin.post_empty(&format!("/api/v1/templates/{id}/disable")).await;
        assert_eq!((st, t["state"].as_str()), (200, Some("disabled")));
        assert_eq!(admin.post_empty(&format!("/api/v1/templates/{id}/publish")).await.0, 409);
        assert_eq!(admin.delete(&format!("/api/v1/templates/{id}")).await.0, 409);
        let (st, draft) = admin.post("/api/v1/templates", json!({"name": "Scratch", "definition": definition(&w)})).await;
        assert_eq!(st, 201);
        assert_eq!(admin.delete(&format!("/api/v1/templates/{}", draft["id"].as_str().unwrap())).await.0, 204);

        let (_, audit) = admin.get(&format!("/api/v1/audit?object_type=template&object_id={id}&sort=seq")).await;
        let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
        // The outsider's look at the template was refused as "not found" and audited.
        assert_eq!(actions, ["template.created", "template.published", "access.denied", "template.version-created", "template.updated",
                             "template.published", "template.unpublished", "template.updated", "template.published",
                             "template.deactivated"]);
        s.stop().await;
    }
}

on_both_backends! {
    async fn an_author_without_workflow_manage_needs_approval_to_publish(backend: Backend) {
        let s = TestServer::start(backend).await;
        let admin = s.admin();
        let w = world(&s).await;
        let (author, token) = s.user_with_token("Author", "author@example.test").await;
        let (_, role) = admin.post("/api/v1/roles", json!({"name": "Template author",
            "permissions": ["provision-template:create", "provision-template:read", "provision-template:update"]})).await;
        let role = role["id"].as_str().unwrap().to_owned();
        admin.post(&format!("/api/v1/roles/{role}/members"), json!({"user_id": author})).await;
        let author = Api::with_token(&s.base, &token);

        let (st, t) = author.post("/api/v1/templates", json!({"name": "Authored", "definition": definition(&w)})).await;
        assert_eq!(st, 201, "{t}");
        let id = t["id"].as_str().unwrap().to_owned();
        assert_eq!(ids(&author.get("/api/v1/templates").await.1), std::slice::from_ref(&id), "authors see their own drafts");
        let (st, t) = author.post_empty(&format!("/api/v1/templates/{id}/publish")).await;
        assert_eq!((st, t["state"].as_str(), t["version"]["state"].as_str()), (200, Some("draft"), Some("needs-approval")), "{t}");
        let (st, again) = author.post_empty(&format!("/api/v1/templates/{id}/publish")).await;
        assert_eq!(st, 409, "only a workflow manager approves: {again}");
        let (st, t) = admin.post_empty(&format!("/api/v1/templates/{id}/publish")).await;
        assert_eq!((st, t["state"].as_str(), t["version"]["state"].as_str()), (200, Some("published"), Some("published")), "{t}");
        let (_, audit) = admin.get(&format!("/api/v1/audit?object_type=template&object_id={id}&sort=seq")).await;
        let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["template.created", "template.needs-approval", "template.published"]);
        s.stop().await;
    }
}

on_both_backends! {
    async fn bad_templates_are_refused_field_by_field(backend: Backend) {
        let s = TestServer::start(backend).await;
        let admin = s.admin();
        let w = world(&s).await;
        let with = |path: &[&str], value: Value| {
            let mut d = definition(&w);
            let mut at = &mut d;
            for p in &path[..path.len() - 1] {
                at = match p.parse::<usize>() {
                    Ok(i) => &mut at[i],
                    Err(_) => &mut at[*p],
                };
            }
            let last = path[path.len() - 1];
            match last.parse::<usize>() {
                Ok(i) => at[i] = value,
                Err(_) => at[last] = value,
            }
            d
        };
        let cases = [
            (with(&["name_regex"], json!("^svc-(")), "name_regex"),
            (with(&["steps", "0", "min_approvals"], json!(4)), "steps[0].min_approvals"),
            (with(&["ownership", "min_owners"], json!(4)), "ownership.min_owners"),
            (with(&["ous", "0"], json!("OU=Nowhere,DC=corp,DC=example,DC=test")), "ous[0]"),
            (with(&["audience_groups", "0"], json!(uuid::Uuid::new_v4())), "audience_groups[0]"),
            (with(&["steps", "1", "users", "0"], json!(uuid::Uuid::new_v4())), "steps[1].users[0]"),
            (with(&["vault_id"], json!(uuid::Uuid::new_v4())), "vault_id"),
            (with(&["domain_id"], json!(uuid::Uuid::new_v4())), "domain_id"),
            (with(&["name_prefix"], json!("svc*")), "name_prefix"),
            (with(&["attributes", "0", "name"], json!("unicodePwd")), "attributes[0].name"),
            (with(&["attributes", "0", "name"], json!("favouriteColour")), "attributes[0].name"),
            (with(&["account_type"], json!("gmsa")), "gmsa"),
            (with(&["lifecycle", "intervals"], json!(["0d"])), "definition.lifecycle.intervals[0]"),
            (with(&["lifecycle", "intervals"], json!(["3w"])), "definition.lifecycle.intervals[0]"),
            (with(&["eol_action"], json!("explode")), "definition.eol_action"),
        ];
        for (d, field) in cases {
            let (st, problem) = admin.post("/api/v1/templates", json!({"name": "Bad", "definition": d})).await;
            assert_eq!((st, problem["errors"][0]["field"].as_str()), (422, Some(field)), "{problem}");
        }
        // A disabled approver does not count: 3 approvers, one disabled, K = 3 is too many.
        assert_eq!(admin.post_empty(&format!("/api/v1/users/{}/disable", w.approver_ids[0])).await.0, 200);
        let (st, problem) = admin.post("/api/v1/templates", json!({"name": "Bad", "definition": with(&["steps", "0", "min_approvals"], json!(3))})).await;
        assert_eq!((st, problem["errors"][0]["field"].as_str()), (422, Some("steps[0].min_approvals")), "{problem}");
        assert!(problem["errors"][0]["message"].as_str().unwrap().contains("only 2"), "{problem}");
        let (st, problem) = admin.post("/api/v1/templates", json!({"name": " ", "definition": definition(&w)})).await;
        assert_eq!((st, problem["errors"][0]["field"].as_str()), (422, Some("name")), "{problem}");
        let (_, list) = admin.get("/api/v1/templates").await;
        assert!(list["items"].as_array().unwrap().is_empty(), "nothing was created: {list}");
        s.stop().await;
    }
}

on_both_backends! {
    async fn a_disabled_group_is_offered_for_replacement_in_the_templates_that_name_it(backend: Backend) {
        let s = TestServer::start(backend).await;
        let admin = s.admin();
        let w = world(&s).await;
        let (_, a) = admin.post("/api/v1/templates", json!({"name": "Uses audience (published)", "definition": definition(&w)})).await;
        let a = a["id"].as_str().unwrap().to_owned();
        assert_eq!(admin.post_empty(&format!("/api/v1/templates/{a}/publish")).await.0, 200);
        let (_, b) = admin.post("/api/v1/templates", json!({"name": "Uses audience (draft)", "definition": definition(&w)})).await;
        let b = b["id"].as_str().unwrap().to_owned();

        // Disabling the audience group answers with the offer.
        let (st, disabled) = admin.post_empty(&format!("/api/v1/groups/{}/disable", w.audience)).await;
        assert_eq!((st, disabled["enabled"].as_bool()), (200, Some(false)), "{disabled}");
        let mut uses: Vec<(String, Value)> = disabled["template_uses"].as_array().unwrap().iter()
            .map(|u| (u["template_id"].as_str().unwrap().to_owned(), u["versions"].clone())).collect();
        uses.sort_by_key(|(id, _)| (id != &a, id.clone()));
        assert_eq!(uses, vec![
            (a.clone(), json!([{"version": 1, "state": "published", "fields": ["audience_groups"]}])),
            (b.clone(), json!([{"version": 1, "state": "draft", "fields": ["audience_groups"]}])),
        ]);
        let (_, again) = admin.get(&format!("/api/v1/groups/{}/template-uses", w.audience)).await;
        assert_eq!(again["items"], disabled["template_uses"]);

        // Bad replacements change nothing.
        let url = format!("/api/v1/groups/{}/replace-in-templates", w.audience);
        let off = group_with(&admin, "Switched off", &[&w.requester_id]).await;
        admin.post_empty(&format!("/api/v1/groups/{off}/disable")).await;
        for (replacement, rule) in [(w.audience.clone(), "different"), (uuid::Uuid::new_v4().to_string(), "exists"), (off, "enabled")] {
            let (st, p) = admin.post(&url, json!({"replacement_group_id": replacement})).await;
            assert_eq!((st, p["errors"][0]["field"].as_str(), p["errors"][0]["rule"].as_str()), (422, Some("replacement_group_id"), Some(rule)), "{p}");
        }
        // The approvers (3 people, K = 2) replaced by a group of one: step 1 could never complete.
        let lone = group_with(&admin, "Lone approver", &[&w.approver_ids[0]]).await;
        let (st, p) = admin.post(&format!("/api/v1/groups/{}/replace-in-templates", w.approvers), json!({"replacement_group_id": lone})).await;
        assert_eq!(st, 422, "{p}");
        let mut fields: Vec<&str> = p["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        fields.sort();
        let mut expected = vec![format!("templates[{a}].steps[0].min_approvals"), format!("templates[{b}].steps[0].min_approvals")];
        expected.sort();
        assert_eq!(fields, expected, "both templates named: {p}");
        assert_eq!(admin.get(&format!("/api/v1/templates/{a}")).await.1["published_version"], 1, "nothing changed");
        // A requester may not replace (it publishes versions).
        assert_eq!(w.requester.post(&url, json!({"replacement_group_id": lone})).await.0, 403);

        let web2 = group_with(&admin, "Web team 2", &[&w.requester_id]).await;
        let (st, done) = admin.post(&url, json!({"replacement_group_id": web2})).await;
        assert_eq!(st, 200, "{done}");
        let mut done: Vec<(String, String, i64)> = done.as_array().unwrap().iter()
            .map(|d| (d["template_id"].as_str().unwrap().to_owned(), d["action"].as_str().unwrap().to_owned(), d["version"].as_i64().unwrap())).collect();
        done.sort_by_key(|(id, ..)| (id != &a, id.clone()));
        assert_eq!(done, vec![(a.clone(), "published-new-version".to_owned(), 2), (b.clone(), "edited-draft".to_owned(), 1)]);
        let (_, t) = admin.get(&format!("/api/v1/templates/{a}")).await;
        assert_eq!((t["published_version"].as_i64(), &t["version"]["definition"]["audience_groups"]), (Some(2), &json!([web2])), "{t}");
        let (_, versions) = admin.get(&format!("/api/v1/templates/{a}/versions")).await;
        let first = versions["items"].as_array().unwrap().iter().find(|v| v["number"] == 1).unwrap();
        assert_eq!((first["state"].as_str(), &first["definition"]["audience_groups"]), (Some("superseded"), &json!([w.audience])), "old versions stay as they were");
        let (_, t) = admin.get(&format!("/api/v1/templates/{b}")).await;
        assert_eq!((t["version"]["state"].as_str(), &t["version"]["definition"]["audience_groups"]), (Some("draft"), &json!([web2])));
        assert_eq!(ids(&w.requester.get("/api/v1/templates").await.1), std::slice::from_ref(&a), "offered through the new group");
        assert_eq!(admin.get(&format!("/api/v1/groups/{}/template-uses", w.audience)).await.1["items"], json!([]));
        let (_, audit) = admin.get("/api/v1/audit?action=template.group-replaced").await;
        assert_eq!(audit["total"], 2, "{audit}");
        s.stop().await;
    }
}

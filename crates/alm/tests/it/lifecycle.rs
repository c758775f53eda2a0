//! The lifecycle against the real Samba DC (SPEC §4): the actions each of the eight columns of
//! §4.1 offers (4 EOL actions × before/at EOL), the EOL sweep's effect on alm and on the
//! directory read back from Samba (`userAccountControl`, `accountExpires`, OU), owner actions
//! (renew, disable/enable, delete account & secret), and a sweep that does nothing twice.

use crate::support::{ad, on_both_backends, TestServer};
use crate::templates::{definition, world, World};
use alm_directory::password::Generate as _;
use alm_directory::{Directory, Lookup};
use serde_json::{json, Value};
use std::time::Duration;
use time::macros::datetime;

/// Publishes a template with this EOL action (and a retirement OU), requests `name` with a
/// 90-day interval, approves it and waits until it is provisioned; returns the account.
async fn provisioned_with(
    s: &TestServer,
    w: &World,
    eol_action: &str,
    retirement: &str,
    name: &str,
) -> Value {
    let mut d = definition(w);
    d["eol_action"] = json!(eol_action);
    d["retirement_ou"] = json!(retirement);
    d["cannot_change_password"] = json!(false);
    provisioned_from(s, w, d, name).await
}

/// Publishes a template with definition `d`, requests `name` from it (90 days), approves it
/// and waits until it is provisioned; returns the account.
pub(crate) async fn provisioned_from(s: &TestServer, w: &World, d: Value, name: &str) -> Value {
    let admin = s.admin();
    let label = format!("{} {name}", d["eol_action"].as_str().unwrap_or(""));
    let (st, t) = admin
        .post(
            "/api/v1/templates",
            json!({"name": format!("EOL {label}"), "definition": d}),
        )
        .await;
    assert_eq!(st, 201, "{t}");
    let template = t["id"].as_str().unwrap().to_owned();
    assert_eq!(
        admin
            .post_empty(&format!("/api/v1/templates/{template}/publish"))
            .await
            .0,
        200
    );
    let (st, r) = w.requester.post("/api/v1/requests", json!({"template_id": template, "account_name": name, "interval": "90d",
        "justification": "lifecycle", "description": "lifecycle test", "attributes": {"department": "IT"}, "terms_accepted": true})).await;
    assert_eq!(st, 201, "{r}");
    let id = r["id"].as_str().unwrap().to_owned();
    assert_eq!(
        w.requester
            .post_empty(&format!("/api/v1/requests/{id}/submit"))
            .await
            .0,
        200
    );
    for api in [&w.approver_apis[0], &w.approver_apis[1], &w.final_api] {
        assert_eq!(
            api.post(&format!("/api/v1/approvals/{id}/approve"), json!({}))
                .await
                .0,
            200
        );
    }
    for _ in 0..600 {
        let (_, list) = admin.get(&format!("/api/v1/accounts?q={name}")).await;
        if let Some(a) = list["items"].as_array().and_then(|i| i.first()) {
            return a.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, jobs) = admin.get("/api/v1/jobs").await;
    panic!("{name} was not provisioned within 60 s; the jobs: {jobs}");
}

/// Waits until no job is queued or running (the directory side of lifecycle changes).
pub(crate) async fn settled(s: &TestServer) {
    for _ in 0..600 {
        let (_, queued) = s.admin().get("/api/v1/jobs?status=queued&limit=500").await;
        let (_, leased) = s.admin().get("/api/v1/jobs?status=leased&limit=500").await;
        if queued["items"].as_array().is_some_and(|q| q.is_empty())
            && leased["items"].as_array().is_some_and(|l| l.is_empty())
        {
            let (_, failed) = s.admin().get("/api/v1/jobs?status=failed&limit=500").await;
            assert_eq!(failed["items"], json!([]), "no job failed");
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("jobs did not settle");
}

async fn account(s: &TestServer, id: &str) -> Value {
    s.admin().get(&format!("/api/v1/accounts/{id}")).await.1
}

fn actions(a: &Value) -> Vec<String> {
    a["available_actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_owned())
        .collect()
}

/// (enabled, accountExpires, DN) as Samba has the account.
pub(crate) async fn in_directory(
    name: &str,
) -> Option<(bool, alm_core::filetime::AccountExpires, String)> {
    let e = ad::connect()
        .find(&Lookup::SamAccountName(name.into()))
        .await
        .unwrap()?;
    Some((e.enabled(), e.account_expires, e.dn))
}

on_both_backends! {
    async fn the_eight_columns_of_the_action_table_and_the_eol_sweep_read_back_from_samba(backend: Backend) {
        use alm_core::filetime::AccountExpires;
        let s = TestServer::start_with(backend, &[("ALM_SCHEDULER__ENABLED", "false")]).await;
        let admin = s.admin();
        let w = world(&s).await;
        let retired = ad::connect().create_organizational_unit("Retired", w.ou.split_once(',').unwrap().1).await.unwrap();
        // The sync must see the retirement OU (templates may only name OUs it has seen).
        admin.post_empty(&format!("/api/v1/domains/{}/sync", w.domain)).await;
        let tag = &uuid::Uuid::new_v4().simple().to_string()[..5];
        let mut ids = std::collections::BTreeMap::new();
        for eol_action in ["review", "disable", "expire", "delete"] {
            let name = format!("{}{tag}", &eol_action[..3]);
            let a = provisioned_with(&s, &w, eol_action, &retired, &name).await;
            assert_eq!((a["eol_at"].as_str(), a["renewal_at"].as_str()), (Some("2027-02-27T00:00:00Z"), Some("2027-02-12T00:00:00Z")), "{a}");
            ids.insert(eol_action, (a["id"].as_str().unwrap().to_owned(), format!("svc-{name}")));
        }
        // BEOL, before the renewal date (the test clock says 2026-11-29).
        let expected_beol = [
            ("review", vec!["disable", "delete", "clone"]),
            ("disable", vec!["disable", "delete", "clone"]),
            ("expire", vec!["disable", "delete", "clone"]),
            ("delete", vec!["disable", "delete", "clone"]),
        ];
        for (eol_action, want) in &expected_beol {
            assert_eq!(actions(&account(&s, &ids[eol_action].0).await), *want, "{eol_action} BEOL");
        }
        let (st, p) = w.requester.post(&format!("/api/v1/accounts/{}/actions/renew", ids["review"].0), json!({})).await;
        assert_eq!(st, 409, "{p}");
        assert!(p["detail"].as_str().unwrap().contains("renewal opens at 2027-02-12T00:00:00Z ("), "RFC 3339: {p}");

        // In the renewal window: Renew (review, disable), Submit for approval (expire).
        s.clock.set(datetime!(2027-02-20 09:00 UTC));
        let expected_window = [
            ("review", vec!["renew", "disable", "delete", "clone"]),
            ("disable", vec!["renew", "disable", "delete", "clone"]),
            ("expire", vec!["disable", "delete", "submit-renewal", "clone"]),
            ("delete", vec!["disable", "delete", "clone"]),
        ];
        for (eol_action, want) in &expected_window {
            assert_eq!(actions(&account(&s, &ids[eol_action].0).await), *want, "{eol_action} in the window");
        }

        // At EOL: the sweep.
        s.clock.set(datetime!(2027-02-27 00:00 UTC));
        let (st, sweep) = admin.post_empty("/api/v1/scheduler/sweep").await;
        assert_eq!((st, sweep["eol_processed"].as_u64()), (200, Some(3)), "disable, expire, delete (review changes nothing): {sweep}");
        settled(&s).await;
        let eol = datetime!(2027-02-27 00:00 UTC);
        let expected_aeol = [
            ("review", "active", vec!["renew", "disable", "delete", "clone"], true, AccountExpires::Never, false),
            ("disable", "disabled", vec!["renew", "enable", "delete", "clone"], false, AccountExpires::Never, true),
            ("expire", "expired", vec!["disable", "submit-renewal", "clone"], true, AccountExpires::At(eol), false),
            ("delete", "deleted", vec!["clone"], false, AccountExpires::Never, true),
        ];
        for (eol_action, status, want, enabled, expires, moved) in &expected_aeol {
            let a = account(&s, &ids[eol_action].0).await;
            assert_eq!((a["status"].as_str(), actions(&a)), (Some(*status), want.iter().map(|x| x.to_string()).collect()), "{eol_action} AEOL: {a}");
            let (is_enabled, is_expires, dn) = in_directory(&ids[eol_action].1).await.expect("still in the directory");
            assert_eq!((is_enabled, is_expires), (*enabled, *expires), "{eol_action} in Samba");
            assert_eq!(dn.to_lowercase().ends_with(&retired.to_lowercase()), *moved, "{eol_action}: {dn}");
            assert_eq!(a["dn"].as_str().unwrap(), dn, "alm knows where it is");
        }
        let (_, again) = admin.post_empty("/api/v1/scheduler/sweep").await;
        assert_eq!(again["eol_processed"], 0, "nothing twice: {again}");
        let (st, p) = w.requester.post(&format!("/api/v1/accounts/{}/actions/disable", ids["delete"].0), json!({})).await;
        assert_eq!(st, 409, "{p}");

        // Renew the account its EOL disabled: enabled again, EOL + 90 days.
        let (st, a) = w.requester.post(&format!("/api/v1/accounts/{}/actions/renew", ids["disable"].0), json!({})).await;
        assert_eq!((st, a["status"].as_str(), a["eol_at"].as_str()), (200, Some("active"), Some("2027-05-28T00:00:00Z")), "{a}");
        settled(&s).await;
        assert!(in_directory(&ids["disable"].1).await.unwrap().0, "enabled in Samba again");
        assert!(!actions(&account(&s, &ids["disable"].0).await).contains(&"renew".to_owned()), "not again until the next renewal date");

        // Disable and enable the review account; then delete it with its secret.
        let review = &ids["review"];
        let (_, a) = w.requester.post(&format!("/api/v1/accounts/{}/actions/disable", review.0), json!({})).await;
        assert_eq!(a["status"], "disabled", "{a}");
        settled(&s).await;
        assert!(!in_directory(&review.1).await.unwrap().0);
        let (_, a) = w.requester.post(&format!("/api/v1/accounts/{}/actions/enable", review.0), json!({})).await;
        assert_eq!(a["status"], "active", "{a}");
        settled(&s).await;
        assert!(in_directory(&review.1).await.unwrap().0);
        let (st, p) = w.requester.post(&format!("/api/v1/accounts/{}/actions/delete", review.0), json!({"confirm": "nope"})).await;
        assert_eq!((st, p["errors"][0]["field"].as_str()), (422, Some("confirm")), "{p}");
        assert!(in_directory(&review.1).await.is_some(), "nothing happened");
        assert_eq!(w.outsider.post(&format!("/api/v1/accounts/{}/actions/delete", review.0), json!({"confirm": review.1})).await.0, 404);
        let (st, a) = w.requester.post(&format!("/api/v1/accounts/{}/actions/delete", review.0), json!({"confirm": review.1})).await;
        assert_eq!((st, a["status"].as_str()), (200, Some("deleted")), "{a}");
        settled(&s).await;
        assert!(in_directory(&review.1).await.is_none(), "gone from Samba");
        let state = s.state();
        let secret = alm_server::services::vaults::BuiltinVault::new(state.db.clone(), state.master_key.clone(), state.clock.clone(), w.vault.parse().unwrap());
        assert!(alm_vault::Vault::get(&secret, &alm_vault::SecretRef(a["secret_ref"].as_str().unwrap().to_owned())).await.unwrap().is_none(), "the secret is gone too");
        let (_, history) = w.requester.get(&format!("/api/v1/accounts/{}/history", review.0)).await;
        let mut seen: Vec<&str> = history["items"].as_array().unwrap().iter().map(|h| h["action"].as_str().unwrap()).collect();
        seen.reverse();
        assert_eq!(seen, ["account.created", "account.disable", "account.directory-changed", "account.enable", "account.directory-changed", "account.delete", "account.directory-changed"]);
        s.stop().await;
    }
}

#[tokio::test]
async fn account_expires_is_the_eol_instant_and_samba_enforces_it() {
    use alm_core::filetime::AccountExpires;
    use alm_core::Clock;
    let dir = ad::connect();
    let ou = ad::test_ou(&dir, "expiry").await;
    let name = format!("exp{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    // A whole-second instant a few seconds ahead (the attribute holds 100-ns ticks; the
    // directory compares its own clock with it).
    let now = alm_core::SystemClock.now();
    let at = now.replace_nanosecond(0).unwrap() + time::Duration::seconds(8);
    let password = alm_directory::password::PasswordPolicy::default().generate(&name, "");
    let made = dir
        .create_user(&alm_directory::NewUser {
            parent_dn: ou,
            sam_account_name: name.clone(),
            user_principal_name: format!("{name}@corp.example.test"),
            description: None,
            attributes: vec![],
            password: password.clone(),
            enabled: true,
            account_expires: AccountExpires::At(at),
        })
        .await
        .unwrap();
    assert_eq!(
        made.account_expires,
        AccountExpires::At(at),
        "read back as the same instant"
    );
    let bind = || async {
        let mut c = ad::config();
        c.bind_identity = format!("{name}@corp.example.test");
        c.bind_password = password.clone();
        alm_directory::ActiveDirectory::new(c)
            .unwrap()
            .check()
            .await
    };
    bind().await.expect("before the instant the account binds");
    while alm_core::SystemClock.now() < at + time::Duration::seconds(1) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let e = bind()
        .await
        .expect_err("after the instant Samba refuses it");
    assert!(e.to_string().contains("account expired"), "{e}");
}

on_both_backends! {
    async fn an_expire_account_is_renewed_through_approvals_and_a_denial_restores_it(backend: Backend) {
        use alm_core::filetime::AccountExpires;
        let s = TestServer::start_with(backend, &[("ALM_SCHEDULER__ENABLED", "false")]).await;
        let w = world(&s).await;
        let retired = ad::connect().create_organizational_unit("Retired", w.ou.split_once(',').unwrap().1).await.unwrap();
        s.admin().post_empty(&format!("/api/v1/domains/{}/sync", w.domain)).await;
        let name = format!("ren{}", &uuid::Uuid::new_v4().simple().to_string()[..5]);
        let a = provisioned_with(&s, &w, "expire", &retired, &name).await;
        let id = a["id"].as_str().unwrap().to_owned();
        let sam = format!("svc-{name}");
        let url = format!("/api/v1/accounts/{id}/actions/submit-renewal");

        let (st, p) = w.requester.post(&url, json!({"reason": "still needed"})).await;
        assert_eq!(st, 409, "not before the renewal date: {p}");
        s.clock.set(datetime!(2027-02-20 09:00 UTC));
        let (st, p) = w.requester.post(&url, json!({})).await;
        assert_eq!((st, p["errors"][0]["field"].as_str()), (422, Some("reason")), "{p}");
        let (st, a) = w.requester.post(&url, json!({"reason": "the web shop still runs"})).await;
        assert_eq!((st, a["status"].as_str(), actions(&a)), (200, Some("renewing"), vec!["clone".to_owned()]), "{a}");
        assert_eq!(w.requester.post(&url, json!({"reason": "twice"})).await.0, 409, "one renewal at a time");

        // The template's steps run again; the owner cannot approve it.
        let (_, waiting) = w.approver_apis[0].get("/api/v1/approvals").await;
        let renewal = waiting["items"].as_array().unwrap().iter().find(|r| r["account_name"] == sam.as_str()).expect("waits at step 1");
        let rid = renewal["id"].as_str().unwrap().to_owned();
        for api in [&w.approver_apis[0], &w.approver_apis[1], &w.final_api] {
            let (st, r) = api.post(&format!("/api/v1/approvals/{rid}/approve"), json!({})).await;
            assert_eq!(st, 200, "{r}");
        }
        let a = account(&s, &id).await;
        assert_eq!((a["status"].as_str(), a["eol_at"].as_str()), (Some("active"), Some("2027-05-28T00:00:00Z")), "{a}");
        settled(&s).await;
        assert_eq!(in_directory(&sam).await.unwrap().1, AccountExpires::At(datetime!(2027-05-28 00:00 UTC)), "accountExpires extended in Samba");

        // The next period: denied at step 1 → back to active, offered again, the reason shown.
        s.clock.set(datetime!(2027-05-20 09:00 UTC));
        let (st, _) = w.requester.post(&url, json!({"reason": "one more quarter"})).await;
        assert_eq!(st, 200);
        let (_, waiting) = w.approver_apis[0].get("/api/v1/approvals").await;
        let rid = waiting["items"].as_array().unwrap().iter().find(|r| r["account_name"] == sam.as_str()).unwrap()["id"].as_str().unwrap().to_owned();
        let (st, r) = w.approver_apis[0].post(&format!("/api/v1/approvals/{rid}/deny"), json!({"reason": "move it to the new platform"})).await;
        assert_eq!(st, 200, "{r}");
        let a = account(&s, &id).await;
        assert_eq!((a["status"].as_str(), a["eol_at"].as_str()), (Some("active"), Some("2027-05-28T00:00:00Z")), "{a}");
        assert!(actions(&a).contains(&"submit-renewal".to_owned()), "offered again: {a}");
        assert_eq!(a["problem"], "renewal rejected: move it to the new platform");
        assert_eq!(in_directory(&sam).await.unwrap().1, AccountExpires::At(datetime!(2027-05-28 00:00 UTC)), "unchanged in Samba");
        s.stop().await;
    }
}

on_both_backends! {
    async fn accounts_migrated_to_a_past_eol_date_reach_eol_at_the_next_sweep(backend: Backend) {
        let s = TestServer::start_with(backend, &[("ALM_SCHEDULER__ENABLED", "false")]).await;
        let admin = s.admin();
        let w = world(&s).await;
        let retired = ad::connect().create_organizational_unit("Retired", w.ou.split_once(',').unwrap().1).await.unwrap();
        admin.post_empty(&format!("/api/v1/domains/{}/sync", w.domain)).await;
        let name = format!("mig{}", &uuid::Uuid::new_v4().simple().to_string()[..5]);
        let a = provisioned_with(&s, &w, "review", &retired, &name).await;
        let id = a["id"].as_str().unwrap().to_owned();
        // The new template: disable at EOL, into the retirement OU.
        let mut d = definition(&w);
        d["eol_action"] = json!("disable");
        d["retirement_ou"] = json!(retired);
        d["folders"] = json!(["service-accounts/web", "service-accounts/retired"]);
        let (_, t) = admin.post("/api/v1/templates", json!({"name": "Migrated to", "definition": d})).await;
        let target = t["id"].as_str().unwrap().to_owned();
        assert_eq!(admin.post_empty(&format!("/api/v1/templates/{target}/publish")).await.0, 200);

        let body = |extra: Value| {
            let mut b = json!({"account_ids": [id], "template_id": target, "eol_date": "2026-11-01"});
            for (k, v) in extra.as_object().unwrap() { b[k] = v.clone(); }
            b
        };
        for (extra, field) in [(json!({"interval": "3w"}), "interval"), (json!({"interval": "5y"}), "interval"),
                               (json!({"eol_date": "yesterday"}), "eol_date"), (json!({"template_id": uuid::Uuid::new_v4()}), "template_id"),
                               (json!({"account_ids": [uuid::Uuid::new_v4()]}), "account_ids[0]"), (json!({"ou": "OU=Nowhere,DC=corp,DC=example,DC=test"}), "ou"),
                               (json!({"folder": "service-accounts/db"}), "folder")] {
            let (st, p) = admin.post("/api/v1/accounts/migrate", body(extra.clone())).await;
            assert_eq!((st, p["errors"][0]["field"].as_str()), (422, Some(field)), "{extra}: {p}");
        }
        assert_eq!(w.requester.post("/api/v1/accounts/migrate", body(json!({}))).await.0, 403, "managers only");
        assert_eq!(account(&s, &id).await["template_id"], a["template_id"], "nothing changed");

        let state = s.state();
        let builtin = alm_server::services::vaults::BuiltinVault::new(state.db.clone(), state.master_key.clone(), state.clock.clone(), w.vault.parse().unwrap());
        let secret_of = |r: &str| {
            let r = alm_vault::SecretRef(r.to_owned());
            let builtin = &builtin;
            async move { alm_vault::Vault::get(builtin, &r).await.unwrap() }
        };
        let before = secret_of(a["secret_ref"].as_str().unwrap()).await.expect("provisioned into the built-in vault");
        let (st, done) = admin.post("/api/v1/accounts/migrate", body(json!({"add_owners": {"users": [w.approver_ids[0]]}, "folder": "service-accounts/retired"}))).await;
        assert_eq!(st, 200, "{done}");
        let m = &done[0];
        // The built-in vault's entry moved with the migration, sealed for its new place.
        assert_eq!(m["secret_ref"], format!("service-accounts/retired/svc-{name}"), "{m}");
        let after = secret_of(m["secret_ref"].as_str().unwrap()).await.expect("the secret in its new folder");
        assert_eq!(after.password.expose(), before.password.expose());
        assert!(secret_of(a["secret_ref"].as_str().unwrap()).await.is_none(), "gone from the old folder");
        assert_eq!((m["template_id"].as_str(), m["eol_action"].as_str(), m["eol_at"].as_str(), m["status"].as_str()),
                   (Some(target.as_str()), Some("disable"), Some("2026-11-01T00:00:00Z"), Some("active")), "{m}");
        assert_eq!(m["owners"].as_array().unwrap().len(), 2, "{m}");
        let (_, sweep) = admin.post_empty("/api/v1/scheduler/sweep").await;
        assert_eq!(sweep["eol_processed"], 1, "{sweep}");
        settled(&s).await;
        let a = account(&s, &id).await;
        assert_eq!(a["status"], "disabled", "{a}");
        let (enabled, _, dn) = in_directory(&format!("svc-{name}")).await.unwrap();
        assert!(!enabled && dn.to_lowercase().ends_with(&retired.to_lowercase()), "disabled and retired in Samba: {dn}");
        let (_, history) = admin.get(&format!("/api/v1/accounts/{id}/history")).await;
        let actions: Vec<&str> = history["items"].as_array().unwrap().iter().map(|h| h["action"].as_str().unwrap()).collect();
        assert!(actions.contains(&"account.migrated") && actions.contains(&"account.eol-reached"), "{actions:?}");
        let (st, p) = admin.post("/api/v1/accounts/migrate", body(json!({}))).await;
        assert_eq!((st, p["errors"][0]["rule"].as_str()), (422, Some("active")), "only active accounts before EOL: {p}");
        s.stop().await;
    }
}

on_both_backends! {
    async fn directory_accounts_are_imported_without_touching_the_directory(backend: Backend) {
        let s = TestServer::start_with(backend, &[("ALM_SCHEDULER__ENABLED", "false")]).await;
        let admin = s.admin();
        let w = world(&s).await;
        let dir = ad::connect();
        let tag = &uuid::Uuid::new_v4().simple().to_string()[..5];
        let mut made = Vec::new();
        for n in 0..2 {
            let e = dir.create_user(&alm_directory::NewUser {
                parent_dn: w.ou.clone(), sam_account_name: format!("legacy{n}{tag}"),
                user_principal_name: format!("legacy{n}{tag}@corp.example.test"), description: Some("found in AD".into()),
                attributes: vec![], password: alm_directory::password::PasswordPolicy::default().generate("l", ""),
                enabled: true, account_expires: alm_core::filetime::AccountExpires::Never,
            }).await.unwrap();
            made.push(e);
        }
        dir.create_group(&format!("grp{tag}"), &w.ou, &[]).await.unwrap();
        admin.post_empty(&format!("/api/v1/domains/{}/sync", w.domain)).await;
        let (_, groups) = admin.get(&format!("/api/v1/domains/{}/objects?kind=group&q=grp{tag}", w.domain)).await;
        let group_guid = groups["items"][0]["guid"].as_str().unwrap().to_owned();
        let (_, t) = admin.post("/api/v1/templates", json!({"name": "Imported", "definition": definition(&w)})).await;
        let template = t["id"].as_str().unwrap().to_owned();
        assert_eq!(admin.post_empty(&format!("/api/v1/templates/{template}/publish")).await.0, 200);
        let guids: Vec<String> = made.iter().map(|e| e.guid.to_string()).collect();
        let url = format!("/api/v1/domains/{}/import", w.domain);
        let body = |extra: Value| {
            let mut b = json!({"object_guids": guids, "template_id": template, "interval": "90d", "owners": {"users": [w.requester_id]}});
            for (k, v) in extra.as_object().unwrap() { b[k] = v.clone(); }
            b
        };
        for (extra, field) in [(json!({"object_guids": [group_guid]}), "object_guids[0]"), (json!({"object_guids": [uuid::Uuid::new_v4()]}), "object_guids[0]"),
                               (json!({"owners": {}}), "owners"), (json!({"interval": "30d"}), "interval"), (json!({"eol_date": "2027-01-01"}), "interval")] {
            let (st, p) = admin.post(&url, body(extra.clone())).await;
            assert_eq!((st, p["errors"][0]["field"].as_str()), (422, Some(field)), "{extra}: {p}");
        }
        assert_eq!(w.requester.post(&url, body(json!({}))).await.0, 403, "managers only");

        let (st, done) = admin.post(&url, body(json!({}))).await;
        assert_eq!(st, 200, "{done}");
        let mut names: Vec<&str> = done.as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
        names.sort();
        assert_eq!(names, [format!("legacy0{tag}"), format!("legacy1{tag}")]);
        for a in done.as_array().unwrap() {
            assert_eq!((a["status"].as_str(), a["eol_at"].as_str(), a["secret_state"].as_str(), a["description"].as_str()),
                       (Some("active"), Some("2027-02-27T00:00:00Z"), Some("none"), Some("found in AD")), "{a}");
        }
        assert_eq!(w.requester.get("/api/v1/accounts").await.1["total"], 2, "the owner sees them");
        let (st, p) = admin.post(&url, body(json!({}))).await;
        assert_eq!((st, p["errors"][0]["rule"].as_str()), (422, Some("unmanaged")), "not twice: {p}");
        for e in &made {
            let now = dir.find(&Lookup::Guid(e.guid)).await.unwrap().unwrap();
            assert_eq!((now.dn.as_str(), now.enabled(), now.usn_changed), (e.dn.as_str(), true, e.usn_changed), "the directory was not touched");
        }
        s.stop().await;
    }
}

on_both_backends! {
    async fn an_account_is_cloned_as_a_draft_request_prefilled_from_it(backend: Backend) {
        let s = TestServer::start_with(backend, &[("ALM_SCHEDULER__ENABLED", "false")]).await;
        let admin = s.admin();
        let w = world(&s).await;
        let name = format!("cln{}", &uuid::Uuid::new_v4().simple().to_string()[..5]);
        let mut d = definition(&w);
        d["eol_action"] = json!("review");
        d["cannot_change_password"] = json!(false);
        let a = provisioned_from(&s, &w, d, &name).await;
        let id = a["id"].as_str().unwrap().to_owned();
        assert!(actions(&a).contains(&"clone".to_owned()), "{a}");
        let url = format!("/api/v1/accounts/{id}/actions/clone");
        let drafts = |api: &crate::support::Api| {
            let api = api.clone();
            async move { api.get("/api/v1/requests?state=draft").await.1["items"].as_array().unwrap().len() }
        };
        let before = drafts(&w.requester).await;
        let (st, p) = admin.delete(&format!("/api/v1/domains/{}", w.domain)).await;
        assert_eq!(st, 409, "a domain with managed accounts stays: {p}");
        assert!(p["detail"].as_str().unwrap().contains("1 managed account(s)"), "{p}");

        // Refused, naming the field, storing nothing.
        let (st, p) = w.requester.post(&url, json!({"terms_accepted": true})).await;
        assert_eq!((st, p["errors"][0]["field"].as_str(), p["errors"][0]["rule"].as_str()), (409, Some("account_name"), Some("unique")),
                   "the live account holds its name: {p}");
        for (body, field) in [(json!({"account_name": "bad/name", "terms_accepted": true}), "account_name"),
                              (json!({"account_name": "fresh1"}), "terms_accepted"),
                              (json!({"account_name": "fresh1", "terms_accepted": true, "justification": " "}), "justification")] {
            let (st, p) = w.requester.post(&url, body.clone()).await;
            assert_eq!((st, p["errors"][0]["field"].as_str()), (422, Some(field)), "{body}: {p}");
        }
        let (st, p) = w.requester.post(&url, json!({"account_name": "fresh1", "terms_accepted": true, "color": "red"})).await;
        assert_eq!(st, 422, "unknown fields refused: {p}");
        assert_eq!(w.approver_apis[0].post(&url, json!({"account_name": "fresh2", "terms_accepted": true})).await.0, 403,
                   "a clone is a request: request:create needed (a requester who does not own it gets 404, see the permission matrix)");
        assert_eq!(w.requester.post(&format!("/api/v1/accounts/{}/actions/clone", uuid::Uuid::new_v4()),
                                    json!({"account_name": "fresh3", "terms_accepted": true})).await.0, 404);
        assert_eq!(drafts(&w.requester).await, before, "nothing stored");

        // Two more owners, one of them disabled since: the clone leaves that one out.
        for u in [&w.approver_ids[0], &w.approver_ids[1]] {
            let (st, p) = w.requester.post(&format!("/api/v1/accounts/{id}/owners"), json!({"user_id": u})).await;
            assert_eq!(st, 200, "{p}");
        }
        assert_eq!(admin.post_empty(&format!("/api/v1/users/{}/disable", w.approver_ids[0])).await.0, 200);

        // A new name: a draft by the caller, prefilled from the account and its request.
        let new_name = format!("{name}b");
        let (st, r) = w.requester.post(&url, json!({"account_name": new_name, "terms_accepted": true})).await;
        assert_eq!(st, 201, "{r}");
        assert_eq!((r["state"].as_str(), r["account_name"].as_str(), r["template_id"].as_str(), r["interval"].as_str(),
                    r["justification"].as_str(), r["description"].as_str(), r["attributes"]["department"].as_str(), r["requester_id"].as_str()),
                   (Some("draft"), Some(format!("svc-{new_name}").as_str()), a["template_id"].as_str(), Some("90d"),
                    Some("lifecycle"), Some("lifecycle test"), Some("IT"), Some(w.requester_id.as_str())), "{r}");
        assert_eq!((r["owners"]["users"].clone(), r["owners"]["groups"].clone()), (json!([w.approver_ids[1]]), json!([])),
                   "the enabled owners besides the caller: {r}");
        assert_eq!(drafts(&w.requester).await, before + 1);
        let (_, history) = admin.get(&format!("/api/v1/accounts/{id}/history")).await;
        assert!(history["items"].as_array().unwrap().iter().any(|h| h["action"] == "account.clone"), "{history}");

        // Deleted: clone is all that remains, and the old name is free again.
        let (st, d) = w.requester.post(&format!("/api/v1/accounts/{id}/actions/delete"), json!({"confirm": format!("svc-{name}")})).await;
        assert_eq!(st, 200, "{d}");
        settled(&s).await;
        assert_eq!(actions(&account(&s, &id).await), ["clone"]);
        let (st, r) = w.requester.post(&url, json!({"terms_accepted": true, "justification": "the same again"})).await;
        assert_eq!(st, 201, "{r}");
        assert_eq!((r["account_name"].as_str(), r["justification"].as_str()), (Some(format!("svc-{name}").as_str()), Some("the same again")), "{r}");
        let (st, p) = w.requester.post_empty(&format!("/api/v1/requests/{}/submit", r["id"].as_str().unwrap())).await;
        assert_eq!(st, 200, "the deleted account's request no longer holds the name: {p}");
        s.stop().await;
    }
}

//! End to end (SPEC §3): a request approved in two steps becomes an account in the Samba DC
//! — in the chosen OU, enabled, with its UPN, description, attributes and `accountExpires` at
//! the EOL instant — whose password is in the vault (OpenBao, or alm's built-in vault) and
//! binds to the directory as that account; the managed account is active with the requester
//! as owner; the audit chain verifies.

use crate::support::{ad, on_both_backends, TestServer};
use crate::templates::{definition, world, World};
use alm_directory::password::Generate as _;
use alm_directory::{ActiveDirectory, Directory, DirectoryConfig, Lookup};
use alm_vault::Vault;
use serde_json::{json, Value};
use std::time::Duration;

fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set (bash scripts/test.sh sets it)"))
}

async fn openbao_vault(s: &TestServer) -> String {
    let (st, v) = s
        .admin()
        .post(
            "/api/v1/vaults",
            json!({"name": format!("OpenBao {}", uuid::Uuid::new_v4().simple()), "kind": "openbao",
                   "address": env("ALMTEST_OPENBAO_ADDR"), "credential": env("ALMTEST_OPENBAO_ALM_TOKEN")}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    v["id"].as_str().unwrap().to_owned()
}

/// Publishes the world's template with `vault` and a unique folder, requests `name`, and
/// runs both approval steps; returns (request id, folder).
pub(crate) async fn approved(
    s: &TestServer,
    w: &World,
    vault: &str,
    name: &str,
) -> (String, String) {
    let admin = s.admin();
    let folder = format!(
        "alm/prov-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let mut d = definition(w);
    d["vault_id"] = json!(vault);
    d["folders"] = json!([folder]);
    let (st, t) = admin
        .post(
            "/api/v1/templates",
            json!({"name": format!("Provisioned {name}"), "definition": d}),
        )
        .await;
    assert_eq!(st, 201, "{t}");
    let template = t["id"].as_str().unwrap().to_owned();
    admin
        .post_empty(&format!("/api/v1/templates/{template}/publish"))
        .await;
    let (st, r) = w
        .requester
        .post(
            "/api/v1/requests",
            json!({"template_id": template, "account_name": name, "interval": "90d",
                   "justification": "end to end", "description": "Provisioned by the tests",
                   "attributes": {"department": "Sales"}, "terms_accepted": true}),
        )
        .await;
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
        let (st, r) = api
            .post(&format!("/api/v1/approvals/{id}/approve"), json!({}))
            .await;
        assert_eq!(st, 200, "{r}");
    }
    (id, folder)
}

pub(crate) async fn provisioned(w: &World, id: &str) -> Value {
    for _ in 0..600 {
        let (_, r) = w.requester.get(&format!("/api/v1/requests/{id}")).await;
        if r["state"] == "provisioned" {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, r) = w.requester.get(&format!("/api/v1/requests/{id}")).await;
    panic!("the request was not provisioned: {r}");
}

/// The account as the directory has it, and proof that `password` binds as it.
async fn check_in_directory(w: &World, name: &str, password: &str) {
    let dir = ad::connect();
    let entry = dir
        .find(&Lookup::SamAccountName(name.into()))
        .await
        .unwrap()
        .expect("the account exists in AD");
    assert!(
        entry
            .dn
            .to_lowercase()
            .ends_with(&format!(",{}", w.ou.to_lowercase())),
        "in the chosen OU: {}",
        entry.dn
    );
    assert!(entry.enabled(), "enabled");
    assert_eq!(
        entry.user_principal_name.as_deref(),
        Some(format!("{name}@corp.example.test").as_str())
    );
    assert_eq!(
        entry.description.as_deref(),
        Some("Provisioned by the tests")
    );
    assert_eq!(entry.first("department"), Some("Sales"));
    // The test clock says 2026-11-29: 90 days on, 00:00 UTC (an expire template).
    assert_eq!(
        entry.account_expires,
        alm_core::filetime::AccountExpires::At(time::macros::datetime!(2027-02-27 00:00 UTC))
    );
    let mut config: DirectoryConfig = ad::config();
    config.bind_identity = format!("{name}@corp.example.test");
    config.bind_password = alm_core::Secret::new(password);
    let as_itself = ActiveDirectory::new(config).unwrap();
    as_itself
        .check()
        .await
        .expect("the stored password binds as the new account");
    // The template says "cannot change password": the directory refuses the account's own
    // change (the test DC has no minimum password age, so only the DACL can refuse it).
    let e = as_itself
        .change_own_password(
            &entry.dn,
            &alm_core::Secret::new(password),
            &alm_directory::password::PasswordPolicy::default().generate("x", ""),
        )
        .await
        .expect_err("the account cannot change its own password");
    assert!(
        matches!(e, alm_directory::DirectoryError::InsufficientRights { .. }),
        "{e:?}"
    );
}

async fn account_of(s: &TestServer, w: &World, request: &str) -> Value {
    let (_, list) = w.requester.get("/api/v1/accounts").await;
    let account = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["request_id"] == request)
        .cloned()
        .unwrap_or_else(|| panic!("the requester owns the account: {list}"));
    assert_eq!(account["status"], "active");
    assert_eq!(
        account["owners"],
        json!([{"kind": "user", "id": w.requester_id, "display_name": "Requester",
                "emails": ["req@example.test"], "enabled": true}])
    );
    assert_eq!(account["eol_at"], "2027-02-27T00:00:00Z");
    assert_eq!(account["lifecycle_start"], "2026-11-29T00:00:00Z");
    let (_, theirs) = w
        .outsider
        .get(&format!(
            "/api/v1/accounts/{}",
            account["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(theirs["status"], 404, "not an owner: {theirs}");
    let (_, audit) = s
        .admin()
        .get(&format!(
            "/api/v1/audit?object_type=account&object_id={}&outcome=success",
            account["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(audit["items"][0]["action"], "account.created");
    account
}

pub(crate) async fn audit_verifies(s: &TestServer) {
    let mut conn = s.state().db.read().await.unwrap();
    let report = alm_store::audit_log::verify(&mut conn).await.unwrap();
    assert!(report.first_broken.is_none(), "{report:?}");
}

on_both_backends! {
    async fn an_approved_request_becomes_an_ad_account_with_its_password_in_openbao(backend: Backend) {
        use crate::notifications::{mails, who_got};
        let sink = crate::support::smtp::SmtpSink::start().await;
        let s = crate::notifications::start(backend, sink.port).await;
        let w = world(&s).await;
        let vault = openbao_vault(&s).await;
        let name_part = format!("e2e{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
        let (id, folder) = approved(&s, &w, &vault, &name_part).await;
        let r = provisioned(&w, &id).await;
        let name = r["account_name"].as_str().unwrap().to_owned();
        let account = account_of(&s, &w, &id).await;
        assert_eq!(account["secret_ref"].as_str().unwrap(), format!("{folder}/{name}"));

        let bao = alm_vault::openbao::OpenBaoVault::new(alm_vault::openbao::OpenBaoConfig {
            address: env("ALMTEST_OPENBAO_ADDR"),
            token: alm_core::Secret::new(env("ALMTEST_OPENBAO_TOKEN")),
            mount: "secret".into(),
            namespace: None,
            ca_pem: None,
            timeout: Duration::from_secs(10),
        }).unwrap();
        let secret = bao.get(&alm_vault::SecretRef(format!("{folder}/{name}"))).await.unwrap().expect("the secret is in OpenBao");
        assert_eq!((secret.username.as_str(), secret.domain.is_empty()), (name.as_str(), false));
        assert_eq!(bao.list(&folder).await.unwrap(), std::slice::from_ref(&name), "exactly one secret");
        check_in_directory(&w, &name, secret.password.expose()).await;

        // Exactly these emails, to exactly these people: each step's approvers, then the
        // requester's "approved" and "created".
        let got = mails(&s, &sink, 6).await;
        assert_eq!(got.len(), 6, "{got:?}");
        assert_eq!(who_got(&got, &format!("Approval needed: {name}")),
            ["appr1@example.test", "appr2@example.test", "appr3@example.test", "final@example.test"], "{got:?}");
        assert_eq!(who_got(&got, &format!("Approved: {name}")), ["req@example.test"], "{got:?}");
        assert_eq!(who_got(&got, &format!("Created: {name}")), ["req@example.test"], "{got:?}");
        assert!(got.iter().all(|m| !m.body.contains(secret.password.expose())), "no password in a mail");

        // Vault sync: the engines are calibrated and every account's secret is looked for.
        let (st, synced) = s.admin().post_empty(&format!("/api/v1/vaults/{vault}/sync")).await;
        assert_eq!((st, synced["checked"].as_u64(), synced["calibration"]["ok"].as_bool()), (200, Some(1), Some(true)), "{synced}");
        assert_eq!(synced["missing"], json!([]), "{synced}");
        assert_eq!(synced["dependencies"], Value::Null, "OpenBao keeps no dependency records: {synced}");
        bao.delete(&alm_vault::SecretRef(format!("{folder}/{name}"))).await.unwrap();
        let (_, synced) = s.admin().post_empty(&format!("/api/v1/vaults/{vault}/sync")).await;
        assert_eq!(synced["missing"], json!([name]), "{synced}");
        let (_, seen) = s.admin().get(&format!("/api/v1/accounts/{}", account["id"].as_str().unwrap())).await;
        assert_eq!(seen["secret_state"], "missing", "{seen}");
        let (_, alert) = s.admin().get("/api/v1/audit?action=account.secret-state-changed").await;
        assert_eq!(alert["items"][0]["summary"]["alert"], true, "{alert}");
        // The password is in no API answer and no audit record.
        let (_, audit) = s.admin().get("/api/v1/audit?limit=500").await;
        assert!(!audit.to_string().contains(secret.password.expose()));
        assert!(!s.admin().get(&format!("/api/v1/requests/{id}")).await.1.to_string().contains(secret.password.expose()));
        audit_verifies(&s).await;
        s.stop().await;
    }
}

on_both_backends! {
    async fn with_the_built_in_vault_the_password_is_sealed_in_alm(backend: Backend) {
        let s = TestServer::start(backend).await;
        let w = world(&s).await;
        let name_part = format!("bi{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
        let (id, folder) = approved(&s, &w, &w.vault, &name_part).await;
        let r = provisioned(&w, &id).await;
        let name = r["account_name"].as_str().unwrap().to_owned();
        let account = account_of(&s, &w, &id).await;
        let state = s.state();
        let builtin = alm_server::services::vaults::BuiltinVault::new(
            state.db.clone(), state.master_key.clone(), state.clock.clone(), w.vault.parse().unwrap(),
        );
        let secret = builtin
            .get(&alm_vault::SecretRef(account["secret_ref"].as_str().unwrap().to_owned()))
            .await
            .unwrap()
            .expect("the secret is in the built-in vault");
        assert_eq!(account["secret_ref"].as_str().unwrap(), format!("{folder}/{name}"));
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&s.db.url).await.unwrap();
        let sealed: String = sqlx::query_scalar("SELECT payload_sealed FROM builtin_vault_entries WHERE name = $1")
            .bind(&name).fetch_one(&mut conn).await.unwrap();
        assert!(!sealed.contains(secret.password.expose()), "sealed at rest");
        check_in_directory(&w, &name, secret.password.expose()).await;
        let (_, synced) = s.admin().post_empty(&format!("/api/v1/vaults/{}/sync", w.vault)).await;
        assert_eq!((synced["checked"].as_u64(), synced["missing"].clone()), (Some(1), json!([])), "{synced}");
        builtin.delete(&alm_vault::SecretRef(account["secret_ref"].as_str().unwrap().to_owned())).await.unwrap();
        let (_, synced) = s.admin().post_empty(&format!("/api/v1/vaults/{}/sync", w.vault)).await;
        assert_eq!(synced["missing"], json!([name]), "{synced}");

        // Changed outside alm: the domain's next syncs see it and say so.
        let acc = account["id"].as_str().unwrap().to_owned();
        let dir = ad::connect();
        let entry = dir.find(&Lookup::SamAccountName(name.clone())).await.unwrap().unwrap();
        dir.set_enabled(&entry.dn, false).await.unwrap();
        s.clock.advance(time::Duration::minutes(1));
        let (_, run) = s.admin().post_empty(&format!("/api/v1/domains/{}/sync", w.domain)).await;
        assert_eq!((run["outcome"].as_str(), run["mode"].as_str()), (Some("succeeded"), Some("incremental")), "{run}");
        let (_, seen) = s.admin().get(&format!("/api/v1/accounts/{acc}")).await;
        assert_eq!(seen["directory_state"], "disabled-in-directory", "{seen}");
        // A deletion is seen by the next incremental sync (the tombstone), not only a full one.
        dir.delete(&entry.dn).await.unwrap();
        s.clock.advance(time::Duration::minutes(1));
        let (_, run) = s.admin().post_empty(&format!("/api/v1/domains/{}/sync", w.domain)).await;
        assert_eq!((run["outcome"].as_str(), run["mode"].as_str()), (Some("succeeded"), Some("incremental")), "{run}");
        assert_eq!(run["removed"], 1, "{run}");
        let (_, objects) = s.admin().get(&format!("/api/v1/domains/{}/objects?q={name}", w.domain)).await;
        assert_eq!(objects["items"], json!([]), "{objects}");
        let (_, seen) = s.admin().get(&format!("/api/v1/accounts/{acc}")).await;
        assert_eq!(seen["directory_state"], "missing", "{seen}");
        let (_, audit) = s.admin().get(&format!("/api/v1/audit?action=account.directory-changed&object_id={acc}&sort=seq")).await;
        let states: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|r| r["summary"]["after"].as_str().unwrap()).collect();
        assert_eq!(states, ["disabled-in-directory", "missing"], "{audit}");
        audit_verifies(&s).await;
        s.stop().await;
    }
}

fn openbao_client() -> alm_vault::openbao::OpenBaoVault {
    alm_vault::openbao::OpenBaoVault::new(alm_vault::openbao::OpenBaoConfig {
        address: env("ALMTEST_OPENBAO_ADDR"),
        token: alm_core::Secret::new(env("ALMTEST_OPENBAO_TOKEN")),
        mount: "secret".into(),
        namespace: None,
        ca_pem: None,
        timeout: Duration::from_secs(10),
    })
    .unwrap()
}

/// How many directory objects have the sAMAccountName (under the test's OU).
async fn objects_named(w: &World, name: &str) -> usize {
    ad::connect()
        .users(Some(&w.ou))
        .await
        .unwrap()
        .iter()
        .filter(|u| u.sam_account_name.eq_ignore_ascii_case(name))
        .count()
}

on_both_backends! {
    async fn a_vault_outage_during_provisioning_is_retried_to_one_account_and_one_secret(backend: Backend) {
        use crate::support::relay::Relay;
        let s = TestServer::start(backend).await;
        let w = world(&s).await;
        // OpenBao behind a relay that refuses every connection: the vault is down.
        let bao = url::Url::parse(&env("ALMTEST_OPENBAO_ADDR")).unwrap();
        let relay = Relay::start_to(format!("{}:{}", bao.host_str().unwrap(), bao.port().unwrap())).await;
        relay.refuse();
        let (st, v) = s.admin().post("/api/v1/vaults", json!({"name": "OpenBao behind a relay", "kind": "openbao",
            "address": format!("http://127.0.0.1:{}", relay.port), "credential": env("ALMTEST_OPENBAO_ALM_TOKEN")})).await;
        assert_eq!(st, 201, "{v}");
        let name_part = format!("vo{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
        let (id, folder) = approved(&s, &w, v["id"].as_str().unwrap(), &name_part).await;

        // The first attempt made the account, could not store the secret, and says so: an
        // unreachable vault passes, so the request is retrying, not failed.
        let mut failed = Value::Null;
        for _ in 0..600 {
            let (_, r) = w.requester.get(&format!("/api/v1/requests/{id}")).await;
            if r["state"] == "retrying" {
                failed = r;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(failed["state"], "retrying", "{failed}");
        assert!(failed["failure_reason"].as_str().unwrap().starts_with("unreachable"), "{failed}");
        let name = failed["account_name"].as_str().unwrap().to_owned();
        assert_eq!(objects_named(&w, &name).await, 1, "the half state is visible: the account exists");

        // The vault is back; the retry (after its back-off) completes the same account.
        relay.open();
        s.clock.advance(time::Duration::seconds(11));
        provisioned(&w, &id).await;
        assert_eq!(objects_named(&w, &name).await, 1, "exactly one account");
        let bao = openbao_client();
        assert_eq!(bao.list(&folder).await.unwrap(), std::slice::from_ref(&name), "exactly one secret");
        let secret = bao.get(&alm_vault::SecretRef(format!("{folder}/{name}"))).await.unwrap().unwrap();
        check_in_directory(&w, &name, secret.password.expose()).await;
        let (_, jobs) = s.admin().get("/api/v1/jobs?limit=50").await;
        let job = jobs["items"].as_array().unwrap().iter().find(|j| j["subject_id"] == id.as_str()).unwrap();
        assert_eq!((job["status"].as_str(), job["attempts"].as_i64()), (Some("succeeded"), Some(2)), "{job}");
        assert_eq!(job["result"]["created"], false, "the second attempt found the account instead of making one");
        audit_verifies(&s).await;
        s.stop().await;
    }
}

on_both_backends! {
    async fn an_engine_killed_during_provisioning_leaves_one_account_and_one_secret(backend: Backend) {
        use crate::engines::{activation_token, assign, registered, until, EngineProcess, SETTINGS};
        use crate::support::relay::Relay;
        use std::sync::atomic::Ordering;
        let s = TestServer::start_with(backend, SETTINGS).await;
        let admin = s.admin();
        // No in-process engine here: engines A and B register and serve the default pool.
        let (_, pools) = admin.get("/api/v1/engine-pools").await;
        let pool = pools["items"].as_array().unwrap().iter().find(|p| p["is_default"] == true).unwrap()["id"].as_str().unwrap().to_owned();
        let mut a = EngineProcess::start(&s.base, &activation_token(&admin).await, "prov-a");
        let a_id = registered(&admin, "prov-a", &a).await;
        assign(&admin, &a_id, &pool).await;
        let w = world(&s).await;
        // From now on the domain is reached through a relay that holds connections silent.
        let relay = Relay::start().await;
        let (st, d) = admin.patch(&format!("/api/v1/domains/{}", w.domain), json!({"url": format!("ldaps://127.0.0.1:{}", relay.port), "bind_password": ad::config().bind_password.expose()})).await;
        assert_eq!(st, 200, "{d}");
        let vault = openbao_vault(&s).await;
        let name_part = format!("k{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
        let (id, folder) = approved(&s, &w, &vault, &name_part).await;

        // A takes the provisioning job and blocks on the directory; it dies holding the lease.
        until(&format!("engine A to start provisioning ({})", a.log()), || async {
            let (_, r) = w.requester.get(&format!("/api/v1/requests/{id}")).await;
            (r["state"] == "provisioning" && relay.accepted.load(Ordering::SeqCst) > 0).then_some(())
        }).await;
        a.kill();
        relay.open();
        let b = EngineProcess::start(&s.base, &activation_token(&admin).await, "prov-b");
        let b_id = registered(&admin, "prov-b", &b).await;
        assign(&admin, &b_id, &pool).await;
        s.clock.advance(time::Duration::seconds(6));

        let r = provisioned(&w, &id).await;
        let name = r["account_name"].as_str().unwrap().to_owned();
        assert_eq!(objects_named(&w, &name).await, 1, "exactly one account");
        let bao = openbao_client();
        assert_eq!(bao.list(&folder).await.unwrap(), std::slice::from_ref(&name), "exactly one secret");
        let secret = bao.get(&alm_vault::SecretRef(format!("{folder}/{name}"))).await.unwrap().unwrap();
        relay.cut_after(0);
        check_in_directory(&w, &name, secret.password.expose()).await;
        let (_, accounts) = admin.get("/api/v1/accounts").await;
        assert_eq!(accounts["items"].as_array().unwrap().iter().filter(|x| x["name"] == name.as_str()).count(), 1, "one managed account");
        let (_, jobs) = admin.get("/api/v1/jobs?limit=50").await;
        let job = jobs["items"].as_array().unwrap().iter().find(|j| j["subject_id"] == id.as_str()).unwrap();
        assert_eq!((job["status"].as_str(), job["leased_by"].as_str()), (Some("succeeded"), Some(b_id.as_str())), "{job}");
        audit_verifies(&s).await;
        drop(b);
        s.stop().await;
    }
}

on_both_backends! {
    async fn owners_change_within_the_template_rules_and_an_account_is_never_orphaned(backend: Backend) {
        let s = TestServer::start(backend).await;
        let admin = s.admin();
        let w = world(&s).await;
        let name_part = format!("ow{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
        let (id, _) = approved(&s, &w, &w.vault, &name_part).await;
        provisioned(&w, &id).await;
        let account = account_of(&s, &w, &id).await;
        let acc = account["id"].as_str().unwrap().to_owned();
        let owners = |a: &Value| a["owners"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
        let (approver1, final_id) = (w.approver_ids[0].clone(), w.final_approver.clone());

        // The template: one to three owners, no groups.
        let (st, a) = w.requester.post(&format!("/api/v1/accounts/{acc}/owners"), json!({"user_id": approver1})).await;
        assert_eq!((st, owners(&a)), (200, vec![w.requester_id.clone(), approver1.clone()]), "{a}");
        // The requester cannot look users up, yet sees whom they share the account with and
        // how to reach them.
        assert_ne!(w.requester.get(&format!("/api/v1/users/{approver1}")).await.0, 200, "no user:read");
        let co_owner = json!({"kind": "user", "id": approver1, "display_name": "Approver 1",
                              "emails": ["appr1@example.test"], "enabled": true});
        assert_eq!(a["owners"][1], co_owner, "{a}");
        let (_, seen) = w.requester.get(&format!("/api/v1/accounts/{acc}")).await;
        assert_eq!(seen["owners"][1], co_owner, "{seen}");
        let (_, listed) = w.requester.get("/api/v1/accounts").await;
        let mine = listed["items"].as_array().unwrap().iter().find(|x| x["id"] == acc.as_str()).cloned().unwrap();
        assert_eq!(mine["owners"][1], co_owner, "{mine}");
        let (st, p) = w.requester.post(&format!("/api/v1/accounts/{acc}/owners"), json!({"group_id": w.audience})).await;
        assert_eq!((st, p["errors"][0]["field"].as_str()), (422, Some("group_id")), "{p}");
        let (st, p) = w.requester.post(&format!("/api/v1/accounts/{acc}/owners"), json!({"user_id": approver1})).await;
        assert_eq!(st, 409, "already an owner: {p}");
        assert_eq!(w.requester.post(&format!("/api/v1/accounts/{acc}/owners"), json!({"user_id": final_id})).await.0, 200);
        let (st, p) = w.requester.post(&format!("/api/v1/accounts/{acc}/owners"), json!({"user_id": w.approver_ids[1]})).await;
        assert_eq!(st, 409, "at most three: {p}");
        assert_eq!(w.outsider.post(&format!("/api/v1/accounts/{acc}/owners"), json!({"user_id": w.approver_ids[1]})).await.0, 404, "not an owner");

        // Owners leave; the last enabled owner cannot be disabled or removed.
        let (st, a) = w.requester.delete(&format!("/api/v1/accounts/{acc}/owners/user/{}", w.requester_id)).await;
        assert_eq!((st, owners(&a)), (200, vec![approver1.clone(), final_id.clone()]), "{a}");
        assert_eq!(admin.post_empty(&format!("/api/v1/users/{approver1}/disable")).await.0, 200);
        let (st, refused) = admin.post_empty(&format!("/api/v1/users/{final_id}/disable")).await;
        assert_eq!(st, 409, "{refused}");
        assert!(refused["detail"].as_str().unwrap().contains(account["name"].as_str().unwrap()), "names the account: {refused}");
        let (_, still) = admin.get(&format!("/api/v1/users/{final_id}")).await;
        assert_eq!(still["enabled"], true, "nothing changed");
        let (st, refused) = admin.delete(&format!("/api/v1/accounts/{acc}/owners/user/{final_id}")).await;
        assert_eq!(st, 409, "{refused}");
        let (_, orphans) = admin.get("/api/v1/accounts?orphaned=true").await;
        assert_eq!(orphans["total"], 0, "{orphans}");
        let (_, audit) = admin.get(&format!("/api/v1/audit?object_type=account&object_id={acc}&sort=seq")).await;
        let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
        // Non-owners' attempts were answered "not found" and audited as denied.
        assert_eq!(actions, ["account.created", "access.denied", "account.owner-added", "account.owner-added", "access.denied", "account.owner-removed"]);
        s.stop().await;
    }
}

/// An alm user linked by user sync to a new directory account under `parent`; returns
/// (alm user id, the account's SID).
pub(crate) async fn synced_reader(
    s: &TestServer,
    w: &World,
    parent: &str,
    tag: &str,
) -> (String, String) {
    let admin = s.admin();
    let dir = ad::connect();
    let reader = dir
        .create_user(&alm_directory::NewUser {
            parent_dn: parent.to_owned(),
            sam_account_name: format!("rd{tag}"),
            user_principal_name: format!("rd{tag}@corp.example.test"),
            description: None,
            attributes: vec![
                ("mail".into(), vec![format!("reader.{tag}@example.test")]),
                ("displayName".into(), vec![format!("Reader {tag}")]),
            ],
            password: alm_directory::password::PasswordPolicy::default().generate("r", ""),
            enabled: true,
            account_expires: alm_core::filetime::AccountExpires::Never,
        })
        .await
        .unwrap();
    dir.create_group(
        &format!("readers{tag}"),
        parent,
        std::slice::from_ref(&reader.dn),
    )
    .await
    .unwrap();
    admin
        .post_empty(&format!("/api/v1/domains/{}/sync", w.domain))
        .await;
    let (_, groups) = admin
        .get(&format!(
            "/api/v1/domains/{}/objects?kind=group&q=readers{tag}",
            w.domain
        ))
        .await;
    let guid = groups["items"][0]["guid"].as_str().unwrap().to_owned();
    let (st, c) = admin
        .put(
            &format!("/api/v1/domains/{}/user-sync", w.domain),
            json!({"group_guids": [guid], "max_disable_percent": 100}),
        )
        .await;
    assert_eq!(st, 200, "{c}");
    s.clock.advance(time::Duration::minutes(1));
    let (_, run) = admin
        .post_empty(&format!("/api/v1/domains/{}/sync", w.domain))
        .await;
    assert_eq!(run["users_created"], 1, "{run}");
    let (_, users) = admin.get(&format!("/api/v1/users?q=reader.{tag}")).await;
    let id = users["items"][0]["id"].as_str().unwrap().to_owned();
    (id, reader.sid.expect("objectSid").to_string())
}

on_both_backends! {
    async fn a_gmsa_request_becomes_a_gmsa_whose_password_readers_are_the_readers_directory_accounts(backend: Backend) {
        let s = TestServer::start(backend).await;
        let w = world(&s).await;
        let admin = s.admin();
        let tag = uuid::Uuid::new_v4().simple().to_string()[..6].to_owned();
        let parent = w.ou.split_once(',').unwrap().1.to_owned();
        let (reader, reader_sid) = synced_reader(&s, &w, &parent, &tag).await;
        // A reader group whose other member (the requester) has no directory account: passed over.
        let readers = crate::templates::group_with(&admin, &format!("gMSA readers {tag}"), &[&reader, &w.requester_id]).await;

        let mut d = definition(&w);
        d["account_type"] = json!("gmsa");
        d["eol_action"] = json!("disable");
        d["name_prefix"] = json!("g");
        d["name_regex"] = json!(null);
        d["attributes"] = json!([]);
        d["cannot_change_password"] = json!(false);
        d["gmsa"] = json!({"password_reader_users": [reader], "password_reader_groups": [readers],
                           "encryption": "aes256", "service_principal_names": ["HTTP/{name}.corp.example.test"],
                           "dns_host_name": "{name}.corp.example.test"});
        let (st, t) = admin.post("/api/v1/templates", json!({"name": format!("gMSA {tag}"), "definition": d})).await;
        assert_eq!(st, 201, "{t}");
        let template = t["id"].as_str().unwrap().to_owned();
        assert_eq!(admin.post_empty(&format!("/api/v1/templates/{template}/publish")).await.0, 200);
        let (st, r) = w.requester.post("/api/v1/requests", json!({"template_id": template, "account_name": tag, "interval": "90d",
            "justification": "gMSA end to end", "description": "gMSA by the tests", "terms_accepted": true})).await;
        assert_eq!(st, 201, "{r}");
        let id = r["id"].as_str().unwrap().to_owned();
        let name = format!("g{tag}");
        assert_eq!(r["account_name"], name.as_str());
        assert_eq!(w.requester.post_empty(&format!("/api/v1/requests/{id}/submit")).await.0, 200);
        for api in [&w.approver_apis[0], &w.approver_apis[1], &w.final_api] {
            let (st, r) = api.post(&format!("/api/v1/approvals/{id}/approve"), json!({})).await;
            assert_eq!(st, 200, "{r}");
        }
        provisioned(&w, &id).await;

        let dir = ad::connect();
        let gmsa = dir.find(&Lookup::SamAccountName(format!("{name}$"))).await.unwrap().expect("the gMSA exists in AD");
        assert_eq!(gmsa.kind, alm_directory::EntryKind::Gmsa);
        assert_eq!(gmsa.dn, format!("CN={name},{}", w.ou));
        assert_eq!(gmsa.first("dNSHostName"), Some(format!("{name}.corp.example.test").as_str()));
        assert_eq!(gmsa.attributes["serviceprincipalname"], vec![format!("HTTP/{name}.corp.example.test")]);
        assert_eq!(gmsa.first("msDS-SupportedEncryptionTypes"), Some("16"), "AES256 only");
        assert_eq!(gmsa.first("msDS-ManagedPasswordInterval"), Some("30"));
        assert_eq!(gmsa.description.as_deref(), Some("gMSA by the tests"));
        let allowed: Vec<String> = dir.gmsa_password_readers(&gmsa.dn).await.unwrap().iter().map(ToString::to_string).collect();
        assert_eq!(allowed, vec![reader_sid], "exactly the reader's directory account");

        let (_, list) = w.requester.get("/api/v1/accounts").await;
        let account = list["items"].as_array().unwrap().iter().find(|a| a["request_id"] == id.as_str()).cloned().unwrap_or_else(|| panic!("{list}"));
        assert_eq!((account["account_type"].as_str(), account["status"].as_str()), (Some("gmsa"), Some("active")), "{account}");
        assert_eq!((account["secret_ref"].as_str(), account["secret_state"].as_str()), (Some(""), Some("none")), "no secret: {account}");
        assert_eq!(account["guid"], gmsa.guid.to_string());
        assert_eq!(account["owners"], json!([{"kind": "user", "id": w.requester_id, "display_name": "Requester",
                                              "emails": ["req@example.test"], "enabled": true}]));
        // Vault sync looks for no secret of a gMSA.
        let (_, synced) = admin.post_empty(&format!("/api/v1/vaults/{}/sync", w.vault)).await;
        assert_eq!((synced["checked"].as_u64(), &synced["missing"]), (Some(0), &json!([])), "{synced}");
        audit_verifies(&s).await;
        s.stop().await;
    }
}

on_both_backends! {
    async fn a_gmsa_whose_readers_have_no_directory_account_fails_with_the_reason(backend: Backend) {
        let s = TestServer::start(backend).await;
        let w = world(&s).await;
        let admin = s.admin();
        let tag = uuid::Uuid::new_v4().simple().to_string()[..6].to_owned();
        let mut d = definition(&w);
        d["account_type"] = json!("gmsa");
        d["eol_action"] = json!("delete");
        d["name_prefix"] = json!("g");
        d["name_regex"] = json!(null);
        d["attributes"] = json!([]);
        d["gmsa"] = json!({"password_reader_users": [w.requester_id], "encryption": "aes128",
                           "service_principal_names": [], "dns_host_name": "{name}.corp.example.test"});
        let (_, t) = admin.post("/api/v1/templates", json!({"name": format!("gMSA {tag}"), "definition": d})).await;
        let template = t["id"].as_str().unwrap().to_owned();
        admin.post_empty(&format!("/api/v1/templates/{template}/publish")).await;
        let (_, r) = w.requester.post("/api/v1/requests", json!({"template_id": template, "account_name": tag, "interval": "90d",
            "justification": "no readers", "description": "", "terms_accepted": true})).await;
        let id = r["id"].as_str().unwrap().to_owned();
        w.requester.post_empty(&format!("/api/v1/requests/{id}/submit")).await;
        for api in [&w.approver_apis[0], &w.approver_apis[1], &w.final_api] {
            api.post(&format!("/api/v1/approvals/{id}/approve"), json!({})).await;
        }
        let mut seen = Value::Null;
        for _ in 0..300 {
            seen = w.requester.get(&format!("/api/v1/requests/{id}")).await.1;
            if seen["state"] == "provisioning-failed" { break; }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(seen["state"], "provisioning-failed", "{seen}");
        assert!(seen["failure_reason"].as_str().unwrap().contains("has no synced account in the domain"), "{seen}");
        assert!(ad::connect().find(&Lookup::SamAccountName(format!("g{tag}$"))).await.unwrap().is_none(), "nothing in AD");
        s.stop().await;
    }
}

/// A managed account put straight into the store (the listing's subject is the query, not
/// provisioning).
pub(crate) async fn stored_account(
    s: &TestServer,
    w: &World,
    name: &str,
    status: &str,
    eol: time::OffsetDateTime,
    owners: &[alm_store::accounts::Owner],
) -> String {
    let template = {
        let (_, t) = s
            .admin()
            .post(
                "/api/v1/templates",
                json!({"name": format!("Stored {name}"), "definition": definition(w)}),
            )
            .await;
        t["id"].as_str().unwrap().to_owned()
    };
    let id = uuid::Uuid::new_v4();
    let state = s.state();
    let now = alm_core::Clock::now(s.clock.as_ref());
    let mut tx = state.db.begin_write().await.unwrap();
    alm_store::accounts::insert(
        &mut tx,
        &alm_store::accounts::AccountRecord {
            id,
            domain_id: w.domain.parse().unwrap(),
            name: name.into(),
            dn: format!("CN={name},{}", w.ou),
            guid: uuid::Uuid::new_v4().to_string(),
            account_type: alm_core::templates::AccountType::AdUser,
            description: String::new(),
            status: alm_core::lifecycle::Status::parse(status).expect("a status"),
            template_id: template.parse().unwrap(),
            template_version: 1,
            request_id: None,
            interval: "1y".parse().unwrap(),
            eol_action: alm_core::templates::EolAction::Disable,
            lifecycle_start: now,
            eol_at: eol,
            vault_id: w.vault.parse().unwrap(),
            secret_ref: format!("x/{name}"),
            directory_state: alm_core::account_state::DirectoryState::Present,
            secret_state: alm_core::account_state::SecretState::Present,
            created_at: now,
            updated_at: now,
            status_before: None,
            problem: None,
        },
    )
    .await
    .unwrap();
    for o in owners {
        alm_store::accounts::add_owner(&mut tx, id, *o, now)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    id.to_string()
}

on_both_backends! {
    async fn accounts_are_listed_by_page_with_filters_in_the_callers_scope_and_have_a_history(backend: Backend) {
        use alm_store::accounts::Owner;
        use time::macros::datetime;
        let s = TestServer::start(backend).await;
        let admin = s.admin();
        let w = world(&s).await;
        let user = |id: &str| Owner::User(id.parse().unwrap());
        let req = user(&w.requester_id);
        let a1 = stored_account(&s, &w, "acc-one", "active", datetime!(2027-01-01 00:00 UTC), &[req]).await;
        stored_account(&s, &w, "acc-two", "disabled", datetime!(2027-06-01 00:00 UTC), &[req]).await;
        stored_account(&s, &w, "acc-three", "active", datetime!(2027-03-01 00:00 UTC), &[user(&w.approver_ids[0])]).await;
        stored_account(&s, &w, "acc-four", "active", datetime!(2028-01-01 00:00 UTC), &[Owner::Group(w.audience.parse().unwrap())]).await;
        stored_account(&s, &w, "acc-five", "expired", datetime!(2026-12-01 00:00 UTC), &[user(&w.final_approver)]).await;
        let names = |page: &Value| page["items"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap().to_owned()).collect::<Vec<_>>();

        // Own scope: directly, or through the audience group.
        let (_, mine) = w.requester.get("/api/v1/accounts").await;
        assert_eq!((names(&mine), mine["total"].as_u64()), (vec!["acc-four".to_owned(), "acc-one".into(), "acc-two".into()], Some(3)), "{mine}");
        assert_eq!(names(&w.requester.get("/api/v1/accounts?status=active").await.1), ["acc-four", "acc-one"]);
        assert_eq!(names(&w.requester.get(&format!("/api/v1/accounts?owner_id={}", w.requester_id)).await.1), ["acc-one", "acc-two"], "direct owner");
        assert_eq!(w.outsider.get("/api/v1/accounts").await.1["total"], 0);

        // Manage scope: everything, by EOL window, sorted, paged, by name.
        let (_, all) = admin.get("/api/v1/accounts?eol_from=2027-01-01T00:00:00Z&eol_to=2027-06-01T00:00:00Z&sort=eol_at").await;
        assert_eq!(names(&all), ["acc-one", "acc-three"], "the window's end is exclusive: {all}");
        let (_, page) = admin.get("/api/v1/accounts?sort=-eol_at&limit=2&offset=1").await;
        assert_eq!((names(&page), page["total"].as_u64()), (vec!["acc-two".to_owned(), "acc-three".into()], Some(5)), "{page}");
        assert_eq!(names(&admin.get("/api/v1/accounts?q=FIV").await.1), ["acc-five"]);
        assert_eq!(admin.get(&format!("/api/v1/accounts?domain_id={}", uuid::Uuid::new_v4())).await.1["total"], 0);

        // Bad filters name the parameter.
        assert_eq!(admin.get("/api/v1/accounts?eol_from=2027-02-01T00:00:00Z&eol_to=2027-01-01T00:00:00Z").await.1["total"], 0, "an empty window");
        for (query, field) in [("status=gone", "status"), ("sort=owner", "sort")] {
            let (st, p) = admin.get(&format!("/api/v1/accounts?{query}")).await;
            assert_eq!((st, p["errors"][0]["field"].as_str()), (400, Some(field)), "{query}: {p}");
        }

        // History: an owner sees who acted, not their email; others see nothing.
        assert_eq!(w.requester.post(&format!("/api/v1/accounts/{a1}/owners"), json!({"user_id": w.approver_ids[1]})).await.0, 200);
        let (st, history) = w.requester.get(&format!("/api/v1/accounts/{a1}/history")).await;
        assert_eq!((st, history["total"].as_u64()), (200, Some(1)), "{history}");
        let entry = &history["items"][0];
        assert_eq!((entry["action"].as_str(), entry["actor_name"].as_str(), &entry["actor_email"]), (Some("account.owner-added"), Some("Requester"), &Value::Null), "{entry}");
        assert_eq!(w.outsider.get(&format!("/api/v1/accounts/{a1}/history")).await.0, 404);
        let (_, full) = admin.get(&format!("/api/v1/accounts/{a1}/history")).await;
        assert_eq!(full["items"][0]["actor_email"], "req@example.test", "{full}");
        s.stop().await;
    }
}

on_both_backends! {
    async fn a_migration_moves_the_secret_to_another_folder_of_openbao(backend: Backend) {
        let s = TestServer::start_with(backend, &[("ALM_SCHEDULER__ENABLED", "false")]).await;
        let admin = s.admin();
        let w = world(&s).await;
        let vault = openbao_vault(&s).await;
        let name_part = format!("mv{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
        let (id, folder) = approved(&s, &w, &vault, &name_part).await;
        let name = provisioned(&w, &id).await["account_name"].as_str().unwrap().to_owned();
        let account = account_of(&s, &w, &id).await;
        let account_id = account["id"].as_str().unwrap().to_owned();
        let bao = alm_vault::openbao::OpenBaoVault::new(alm_vault::openbao::OpenBaoConfig {
            address: env("ALMTEST_OPENBAO_ADDR"),
            token: alm_core::Secret::new(env("ALMTEST_OPENBAO_TOKEN")),
            mount: "secret".into(),
            namespace: None,
            ca_pem: None,
            timeout: Duration::from_secs(10),
        }).unwrap();
        let before = bao.get(&alm_vault::SecretRef(format!("{folder}/{name}"))).await.unwrap().expect("provisioned into OpenBao");

        // The same vault, one more folder; and a template on the built-in vault.
        let target_folder = format!("{folder}-moved");
        let publish = |d: Value, label: &str| {
            let (admin, label) = (admin.clone(), label.to_owned());
            async move {
                let (st, t) = admin.post("/api/v1/templates", json!({"name": format!("Move {label} {}", uuid::Uuid::new_v4().simple()), "definition": d})).await;
                assert_eq!(st, 201, "{t}");
                let id = t["id"].as_str().unwrap().to_owned();
                assert_eq!(admin.post_empty(&format!("/api/v1/templates/{id}/publish")).await.0, 200);
                id
            }
        };
        let mut d = definition(&w);
        d["vault_id"] = json!(vault);
        d["folders"] = json!([folder, target_folder]);
        let target = publish(d, "openbao").await;
        let builtin_target = publish(definition(&w), "builtin").await;
        let body = |template: &str, folder: &str| json!({"account_ids": [account_id], "template_id": template, "folder": folder});
        let (st, p) = admin.post("/api/v1/accounts/migrate", body(&target, "alm/elsewhere")).await;
        assert_eq!((st, p["errors"][0]["field"].as_str()), (422, Some("folder")), "{p}");
        let (st, p) = admin.post("/api/v1/accounts/migrate", body(&builtin_target, "service-accounts/web")).await;
        assert_eq!((st, p["errors"][0]["field"].as_str(), p["errors"][0]["rule"].as_str()), (422, Some("account_ids[0]"), Some("same-vault")), "{p}");
        assert!(bao.get(&alm_vault::SecretRef(format!("{folder}/{name}"))).await.unwrap().is_some(), "nothing moved");

        let (st, done) = admin.post("/api/v1/accounts/migrate", body(&target, &target_folder)).await;
        assert_eq!(st, 200, "{done}");
        crate::lifecycle::settled(&s).await;
        let (_, a) = admin.get(&format!("/api/v1/accounts/{account_id}")).await;
        assert_eq!(a["secret_ref"].as_str(), Some(format!("{target_folder}/{name}").as_str()), "{a}");
        let after = bao.get(&alm_vault::SecretRef(format!("{target_folder}/{name}"))).await.unwrap().expect("the secret in its new folder");
        assert_eq!((after.username.as_str(), after.password.expose()), (before.username.as_str(), before.password.expose()), "the same secret");
        assert!(bao.get(&alm_vault::SecretRef(format!("{folder}/{name}"))).await.unwrap().is_none(), "gone from the old folder");
        check_in_directory(&w, &name, after.password.expose()).await;
        let (_, history) = admin.get(&format!("/api/v1/accounts/{account_id}/history")).await;
        let actions: Vec<&str> = history["items"].as_array().unwrap().iter().map(|h| h["action"].as_str().unwrap()).collect();
        assert!(actions.contains(&"account.migrated") && actions.contains(&"account.secret-moved"), "{actions:?}");
        s.stop().await;
    }
}

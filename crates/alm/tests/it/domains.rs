//! Domains through the API: the bind password sealed at rest and never shown, the connection
//! check against the real Samba DC, and bad input named field by field.

use crate::support::relay::Relay;
use crate::support::{ad, on_both_backends, TestServer};
use alm_directory::password::Generate as _;
use serde_json::{json, Value};

fn samba_domain(name: &str) -> Value {
    let c = ad::config();
    json!({
        "name": name,
        "url": c.url,
        "bind_identity": c.bind_identity,
        "bind_password": c.bind_password.expose(),
        "ca_pem": c.ca_pem,
        "base_dn": c.base_dn,
    })
}

on_both_backends! {
    async fn a_domain_keeps_its_password_sealed_and_checks_its_connection(backend: Backend) {
        let s = TestServer::start(backend).await;
        let admin = s.admin();
        let password = ad::config().bind_password.expose().to_owned();
        let (st, domain) = admin.post("/api/v1/domains", samba_domain("Corp")).await;
        assert_eq!(st, 201, "{domain}");
        assert!(!domain.to_string().contains(&password), "the password is never returned");
        assert_eq!(domain["password_rules"]["length"], 24);
        let id = domain["id"].as_str().unwrap().to_owned();

        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&s.db.url).await.unwrap();
        let sealed: String = sqlx::query_scalar("SELECT bind_password_sealed FROM domains WHERE id = $1").bind(&id).fetch_one(&mut conn).await.unwrap();
        assert!(sealed.starts_with("v1:") && !sealed.contains(&password), "sealed at rest");

        // The check is a calibration: the pool's one engine (the in-process one) binds.
        let (st, check) = admin.post_empty(&format!("/api/v1/domains/{id}/check")).await;
        assert_eq!((st, check["ok"].as_bool()), (200, Some(true)), "{check}");
        assert_eq!(check["engines"].as_array().unwrap().len(), 1, "{check}");
        assert!(check["engines"][0]["engine_name"].as_str().unwrap().starts_with("in-process"), "{check}");
        let (_, calibrated) = admin.get(&format!("/api/v1/domains/{id}/calibration")).await;
        assert_eq!((calibrated["items"][0]["ok"].as_bool(), calibrated["items"][0]["engine_id"].clone()), (Some(true), check["engines"][0]["engine_id"].clone()), "{calibrated}");

        let (st, _) = admin.patch(&format!("/api/v1/domains/{id}"), json!({"bind_password": "not-the-password"})).await;
        assert_eq!(st, 200);
        let (_, check) = admin.post_empty(&format!("/api/v1/domains/{id}/check")).await;
        assert_eq!((check["ok"].as_bool(), check["problem"].as_str()), (Some(false), Some("bad-credentials")), "{check}");
        assert!(!check["message"].as_str().unwrap().contains("not-the-password"));

        let (_, _) = admin.patch(&format!("/api/v1/domains/{id}"), json!({"bind_password": password, "url": "ldaps://127.0.0.1:1"})).await;
        let (_, check) = admin.post_empty(&format!("/api/v1/domains/{id}/check")).await;
        assert_eq!(check["problem"], "unreachable", "{check}");
        let (_, check_tls) = admin.patch(&format!("/api/v1/domains/{id}"), json!({"url": ad::config().url, "ca_pem": "", "bind_password": password})).await;
        assert!(check_tls["ca_pem"].is_null(), "an empty ca_pem removes the CA");
        let (_, check) = admin.post_empty(&format!("/api/v1/domains/{id}/check")).await;
        assert_eq!(check["problem"], "tls", "the system store does not trust the test CA: {check}");

        let (_, audit) = admin.get(&format!("/api/v1/audit?object_type=domain&object_id={id}&sort=seq")).await;
        let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
        assert_eq!(actions[..4], ["domain.created", "domain.calibrated", "domain.checked", "domain.updated"]);
        assert_eq!(audit["items"][3]["summary"]["bind_password_changed"], true);
        // Each broken way to the DC is an alert (SPEC §7.5 "engine cannot reach its domain").
        let alerts: Vec<(&str, bool)> = audit["items"].as_array().unwrap().iter()
            .filter(|r| r["action"] == "engine.cannot-reach-domain")
            .map(|r| (r["summary"]["problem"].as_str().unwrap(), r["summary"]["alert"] == true))
            .collect();
        assert_eq!(alerts, [("bad-credentials", true), ("unreachable", true), ("tls", true)], "{audit}");
        assert!(!audit.to_string().contains(&password) && !audit.to_string().contains("not-the-password"));

        assert_eq!(admin.delete(&format!("/api/v1/domains/{id}")).await.0, 204);
        assert_eq!(admin.get(&format!("/api/v1/domains/{id}")).await.0, 404);
        s.stop().await;
    }
}

on_both_backends! {
    async fn bad_domains_are_refused_field_by_field(backend: Backend) {
        let s = TestServer::start(backend).await;
        let admin = s.admin();
        assert_eq!(admin.post("/api/v1/domains", samba_domain("Taken")).await.0, 201);
        let with = |key: &str, value: Value| {
            let mut d = samba_domain("Other");
            d[key] = value;
            d
        };
        let cases = [
            (with("url", json!("ldap://127.0.0.1:389")), 422, "url"),
            (with("url", json!("not a url")), 422, "url"),
            (with("ca_pem", json!("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----")), 422, "ca_pem"),
            (with("base_dn", json!("corp.example.test")), 422, "base_dn"),
            (with("bind_password", json!("")), 422, "bind_password"),
            (with("password_rules", json!({"length": 8, "lowercase": true, "uppercase": true, "digits": true, "symbols": true})), 422, "password_rules.length"),
            (with("password_rules", json!({"length": 20, "lowercase": true, "uppercase": true, "digits": false, "symbols": false})), 422, "password_rules"),
            (with("name", json!("taken")), 409, "name"),
            (with("sync_time", json!("25:00")), 422, "sync_time"),
            (with("colour", json!("red")), 422, "colour"),
        ];
        for (body, status, field) in cases {
            let (st, problem) = admin.post("/api/v1/domains", body.clone()).await;
            assert_eq!((st, problem["errors"][0]["field"].as_str()), (status, Some(field)), "{body}: {problem}");
        }
        let mut missing = samba_domain("Other");
        missing.as_object_mut().unwrap().remove("bind_password");
        let (st, problem) = admin.post("/api/v1/domains", missing).await;
        assert_eq!((st, problem["errors"][0]["field"].as_str()), (422, Some("bind_password")));
        let (_, list) = admin.get("/api/v1/domains").await;
        assert_eq!(list["items"].as_array().unwrap().len(), 1, "nothing else was stored");
        s.stop().await;
    }
}

/// A domain whose base DN is a fresh OU of the Samba DC, so the sync's counts are exact even
/// while other tests change the rest of the directory.
async fn scoped_domain(s: &TestServer, ou: &str) -> String {
    let mut body = samba_domain(&format!(
        "Scoped {}",
        &uuid::Uuid::new_v4().simple().to_string()[..6]
    ));
    body["base_dn"] = json!(ou);
    let (st, d) = s.admin().post("/api/v1/domains", body).await;
    assert_eq!(st, 201, "{d}");
    d["id"].as_str().unwrap().to_owned()
}

on_both_backends! {
    async fn sync_is_full_then_incremental_and_counts_exactly(backend: Backend) {
        use alm_directory::{Directory, NewUser};
        let s = TestServer::start(backend).await;
        let admin = s.admin();
        let dir = ad::connect();
        let ou = ad::test_ou(&dir, "sync").await;
        let sub = dir.create_organizational_unit("apps", &ou).await.unwrap();
        let user = |name: &str, parent: &str| NewUser {
            parent_dn: parent.to_owned(),
            sam_account_name: name.to_owned(),
            user_principal_name: format!("{name}@corp.example.test"),
            description: None,
            attributes: vec![],
            password: alm_directory::password::PasswordPolicy::default().generate(name, ""),
            enabled: true,
            account_expires: alm_core::filetime::AccountExpires::Never,
        };
        let tag = &uuid::Uuid::new_v4().simple().to_string()[..6];
        let a = dir.create_user(&user(&format!("sa{tag}"), &ou)).await.unwrap();
        let b = dir.create_user(&user(&format!("sb{tag}"), &sub)).await.unwrap();
        dir.create_group(&format!("sg{tag}"), &ou, &[a.dn.clone(), b.dn.clone()]).await.unwrap();
        let id = scoped_domain(&s, &ou).await;

        let (st, run) = admin.post_empty(&format!("/api/v1/domains/{id}/sync")).await;
        assert_eq!(st, 200, "{run}");
        assert_eq!((run["mode"].as_str(), run["outcome"].as_str()), (Some("full"), Some("succeeded")), "{run}");
        assert_eq!((run["added"].as_u64(), run["updated"].as_u64(), run["removed"].as_u64()), (Some(5), Some(0), Some(0)), "2 OUs, 2 users, 1 group: {run}");
        let (_, groups) = admin.get(&format!("/api/v1/domains/{id}/objects?kind=group")).await;
        assert_eq!(groups["total"], 1);
        assert_eq!(groups["items"][0]["details"]["members"].as_array().unwrap().len(), 2);

        // Two changes and one new account: the incremental run sees exactly those.
        dir.set_enabled(&a.dn, false).await.unwrap();
        dir.create_user(&user(&format!("sc{tag}"), &sub)).await.unwrap();
        s.clock.advance(time::Duration::minutes(1));
        let (_, run) = admin.post_empty(&format!("/api/v1/domains/{id}/sync")).await;
        assert_eq!((run["mode"].as_str(), run["added"].as_u64(), run["updated"].as_u64()), (Some("incremental"), Some(1), Some(1)), "{run}");
        let (_, users) = admin.get(&format!("/api/v1/domains/{id}/objects?kind=user&q=sa{tag}")).await;
        assert_eq!(users["items"][0]["enabled"], false, "the disable is seen");

        // A deletion shows up at the next full sync.
        dir.delete(&b.dn).await.unwrap();
        s.clock.advance(time::Duration::minutes(1));
        let (_, run) = admin.post_empty(&format!("/api/v1/domains/{id}/sync?mode=full")).await;
        assert_eq!((run["mode"].as_str(), run["removed"].as_u64()), (Some("full"), Some(1)), "{run}");

        // The directory unreachable: the run fails and nothing in alm changes.
        let before = admin.get(&format!("/api/v1/domains/{id}/objects?limit=500")).await.1;
        admin.patch(&format!("/api/v1/domains/{id}"), json!({"url": "ldaps://127.0.0.1:1", "bind_password": ad::config().bind_password.expose()})).await;
        s.clock.advance(time::Duration::minutes(1));
        let (st, run) = admin.post_empty(&format!("/api/v1/domains/{id}/sync?mode=full")).await;
        assert_eq!((st, run["outcome"].as_str()), (200, Some("failed")), "{run}");
        assert!(run["error"].as_str().unwrap().contains("unreachable"), "{run}");
        let after = admin.get(&format!("/api/v1/domains/{id}/objects?limit=500")).await.1;
        assert_eq!(before["total"], after["total"], "a failed sync removes nothing");
        let (_, runs) = admin.get(&format!("/api/v1/domains/{id}/sync-runs")).await;
        let outcomes: Vec<&str> = runs["items"].as_array().unwrap().iter().map(|r| r["outcome"].as_str().unwrap()).collect();
        assert_eq!(outcomes, ["failed", "succeeded", "succeeded", "succeeded"], "newest first");
        assert_eq!(admin.post_empty(&format!("/api/v1/domains/{id}/sync?mode=sideways")).await.0, 400);
        s.stop().await;
    }
}

on_both_backends! {
    async fn user_sync_brings_group_members_in_and_the_guard_stops_mass_disables(backend: Backend) {
        use alm_directory::{Directory, NewUser};
        let s = TestServer::start(backend).await;
        let admin = s.admin();
        let dir = ad::connect();
        let ou = ad::test_ou(&dir, "usync").await;
        let tag = uuid::Uuid::new_v4().simple().to_string()[..6].to_owned();
        let person = |n: usize| NewUser {
            parent_dn: ou.clone(),
            sam_account_name: format!("p{n}{tag}"),
            user_principal_name: format!("p{n}{tag}@corp.example.test"),
            description: None,
            attributes: vec![("mail".into(), vec![format!("person{n}.{tag}@example.test")]), ("displayName".into(), vec![format!("Person {n}")])],
            password: alm_directory::password::PasswordPolicy::default().generate("p", ""),
            enabled: true,
            account_expires: alm_core::filetime::AccountExpires::Never,
        };
        let mut people = Vec::new();
        for n in 1..=5 {
            people.push(dir.create_user(&person(n)).await.unwrap());
        }
        // Staff = p1, p2 and the nested group Admins (p3); p4 and p5 are outside.
        let nested = dir.create_group(&format!("admins{tag}"), &ou, &[people[2].dn.clone()]).await.unwrap();
        dir.create_group(&format!("staff{tag}"), &ou, &[people[0].dn.clone(), people[1].dn.clone(), nested]).await.unwrap();
        let id = scoped_domain(&s, &ou).await;
        admin.post_empty(&format!("/api/v1/domains/{id}/sync")).await;
        let (_, groups) = admin.get(&format!("/api/v1/domains/{id}/objects?kind=group&q=staff{tag}")).await;
        let staff = groups["items"][0]["guid"].as_str().unwrap().to_owned();

        let (st, problem) = admin.put(&format!("/api/v1/domains/{id}/user-sync"), json!({"group_guids": [uuid::Uuid::new_v4()]})).await;
        assert_eq!((st, problem["errors"][0]["field"].as_str()), (422, Some("group_guids[0]")), "{problem}");
        let (st, config) = admin.put(&format!("/api/v1/domains/{id}/user-sync"), json!({"group_guids": [staff], "max_disable_percent": 40})).await;
        assert_eq!((st, config["max_disable_percent"].as_u64()), (200, Some(40)), "{config}");

        s.clock.advance(time::Duration::minutes(1));
        let (_, run) = admin.post_empty(&format!("/api/v1/domains/{id}/sync")).await;
        assert_eq!((run["outcome"].as_str(), run["users_created"].as_u64()), (Some("succeeded"), Some(3)), "{run}");
        let (_, users) = admin.get(&format!("/api/v1/users?q={tag}")).await;
        let mut emails: Vec<&str> = users["items"].as_array().unwrap().iter().map(|u| u["emails"][0].as_str().unwrap()).collect();
        emails.sort();
        assert_eq!(emails, [format!("person1.{tag}@example.test"), format!("person2.{tag}@example.test"), format!("person3.{tag}@example.test")]);
        assert!(users["items"].as_array().unwrap().iter().all(|u| u["source"] == "synced" && u["enabled"] == true));
        assert!(users["items"].as_array().unwrap().iter().any(|u| u["display_name"] == "Person 3"), "nested member with its display name");
        // The usage page counts them, and the one (in-process) engine.
        let (_, usage) = admin.get("/api/v1/usage").await;
        assert_eq!((usage["users"].as_i64(), usage["users_synced"].as_i64(), usage["users_enabled"].as_i64()), (Some(4), Some(3), Some(4)), "{usage}");
        assert_eq!((usage["engines"].as_i64(), usage["engines_active"].as_i64(), usage["engines_unassigned"].as_i64()), (Some(1), Some(1), Some(0)), "{usage}");

        // One of three disabled in the directory (33% ≤ 40%): disabled in alm at the next sync.
        dir.set_enabled(&people[0].dn, false).await.unwrap();
        s.clock.advance(time::Duration::minutes(1));
        let (_, run) = admin.post_empty(&format!("/api/v1/domains/{id}/sync")).await;
        assert_eq!((run["outcome"].as_str(), run["users_disabled"].as_u64()), (Some("succeeded"), Some(1)), "{run}");
        let (_, disabled) = admin.get(&format!("/api/v1/users?q=person1.{tag}")).await;
        assert_eq!(disabled["items"][0]["enabled"], false);
        let (_, events) = admin.get("/api/v1/audit?action=user.disabled-by-sync").await;
        assert_eq!(events["total"], 1);

        // Both remaining members disabled at once (2 of 2 = 100% > 40%): the guard stops the sync.
        dir.set_enabled(&people[1].dn, false).await.unwrap();
        dir.set_enabled(&people[2].dn, false).await.unwrap();
        s.clock.advance(time::Duration::minutes(1));
        let (_, run) = admin.post_empty(&format!("/api/v1/domains/{id}/sync")).await;
        assert_eq!(run["outcome"], "failed", "{run}");
        assert!(run["error"].as_str().unwrap().contains("mass-disable guard"), "{run}");
        let (_, still) = admin.get(&format!("/api/v1/users?q={tag}&enabled=true")).await;
        assert_eq!(still["total"], 2, "nothing was disabled");
        let (_, alert) = admin.get("/api/v1/audit?action=domain.user-sync-stopped").await;
        assert_eq!(alert["items"][0]["summary"]["would_disable"], 2);

        // The directory unreachable: no user is disabled either.
        admin.patch(&format!("/api/v1/domains/{id}"), json!({"url": "ldaps://127.0.0.1:1", "bind_password": ad::config().bind_password.expose()})).await;
        admin.put(&format!("/api/v1/domains/{id}/user-sync"), json!({"group_guids": [staff], "max_disable_percent": 100})).await;
        let (_, run) = admin.post_empty(&format!("/api/v1/domains/{id}/sync")).await;
        assert_eq!(run["outcome"], "failed");
        let (_, still) = admin.get(&format!("/api/v1/users?q={tag}&enabled=true")).await;
        assert_eq!(still["total"], 2, "an unreachable directory disables nobody");

        // The chosen group deleted in the directory: an alert names it, its members go.
        admin.patch(&format!("/api/v1/domains/{id}"), json!({"url": ad::config().url, "bind_password": ad::config().bind_password.expose()})).await;
        dir.delete(&format!("CN=staff{tag},{ou}")).await.unwrap();
        s.clock.advance(time::Duration::minutes(1));
        // The next incremental sync sees the deletion (the group's tombstone).
        let (_, run) = admin.post_empty(&format!("/api/v1/domains/{id}/sync")).await;
        assert_eq!((run["outcome"].as_str(), run["mode"].as_str(), run["users_disabled"].as_u64()), (Some("succeeded"), Some("incremental"), Some(2)), "{run}");
        assert_eq!(run["removed"], 1, "the group: {run}");
        let (_, alert) = admin.get("/api/v1/audit?action=domain.user-sync-group-missing").await;
        assert_eq!((alert["total"].as_i64(), alert["items"][0]["summary"]["group_guid"].as_str()), (Some(1), Some(staff.as_str())), "{alert}");
        s.stop().await;
    }
}

const WEEK: time::Duration = time::Duration::days(7);

on_both_backends! {
    async fn an_unreachable_first_controller_fails_over_to_the_next(backend: Backend) {
        let s = TestServer::start(backend).await;
        let admin = s.admin();
        // The first controller refuses connections; the second is the Samba DC.
        let dead = "ldaps://127.0.0.1:1";
        let mut body = samba_domain("Failover");
        body["url"] = json!(dead);
        body["failover_urls"] = json!([ad::config().url]);
        let (st, d) = admin.post("/api/v1/domains", body).await;
        assert_eq!(st, 201, "{d}");
        assert_eq!(d["failover_urls"], json!([ad::config().url]), "{d}");
        let id = d["id"].as_str().unwrap().to_owned();
        let (_, check) = admin.post_empty(&format!("/api/v1/domains/{id}/check")).await;
        assert_eq!(check["ok"], true, "the second controller answered: {check}");
        let (_, run) = admin.post_empty(&format!("/api/v1/domains/{id}/sync")).await;
        assert_eq!(run["outcome"], "succeeded", "{run}");
        assert!(run["added"].as_u64().unwrap() > 0, "{run}");

        // None answers: the problem is "unreachable" and the message names each controller.
        let second_dead = "ldaps://127.0.0.1:2";
        let (st, d) = admin.patch(&format!("/api/v1/domains/{id}"), json!({"failover_urls": [second_dead],
            "bind_password": ad::config().bind_password.expose()})).await;
        assert_eq!(st, 200, "{d}");
        let (_, check) = admin.post_empty(&format!("/api/v1/domains/{id}/check")).await;
        assert_eq!((check["ok"].as_bool(), check["problem"].as_str()), (Some(false), Some("unreachable")), "{check}");
        let message = check["message"].as_str().unwrap();
        assert!(message.contains("127.0.0.1:1") && message.contains("127.0.0.1:2"), "{message}");
        s.stop().await;
    }
}

on_both_backends! {
    async fn scheduled_syncs_run_when_due_and_a_past_time_waits_for_tomorrow(backend: Backend) {
        use alm_server::services::scheduled_sync::queue_due;
        let s = TestServer::start(backend).await;
        let admin = s.admin();
        let dir = ad::connect();
        let ou = ad::test_ou(&dir, "sched").await;
        // The test clock says 2026-11-29 10:00 UTC: 09:00 has passed today.
        let mut body = samba_domain("Scheduled");
        body["base_dn"] = json!(ou);
        body["sync_time"] = json!("09:00");
        let (st, d) = admin.post("/api/v1/domains", body).await;
        assert_eq!(st, 201, "{d}");
        assert_eq!(d["next_sync_at"], "2026-11-30T09:00:00Z", "a time already past today runs tomorrow");
        let id = d["id"].as_str().unwrap().to_owned();
        let state = s.state();
        assert!(queue_due(&state.queue, WEEK).await.unwrap().is_empty(), "not due yet");

        // The hourly check after 09:00 tomorrow queues it, as the system; the in-process engine
        // runs it, and the next one is due tomorrow.
        s.clock.set(time::macros::datetime!(2026-11-30 10:00 UTC));
        let jobs = queue_due(&state.queue, WEEK).await.unwrap();
        assert_eq!(jobs.len(), 1);
        let done = state.queue.wait(&[jobs[0].id], std::time::Duration::from_secs(60)).await.unwrap();
        assert_eq!(done[0].status.as_str(), "succeeded", "{:?}", done[0]);
        let run = alm_server::services::domain_sync::run_of(&state.db, &done[0]).await.unwrap().expect("a run");
        assert_eq!((run.outcome.as_str(), run.mode.as_str()), ("succeeded", "full"));
        let (_, d) = admin.get(&format!("/api/v1/domains/{id}")).await;
        assert_eq!(d["next_sync_at"], "2026-12-01T09:00:00Z");
        assert!(queue_due(&state.queue, WEEK).await.unwrap().is_empty(), "once a day");
        let (_, audit) = admin.get(&format!("/api/v1/audit?action=domain.synced&object_id={id}")).await;
        assert_eq!(audit["items"][0]["actor_kind"], "system");

        // The next days' syncs are incremental; the one a week after the full one is full again.
        for (day, mode) in [(1, "incremental"), (6, "incremental"), (7, "full"), (8, "incremental")] {
            s.clock.set(time::macros::datetime!(2026-11-30 10:00 UTC) + time::Duration::days(day));
            let jobs = queue_due(&state.queue, WEEK).await.unwrap();
            assert_eq!(jobs.len(), 1, "day {day}");
            let done = state.queue.wait(&[jobs[0].id], std::time::Duration::from_secs(60)).await.unwrap();
            let run = alm_server::services::domain_sync::run_of(&state.db, &done[0]).await.unwrap().expect("a run");
            assert_eq!((run.outcome.as_str(), run.mode.as_str()), ("succeeded", mode), "day {day}");
        }

        // Turning the schedule off.
        let (_, d) = admin.patch(&format!("/api/v1/domains/{id}"), json!({"sync_time": ""})).await;
        assert!(d["sync_time"].is_null() && d["next_sync_at"].is_null(), "{d}");
        s.stop().await;
    }
}

on_both_backends! {
    async fn a_dc_that_stops_in_the_middle_of_a_sync_disables_nobody(backend: Backend) {
        use alm_directory::{Directory, NewUser};
        let s = TestServer::start(backend).await;
        let admin = s.admin();
        let dir = ad::connect();
        let ou = ad::test_ou(&dir, "midsync").await;
        let tag = uuid::Uuid::new_v4().simple().to_string()[..6].to_owned();
        // Long descriptions make the users' part of the read the bulk of the bytes, so cutting
        // at half of a full sync's bytes cuts inside the read of the accounts.
        let account = |name: String| NewUser {
            parent_dn: ou.clone(),
            sam_account_name: name.clone(),
            user_principal_name: format!("{name}@corp.example.test"),
            description: Some("x".repeat(1000)),
            attributes: vec![("mail".into(), vec![format!("{name}@example.test")])],
            password: alm_directory::password::PasswordPolicy::default().generate("p", ""),
            enabled: true,
            account_expires: alm_core::filetime::AccountExpires::Never,
        };
        let mut members = Vec::new();
        for n in 1..=3 {
            members.push(dir.create_user(&account(format!("m{n}{tag}"))).await.unwrap().dn);
        }
        for n in 1..=12 {
            dir.create_user(&account(format!("f{n}{tag}"))).await.unwrap();
        }
        dir.create_group(&format!("team{tag}"), &ou, &members).await.unwrap();

        let relay = Relay::start().await;
        relay.open();
        let mut body = samba_domain("Through the relay");
        body["base_dn"] = json!(ou);
        body["url"] = json!(format!("ldaps://127.0.0.1:{}", relay.port));
        let (st, d) = admin.post("/api/v1/domains", body).await;
        assert_eq!(st, 201, "{d}");
        let id = d["id"].as_str().unwrap().to_owned();
        let (_, run) = admin.post_empty(&format!("/api/v1/domains/{id}/sync")).await;
        assert_eq!(run["outcome"], "succeeded", "{run}");
        let (_, groups) = admin.get(&format!("/api/v1/domains/{id}/objects?kind=group&q=team{tag}")).await;
        let team = groups["items"][0]["guid"].as_str().unwrap().to_owned();
        admin.put(&format!("/api/v1/domains/{id}/user-sync"), json!({"group_guids": [team], "max_disable_percent": 100})).await;
        s.clock.advance(time::Duration::minutes(1));
        let (_, run) = admin.post_empty(&format!("/api/v1/domains/{id}/sync?mode=full")).await;
        assert_eq!((run["outcome"].as_str(), run["users_created"].as_u64()), (Some("succeeded"), Some(3)), "{run}");
        let full_sync_bytes = relay.last_bytes();

        // Two members leave in the directory; then the DC dies halfway through the next read.
        dir.set_enabled(&members[0], false).await.unwrap();
        dir.set_enabled(&members[1], false).await.unwrap();
        relay.cut_after(full_sync_bytes / 2);
        s.clock.advance(time::Duration::minutes(1));
        let objects_before = admin.get(&format!("/api/v1/domains/{id}/objects?limit=500")).await.1;
        let (_, run) = admin.post_empty(&format!("/api/v1/domains/{id}/sync?mode=full")).await;
        assert_eq!(run["outcome"], "failed", "the cut read fails the run: {run}");
        assert!(relay.last_bytes() > 0 && relay.last_bytes() < full_sync_bytes, "the DC answered part of the read");
        let (_, enabled) = admin.get(&format!("/api/v1/users?q={tag}&enabled=true")).await;
        assert_eq!(enabled["total"], 3, "nobody was disabled by a sync that did not finish");
        let objects_after = admin.get(&format!("/api/v1/domains/{id}/objects?limit=500")).await.1;
        assert_eq!(objects_before, objects_after, "and nothing synced changed");

        // The DC back: the same sync now disables the two who left (the test could fail).
        relay.cut_after(0);
        s.clock.advance(time::Duration::minutes(1));
        let (_, run) = admin.post_empty(&format!("/api/v1/domains/{id}/sync?mode=full")).await;
        assert_eq!((run["outcome"].as_str(), run["users_disabled"].as_u64()), (Some("succeeded"), Some(2)), "{run}");
        s.stop().await;
    }
}

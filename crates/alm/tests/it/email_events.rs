//! Every email event of SPEC §7.1 reaches exactly the recipients the SPEC's table gives it, in
//! one table: each event is caused for real (API calls, the in-process engine against the
//! Samba DC, directory syncs, lifecycle sweeps), the mail read back from aiosmtpd, and per
//! event the people who got it compared with the table's. The SPEC's "none" rows reach nobody
//! — no email, no inbox entry — until an administrator enables them; then the system
//! administrators (all of them: the test has two).

use crate::notifications::start;
use crate::provisioning::synced_reader;
use crate::provisioning_recovery::failing_gmsa_request;
use crate::support::smtp::SmtpSink;
use crate::support::world::{definition, world, World};
use crate::support::{on_both_backends, Api, TestServer};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const ADMIN: &str = "admin@example.test";
const SECOND_ADMIN: &str = "sa2@example.test";
const REQUESTER: &str = "req@example.test";
const STEP_1: [&str; 3] = [
    "appr1@example.test",
    "appr2@example.test",
    "appr3@example.test",
];
const STEP_2: &str = "final@example.test";

/// The events SPEC §7.1 lists with "none" as default recipients.
const OPT_IN: [&str; 5] = [
    "template.published",
    "template.unpublished",
    "template.deactivated",
    "request.submitted",
    "request.queued-for-provisioning",
];

/// Waits until the outbox has nothing pending and the SMTP server holds every sent message;
/// returns the sent messages: event → recipients (sorted, each once) and how many there were.
async fn settled(s: &TestServer, sink: &SmtpSink) -> (BTreeMap<String, BTreeSet<String>>, usize) {
    for _ in 0..600 {
        let (_, pending) = s.admin().get("/api/v1/outbox?status=pending").await;
        let (_, sent) = s.admin().get("/api/v1/outbox?status=sent&limit=500").await;
        let sent = sent["items"].as_array().unwrap().clone();
        if pending["items"].as_array().unwrap().is_empty() && sink.mails().len() == sent.len() {
            let mut by_event: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for m in &sent {
                by_event
                    .entry(m["event"].as_str().unwrap().to_owned())
                    .or_default()
                    .insert(m["recipient"].as_str().unwrap().to_owned());
            }
            return (by_event, sent.len());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("mail did not settle; received {:?}", sink.mails());
}

async fn publish(admin: &Api, name: &str, d: Value) -> String {
    let (st, t) = admin
        .post("/api/v1/templates", json!({"name": name, "definition": d}))
        .await;
    assert_eq!(st, 201, "{t}");
    let id = t["id"].as_str().unwrap().to_owned();
    let (st, t) = admin
        .post_empty(&format!("/api/v1/templates/{id}/publish"))
        .await;
    assert_eq!(st, 200, "{t}");
    id
}

async fn submitted(w: &World, template: &str, name: &str) -> String {
    let (st, r) = w
        .requester
        .post(
            "/api/v1/requests",
            json!({"template_id": template, "account_name": name, "interval": "90d",
                   "justification": "events", "attributes": {"department": "IT"}, "terms_accepted": true}),
        )
        .await;
    assert_eq!(st, 201, "{r}");
    let id = r["id"].as_str().unwrap().to_owned();
    let (st, r) = w
        .requester
        .post_empty(&format!("/api/v1/requests/{id}/submit"))
        .await;
    assert_eq!(st, 200, "{r}");
    id
}

/// Approves both steps and waits until the account exists.
async fn provisioned(w: &World, id: &str) {
    for api in [&w.approver_apis[0], &w.approver_apis[1], &w.final_api] {
        let (st, r) = api
            .post(&format!("/api/v1/approvals/{id}/approve"), json!({}))
            .await;
        assert_eq!(st, 200, "{r}");
    }
    for _ in 0..600 {
        let (_, r) = w.requester.get(&format!("/api/v1/requests/{id}")).await;
        if r["state"] == "provisioned" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("request {id} was not provisioned");
}

fn set(people: &[&str]) -> BTreeSet<String> {
    people.iter().map(|p| p.to_string()).collect()
}

on_both_backends! {
    async fn every_email_event_reaches_exactly_its_recipients(backend: Backend) {
        let sink = SmtpSink::start().await;
        let s = start(backend, sink.port).await;
        let admin = s.admin();
        let w = world(&s).await;
        let tag = uuid::Uuid::new_v4().simple().to_string()[..6].to_owned();
        // "System administrators" is every holder of the role, not the first one.
        let (second, _) = s.user_with_token("Second admin", SECOND_ADMIN).await;
        let sysadmin_role = s.role_id("system-administrator").await;
        let (st, r) = admin.post(&format!("/api/v1/roles/{sysadmin_role}/members"), json!({"user_id": second})).await;
        assert_eq!(st, 204, "{r}");

        // user.welcome: a user created with the welcome email; one created without gets none.
        for (name, email, welcome) in [("Newcomer", "new@example.test", true), ("Quiet", "quiet@example.test", false)] {
            let (st, u) = admin.post("/api/v1/users", json!({"display_name": name, "emails": [email], "welcome_email": welcome})).await;
            assert_eq!(st, 201, "{u}");
        }

        // template.needs-approval: an author without workflow-manage asks; an administrator
        // then publishes it (template.published, "none" by default).
        let (author, token) = s.user_with_token("Author", "author@example.test").await;
        let (_, role) = admin.post("/api/v1/roles", json!({"name": "Template author",
            "permissions": ["provision-template:create", "provision-template:read", "provision-template:update"]})).await;
        admin.post(&format!("/api/v1/roles/{}/members", role["id"].as_str().unwrap()), json!({"user_id": author})).await;
        let author = Api::with_token(&s.base, &token);
        let (st, t) = author.post("/api/v1/templates", json!({"name": "Authored", "definition": definition(&w)})).await;
        assert_eq!(st, 201, "{t}");
        let authored = t["id"].as_str().unwrap().to_owned();
        let (_, t) = author.post_empty(&format!("/api/v1/templates/{authored}/publish")).await;
        assert_eq!(t["version"]["state"], "needs-approval", "{t}");
        assert_eq!(admin.post_empty(&format!("/api/v1/templates/{authored}/publish")).await.0, 200);

        // The request events: one request provisioned (submitted, both steps, approved,
        // queued, provisioned), one rejected at step 1, one that fails for good.
        let mut d = definition(&w);
        d["lifecycle"] = json!({"intervals": ["90d"], "renewal_window_days": 15, "notify_renewal_open": true,
                                "reminder_every_days": 7, "urgent_every_hours": 12, "urgent_from_days": 2,
                                "include_admins_in_reminders": true});
        let template = publish(&admin, "Events", d).await;
        let id = submitted(&w, &template, &format!("ev{tag}")).await;
        provisioned(&w, &id).await;
        let rejected = submitted(&w, &template, &format!("rj{tag}")).await;
        let (st, r2) = w.approver_apis[0].post(&format!("/api/v1/approvals/{rejected}/deny"), json!({"reason": "not now"})).await;
        assert_eq!(st, 200, "{r2}");
        let (_, failing) = failing_gmsa_request(&s, &w, &format!("f{tag}")).await;
        for _ in 0..600 {
            if w.requester.get(&format!("/api/v1/requests/{failing}")).await.1["state"] == "provisioning-failed" { break; }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        // account.ownership-changed: the owner adds a second owner; both hear of it.
        let (_, found) = admin.get(&format!("/api/v1/accounts?q=svc-ev{tag}")).await;
        let account = found["items"][0]["id"].as_str().map(str::to_owned).unwrap_or_else(|| panic!("{found}"));
        let (st, p) = w.requester.post(&format!("/api/v1/accounts/{account}/owners"), json!({"user_id": w.approver_ids[0]})).await;
        assert_eq!(st, 200, "{p}");

        // domain.*: a synced user (welcomed; the sync also finds it and its group, made
        // outside alm), then disabled in the directory and by the next sync.
        let parent = w.ou.split_once(',').unwrap().1.to_owned();
        let (_, _) = synced_reader(&s, &w, &parent, &tag).await;
        let reader = format!("reader.{tag}@example.test");
        let dir = crate::support::ad::connect();
        let entry = alm_directory::Directory::find(&dir, &alm_directory::Lookup::SamAccountName(format!("rd{tag}"))).await.unwrap().unwrap();
        alm_directory::Directory::set_enabled(&dir, &entry.dn, false).await.unwrap();
        s.clock.advance(time::Duration::minutes(1));
        let (_, run) = admin.post_empty(&format!("/api/v1/domains/{}/sync", w.domain)).await;
        assert_eq!(run["users_disabled"], 1, "{run}");

        // account.requires-renewal / reminder / urgent-reminder: the clock walked to each.
        settled(&s, &sink).await;
        let (_, a) = admin.get(&format!("/api/v1/accounts/{account}")).await;
        let eol = time::OffsetDateTime::parse(a["eol_at"].as_str().unwrap(), &time::format_description::well_known::Rfc3339).unwrap();
        for before_eol in [time::Duration::days(15) - time::Duration::hours(1), time::Duration::days(8), time::Duration::hours(36)] {
            s.clock.set(eol - before_eol);
            let (st, sw) = admin.post_empty("/api/v1/scheduler/sweep").await;
            assert_eq!(st, 200, "{sw}");
        }

        // SPEC §7.1, column "default recipients", written out.
        let sysadmins = set(&[ADMIN, SECOND_ADMIN]);
        let owners_and_admins = set(&[REQUESTER, STEP_1[0], ADMIN, SECOND_ADMIN]);
        let mut step_approvers = set(&STEP_1);
        step_approvers.insert(STEP_2.to_owned());
        let table: Vec<(&str, BTreeSet<String>)> = vec![
            ("user.welcome", set(&["new@example.test", &reader])),
            ("template.needs-approval", sysadmins.clone()),
            ("template.published", set(&[])),
            ("template.unpublished", set(&[])),
            ("template.deactivated", set(&[])),
            ("request.submitted", set(&[])),
            ("request.step-requires-approval", step_approvers),
            ("request.approved", set(&[REQUESTER])),
            ("request.rejected", set(&[REQUESTER])),
            ("request.queued-for-provisioning", set(&[])),
            ("request.provisioned", set(&[REQUESTER])),
            ("request.provisioning-failed", set(&[REQUESTER])),
            // Old and new owners.
            ("account.ownership-changed", set(&[REQUESTER, STEP_1[0]])),
            // Owners, and the system administrators because the template says so.
            ("account.requires-renewal", owners_and_admins.clone()),
            ("account.reminder", owners_and_admins.clone()),
            ("account.urgent-reminder", owners_and_admins),
            ("domain.new-external-accounts", sysadmins.clone()),
            ("domain.users-disabled-by-sync", sysadmins.clone()),
        ];
        let (got, _) = settled(&s, &sink).await;
        for (event, expected) in &table {
            let reached = got.get(*event).cloned().unwrap_or_default();
            assert_eq!(&reached, expected, "{event}: who got it\nall: {got:?}");
        }
        let listed: BTreeSet<&str> = table.iter().map(|(e, _)| *e).collect();
        for event in got.keys() {
            assert!(listed.contains(event.as_str()) || event == "request.provisioning-retrying",
                    "{event} is not in SPEC §7.1's table: {got:?}");
        }
        // A "none" event reaches no inbox either.
        let (_, inbox) = admin.get("/api/v1/inbox?limit=500").await;
        let events: BTreeSet<&str> = inbox["items"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
        for e in OPT_IN {
            assert!(!events.contains(e), "{e} in an inbox while off: {inbox}");
        }

        // Enabled by an administrator, the "none" events go to the system administrators.
        for e in OPT_IN {
            let (st, t) = admin.put(&format!("/api/v1/email-templates/{e}"), json!({"enabled": true})).await;
            assert_eq!((st, t["recipients"].as_str()), (200, Some("system-administrators-when-enabled")), "{t}");
        }
        let (_, before) = admin.get("/api/v1/outbox?status=sent&limit=500").await;
        let seen: BTreeSet<String> = before["items"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect();
        let second_template = publish(&admin, "Events two", definition(&w)).await;
        let third = submitted(&w, &second_template, &format!("ev2{tag}")).await;
        provisioned(&w, &third).await;
        for action in ["unpublish", "disable"] {
            assert_eq!(admin.post_empty(&format!("/api/v1/templates/{second_template}/{action}")).await.0, 200, "{action}");
        }
        settled(&s, &sink).await;
        let (_, after) = admin.get("/api/v1/outbox?status=sent&limit=500").await;
        let mut enabled: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for m in after["items"].as_array().unwrap().iter().filter(|m| !seen.contains(m["id"].as_str().unwrap())) {
            enabled.entry(m["event"].as_str().unwrap().to_owned()).or_default().insert(m["recipient"].as_str().unwrap().to_owned());
        }
        for e in OPT_IN {
            assert_eq!(enabled.get(e), Some(&sysadmins), "{e} once enabled: {enabled:?}");
        }
        let (_, inbox) = admin.get("/api/v1/inbox?limit=500").await;
        assert!(inbox["items"].as_array().unwrap().iter().any(|e| e["event"] == "request.submitted"), "{inbox}");
        s.stop().await;
    }
}

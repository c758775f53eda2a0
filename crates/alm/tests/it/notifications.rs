//! Notifications (SPEC §7.1–§7.3) against a real SMTP server (aiosmtpd): the core flow sends
//! exactly the expected emails to exactly the expected people; editable texts are checked and
//! previewed; a disabled email still reaches the inbox; an SMTP outage never blocks a request
//! and its mail is delivered once the server is back.

use crate::support::relay::Relay;
use crate::support::smtp::{Mail, SmtpSink};
use crate::support::{on_both_backends, TestServer};
use crate::templates::{definition, world, World};
use alm_directory::password::Generate as _;
use serde_json::{json, Value};
use std::time::Duration;

pub(crate) async fn start(backend: crate::support::db::Backend, smtp_port: u16) -> TestServer {
    let settings = [
        ("ALM_SMTP__HOST", "127.0.0.1".to_string()),
        ("ALM_SMTP__PORT", smtp_port.to_string()),
        ("ALM_SMTP__SECURITY", "none".into()),
        ("ALM_SMTP__FROM", "alm@example.test".into()),
        // Sweeps happen when a test asks (POST /scheduler/sweep), at the instants it chose.
        ("ALM_SCHEDULER__ENABLED", "false".into()),
    ];
    let refs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TestServer::start_with(backend, &refs).await
}

async fn publish(s: &TestServer, w: &World) -> String {
    let (st, t) = s
        .admin()
        .post(
            "/api/v1/templates",
            json!({"name": "Mailed", "definition": definition(w)}),
        )
        .await;
    assert_eq!(st, 201, "{t}");
    let id = t["id"].as_str().unwrap().to_owned();
    assert_eq!(
        s.admin()
            .post_empty(&format!("/api/v1/templates/{id}/publish"))
            .await
            .0,
        200
    );
    id
}

async fn submit(w: &World, template: &str, name: &str) -> String {
    let (st, r) = w
        .requester
        .post(
            "/api/v1/requests",
            json!({"template_id": template, "account_name": name, "interval": "90d",
        "justification": "mail", "attributes": {"department": "IT"}, "terms_accepted": true}),
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

/// Waits until `n` mails arrived and nothing is left to send.
pub(crate) async fn mails(s: &TestServer, sink: &SmtpSink, n: usize) -> Vec<Mail> {
    mails_via(&s.admin(), sink, n, &String::new).await
}

/// Waits until the sink has at least `n` mails and the server behind `api` has none pending;
/// `logs` adds the servers' logs to the failure.
async fn mails_via(
    api: &crate::support::Api,
    sink: &SmtpSink,
    n: usize,
    logs: &dyn Fn() -> String,
) -> Vec<Mail> {
    for _ in 0..600 {
        let (_, pending) = api.get("/api/v1/outbox?status=pending").await;
        let got = sink.mails();
        if got.len() >= n && pending["items"].as_array().is_some_and(|p| p.is_empty()) {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("expected {n} mails, got {:?}\n{}", sink.mails(), logs());
}

pub(crate) fn who_got(mails: &[Mail], subject_start: &str) -> Vec<String> {
    let mut to: Vec<String> = mails
        .iter()
        .filter(|m| m.subject.starts_with(subject_start))
        .map(|m| m.to.clone())
        .collect();
    to.sort();
    to
}

on_both_backends! {
    async fn the_core_flow_mails_exactly_the_expected_people(backend: Backend) {
        let sink = SmtpSink::start().await;
        let s = start(backend, sink.port).await;
        let admin = s.admin();
        let w = world(&s).await;

        // Texts are checked and previewed; the "approved" email is switched off.
        let (st, bad) = admin.put("/api/v1/email-templates/request.rejected", json!({"body": "Because {{request.why}}"})).await;
        assert_eq!((st, bad["errors"][0]["field"].as_str()), (422, Some("body")), "{bad}");
        let (_, preview) = admin.post("/api/v1/email-templates/request.rejected/preview", json!({"subject": "No: {{request.account_name}}"})).await;
        assert_eq!(preview["subject"], "No: <request.account_name>", "{preview}");
        let (st, t) = admin.put("/api/v1/email-templates/request.approved", json!({"enabled": false})).await;
        assert_eq!((st, t["enabled"].as_bool()), (200, Some(false)), "{t}");
        let (st, t) = admin.put("/api/v1/email-templates/request.provisioned",
            json!({"subject": "Ready: {{request.account_name}}", "body": "{{request.account_name}} is yours. {{request.url}}"})).await;
        assert_eq!(st, 200, "{t}");
        assert_eq!(admin.put("/api/v1/email-templates/no.such-event", json!({"enabled": true})).await.0, 404);

        let template = publish(&s, &w).await;
        let name_part = format!("m{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
        let id = submit(&w, &template, &name_part).await;
        let got = mails(&s, &sink, 3).await;
        assert_eq!(who_got(&got, "Approval needed"), ["appr1@example.test", "appr2@example.test", "appr3@example.test"], "step 1: {got:?}");
        for api in [&w.approver_apis[0], &w.approver_apis[1], &w.final_api] {
            assert_eq!(api.post(&format!("/api/v1/approvals/{id}/approve"), json!({})).await.0, 200);
        }
        for _ in 0..600 {
            if w.requester.get(&format!("/api/v1/requests/{id}")).await.1["state"] == "provisioned" { break; }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let got = mails(&s, &sink, 5).await;
        let account = format!("svc-{name_part}");
        assert_eq!(got.len(), 5, "exactly these mails: {got:?}");
        assert_eq!(who_got(&got, "Approval needed"), ["appr1@example.test", "appr2@example.test", "appr3@example.test", "final@example.test"]);
        assert_eq!(who_got(&got, &format!("Ready: {account}")), ["req@example.test"], "the edited text: {got:?}");
        assert!(got.iter().any(|m| m.subject.starts_with("Ready:") && m.body.contains(&format!("/api/v1/requests/{id}"))), "{got:?}");
        assert!(who_got(&got, "Approved").is_empty(), "switched off");

        // The inbox has every event, the switched-off one too, with unread counts.
        let (_, inbox) = w.requester.get("/api/v1/inbox").await;
        let mut events: Vec<&str> = inbox["items"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
        events.sort();
        assert_eq!(events, ["request.approved", "request.provisioned"], "{inbox}");
        assert_eq!(inbox["unread"]["requests"], 2);
        let first = inbox["items"][0]["id"].as_str().unwrap().to_owned();
        assert_eq!(w.requester.post_empty(&format!("/api/v1/inbox/{first}/read")).await.0, 200);
        assert_eq!(w.requester.post_empty(&format!("/api/v1/inbox/{first}/read")).await.0, 404, "read already");
        assert_eq!(w.outsider.post_empty(&format!("/api/v1/inbox/{}/read", inbox["items"][1]["id"].as_str().unwrap())).await.0, 404, "not theirs");
        let (_, inbox) = w.requester.get("/api/v1/inbox?unread=true").await;
        assert_eq!((inbox["items"].as_array().unwrap().len(), inbox["unread"]["requests"].as_i64()), (1, Some(1)), "{inbox}");
        let (_, approver) = w.approver_apis[0].get("/api/v1/inbox").await;
        assert_eq!(approver["unread"]["approvals"], 1, "{approver}");
        s.stop().await;
    }
}

on_both_backends! {
    async fn an_smtp_outage_never_blocks_a_request_and_the_mail_arrives_later(backend: Backend) {
        let sink = SmtpSink::start().await;
        let relay = Relay::start_to(format!("127.0.0.1:{}", sink.port)).await;
        relay.refuse();
        let s = start(backend, relay.port).await;
        let w = world(&s).await;
        let template = publish(&s, &w).await;
        let id = submit(&w, &template, &format!("o{}", &uuid::Uuid::new_v4().simple().to_string()[..6])).await;
        let (_, r) = w.requester.get(&format!("/api/v1/requests/{id}")).await;
        assert_eq!(r["state"], "pending-approval", "the request went on");

        // Tried, failed, waiting with the reason.
        let mut waiting = Value::Null;
        for _ in 0..600 {
            let (_, pending) = s.admin().get("/api/v1/outbox?status=pending").await;
            if pending["items"].as_array().unwrap().len() == 3 && pending["items"].as_array().unwrap().iter().all(|m| m["attempts"].as_i64() >= Some(1)) {
                waiting = pending["items"].clone();
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(waiting[0]["last_error"].is_string(), "{waiting}");
        assert!(sink.mails().is_empty());

        // The server is back: the next attempts (after the back-off) deliver all three.
        relay.open();
        s.clock.advance(time::Duration::hours(1));
        let got = mails(&s, &sink, 3).await;
        assert_eq!(who_got(&got, "Approval needed"), ["appr1@example.test", "appr2@example.test", "appr3@example.test"]);
        let (_, sent) = s.admin().get("/api/v1/outbox?status=sent").await;
        assert_eq!(sent["items"].as_array().unwrap().len(), 3, "{sent}");
        s.stop().await;
    }
}

on_both_backends! {
    async fn a_user_sync_that_leaves_an_account_without_an_owner_alerts_the_administrators(backend: Backend) {
        let sink = SmtpSink::start().await;
        let s = start(backend, sink.port).await;
        let admin = s.admin();
        let w = world(&s).await;
        let tag = uuid::Uuid::new_v4().simple().to_string()[..6].to_owned();
        let parent = w.ou.split_once(',').unwrap().1.to_owned();
        let (owner, _) = crate::provisioning::synced_reader(&s, &w, &parent, &tag).await;
        // Two accounts: one owned by the synced user alone, one with a second, local owner.
        let template = publish(&s, &w).await;
        let mut names = Vec::new();
        for (i, extra) in [None, Some(w.requester_id.clone())].into_iter().enumerate() {
            let id = uuid::Uuid::new_v4();
            let name = format!("orph{i}{tag}");
            let state = s.state();
            let now = alm_core::Clock::now(s.clock.as_ref());
            let mut tx = state.db.begin_write().await.unwrap();
            alm_store::accounts::insert(&mut tx, &alm_store::accounts::AccountRecord {
                id, domain_id: w.domain.parse().unwrap(), name: name.clone(), dn: format!("CN={name},{}", w.ou),
                guid: uuid::Uuid::new_v4().to_string(), account_type: alm_core::templates::AccountType::AdUser, description: String::new(),
                status: alm_core::lifecycle::Status::Active, template_id: template.parse().unwrap(), template_version: 1, request_id: None,
                interval: "90d".parse().unwrap(), eol_action: alm_core::templates::EolAction::Expire, lifecycle_start: now, eol_at: now,
                vault_id: w.vault.parse().unwrap(), secret_ref: format!("x/{name}"), directory_state: alm_core::account_state::DirectoryState::Present,
                secret_state: alm_core::account_state::SecretState::Present, created_at: now, updated_at: now, status_before: None, problem: None,
            }).await.unwrap();
            for o in std::iter::once(owner.clone()).chain(extra) {
                alm_store::accounts::add_owner(&mut tx, id, alm_store::accounts::Owner::User(o.parse().unwrap()), now).await.unwrap();
            }
            tx.commit().await.unwrap();
            names.push(name);
        }
        let dir = crate::support::ad::connect();
        let entry = alm_directory::Directory::find(&dir, &alm_directory::Lookup::SamAccountName(format!("rd{tag}"))).await.unwrap().unwrap();
        alm_directory::Directory::set_enabled(&dir, &entry.dn, false).await.unwrap();
        s.clock.advance(time::Duration::minutes(1));
        let (_, run) = admin.post_empty(&format!("/api/v1/domains/{}/sync", w.domain)).await;
        assert_eq!(run["users_disabled"], 1, "{run}");

        let (_, orphaned) = admin.get("/api/v1/accounts?orphaned=true").await;
        let listed: Vec<&str> = orphaned["items"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
        assert_eq!(listed, [names[0].as_str()], "only the account with no enabled owner left");
        let (_, alert) = admin.get("/api/v1/audit?action=account.orphaned").await;
        assert_eq!((alert["total"].as_i64(), &alert["items"][0]["summary"]["alert"]), (Some(1), &json!(true)), "{alert}");
        let got = mails(&s, &sink, 1).await;
        let alerts: Vec<&Mail> = got.iter().filter(|m| m.subject.contains("user(s) disabled")).collect();
        assert_eq!(alerts.len(), 1, "{got:?}");
        assert_eq!(alerts[0].to, "admin@example.test");
        assert!(alerts[0].subject.ends_with(": 1 user(s) disabled, 1 account(s) without an owner"), "{:?}", alerts[0].subject);
        assert!(alerts[0].body.contains(&names[0]) && !alerts[0].body.contains(&names[1]), "{:?}", alerts[0].body);
        let (_, inbox) = admin.get("/api/v1/inbox").await;
        assert!(inbox["items"].as_array().unwrap().iter().any(|e| e["event"] == "domain.users-disabled-by-sync"), "{inbox}");
        s.stop().await;
    }
}

/// A second server on the same database (a restarted process, or another replica): its own
/// connection pool and queue, the same data directory (hence the same master key).
async fn replica(s: &TestServer) -> alm_server::AppState {
    let mut env = std::collections::BTreeMap::new();
    env.insert("ALM_DATABASE__URL".to_string(), s.db.url.clone());
    env.insert("ALM_SCHEDULER__ENABLED".to_string(), "false".to_string());
    let config = alm_server::config::Config::load(
        None,
        &env,
        &alm_server::config::Overrides {
            listen: Some("127.0.0.1:0".into()),
            data_dir: Some(s.db.dir.clone()),
        },
    )
    .unwrap();
    alm_server::build_state(config, s.clock.clone())
        .await
        .unwrap()
}

on_both_backends! {
    async fn reminders_follow_the_template_exactly_once_across_restarts_and_replicas(backend: Backend) {
        use alm_server::services::lifecycle::sweep;
        use time::macros::datetime;
        let sink = SmtpSink::start().await;
        let s = start(backend, sink.port).await;
        let w = world(&s).await;
        let mut d = definition(&w);
        d["eol_action"] = json!("review");
        d["lifecycle"] = json!({"intervals": ["90d"], "renewal_window_days": 15, "notify_renewal_open": true,
                                "reminder_every_days": 7, "urgent_every_hours": 12, "urgent_from_days": 2});
        let name_part = format!("rem{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
        let account = crate::lifecycle::provisioned_from(&s, &w, d, &name_part).await;
        let name = account["name"].as_str().unwrap().to_owned();
        assert_eq!(account["eol_at"], "2027-02-27T00:00:00Z");
        let before = mails(&s, &sink, 6).await.len(); // approvals, approved, created
        let first = s.state().queue.clone();

        // Day by day to the urgent window, then hour by hour past EOL. Halfway, a "restart":
        // a new server state on the same database takes over; in the urgent window, on
        // PostgreSQL, two replicas sweep at every instant (SQLite is one process per file).
        let mut now = datetime!(2026-11-30 10:00 UTC);
        let mut second: Option<alm_server::AppState> = None;
        while now <= datetime!(2027-03-01 12:00 UTC) {
            s.clock.set(now);
            if now >= datetime!(2027-02-16 10:00 UTC) && second.is_none() {
                second = Some(replica(&s).await);
            }
            match &second {
                None => { sweep(&first).await.unwrap(); }
                Some(other) if now < datetime!(2027-02-24 10:00 UTC) || backend == crate::support::db::Backend::Sqlite => {
                    sweep(&other.queue).await.unwrap();
                }
                Some(other) => {
                    let (a, b) = tokio::join!(sweep(&first), sweep(&other.queue));
                    a.unwrap();
                    b.unwrap();
                }
            }
            now += if now < datetime!(2027-02-24 10:00 UTC) { time::Duration::days(1) } else { time::Duration::hours(1) };
        }
        // Every reminder the template's schedule has, once each: renewal open on 2027-02-12,
        // a reminder on 02-19 (02-26 falls in the urgent window), urgent ones every 12 hours
        // from 02-25 00:00 until EOL (4).
        let got = mails(&s, &sink, before + 6).await;
        let eol = "2027-02-27T00:00:00Z";
        assert_eq!(who_got(&got, &format!("Renewal open: {name} ends {eol}")), ["req@example.test"], "{got:?}");
        assert_eq!(who_got(&got, &format!("Reminder: {name}")), ["req@example.test"], "{got:?}");
        assert_eq!(who_got(&got, &format!("Urgent: {name}")), ["req@example.test"; 4], "{got:?}");
        assert_eq!(got.len(), before + 6, "nothing else, nothing twice: {got:?}");
        if let Some(other) = second { other.db.close().await; }
        s.stop().await;
    }
}

/// As [`mails_via`], then a little longer, to see that nothing more arrives.
async fn settled_mails(
    api: &crate::support::Api,
    sink: &SmtpSink,
    n: usize,
    logs: &dyn Fn() -> String,
) -> Vec<Mail> {
    mails_via(api, sink, n, logs).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    sink.mails()
}

/// SPEC §4.4 and §12 with real processes: two `alm serve` processes on one PostgreSQL, their
/// wall clock walked together from outside (libfaketime), both sweeping at every instant; one
/// of them killed (SIGKILL) and started again halfway. The template's reminders arrive once each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_alm_processes_on_one_postgresql_send_each_reminder_once() {
    use crate::support::process::{AlmProcess, SharedClock};
    use time::macros::datetime;
    let sink = SmtpSink::start().await;
    let mut s = start(crate::support::Backend::Postgres, sink.port).await;
    let w = world(&s).await;
    let mut d = definition(&w);
    d["eol_action"] = json!("review");
    d["lifecycle"] = json!({"intervals": ["90d"], "renewal_window_days": 15, "notify_renewal_open": true,
                            "reminder_every_days": 7, "urgent_every_hours": 12, "urgent_from_days": 2});
    let name_part = format!("rep{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
    let account = crate::lifecycle::provisioned_from(&s, &w, d, &name_part).await;
    let name = account["name"].as_str().unwrap().to_owned();
    assert_eq!(account["eol_at"], "2027-02-27T00:00:00Z");
    let before = mails(&s, &sink, 6).await.len(); // approvals, approved, created
    s.halt().await; // from here on only the two processes run

    let dir = s.db.dir.join("processes");
    std::fs::create_dir_all(&dir).unwrap();
    let clock = SharedClock::new(&dir, datetime!(2026-11-30 10:00 UTC));
    let env = vec![
        ("ALM_DATABASE__URL", s.db.url.clone()),
        ("ALM_DATA_DIR", s.db.dir.display().to_string()),
        (
            "ALM_ADMIN_EMAIL",
            crate::support::server::ADMIN_EMAIL.to_owned(),
        ),
        ("ALM_SMTP__HOST", "127.0.0.1".into()),
        ("ALM_SMTP__PORT", sink.port.to_string()),
        ("ALM_SMTP__SECURITY", "none".into()),
        ("ALM_SMTP__FROM", "alm@example.test".into()),
        // Sweeps happen when the test asks, on both processes at once.
        ("ALM_SCHEDULER__ENABLED", "false".into()),
    ];
    let mut a = AlmProcess::start("a", &dir, &clock, &env);
    let b = AlmProcess::start("b", &dir, &clock, &env);
    let logs = |a: &AlmProcess, b: &AlmProcess| {
        format!("--- a ---\n{}\n--- b ---\n{}", a.log_text(), b.log_text())
    };
    let api = |p: &AlmProcess| crate::support::Api::with_token(&p.base, &s.admin_token);
    let mut restarted = false;
    let mut now = datetime!(2026-11-30 10:00 UTC);
    while now <= datetime!(2027-03-01 12:00 UTC) {
        clock.set(now);
        if now >= datetime!(2027-02-16 10:00 UTC) && !restarted {
            // A restart, not a crash mid-delivery (SMTP has no exactly-once): the outbox idle,
            // then the process killed without a graceful shutdown.
            let sent = sink.mails().len();
            settled_mails(&api(&a), &sink, sent, &|| logs(&a, &b)).await;
            a.kill();
            a = AlmProcess::start("a2", &dir, &clock, &env);
            restarted = true;
        }
        let (x, y) = (api(&a), api(&b));
        let mails_before = sink.mails().len();
        let (ra, rb) = tokio::join!(
            x.post_empty("/api/v1/scheduler/sweep"),
            y.post_empty("/api/v1/scheduler/sweep")
        );
        assert!(
            ra.0 == 200 && rb.0 == 200,
            "at {now}: {ra:?} {rb:?}\n{}",
            logs(&a, &b)
        );
        let queued = ra.1["reminders_sent"].as_u64().unwrap_or(0)
            + rb.1["reminders_sent"].as_u64().unwrap_or(0);
        if queued > 0 {
            // The clock moves on only once the mail is out: an outbox lease (2 minutes on the
            // wall clock) must not expire under a delivery in flight because the test jumped
            // an hour in a millisecond — real replicas share a clock that moves at one second
            // per second.
            settled_mails(&api(&a), &sink, mails_before + queued as usize, &|| {
                logs(&a, &b)
            })
            .await;
        }
        now += if now < datetime!(2027-02-24 10:00 UTC) {
            time::Duration::days(1)
        } else {
            time::Duration::hours(1)
        };
    }
    // Renewal open on 02-12, a reminder on 02-19, urgent ones every 12 hours from 02-25 00:00
    // until EOL (4): six, once each, whichever process sent them.
    let got = settled_mails(&api(&a), &sink, before + 6, &|| logs(&a, &b)).await;
    let eol = "2027-02-27T00:00:00Z";
    assert_eq!(
        who_got(&got, &format!("Renewal open: {name} ends {eol}")),
        ["req@example.test"],
        "{got:?}"
    );
    assert_eq!(
        who_got(&got, &format!("Reminder: {name}")),
        ["req@example.test"],
        "{got:?}"
    );
    assert_eq!(
        who_got(&got, &format!("Urgent: {name}")),
        ["req@example.test"; 4],
        "{got:?}"
    );
    assert_eq!(
        got.len(),
        before + 6,
        "nothing else, nothing twice: {got:?}"
    );
    a.kill();
    b.kill();
    s.stop().await;
}

on_both_backends! {
    async fn one_replica_leads_the_scheduler_at_a_time(backend: Backend) {
        use alm_store::leader::Leadership;
        let s = start(backend, 1).await;
        let other = replica(&s).await;
        let lead = Leadership::acquire(&s.state().db).await.unwrap();
        assert!(lead.is_some(), "the first asks and leads");
        let second = Leadership::acquire(&other.db).await.unwrap();
        if backend == crate::support::db::Backend::Postgres {
            assert!(second.is_none(), "one PostgreSQL: the other replica waits");
            drop(lead);
            let mut took = None;
            for _ in 0..50 {
                took = Leadership::acquire(&other.db).await.unwrap();
                if took.is_some() { break; }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert!(took.is_some(), "the leader gone, the other takes over");
        } else {
            assert!(second.is_some(), "SQLite: one process per database file, it leads");
        }
        other.db.close().await;
        s.stop().await;
    }
}

on_both_backends! {
    async fn accounts_that_appear_outside_alm_are_announced_after_a_sync(backend: Backend) {
        let sink = SmtpSink::start().await;
        let s = start(backend, sink.port).await;
        let admin = s.admin();
        let w = world(&s).await; // its first sync found everything: no announcement
        let dir = crate::support::ad::connect();
        let tag = &uuid::Uuid::new_v4().simple().to_string()[..6];
        let name = format!("shadow{tag}");
        alm_directory::Directory::create_user(&dir, &alm_directory::NewUser {
            parent_dn: w.ou.clone(), sam_account_name: name.clone(), user_principal_name: format!("{name}@corp.example.test"),
            description: None, attributes: vec![], password: alm_directory::password::PasswordPolicy::default().generate("s", ""),
            enabled: true, account_expires: alm_core::filetime::AccountExpires::Never,
        }).await.unwrap();
        s.clock.advance(time::Duration::minutes(1));
        let (_, run) = admin.post_empty(&format!("/api/v1/domains/{}/sync", w.domain)).await;
        assert_eq!(run["outcome"], "succeeded", "{run}");
        s.clock.advance(time::Duration::minutes(1));
        admin.post_empty(&format!("/api/v1/domains/{}/sync", w.domain)).await; // nothing new
        let got = mails(&s, &sink, 1).await;
        let news: Vec<&Mail> = got.iter().filter(|m| m.subject.contains("not managed by alm")).collect();
        assert_eq!(news.len(), 1, "one announcement, none for the first sync or an idle one: {got:?}");
        assert_eq!(news[0].to, "admin@example.test");
        assert!(news[0].subject.ends_with(": 1 new account(s) not managed by alm") && news[0].body.contains(&name), "{:?}", news[0]);
        s.stop().await;
    }
}

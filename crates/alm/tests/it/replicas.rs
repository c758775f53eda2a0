//! Replicas behind a load balancer (SPEC §12): three real `alm serve` processes on one
//! PostgreSQL behind Debian's nginx, configured with the README's server block and its upstream
//! block. Through the balancer a request goes from submission through three approvals to an
//! account in Samba; a session opened through the balancer is valid on every replica; each
//! mail of the flow arrives once although three outbox workers share the outbox; exactly one
//! replica leads the scheduler, and when it is killed another one takes over while the
//! balancer keeps answering.

use crate::https::TestCa;
use crate::notifications::{start, who_got};
use crate::oidc::free_port;
use crate::reverse_proxy::{readme_nginx_block, start_nginx_with};
use crate::support::process::AlmProcess;
use crate::support::server::{ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::support::smtp::SmtpSink;
use crate::support::{Api, Backend};
use crate::templates::{definition, world};
use serde_json::json;
use std::time::Duration;

const LEADS: &str = "scheduler: this process leads the lifecycle sweeps";

/// An API client of the balancer (trusting the test CA) with `token`.
fn through(base: &str, ca_pem: &str, token: Option<&str>) -> Api {
    Api {
        token: token.map(str::to_owned),
        ..Api::anonymous_trusting(base, ca_pem)
    }
}

fn logs(replicas: &[AlmProcess]) -> String {
    replicas
        .iter()
        .map(|r| format!("--- {} ---\n{}", r.base, r.log_text()))
        .collect()
}

/// The replicas whose log says they lead the scheduler.
fn leaders(replicas: &[AlmProcess]) -> Vec<usize> {
    (0..replicas.len())
        .filter(|i| replicas[*i].log_text().contains(LEADS))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_behind_nginx_share_sessions_the_queue_the_outbox_and_the_scheduler() {
    let sink = SmtpSink::start().await;
    let mut s = start(Backend::Postgres, sink.port).await;
    let w = world(&s).await;
    let (st, t) = s
        .admin()
        .post(
            "/api/v1/templates",
            json!({"name": "Replicated", "definition": definition(&w)}),
        )
        .await;
    assert_eq!(st, 201, "{t}");
    let template = t["id"].as_str().unwrap().to_owned();
    let (st, _) = s
        .admin()
        .post_empty(&format!("/api/v1/templates/{template}/publish"))
        .await;
    assert_eq!(st, 200);
    s.halt().await; // from here on only the replicas run

    let dir = s.db.dir.join("replicas");
    std::fs::create_dir_all(&dir).unwrap();
    let ca = TestCa::new(&dir);
    let (cert, key) = ca.leaf("balancer");
    let port = free_port();
    let public = format!("https://localhost:{port}");
    let env = vec![
        ("ALM_DATABASE__URL", s.db.url.clone()),
        ("ALM_PUBLIC_URL", public.clone()),
        ("ALM_AUTH__TRUSTED_PROXIES", "127.0.0.1".into()),
        ("ALM_SMTP__HOST", "127.0.0.1".into()),
        ("ALM_SMTP__PORT", sink.port.to_string()),
        ("ALM_SMTP__SECURITY", "none".into()),
        ("ALM_SMTP__FROM", "alm@example.test".into()),
        ("ALM_SCHEDULER__INTERVAL_SECONDS", "1".into()),
    ];
    let mut replicas: Vec<AlmProcess> = (0..3)
        .map(|i| AlmProcess::start_on_real_clock(&format!("replica-{i}"), &s.db.dir, &env))
        .collect();
    let addresses: Vec<String> = replicas
        .iter()
        .map(|r| r.base.trim_start_matches("http://").to_owned())
        .collect();
    // The README's upstream block, the example addresses replaced by the replicas' ones.
    let mut upstream = readme_nginx_block("upstream alm {");
    for (example, real) in ["10.0.0.11:8080", "10.0.0.12:8080", "10.0.0.13:8080"]
        .iter()
        .zip(&addresses)
    {
        assert!(upstream.contains(example), "{upstream}");
        upstream = upstream.replace(example, real);
    }
    let _nginx = start_nginx_with(&dir, port, &cert, &key, |server| {
        format!(
            "{upstream}\n{}",
            server.replace("http://127.0.0.1:8080", "http://alm")
        )
    });
    let pem = ca.pem();

    // Exactly one replica leads the sweeps.
    let mut lead = Vec::new();
    for _ in 0..100 {
        lead = leaders(&replicas);
        if !lead.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await; // three more tries by the others
    assert_eq!(leaders(&replicas), lead, "{}", logs(&replicas));
    assert_eq!(lead.len(), 1, "{}", logs(&replicas));

    // A session opened through the balancer is valid on every replica.
    let login = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
        .build()
        .unwrap()
        .post(format!("{public}/api/v1/auth/login"))
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status().as_u16(), 200, "{}", logs(&replicas));
    let cookie = login.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    for replica in &replicas {
        let me = reqwest::Client::new()
            .get(format!("{}/api/v1/me", replica.base))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status().as_u16(), 200, "on {}", replica.base);
        let me: serde_json::Value = me.json().await.unwrap();
        assert_eq!(me["user"]["emails"][0], ADMIN_EMAIL, "{me}");
    }

    // The flow through the balancer: submitted, three approvals, provisioned by whichever
    // replica's engine leased the job; every mail once.
    let requester = through(&public, &pem, w.requester.token.as_deref());
    let name_part = format!("rp{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
    let (st, r) = requester
        .post(
            "/api/v1/requests",
            json!({"template_id": template, "account_name": name_part, "interval": "90d",
                   "justification": "replicas", "attributes": {"department": "IT"}, "terms_accepted": true}),
        )
        .await;
    assert_eq!(st, 201, "{r}");
    let id = r["id"].as_str().unwrap().to_owned();
    let (st, r) = requester
        .post_empty(&format!("/api/v1/requests/{id}/submit"))
        .await;
    assert_eq!(st, 200, "{r}");
    for approver in w.approver_apis[..2].iter().chain([&w.final_api]) {
        let api = through(&public, &pem, approver.token.as_deref());
        let (st, r) = api
            .post(&format!("/api/v1/approvals/{id}/approve"), json!({}))
            .await;
        assert_eq!(st, 200, "{r}\n{}", logs(&replicas));
    }
    let mut state = serde_json::Value::Null;
    for _ in 0..600 {
        state = requester.get(&format!("/api/v1/requests/{id}")).await.1["state"].clone();
        if state == "provisioned" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(state, "provisioned", "{}", logs(&replicas));
    let account = format!("svc-{name_part}");
    let dir_entry = alm_directory::Directory::find(
        &crate::support::ad::connect(),
        &alm_directory::Lookup::SamAccountName(account.clone()),
    )
    .await
    .unwrap();
    assert!(dir_entry.is_some(), "{account} is in Samba");
    // Approval needed ×4 (three in step 1, the final approver), approved, provisioned.
    for _ in 0..300 {
        if sink.mails().len() >= 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await; // time for a duplicate to arrive
    let got = sink.mails();
    assert_eq!(
        who_got(&got, "Approval needed"),
        [
            "appr1@example.test",
            "appr2@example.test",
            "appr3@example.test",
            "final@example.test"
        ],
        "{got:?}"
    );
    assert_eq!(got.len(), 6, "each mail once: {got:?}\n{}", logs(&replicas));

    // The leader killed: another replica leads, and the balancer goes on answering.
    let dead = replicas.remove(lead[0]);
    dead.kill();
    let mut next = Vec::new();
    for _ in 0..200 {
        next = leaders(&replicas);
        if !next.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(next.len(), 1, "a new leader: {}", logs(&replicas));
    let reader = through(&public, &pem, w.requester.token.as_deref());
    for _ in 0..6 {
        let (st, r) = reader.get(&format!("/api/v1/requests/{id}")).await;
        assert_eq!((st, r["state"].as_str()), (200, Some("provisioned")), "{r}");
    }
    drop(replicas);
    s.stop().await;
}

//! A database opened with another master key than the one that sealed its secrets (a backup
//! restored without its `master.key`) refuses to start and names where the key came from;
//! `secrets.read_only_recovery` starts it read-only: reads work, changes answer 503, `/readyz`
//! is red, nothing runs in the background.

use crate::support::{ad, on_both_backends, Api, TestServer};
use alm_server::config::{Config, Overrides};
use serde_json::json;
use std::collections::BTreeMap;

fn config(s: &TestServer, extra: &[(&str, String)]) -> Config {
    let mut env = BTreeMap::from([("ALM_DATABASE__URL".to_owned(), s.db.url.clone())]);
    for (k, v) in extra {
        env.insert((*k).to_owned(), v.clone());
    }
    Config::load(
        None,
        &env,
        &Overrides {
            listen: Some("127.0.0.1:0".into()),
            data_dir: Some(s.db.dir.clone()),
        },
    )
    .expect("valid configuration")
}

fn another_key() -> String {
    uuid::Uuid::new_v4().simple().to_string() + &uuid::Uuid::new_v4().simple().to_string()
}

async fn starts(s: &TestServer, extra: &[(&str, String)]) -> Result<alm_server::AppState, String> {
    alm_server::build_state(config(s, extra), s.clock.clone())
        .await
        .map_err(|e| format!("{e:#}"))
}

on_both_backends! {
    async fn another_master_key_refuses_to_start_unless_asked_to_run_read_only(backend: Backend) {
        let mut s = TestServer::start(backend).await;
        let c = ad::config();
        let (st, d) = s.admin().post("/api/v1/domains", json!({"name": "Corp", "url": c.url, "bind_identity": c.bind_identity,
            "bind_password": c.bind_password.expose(), "ca_pem": c.ca_pem, "base_dn": c.base_dn})).await;
        assert_eq!(st, 201, "{d}");
        s.halt().await;

        // Another key file: refused, naming the file and what to do.
        let other = s.db.dir.join("restored-without-its.key");
        std::fs::write(&other, another_key()).unwrap();
        let e = starts(&s, &[("ALM_SECRETS__MASTER_KEY_FILE", other.display().to_string())]).await.err().expect("refused");
        assert!(e.contains(&other.display().to_string()) && e.contains("does not open") && e.contains("read_only_recovery"), "{e}");
        // A key from the environment: named as such.
        let e = starts(&s, &[("ALM_SECRETS__MASTER_KEY", another_key())]).await.err().expect("refused");
        assert!(e.contains("ALM_SECRETS__MASTER_KEY") && e.contains("does not open"), "{e}");

        // A database from before the check value: one stored secret is tried instead.
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&s.db.url).await.unwrap();
        let removed = sqlx::query("DELETE FROM key_check").execute(&mut conn).await.unwrap().rows_affected();
        assert_eq!(removed, 1, "the first start wrote the check value");
        let e = starts(&s, &[("ALM_SECRETS__MASTER_KEY_FILE", other.display().to_string())]).await.err().expect("refused");
        assert!(e.contains("the bind password of domain"), "{e}");

        // Read-only for recovery: reads work, changes and readiness say why.
        let state = starts(&s, &[("ALM_SECRETS__MASTER_KEY_FILE", other.display().to_string()),
                                 ("ALM_SECRETS__READ_ONLY_RECOVERY", "true".into())]).await.expect("starts read-only");
        let server = alm_server::start(state, "127.0.0.1:0").await.expect("serves");
        let base = format!("http://{}", server.addr);
        let api = Api::with_token(&base, &s.admin_token);
        let (st, domains) = api.get("/api/v1/domains").await;
        assert_eq!((st, domains["items"][0]["name"].as_str()), (200, Some("Corp")), "{domains}");
        let (st, p) = api.post("/api/v1/users", json!({"display_name": "Ada", "emails": ["ada@example.test"]})).await;
        assert_eq!((st, p["type"].as_str()), (503, Some("urn:alm:problem:read-only")), "{p}");
        assert!(p["detail"].as_str().unwrap().contains("does not open"), "{p}");
        let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
        assert_eq!(ready.status(), 503);
        server.shutdown().await.expect("clean shutdown");

        // The right key starts as before (the check value is written again).
        let state = starts(&s, &[]).await.expect("the original key opens it");
        assert!(state.read_only.is_none());
    }
}

//! Vaults against real servers: an OpenBao dev server (KV v2) and moto's Secrets Manager with
//! signature checking switched on, both started by `scripts/test.sh`.

use alm_core::{FixedClock, Secret};
use alm_vault::aws::{AwsConfig, AwsSecretsManager};
use alm_vault::openbao::{OpenBaoConfig, OpenBaoVault};
use alm_vault::{Vault, VaultError, VaultSecret};
use std::sync::Arc;
use std::time::Duration;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: vault tests need the peers `bash scripts/test.sh` starts")
    })
}

fn openbao(token: &str) -> OpenBaoVault {
    OpenBaoVault::new(OpenBaoConfig {
        address: env("ALMTEST_OPENBAO_ADDR"),
        token: Secret::new(token),
        mount: "secret".into(),
        namespace: None,
        ca_pem: None,
        timeout: Duration::from_secs(10),
    })
    .unwrap()
}

fn aws(secret_key: &str) -> AwsSecretsManager {
    // Signatures carry a time: the clock is the real time, injected like everywhere else.
    let clock = Arc::new(FixedClock::new(alm_core::Clock::now(
        &alm_core::SystemClock,
    )));
    AwsSecretsManager::new(
        AwsConfig {
            region: env("ALMTEST_MOTO_REGION"),
            access_key_id: env("ALMTEST_MOTO_ACCESS_KEY_ID"),
            secret_access_key: Secret::new(secret_key),
            endpoint: Some(env("ALMTEST_MOTO_ENDPOINT")),
            ca_pem: None,
            timeout: Duration::from_secs(10),
        },
        clock,
    )
    .unwrap()
}

fn secret(user: &str, password: &str) -> VaultSecret {
    VaultSecret {
        domain: "corp.example.test".into(),
        username: user.into(),
        password: Secret::new(password),
        notes: "created by the tests".into(),
    }
}

/// Every operation of the trait, the same way for every vault.
async fn round_trip(vault: &dyn Vault, folder: &str) {
    vault.check().await.expect("credentials work");
    assert!(
        vault.find(folder, "svc-a").await.unwrap().is_none(),
        "nothing there yet"
    );
    assert!(vault.list(folder).await.unwrap().is_empty());
    let id = vault
        .put(folder, "svc-a", &secret("svc-a", "First-Passw0rd!"))
        .await
        .unwrap();
    assert_eq!(
        vault.find(folder, "svc-a").await.unwrap(),
        Some(id.clone()),
        "look before you create finds it"
    );
    let read = vault.get(&id).await.unwrap().expect("stored");
    assert_eq!(
        (
            read.username.as_str(),
            read.password.expose(),
            read.domain.as_str()
        ),
        ("svc-a", "First-Passw0rd!", "corp.example.test")
    );
    let again = vault
        .put(folder, "svc-a", &secret("svc-a", "Second-Passw0rd!"))
        .await
        .unwrap();
    assert_eq!(again, id, "a second put updates the same secret");
    assert_eq!(
        vault.get(&id).await.unwrap().unwrap().password.expose(),
        "Second-Passw0rd!"
    );
    vault
        .put(folder, "svc-b", &secret("svc-b", "Other-Passw0rd!"))
        .await
        .unwrap();
    assert_eq!(
        vault.list(folder).await.unwrap(),
        vec!["svc-a".to_owned(), "svc-b".to_owned()]
    );
    vault.delete(&id).await.unwrap();
    assert!(vault.get(&id).await.unwrap().is_none());
    vault
        .delete(&id)
        .await
        .expect("deleting a deleted secret is not an error");
    assert_eq!(vault.list(folder).await.unwrap(), vec!["svc-b".to_owned()]);
}

fn folder(prefix: &str) -> String {
    format!(
        "{prefix}/t-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

#[tokio::test]
async fn openbao_stores_reads_updates_lists_and_deletes() {
    round_trip(&openbao(&env("ALMTEST_OPENBAO_TOKEN")), &folder("alm")).await;
}

#[tokio::test]
async fn openbao_least_privilege_token_works_inside_its_path_only() {
    let restricted = openbao(&env("ALMTEST_OPENBAO_ALM_TOKEN"));
    round_trip(&restricted, &folder("alm")).await;
    let e = restricted
        .put(&folder("other"), "svc", &secret("svc", "Passw0rd!x"))
        .await
        .unwrap_err();
    assert!(matches!(e, VaultError::Forbidden { .. }), "{e}");
    let e = openbao("not-a-token").check().await.unwrap_err();
    assert!(matches!(e, VaultError::Unauthorized { .. }), "{e}");
    let mut unreachable = OpenBaoConfig {
        address: "http://127.0.0.1:9".into(),
        token: Secret::new("x"),
        mount: "secret".into(),
        namespace: None,
        ca_pem: None,
        timeout: Duration::from_secs(5),
    };
    let e = OpenBaoVault::new(unreachable.clone())
        .unwrap()
        .check()
        .await
        .unwrap_err();
    assert!(matches!(e, VaultError::Unreachable { .. }), "{e}");
    unreachable.address = "ftp://vault".into();
    assert!(matches!(
        OpenBaoVault::new(unreachable).unwrap_err(),
        VaultError::Config(_)
    ));
}

#[tokio::test]
async fn aws_secrets_manager_works_with_correct_signatures() {
    round_trip(&aws(&env("ALMTEST_MOTO_SECRET_ACCESS_KEY")), &folder("alm")).await;
}

#[tokio::test]
async fn aws_secrets_manager_refuses_a_wrong_secret_key() {
    let wrong = aws("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    let e = wrong.check().await.unwrap_err();
    assert!(matches!(e, VaultError::Unauthorized { .. }), "{e}");
    let e = wrong
        .put(&folder("alm"), "svc", &secret("svc", "Passw0rd!x"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, VaultError::Unauthorized { .. }),
        "a write is refused too: {e}"
    );
    assert!(!e.to_string().contains("Passw0rd"), "{e}");
}

mod through_the_server {
    use super::*;
    use crate::support::{on_both_backends, TestServer};
    use serde_json::json;

    on_both_backends! {
        async fn the_builtin_vault_seals_entries_in_alms_database(backend: Backend) {
            let s = TestServer::start(backend).await;
            let (_, vaults) = s.admin().get("/api/v1/vaults").await;
            let builtin = vaults["items"].as_array().unwrap().iter().find(|v| v["kind"] == "builtin").expect("created at first start").clone();
            let id: alm_core::VaultId = builtin["id"].as_str().unwrap().parse().unwrap();
            let state = s.state();
            let clock: Arc<dyn alm_core::Clock> = s.clock.clone();
            let vault = alm_server::services::vaults::BuiltinVault::new(state.db.clone(), state.master_key.clone(), clock, id);
            round_trip(&vault, &folder("alm")).await;
            vault.put("alm", "kept", &secret("kept", "Kept-Passw0rd!")).await.unwrap();
            sqlx::any::install_default_drivers();
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&s.db.url).await.unwrap();
            let sealed: String = sqlx::query_scalar("SELECT payload_sealed FROM builtin_vault_entries WHERE name = 'kept'").fetch_one(&mut conn).await.unwrap();
            assert!(sealed.starts_with("v1:") && !sealed.contains("Kept-Passw0rd"), "sealed at rest");
            let (st, _) = s.admin().delete(&format!("/api/v1/vaults/{id}")).await;
            assert_eq!(st, 409, "the built-in vault stays");
            s.stop().await;
        }
    }

    on_both_backends! {
        async fn external_vaults_are_configured_checked_and_refused_field_by_field(backend: Backend) {
            let s = TestServer::start(backend).await;
            let admin = s.admin();
            let (st, bao) = admin.post("/api/v1/vaults", json!({"name": "OpenBao", "kind": "openbao", "address": env("ALMTEST_OPENBAO_ADDR"), "credential": env("ALMTEST_OPENBAO_ALM_TOKEN")})).await;
            assert_eq!(st, 201, "{bao}");
            assert!(!bao.to_string().contains(&env("ALMTEST_OPENBAO_ALM_TOKEN")) && bao["has_credential"] == true);
            let bao_id = bao["id"].as_str().unwrap();
            let (_, check) = admin.post_empty(&format!("/api/v1/vaults/{bao_id}/check")).await;
            assert_eq!(check["ok"], true, "{check}");
            admin.patch(&format!("/api/v1/vaults/{bao_id}"), json!({"credential": "not-a-token"})).await;
            let (_, check) = admin.post_empty(&format!("/api/v1/vaults/{bao_id}/check")).await;
            assert_eq!((check["ok"].as_bool(), check["problem"].as_str()), (Some(false), Some("bad-credentials")), "{check}");

            let (st, aws) = admin.post("/api/v1/vaults", json!({"name": "AWS", "kind": "aws-secrets-manager", "region": env("ALMTEST_MOTO_REGION"),
                "access_key_id": env("ALMTEST_MOTO_ACCESS_KEY_ID"), "endpoint": env("ALMTEST_MOTO_ENDPOINT"), "credential": env("ALMTEST_MOTO_SECRET_ACCESS_KEY")})).await;
            assert_eq!(st, 201, "{aws}");
            let (_, check) = admin.post_empty(&format!("/api/v1/vaults/{}/check", aws["id"].as_str().unwrap())).await;
            assert_eq!(check["ok"], true, "{check}");

            for (body, field) in [
                (json!({"name": "X", "kind": "cyberark", "credential": "t"}), "kind"),
                (json!({"name": "X", "kind": "azure-key-vault", "tenant_id": "t", "client_id": "c", "credential": "t"}), "address"),
                (json!({"name": "X", "kind": "azure-key-vault", "address": "https://v.vault.azure.net", "client_id": "c", "credential": "t"}), "tenant_id"),
                (json!({"name": "X", "kind": "azure-key-vault", "address": "https://v.vault.azure.net", "tenant_id": "a/b", "client_id": "c", "credential": "t"}), "tenant_id"),
                (json!({"name": "X", "kind": "azure-key-vault", "address": "https://v.vault.azure.net", "tenant_id": "t", "client_id": "c", "authority": "login", "credential": "t"}), "authority"),
                (json!({"name": "X", "kind": "delinea-secret-server", "address": "https://ss.example.com", "credential": "t"}), "folder_id"),
                (json!({"name": "X", "kind": "delinea-secret-server", "address": "https://ss.example.com", "folder_id": 0, "credential": "t"}), "folder_id"),
                (json!({"name": "X", "kind": "delinea-secret-server", "address": "ss.example.com", "folder_id": 7, "credential": "t"}), "address"),
                (json!({"name": "X", "kind": "delinea-devops-secrets-vault", "address": "https://t.secretsvaultcloud.com", "credential": "t"}), "client_id"),
                (json!({"name": "X", "kind": "delinea-devops-secrets-vault", "address": "https://t.secretsvaultcloud.com", "client_id": "c"}), "credential"),
                (json!({"name": "X", "kind": "openbao", "credential": "t"}), "address"),
                (json!({"name": "X", "kind": "openbao", "address": "vault.example.com", "credential": "t"}), "address"),
                (json!({"name": "X", "kind": "aws-secrets-manager", "region": "EU West", "access_key_id": "k", "credential": "t"}), "region"),
                (json!({"name": "X", "kind": "openbao", "address": "https://vault.example.com"}), "credential"),
                (json!({"name": "openbao", "kind": "openbao", "address": "https://vault.example.com", "credential": "t"}), "name"),
            ] {
                let (st, problem) = admin.post("/api/v1/vaults", body.clone()).await;
                assert!(st == 422 || st == 409, "{body}: {st}");
                assert_eq!(problem["errors"][0]["field"].as_str(), Some(field), "{body}: {problem}");
            }
            // The Azure and Delinea kinds are stored with their settings, the secret never shown.
            for body in [
                json!({"name": "Azure", "kind": "azure-key-vault", "address": "https://v.vault.azure.net", "tenant_id": "contoso.onmicrosoft.com",
                       "client_id": "11111111-2222-3333-4444-555555555555", "credential": "client-secret-value"}),
                json!({"name": "Secret Server", "kind": "delinea-secret-server", "address": "https://ss.example.com/SecretServer", "folder_id": 7,
                       "username": "alm-svc", "credential": "client-secret-value"}),
                json!({"name": "DSV", "kind": "delinea-devops-secrets-vault", "address": "https://t.secretsvaultcloud.com", "client_id": "c-1",
                       "credential": "client-secret-value"}),
            ] {
                let (st, v) = admin.post("/api/v1/vaults", body.clone()).await;
                assert_eq!(st, 201, "{body}: {v}");
                assert!(!v.to_string().contains("client-secret-value") && v["has_credential"] == true, "{v}");
                assert_eq!(v["kind"], body["kind"]);
            }
            let (_, list) = admin.get("/api/v1/vaults").await;
            assert_eq!(list["items"].as_array().unwrap().len(), 6, "built-in, OpenBao, AWS, Azure, Secret Server, DSV and nothing else");
            assert!(list["items"].as_array().unwrap().iter().any(|v| v["folder_id"] == 7 && v["username"] == "alm-svc"), "{list}");
            s.stop().await;
        }
    }

    on_both_backends! {
        /// Every vault is synced daily unless told otherwise (SPEC §7.6), by one process, as
        /// the system, with its pool's engines calibrated first (SPEC §5); a sync that cannot
        /// read the vault is tried again at the next hourly check; a bad time is refused at its
        /// field and an empty one switches the schedule off.
        async fn vaults_are_synced_daily_with_their_engines_calibrated(backend: Backend) {
            use alm_server::services::scheduled_sync::{claim_due_vaults, run_vault_sync};
            let s = TestServer::start(backend).await;
            let admin = s.admin();
            let state = s.state();
            // The test clock says 2026-11-29 10:00 UTC. The built-in vault, scheduled at first
            // start, is placed by the first check, not run.
            assert!(claim_due_vaults(&state.queue).await.unwrap().is_empty());
            let (_, list) = admin.get("/api/v1/vaults").await;
            let builtin = &list["items"][0];
            assert_eq!((builtin["sync_time"].as_str(), builtin["next_sync_at"].as_str()), (Some("03:00"), Some("2026-11-30T03:00:00Z")), "{builtin}");

            let body = json!({"name": "OpenBao", "kind": "openbao", "address": env("ALMTEST_OPENBAO_ADDR"), "credential": env("ALMTEST_OPENBAO_ALM_TOKEN")});
            let (st, bao) = admin.post("/api/v1/vaults", body).await;
            assert_eq!(st, 201, "{bao}");
            assert_eq!((bao["sync_time"].as_str(), bao["next_sync_at"].as_str()), (Some("03:00"), Some("2026-11-30T03:00:00Z")), "daily by default: {bao}");
            let id = bao["id"].as_str().unwrap().to_owned();
            assert!(claim_due_vaults(&state.queue).await.unwrap().is_empty(), "not due yet");

            // Due: claimed once (a second check, as another replica's, gets nothing), run as
            // the system with a calibration, and due again tomorrow.
            s.clock.set(time::macros::datetime!(2026-11-30 04:00 UTC));
            let claimed = claim_due_vaults(&state.queue).await.unwrap();
            assert_eq!(claimed.len(), 2, "the built-in vault and OpenBao: {claimed:?}");
            assert!(claim_due_vaults(&state.queue).await.unwrap().is_empty(), "claimed once");
            let bao_id: alm_core::VaultId = id.parse().unwrap();
            let outcome = run_vault_sync(&state.queue, bao_id).await.unwrap();
            assert!(outcome.error.is_none(), "{:?}", outcome.error);
            let calibration = outcome.calibration.expect("the pool's engines calibrated");
            assert!(calibration.ok, "{}", calibration.message);
            let (_, v) = admin.get(&format!("/api/v1/vaults/{id}")).await;
            assert_eq!(v["next_sync_at"], "2026-12-01T03:00:00Z", "{v}");
            let (_, audit) = admin.get(&format!("/api/v1/audit?action=vault.synced&object_id={id}")).await;
            assert_eq!(audit["items"][0]["actor_kind"], "system", "{audit}");
            let (_, cal) = admin.get(&format!("/api/v1/vaults/{id}/calibration")).await;
            assert_eq!((cal["items"][0]["ok"].as_bool(), cal["items"][0]["checked_at"].as_str()), (Some(true), Some("2026-11-30T04:00:00Z")), "calibrated by the scheduled sync: {cal}");

            // The vault unreachable the next night: the sync says so and is due at the next
            // hourly check, not tomorrow.
            let dead = format!("http://127.0.0.1:{}", crate::oidc::free_port());
            let (st, v) = admin.patch(&format!("/api/v1/vaults/{id}"), json!({"address": dead, "credential": env("ALMTEST_OPENBAO_ALM_TOKEN")})).await;
            assert_eq!(st, 200, "{v}");
            s.clock.set(time::macros::datetime!(2026-12-01 04:00 UTC));
            let claimed = claim_due_vaults(&state.queue).await.unwrap();
            assert!(claimed.contains(&bao_id), "{claimed:?}");
            let outcome = run_vault_sync(&state.queue, bao_id).await.unwrap();
            assert!(!alm_server::services::scheduled_sync::vault_read(&outcome), "the vault could not be read: {:?}", outcome.calibration);
            assert_eq!(outcome.calibration.as_ref().and_then(|c| c.problem.as_deref()), Some("unreachable"));
            s.clock.set(time::macros::datetime!(2026-12-01 05:00 UTC));
            assert_eq!(claim_due_vaults(&state.queue).await.unwrap(), [bao_id], "tried again an hour later");

            // A time that is none is refused at its field and changes nothing; empty: off.
            let (st, problem) = admin.patch(&format!("/api/v1/vaults/{id}"), json!({"sync_time": "25:00"})).await;
            assert_eq!((st, problem["errors"][0]["field"].as_str()), (422, Some("sync_time")), "{problem}");
            let (_, v) = admin.get(&format!("/api/v1/vaults/{id}")).await;
            assert_eq!(v["sync_time"], "03:00");
            let (st, v) = admin.patch(&format!("/api/v1/vaults/{id}"), json!({"sync_time": ""})).await;
            assert_eq!(st, 200, "{v}");
            assert!(v["sync_time"].is_null() && v["next_sync_at"].is_null(), "{v}");
            s.clock.set(time::macros::datetime!(2026-12-03 04:00 UTC));
            assert!(!claim_due_vaults(&state.queue).await.unwrap().contains(&bao_id), "off");
            s.stop().await;
        }
    }
}

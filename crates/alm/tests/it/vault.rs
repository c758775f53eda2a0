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

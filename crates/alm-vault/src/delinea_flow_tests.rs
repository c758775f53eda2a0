//! The Delinea clients' own flow (token, create or update, read, find, list, delete) against
//! in-memory stand-ins written from Delinea's documentation and its SDKs (`python-tss-sdk`,
//! `python-dsv-sdk`). No published API description of either product is on a registry, so
//! these prove alm's logic and parsing only — not what Delinea's servers accept (README).

use crate::devops_secrets_vault::{DevOpsSecretsVault, DsvConfig};
use crate::secret_server::{SecretServer, SecretServerAuth, SecretServerConfig};
use crate::test_http::{serve, Request};
use crate::{Vault, VaultError, VaultSecret};
use alm_core::{Clock, Secret};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn clock() -> Arc<dyn Clock> {
    Arc::new(alm_core::SystemClock)
}

fn secret(password: &str) -> VaultSecret {
    VaultSecret {
        domain: "corp.example.test".into(),
        username: "svc_db".into(),
        password: Secret::new(password),
        notes: "made by alm".into(),
    }
}

fn query(target: &str) -> BTreeMap<String, String> {
    let q = target.split_once('?').map(|(_, q)| q).unwrap_or("");
    url::form_urlencoded::parse(q.as_bytes())
        .into_owned()
        .collect()
}

/// DSV: `/v1/token` (JSON client credentials) and `/v1/secrets/<path>`.
async fn dsv_stand_in() -> String {
    let store: Arc<Mutex<BTreeMap<String, Value>>> = Arc::default();
    serve(move |req: Request| {
        let path = req.target.split('?').next().unwrap_or("").to_owned();
        if path == "/v1/token" {
            let b: Value = serde_json::from_str(&req.body).unwrap_or(Value::Null);
            return if b["grant_type"] == "client_credentials"
                && b["client_id"] == "c-1"
                && b["client_secret"] == "right-secret"
            {
                (
                    200,
                    json!({"accessToken": "dsv-token", "expiresIn": 3600, "tokenType": "bearer"})
                        .to_string(),
                )
            } else {
                (
                    401,
                    json!({"code": 401, "message": "unable to authenticate"}).to_string(),
                )
            };
        }
        if req.header("authorization") != Some("Bearer dsv-token") {
            return (401, json!({"message": "invalid token"}).to_string());
        }
        let mut store = store.lock().unwrap();
        if path == "/v1/secrets" && req.method == "GET" {
            let term = query(&req.target)
                .get("searchTerm")
                .cloned()
                .unwrap_or_default();
            let data: Vec<Value> = store
                .keys()
                .filter(|p| p.contains(&term))
                .map(|p| json!({"path": p}))
                .collect();
            return (
                200,
                json!({"data": data, "cursor": "", "length": data.len()}).to_string(),
            );
        }
        let Some(key) = path.strip_prefix("/v1/secrets/").map(str::to_owned) else {
            return (404, json!({"message": "no route"}).to_string());
        };
        let body: Value = serde_json::from_str(&req.body).unwrap_or(Value::Null);
        match (req.method.as_str(), store.contains_key(&key)) {
            ("POST", false) | ("PUT", true) => {
                store.insert(key.clone(), json!({"path": key, "data": body["data"]}));
                (200, store[&key].to_string())
            }
            ("POST", true) => (400, json!({"message": "secret already exists"}).to_string()),
            ("GET", true) => (200, store[&key].to_string()),
            ("DELETE", true) => {
                store.remove(&key);
                (200, "{}".into())
            }
            _ => (
                404,
                json!({"message": "unable to find item with specified identifier"}).to_string(),
            ),
        }
    })
    .await
}

fn dsv(address: &str, client_secret: &str) -> DevOpsSecretsVault {
    DevOpsSecretsVault::new(
        DsvConfig {
            address: address.into(),
            client_id: "c-1".into(),
            client_secret: Secret::new(client_secret),
            ca_pem: None,
            timeout: Duration::from_secs(10),
        },
        clock(),
    )
    .unwrap()
}

#[tokio::test]
async fn dsv_stores_reads_updates_lists_and_deletes() {
    let addr = dsv_stand_in().await;
    let v = dsv(&addr, "right-secret");
    v.check().await.unwrap();
    let id = v.put("alm/prod", "svc_db", &secret("one")).await.unwrap();
    assert_eq!(id.0, "alm/prod/svc_db");
    assert_eq!(v.get(&id).await.unwrap().unwrap().password.expose(), "one");
    assert_eq!(
        v.put("alm/prod", "svc_db", &secret("two")).await.unwrap(),
        id
    );
    let read = v.get(&id).await.unwrap().unwrap();
    assert_eq!(
        (
            read.password.expose(),
            read.domain.as_str(),
            read.notes.as_str()
        ),
        ("two", "corp.example.test", "made by alm")
    );
    v.put("alm/prod/deeper", "other", &secret("x"))
        .await
        .unwrap();
    assert_eq!(
        v.find("alm/prod", "svc_db").await.unwrap(),
        Some(id.clone())
    );
    assert_eq!(
        v.list("alm/prod").await.unwrap(),
        vec!["svc_db".to_owned()],
        "not the deeper one"
    );
    v.delete(&id).await.unwrap();
    v.delete(&id).await.unwrap();
    assert!(v.get(&id).await.unwrap().is_none());
    assert!(v.find("alm/prod", "svc_db").await.unwrap().is_none());
}

#[tokio::test]
async fn dsv_names_a_refused_client_secret_without_showing_it() {
    let addr = dsv_stand_in().await;
    let err = dsv(&addr, "wrong-secret-value").check().await.unwrap_err();
    assert!(matches!(err, VaultError::Unauthorized { .. }), "{err:?}");
    assert!(err.to_string().contains("unable to authenticate"), "{err}");
    assert!(!format!("{err} {err:?}").contains("wrong-secret-value"));
}

/// Secret Server: `/oauth2/token` (password grant) and `/api/v1/secrets…`.
async fn secret_server_stand_in() -> String {
    let store: Arc<Mutex<BTreeMap<u64, Value>>> = Arc::default();
    serve(move |req: Request| {
        let path = req.target.split('?').next().unwrap_or("").to_owned();
        if path == "/oauth2/token" {
            let form: BTreeMap<String, String> =
                url::form_urlencoded::parse(req.body.as_bytes()).into_owned().collect();
            let f = |k: &str| form.get(k).map(String::as_str);
            return if f("grant_type") == Some("password") && f("username") == Some("alm-svc") && f("password") == Some("right-password") {
                (200, json!({"access_token": "ss-token", "token_type": "bearer", "expires_in": 1199}).to_string())
            } else {
                (400, json!({"error": "Login failed."}).to_string())
            };
        }
        if req.header("authorization") != Some("Bearer ss-token") {
            return (401, json!({"message": "Authentication failed."}).to_string());
        }
        let q = query(&req.target);
        let mut store = store.lock().unwrap();
        match (req.method.as_str(), path.as_str()) {
            ("GET", "/api/v1/users/current") => (200, json!({"id": 3, "userName": "alm-svc"}).to_string()),
            ("GET", "/api/v1/secrets/stub") => {
                assert_eq!((q["filter.secretTemplateId"].as_str(), q["filter.folderId"].as_str()), ("6001", "7"));
                let items: Vec<Value> = ["domain", "username", "password", "notes", "heartbeat"]
                    .iter()
                    .map(|s| json!({"slug": s, "fieldName": s, "itemValue": ""}))
                    .collect();
                (200, json!({"id": 0, "name": "", "folderId": -1, "secretTemplateId": 6001, "items": items}).to_string())
            }
            ("GET", "/api/v1/secrets") => {
                assert_eq!(q["filter.folderId"], "7");
                let text = q.get("filter.searchText").cloned().unwrap_or_default();
                let records: Vec<Value> = store
                    .iter()
                    .filter(|(_, m)| m["name"].as_str().is_some_and(|n| n.contains(&text)))
                    .map(|(id, m)| json!({"id": id, "name": m["name"]}))
                    .collect();
                (200, json!({"records": records, "hasNext": false}).to_string())
            }
            ("GET", "/api/v1/secret-dependencies") => {
                // Secret 100 has two enabled dependencies, a disabled one and one without a
                // machine; secret 403 may not be read; others have none.
                match q["filter.secretId"].as_str() {
                    "100" => {
                        let records = json!([
                            {"id": 1, "secretId": 100, "machineName": "app1.corp.example.test", "serviceName": "MSSQLSERVER", "typeName": "Windows Service", "enabled": true},
                            {"id": 2, "secretId": 100, "machineName": "web1.corp.example.test", "serviceName": "BillingPool", "typeName": "IIS Application Pool", "enabled": true},
                            {"id": 3, "secretId": 100, "machineName": "old1.corp.example.test", "serviceName": "Retired", "typeName": "Windows Service", "enabled": false},
                            {"id": 4, "secretId": 100, "machineName": null, "serviceName": "NoMachine", "typeName": "PowerShell Script", "enabled": true}
                        ]);
                        (200, json!({"records": records, "hasNext": false}).to_string())
                    }
                    "403" => (403, json!({"message": "Access Denied"}).to_string()),
                    _ => (200, json!({"records": [], "hasNext": false}).to_string()),
                }
            }
            ("POST", "/api/v1/secrets") => {
                let mut model: Value = serde_json::from_str(&req.body).unwrap();
                let id = store.len() as u64 + 100;
                model["id"] = json!(id);
                store.insert(id, model.clone());
                (200, model.to_string())
            }
            (method, p) => {
                let Some(id) = p.strip_prefix("/api/v1/secrets/").and_then(|i| i.parse::<u64>().ok()) else {
                    return (404, json!({"message": "no route"}).to_string());
                };
                match (method, store.contains_key(&id)) {
                    ("GET", true) => (200, store[&id].to_string()),
                    ("PUT", true) => {
                        let model: Value = serde_json::from_str(&req.body).unwrap();
                        store.insert(id, model.clone());
                        (200, model.to_string())
                    }
                    ("DELETE", true) => {
                        store.remove(&id);
                        (200, json!({"id": id, "objectType": "Secret"}).to_string())
                    }
                    _ => (404, json!({"message": "Secret not found."}).to_string()),
                }
            }
        }
    })
    .await
}

fn secret_server(address: &str, password: &str) -> SecretServer {
    SecretServer::new(
        SecretServerConfig {
            address: address.into(),
            auth: SecretServerAuth::Password {
                username: "alm-svc".into(),
                password: Secret::new(password),
                domain: None,
            },
            folder_id: 7,
            template_id: 6001,
            ca_pem: None,
            timeout: Duration::from_secs(10),
        },
        clock(),
    )
    .unwrap()
}

#[tokio::test]
async fn secret_server_stores_reads_updates_lists_and_deletes() {
    let addr = secret_server_stand_in().await;
    let v = secret_server(&addr, "right-password");
    v.check().await.unwrap();
    let id = v.put("alm/prod", "svc_db", &secret("one")).await.unwrap();
    assert_eq!(v.get(&id).await.unwrap().unwrap().password.expose(), "one");
    assert_eq!(
        v.put("alm/prod", "svc_db", &secret("two")).await.unwrap(),
        id,
        "updated in place"
    );
    let read = v.get(&id).await.unwrap().unwrap();
    assert_eq!(
        (
            read.password.expose(),
            read.username.as_str(),
            read.notes.as_str()
        ),
        ("two", "svc_db", "made by alm")
    );
    v.put("alm/prod", "svc_db2", &secret("x")).await.unwrap();
    v.put("alm/prod/deeper", "svc_db", &secret("x"))
        .await
        .unwrap();
    assert_eq!(
        v.find("alm/prod", "svc_db").await.unwrap(),
        Some(id.clone())
    );
    assert_eq!(
        v.list("alm/prod").await.unwrap(),
        vec!["svc_db".to_owned(), "svc_db2".to_owned()]
    );
    v.delete(&id).await.unwrap();
    assert!(v.get(&id).await.unwrap().is_none());
    assert!(v.find("alm/prod", "svc_db").await.unwrap().is_none());
}

#[tokio::test]
async fn secret_server_names_a_refused_login_without_showing_the_password() {
    let addr = secret_server_stand_in().await;
    let err = secret_server(&addr, "wrong-password-value")
        .check()
        .await
        .unwrap_err();
    assert!(matches!(err, VaultError::Unauthorized { .. }), "{err:?}");
    assert!(err.to_string().contains("Login failed."), "{err}");
    assert!(!format!("{err} {err:?}").contains("wrong-password-value"));
}

#[tokio::test]
async fn secret_server_refuses_a_template_without_alm_fields() {
    let addr = serve(
        |req: Request| match req.target.split('?').next().unwrap_or("") {
            "/api/v1/secrets" => (200, json!({"records": [], "hasNext": false}).to_string()),
            "/api/v1/secrets/stub" => (
                200,
                json!({"items": [{"slug": "username", "itemValue": ""}]}).to_string(),
            ),
            _ => (404, "{}".into()),
        },
    )
    .await;
    let v = SecretServer::new(
        SecretServerConfig {
            address: addr,
            auth: SecretServerAuth::Token(Secret::new("given-token")),
            folder_id: 7,
            template_id: 2,
            ca_pem: None,
            timeout: Duration::from_secs(10),
        },
        clock(),
    )
    .unwrap();
    let err = v
        .put("alm", "svc", &secret("p"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("template_id") && err.contains("\"domain\""),
        "{err}"
    );
}

#[tokio::test]
async fn secret_server_reads_where_each_secret_is_used() {
    use crate::{SecretRef, VaultDependency};
    let addr = secret_server_stand_in().await;
    let v = secret_server(&addr, "right-password");
    let found = v.dependencies(&SecretRef("100".into())).await.unwrap();
    let dep = |host: &str, service: &str, kind: &str| VaultDependency {
        host: host.into(),
        service_name: service.into(),
        kind: kind.into(),
    };
    assert_eq!(
        found,
        Some(vec![
            dep("app1.corp.example.test", "MSSQLSERVER", "Windows Service"),
            dep(
                "web1.corp.example.test",
                "BillingPool",
                "IIS Application Pool"
            ),
        ]),
        "enabled ones with a machine only"
    );
    assert_eq!(
        v.dependencies(&SecretRef("101".into())).await.unwrap(),
        Some(vec![])
    );
    let denied = v.dependencies(&SecretRef("403".into())).await.unwrap_err();
    assert!(matches!(denied, VaultError::Forbidden { .. }), "{denied:?}");
    let bad = v
        .dependencies(&SecretRef("svc/x".into()))
        .await
        .unwrap_err();
    assert!(
        bad.to_string().contains("not a Secret Server secret id"),
        "{bad}"
    );
}

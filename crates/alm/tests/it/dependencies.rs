//! Where an account is used (issue 18 point 2, SPEC §2.7): the real `alm discover` scans the
//! SMB DC of `scripts/test.sh` (tests/peers/samba_smb.sh), whose WINS service runs as
//! `DOMAIN\svc_wins`, and imports; the managed account `svc_wins` then shows that service on
//! that host, in the API and on its page, and the disable and delete confirmations say
//! "Used by 1 service on 1 host" and name it. A scan without hosts changes nothing; its owner
//! sees the list, someone else gets "not found". What is expected comes from the peer's seed
//! (the service name `WINS`, the address the computer object points at), never from alm.
//!
//! And from a vault that records dependencies (Delinea Secret Server; a stand-in here, as no
//! Secret Server can run): a vault sync keeps what it records for each account's secret,
//! replaces it at the next sync, and says how many it found.
//!
//! The name `svc_wins` is the peer's, unique in the domain: the two backends' runs take turns
//! (a lock), and each removes its objects before it ends.

use crate::discovery::discover_with;
use crate::support::browser::Kind;
use crate::support::{on_both_backends, Api, Backend, TestServer};
use crate::templates::{definition, world};
use crate::ui_admin::signed_in_admin;
use ldap3::{LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::Arc;

/// The sAMAccountName tests/peers/samba_smb.sh gives the SMB DC's WINS service.
const WINS_ACCOUNT: &str = "svc_wins";

/// One run at a time: both need the domain's one `svc_wins`.
static WINS_IN_USE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: this test needs the DCs of `scripts/test.sh` (the SMB one too)")
    })
}

async fn ldap() -> ldap3::Ldap {
    let ca = std::fs::read_to_string(env("ALMTEST_AD_CA_FILE")).expect("read the test CA");
    let tls = alm_tls::client_config(Some(&ca)).expect("TLS config");
    let settings = LdapConnSettings::new().set_config(Arc::new(tls));
    let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &env("ALMTEST_AD_URL"))
        .await
        .expect("connect to the DC");
    ldap3::drive!(conn);
    ldap.simple_bind(&env("ALMTEST_AD_BIND"), &env("ALMTEST_AD_PASSWORD"))
        .await
        .expect("bind")
        .success()
        .expect("bind as the test administrator");
    ldap
}

fn attr(name: &str, values: &[&str]) -> (Vec<u8>, HashSet<Vec<u8>>) {
    (
        name.as_bytes().to_vec(),
        values.iter().map(|v| v.as_bytes().to_vec()).collect(),
    )
}

/// Deletes `svc_wins` wherever a test left it (a run that died before its clean-up).
async fn remove_wins_account(ldap: &mut ldap3::Ldap) {
    let (entries, _) = ldap
        .search(
            &env("ALMTEST_AD_BASE_DN"),
            Scope::Subtree,
            &format!("(sAMAccountName={WINS_ACCOUNT})"),
            vec!["1.1"],
        )
        .await
        .expect("search")
        .success()
        .expect("search for svc_wins");
    for e in entries {
        let dn = SearchEntry::construct(e).dn;
        ldap.delete(&dn)
            .await
            .expect("delete")
            .success()
            .unwrap_or_else(|e| panic!("remove the leftover {dn}: {e}"));
    }
}

/// AD's unicodePwd: the password in quotes, UTF-16LE.
fn unicode_pwd(p: &str) -> Vec<u8> {
    format!("\"{p}\"")
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect()
}

/// The seeded objects, removed when the test ends (also when it fails).
struct Seeded {
    dns: Vec<String>,
}

impl Seeded {
    async fn remove(self) {
        let mut l = ldap().await;
        for dn in self.dns.iter().rev() {
            let _ = l.delete(dn).await;
        }
        let _ = l.unbind().await;
    }
}

/// `svc_wins` (a user) and a computer whose dNSHostName is the SMB DC, in `ou`.
async fn seed(ou: &str, smb: &str) -> Seeded {
    let mut l = ldap().await;
    remove_wins_account(&mut l).await;
    let password = format!("Dep-{}-Pw1!", uuid::Uuid::new_v4().simple());
    let user = format!("CN={WINS_ACCOUNT},{ou}");
    l.add(
        &user,
        vec![
            attr(
                "objectClass",
                &["top", "person", "organizationalPerson", "user"],
            ),
            attr("sAMAccountName", &[WINS_ACCOUNT]),
            (
                b"unicodePwd".to_vec(),
                HashSet::from([unicode_pwd(&password)]),
            ),
            // NORMAL_ACCOUNT: enabled, so that disabling it is offered.
            attr("userAccountControl", &["512"]),
        ],
    )
    .await
    .expect("add")
    .success()
    .expect("add svc_wins");
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..6];
    let computer = format!("CN=dep{tag},{ou}");
    l.add(
        &computer,
        vec![
            attr("objectClass", &["computer"]),
            attr("sAMAccountName", &[&format!("dep{tag}$")]),
            attr("dNSHostName", &[smb]),
            // WORKSTATION_TRUST_ACCOUNT: an enabled computer.
            attr("userAccountControl", &["4096"]),
        ],
    )
    .await
    .expect("add")
    .success()
    .expect("add the computer");
    let _ = l.unbind().await;
    Seeded {
        dns: vec![user, computer],
    }
}

fn services(d: &Value) -> Vec<(String, String)> {
    d["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["host"].as_str().unwrap().to_owned(),
                s["service_name"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn page(api: &Api, path: &str) -> String {
    let (st, body) = api.get(path).await;
    assert_eq!(st, 200, "{path}: {body}");
    body.as_str().expect("an HTML page").to_owned()
}

async fn where_it_is_used(backend: Backend, kind: Kind) {
    let _turn = WINS_IN_USE.lock().await;
    let s = TestServer::start_with(backend, &[("ALM_SCHEDULER__ENABLED", "false")]).await;
    let admin = s.admin();
    let w = world(&s).await;
    // The tool stamps its scan with the real clock; the server must not think it future.
    s.clock
        .set(alm_core::Clock::now(&alm_core::SystemClock) + time::Duration::minutes(5));
    let smb = env("ALMTEST_SMB_ADDR");
    let seeded = seed(&w.ou, &smb).await;

    // svc_wins becomes a managed account (synced, then imported with a template).
    let (_, run) = admin
        .post_empty(&format!("/api/v1/domains/{}/sync", w.domain))
        .await;
    assert_eq!(run["outcome"], "succeeded", "{run}");
    let (_, objects) = admin
        .get(&format!(
            "/api/v1/domains/{}/objects?kind=user&q={WINS_ACCOUNT}",
            w.domain
        ))
        .await;
    let guid = objects["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == WINS_ACCOUNT)
        .unwrap_or_else(|| panic!("svc_wins after the sync: {objects}"))["guid"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, t) = admin
        .post(
            "/api/v1/templates",
            json!({"name": "Found", "definition": definition(&w)}),
        )
        .await;
    let template = t["id"].as_str().unwrap().to_owned();
    assert_eq!(
        admin
            .post_empty(&format!("/api/v1/templates/{template}/publish"))
            .await
            .0,
        200
    );
    let (st, done) = admin
        .post(
            &format!("/api/v1/domains/{}/import", w.domain),
            json!({"object_guids": [guid], "template_id": template, "interval": "90d",
                   "owners": {"users": [w.requester_id]}}),
        )
        .await;
    assert_eq!(st, 200, "{done}");
    let (_, mine) = admin
        .get(&format!("/api/v1/accounts?q={WINS_ACCOUNT}"))
        .await;
    let account = mine["items"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("the imported account: {mine}"))
        .to_owned();
    let deps_url = format!("/api/v1/accounts/{account}/dependencies");

    // Nothing known yet, and no scan ever looked.
    let (st, before) = admin.get(&deps_url).await;
    assert_eq!(st, 200, "{before}");
    assert_eq!(
        (
            before["summary"].as_str(),
            before["service_count"].as_u64(),
            &before["last_complete_scan_at"]
        ),
        (
            Some("No known dependencies (never scanned)"),
            Some(0),
            &Value::Null
        ),
        "{before}"
    );

    let (_, domain) = admin.get(&format!("/api/v1/domains/{}", w.domain)).await;
    let base_dn = domain["base_dn"].as_str().unwrap().to_owned();
    let work = crate::support::db::temp_dir("dependencies");

    // A scan without hosts (--no-host-scan) knows no service: nothing changes.
    let blind = discover_with(
        &work,
        "blind",
        &w.ou,
        &base_dn,
        &s.base,
        &s.admin_token,
        &[],
    );
    assert!(blind.ok, "{}", blind.output);
    assert!(
        blind
            .output
            .contains("0 services recorded where accounts run, 0 no longer found"),
        "{}",
        blind.output
    );
    assert_eq!(admin.get(&deps_url).await.1["service_count"], 0);

    // The host scan with the SMB DC's administrator: WINS runs as svc_wins there.
    let password = work.join("host-password");
    std::fs::write(&password, format!("{}\n", env("ALMTEST_SMB_PASSWORD"))).unwrap();
    let host_user = format!("{}\\{}", env("ALMTEST_SMB_DOMAIN"), env("ALMTEST_SMB_USER"));
    let password = password.to_str().unwrap().to_owned();
    let host_scan = |label: &str| {
        let flags = [
            "--host-user",
            &host_user,
            "--host-password-file",
            &password,
            "--host-timeout",
            "20",
        ];
        discover_with(
            &work,
            label,
            &w.ou,
            &base_dn,
            &s.base,
            &s.admin_token,
            &flags,
        )
    };
    let scan = host_scan("hosts");
    assert!(scan.ok, "{}", scan.output);
    assert!(
        scan.output
            .contains("1 services recorded where accounts run, 0 no longer found"),
        "{}",
        scan.output
    );
    assert!(
        !scan.output.contains(&env("ALMTEST_SMB_PASSWORD")),
        "{}",
        scan.output
    );
    let (st, found) = admin.get(&deps_url).await;
    assert_eq!(st, 200, "{found}");
    assert_eq!(
        services(&found),
        [(smb.clone(), "WINS".to_owned())],
        "{found}"
    );
    assert_eq!(
        (
            found["summary"].as_str(),
            found["service_count"].as_u64(),
            found["host_count"].as_u64(),
            found["services"][0]["source"].as_str()
        ),
        (
            Some("Used by 1 service on 1 host"),
            Some(1),
            Some(1),
            Some("host-scan")
        ),
        "{found}"
    );
    assert!(found["last_complete_scan_at"].is_string(), "{found}");
    // The owner sees it; someone who does not own the account is told it does not exist.
    let (st, owned) = w.requester.get(&deps_url).await;
    assert_eq!((st, services(&owned)), (200, services(&found)), "{owned}");
    assert_eq!(w.outsider.get(&deps_url).await.0, 404);
    // An id that is no account id is no account (as everywhere in the API).
    let (st, bad) = admin.get("/api/v1/accounts/not-an-id/dependencies").await;
    assert_eq!(
        (st, bad["detail"].as_str()),
        (404, Some("account not found")),
        "{bad}"
    );
    // The audit record counts, it does not list.
    let (_, audit) = admin
        .get("/api/v1/audit?action=discovery.run-received")
        .await;
    assert_eq!(
        audit["items"][0]["summary"]["services_recorded"], 1,
        "{audit}"
    );
    assert!(!audit.to_string().contains("WINS"), "{audit}");

    // The same scan again: still one, seen again (not doubled).
    let again = host_scan("again");
    assert!(again.ok, "{}", again.output);
    let (_, twice) = admin.get(&deps_url).await;
    assert_eq!(services(&twice), services(&found), "{twice}");
    assert_eq!(
        twice["services"][0]["first_seen_at"],
        found["services"][0]["first_seen_at"]
    );

    // The pages: the account's, and the confirmations that take something away.
    let mut session = Api::anonymous(&s.base);
    let (st, body) = session
        .login(
            crate::support::server::ADMIN_EMAIL,
            crate::support::server::ADMIN_PASSWORD,
        )
        .await;
    assert_eq!(st, 200, "{body}");
    let account_page = page(&session, &format!("/accounts/{account}")).await;
    assert!(account_page.contains("Where it is used"), "{account_page}");
    for action in ["disable", "delete"] {
        let html = page(&session, &format!("/accounts/{account}/{action}")).await;
        assert!(
            html.contains("Used by 1 service on 1 host")
                && html.contains(&format!("<td>{smb}</td>"))
                && html.contains("<td>WINS"),
            "{action}: {html}"
        );
    }
    let renew = page(&session, &format!("/accounts/{account}/renew")).await;
    assert!(!renew.contains("Where it is used"), "{renew}");

    // In a browser, for the eye: the account page and the disable confirmation.
    let b = signed_in_admin(&s, kind).await;
    // At the section, so that the screenshot shows it.
    b.goto(&format!("{}/accounts/{account}#dependencies-title", s.base))
        .await;
    assert_eq!(
        b.text("#dependency-summary").await,
        "Used by 1 service on 1 host"
    );
    b.assert_accessible("account-dependencies").await;
    b.screenshots("account-dependencies").await;
    b.goto(&format!("{}/accounts/{account}/disable", s.base))
        .await;
    assert_eq!(
        b.text("#dependency-summary").await,
        "Used by 1 service on 1 host"
    );
    b.screenshots("account-disable-dependencies").await;
    b.close().await;

    seeded.remove().await;
    std::fs::remove_dir_all(&work).ok();
    s.stop().await;
}

on_both_backends! {
    async fn a_host_scan_import_shows_where_an_account_runs_before_it_is_disabled(backend: Backend) {
        // One browser per backend: both browsers are seen, each once.
        let kind = match backend {
            Backend::Sqlite => Kind::Chromium,
            Backend::Postgres => Kind::Firefox,
        };
        where_it_is_used(backend, kind).await;
    }
}

/// A Secret Server stand-in (no Secret Server can run here; alm-vault's flow tests prove the
/// client's requests against the same shapes): token auth, the secrets alm writes, and the
/// dependency records the test gives each secret id.
struct SecretServerStandIn {
    address: String,
    dependencies: Arc<std::sync::Mutex<std::collections::BTreeMap<String, Value>>>,
}

const SS_TOKEN: &str = "ss-token-for-the-dependencies-test";

async fn secret_server_stand_in() -> SecretServerStandIn {
    use axum::extract::{Path, Query, State};
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::get;
    use axum::Json;
    use std::collections::BTreeMap;
    use std::sync::Mutex;
    type Shared = (
        Arc<Mutex<BTreeMap<u64, Value>>>,
        Arc<Mutex<BTreeMap<String, Value>>>,
    );
    type Answer = (StatusCode, Json<Value>);
    fn authorised(h: &HeaderMap) -> Result<(), Answer> {
        if h.get("authorization").and_then(|v| v.to_str().ok())
            == Some(&format!("Bearer {SS_TOKEN}"))
        {
            Ok(())
        } else {
            Err((
                StatusCode::UNAUTHORIZED,
                Json(json!({"message": "Authentication failed."})),
            ))
        }
    }
    let secrets: Arc<Mutex<BTreeMap<u64, Value>>> = Arc::default();
    let dependencies: Arc<Mutex<BTreeMap<String, Value>>> = Arc::default();
    let app = axum::Router::new()
        .route(
            "/api/v1/users/current",
            get(|h: HeaderMap| async move {
                authorised(&h)?;
                Ok::<_, Answer>(Json(json!({"id": 3, "userName": "alm"})))
            }),
        )
        .route(
            "/api/v1/secrets/stub",
            get(|h: HeaderMap| async move {
                authorised(&h)?;
                let items: Vec<Value> = ["domain", "username", "password", "notes"]
                    .iter()
                    .map(|s| json!({"slug": s, "fieldName": s, "itemValue": ""}))
                    .collect();
                Ok::<_, Answer>(Json(json!({"id": 0, "name": "", "folderId": -1, "secretTemplateId": 6001, "items": items})))
            }),
        )
        .route(
            "/api/v1/secrets",
            get(|h: HeaderMap, State((secrets, _)): State<Shared>, Query(q): Query<BTreeMap<String, String>>| async move {
                authorised(&h)?;
                let text = q.get("filter.searchText").cloned().unwrap_or_default();
                let records: Vec<Value> = secrets.lock().unwrap().iter()
                    .filter(|(_, m)| m["name"].as_str().is_some_and(|n| n.contains(&text)))
                    .map(|(id, m)| json!({"id": id, "name": m["name"]}))
                    .collect();
                Ok::<_, Answer>(Json(json!({"records": records, "hasNext": false})))
            })
            .post(|h: HeaderMap, State((secrets, _)): State<Shared>, Json(mut model): Json<Value>| async move {
                authorised(&h)?;
                let mut secrets = secrets.lock().unwrap();
                let id = secrets.len() as u64 + 100;
                model["id"] = json!(id);
                model["active"] = json!(true);
                secrets.insert(id, model.clone());
                Ok::<_, Answer>(Json(model))
            }),
        )
        .route(
            "/api/v1/secrets/{id}",
            get(|h: HeaderMap, State((secrets, _)): State<Shared>, Path(id): Path<u64>| async move {
                authorised(&h)?;
                secrets.lock().unwrap().get(&id).cloned().map(Json)
                    .ok_or((StatusCode::NOT_FOUND, Json(json!({"message": "Secret not found."}))))
            }),
        )
        .route(
            "/api/v1/secret-dependencies",
            get(|h: HeaderMap, State((_, deps)): State<Shared>, Query(q): Query<BTreeMap<String, String>>| async move {
                authorised(&h)?;
                let id = q.get("filter.secretId").cloned().unwrap_or_default();
                let records = deps.lock().unwrap().get(&id).cloned().unwrap_or(json!([]));
                Ok::<_, Answer>(Json(json!({"records": records, "hasNext": false})))
            }),
        )
        .with_state((secrets, dependencies.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    SecretServerStandIn {
        address,
        dependencies,
    }
}

on_both_backends! {
    async fn a_vault_sync_keeps_where_secret_server_records_a_secret_as_used(backend: Backend) {
        let s = TestServer::start_with(backend, &[("ALM_SCHEDULER__ENABLED", "false")]).await;
        let admin = s.admin();
        let w = world(&s).await;
        let ss = secret_server_stand_in().await;
        let (st, vault) = admin.post("/api/v1/vaults", json!({
            "name": "Secret Server", "kind": "delinea-secret-server", "address": ss.address,
            "folder_id": 7, "credential": SS_TOKEN})).await;
        assert_eq!(st, 201, "{vault}");
        let vault = vault["id"].as_str().unwrap().to_owned();

        // A request provisions an account: its password goes into the stand-in (secret 100).
        let name = format!("dep{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
        let (id, _) = crate::provisioning::approved(&s, &w, &vault, &name).await;
        crate::provisioning::provisioned(&w, &id).await;
        let (_, mine) = admin.get(&format!("/api/v1/accounts?q={name}")).await;
        let account = mine["items"][0]["id"].as_str().unwrap_or_else(|| panic!("{mine}")).to_owned();
        assert_eq!(mine["items"][0]["secret_ref"], "100", "{mine}");
        let deps_url = format!("/api/v1/accounts/{account}/dependencies");

        // Secret Server records two services using it (and a disabled one, which says nothing).
        ss.dependencies.lock().unwrap().insert("100".into(), json!([
            {"id": 1, "secretId": 100, "machineName": "app1.corp.example.test", "serviceName": "MSSQLSERVER", "typeName": "Windows Service", "enabled": true},
            {"id": 2, "secretId": 100, "machineName": "web1.corp.example.test", "serviceName": "BillingPool", "typeName": "IIS Application Pool", "enabled": true},
            {"id": 3, "secretId": 100, "machineName": "old1.corp.example.test", "serviceName": "Retired", "typeName": "Windows Service", "enabled": false}
        ]));
        let (st, synced) = admin.post_empty(&format!("/api/v1/vaults/{vault}/sync")).await;
        assert_eq!((st, synced["checked"].as_u64(), synced["dependencies"].as_u64(), &synced["error"]),
                   (200, Some(1), Some(2), &Value::Null), "{synced}");
        let (_, found) = admin.get(&deps_url).await;
        assert_eq!(services(&found), [
            ("app1.corp.example.test".to_owned(), "MSSQLSERVER".to_owned()),
            ("web1.corp.example.test".to_owned(), "BillingPool".to_owned()),
        ], "{found}");
        assert_eq!((found["summary"].as_str(), found["services"][1]["source"].as_str(), found["services"][1]["display_name"].as_str()),
                   (Some("Used by 2 services on 2 hosts"), Some("vault"), Some("IIS Application Pool")), "{found}");
        let first_seen = found["services"][0]["first_seen_at"].clone();

        // The vault's records are whole: one it no longer lists is gone, one it lists again
        // keeps when it was first seen.
        s.clock.advance(time::Duration::hours(1));
        ss.dependencies.lock().unwrap().insert("100".into(), json!([
            {"id": 1, "secretId": 100, "machineName": "app1.corp.example.test", "serviceName": "MSSQLSERVER", "typeName": "Windows Service", "enabled": true}
        ]));
        let (_, synced) = admin.post_empty(&format!("/api/v1/vaults/{vault}/sync")).await;
        assert_eq!(synced["dependencies"], 1, "{synced}");
        let (_, after) = admin.get(&deps_url).await;
        assert_eq!(services(&after), [("app1.corp.example.test".to_owned(), "MSSQLSERVER".to_owned())], "{after}");
        assert_eq!(after["services"][0]["first_seen_at"], first_seen, "{after}");
        assert_ne!(after["services"][0]["seen_at"], first_seen, "{after}");
        let (_, audit) = admin.get("/api/v1/audit?action=vault.synced").await;
        assert_eq!(audit["items"][0]["summary"]["dependencies"], 1, "{audit}");

        s.stop().await;
    }
}

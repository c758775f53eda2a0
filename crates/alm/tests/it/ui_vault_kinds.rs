//! Adding the vaults of issue 18 in the browser (SPEC §7.6): the kind is chosen first, and each
//! kind's form asks for its own settings only — Azure Key Vault (URL, tenant, client, client
//! secret), Delinea Secret Server (URL, folder, template, user, password or token) and DevOps
//! Secrets Vault (URL, client, client secret); what is missing or not a number is refused at
//! its field and nothing is saved; a saved vault's settings read back through the API, its
//! secret never shown; an edit that leaves the secret empty keeps it. An unknown kind in the
//! address is refused. Both browsers; axe and screenshots at both sizes. Creating a vault
//! does not connect to it, so no vault server is needed here (the connectors are tested in
//! alm-vault against their contract mocks).

use crate::support::browser::{Browser, Kind};
use crate::support::{Backend, TestServer};
use crate::ui_admin::signed_in_admin;
use serde_json::Value;

const CLIENT_SECRET: &str = "an-entra-client-secret-never-shown";
const SS_PASSWORD: &str = "a-secret-server-password-never-shown";

async fn save(b: &Browser, kind: &str) -> String {
    b.submit(&format!(
        "form[action='/vaults/new?kind={kind}'] button[type=submit]"
    ))
    .await;
    let path = b.wait_for_path_starting("/vaults/0").await;
    path.trim_start_matches("/vaults/")
        .split('?')
        .next()
        .unwrap()
        .to_owned()
}

async fn vault(s: &TestServer, id: &str) -> Value {
    let (st, v) = s.admin().get(&format!("/api/v1/vaults/{id}")).await;
    assert_eq!(st, 200, "{v}");
    v
}

async fn vault_kinds(s: &TestServer, kind: Kind) {
    let b = signed_in_admin(s, kind).await;
    b.goto(&format!("{}/vaults", s.base)).await;
    b.click("a[href='/vaults/new']").await;
    b.wait_for_path("/vaults/new").await;
    assert_eq!(
        b.texts(".card-title").await,
        [
            "OpenBao / HashiCorp Vault (KV v2)",
            "AWS Secrets Manager",
            "Azure Key Vault",
            "Delinea Secret Server",
            "Delinea DevOps Secrets Vault"
        ]
    );
    b.screenshots("vault-kinds").await;

    // Azure Key Vault: its own fields only; what is missing is named at its field.
    b.click("a[href='/vaults/new?kind=azure-key-vault']").await;
    b.wait_for_path("/vaults/new?kind=azure-key-vault").await;
    assert_eq!(b.text("h1").await, "Add a vault: Azure Key Vault");
    assert!(!b.has("#region").await && !b.has("#mount").await && !b.has("#folder_id").await);
    b.submit("form[action='/vaults/new?kind=azure-key-vault'] button[type=submit]")
        .await;
    for field in ["name", "address", "tenant_id", "client_id", "credential"] {
        assert!(b.has(&format!("#{field}-error")).await, "{field}");
    }
    b.screenshots("vault-azure-errors").await;
    let (_, listed) = s.admin().get("/api/v1/vaults").await;
    let before = listed["total"].as_u64().unwrap();
    b.fill("#name", "Key Vault").await;
    b.fill("#address", "https://alm-test.vault.azure.net").await;
    b.fill("#tenant_id", "00000000-0000-0000-0000-00000000aaaa")
        .await;
    b.fill("#client_id", "00000000-0000-0000-0000-00000000bbbb")
        .await;
    b.fill("#credential", CLIENT_SECRET).await;
    let azure = save(&b, "azure-key-vault").await;
    let v = vault(s, &azure).await;
    assert_eq!(
        (
            v["kind"].as_str(),
            v["address"].as_str(),
            v["tenant_id"].as_str(),
            v["client_id"].as_str(),
            v["has_credential"].as_bool()
        ),
        (
            Some("azure-key-vault"),
            Some("https://alm-test.vault.azure.net"),
            Some("00000000-0000-0000-0000-00000000aaaa"),
            Some("00000000-0000-0000-0000-00000000bbbb"),
            Some(true)
        ),
        "{v}"
    );
    assert!(!v.to_string().contains(CLIENT_SECRET));

    // Its edit form shows the settings, never the secret; left empty, the secret is kept.
    b.goto(&format!("{}/vaults/{azure}/edit", s.base)).await;
    assert_eq!(
        b.value("#tenant_id").await,
        "00000000-0000-0000-0000-00000000aaaa"
    );
    assert_eq!(b.value("#credential").await, "");
    b.fill("#name", "Key Vault (production)").await;
    b.submit(&format!(
        "form[action='/vaults/{azure}/edit'] button[type=submit]"
    ))
    .await;
    b.wait_for_path(&format!("/vaults/{azure}?done=updated"))
        .await;
    let page = b.text("main").await;
    assert!(
        page.contains("00000000-0000-0000-0000-00000000bbbb") && !page.contains(CLIENT_SECRET),
        "the vault's page shows its client id, never its secret: {page}"
    );
    b.screenshots("vault-azure").await;
    let v = vault(s, &azure).await;
    assert_eq!(v["name"], "Key Vault (production)");
    assert_eq!(v["has_credential"], true, "{v}");

    // Delinea Secret Server: the folder must be a number.
    b.goto(&format!("{}/vaults/new?kind=delinea-secret-server", s.base))
        .await;
    b.fill("#name", "Secret Server").await;
    b.fill("#address", "https://alm-test.secretservercloud.com")
        .await;
    b.fill("#folder_id", "Finance").await;
    b.fill("#username", "alm-svc").await;
    b.fill("#credential", SS_PASSWORD).await;
    b.submit("form[action='/vaults/new?kind=delinea-secret-server'] button[type=submit]")
        .await;
    assert!(b.text("#folder_id-error").await.contains("whole number"));
    assert_eq!(
        b.value("#credential").await,
        "",
        "a secret is not sent back"
    );
    b.screenshots("vault-secret-server-errors").await;
    let (_, listed) = s.admin().get("/api/v1/vaults").await;
    assert_eq!(
        listed["total"].as_u64().unwrap(),
        before + 1,
        "nothing saved"
    );
    b.fill("#folder_id", "42").await;
    b.fill("#credential", SS_PASSWORD).await;
    let ss = save(&b, "delinea-secret-server").await;
    let v = vault(s, &ss).await;
    assert_eq!(
        (v["folder_id"].as_u64(), v["username"].as_str()),
        (Some(42), Some("alm-svc")),
        "{v}"
    );
    assert!(!v.to_string().contains(SS_PASSWORD));

    // DevOps Secrets Vault.
    b.goto(&format!(
        "{}/vaults/new?kind=delinea-devops-secrets-vault",
        s.base
    ))
    .await;
    assert!(!b.has("#tenant_id").await && !b.has("#folder_id").await);
    b.fill("#name", "DSV").await;
    b.fill("#address", "https://alm-test.secretsvaultcloud.com")
        .await;
    b.fill("#client_id", "dsv-client").await;
    b.fill("#credential", CLIENT_SECRET).await;
    let dsv = save(&b, "delinea-devops-secrets-vault").await;
    assert_eq!(vault(s, &dsv).await["client_id"], "dsv-client");
    b.goto(&format!("{}/vaults", s.base)).await;
    b.screenshots("vaults-of-every-kind").await;

    // An address naming no kind: refused, nothing to fill in.
    b.goto(&format!("{}/vaults/new?kind=keepass", s.base)).await;
    assert!(b.text("main").await.contains("must be one of"));
    assert!(!b.has("#credential").await);
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_new_vault_kinds_are_added_in_chromium() {
    let s = TestServer::start(Backend::Sqlite).await;
    vault_kinds(&s, Kind::Chromium).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_new_vault_kinds_are_added_in_firefox() {
    let s = TestServer::start(Backend::Sqlite).await;
    vault_kinds(&s, Kind::Firefox).await;
    s.stop().await;
}

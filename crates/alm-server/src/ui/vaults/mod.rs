//! Administration — vaults (SPEC §6.1, §10): the list, a vault's page (its settings, engine
//! pool, what each engine found; "check" and "sync" — the sync finds managed accounts whose
//! secret is missing), add and edit forms (the credential write-only), delete with a
//! confirmation (the built-in vault is protected), and the usage page (users and engines in
//! use).

mod edit;

use super::browser::{Browser, SignedIn};
use super::engine_checks::{self, EngineLine};
use super::form::{Control, Field, Form};
use super::form_page::{FormPage, Target};
use super::table::{Table, TableQuery};
use super::{errors, render, utc, Chrome, PageResult};
use crate::services::calibration::CheckOutcome;
use crate::services::vaults::{self as svc, VaultInfo, KIND_AWS, KIND_BUILTIN, KIND_OPENBAO};
use crate::services::{engines, ServiceError};
use crate::state::AppState;
use alm_core::permissions::perm;
use alm_core::VaultId;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Form as Posted, Router};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/vaults", get(list))
        .route("/vaults/new", get(edit::new_form).post(edit::create))
        .route("/vaults/{id}", get(show))
        .route("/vaults/{id}/edit", get(edit::edit_form).post(edit::update))
        .route(
            "/vaults/{id}/delete",
            get(edit::confirm_delete).post(edit::delete),
        )
        .route("/vaults/{id}/check", post(check))
        .route("/vaults/{id}/sync", post(sync))
        .route("/usage", get(usage))
}

pub(crate) fn kind_label(kind: &str) -> &'static str {
    match kind {
        KIND_BUILTIN => "Built-in (alm's own database)",
        KIND_OPENBAO => "OpenBao / HashiCorp Vault (KV v2)",
        KIND_AWS => "AWS Secrets Manager",
        svc::KIND_AZURE => "Azure Key Vault",
        svc::KIND_SECRET_SERVER => "Delinea Secret Server",
        svc::KIND_DSV => "Delinea DevOps Secrets Vault",
        _ => "Unknown kind",
    }
}

/// Where a vault is: its address, endpoint or region.
fn location(v: &VaultInfo) -> String {
    let s = &v.settings;
    match v.record.kind.as_str() {
        KIND_BUILTIN => "alm's database, encrypted with the master key".into(),
        KIND_OPENBAO => format!(
            "{} (mount {})",
            s.address.as_deref().unwrap_or("no address"),
            s.mount.as_deref().unwrap_or("secret")
        ),
        svc::KIND_SECRET_SERVER => format!(
            "{} (folder {})",
            s.address.as_deref().unwrap_or("no address"),
            s.folder_id.map(|f| f.to_string()).unwrap_or_default()
        ),
        svc::KIND_AZURE | svc::KIND_DSV => s.address.clone().unwrap_or_else(|| "no address".into()),
        _ => match &s.endpoint {
            Some(e) => format!("{} at {e}", s.region.as_deref().unwrap_or("no region")),
            None => s.region.clone().unwrap_or_else(|| "no region".into()),
        },
    }
}

/// The settings a vault's page lists besides its kind and location (those that are set).
fn details(s: &crate::services::vaults::VaultSettings) -> Vec<(&'static str, String)> {
    [
        ("Namespace", s.namespace.clone()),
        ("Access key id", s.access_key_id.clone()),
        ("Tenant id", s.tenant_id.clone()),
        ("Client id", s.client_id.clone()),
        ("Sign-in address", s.authority.clone()),
        ("Secret template id", s.template_id.map(|t| t.to_string())),
        ("User name", s.username.clone()),
    ]
    .into_iter()
    .filter_map(|(label, value)| value.map(|v| (label, v)))
    .collect()
}

struct Row {
    id: VaultId,
    name: String,
    kind: &'static str,
    location: String,
}

#[derive(Template)]
#[template(path = "vaults.html")]
struct ListPage {
    chrome: Chrome,
    title: &'static str,
    notice: Option<&'static str>,
    can_create: bool,
    table: Table,
    rows: Vec<Row>,
}

#[derive(Deserialize, Default)]
struct Done {
    done: Option<String>,
}

async fn list(
    State(s): State<AppState>,
    browser: Browser,
    Query(q): Query<Done>,
    Query(tq): Query<TableQuery>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let can = signed_in.can::<perm::VaultRead>(&path)?;
    let table = Table::parse("/vaults", &tq, &["name", "kind"], "name")
        .map_err(|e| errors::bad_address(&signed_in, &path, &e))?;
    let all = svc::list(&s.db, &can)
        .await
        .map_err(|e| errors::service(&signed_in, &path, e))?;
    let (found, total) = table.slice(
        all,
        |v| {
            format!(
                "{} {} {}",
                v.record.name,
                kind_label(&v.record.kind),
                location(v)
            )
        },
        |v, key| match key {
            "kind" => kind_label(&v.record.kind).to_owned(),
            _ => v.record.name.clone(),
        },
    );
    let page = ListPage {
        chrome: Chrome::new(Some(&signed_in), &path).with_counts(&s).await,
        title: "Vaults",
        notice: (q.done.as_deref() == Some("deleted")).then_some("The vault is deleted."),
        can_create: signed_in.may::<perm::VaultCreate>(),
        table: table.with_counts(total, found.len()),
        rows: found
            .iter()
            .map(|v| Row {
                id: v.record.id,
                name: v.record.name.clone(),
                kind: kind_label(&v.record.kind),
                location: location(v),
            })
            .collect(),
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(Template)]
#[template(path = "vault.html")]
struct VaultPage {
    chrome: Chrome,
    title: String,
    notice: Option<String>,
    id: VaultId,
    kind: &'static str,
    location: String,
    /// The kind's other settings that are set, as (label, value).
    details: Vec<(&'static str, String)>,
    /// When it is synced on its own (SPEC §7.6).
    schedule: String,
    own_ca: bool,
    pool: String,
    builtin: bool,
    /// The check or sync just run: (passed, what it says).
    result: Option<(bool, String)>,
    engines: Vec<EngineLine>,
    can_update: bool,
    can_delete: bool,
    csrf_token: String,
}

async fn vault_page(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    id: VaultId,
    notice: Option<String>,
    check: Option<&CheckOutcome>,
) -> Result<VaultPage, axum::response::Response> {
    let can = signed_in.can::<perm::VaultRead>(path)?;
    let fail = |e| errors::service(signed_in, path, e);
    let v = svc::get(&s.db, &can, id).await.map_err(fail)?;
    let builtin = v.record.kind == KIND_BUILTIN;
    let pool = match (
        builtin,
        v.record.pool_id,
        signed_in.may::<perm::EngineRead>(),
    ) {
        (true, _, _) => "None needed: alm reads it itself".into(),
        (false, Some(pool), true) => {
            let read = signed_in.can::<perm::EngineRead>(path)?;
            engines::pool(&s.db, &read, pool).await.map_err(fail)?.name
        }
        (false, Some(_), false) => "Set (you cannot read engine pools)".into(),
        (false, None, _) => "None".into(),
    };
    let engines = match check {
        Some(c) => engine_checks::of_check(c),
        None => {
            engine_checks::of_calibrations(svc::calibrations(&s.db, &can, id).await.map_err(fail)?)
        }
    };
    Ok(VaultPage {
        chrome: Chrome::new(Some(signed_in), path).with_counts(s).await,
        title: v.record.name.clone(),
        notice,
        id,
        kind: kind_label(&v.record.kind),
        location: location(&v),
        details: details(&v.settings),
        schedule: match (&v.record.sync_time, v.record.next_sync_at) {
            (None, _) => "Not scheduled".into(),
            (Some(t), Some(next)) => format!("Daily at {t} UTC; next {}", utc(next)),
            (Some(t), None) => format!("Daily at {t} UTC"),
        },
        own_ca: v.settings.ca_pem.is_some(),
        pool,
        builtin,
        result: check.map(|c| (c.ok, c.message.clone())),
        engines,
        can_update: signed_in.may::<perm::VaultUpdate>(),
        can_delete: signed_in.may::<perm::VaultDelete>() && !builtin,
        csrf_token: signed_in.csrf_token(),
    })
}

async fn show(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    Query(q): Query<Done>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let id = signed_in.id::<VaultId>(&path, &id)?;
    let notice = match q.done.as_deref() {
        Some("created") => {
            Some("The vault is added. Check that its engines can reach it.".to_owned())
        }
        Some("updated") => Some("The vault is changed.".to_owned()),
        _ => None,
    };
    let page = vault_page(&s, &signed_in, &path, id, notice, None).await?;
    Ok(render(StatusCode::OK, &page))
}

async fn check(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    Posted(f): Posted<super::form::CsrfOnly>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&f.csrf_token)?;
    let id = signed_in.id::<VaultId>(&path, &id)?;
    let can = signed_in.can::<perm::VaultRead>(&path)?;
    let page_path = format!("/vaults/{id}");
    let page = match svc::check(&s.queue, &can, &signed_in.principal.actor, id).await {
        Ok(o) => vault_page(&s, &signed_in, &page_path, id, None, Some(&o)).await?,
        Err(ServiceError::Refused(r)) => VaultPage {
            result: Some((false, r.to_string())),
            ..vault_page(&s, &signed_in, &page_path, id, None, None).await?
        },
        Err(e) => return Err(errors::service(&signed_in, &path, e)),
    };
    Ok(render(StatusCode::OK, &page))
}

async fn sync(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    Posted(f): Posted<super::form::CsrfOnly>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&f.csrf_token)?;
    let id = signed_in.id::<VaultId>(&path, &id)?;
    let can = signed_in.can::<perm::VaultUpdate>(&path)?;
    let page_path = format!("/vaults/{id}");
    let o = crate::services::vault_sync::sync(&s.queue, &can, &signed_in.principal.actor, id)
        .await
        .map_err(|e| errors::service(&signed_in, &path, e))?;
    let (ok, text) = match (&o.error, o.missing.is_empty()) {
        (Some(e), _) => (
            false,
            format!("The vault could not be read, nothing changed: {e}"),
        ),
        (None, true) => (
            true,
            format!(
                "Synced: the secrets of all {} managed accounts kept here are present.",
                o.checked
            ),
        ),
        (None, false) => (
            false,
            format!(
                "Synced: {} of {} managed accounts have no secret here: {}.",
                o.missing.len(),
                o.checked,
                o.missing.join(", ")
            ),
        ),
    };
    let text = match o.dependencies {
        Some(n) if o.error.is_none() => format!(
            "{text} The vault records {n} service{} using them, now shown on each account.",
            if n == 1 { "" } else { "s" }
        ),
        _ => text,
    };
    let page = VaultPage {
        result: Some((ok, text)),
        ..vault_page(&s, &signed_in, &page_path, id, None, o.calibration.as_ref()).await?
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(Template)]
#[template(path = "usage.html")]
struct UsagePage {
    chrome: Chrome,
    title: &'static str,
    usage: alm_store::usage::Usage,
}

/// Users and engines in use (SPEC §6.3), what a licence or capacity plan counts.
async fn usage(State(s): State<AppState>, browser: Browser) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let can = signed_in.can::<perm::ConfigurationRead>(&path)?;
    let usage = crate::services::usage(&s.db, &can)
        .await
        .map_err(|e| errors::service(&signed_in, &path, e))?;
    let page = UsagePage {
        chrome: Chrome::new(Some(&signed_in), &path).with_counts(&s).await,
        title: "Usage",
        usage,
    };
    Ok(render(StatusCode::OK, &page))
}

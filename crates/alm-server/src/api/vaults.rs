//! `/api/v1/vaults`: where provisioned credentials are kept (SPEC §7.6). The credential (a
//! token, a secret access key) is write-only.

use super::domains::CheckView;
use super::error::ApiResult;
use super::extract::{parse_id, ApiJson, ApiQuery};
use super::{list_query, page_of};
use crate::auth::principal::Authenticated;
use crate::services::vaults::{self as svc, VaultInfo, VaultInput, VaultSettings};
use crate::state::AppState;
use alm_core::paging::matches;
use alm_core::permissions::perm;
use alm_core::VaultId;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Debug, Serialize, ToSchema)]
pub struct VaultView {
    pub id: VaultId,
    pub name: String,
    /// `builtin`, `openbao`, `aws-secrets-manager`, `azure-key-vault`, `delinea-secret-server`
    /// or `delinea-devops-secrets-vault`.
    pub kind: String,
    /// OpenBao / HashiCorp Vault, Azure Key Vault, Secret Server, DevOps Secrets Vault: the URL.
    pub address: Option<String>,
    /// OpenBao: the KV v2 mount (default `secret`).
    pub mount: Option<String>,
    pub namespace: Option<String>,
    /// AWS: the region, access key id and optional endpoint.
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub endpoint: Option<String>,
    pub ca_pem: Option<String>,
    /// Azure: the Entra ID tenant id, the client id, and Entra ID's address if not the public
    /// cloud's. DevOps Secrets Vault: the client id.
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    pub authority: Option<String>,
    /// Secret Server: the folder alm writes into, the secret template (default 6001), and the
    /// user of the OAuth password grant (none: the credential is a token).
    pub folder_id: Option<u32>,
    pub template_id: Option<u32>,
    pub username: Option<String>,
    /// Whether a credential is stored (it is never shown).
    pub has_credential: bool,
    /// The engine pool that reaches the vault (the built-in vault needs no engine).
    #[schema(value_type = Option<String>, format = Uuid)]
    pub pool_id: Option<alm_core::PoolId>,
    /// The daily sync's time, `HH:MM` UTC, if scheduled.
    pub sync_time: Option<String>,
    /// When the scheduled sync is next due (empty until the first hourly check places it).
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_sync_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<VaultInfo> for VaultView {
    fn from(v: VaultInfo) -> Self {
        let s = v.settings;
        Self {
            id: v.record.id,
            name: v.record.name,
            kind: v.record.kind,
            address: s.address,
            mount: s.mount,
            namespace: s.namespace,
            region: s.region,
            access_key_id: s.access_key_id,
            endpoint: s.endpoint,
            ca_pem: s.ca_pem,
            tenant_id: s.tenant_id,
            client_id: s.client_id,
            authority: s.authority,
            folder_id: s.folder_id,
            template_id: s.template_id,
            username: s.username,
            has_credential: v.record.credential_sealed.is_some(),
            pool_id: v.record.pool_id,
            sync_time: v.record.sync_time,
            next_sync_at: v.record.next_sync_at,
            created_at: v.record.created_at,
            updated_at: v.record.updated_at,
        }
    }
}

/// A vault's settings; which ones apply depends on `kind`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VaultBody {
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub name: Option<String>,
    /// `openbao`, `aws-secrets-manager`, `azure-key-vault`, `delinea-secret-server` or
    /// `delinea-devops-secrets-vault` (fixed once created).
    #[schema(
        pattern = "^(openbao|aws-secrets-manager|azure-key-vault|delinea-secret-server|delinea-devops-secrets-vault)$"
    )]
    pub kind: Option<String>,
    pub address: Option<String>,
    pub mount: Option<String>,
    pub namespace: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub endpoint: Option<String>,
    pub ca_pem: Option<String>,
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    pub authority: Option<String>,
    #[schema(minimum = 1)]
    pub folder_id: Option<u32>,
    #[schema(minimum = 1)]
    pub template_id: Option<u32>,
    pub username: Option<String>,
    /// The token (OpenBao, Secret Server), secret access key (AWS), client secret (Azure,
    /// DevOps Secrets Vault) or password (Secret Server with `username`); write-only; omit to
    /// keep the stored one.
    #[schema(value_type = Option<String>, min_length = 1, max_length = 4096, format = Password)]
    pub credential: Option<alm_core::Secret>,
    /// The engine pool that reaches the vault (default: the default pool).
    #[schema(value_type = Option<String>, format = Uuid)]
    pub pool_id: Option<uuid::Uuid>,
    /// The daily sync (which also calibrates the pool's engines), `HH:MM` UTC; an empty string
    /// turns it off; omitted: unchanged, and 03:00 for a new vault.
    #[schema(pattern = "^(([01][0-9]|2[0-3]):[0-5][0-9])?$")]
    pub sync_time: Option<String>,
}

impl From<VaultBody> for VaultInput {
    fn from(b: VaultBody) -> Self {
        VaultInput {
            name: b.name,
            kind: b.kind,
            settings: VaultSettings {
                address: b.address,
                mount: b.mount,
                namespace: b.namespace,
                region: b.region,
                access_key_id: b.access_key_id,
                endpoint: b.endpoint,
                ca_pem: b.ca_pem,
                tenant_id: b.tenant_id,
                client_id: b.client_id,
                authority: b.authority,
                folder_id: b.folder_id,
                template_id: b.template_id,
                username: b.username,
            },
            credential: b.credential,
            pool_id: b.pool_id.map(alm_core::PoolId),
            sync_time: b
                .sync_time
                .map(|t| Some(t).filter(|t| !t.trim().is_empty())),
        }
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_vaults, create_vault))
        .routes(routes!(get_vault, update_vault, delete_vault))
        .routes(routes!(check_vault))
        .routes(routes!(vault_calibration))
        .routes(routes!(sync_vault))
}

const ID: &str = "Vault id";

list_query!(VaultQuery, "^-?(name|created_at)$", q: "Part of the name, case-insensitive.", {});
page_of!(VaultPage, VaultView);

/// The vaults (the built-in one is created at first start), by name.
#[utoipa::path(get, path = "/api/v1/vaults", tag = "vaults", params(VaultQuery), responses((status = 200, body = VaultPage)))]
async fn list_vaults(
    State(s): State<AppState>,
    auth: Authenticated,
    ApiQuery(q): ApiQuery<VaultQuery>,
) -> ApiResult<Json<VaultPage>> {
    let can = auth.can::<perm::VaultRead>()?;
    let page = q.page(&["name", "created_at"])?;
    let query = q.query();
    let vaults: Vec<VaultInfo> = svc::list(&s.db, &can)
        .await?
        .into_iter()
        .filter(|v| matches(query.as_deref(), &[&v.record.name]))
        .collect();
    let (items, total) = page.slice(vaults, |key, a, b| {
        let (a, b) = (&a.record, &b.record);
        match key {
            "created_at" => a.created_at.cmp(&b.created_at),
            _ => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
        }
        .then(a.id.cmp(&b.id))
    });
    Ok(Json(VaultPage::new(
        items.into_iter().map(Into::into).collect(),
        total,
        &page,
    )))
}

/// Add an OpenBao / HashiCorp Vault or AWS Secrets Manager vault.
#[utoipa::path(post, path = "/api/v1/vaults", tag = "vaults", request_body = VaultBody, responses((status = 201, body = VaultView)))]
async fn create_vault(
    State(s): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<VaultBody>,
) -> ApiResult<(StatusCode, Json<VaultView>)> {
    let can = auth.can::<perm::VaultCreate>()?;
    let v = svc::create(
        &s.db,
        s.clock.as_ref(),
        &s.master_key,
        &can,
        &auth.principal.actor,
        body.into(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(v.into())))
}

/// One vault.
#[utoipa::path(get, path = "/api/v1/vaults/{id}", tag = "vaults", params(("id" = String, Path, description = ID)), responses((status = 200, body = VaultView)))]
async fn get_vault(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<VaultView>> {
    let can = auth.can::<perm::VaultRead>()?;
    let id: VaultId = parse_id(&id, "vault")?;
    Ok(Json(svc::get(&s.db, &can, id).await?.into()))
}

/// Change a vault's settings or credential; fields left out keep their values.
#[utoipa::path(patch, path = "/api/v1/vaults/{id}", tag = "vaults", params(("id" = String, Path, description = ID)),
    request_body = VaultBody, responses((status = 200, body = VaultView)))]
async fn update_vault(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<VaultBody>,
) -> ApiResult<Json<VaultView>> {
    let can = auth.can::<perm::VaultUpdate>()?;
    let id: VaultId = parse_id(&id, "vault")?;
    Ok(Json(
        svc::update(
            &s.db,
            s.clock.as_ref(),
            &s.master_key,
            &can,
            &auth.principal.actor,
            id,
            body.into(),
        )
        .await?
        .into(),
    ))
}

/// Remove a vault (not the built-in one).
#[utoipa::path(delete, path = "/api/v1/vaults/{id}", tag = "vaults", params(("id" = String, Path, description = ID)), responses((status = 204)))]
async fn delete_vault(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let can = auth.can::<perm::VaultDelete>()?;
    let id: VaultId = parse_id(&id, "vault")?;
    svc::delete(&s.db, s.clock.as_ref(), &can, &auth.principal.actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Which engines of the pool could authenticate to the vault at their last calibration.
#[utoipa::path(get, path = "/api/v1/vaults/{id}/calibration", tag = "vaults", params(("id" = String, Path, description = ID), super::domains::CalibrationQuery),
    responses((status = 200, body = super::domains::CalibrationPage)))]
async fn vault_calibration(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<super::domains::CalibrationQuery>,
) -> ApiResult<Json<super::domains::CalibrationPage>> {
    let can = auth.can::<perm::VaultRead>()?;
    let id: VaultId = parse_id(&id, "vault")?;
    let page = q.page(super::engines::CALIBRATION_SORT_KEYS)?;
    let found = svc::calibrations(&s.db, &can, id).await?;
    let (items, total) = super::engines::calibration_page(found, q.query().as_deref(), &page);
    Ok(Json(super::domains::CalibrationPage::new(
        items, total, &page,
    )))
}

/// Authenticate to the vault now with the stored credential: alm itself for the built-in
/// vault, every active engine of the vault's pool (calibration) for the others.
#[utoipa::path(post, path = "/api/v1/vaults/{id}/check", tag = "vaults", params(("id" = String, Path, description = ID)), responses((status = 200, body = CheckView)))]
async fn check_vault(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<CheckView>> {
    let can = auth.can::<perm::VaultRead>()?;
    let id: VaultId = parse_id(&id, "vault")?;
    Ok(Json(
        svc::check(&s.queue, &can, &auth.principal.actor, id)
            .await?
            .into(),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VaultSyncView {
    /// Managed accounts whose secret was looked for.
    pub checked: usize,
    /// Names of the managed accounts whose secret is missing.
    pub missing: Vec<String>,
    /// Services the vault records as using the accounts' secrets, now each account's
    /// dependencies from the vault (`GET /accounts/{id}/dependencies`); null for a kind of
    /// vault that keeps no such records (all but Delinea Secret Server).
    pub dependencies: Option<usize>,
    /// The pool's engines calibrated against the vault (external vaults).
    pub calibration: Option<CheckView>,
    /// Why the vault could not be read (then nothing changed).
    pub error: Option<String>,
}

/// Sync the vault now: calibrate the pool's engines and find managed accounts whose secret is
/// missing (each account's `secret_state` is updated; a new loss raises an alert).
#[utoipa::path(post, path = "/api/v1/vaults/{id}/sync", tag = "vaults", params(("id" = String, Path, description = ID)),
    responses((status = 200, body = VaultSyncView)))]
async fn sync_vault(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<VaultSyncView>> {
    let can = auth.can::<perm::VaultUpdate>()?;
    let id: VaultId = parse_id(&id, "vault")?;
    let o = crate::services::vault_sync::sync(&s.queue, &can, &auth.principal.actor, id).await?;
    Ok(Json(VaultSyncView {
        checked: o.checked,
        missing: o.missing,
        dependencies: o.dependencies,
        calibration: o.calibration.map(Into::into),
        error: o.error,
    }))
}

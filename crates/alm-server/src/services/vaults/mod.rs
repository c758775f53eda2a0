//! Vaults (SPEC §7.6): the built-in vault (entries sealed in alm's database; created at first
//! start, the default) and external ones (OpenBao / HashiCorp Vault, AWS Secrets Manager, Azure
//! Key Vault, Delinea Secret Server, Delinea DevOps Secrets Vault) configured through the API with their credential sealed at rest and never returned.

mod builtin;
mod input;

pub use builtin::{ensure_builtin, BuiltinVault};
pub(crate) use builtin::{move_builtin_entry, seal_entry};
pub(crate) use input::build;

use super::audit::{record, Subject};
use super::calibration::CheckOutcome;
use super::refusal::Refusal;
use super::{Actor, ServiceError, ServiceResult};
use alm_core::permissions::{perm, Can};
use alm_core::{Clock, FieldError, ObjectName, Secret, ValidationErrors, VaultId};
use alm_engine::protocol::VaultConnection;
use alm_store::crypto::MasterKey;
use alm_store::vaults::{self, VaultRecord};
use alm_store::Db;
use alm_vault::aws::{AwsConfig, AwsSecretsManager};
use alm_vault::azure::{AzureKeyVault, AzureKeyVaultConfig};
use alm_vault::devops_secrets_vault::{DevOpsSecretsVault, DsvConfig};
use alm_vault::openbao::{OpenBaoConfig, OpenBaoVault};
use alm_vault::secret_server::{SecretServer, SecretServerAuth, SecretServerConfig};
use alm_vault::{SecretRef, Vault, VaultDependency, VaultError, VaultResult, VaultSecret};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

pub const KIND_BUILTIN: &str = "builtin";
pub const KIND_OPENBAO: &str = "openbao";
pub const KIND_AWS: &str = "aws-secrets-manager";
pub const KIND_AZURE: &str = "azure-key-vault";
pub const KIND_SECRET_SERVER: &str = "delinea-secret-server";
pub const KIND_DSV: &str = "delinea-devops-secrets-vault";
/// The kinds an administrator can add (the built-in vault exists already), in the order the
/// validation message names them.
pub const EXTERNAL_KINDS: [&str; 5] = [
    KIND_OPENBAO,
    KIND_AWS,
    KIND_AZURE,
    KIND_SECRET_SERVER,
    KIND_DSV,
];
pub const BUILTIN_NAME: &str = "Built-in vault";

/// The non-secret settings of a vault, as stored (JSON) and shown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    /// Azure: the Entra ID tenant (directory) id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// Azure and DevOps Secrets Vault: the client (application) id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Azure: Entra ID's address when not the public cloud's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
    /// Secret Server: the folder alm writes into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder_id: Option<u32>,
    /// Secret Server: the secret template (default 6001, Active Directory Account).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<u32>,
    /// Secret Server: the user of the OAuth password grant; none: the credential is a token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

/// Whether the stored credential would go to another server than the one it was given for
/// (another address or endpoint, region, or CA).
fn sends_elsewhere(before: &VaultSettings, after: &VaultSettings) -> bool {
    before.address != after.address
        || before.endpoint != after.endpoint
        || before.region != after.region
        || before.ca_pem != after.ca_pem
        || before.authority != after.authority
        || before.tenant_id != after.tenant_id
}

pub struct VaultInput {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub settings: VaultSettings,
    /// The token (OpenBao, Secret Server), secret access key (AWS), client secret (Azure,
    /// DevOps Secrets Vault) or password (Secret Server with a username); `None` on update
    /// keeps it.
    pub credential: Option<Secret>,
    /// The engine pool that reaches the vault; `None`: the default pool (on create) or the
    /// current one (on update).
    pub pool_id: Option<alm_core::PoolId>,
    /// The daily sync's time (`HH:MM`, UTC): `None` keeps it ([`DEFAULT_SYNC_TIME`] for a new
    /// vault), `Some(None)` switches the schedule off.
    pub sync_time: Option<Option<String>>,
}

/// When a vault is synced (and its pool's engines calibrated) unless told otherwise: daily,
/// at night UTC (SPEC §7.6 "vault sync (scheduled and ad-hoc)").
pub const DEFAULT_SYNC_TIME: &str = "03:00";

#[derive(Debug, Clone)]
pub struct VaultInfo {
    pub record: VaultRecord,
    pub settings: VaultSettings,
}

pub(crate) fn credential_context(id: VaultId) -> String {
    format!("vault:{id}:credential")
}

/// The settings stored with a vault, read back strictly: JSON alm did not write is corruption.
fn stored_settings(record: &VaultRecord) -> ServiceResult<VaultSettings> {
    serde_json::from_str(&record.settings).map_err(|e| {
        ServiceError::Store(alm_store::StoreError::Corrupt(format!(
            "vaults.settings of {}: {e}",
            record.id
        )))
    })
}

fn info(record: VaultRecord) -> ServiceResult<VaultInfo> {
    let settings = stored_settings(&record)?;
    Ok(VaultInfo { record, settings })
}

/// A required setting of a stored external vault: missing is corruption (the API never
/// stores a vault without it), never an empty stand-in.
fn required(record: &VaultRecord, name: &str, value: Option<String>) -> ServiceResult<String> {
    value.ok_or_else(|| {
        ServiceError::Store(alm_store::StoreError::Corrupt(format!(
            "vaults.settings of {}: a {} vault without {name}",
            record.id, record.kind
        )))
    })
}

fn credential(record: &VaultRecord, key: &MasterKey) -> ServiceResult<Secret> {
    let sealed = record
        .credential_sealed
        .as_deref()
        .ok_or_else(|| Refusal::Unconfigured("the vault has no credential".into()))?;
    key.open(sealed, &credential_context(record.id))
        .map(|t| Secret::new(t.as_str()))
        .map_err(|e| {
            Refusal::Unconfigured(format!("the vault's stored credential cannot be read: {e}"))
                .into()
        })
}

/// How an engine reaches a stored external vault (opens the credential, for a leased job only).
pub(crate) fn connection(record: &VaultRecord, key: &MasterKey) -> ServiceResult<VaultConnection> {
    let s = stored_settings(record)?;
    Ok(match record.kind.as_str() {
        KIND_OPENBAO => VaultConnection::Openbao {
            address: required(record, "address", s.address)?,
            mount: s.mount.unwrap_or_else(|| "secret".into()),
            namespace: s.namespace,
            ca_pem: s.ca_pem,
            token: credential(record, key)?,
        },
        KIND_AWS => VaultConnection::AwsSecretsManager {
            region: required(record, "region", s.region)?,
            access_key_id: required(record, "access_key_id", s.access_key_id)?,
            endpoint: s.endpoint,
            ca_pem: s.ca_pem,
            secret_access_key: credential(record, key)?,
        },
        KIND_AZURE => VaultConnection::AzureKeyVault {
            vault_url: required(record, "address", s.address)?,
            tenant_id: required(record, "tenant_id", s.tenant_id)?,
            client_id: required(record, "client_id", s.client_id)?,
            authority: s.authority,
            ca_pem: s.ca_pem,
            client_secret: credential(record, key)?,
        },
        KIND_SECRET_SERVER => VaultConnection::SecretServer {
            address: required(record, "address", s.address)?,
            folder_id: s.folder_id.ok_or_else(|| {
                ServiceError::Store(alm_store::StoreError::Corrupt(format!(
                    "vaults.settings of {}: a {} vault without folder_id",
                    record.id, record.kind
                )))
            })?,
            template_id: s
                .template_id
                .unwrap_or(alm_vault::secret_server::DEFAULT_TEMPLATE_ID),
            username: s.username,
            ca_pem: s.ca_pem,
            credential: credential(record, key)?,
        },
        KIND_DSV => VaultConnection::DevopsSecretsVault {
            address: required(record, "address", s.address)?,
            client_id: required(record, "client_id", s.client_id)?,
            ca_pem: s.ca_pem,
            client_secret: credential(record, key)?,
        },
        other => {
            return Err(Refusal::Unconfigured(format!(
                "a {other} vault is not reached through engines"
            ))
            .into())
        }
    })
}

fn name_taken() -> ServiceError {
    ServiceError::Conflict(FieldError::new(
        "name",
        "unique",
        "a vault with this name already exists",
    ))
}

fn summary(v: &VaultInfo) -> serde_json::Value {
    json!({"name": v.record.name, "kind": v.record.kind, "address": v.settings.address, "region": v.settings.region})
}

pub async fn create(
    db: &Db,
    clock: &dyn Clock,
    key: &MasterKey,
    can: &Can<perm::VaultCreate>,
    actor: &Actor,
    input: VaultInput,
) -> ServiceResult<VaultInfo> {
    let _ = can;
    let now = clock.now();
    let requested_pool = input.pool_id;
    let mut built = build(VaultId::new_v7(now), input, None, key, now)?;
    let mut tx = db.begin_write().await?;
    built.record.pool_id = Some(super::engines::resolve_pool(&mut tx, requested_pool).await?);
    if vaults::find_by_name(&mut tx, &built.record.name)
        .await?
        .is_some()
    {
        return Err(name_taken());
    }
    vaults::insert(&mut tx, &built.record).await.map_err(|e| {
        if e.is_unique_violation() {
            name_taken()
        } else {
            e.into()
        }
    })?;
    record(
        &mut tx,
        clock,
        actor,
        "vault.created",
        Subject::new("vault", built.record.id),
        json!({"after": summary(&built)}),
    )
    .await?;
    tx.commit().await?;
    Ok(built)
}

pub async fn list(db: &Db, can: &Can<perm::VaultRead>) -> ServiceResult<Vec<VaultInfo>> {
    let _ = can;
    let mut conn = db.read().await?;
    vaults::list(&mut conn)
        .await?
        .into_iter()
        .map(info)
        .collect()
}

pub async fn get(db: &Db, can: &Can<perm::VaultRead>, id: VaultId) -> ServiceResult<VaultInfo> {
    let _ = can;
    let mut conn = db.read().await?;
    vaults::get(&mut conn, id)
        .await?
        .map(info)
        .ok_or(ServiceError::NotFound { what: "vault" })?
}

pub async fn update(
    db: &Db,
    clock: &dyn Clock,
    key: &MasterKey,
    can: &Can<perm::VaultUpdate>,
    actor: &Actor,
    id: VaultId,
    input: VaultInput,
) -> ServiceResult<VaultInfo> {
    let _ = can;
    let changed_credential = input.credential.is_some();
    let mut tx = db.begin_write().await?;
    let before = vaults::get(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound { what: "vault" })?;
    if before.kind == KIND_BUILTIN
        && (changed_credential || input.settings != VaultSettings::default())
    {
        return Err(Refusal::Protected(
            "the built-in vault has no settings or credential; only its name can change".into(),
        )
        .into());
    }
    let requested_pool = input.pool_id;
    let mut built = build(id, input, Some(&before), key, clock.now())?;
    let stored = stored_settings(&before)?;
    if !changed_credential && sends_elsewhere(&stored, &built.settings) {
        return Err(alm_core::FieldError::new(
            "credential",
            "required",
            "give the credential again when the address, endpoint, region or ca_pem change: a stored credential is never sent to a destination it was not given for",
        )
        .into());
    }
    built.record.pool_id =
        Some(super::engines::resolve_pool(&mut tx, requested_pool.or(before.pool_id)).await?);
    if let Some(other) = vaults::find_by_name(&mut tx, &built.record.name).await? {
        if other != id {
            return Err(name_taken());
        }
    }
    vaults::update(&mut tx, &built.record).await?;
    record(
        &mut tx,
        clock,
        actor,
        "vault.updated",
        Subject::new("vault", id),
        json!({"after": summary(&built), "credential_changed": changed_credential}),
    )
    .await?;
    tx.commit().await?;
    Ok(built)
}

pub async fn delete(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::VaultDelete>,
    actor: &Actor,
    id: VaultId,
) -> ServiceResult<()> {
    let _ = can;
    let mut tx = db.begin_write().await?;
    let before = vaults::get(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound { what: "vault" })?;
    if before.kind == KIND_BUILTIN {
        return Err(Refusal::Protected("the built-in vault cannot be removed".into()).into());
    }
    vaults::delete(&mut tx, id).await?;
    record(
        &mut tx,
        clock,
        actor,
        "vault.deleted",
        Subject::new("vault", id),
        json!({"before": {"name": before.name, "kind": before.kind}}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Checks the vault: the built-in one here (alm's own database), an external one through a
/// calibration job for every active engine of its pool.
pub async fn check(
    queue: &super::jobs::Queue,
    can: &Can<perm::VaultRead>,
    actor: &Actor,
    id: VaultId,
) -> ServiceResult<CheckOutcome> {
    let v = get(&queue.db, can, id).await?;
    let outcome = if v.record.kind == KIND_BUILTIN {
        let vault = BuiltinVault::new(
            queue.db.clone(),
            queue.key.clone(),
            queue.clock.clone(),
            v.record.id,
        );
        match vault.check().await {
            Ok(()) => CheckOutcome {
                ok: true,
                problem: None,
                message: format!("{} answers (alm's own database)", v.record.name),
                engines: vec![],
            },
            Err(e) => CheckOutcome {
                ok: false,
                problem: Some("unreachable".into()),
                message: e.to_string(),
                engines: vec![],
            },
        }
    } else {
        let pool = v
            .record
            .pool_id
            .ok_or_else(|| Refusal::Unconfigured("the vault has no engine pool".into()))?;
        super::calibration::calibrate(
            queue,
            actor,
            alm_core::job_kind::JobKind::VaultCheck,
            "vault",
            id.to_string(),
            pool,
            super::calibration::CHECK_WAIT,
        )
        .await?
    };
    let mut tx = queue.db.begin_write().await?;
    record(
        &mut tx,
        queue.clock.as_ref(),
        actor,
        "vault.checked",
        Subject::new("vault", id),
        json!({"ok": outcome.ok, "problem": outcome.problem}),
    )
    .await?;
    tx.commit().await?;
    Ok(outcome)
}

/// The latest calibration of each engine for the vault.
pub async fn calibrations(
    db: &Db,
    can: &Can<perm::VaultRead>,
    id: VaultId,
) -> ServiceResult<Vec<alm_store::engines::Calibration>> {
    get(db, can, id).await?;
    let mut conn = db.read().await?;
    Ok(alm_store::engines::calibrations(&mut conn, "vault", &id.to_string()).await?)
}

//! Vaults (SPEC §7.6): the built-in vault (entries sealed in alm's database; created at first
//! start, the default) and external ones (OpenBao / HashiCorp Vault, AWS Secrets Manager)
//! configured through the API with their credential sealed at rest and never returned.

use super::audit::{record, Subject};
use super::calibration::CheckOutcome;
use super::{Actor, ServiceError, ServiceResult};
use alm_core::permissions::{perm, Can};
use alm_core::{Clock, FieldError, ObjectName, Secret, ValidationErrors, VaultId};
use alm_engine::protocol::VaultConnection;
use alm_store::crypto::MasterKey;
use alm_store::vaults::{self, VaultRecord};
use alm_store::Db;
use alm_vault::aws::{AwsConfig, AwsSecretsManager};
use alm_vault::openbao::{OpenBaoConfig, OpenBaoVault};
use alm_vault::{SecretRef, Vault, VaultError, VaultResult, VaultSecret};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

pub const KIND_BUILTIN: &str = "builtin";
pub const KIND_OPENBAO: &str = "openbao";
pub const KIND_AWS: &str = "aws-secrets-manager";
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
}

/// Whether the stored credential would go to another server than the one it was given for
/// (another address or endpoint, region, or CA).
fn sends_elsewhere(before: &VaultSettings, after: &VaultSettings) -> bool {
    before.address != after.address
        || before.endpoint != after.endpoint
        || before.region != after.region
        || before.ca_pem != after.ca_pem
}

pub struct VaultInput {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub settings: VaultSettings,
    /// The token (OpenBao) or secret access key (AWS); `None` on update keeps it.
    pub credential: Option<String>,
    /// The engine pool that reaches the vault; `None`: the default pool (on create) or the
    /// current one (on update).
    pub pool_id: Option<alm_core::PoolId>,
}

#[derive(Debug, Clone)]
pub struct VaultInfo {
    pub record: VaultRecord,
    pub settings: VaultSettings,
}

pub(crate) fn credential_context(id: VaultId) -> String {
    format!("vault:{id}:credential")
}

fn info(record: VaultRecord) -> VaultInfo {
    let settings = serde_json::from_str(&record.settings).unwrap_or_default();
    VaultInfo { record, settings }
}

/// The built-in vault: entries sealed with the master key in alm's database.
pub struct BuiltinVault {
    db: Db,
    key: Arc<MasterKey>,
    clock: Arc<dyn Clock>,
    id: VaultId,
}

impl BuiltinVault {
    pub fn new(db: Db, key: Arc<MasterKey>, clock: Arc<dyn Clock>, id: VaultId) -> Self {
        Self { db, key, clock, id }
    }

    fn context(&self, folder: &str, name: &str) -> String {
        entry_context(self.id, folder, name)
    }

    fn split(id: &SecretRef) -> VaultResult<(&str, &str)> {
        id.0.rsplit_once('/')
            .ok_or_else(|| VaultError::Other(format!("{}: not a built-in vault id", id.0)))
    }
}

/// The associated data of a built-in vault entry: vault, folder and name.
fn entry_context(vault: VaultId, folder: &str, name: &str) -> String {
    format!("vault:{vault}:entry:{folder}/{name}")
}

/// A built-in vault entry sealed for storage (also used inside other transactions, e.g. when
/// provisioning stores a new account's password with the account).
pub(crate) fn seal_entry(
    key: &MasterKey,
    vault: VaultId,
    folder: &str,
    name: &str,
    secret: &VaultSecret,
) -> String {
    let entry = Entry {
        domain: secret.domain.clone(),
        username: secret.username.clone(),
        password: secret.password.expose().to_owned(),
        notes: secret.notes.clone(),
    };
    key.seal(
        &serde_json::to_string(&entry).expect("plain struct"),
        &entry_context(vault, folder, name),
    )
}

/// Moves a built-in vault entry to another folder inside the caller's transaction (an account
/// migration, SPEC §6.4): opened under its old place, sealed again under the new one (the
/// place is the sealing's associated data), the old entry removed. Returns the new reference,
/// or `None` when there is no entry at `from`.
pub(crate) async fn move_builtin_entry(
    tx: &mut alm_store::Conn,
    key: &MasterKey,
    vault: VaultId,
    from: &str,
    folder: &str,
    at: time::OffsetDateTime,
) -> ServiceResult<Option<String>> {
    let Some((old_folder, name)) = from.rsplit_once('/') else {
        return Ok(None);
    };
    let Some(sealed) = vaults::entry(tx, vault, old_folder, name).await? else {
        return Ok(None);
    };
    if old_folder == folder {
        return Ok(Some(from.to_owned()));
    }
    let text = key
        .open(&sealed, &entry_context(vault, old_folder, name))
        .map_err(|e| ServiceError::Store(alm_store::StoreError::Corrupt(e.to_string())))?;
    let resealed = key.seal(&text, &entry_context(vault, folder, name));
    vaults::put_entry(tx, vault, folder, name, &resealed, at).await?;
    vaults::delete_entry(tx, vault, old_folder, name).await?;
    Ok(Some(format!("{folder}/{name}")))
}

fn store_err(e: alm_store::StoreError) -> VaultError {
    VaultError::Other(e.to_string())
}

fn check_names(folder: &str, name: &str) -> VaultResult<()> {
    alm_vault::check_path("folder", folder).map_err(|e| VaultError::Config(e.to_string()))?;
    alm_vault::check_path("name", name).map_err(|e| VaultError::Config(e.to_string()))
}

#[derive(Serialize, Deserialize)]
struct Entry {
    domain: String,
    username: String,
    password: String,
    notes: String,
}

#[async_trait]
impl Vault for BuiltinVault {
    async fn check(&self) -> VaultResult<()> {
        self.db
            .ping()
            .await
            .then_some(())
            .ok_or_else(|| VaultError::Other("alm's database does not answer".into()))
    }

    async fn put(&self, folder: &str, name: &str, secret: &VaultSecret) -> VaultResult<SecretRef> {
        check_names(folder, name)?;
        let sealed = seal_entry(&self.key, self.id, folder, name, secret);
        let mut tx = self.db.begin_write().await.map_err(store_err)?;
        vaults::put_entry(&mut tx, self.id, folder, name, &sealed, self.clock.now())
            .await
            .map_err(store_err)?;
        tx.commit().await.map_err(store_err)?;
        Ok(SecretRef(format!("{folder}/{name}")))
    }

    async fn find(&self, folder: &str, name: &str) -> VaultResult<Option<SecretRef>> {
        check_names(folder, name)?;
        let mut conn = self.db.read().await.map_err(store_err)?;
        let found = vaults::entry(&mut conn, self.id, folder, name)
            .await
            .map_err(store_err)?;
        Ok(found.map(|_| SecretRef(format!("{folder}/{name}"))))
    }

    async fn get(&self, id: &SecretRef) -> VaultResult<Option<VaultSecret>> {
        let (folder, name) = Self::split(id)?;
        let mut conn = self.db.read().await.map_err(store_err)?;
        let Some(sealed) = vaults::entry(&mut conn, self.id, folder, name)
            .await
            .map_err(store_err)?
        else {
            return Ok(None);
        };
        let text = self
            .key
            .open(&sealed, &self.context(folder, name))
            .map_err(|e| VaultError::Other(e.to_string()))?;
        let e: Entry = serde_json::from_str(&text)
            .map_err(|_| VaultError::Other(format!("{}: unreadable entry", id.0)))?;
        Ok(Some(VaultSecret {
            domain: e.domain,
            username: e.username,
            password: Secret::new(e.password),
            notes: e.notes,
        }))
    }

    async fn delete(&self, id: &SecretRef) -> VaultResult<()> {
        let (folder, name) = Self::split(id)?;
        let mut tx = self.db.begin_write().await.map_err(store_err)?;
        vaults::delete_entry(&mut tx, self.id, folder, name)
            .await
            .map_err(store_err)?;
        tx.commit().await.map_err(store_err)
    }

    async fn list(&self, folder: &str) -> VaultResult<Vec<String>> {
        alm_vault::check_path("folder", folder).map_err(|e| VaultError::Config(e.to_string()))?;
        let mut conn = self.db.read().await.map_err(store_err)?;
        vaults::entry_names(&mut conn, self.id, folder)
            .await
            .map_err(store_err)
    }
}

/// Creates the built-in vault at first start (safe to call at every start).
pub async fn ensure_builtin(db: &Db, clock: &dyn Clock) -> ServiceResult<()> {
    let mut tx = db.begin_write().await?;
    if vaults::find_builtin(&mut tx).await?.is_none() {
        let now = clock.now();
        let id = VaultId::new_v7(now);
        vaults::insert(
            &mut tx,
            &VaultRecord {
                id,
                name: BUILTIN_NAME.into(),
                kind: KIND_BUILTIN.into(),
                settings: "{}".into(),
                credential_sealed: None,
                pool_id: None,
                created_at: now,
                updated_at: now,
            },
        )
        .await?;
        record(
            &mut tx,
            clock,
            &Actor::system(),
            "vault.created",
            Subject::new("vault", id),
            json!({"builtin": true}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

fn credential(record: &VaultRecord, key: &MasterKey) -> ServiceResult<Secret> {
    let sealed = record
        .credential_sealed
        .as_deref()
        .ok_or_else(|| ServiceError::NotAllowed("the vault has no credential".into()))?;
    key.open(sealed, &credential_context(record.id))
        .map(|t| Secret::new(t.as_str()))
        .map_err(|e| {
            ServiceError::NotAllowed(format!("the vault's stored credential cannot be read: {e}"))
        })
}

/// How an engine reaches a stored external vault (opens the credential, for a leased job only).
pub(crate) fn connection(record: &VaultRecord, key: &MasterKey) -> ServiceResult<VaultConnection> {
    let s: VaultSettings = serde_json::from_str(&record.settings).map_err(|e| {
        ServiceError::Store(alm_store::StoreError::Corrupt(format!(
            "vaults.settings of {}: {e}",
            record.id
        )))
    })?;
    Ok(match record.kind.as_str() {
        KIND_OPENBAO => VaultConnection::Openbao {
            address: s.address.unwrap_or_default(),
            mount: s.mount.unwrap_or_else(|| "secret".into()),
            namespace: s.namespace,
            ca_pem: s.ca_pem,
            token: credential(record, key)?,
        },
        KIND_AWS => VaultConnection::AwsSecretsManager {
            region: s.region.unwrap_or_default(),
            access_key_id: s.access_key_id.unwrap_or_default(),
            endpoint: s.endpoint,
            ca_pem: s.ca_pem,
            secret_access_key: credential(record, key)?,
        },
        other => {
            return Err(ServiceError::NotAllowed(format!(
                "a {other} vault is not reached through engines"
            )))
        }
    })
}

fn build(
    id: VaultId,
    input: VaultInput,
    before: Option<&VaultRecord>,
    key: &MasterKey,
    now: time::OffsetDateTime,
) -> ServiceResult<VaultInfo> {
    let mut errors = ValidationErrors::new();
    let name = input.name.or_else(|| before.map(|b| b.name.clone()));
    let name = match name {
        Some(n) => errors
            .check(ObjectName::parse("name", &n))
            .map(|n| n.as_str().to_owned()),
        None => {
            errors.push(FieldError::new("name", "required", "a name is required"));
            None
        }
    };
    let kind = before
        .map(|b| b.kind.clone())
        .or(input.kind.clone())
        .unwrap_or_default();
    if before.is_some() && input.kind.as_deref().is_some_and(|k| k != kind) {
        errors.push(FieldError::new(
            "kind",
            "immutable",
            "a vault's kind cannot change; add a new vault",
        ));
    }
    if before.is_none() && kind != KIND_OPENBAO && kind != KIND_AWS {
        errors.push(FieldError::new(
            "kind",
            "one-of",
            "must be openbao or aws-secrets-manager (the built-in vault exists already)",
        ));
    }
    let old: VaultSettings = before
        .and_then(|b| serde_json::from_str(&b.settings).ok())
        .unwrap_or_default();
    let merge = |new: Option<String>, old: Option<String>| {
        new.or(old)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let s = VaultSettings {
        address: merge(input.settings.address, old.address),
        mount: merge(input.settings.mount, old.mount),
        namespace: merge(input.settings.namespace, old.namespace),
        region: merge(input.settings.region, old.region),
        access_key_id: merge(input.settings.access_key_id, old.access_key_id),
        endpoint: merge(input.settings.endpoint, old.endpoint),
        ca_pem: merge(input.settings.ca_pem, old.ca_pem),
    };
    let sealed = match (&input.credential, before) {
        (Some(c), _) if c.is_empty() || c.len() > 4096 => {
            errors.push(FieldError::new(
                "credential",
                "length",
                "must have 1 to 4096 bytes",
            ));
            None
        }
        (Some(c), _) => Some(key.seal(c, &credential_context(id))),
        (None, Some(b)) => b.credential_sealed.clone(),
        (None, None) => {
            errors.push(FieldError::new(
                "credential",
                "required",
                "the token or secret access key is required",
            ));
            None
        }
    };
    // Checked by building the client, without connecting.
    let probe = Secret::new("-");
    match kind.as_str() {
        KIND_OPENBAO => {
            if s.address.is_none() {
                errors.push(FieldError::new(
                    "address",
                    "required",
                    "the vault's URL, e.g. https://vault.example.com:8200",
                ));
            } else if let Err(e) = OpenBaoVault::new(OpenBaoConfig {
                address: s.address.clone().unwrap_or_default(),
                token: probe,
                mount: s.mount.clone().unwrap_or_else(|| "secret".into()),
                namespace: s.namespace.clone(),
                ca_pem: s.ca_pem.clone(),
                timeout: Duration::from_secs(1),
            }) {
                let field = if e.to_string().contains("ca certificate") {
                    "ca_pem"
                } else if e.to_string().contains("mount") {
                    "mount"
                } else {
                    "address"
                };
                errors.push(FieldError::new(field, "format", e.to_string()));
            }
        }
        KIND_AWS => {
            if s.access_key_id.is_none() {
                errors.push(FieldError::new(
                    "access_key_id",
                    "required",
                    "the access key id is required",
                ));
            }
            let clock: Arc<dyn Clock> = Arc::new(alm_core::FixedClock::new(now));
            if let Err(e) = AwsSecretsManager::new(
                AwsConfig {
                    region: s.region.clone().unwrap_or_default(),
                    access_key_id: s.access_key_id.clone().unwrap_or_default(),
                    secret_access_key: probe,
                    endpoint: s.endpoint.clone(),
                    ca_pem: s.ca_pem.clone(),
                    timeout: Duration::from_secs(1),
                },
                clock,
            ) {
                let text = e.to_string();
                let field = if text.contains("region") {
                    "region"
                } else if text.contains("ca certificate") {
                    "ca_pem"
                } else {
                    "endpoint"
                };
                errors.push(FieldError::new(field, "format", text));
            }
        }
        _ => {}
    }
    errors.into_result()?;
    Ok(VaultInfo {
        record: VaultRecord {
            id,
            name: name.expect("checked"),
            kind,
            settings: serde_json::to_string(&s).expect("plain struct"),
            credential_sealed: sealed,
            pool_id: before.and_then(|b| b.pool_id),
            created_at: before.map(|b| b.created_at).unwrap_or(now),
            updated_at: now,
        },
        settings: s,
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
    Ok(vaults::list(&mut conn)
        .await?
        .into_iter()
        .map(info)
        .collect())
}

pub async fn get(db: &Db, can: &Can<perm::VaultRead>, id: VaultId) -> ServiceResult<VaultInfo> {
    let _ = can;
    let mut conn = db.read().await?;
    vaults::get(&mut conn, id)
        .await?
        .map(info)
        .ok_or(ServiceError::NotFound { what: "vault" })
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
        return Err(ServiceError::NotAllowed(
            "the built-in vault has no settings or credential; only its name can change".into(),
        ));
    }
    let requested_pool = input.pool_id;
    let mut built = build(id, input, Some(&before), key, clock.now())?;
    let stored: VaultSettings = serde_json::from_str(&before.settings).map_err(|e| {
        ServiceError::Store(alm_store::StoreError::Corrupt(format!(
            "vaults.settings of {id}: {e}"
        )))
    })?;
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
        return Err(ServiceError::NotAllowed(
            "the built-in vault cannot be removed".into(),
        ));
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
            .ok_or_else(|| ServiceError::NotAllowed("the vault has no engine pool".into()))?;
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

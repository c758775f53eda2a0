//! The built-in vault (SPEC §7.6): entries sealed with the master key in alm's own database,
//! the folder and name bound into each sealing; created at first start.

use super::*;

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

    /// The built-in vault keeps no record of where a secret is used (the host scan does).
    async fn dependencies(&self, _id: &SecretRef) -> VaultResult<Option<Vec<VaultDependency>>> {
        Ok(None)
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
                // Daily like every vault; placed at the first hourly check.
                sync_time: Some(super::DEFAULT_SYNC_TIME.into()),
                next_sync_at: None,
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

//! Does the master key this server was given open what the database holds sealed? Checked at
//! every start (issue: a backup restored without its `master.key` started with a new key, green
//! and "ok", until a domain check said "wrong master key"). The first start seals a check value;
//! a database from before it is tried against one stored domain password or vault credential,
//! and gets its check value once that opens.

use super::ServiceResult;
use alm_core::{DomainId, VaultId};
use alm_store::crypto::MasterKey;
use alm_store::{key_check, Db, StoreError};

/// The check value's associated data: it opens nowhere else.
const CONTEXT: &str = "alm:key-check";

/// What the check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyCheck {
    Opens,
    /// The key opens nothing sealed here; says what did not open.
    DoesNotOpen(String),
}

pub async fn verify(db: &Db, key: &MasterKey) -> ServiceResult<KeyCheck> {
    let mut tx = db.begin_write().await?;
    if let Some(sealed) = key_check::get(&mut tx).await? {
        return Ok(match key.open(&sealed, CONTEXT) {
            Ok(_) => KeyCheck::Opens,
            Err(_) => KeyCheck::DoesNotOpen("the database's key check value".into()),
        });
    }
    if let Some((id, sealed)) = key_check::a_domain_password(&mut tx).await? {
        let id: DomainId = id
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("domains.id {id:?}")))?;
        if key
            .open(&sealed, &super::domains::password_context(id))
            .is_err()
        {
            return Ok(KeyCheck::DoesNotOpen(format!(
                "the bind password of domain {id}"
            )));
        }
    }
    if let Some((id, sealed)) = key_check::a_vault_credential(&mut tx).await? {
        let id: VaultId = id
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("vaults.id {id:?}")))?;
        if key
            .open(&sealed, &super::vaults::credential_context(id))
            .is_err()
        {
            return Ok(KeyCheck::DoesNotOpen(format!(
                "the credential of vault {id}"
            )));
        }
    }
    key_check::put(&mut tx, &key.seal("alm master key check", CONTEXT)).await?;
    tx.commit().await?;
    Ok(KeyCheck::Opens)
}

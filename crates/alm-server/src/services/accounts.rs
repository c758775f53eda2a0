//! Managed accounts (SPEC §2.7), reading: `managed-account:read` shows the accounts the caller
//! owns (directly or through one of their groups); with `manage`, every account.

use super::{ServiceError, ServiceResult};
use alm_core::permissions::{perm, Can, Scope};
use alm_store::accounts::{self, AccountRecord, Owner};
use alm_store::{users, Conn, Db};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct AccountInfo {
    pub record: AccountRecord,
    pub owners: Vec<Owner>,
}

async fn owned_by(
    conn: &mut Conn,
    can: &Can<perm::AccountRead>,
) -> ServiceResult<Option<Vec<Uuid>>> {
    if can.scope() == Scope::All {
        return Ok(None);
    }
    let groups = users::group_ids(conn, can.actor()).await?;
    Ok(Some(
        accounts::list(conn, Some((can.actor(), &groups)))
            .await?
            .into_iter()
            .map(|a| a.id)
            .collect(),
    ))
}

pub async fn list(db: &Db, can: &Can<perm::AccountRead>) -> ServiceResult<Vec<AccountInfo>> {
    let mut conn = db.read().await?;
    let records = match can.scope() {
        Scope::All => accounts::list(&mut conn, None).await?,
        Scope::Own => {
            let groups = users::group_ids(&mut conn, can.actor()).await?;
            accounts::list(&mut conn, Some((can.actor(), &groups))).await?
        }
    };
    let mut out = Vec::new();
    for record in records {
        let owners = accounts::owners(&mut conn, record.id).await?;
        out.push(AccountInfo { record, owners });
    }
    Ok(out)
}

pub async fn get(db: &Db, can: &Can<perm::AccountRead>, id: Uuid) -> ServiceResult<AccountInfo> {
    let mut conn = db.read().await?;
    if let Some(mine) = owned_by(&mut conn, can).await? {
        if !mine.contains(&id) {
            return Err(ServiceError::NotFound { what: "account" });
        }
    }
    let record = accounts::get(&mut conn, id)
        .await?
        .ok_or(ServiceError::NotFound { what: "account" })?;
    let owners = accounts::owners(&mut conn, id).await?;
    Ok(AccountInfo { record, owners })
}

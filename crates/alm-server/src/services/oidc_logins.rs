//! The logins started at the OIDC provider and not yet back (SPEC §9): kept under the hash of
//! their `state`, for ten minutes, and taken exactly once.

use super::ServiceResult;
use crate::auth::secret_token;
use alm_store::oidc_logins::{self, PendingLogin};
use alm_store::Db;
use time::OffsetDateTime;

/// How long a started login may take at the provider.
pub const PENDING_FOR: time::Duration = time::Duration::minutes(10);

/// Remembers a login started now under its `state` value.
pub async fn remember(
    db: &Db,
    state: &str,
    pending: &PendingLogin,
    now: OffsetDateTime,
) -> ServiceResult<()> {
    let mut tx = db.begin_write().await?;
    oidc_logins::insert(
        &mut tx,
        &secret_token::hash(state),
        pending,
        now + PENDING_FOR,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The login started under `state`, once: `None` when unknown, used or expired.
pub async fn take(
    db: &Db,
    state: &str,
    now: OffsetDateTime,
) -> ServiceResult<Option<PendingLogin>> {
    let mut tx = db.begin_write().await?;
    let pending = oidc_logins::take(&mut tx, &secret_token::hash(state), now).await?;
    tx.commit().await?;
    Ok(pending)
}

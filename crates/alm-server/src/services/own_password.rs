//! A signed-in user changes their own local password: the current one proves it is them, the
//! new one follows the password rules and differs from it. This is also how a one-time
//! password (generated and printed by alm) is replaced at the first sign-in; until then the
//! API and the pages refuse everything else for that session (`Principal::password_must_change`).

use super::audit::{record, Subject};
use super::refusal::Refusal;
use super::{Principal, ServiceError, ServiceResult};
use crate::auth::password;
use alm_core::{Clock, FieldError, ValidationErrors};
use alm_store::{users, Db};
use serde_json::json;

/// The rules a new password follows, as a person reads them (the sign-in pages show them).
pub const RULES: &str =
    "At least 12 characters (at most 1024 bytes). A few unrelated words make a good one.";

pub async fn change(
    db: &Db,
    clock: &dyn Clock,
    principal: &Principal,
    current: &str,
    new: &str,
) -> ServiceResult<()> {
    let stored = {
        let mut conn = db.read().await?;
        users::password_hash(&mut conn, principal.user_id).await?
    };
    if stored.is_none() {
        return Err(ServiceError::Refused(Refusal::InState(
            "you sign in through your identity provider: alm keeps no password of yours".into(),
        )));
    }
    let mut errors = ValidationErrors::new();
    if current.is_empty() {
        errors.push(FieldError::new(
            "current_password",
            "required",
            "enter your current password",
        ));
    } else if !password::verify(current.to_owned(), stored).await {
        errors.push(FieldError::new(
            "current_password",
            "matches",
            "this is not your current password",
        ));
    }
    if let Err(e) = password::check_strength("new_password", new) {
        errors.push(e);
    } else if new == current {
        errors.push(FieldError::new(
            "new_password",
            "differs",
            "choose a password different from the current one",
        ));
    }
    errors.into_result()?;
    let hash = password::hash(new.to_owned())
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
    let mut tx = db.begin_write().await?;
    users::set_password_hash(&mut tx, principal.user_id, Some(&hash), false, clock.now()).await?;
    record(
        &mut tx,
        clock,
        &principal.actor,
        "user.password-changed",
        Subject::new("user", principal.user_id),
        json!({"was_one_time": principal.password_must_change}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

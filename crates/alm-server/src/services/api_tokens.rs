//! API tokens (SPEC §9): created by a user for themselves, shown once, stored hashed, with
//! an optional expiry; they act with that user's permissions. Without `api-token:manage` a
//! user lists and revokes only their own.

use super::audit::{record, Subject};
use super::{Actor, ServiceError, ServiceResult};
use crate::auth::secret_token;
use alm_core::paging::PageRequest;
use alm_core::permissions::{perm, Can, Scope};
use alm_core::{Clock, FieldError, ObjectName, TokenId, UserId, ValidationErrors};
use alm_store::api_tokens::{self, TokenRecord};
use alm_store::Db;
use serde_json::json;

pub const MAX_DAYS: u32 = 3650;

pub struct CreateToken {
    pub name: String,
    /// Days until expiry; `None` for a token that does not expire.
    pub expires_in_days: Option<u32>,
}

/// A new token: its record, and the secret, which is never shown again.
pub struct IssuedToken {
    pub record: TokenRecord,
    pub secret: String,
}

pub fn check_days(field: &str, days: Option<u32>) -> Result<(), FieldError> {
    match days {
        Some(d) if d == 0 || d > MAX_DAYS => Err(FieldError::new(
            field,
            "range",
            format!("must be between 1 and {MAX_DAYS} days"),
        )),
        _ => Ok(()),
    }
}

pub async fn create(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::ApiTokenCreate>,
    actor: &Actor,
    input: CreateToken,
) -> ServiceResult<IssuedToken> {
    issue(db, clock, actor, can.actor(), input).await
}

/// Issues a token for `owner`; shared by the API and `alm admin create-token`.
pub(crate) async fn issue(
    db: &Db,
    clock: &dyn Clock,
    actor: &Actor,
    owner: UserId,
    input: CreateToken,
) -> ServiceResult<IssuedToken> {
    let mut errors = ValidationErrors::new();
    let name = errors.check(ObjectName::parse("name", &input.name));
    errors.check(check_days("expires_in_days", input.expires_in_days));
    errors.into_result()?;
    let now = clock.now();
    let record_ = TokenRecord {
        id: TokenId::new_v7(now),
        user_id: owner,
        name: name.expect("checked").as_str().to_owned(),
        created_at: now,
        expires_at: input
            .expires_in_days
            .map(|d| now + time::Duration::days(i64::from(d))),
        last_used_at: None,
        revoked_at: None,
    };
    let secret = secret_token::new_api_token();
    let mut tx = db.begin_write().await?;
    api_tokens::insert(&mut tx, &record_, &secret_token::hash(&secret)).await?;
    record(
        &mut tx,
        clock,
        actor,
        "api-token.created",
        Subject::new("api-token", record_.id),
        json!({"after": {"owner": owner, "name": record_.name, "expires_in_days": input.expires_in_days}}),
    )
    .await?;
    tx.commit().await?;
    Ok(IssuedToken {
        record: record_,
        secret,
    })
}

pub async fn list(
    db: &Db,
    can: &Can<perm::ApiTokenRead>,
    user: Option<UserId>,
    query: Option<&str>,
    page: &PageRequest,
) -> ServiceResult<(Vec<TokenRecord>, u64)> {
    let user = match can.scope() {
        Scope::Own => Some(can.actor()),
        Scope::All => user,
    };
    let mut conn = db.read().await?;
    Ok(api_tokens::list(&mut conn, user, query, page).await?)
}

pub async fn revoke(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::ApiTokenDelete>,
    actor: &Actor,
    id: TokenId,
) -> ServiceResult<TokenRecord> {
    let mut tx = db.begin_write().await?;
    let token = api_tokens::get(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound { what: "API token" })?;
    if !can.reaches(token.user_id) {
        return Err(ServiceError::out_of_scope(
            "API token",
            "api-token",
            can.actor(),
            id,
        ));
    }
    if token.revoked_at.is_some() {
        return Ok(token);
    }
    api_tokens::revoke(&mut tx, id, clock.now()).await?;
    record(
        &mut tx,
        clock,
        actor,
        "api-token.revoked",
        Subject::new("api-token", id),
        json!({"owner": token.user_id}),
    )
    .await?;
    let token = api_tokens::get(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound { what: "API token" })?;
    tx.commit().await?;
    Ok(token)
}

//! A person's right to their data (SPEC §13): export everything alm holds about them, and
//! forget a disabled person — their name, email addresses and source IPs replaced everywhere by
//! a stable pseudonym (see `alm_store::privacy` for where, and what stays out of reach).
//!
//! Forgetting needs `user:delete` with `user:manage` (it is the erasure of a person; users are
//! never deleted as rows, history refers to them by id). Everyone may export their own data
//! (`/me/export`); another person's needs `user:read` with `user:manage`. Both are audited, with
//! counts only.

use super::audit::{record, Subject};
use super::refusal::Refusal;
use super::users::in_scope;
use super::{denied, Actor, ServiceError, ServiceResult};
use alm_core::permissions::{perm, Can};
use alm_core::{Clock, UserId};
use alm_store::privacy::{Erased, Erasure};
use alm_store::{users, Db};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The pseudonym of a forgotten person: the same for the same person every time (derived from
/// their id, which is not personal), different between people, and an address that can never
/// receive mail (`.invalid`, RFC 6761).
pub fn pseudonym(id: UserId) -> (String, String) {
    let digest = hex::encode(Sha256::digest(format!("alm-forgotten:{id}")));
    let short = &digest[..10];
    (
        format!("Forgotten user {short}"),
        format!("forgotten-{short}@forgotten.invalid"),
    )
}

/// Erases the person's personal data; refuses an enabled person (disable them first, which
/// also checks that no account is left without an owner).
pub async fn forget(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::UserDelete>,
    actor: &Actor,
    id: UserId,
) -> ServiceResult<Erased> {
    can.require_manage().map_err(denied(can.actor()))?;
    let now = clock.now();
    let mut tx = db.begin_write().await?;
    let user = users::get(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound { what: "user" })?;
    if user.enabled {
        return Err(ServiceError::Refused(Refusal::InState(
            "only a disabled user can be forgotten: disable them first".into(),
        )));
    }
    let (pseudonym_name, pseudonym_email) = pseudonym(id);
    let emails: Vec<String> = user
        .emails
        .iter()
        .map(|e| e.to_lowercase())
        .filter(|e| *e != pseudonym_email)
        .collect();
    let ips = alm_store::privacy::source_ips(&mut tx, id, &emails).await?;
    let erasure = Erasure {
        user: id,
        name: user.display_name.clone(),
        emails,
        pseudonym_name,
        pseudonym_email,
    };
    let erased = alm_store::privacy::erase(&mut tx, &erasure, &ips, now).await?;
    record(
        &mut tx,
        clock,
        actor,
        "user.forgotten",
        Subject::new("user", id),
        json!({"audit_records": erased.audit_records, "jobs": erased.jobs, "text_fields": erased.text_fields, "anonymous_source_ips": erased.source_ips, "sessions_ended": erased.sessions}),
    )
    .await?;
    tx.commit().await?;
    Ok(erased)
}

/// Everything alm holds about the person, as one JSON document.
pub async fn export(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::UserRead>,
    actor: &Actor,
    id: UserId,
) -> ServiceResult<Value> {
    in_scope(db, can, id).await?;
    write_export(db, clock, actor, id).await
}

/// Everything alm holds about the signed-in person.
pub async fn export_own(
    db: &Db,
    clock: &dyn Clock,
    principal: &super::Principal,
) -> ServiceResult<Value> {
    write_export(db, clock, &principal.actor, principal.user_id).await
}

async fn write_export(
    db: &Db,
    clock: &dyn Clock,
    actor: &Actor,
    id: UserId,
) -> ServiceResult<Value> {
    let mut tx = db.begin_write().await?;
    if users::get(&mut tx, id).await?.is_none() {
        return Err(ServiceError::NotFound { what: "user" });
    }
    let mut document = alm_store::privacy::export(&mut tx, id).await?;
    document["exported_at"] = json!(alm_core::rfc3339::format(clock.now()));
    record(
        &mut tx,
        clock,
        actor,
        "user.exported",
        Subject::new("user", id),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(document)
}

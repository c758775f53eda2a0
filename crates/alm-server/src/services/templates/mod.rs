//! Workflow templates (SPEC §2.4): create, edit (a draft version only), version, publish
//! (directly by a holder of `provision-template-workflow:manage`, otherwise through their
//! approval), unpublish, disable, delete (never-published ones only), and read.
//!
//! Who sees what: with `provision-template:manage`, every template and its latest version;
//! without, the published version of published templates whose audience includes the caller
//! (a group they belong to), plus templates they created themselves.

mod checks;
mod publishing;
mod reading;

pub use checks::check;
pub(crate) use checks::validate;
pub(crate) use checks::{step_reach, synced_ous};
pub use publishing::{publish, set_state};
pub use reading::{get, list, versions};

use super::audit::{record, Subject};
use super::refusal::Refusal;
use super::{Actor, ServiceError, ServiceResult};
use alm_core::permissions::{perm, Can, Scope};
use alm_core::templates::{
    publish_step, Facts, PublishStep, TemplateDefinition, TemplateState, VersionState,
};
use alm_core::{Clock, FieldError, GroupId, ObjectName, UserId};
use alm_store::templates::{self as store, TemplateRecord, VersionRecord};
use alm_store::{directory_sync, domains, groups, users, vaults, Conn, Db};
use serde_json::json;
use std::collections::HashSet;
use uuid::Uuid;

/// A template with one of its versions, as callers see it.
#[derive(Debug, Clone)]
pub struct TemplateInfo {
    pub template: TemplateRecord,
    pub version: VersionRecord,
    pub definition: TemplateDefinition,
}

fn not_found() -> ServiceError {
    ServiceError::NotFound { what: "template" }
}

fn name_taken() -> ServiceError {
    ServiceError::Conflict(FieldError::new(
        "name",
        "unique",
        "a template with this name already exists",
    ))
}

pub(crate) fn decode(v: &VersionRecord) -> ServiceResult<TemplateDefinition> {
    serde_json::from_str(&v.definition).map_err(|e| {
        ServiceError::Store(alm_store::StoreError::Corrupt(format!(
            "template {} version {}: {e}",
            v.template_id, v.version
        )))
    })
}

fn checked_name(name: &str) -> ServiceResult<String> {
    Ok(ObjectName::parse("name", name)?.as_str().to_owned())
}

fn summary(t: &TemplateRecord, v: &VersionRecord) -> serde_json::Value {
    json!({"name": t.name, "state": t.state, "version": v.version, "version_state": v.state})
}

pub async fn create(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::TemplateCreate>,
    actor: &Actor,
    name: &str,
    definition: TemplateDefinition,
) -> ServiceResult<TemplateInfo> {
    let name = checked_name(name)?;
    let now = clock.now();
    let mut tx = db.begin_write().await?;
    validate(&mut tx, &definition).await?;
    if store::find_by_name(&mut tx, &name).await?.is_some() {
        return Err(name_taken());
    }
    let template = TemplateRecord {
        id: alm_core::ids::uuid_v7_at(now),
        name,
        state: TemplateState::Draft,
        published_version: None,
        latest_version: 1,
        created_at: now,
        updated_at: now,
    };
    let version = VersionRecord {
        template_id: template.id,
        version: 1,
        state: VersionState::Draft,
        definition: serde_json::to_string(&definition).expect("plain data"),
        created_by: Some(can.actor().to_string()),
        submitted_by: None,
        approved_by: None,
        created_at: now,
        updated_at: now,
        published_at: None,
    };
    store::insert(&mut tx, &template).await.map_err(|e| {
        if matches!(e, alm_store::StoreError::Conflict { .. }) {
            name_taken()
        } else {
            e.into()
        }
    })?;
    store::insert_version(&mut tx, &version).await?;
    record(
        &mut tx,
        clock,
        actor,
        "template.created",
        Subject::new("template", template.id),
        summary(&template, &version),
    )
    .await?;
    tx.commit().await?;
    Ok(TemplateInfo {
        template,
        version,
        definition,
    })
}

/// Changes the name and/or the draft version's definition. A published template is never
/// edited in place; an unpublished one gets a new draft version for the change.
pub async fn update(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::TemplateUpdate>,
    actor: &Actor,
    id: Uuid,
    name: Option<&str>,
    definition: Option<TemplateDefinition>,
) -> ServiceResult<TemplateInfo> {
    let now = clock.now();
    let mut tx = db.begin_write().await?;
    let mut t = store::get(&mut tx, id).await?.ok_or_else(not_found)?;
    let mut v = store::version(&mut tx, id, t.latest_version)
        .await?
        .ok_or_else(not_found)?;
    if let Some(n) = name {
        let n = checked_name(n)?;
        if let Some(other) = store::find_by_name(&mut tx, &n).await? {
            if other != id {
                return Err(name_taken());
            }
        }
        t.name = n;
    }
    if let Some(d) = &definition {
        match (t.state, v.state) {
            (TemplateState::Disabled, _) => {
                return Err(ServiceError::Refused(Refusal::InState(
                    "a disabled template cannot change".into(),
                )))
            }
            (_, VersionState::Draft | VersionState::NeedsApproval) => {
                // A change sends a version waiting for approval back to draft.
                v.state = VersionState::Draft;
                v.submitted_by = None;
            }
            (TemplateState::Unpublished, _) => {
                v = new_version_from(&t, &v, can.actor(), now);
                t.latest_version = v.version;
                store::insert_version(&mut tx, &v).await?;
            }
            _ => {
                return Err(ServiceError::Refused(Refusal::InState(
                    "a published template is never edited in place: create a new version (POST …/versions) and edit that".into(),
                )))
            }
        }
        validate(&mut tx, d).await?;
        v.definition = serde_json::to_string(d).expect("plain data");
        v.updated_at = now;
        store::update_version(&mut tx, &v).await?;
    }
    t.updated_at = now;
    store::update(&mut tx, &t).await.map_err(|e| {
        if matches!(e, alm_store::StoreError::Conflict { .. }) {
            name_taken()
        } else {
            e.into()
        }
    })?;
    recorded(tx, clock, actor, "template.updated", t, v).await
}

/// Records `action` on the template, commits, and answers the template as it is now.
pub(crate) async fn recorded(
    mut tx: alm_store::WriteTx,
    clock: &dyn Clock,
    actor: &Actor,
    action: &str,
    t: TemplateRecord,
    v: VersionRecord,
) -> ServiceResult<TemplateInfo> {
    record(
        &mut tx,
        clock,
        actor,
        action,
        Subject::new("template", t.id),
        summary(&t, &v),
    )
    .await?;
    tx.commit().await?;
    let definition = decode(&v)?;
    Ok(TemplateInfo {
        template: t,
        version: v,
        definition,
    })
}

pub(crate) fn new_version_from(
    t: &TemplateRecord,
    from: &VersionRecord,
    author: UserId,
    now: time::OffsetDateTime,
) -> VersionRecord {
    VersionRecord {
        template_id: t.id,
        version: t.latest_version + 1,
        state: VersionState::Draft,
        definition: from.definition.clone(),
        created_by: Some(author.to_string()),
        submitted_by: None,
        approved_by: None,
        created_at: now,
        updated_at: now,
        published_at: None,
    }
}

/// Copies the latest version into a new draft version.
pub async fn new_version(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::TemplateCreate>,
    actor: &Actor,
    id: Uuid,
) -> ServiceResult<TemplateInfo> {
    let now = clock.now();
    let mut tx = db.begin_write().await?;
    let mut t = store::get(&mut tx, id).await?.ok_or_else(not_found)?;
    let latest = store::version(&mut tx, id, t.latest_version)
        .await?
        .ok_or_else(not_found)?;
    if t.state == TemplateState::Disabled {
        return Err(ServiceError::Refused(Refusal::InState(
            "a disabled template gets no new versions".into(),
        )));
    }
    if matches!(
        latest.state,
        VersionState::Draft | VersionState::NeedsApproval
    ) {
        return Err(ServiceError::Refused(Refusal::InState(format!(
            "version {} is still a draft: edit it instead",
            latest.version
        ))));
    }
    let v = new_version_from(&t, &latest, can.actor(), now);
    store::insert_version(&mut tx, &v).await?;
    t.latest_version = v.version;
    t.updated_at = now;
    store::update(&mut tx, &t).await?;
    recorded(tx, clock, actor, "template.version-created", t, v).await
}

/// Removes a template that was never published (a published one may have accounts: disable it).
pub async fn delete(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::TemplateDelete>,
    actor: &Actor,
    id: Uuid,
) -> ServiceResult<()> {
    let _ = can;
    let mut tx = db.begin_write().await?;
    let t = store::get(&mut tx, id).await?.ok_or_else(not_found)?;
    if t.published_version.is_some() {
        return Err(ServiceError::Refused(Refusal::Protected(
            "a template that was published is kept (accounts refer to its versions); disable it instead".into(),
        )));
    }
    store::delete(&mut tx, id).await?;
    record(
        &mut tx,
        clock,
        actor,
        "template.deleted",
        Subject::new("template", id),
        json!({"name": t.name}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

//! Workflow templates (SPEC §2.4): create, edit (a draft version only), version, publish
//! (directly by a holder of `provision-template-workflow:manage`, otherwise through their
//! approval), unpublish, disable, delete (never-published ones only), and read.
//!
//! Who sees what: with `provision-template:manage`, every template and its latest version;
//! without, the published version of published templates whose audience includes the caller
//! (a group they belong to), plus templates they created themselves.

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

pub(super) fn decode(v: &VersionRecord) -> ServiceResult<TemplateDefinition> {
    serde_json::from_str(&v.definition).map_err(|e| {
        ServiceError::Store(alm_store::StoreError::Corrupt(format!(
            "template {} version {}: {e}",
            v.template_id, v.version
        )))
    })
}

/// The OUs of the domain's last sync, as parsed DNs (compared RDN by RDN, never as text).
/// A DN the directory wrote that does not parse cannot be chosen; it is logged, not guessed at.
pub(crate) async fn synced_ous(
    conn: &mut Conn,
    domain: alm_core::DomainId,
) -> ServiceResult<HashSet<alm_core::Dn>> {
    let mut ous = HashSet::new();
    for o in directory_sync::all_of_kinds(conn, domain, &["ou"]).await? {
        match alm_core::Dn::parse(&o.dn) {
            Ok(dn) => {
                ous.insert(dn);
            }
            Err(e) => {
                tracing::warn!(domain = %domain, dn = %o.dn, "a synced OU's DN does not parse: {e}")
            }
        }
    }
    Ok(ous)
}

/// Looks up what validation needs from the database.
async fn facts(conn: &mut Conn, d: &TemplateDefinition) -> ServiceResult<Facts> {
    let domain_exists = domains::get(conn, d.domain_id).await?.is_some();
    let vault_exists = vaults::get(conn, d.vault_id).await?.is_some();
    let known_ous = if domain_exists {
        synced_ous(conn, d.domain_id).await?
    } else {
        HashSet::new()
    };
    let known_attributes = if domain_exists {
        directory_sync::attributes(conn, d.domain_id, None)
            .await?
            .into_iter()
            .map(|a| a.to_lowercase())
            .collect()
    } else {
        HashSet::new()
    };
    let mut unknown = Vec::new();
    let mut eligible = Vec::new();
    for (i, step) in d.steps.iter().enumerate() {
        let (reach, missing) = step_reach(conn, step).await?;
        for (kind, j, id) in missing {
            unknown.push((format!("steps[{i}].{kind}[{j}]"), id));
        }
        eligible.push(reach.len());
    }
    for (j, g) in d.audience_groups.iter().enumerate() {
        if groups::get(conn, *g).await?.is_none() {
            unknown.push((format!("audience_groups[{j}]"), g.to_string()));
        }
    }
    if let Some(gmsa) = &d.gmsa {
        for (j, u) in gmsa.password_reader_users.iter().enumerate() {
            if users::get(conn, *u).await?.is_none() {
                unknown.push((format!("gmsa.password_reader_users[{j}]"), u.to_string()));
            }
        }
        for (j, g) in gmsa.password_reader_groups.iter().enumerate() {
            if groups::get(conn, *g).await?.is_none() {
                unknown.push((format!("gmsa.password_reader_groups[{j}]"), g.to_string()));
            }
        }
    }
    Ok(Facts {
        domain_exists,
        vault_exists,
        known_ous,
        known_attributes,
        eligible_approvers: eligible,
        unknown_principals: unknown,
    })
}

/// The distinct enabled users a step reaches (its users, and enabled members of its enabled
/// groups), and the users and groups it names that do not exist as (list, index, id).
pub(crate) async fn step_reach(
    conn: &mut Conn,
    step: &alm_core::templates::ApprovalStep,
) -> ServiceResult<(HashSet<UserId>, Vec<(&'static str, usize, String)>)> {
    let mut reach = HashSet::new();
    let mut missing = Vec::new();
    for (j, u) in step.users.iter().enumerate() {
        match users::get(conn, *u).await? {
            Some(user) if user.enabled => {
                reach.insert(user.id);
            }
            Some(_) => {}
            None => missing.push(("users", j, u.to_string())),
        }
    }
    for (j, g) in step.groups.iter().enumerate() {
        if groups::get(conn, *g).await?.is_none() {
            missing.push(("groups", j, g.to_string()));
            continue;
        }
        reach.extend(groups::enabled_member_ids(conn, *g).await?);
    }
    Ok((reach, missing))
}

pub(super) async fn validate(conn: &mut Conn, d: &TemplateDefinition) -> ServiceResult<()> {
    let facts = facts(conn, d).await?;
    Ok(d.validate(&facts)?)
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

/// The caller's groups (for the audience rule).
async fn caller_groups(conn: &mut Conn, user: UserId) -> ServiceResult<HashSet<GroupId>> {
    Ok(users::group_ids(conn, user).await?.into_iter().collect())
}

/// Which version of `t` the caller may read, if any.
async fn visible_version(
    conn: &mut Conn,
    t: &TemplateRecord,
    scope: Scope,
    caller: UserId,
    groups_of_caller: &HashSet<GroupId>,
) -> ServiceResult<Option<VersionRecord>> {
    let latest = store::version(conn, t.id, t.latest_version).await?;
    if scope == Scope::All {
        return Ok(latest);
    }
    let first = store::version(conn, t.id, 1).await?;
    if first.as_ref().and_then(|v| v.created_by.as_deref()) == Some(caller.to_string().as_str()) {
        return Ok(latest);
    }
    if t.state != TemplateState::Published {
        return Ok(None);
    }
    let Some(published) = t.published_version else {
        return Ok(None);
    };
    let Some(v) = store::version(conn, t.id, published).await? else {
        return Ok(None);
    };
    let d = decode(&v)?;
    Ok(d.audience_groups
        .iter()
        .any(|g| groups_of_caller.contains(g))
        .then_some(v))
}

pub async fn list(db: &Db, can: &Can<perm::TemplateRead>) -> ServiceResult<Vec<TemplateInfo>> {
    let mut conn = db.read().await?;
    let mine = caller_groups(&mut conn, can.actor()).await?;
    let mut out = Vec::new();
    for t in store::list(&mut conn, None).await? {
        if let Some(v) = visible_version(&mut conn, &t, can.scope(), can.actor(), &mine).await? {
            let definition = decode(&v)?;
            out.push(TemplateInfo {
                template: t,
                version: v,
                definition,
            });
        }
    }
    Ok(out)
}

pub async fn get(db: &Db, can: &Can<perm::TemplateRead>, id: Uuid) -> ServiceResult<TemplateInfo> {
    let mut conn = db.read().await?;
    let t = store::get(&mut conn, id).await?.ok_or_else(not_found)?;
    let mine = caller_groups(&mut conn, can.actor()).await?;
    let v = visible_version(&mut conn, &t, can.scope(), can.actor(), &mine)
        .await?
        .ok_or_else(|| ServiceError::out_of_scope("template", "template", can.actor(), id))?;
    let definition = decode(&v)?;
    Ok(TemplateInfo {
        template: t,
        version: v,
        definition,
    })
}

/// Every version (managers and the template's author only).
pub async fn versions(
    db: &Db,
    can: &Can<perm::TemplateRead>,
    id: Uuid,
) -> ServiceResult<Vec<(VersionRecord, TemplateDefinition)>> {
    let info = get(db, can, id).await?;
    if can.scope() != Scope::All && info.version.version != info.template.latest_version {
        // A requester sees the published version only.
        return Ok(vec![(info.version, info.definition)]);
    }
    let mut conn = db.read().await?;
    store::versions(&mut conn, id)
        .await?
        .into_iter()
        .map(|v| decode(&v).map(|d| (v, d)))
        .collect()
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
    record(
        &mut tx,
        clock,
        actor,
        "template.updated",
        Subject::new("template", id),
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

pub(super) fn new_version_from(
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
    record(
        &mut tx,
        clock,
        actor,
        "template.version-created",
        Subject::new("template", id),
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

/// Publishes the latest version (or sends it for approval; see the module header). The
/// definition is validated again: what it refers to may have changed since it was saved.
pub async fn publish(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::TemplateUpdate>,
    actor: &Actor,
    id: Uuid,
    workflow_manager: bool,
    base_url: &str,
) -> ServiceResult<TemplateInfo> {
    let now = clock.now();
    let mut tx = db.begin_write().await?;
    let mut t = store::get(&mut tx, id).await?.ok_or_else(not_found)?;
    let mut v = store::version(&mut tx, id, t.latest_version)
        .await?
        .ok_or_else(not_found)?;
    let step = publish_step(t.state, v.state, workflow_manager)
        .map_err(|m| ServiceError::Refused(Refusal::InState(m)))?;
    let definition = decode(&v)?;
    validate(&mut tx, &definition).await?;
    let action = match step {
        PublishStep::AskApproval => {
            v.state = VersionState::NeedsApproval;
            v.submitted_by = Some(can.actor().to_string());
            let admins = super::notifications::system_administrators(&mut tx).await?;
            super::notifications::emit(
                &mut tx,
                now,
                alm_notify::events::TEMPLATE_NEEDS_APPROVAL,
                &json!({"template": {"name": t.name, "version": v.version.to_string(),
                                     "url": format!("{base_url}/api/v1/templates/{id}")}}),
                admins,
                Some(("template", id.to_string())),
            )
            .await?;
            "template.needs-approval"
        }
        PublishStep::Publish => {
            if let Some(old) = t.published_version.filter(|p| *p != v.version) {
                if let Some(mut previous) = store::version(&mut tx, id, old).await? {
                    previous.state = VersionState::Superseded;
                    previous.updated_at = now;
                    store::update_version(&mut tx, &previous).await?;
                }
            }
            if v.state != VersionState::Published {
                v.state = VersionState::Published;
                v.approved_by = Some(can.actor().to_string());
                v.published_at = Some(now);
            }
            t.published_version = Some(v.version);
            t.state = TemplateState::Published;
            "template.published"
        }
    };
    v.updated_at = now;
    t.updated_at = now;
    store::update_version(&mut tx, &v).await?;
    store::update(&mut tx, &t).await?;
    record(
        &mut tx,
        clock,
        actor,
        action,
        Subject::new("template", id),
        summary(&t, &v),
    )
    .await?;
    tx.commit().await?;
    Ok(TemplateInfo {
        template: t,
        version: v,
        definition,
    })
}

/// Published → unpublished (no new requests; changes go into a new version), or disabled
/// for good.
pub async fn set_state(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::TemplateUpdate>,
    actor: &Actor,
    id: Uuid,
    to: TemplateState,
) -> ServiceResult<TemplateInfo> {
    let _ = can;
    let now = clock.now();
    let mut tx = db.begin_write().await?;
    let mut t = store::get(&mut tx, id).await?.ok_or_else(not_found)?;
    let from = t.state;
    let (allowed, action) = match to {
        TemplateState::Unpublished => (from == TemplateState::Published, "template.unpublished"),
        TemplateState::Disabled => (from != TemplateState::Disabled, "template.deactivated"),
        _ => (false, ""),
    };
    if !allowed {
        return Err(ServiceError::Refused(Refusal::InState(format!(
            "a {} template cannot become {}",
            from.as_str(),
            to.as_str()
        ))));
    }
    t.state = to;
    t.updated_at = now;
    store::update(&mut tx, &t).await?;
    let v = store::version(&mut tx, id, t.latest_version)
        .await?
        .ok_or_else(not_found)?;
    record(
        &mut tx,
        clock,
        actor,
        action,
        Subject::new("template", id),
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

//! alm groups (SPEC §2.2): named sets of users that carry roles.
//!
//! Scope: without `group:manage` a user sees the groups they belong to and may rename them;
//! members, roles, enabling and deleting change who holds which permissions, so they need
//! `manage`. Everyone contains every user and can be neither disabled nor deleted, nor can
//! its members be changed by hand.

use super::audit::{record, Subject};
use super::refusal::Refusal;
use super::{denied, Actor, ServiceError, ServiceResult};
use alm_core::paging::PageRequest;
use alm_core::permissions::{perm, Can, PermissionMarker, Scope};
use alm_core::{Clock, FieldError, GroupId, ObjectName, RoleId, UserId, ValidationErrors};
use alm_store::groups::{self, GroupFilter, GroupRecord, NewGroup};
use alm_store::users::UserRecord;
use alm_store::{roles, users, Db};
use serde_json::json;

pub const MAX_DESCRIPTION: usize = 2000;

pub struct CreateGroup {
    pub name: String,
    pub description: String,
    pub enabled: bool,
}

#[derive(Default)]
pub struct UpdateGroup {
    pub name: Option<String>,
    pub description: Option<String>,
}

pub fn check_description(field: &str, text: &str) -> Result<String, FieldError> {
    if text.chars().count() > MAX_DESCRIPTION {
        return Err(FieldError::new(
            field,
            "max-length",
            format!("at most {MAX_DESCRIPTION} characters"),
        ));
    }
    Ok(text.trim().to_owned())
}

fn is_everyone(g: &GroupRecord) -> bool {
    g.builtin_key.as_deref() == Some(alm_core::roles::EVERYONE_GROUP_KEY)
}

async fn load_in_scope<P: PermissionMarker>(
    conn: &mut alm_store::Conn,
    can: &Can<P>,
    id: GroupId,
) -> ServiceResult<GroupRecord> {
    let g = groups::get(conn, id)
        .await?
        .ok_or(ServiceError::NotFound { what: "group" })?;
    if can.scope() == Scope::Own && !users::group_ids(conn, can.actor()).await?.contains(&id) {
        return Err(ServiceError::out_of_scope(
            "group",
            "group",
            can.actor(),
            id,
        ));
    }
    Ok(g)
}

pub async fn create(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::GroupCreate>,
    actor: &Actor,
    input: CreateGroup,
) -> ServiceResult<GroupRecord> {
    let _ = can;
    let mut errors = ValidationErrors::new();
    let name = errors.check(ObjectName::parse("name", &input.name));
    let description = errors.check(check_description("description", &input.description));
    errors.into_result()?;
    let (name, description) = (name.expect("checked"), description.expect("checked"));
    let now = clock.now();
    let id = GroupId::new_v7(now);
    let mut tx = db.begin_write().await?;
    if groups::find_by_name(&mut tx, name.as_str())
        .await?
        .is_some()
    {
        return Err(name_taken());
    }
    groups::insert(
        &mut tx,
        &NewGroup {
            id,
            builtin_key: None,
            name: name.as_str(),
            description: &description,
            enabled: input.enabled,
            at: now,
        },
    )
    .await
    .map_err(|e| {
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
        "group.created",
        Subject::new("group", id),
        json!({"after": {"name": name.as_str(), "enabled": input.enabled}}),
    )
    .await?;
    let g = groups::get(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound { what: "group" })?;
    tx.commit().await?;
    Ok(g)
}

fn name_taken() -> ServiceError {
    ServiceError::Conflict(FieldError::new(
        "name",
        "unique",
        "a group with this name already exists",
    ))
}

/// The enabled group named `name` (case-insensitively), for a form that names an owner: a
/// missing or disabled group is the field's error.
pub async fn enabled_by_name(db: &Db, field: &str, name: &str) -> ServiceResult<GroupId> {
    let name = name.trim();
    let mut conn = db.read().await?;
    let found = match groups::find_by_name(&mut conn, name).await? {
        Some(id) => groups::get(&mut conn, id).await?,
        None => None,
    };
    match found {
        Some(g) if g.enabled => Ok(g.id),
        _ => Err(FieldError::new(
            field,
            "exists",
            format!("no enabled group is named {name:?}"),
        )
        .into()),
    }
}

pub async fn get(db: &Db, can: &Can<perm::GroupRead>, id: GroupId) -> ServiceResult<GroupRecord> {
    let mut conn = db.read().await?;
    load_in_scope(&mut conn, can, id).await
}

pub async fn list(
    db: &Db,
    can: &Can<perm::GroupRead>,
    mut filter: GroupFilter,
    page: &PageRequest,
) -> ServiceResult<(Vec<GroupRecord>, u64)> {
    if can.scope() == Scope::Own {
        filter.member = Some(can.actor());
    }
    let mut conn = db.read().await?;
    Ok(groups::list(&mut conn, &filter, page).await?)
}

pub async fn update(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::GroupUpdate>,
    actor: &Actor,
    id: GroupId,
    input: UpdateGroup,
) -> ServiceResult<GroupRecord> {
    let mut errors = ValidationErrors::new();
    let name = input
        .name
        .as_deref()
        .and_then(|n| errors.check(ObjectName::parse("name", n)));
    let description = input
        .description
        .as_deref()
        .and_then(|d| errors.check(check_description("description", d)));
    errors.into_result()?;
    let mut tx = db.begin_write().await?;
    let before = load_in_scope(&mut tx, can, id).await?;
    let new_name = name
        .as_ref()
        .map(|n| n.as_str().to_owned())
        .unwrap_or_else(|| before.name.clone());
    if let Some(other) = groups::find_by_name(&mut tx, &new_name).await? {
        if other != id {
            return Err(name_taken());
        }
    }
    let new_description = description.unwrap_or_else(|| before.description.clone());
    groups::update(&mut tx, id, &new_name, &new_description, clock.now()).await?;
    record(
        &mut tx,
        clock,
        actor,
        "group.updated",
        Subject::new("group", id),
        json!({"before": {"name": before.name}, "after": {"name": new_name}}),
    )
    .await?;
    let g = groups::get(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound { what: "group" })?;
    tx.commit().await?;
    Ok(g)
}

/// Enables or disables a group; members keep their accounts but lose what the group gave.
pub async fn set_enabled(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::GroupUpdate>,
    actor: &Actor,
    id: GroupId,
    enabled: bool,
) -> ServiceResult<GroupRecord> {
    can.require_manage().map_err(denied(can.actor()))?;
    let mut tx = db.begin_write().await?;
    let before = load_in_scope(&mut tx, can, id).await?;
    if is_everyone(&before) && !enabled {
        return Err(ServiceError::Refused(Refusal::Protected(
            "the group Everyone cannot be disabled".into(),
        )));
    }
    if before.enabled == enabled {
        return Ok(before);
    }
    groups::set_enabled(&mut tx, id, enabled, clock.now()).await?;
    if !enabled {
        super::accounts::refuse_orphans(
            &mut tx,
            alm_store::accounts::Owner::Group(id),
            "this group",
        )
        .await?;
    }
    record(
        &mut tx,
        clock,
        actor,
        if enabled {
            "group.enabled"
        } else {
            "group.disabled"
        },
        Subject::new("group", id),
        json!({"before": {"enabled": before.enabled}, "after": {"enabled": enabled}}),
    )
    .await?;
    let g = groups::get(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound { what: "group" })?;
    tx.commit().await?;
    Ok(g)
}

pub async fn delete(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::GroupDelete>,
    actor: &Actor,
    id: GroupId,
) -> ServiceResult<()> {
    can.require_manage().map_err(denied(can.actor()))?;
    let mut tx = db.begin_write().await?;
    let before = load_in_scope(&mut tx, can, id).await?;
    if is_everyone(&before) {
        return Err(ServiceError::Refused(Refusal::Protected(
            "the group Everyone cannot be deleted".into(),
        )));
    }
    let owned =
        alm_store::accounts::owned_count(&mut tx, alm_store::accounts::Owner::Group(id)).await?;
    if owned > 0 {
        return Err(ServiceError::Refused(Refusal::InUse(format!(
            "the group owns {owned} managed account(s); remove it from their owners first"
        ))));
    }
    groups::delete(&mut tx, id).await?;
    record(
        &mut tx,
        clock,
        actor,
        "group.deleted",
        Subject::new("group", id),
        json!({"before": {"name": before.name, "members": before.member_count, "roles": before.role_ids}}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn members(
    db: &Db,
    can: &Can<perm::GroupRead>,
    id: GroupId,
    query: Option<&str>,
    page: &PageRequest,
) -> ServiceResult<(Vec<UserRecord>, u64)> {
    let mut conn = db.read().await?;
    load_in_scope(&mut conn, can, id).await?;
    let (ids, total) = groups::member_ids(&mut conn, id, query, page).await?;
    let mut out = Vec::with_capacity(ids.len());
    for uid in ids {
        if let Some(u) = users::get(&mut conn, uid).await? {
            out.push(u);
        }
    }
    Ok((out, total))
}

/// Adds (`add = true`) or removes a member.
pub async fn change_member(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::GroupUpdate>,
    actor: &Actor,
    id: GroupId,
    user: UserId,
    add: bool,
) -> ServiceResult<GroupRecord> {
    can.require_manage().map_err(denied(can.actor()))?;
    let mut tx = db.begin_write().await?;
    let group = load_in_scope(&mut tx, can, id).await?;
    if is_everyone(&group) {
        return Err(ServiceError::Refused(Refusal::Protected(
            "Everyone always contains every user; its members cannot be changed".into(),
        )));
    }
    if add {
        // Group roles would let a client act beyond the role it was given.
        super::api_clients::ensure_person(&mut tx, user, "user_id").await?;
    }
    if users::get(&mut tx, user).await?.is_none() {
        // In a body (add) a bad reference is a field error; in a path (remove) it is absent.
        return Err(if add {
            FieldError::new("user_id", "exists", "no user has this id").into()
        } else {
            ServiceError::NotFound { what: "member" }
        });
    }
    let changed = if add {
        groups::add_member(&mut tx, id, user).await?
    } else {
        groups::remove_member(&mut tx, id, user).await?
    };
    if !add && !changed {
        return Err(ServiceError::NotFound { what: "member" });
    }
    if changed {
        record(
            &mut tx,
            clock,
            actor,
            if add {
                "group.member-added"
            } else {
                "group.member-removed"
            },
            Subject::new("group", id),
            json!({"user_id": user}),
        )
        .await?;
    }
    let g = groups::get(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound { what: "group" })?;
    tx.commit().await?;
    Ok(g)
}

/// Replaces the roles the group carries. Needs `role:update` with manage as well as
/// `group:update` with manage: giving a group a role gives it to every member.
pub async fn set_roles(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::GroupUpdate>,
    can_role: &Can<perm::RoleUpdate>,
    actor: &Actor,
    id: GroupId,
    role_ids: Vec<RoleId>,
) -> ServiceResult<GroupRecord> {
    can.require_manage().map_err(denied(can.actor()))?;
    can_role.require_manage().map_err(denied(can.actor()))?;
    let mut tx = db.begin_write().await?;
    let before = load_in_scope(&mut tx, can, id).await?;
    let existing = roles::existing(&mut tx, &role_ids).await?;
    let mut errors = ValidationErrors::new();
    for (i, r) in role_ids.iter().enumerate() {
        if !existing.contains(r) {
            errors.push(FieldError::new(
                format!("role_ids[{i}]"),
                "exists",
                "no role has this id",
            ));
        }
    }
    errors.into_result()?;
    groups::set_roles(&mut tx, id, &role_ids).await?;
    record(
        &mut tx,
        clock,
        actor,
        "group.roles-changed",
        Subject::new("group", id),
        json!({"before": {"roles": before.role_ids}, "after": {"roles": role_ids}}),
    )
    .await?;
    let g = groups::get(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound { what: "group" })?;
    tx.commit().await?;
    Ok(g)
}

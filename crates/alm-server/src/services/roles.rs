//! Roles (SPEC §2.3): named sets of permissions given to users directly or through groups.
//!
//! Anyone with `role:create` may create a role, but only with permissions they hold
//! themselves unless they also hold `role:manage`: otherwise `role:create` would be a way to
//! grant oneself anything. Changing a role's permissions, enabling, deleting and assigning it
//! affect every holder and need `role:manage`. Built-in roles cannot be deleted, and the
//! System Administrator role cannot be disabled (that would lock everyone out).

use super::audit::{record, Subject};
use super::groups::check_description;
use super::refusal::Refusal;
use super::{denied, Actor, ServiceError, ServiceResult};
use alm_core::paging::PageRequest;
use alm_core::permissions::{
    perm, Can, EffectivePermissions, Permission, PermissionMarker, Right, Scope,
};
use alm_core::roles::BuiltinRole;
use alm_core::{Clock, FieldError, GroupId, ObjectName, RoleId, UserId, ValidationErrors};
use alm_store::roles::{self, NewRole, RoleFilter, RoleRecord};
use alm_store::{users, Db};
use serde_json::json;

pub struct CreateRole {
    pub name: String,
    pub description: String,
    pub permissions: Vec<String>,
    pub enabled: bool,
    pub auto_apply: bool,
}

#[derive(Default)]
pub struct UpdateRole {
    pub name: Option<String>,
    pub description: Option<String>,
    pub permissions: Option<Vec<String>>,
    pub auto_apply: Option<bool>,
}

/// Parses permission texts, refusing ones the granter may not hand out.
fn parse_permissions(
    input: &[String],
    granter: &EffectivePermissions,
    unrestricted: bool,
    errors: &mut ValidationErrors,
) -> Vec<Permission> {
    let mut out = Vec::new();
    for (i, text) in input.iter().enumerate() {
        let field = format!("permissions[{i}]");
        if let Some(p) = errors.check(Permission::parse(&field, text)) {
            if !unrestricted && !granter.has(p) {
                errors.push(FieldError::new(
                    field,
                    "grantable",
                    format!("you can only grant permissions you hold yourself ({p}), unless you hold role:manage"),
                ));
            } else if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

async fn load_in_scope<P: PermissionMarker>(
    conn: &mut alm_store::Conn,
    can: &Can<P>,
    id: RoleId,
) -> ServiceResult<RoleRecord> {
    let role = roles::get(conn, id)
        .await?
        .ok_or(ServiceError::NotFound { what: "role" })?;
    if can.scope() == Scope::Own {
        let held = roles::list(
            conn,
            &RoleFilter {
                held_by: Some(can.actor()),
                ..Default::default()
            },
            &PageRequest::parse(
                Some(alm_core::paging::MAX_LIMIT),
                None,
                None,
                roles::SORT_KEYS,
            )
            .expect("valid"),
        )
        .await?
        .0;
        if !held.iter().any(|r| r.id == id) {
            return Err(ServiceError::out_of_scope("role", "role", can.actor(), id));
        }
    }
    Ok(role)
}

fn name_taken() -> ServiceError {
    ServiceError::Conflict(FieldError::new(
        "name",
        "unique",
        "a role with this name already exists",
    ))
}

pub async fn create(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::RoleCreate>,
    granter: &EffectivePermissions,
    actor: &Actor,
    input: CreateRole,
) -> ServiceResult<RoleRecord> {
    let unrestricted = granter.has(Permission::new(
        alm_core::permissions::Feature::Role,
        Right::Manage,
    ));
    let _ = can;
    let mut errors = ValidationErrors::new();
    let name = errors.check(ObjectName::parse("name", &input.name));
    let description = errors.check(check_description("description", &input.description));
    let permissions = parse_permissions(&input.permissions, granter, unrestricted, &mut errors);
    errors.into_result()?;
    let (name, description) = (name.expect("checked"), description.expect("checked"));
    let now = clock.now();
    let id = RoleId::new_v7(now);
    let mut tx = db.begin_write().await?;
    if roles::find_by_name(&mut tx, name.as_str()).await?.is_some() {
        return Err(name_taken());
    }
    roles::insert(
        &mut tx,
        &NewRole {
            id,
            builtin_key: None,
            name: name.as_str(),
            description: &description,
            enabled: input.enabled,
            auto_apply: input.auto_apply,
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
    roles::set_permissions(&mut tx, id, &permissions).await?;
    let texts: Vec<String> = permissions.iter().map(|p| p.to_string()).collect();
    record(
        &mut tx,
        clock,
        actor,
        "role.created",
        Subject::new("role", id),
        json!({"after": {"name": name.as_str(), "permissions": texts, "enabled": input.enabled, "auto_apply": input.auto_apply}}),
    )
    .await?;
    let role = roles::get(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound { what: "role" })?;
    tx.commit().await?;
    Ok(role)
}

pub async fn get(db: &Db, can: &Can<perm::RoleRead>, id: RoleId) -> ServiceResult<RoleRecord> {
    let mut conn = db.read().await?;
    load_in_scope(&mut conn, can, id).await
}

pub async fn list(
    db: &Db,
    can: &Can<perm::RoleRead>,
    mut filter: RoleFilter,
    page: &PageRequest,
) -> ServiceResult<(Vec<RoleRecord>, u64)> {
    if can.scope() == Scope::Own {
        filter.held_by = Some(can.actor());
    }
    let mut conn = db.read().await?;
    Ok(roles::list(&mut conn, &filter, page).await?)
}

pub async fn update(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::RoleUpdate>,
    actor: &Actor,
    id: RoleId,
    input: UpdateRole,
) -> ServiceResult<RoleRecord> {
    can.require_manage().map_err(denied(can.actor()))?;
    let mut errors = ValidationErrors::new();
    let name = input
        .name
        .as_deref()
        .and_then(|n| errors.check(ObjectName::parse("name", n)));
    let description = input
        .description
        .as_deref()
        .and_then(|d| errors.check(check_description("description", d)));
    // With role:manage (required above) every permission is grantable.
    let permissions = input
        .permissions
        .as_ref()
        .map(|p| parse_permissions(p, &EffectivePermissions::default(), true, &mut errors));
    errors.into_result()?;
    let mut tx = db.begin_write().await?;
    let before = load_in_scope(&mut tx, can, id).await?;
    let new_name = name
        .map(|n| n.as_str().to_owned())
        .unwrap_or_else(|| before.name.clone());
    if let Some(other) = roles::find_by_name(&mut tx, &new_name).await? {
        if other != id {
            return Err(name_taken());
        }
    }
    let new_description = description.unwrap_or_else(|| before.description.clone());
    let auto_apply = input.auto_apply.unwrap_or(before.auto_apply);
    roles::update(
        &mut tx,
        id,
        &new_name,
        &new_description,
        auto_apply,
        clock.now(),
    )
    .await?;
    if let Some(p) = &permissions {
        roles::set_permissions(&mut tx, id, p).await?;
    }
    let texts = |ps: &[Permission]| ps.iter().map(|p| p.to_string()).collect::<Vec<_>>();
    record(
        &mut tx,
        clock,
        actor,
        "role.updated",
        Subject::new("role", id),
        json!({
            "before": {"name": before.name, "auto_apply": before.auto_apply, "permissions": texts(&before.permissions)},
            "after": {"name": new_name, "auto_apply": auto_apply, "permissions": permissions.as_deref().map(texts)},
        }),
    )
    .await?;
    let role = roles::get(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound { what: "role" })?;
    tx.commit().await?;
    Ok(role)
}

pub async fn set_enabled(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::RoleUpdate>,
    actor: &Actor,
    id: RoleId,
    enabled: bool,
) -> ServiceResult<RoleRecord> {
    can.require_manage().map_err(denied(can.actor()))?;
    let mut tx = db.begin_write().await?;
    let before = load_in_scope(&mut tx, can, id).await?;
    if !enabled && before.builtin_key.as_deref() == Some(BuiltinRole::SystemAdministrator.key()) {
        return Err(ServiceError::Refused(Refusal::Protected(
            "the System Administrator role cannot be disabled: nobody could administer alm".into(),
        )));
    }
    if before.enabled == enabled {
        return Ok(before);
    }
    roles::set_enabled(&mut tx, id, enabled, clock.now()).await?;
    record(
        &mut tx,
        clock,
        actor,
        if enabled {
            "role.enabled"
        } else {
            "role.disabled"
        },
        Subject::new("role", id),
        json!({"before": {"enabled": before.enabled}, "after": {"enabled": enabled}}),
    )
    .await?;
    let role = roles::get(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound { what: "role" })?;
    tx.commit().await?;
    Ok(role)
}

pub async fn delete(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::RoleDelete>,
    actor: &Actor,
    id: RoleId,
) -> ServiceResult<()> {
    can.require_manage().map_err(denied(can.actor()))?;
    let mut tx = db.begin_write().await?;
    let before = load_in_scope(&mut tx, can, id).await?;
    if before.builtin_key.is_some() {
        return Err(ServiceError::Refused(Refusal::Protected(format!(
            "the built-in role {} cannot be deleted",
            before.name
        ))));
    }
    let clients = alm_store::api_clients::acting_with(&mut tx, id).await?;
    if !clients.is_empty() {
        return Err(ServiceError::Refused(Refusal::InUse(format!(
            "API clients act with this role ({}); revoke them or give them another role first",
            clients.join(", ")
        ))));
    }
    let (holders, groups) = roles::holders(&mut tx, id).await?;
    roles::delete(&mut tx, id).await?;
    record(
        &mut tx,
        clock,
        actor,
        "role.deleted",
        Subject::new("role", id),
        json!({"before": {"name": before.name, "users": holders, "groups": groups}}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Users holding the role directly and groups carrying it.
/// A holder of a role, named.
#[derive(Debug, Clone)]
pub struct RoleMember {
    /// `user` (holds it directly) or `group` (its enabled members hold it).
    pub kind: &'static str,
    pub id: uuid::Uuid,
    /// The user's display name or the group's name.
    pub name: String,
    pub enabled: bool,
}

/// The role's holders: users given it directly, then groups carrying it.
pub async fn members(
    db: &Db,
    can: &Can<perm::RoleRead>,
    id: RoleId,
) -> ServiceResult<Vec<RoleMember>> {
    let mut conn = db.read().await?;
    load_in_scope(&mut conn, can, id).await?;
    let (user_ids, group_ids): (Vec<UserId>, Vec<GroupId>) = roles::holders(&mut conn, id).await?;
    let people = users::get_many(&mut conn, &user_ids).await?;
    let groups = alm_store::groups::get_many(&mut conn, &group_ids).await?;
    // A holder id without its user or group is a broken reference: corrupt, never nobody.
    let missing = |what: &str, holder: String| {
        ServiceError::Store(alm_store::StoreError::Corrupt(format!(
            "role {id}: {what} {holder} does not exist"
        )))
    };
    let mut out = Vec::with_capacity(user_ids.len() + group_ids.len());
    for u in &user_ids {
        let p = people
            .iter()
            .find(|p| p.id == *u)
            .ok_or_else(|| missing("user", u.to_string()))?;
        out.push(RoleMember {
            kind: "user",
            id: u.0,
            name: p.display_name.clone(),
            enabled: p.enabled,
        });
    }
    for g in &group_ids {
        let x = groups
            .iter()
            .find(|x| x.id == *g)
            .ok_or_else(|| missing("group", g.to_string()))?;
        out.push(RoleMember {
            kind: "group",
            id: g.0,
            name: x.name.clone(),
            enabled: x.enabled,
        });
    }
    Ok(out)
}

/// Gives the role to a user directly (`add = true`) or takes it away.
pub async fn change_member(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::RoleUpdate>,
    actor: &Actor,
    id: RoleId,
    user: UserId,
    add: bool,
) -> ServiceResult<()> {
    can.require_manage().map_err(denied(can.actor()))?;
    let mut tx = db.begin_write().await?;
    load_in_scope(&mut tx, can, id).await?;
    if add {
        // A client acts with the one role it was created with (never more than its creator).
        super::api_clients::ensure_person(&mut tx, user, "user_id").await?;
    }
    if users::get(&mut tx, user).await?.is_none() {
        // In a body (add) a bad reference is a field error; in a path (remove) it is absent.
        return Err(if add {
            FieldError::new("user_id", "exists", "no user has this id").into()
        } else {
            ServiceError::NotFound {
                what: "role member",
            }
        });
    }
    let changed = if add {
        roles::assign_user(&mut tx, id, user).await?
    } else {
        roles::unassign_user(&mut tx, id, user).await?
    };
    if !add && !changed {
        return Err(ServiceError::NotFound {
            what: "role member",
        });
    }
    if changed {
        record(
            &mut tx,
            clock,
            actor,
            if add {
                "role.assigned"
            } else {
                "role.unassigned"
            },
            Subject::new("role", id),
            json!({"user_id": user}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

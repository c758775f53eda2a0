//! Roles, their permissions, and who holds them directly (SPEC §2.3).
//!
//! Built-in roles are found by `builtin_key`; their names and permissions are editable.

use crate::error::{StoreError, StoreResult};
use crate::time_codec::{from_db, to_db};
use crate::users::{conflict_or, like_pattern};
use crate::{in_list, order_by};
use alm_core::paging::PageRequest;
use alm_core::permissions::Permission;
use alm_core::{GroupId, RoleId, UserId};
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRecord {
    pub id: RoleId,
    pub builtin_key: Option<String>,
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub auto_apply: bool,
    pub permissions: Vec<Permission>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

pub const SORT_KEYS: &[&str] = &["name", "created_at", "updated_at"];

#[derive(Debug, Default, Clone)]
pub struct RoleFilter {
    pub query: Option<String>,
    pub enabled: Option<bool>,
    /// Only roles this user holds, directly or through a group (the "own" scope of `role:read`).
    pub held_by: Option<UserId>,
}

pub struct NewRole<'a> {
    pub id: RoleId,
    pub builtin_key: Option<&'a str>,
    pub name: &'a str,
    pub description: &'a str,
    pub enabled: bool,
    pub auto_apply: bool,
    pub at: OffsetDateTime,
}

fn parse_id<T: std::str::FromStr>(s: &str) -> StoreResult<T> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("id {s:?}")))
}

pub async fn insert(conn: &mut AnyConnection, r: &NewRole<'_>) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO roles (id, builtin_key, name, name_key, description, enabled, auto_apply, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(r.id.to_string())
    .bind(r.builtin_key)
    .bind(r.name)
    .bind(r.name.to_lowercase())
    .bind(r.description)
    .bind(i64::from(r.enabled))
    .bind(i64::from(r.auto_apply))
    .bind(to_db(r.at))
    .execute(&mut *conn)
    .await
    .map_err(|e| conflict_or(e, "a role with this name"))?;
    Ok(())
}

const COLUMNS: &str =
    "id, builtin_key, name, description, enabled, auto_apply, created_at, updated_at";

fn decode(row: &sqlx::any::AnyRow) -> StoreResult<RoleRecord> {
    Ok(RoleRecord {
        id: parse_id(&row.try_get::<String, _>("id")?)?,
        builtin_key: row.try_get("builtin_key")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        auto_apply: row.try_get::<i64, _>("auto_apply")? != 0,
        permissions: Vec::new(),
        created_at: from_db(row.try_get("created_at")?)?,
        updated_at: from_db(row.try_get("updated_at")?)?,
    })
}

pub(crate) fn parse_permission(text: &str) -> StoreResult<Permission> {
    Permission::parse("permission", text)
        .map_err(|_| StoreError::Corrupt(format!("permission {text:?}")))
}

async fn attach_permissions(conn: &mut AnyConnection, roles: &mut [RoleRecord]) -> StoreResult<()> {
    if roles.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "SELECT role_id, permission FROM role_permissions WHERE role_id IN ({})",
        in_list(1, roles.len())
    );
    let mut q = sqlx::query(&sql);
    for r in roles.iter() {
        q = q.bind(r.id.to_string());
    }
    for row in q.fetch_all(&mut *conn).await? {
        let rid: RoleId = parse_id(&row.try_get::<String, _>("role_id")?)?;
        let p = parse_permission(&row.try_get::<String, _>("permission")?)?;
        if let Some(r) = roles.iter_mut().find(|r| r.id == rid) {
            r.permissions.push(p);
        }
    }
    for r in roles.iter_mut() {
        r.permissions.sort();
    }
    Ok(())
}

pub async fn get(conn: &mut AnyConnection, id: RoleId) -> StoreResult<Option<RoleRecord>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM roles WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let mut roles = vec![decode(&row)?];
    attach_permissions(conn, &mut roles).await?;
    Ok(roles.pop())
}

pub async fn find_by_builtin_key(
    conn: &mut AnyConnection,
    key: &str,
) -> StoreResult<Option<RoleId>> {
    let id: Option<String> = sqlx::query_scalar("SELECT id FROM roles WHERE builtin_key = $1")
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?;
    id.map(|s| parse_id(&s)).transpose()
}

pub async fn find_by_name(conn: &mut AnyConnection, name: &str) -> StoreResult<Option<RoleId>> {
    let id: Option<String> = sqlx::query_scalar("SELECT id FROM roles WHERE name_key = $1")
        .bind(name.to_lowercase())
        .fetch_optional(&mut *conn)
        .await?;
    id.map(|s| parse_id(&s)).transpose()
}

/// Which of `ids` exist; for validating role lists before writing them.
pub async fn existing(conn: &mut AnyConnection, ids: &[RoleId]) -> StoreResult<Vec<RoleId>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT id FROM roles WHERE id IN ({})",
        in_list(1, ids.len())
    );
    let mut q = sqlx::query_scalar::<_, String>(&sql);
    for id in ids {
        q = q.bind(id.to_string());
    }
    q.fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|s| parse_id(s))
        .collect()
}

pub async fn list(
    conn: &mut AnyConnection,
    filter: &RoleFilter,
    page: &PageRequest,
) -> StoreResult<(Vec<RoleRecord>, u64)> {
    let mut conditions = Vec::new();
    let mut binds: Vec<String> = Vec::new();
    if let Some(q) = &filter.query {
        binds.push(like_pattern(q));
        conditions.push(format!("name_key LIKE ${} ESCAPE '\\'", binds.len()));
    }
    if let Some(enabled) = filter.enabled {
        conditions.push(format!("enabled = {}", i64::from(enabled)));
    }
    if let Some(user) = filter.held_by {
        binds.push(user.to_string());
        let n = binds.len();
        conditions.push(format!(
            "id IN (SELECT role_id FROM user_roles WHERE user_id = ${n} UNION \
             SELECT gr.role_id FROM group_roles gr JOIN group_members gm ON gm.group_id = gr.group_id \
             WHERE gm.user_id = ${n})"
        ));
    }
    let where_clause = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let column = match page.sort {
        "created_at" => "created_at",
        "updated_at" => "updated_at",
        _ => "name_key",
    };
    let count_sql = format!("SELECT COUNT(*) FROM roles {where_clause}");
    let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
    for b in &binds {
        count = count.bind(b.clone());
    }
    let total = count.fetch_one(&mut *conn).await?;
    let sql = format!(
        "SELECT {COLUMNS} FROM roles {where_clause} {}",
        order_by(column, "id", page, binds.len())
    );
    let mut q = sqlx::query(&sql);
    for b in &binds {
        q = q.bind(b.clone());
    }
    let rows = q
        .bind(i64::from(page.limit))
        .bind(page.offset as i64)
        .fetch_all(&mut *conn)
        .await?;
    let mut roles = rows.iter().map(decode).collect::<StoreResult<Vec<_>>>()?;
    attach_permissions(conn, &mut roles).await?;
    Ok((roles, total as u64))
}

pub async fn update(
    conn: &mut AnyConnection,
    id: RoleId,
    name: &str,
    description: &str,
    auto_apply: bool,
    at: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE roles SET name = $1, name_key = $2, description = $3, auto_apply = $4, updated_at = $5 WHERE id = $6",
    )
    .bind(name)
    .bind(name.to_lowercase())
    .bind(description)
    .bind(i64::from(auto_apply))
    .bind(to_db(at))
    .bind(id.to_string())
    .execute(&mut *conn)
    .await
    .map_err(|e| conflict_or(e, "a role with this name"))?;
    Ok(())
}

pub async fn set_enabled(
    conn: &mut AnyConnection,
    id: RoleId,
    enabled: bool,
    at: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query("UPDATE roles SET enabled = $1, updated_at = $2 WHERE id = $3")
        .bind(i64::from(enabled))
        .bind(to_db(at))
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Replaces the role's permissions.
pub async fn set_permissions(
    conn: &mut AnyConnection,
    id: RoleId,
    permissions: &[Permission],
) -> StoreResult<()> {
    sqlx::query("DELETE FROM role_permissions WHERE role_id = $1")
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    let mut unique: Vec<Permission> = permissions.to_vec();
    unique.sort();
    unique.dedup();
    for p in unique {
        sqlx::query("INSERT INTO role_permissions (role_id, permission) VALUES ($1, $2)")
            .bind(id.to_string())
            .bind(p.to_string())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Deletes the role and every grant of it.
pub async fn delete(conn: &mut AnyConnection, id: RoleId) -> StoreResult<()> {
    for sql in [
        "DELETE FROM role_permissions WHERE role_id = $1",
        "DELETE FROM user_roles WHERE role_id = $1",
        "DELETE FROM group_roles WHERE role_id = $1",
        "DELETE FROM roles WHERE id = $1",
    ] {
        sqlx::query(sql)
            .bind(id.to_string())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Gives the role to a user directly. Returns whether it was newly given.
pub async fn assign_user(
    conn: &mut AnyConnection,
    role: RoleId,
    user: UserId,
) -> StoreResult<bool> {
    let exists: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM user_roles WHERE role_id = $1 AND user_id = $2")
            .bind(role.to_string())
            .bind(user.to_string())
            .fetch_optional(&mut *conn)
            .await?;
    if exists.is_some() {
        return Ok(false);
    }
    sqlx::query("INSERT INTO user_roles (user_id, role_id) VALUES ($1, $2)")
        .bind(user.to_string())
        .bind(role.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(true)
}

pub async fn unassign_user(
    conn: &mut AnyConnection,
    role: RoleId,
    user: UserId,
) -> StoreResult<bool> {
    let done = sqlx::query("DELETE FROM user_roles WHERE role_id = $1 AND user_id = $2")
        .bind(role.to_string())
        .bind(user.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Users holding the role directly, and groups carrying it.
pub async fn holders(
    conn: &mut AnyConnection,
    role: RoleId,
) -> StoreResult<(Vec<UserId>, Vec<GroupId>)> {
    let users: Vec<String> =
        sqlx::query_scalar("SELECT user_id FROM user_roles WHERE role_id = $1 ORDER BY user_id")
            .bind(role.to_string())
            .fetch_all(&mut *conn)
            .await?;
    let groups: Vec<String> =
        sqlx::query_scalar("SELECT group_id FROM group_roles WHERE role_id = $1 ORDER BY group_id")
            .bind(role.to_string())
            .fetch_all(&mut *conn)
            .await?;
    Ok((
        users
            .iter()
            .map(|s| parse_id(s))
            .collect::<StoreResult<_>>()?,
        groups
            .iter()
            .map(|s| parse_id(s))
            .collect::<StoreResult<_>>()?,
    ))
}

/// Enabled roles marked "automatically apply to new users".
pub async fn auto_apply_ids(conn: &mut AnyConnection) -> StoreResult<Vec<RoleId>> {
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT id FROM roles WHERE auto_apply = 1 AND enabled = 1 ORDER BY id")
            .fetch_all(&mut *conn)
            .await?;
    ids.iter().map(|s| parse_id(s)).collect()
}

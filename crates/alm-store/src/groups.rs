//! alm groups and their members and roles (SPEC §2.2).
//!
//! Names are unique case-insensitively (`name_key` holds the lowercased name). The built-in
//! Everyone group is found by its `builtin_key`, never by its editable name.

use crate::error::{StoreError, StoreResult};
use crate::time_codec::{from_db, to_db};
use crate::users::{conflict_or, like_pattern};
use crate::{in_list, order_by};
use alm_core::paging::PageRequest;
use alm_core::roles::EVERYONE_GROUP_KEY;
use alm_core::{GroupId, RoleId, UserId};
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRecord {
    pub id: GroupId,
    pub builtin_key: Option<String>,
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub member_count: u64,
    pub role_ids: Vec<RoleId>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

pub const SORT_KEYS: &[&str] = &["name", "created_at", "updated_at"];

#[derive(Debug, Default, Clone)]
pub struct GroupFilter {
    pub query: Option<String>,
    pub enabled: Option<bool>,
    /// Only groups this user is a member of (the "own" scope of `group:read`).
    pub member: Option<UserId>,
}

pub struct NewGroup<'a> {
    pub id: GroupId,
    pub builtin_key: Option<&'a str>,
    pub name: &'a str,
    pub description: &'a str,
    pub enabled: bool,
    pub at: OffsetDateTime,
}

pub async fn insert(conn: &mut AnyConnection, g: &NewGroup<'_>) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO alm_groups (id, builtin_key, name, name_key, description, enabled, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(g.id.to_string())
    .bind(g.builtin_key)
    .bind(g.name)
    .bind(g.name.to_lowercase())
    .bind(g.description)
    .bind(i64::from(g.enabled))
    .bind(to_db(g.at))
    .execute(&mut *conn)
    .await
    .map_err(|e| conflict_or(e, "a group with this name"))?;
    Ok(())
}

/// The id of the built-in Everyone group (created by the first start).
pub async fn everyone_id(conn: &mut AnyConnection) -> StoreResult<GroupId> {
    let id: Option<String> = sqlx::query_scalar("SELECT id FROM alm_groups WHERE builtin_key = $1")
        .bind(EVERYONE_GROUP_KEY)
        .fetch_optional(&mut *conn)
        .await?;
    let id = id.ok_or(StoreError::NotFound("the built-in group Everyone"))?;
    parse_id(&id)
}

fn parse_id<T: std::str::FromStr>(s: &str) -> StoreResult<T> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("id {s:?}")))
}

const COLUMNS: &str =
    "g.id, g.builtin_key, g.name, g.description, g.enabled, g.created_at, g.updated_at, \
    (SELECT COUNT(*) FROM group_members m WHERE m.group_id = g.id) AS member_count";

fn decode(row: &sqlx::any::AnyRow) -> StoreResult<GroupRecord> {
    Ok(GroupRecord {
        id: parse_id(&row.try_get::<String, _>("id")?)?,
        builtin_key: row.try_get("builtin_key")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        member_count: row.try_get::<i64, _>("member_count")? as u64,
        role_ids: Vec::new(),
        created_at: from_db(row.try_get("created_at")?)?,
        updated_at: from_db(row.try_get("updated_at")?)?,
    })
}

async fn attach_roles(conn: &mut AnyConnection, groups: &mut [GroupRecord]) -> StoreResult<()> {
    if groups.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "SELECT group_id, role_id FROM group_roles WHERE group_id IN ({}) ORDER BY role_id",
        in_list(1, groups.len())
    );
    let mut q = sqlx::query(&sql);
    for g in groups.iter() {
        q = q.bind(g.id.to_string());
    }
    for row in q.fetch_all(&mut *conn).await? {
        let gid: GroupId = parse_id(&row.try_get::<String, _>("group_id")?)?;
        let rid: RoleId = parse_id(&row.try_get::<String, _>("role_id")?)?;
        if let Some(g) = groups.iter_mut().find(|g| g.id == gid) {
            g.role_ids.push(rid);
        }
    }
    Ok(())
}

pub async fn get(conn: &mut AnyConnection, id: GroupId) -> StoreResult<Option<GroupRecord>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM alm_groups g WHERE g.id = $1"
    ))
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let mut groups = vec![decode(&row)?];
    attach_roles(conn, &mut groups).await?;
    Ok(groups.pop())
}

/// The group named `name` (case-insensitively), for uniqueness checks.
pub async fn find_by_name(conn: &mut AnyConnection, name: &str) -> StoreResult<Option<GroupId>> {
    let id: Option<String> = sqlx::query_scalar("SELECT id FROM alm_groups WHERE name_key = $1")
        .bind(name.to_lowercase())
        .fetch_optional(&mut *conn)
        .await?;
    id.map(|s| parse_id(&s)).transpose()
}

pub async fn list(
    conn: &mut AnyConnection,
    filter: &GroupFilter,
    page: &PageRequest,
) -> StoreResult<(Vec<GroupRecord>, u64)> {
    let mut conditions = Vec::new();
    let mut binds: Vec<String> = Vec::new();
    if let Some(q) = &filter.query {
        binds.push(like_pattern(q));
        conditions.push(format!("g.name_key LIKE ${} ESCAPE '\\'", binds.len()));
    }
    if let Some(enabled) = filter.enabled {
        conditions.push(format!("g.enabled = {}", i64::from(enabled)));
    }
    if let Some(member) = filter.member {
        binds.push(member.to_string());
        conditions.push(format!(
            "g.id IN (SELECT group_id FROM group_members WHERE user_id = ${})",
            binds.len()
        ));
    }
    let where_clause = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let column = match page.sort {
        "created_at" => "g.created_at",
        "updated_at" => "g.updated_at",
        _ => "g.name_key",
    };
    let count_sql = format!("SELECT COUNT(*) FROM alm_groups g {where_clause}");
    let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
    for b in &binds {
        count = count.bind(b.clone());
    }
    let total = count.fetch_one(&mut *conn).await?;
    let sql = format!(
        "SELECT {COLUMNS} FROM alm_groups g {where_clause} {}",
        order_by(column, "g.id", page, binds.len())
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
    let mut groups = rows.iter().map(decode).collect::<StoreResult<Vec<_>>>()?;
    attach_roles(conn, &mut groups).await?;
    Ok((groups, total as u64))
}

pub async fn update(
    conn: &mut AnyConnection,
    id: GroupId,
    name: &str,
    description: &str,
    at: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query("UPDATE alm_groups SET name = $1, name_key = $2, description = $3, updated_at = $4 WHERE id = $5")
        .bind(name)
        .bind(name.to_lowercase())
        .bind(description)
        .bind(to_db(at))
        .bind(id.to_string())
        .execute(&mut *conn)
        .await
        .map_err(|e| conflict_or(e, "a group with this name"))?;
    Ok(())
}

pub async fn set_enabled(
    conn: &mut AnyConnection,
    id: GroupId,
    enabled: bool,
    at: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query("UPDATE alm_groups SET enabled = $1, updated_at = $2 WHERE id = $3")
        .bind(i64::from(enabled))
        .bind(to_db(at))
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Deletes the group with its memberships and role grants.
pub async fn delete(conn: &mut AnyConnection, id: GroupId) -> StoreResult<()> {
    for sql in [
        "DELETE FROM group_members WHERE group_id = $1",
        "DELETE FROM group_roles WHERE group_id = $1",
        "DELETE FROM alm_groups WHERE id = $1",
    ] {
        sqlx::query(sql)
            .bind(id.to_string())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Adds a member; adding an existing member changes nothing. Returns whether it was added.
pub async fn add_member(
    conn: &mut AnyConnection,
    group: GroupId,
    user: UserId,
) -> StoreResult<bool> {
    let exists: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM group_members WHERE group_id = $1 AND user_id = $2")
            .bind(group.to_string())
            .bind(user.to_string())
            .fetch_optional(&mut *conn)
            .await?;
    if exists.is_some() {
        return Ok(false);
    }
    sqlx::query("INSERT INTO group_members (group_id, user_id) VALUES ($1, $2)")
        .bind(group.to_string())
        .bind(user.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(true)
}

/// Removes a member. Returns whether there was one to remove.
pub async fn remove_member(
    conn: &mut AnyConnection,
    group: GroupId,
    user: UserId,
) -> StoreResult<bool> {
    let done = sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
        .bind(group.to_string())
        .bind(user.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The group's members (with `query` in the display name or an address), by display name.
pub async fn member_ids(
    conn: &mut AnyConnection,
    group: GroupId,
    query: Option<&str>,
    page: &PageRequest,
) -> StoreResult<(Vec<UserId>, u64)> {
    let mut from_where =
        "FROM group_members m JOIN users u ON u.id = m.user_id WHERE m.group_id = $1".to_owned();
    let mut binds = vec![group.to_string()];
    if let Some(q) = query {
        binds.push(like_pattern(q));
        from_where.push_str(
            " AND (LOWER(u.display_name) LIKE $2 ESCAPE '\\' OR u.id IN \
             (SELECT user_id FROM user_emails WHERE email LIKE $2 ESCAPE '\\'))",
        );
    }
    let (rows, total) = crate::fetch_page(
        conn,
        "u.id",
        &from_where,
        &binds,
        ("LOWER(u.display_name)", "u.id"),
        page,
    )
    .await?;
    let ids = rows
        .iter()
        .map(|r| parse_id(&r.try_get::<String, _>("id")?))
        .collect::<StoreResult<_>>()?;
    Ok((ids, total))
}

/// Replaces the roles the group carries.
pub async fn set_roles(
    conn: &mut AnyConnection,
    group: GroupId,
    roles: &[RoleId],
) -> StoreResult<()> {
    sqlx::query("DELETE FROM group_roles WHERE group_id = $1")
        .bind(group.to_string())
        .execute(&mut *conn)
        .await?;
    for role in roles {
        sqlx::query("INSERT INTO group_roles (group_id, role_id) VALUES ($1, $2)")
            .bind(group.to_string())
            .bind(role.to_string())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The enabled members of an enabled group (nobody when the group is disabled).
pub async fn enabled_member_ids(
    conn: &mut AnyConnection,
    group: GroupId,
) -> StoreResult<Vec<UserId>> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT u.id FROM group_members m JOIN users u ON u.id = m.user_id JOIN alm_groups g ON g.id = m.group_id \
         WHERE m.group_id = $1 AND u.enabled = 1 AND g.enabled = 1",
    )
    .bind(group.to_string())
    .fetch_all(&mut *conn)
    .await?;
    ids.iter()
        .map(|s| {
            s.parse()
                .map_err(|_| StoreError::Corrupt(format!("user id {s:?}")))
        })
        .collect()
}

/// The groups with these ids, in no particular order; ids without a group are left out.
/// Read in chunks so a long list stays under the backends' bind limits.
pub async fn get_many(conn: &mut AnyConnection, ids: &[GroupId]) -> StoreResult<Vec<GroupRecord>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let sql = format!(
            "SELECT {COLUMNS} FROM alm_groups g WHERE g.id IN ({})",
            in_list(1, chunk.len())
        );
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(id.to_string());
        }
        let rows = q.fetch_all(&mut *conn).await?;
        let mut groups = rows.iter().map(decode).collect::<StoreResult<Vec<_>>>()?;
        attach_roles(conn, &mut groups).await?;
        out.extend(groups);
    }
    Ok(out)
}

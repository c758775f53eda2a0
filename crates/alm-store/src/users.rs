//! Users and their email addresses (SPEC §2.1).
//!
//! Users are never hard-deleted (history refers to them); they are disabled. Emails are stored
//! lowercased and unique across all users, since login matches people by email.

use crate::error::{StoreError, StoreResult};
use crate::time_codec::{from_db, to_db};
use crate::{groups, in_list, order_by};
use alm_core::paging::PageRequest;
use alm_core::{Email, UserId};
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserSource {
    Local,
    Synced,
}

impl UserSource {
    pub fn as_str(self) -> &'static str {
        match self {
            UserSource::Local => "local",
            UserSource::Synced => "synced",
        }
    }

    fn parse(s: &str) -> StoreResult<Self> {
        match s {
            "local" => Ok(UserSource::Local),
            "synced" => Ok(UserSource::Synced),
            other => Err(StoreError::Corrupt(format!("user source {other:?}"))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: UserId,
    pub display_name: String,
    pub emails: Vec<String>,
    pub enabled: bool,
    pub source: UserSource,
    pub has_password: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// Where a synced user comes from in a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryLink {
    pub domain: alm_core::DomainId,
    pub account: String,
    pub guid: String,
}

pub struct NewUser<'a> {
    pub id: UserId,
    pub display_name: &'a str,
    pub emails: &'a [Email],
    pub enabled: bool,
    pub source: UserSource,
    pub password_hash: Option<&'a str>,
    pub directory: Option<&'a DirectoryLink>,
    pub at: OffsetDateTime,
}

/// Sort keys the user list accepts; the first is the default.
pub const SORT_KEYS: &[&str] = &["display_name", "created_at", "updated_at"];

#[derive(Debug, Default, Clone)]
pub struct UserFilter {
    /// Part of the display name or of an email address, case-insensitive.
    pub query: Option<String>,
    pub enabled: Option<bool>,
    /// Only this user (the "own" scope of `user:read`).
    pub only: Option<UserId>,
}

/// Inserts the user, its emails and its membership of Everyone.
pub async fn insert(conn: &mut AnyConnection, user: &NewUser<'_>) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO users (id, display_name, enabled, source, password_hash, directory_domain, directory_account, \
         directory_guid, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
    )
    .bind(user.id.to_string())
    .bind(user.display_name)
    .bind(i64::from(user.enabled))
    .bind(user.source.as_str())
    .bind(user.password_hash)
    .bind(user.directory.map(|d| d.domain.to_string()))
    .bind(user.directory.map(|d| d.account.clone()))
    .bind(user.directory.map(|d| d.guid.clone()))
    .bind(to_db(user.at))
    .execute(&mut *conn)
    .await?;
    replace_emails(conn, user.id, user.emails).await?;
    let everyone = groups::everyone_id(conn).await?;
    groups::add_member(conn, everyone, user.id).await?;
    Ok(())
}

/// Replaces the user's email list (the order is kept: the first is the primary).
pub async fn replace_emails(
    conn: &mut AnyConnection,
    id: UserId,
    emails: &[Email],
) -> StoreResult<()> {
    sqlx::query("DELETE FROM user_emails WHERE user_id = $1")
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    for (position, email) in emails.iter().enumerate() {
        sqlx::query("INSERT INTO user_emails (user_id, email, position) VALUES ($1, $2, $3)")
            .bind(id.to_string())
            .bind(email.as_str())
            .bind(position as i64)
            .execute(&mut *conn)
            .await
            .map_err(|e| conflict_or(e, "a user with this email"))?;
    }
    Ok(())
}

pub(crate) fn conflict_or(e: sqlx::Error, what: &'static str) -> StoreError {
    let err = StoreError::from(e);
    if err.is_unique_violation() {
        StoreError::Conflict { what }
    } else {
        err
    }
}

const COLUMNS: &str = "id, display_name, enabled, source, password_hash IS NOT NULL AS has_password, created_at, updated_at";

fn decode(row: &sqlx::any::AnyRow) -> StoreResult<UserRecord> {
    let id: String = row.try_get("id")?;
    // `IS NOT NULL` comes back as a boolean on PostgreSQL and as an integer on SQLite.
    let has_password = row
        .try_get::<bool, _>("has_password")
        .or_else(|_| row.try_get::<i64, _>("has_password").map(|v| v != 0))?;
    Ok(UserRecord {
        id: id
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("user id {id:?}")))?,
        display_name: row.try_get("display_name")?,
        emails: Vec::new(),
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        source: UserSource::parse(&row.try_get::<String, _>("source")?)?,
        has_password,
        created_at: from_db(row.try_get("created_at")?)?,
        updated_at: from_db(row.try_get("updated_at")?)?,
    })
}

async fn attach_emails(conn: &mut AnyConnection, users: &mut [UserRecord]) -> StoreResult<()> {
    if users.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "SELECT user_id, email FROM user_emails WHERE user_id IN ({}) ORDER BY user_id, position",
        in_list(1, users.len())
    );
    let mut q = sqlx::query(&sql);
    for u in users.iter() {
        q = q.bind(u.id.to_string());
    }
    for row in q.fetch_all(&mut *conn).await? {
        let user_id: String = row.try_get("user_id")?;
        let email: String = row.try_get("email")?;
        if let Some(u) = users.iter_mut().find(|u| u.id.to_string() == user_id) {
            u.emails.push(email);
        }
    }
    Ok(())
}

pub async fn get(conn: &mut AnyConnection, id: UserId) -> StoreResult<Option<UserRecord>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let mut users = vec![decode(&row)?];
    attach_emails(conn, &mut users).await?;
    Ok(users.pop())
}

/// The user one of whose addresses is `email` (already lowercased by [`Email`]).
pub async fn find_by_email(
    conn: &mut AnyConnection,
    email: &Email,
) -> StoreResult<Option<UserRecord>> {
    let id: Option<String> = sqlx::query_scalar("SELECT user_id FROM user_emails WHERE email = $1")
        .bind(email.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    match id {
        Some(id) => {
            get(
                conn,
                id.parse()
                    .map_err(|_| StoreError::Corrupt(format!("user id {id:?}")))?,
            )
            .await
        }
        None => Ok(None),
    }
}

pub async fn list(
    conn: &mut AnyConnection,
    filter: &UserFilter,
    page: &PageRequest,
) -> StoreResult<(Vec<UserRecord>, u64)> {
    let mut conditions = Vec::new();
    let mut binds: Vec<String> = Vec::new();
    if let Some(q) = &filter.query {
        binds.push(like_pattern(q));
        let n = binds.len();
        conditions.push(format!(
            "(LOWER(display_name) LIKE ${n} ESCAPE '\\' OR id IN \
             (SELECT user_id FROM user_emails WHERE email LIKE ${n} ESCAPE '\\'))"
        ));
    }
    if let Some(enabled) = filter.enabled {
        conditions.push(format!("enabled = {}", i64::from(enabled)));
    }
    if let Some(only) = filter.only {
        binds.push(only.to_string());
        conditions.push(format!("id = ${}", binds.len()));
    }
    let where_clause = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let column = match page.sort {
        "created_at" => "created_at",
        "updated_at" => "updated_at",
        _ => "LOWER(display_name)",
    };
    let count_sql = format!("SELECT COUNT(*) FROM users {where_clause}");
    let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
    for b in &binds {
        count = count.bind(b.clone());
    }
    let total = count.fetch_one(&mut *conn).await?;
    let sql = format!(
        "SELECT {COLUMNS} FROM users {where_clause} {}",
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
    let mut users = rows.iter().map(decode).collect::<StoreResult<Vec<_>>>()?;
    attach_emails(conn, &mut users).await?;
    Ok((users, total as u64))
}

/// `%text%` for LIKE, with the LIKE wildcards in `text` escaped, lowercased.
pub(crate) fn like_pattern(text: &str) -> String {
    let escaped = text
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

pub async fn update_display_name(
    conn: &mut AnyConnection,
    id: UserId,
    display_name: &str,
    at: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query("UPDATE users SET display_name = $1, updated_at = $2 WHERE id = $3")
        .bind(display_name)
        .bind(to_db(at))
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn set_enabled(
    conn: &mut AnyConnection,
    id: UserId,
    enabled: bool,
    at: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query("UPDATE users SET enabled = $1, updated_at = $2 WHERE id = $3")
        .bind(i64::from(enabled))
        .bind(to_db(at))
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn set_password_hash(
    conn: &mut AnyConnection,
    id: UserId,
    hash: Option<&str>,
    at: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(hash)
        .bind(to_db(at))
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The argon2 hash for local login, if the user has a password.
pub async fn password_hash(conn: &mut AnyConnection, id: UserId) -> StoreResult<Option<String>> {
    Ok(
        sqlx::query_scalar::<_, Option<String>>("SELECT password_hash FROM users WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&mut *conn)
            .await?
            .flatten(),
    )
}

pub async fn count(conn: &mut AnyConnection) -> StoreResult<u64> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&mut *conn)
        .await?;
    Ok(n as u64)
}

/// The groups the user is a member of (enabled or not).
pub async fn group_ids(
    conn: &mut AnyConnection,
    id: UserId,
) -> StoreResult<Vec<alm_core::GroupId>> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT group_id FROM group_members WHERE user_id = $1 ORDER BY group_id",
    )
    .bind(id.to_string())
    .fetch_all(&mut *conn)
    .await?;
    ids.iter()
        .map(|s| {
            s.parse()
                .map_err(|_| StoreError::Corrupt(format!("group id {s:?}")))
        })
        .collect()
}

/// The roles given to the user directly.
pub async fn role_ids(conn: &mut AnyConnection, id: UserId) -> StoreResult<Vec<alm_core::RoleId>> {
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT role_id FROM user_roles WHERE user_id = $1 ORDER BY role_id")
            .bind(id.to_string())
            .fetch_all(&mut *conn)
            .await?;
    ids.iter()
        .map(|s| {
            s.parse()
                .map_err(|_| StoreError::Corrupt(format!("role id {s:?}")))
        })
        .collect()
}

/// Users synced from a domain: (id, objectGUID in the directory, enabled in alm).
pub async fn synced_from(
    conn: &mut AnyConnection,
    domain: alm_core::DomainId,
) -> StoreResult<Vec<(UserId, String, bool)>> {
    let rows = sqlx::query("SELECT id, directory_guid, enabled FROM users WHERE directory_domain = $1 AND source = 'synced'")
        .bind(domain.to_string())
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| {
            let id: String = r.try_get("id")?;
            Ok((
                id.parse()
                    .map_err(|_| StoreError::Corrupt(format!("user id {id:?}")))?,
                r.try_get::<Option<String>, _>("directory_guid")?
                    .unwrap_or_default(),
                r.try_get::<i64, _>("enabled")? != 0,
            ))
        })
        .collect()
}

/// Enabled users holding the built-in role `key` while it is enabled, directly or through an
/// enabled group (the recipients of administrators' notifications).
pub async fn with_builtin_role(conn: &mut AnyConnection, key: &str) -> StoreResult<Vec<UserId>> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT u.id FROM users u WHERE u.enabled = 1 AND ( \
           EXISTS (SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
                   WHERE ur.user_id = u.id AND r.builtin_key = $1 AND r.enabled = 1) \
           OR EXISTS (SELECT 1 FROM group_members m JOIN alm_groups g ON g.id = m.group_id \
                      JOIN group_roles gr ON gr.group_id = g.id JOIN roles r ON r.id = gr.role_id \
                      WHERE m.user_id = u.id AND g.enabled = 1 AND r.builtin_key = $1 AND r.enabled = 1)) \
         ORDER BY u.id",
    )
    .bind(key)
    .fetch_all(&mut *conn)
    .await?;
    ids.iter()
        .map(|s| {
            s.parse()
                .map_err(|_| StoreError::Corrupt(format!("user id {s:?}")))
        })
        .collect()
}

/// The users with these ids (with their addresses), in no particular order; ids without a
/// user are left out. Read in chunks so a long list stays under the backends' bind limits.
pub async fn get_many(conn: &mut AnyConnection, ids: &[UserId]) -> StoreResult<Vec<UserRecord>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let sql = format!(
            "SELECT {COLUMNS} FROM users WHERE id IN ({})",
            in_list(1, chunk.len())
        );
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(id.to_string());
        }
        let rows = q.fetch_all(&mut *conn).await?;
        let mut users = rows.iter().map(decode).collect::<StoreResult<Vec<_>>>()?;
        attach_emails(conn, &mut users).await?;
        out.extend(users);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("A_b%c\\"), "%a\\_b\\%c\\\\%");
    }
}

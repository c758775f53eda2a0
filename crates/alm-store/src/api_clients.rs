//! API clients (SPEC §7.7, §9): an external system's client id, its hashed secret, the role it
//! acts with and the user row it acts as. The secret is 256 random bits, stored as SHA-256 like
//! API tokens; the access tokens a client obtains are API tokens of its user.

use crate::error::{StoreError, StoreResult};
use crate::time_codec::{from_db, opt_from_db, to_db};
use alm_core::paging::PageRequest;
use alm_core::{RoleId, UserId};
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRecord {
    pub id: Uuid,
    /// The user row the client acts as (its name is the client's name).
    pub user_id: UserId,
    /// The public identifier the client authenticates with (RFC 6749 §2.2).
    pub client_id: String,
    pub name: String,
    pub role_id: RoleId,
    pub created_by: Option<UserId>,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

impl ClientRecord {
    /// Whether the client may obtain and use tokens at `now`.
    pub fn usable_at(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| now < e)
    }
}

pub const SORT_KEYS: &[&str] = &["created_at", "name", "expires_at"];

const COLUMNS: &str = "c.id AS id, c.user_id AS user_id, c.client_id AS client_id, \
     u.display_name AS name, c.role_id AS role_id, c.created_by AS created_by, \
     c.created_at AS created_at, c.expires_at AS expires_at, c.revoked_at AS revoked_at";
const FROM: &str = "api_clients c JOIN users u ON u.id = c.user_id";

fn parsed<T: std::str::FromStr>(text: String, what: &str) -> StoreResult<T> {
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("{what} {text:?}")))
}

fn decode(row: &sqlx::any::AnyRow) -> StoreResult<ClientRecord> {
    Ok(ClientRecord {
        id: parsed(row.try_get("id")?, "API client id")?,
        user_id: parsed(row.try_get("user_id")?, "user id")?,
        client_id: row.try_get("client_id")?,
        name: row.try_get("name")?,
        role_id: parsed(row.try_get("role_id")?, "role id")?,
        created_by: row
            .try_get::<Option<String>, _>("created_by")?
            .map(|u| parsed(u, "user id"))
            .transpose()?,
        created_at: from_db(row.try_get("created_at")?)?,
        expires_at: opt_from_db(row.try_get("expires_at")?)?,
        revoked_at: opt_from_db(row.try_get("revoked_at")?)?,
    })
}

/// Stores a client whose user row exists already.
pub async fn insert(
    conn: &mut AnyConnection,
    c: &ClientRecord,
    secret_hash: &str,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO api_clients (id, user_id, client_id, secret_hash, role_id, created_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(c.id.to_string())
    .bind(c.user_id.to_string())
    .bind(&c.client_id)
    .bind(secret_hash)
    .bind(c.role_id.to_string())
    .bind(c.created_by.map(|u| u.to_string()))
    .bind(to_db(c.created_at))
    .bind(c.expires_at.map(to_db))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn get(conn: &mut AnyConnection, id: Uuid) -> StoreResult<Option<ClientRecord>> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM {FROM} WHERE c.id = $1"))
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(decode)
        .transpose()
}

/// The client a user row belongs to (a principal acting as it).
pub async fn of_user(conn: &mut AnyConnection, user: UserId) -> StoreResult<Option<ClientRecord>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE c.user_id = $1"
    ))
    .bind(user.to_string())
    .fetch_optional(&mut *conn)
    .await?
    .as_ref()
    .map(decode)
    .transpose()
}

/// The client with this client id and secret (by its hash), whatever its state: the caller
/// tells a revoked or expired one apart.
pub async fn authenticate(
    conn: &mut AnyConnection,
    client_id: &str,
    secret_hash: &str,
) -> StoreResult<Option<ClientRecord>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE c.client_id = $1 AND c.secret_hash = $2"
    ))
    .bind(client_id)
    .bind(secret_hash)
    .fetch_optional(&mut *conn)
    .await?
    .as_ref()
    .map(decode)
    .transpose()
}

/// One page of clients, optionally with `query` in the name, and how many there are.
pub async fn list(
    conn: &mut AnyConnection,
    query: Option<&str>,
    page: &PageRequest,
) -> StoreResult<(Vec<ClientRecord>, u64)> {
    let mut binds = Vec::new();
    let mut from_where = format!("FROM {FROM}");
    if let Some(q) = query {
        binds.push(crate::users::like_pattern(q));
        from_where.push_str(" WHERE LOWER(u.display_name) LIKE $1 ESCAPE '\\'");
    }
    let column = match page.sort {
        "name" => "LOWER(u.display_name)",
        "expires_at" => "c.expires_at",
        _ => "c.created_at",
    };
    let (rows, total) =
        crate::fetch_page(conn, COLUMNS, &from_where, &binds, (column, "c.id"), page).await?;
    Ok((rows.iter().map(decode).collect::<StoreResult<_>>()?, total))
}

/// Marks the client revoked at `at` (once; false when it was already).
pub async fn revoke(conn: &mut AnyConnection, id: Uuid, at: OffsetDateTime) -> StoreResult<bool> {
    let done =
        sqlx::query("UPDATE api_clients SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(to_db(at))
            .bind(id.to_string())
            .execute(&mut *conn)
            .await?;
    Ok(done.rows_affected() > 0)
}

/// The names of the clients that act with `role` (revoked ones too: their rows keep it).
pub async fn acting_with(conn: &mut AnyConnection, role: RoleId) -> StoreResult<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT u.display_name FROM api_clients c JOIN users u ON u.id = c.user_id \
         WHERE c.role_id = $1 ORDER BY u.display_name",
    )
    .bind(role.to_string())
    .fetch_all(&mut *conn)
    .await?)
}

/// Records that API client `client` (its user) submitted request `request` for its requester.
pub async fn record_submission(
    conn: &mut AnyConnection,
    request: Uuid,
    client: UserId,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO request_submitters (request_id, user_id) VALUES ($1, $2)")
        .bind(request.to_string())
        .bind(client.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Whether `user` submitted request `request` for someone (an API client's own request).
pub async fn submitted(conn: &mut AnyConnection, request: Uuid, user: UserId) -> StoreResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM request_submitters WHERE request_id = $1 AND user_id = $2",
    )
    .bind(request.to_string())
    .bind(user.to_string())
    .fetch_one(&mut *conn)
    .await?;
    Ok(n > 0)
}

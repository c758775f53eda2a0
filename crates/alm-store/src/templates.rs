//! Workflow templates and their versions. Definitions are stored as JSON text; their shape
//! and rules belong to `alm_core::templates`.

use crate::error::decode_state;
use crate::error::{StoreError, StoreResult};
use crate::time_codec::{from_db, opt_from_db, to_db};
use crate::users::conflict_or;
use alm_core::templates::{TemplateState, VersionState};
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateRecord {
    pub id: Uuid,
    pub name: String,
    pub state: TemplateState,
    pub published_version: Option<i64>,
    pub latest_version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRecord {
    pub template_id: Uuid,
    pub version: i64,
    pub state: VersionState,
    /// JSON text.
    pub definition: String,
    pub created_by: Option<String>,
    pub submitted_by: Option<String>,
    pub approved_by: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub published_at: Option<OffsetDateTime>,
}

const T_COLUMNS: &str =
    "id, name, state, published_version, latest_version, created_at, updated_at";
const V_COLUMNS: &str = "template_id, version, state, definition, created_by, submitted_by, \
    approved_by, created_at, updated_at, published_at";

fn uuid(text: String, what: &str) -> StoreResult<Uuid> {
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("{what} {text:?}")))
}

fn decode_t(row: &sqlx::any::AnyRow) -> StoreResult<TemplateRecord> {
    let id: String = row.try_get("id")?;
    Ok(TemplateRecord {
        state: decode_state(
            row.try_get("state")?,
            "templates",
            "state",
            &id,
            TemplateState::parse,
        )?,
        id: uuid(id, "template id")?,
        name: row.try_get("name")?,
        published_version: row.try_get("published_version")?,
        latest_version: row.try_get("latest_version")?,
        created_at: from_db(row.try_get("created_at")?)?,
        updated_at: from_db(row.try_get("updated_at")?)?,
    })
}

fn decode_v(row: &sqlx::any::AnyRow) -> StoreResult<VersionRecord> {
    let template_id: String = row.try_get("template_id")?;
    let version: i64 = row.try_get("version")?;
    Ok(VersionRecord {
        state: decode_state(
            row.try_get("state")?,
            "template_versions",
            "state",
            &format!("{template_id} version {version}"),
            VersionState::parse,
        )?,
        template_id: uuid(template_id, "template id")?,
        version,
        definition: row.try_get("definition")?,
        created_by: row.try_get("created_by")?,
        submitted_by: row.try_get("submitted_by")?,
        approved_by: row.try_get("approved_by")?,
        created_at: from_db(row.try_get("created_at")?)?,
        updated_at: from_db(row.try_get("updated_at")?)?,
        published_at: opt_from_db(row.try_get("published_at")?)?,
    })
}

pub async fn insert(conn: &mut AnyConnection, t: &TemplateRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO templates (id, name, name_key, state, published_version, latest_version, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(t.id.to_string())
    .bind(&t.name)
    .bind(t.name.to_lowercase())
    .bind(t.state.as_str())
    .bind(t.published_version)
    .bind(t.latest_version)
    .bind(to_db(t.created_at))
    .bind(to_db(t.updated_at))
    .execute(&mut *conn)
    .await
    .map_err(|e| conflict_or(e, "a template with this name"))?;
    Ok(())
}

pub async fn update(conn: &mut AnyConnection, t: &TemplateRecord) -> StoreResult<()> {
    sqlx::query(
        "UPDATE templates SET name = $1, name_key = $2, state = $3, published_version = $4, \
         latest_version = $5, updated_at = $6 WHERE id = $7",
    )
    .bind(&t.name)
    .bind(t.name.to_lowercase())
    .bind(t.state.as_str())
    .bind(t.published_version)
    .bind(t.latest_version)
    .bind(to_db(t.updated_at))
    .bind(t.id.to_string())
    .execute(&mut *conn)
    .await
    .map_err(|e| conflict_or(e, "a template with this name"))?;
    Ok(())
}

pub async fn get(conn: &mut AnyConnection, id: Uuid) -> StoreResult<Option<TemplateRecord>> {
    sqlx::query(&format!("SELECT {T_COLUMNS} FROM templates WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(decode_t)
        .transpose()
}

pub async fn find_by_name(conn: &mut AnyConnection, name: &str) -> StoreResult<Option<Uuid>> {
    let id: Option<String> = sqlx::query_scalar("SELECT id FROM templates WHERE name_key = $1")
        .bind(name.to_lowercase())
        .fetch_optional(&mut *conn)
        .await?;
    id.map(|s| uuid(s, "template id")).transpose()
}

/// Templates by name, optionally only those in one state.
pub async fn list(
    conn: &mut AnyConnection,
    state: Option<TemplateState>,
) -> StoreResult<Vec<TemplateRecord>> {
    let sql = match state {
        Some(_) => {
            format!("SELECT {T_COLUMNS} FROM templates WHERE state = $1 ORDER BY name_key, id")
        }
        None => format!("SELECT {T_COLUMNS} FROM templates ORDER BY name_key, id"),
    };
    let mut q = sqlx::query(&sql);
    if let Some(s) = state {
        q = q.bind(s.as_str());
    }
    q.fetch_all(&mut *conn)
        .await?
        .iter()
        .map(decode_t)
        .collect()
}

pub async fn delete(conn: &mut AnyConnection, id: Uuid) -> StoreResult<()> {
    sqlx::query("DELETE FROM template_versions WHERE template_id = $1")
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM templates WHERE id = $1")
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn insert_version(conn: &mut AnyConnection, v: &VersionRecord) -> StoreResult<()> {
    sqlx::query(&format!(
        "INSERT INTO template_versions ({V_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    ))
    .bind(v.template_id.to_string())
    .bind(v.version)
    .bind(v.state.as_str())
    .bind(&v.definition)
    .bind(v.created_by.as_deref())
    .bind(v.submitted_by.as_deref())
    .bind(v.approved_by.as_deref())
    .bind(to_db(v.created_at))
    .bind(to_db(v.updated_at))
    .bind(v.published_at.map(to_db))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn update_version(conn: &mut AnyConnection, v: &VersionRecord) -> StoreResult<()> {
    sqlx::query(
        "UPDATE template_versions SET state = $1, definition = $2, submitted_by = $3, approved_by = $4, \
         updated_at = $5, published_at = $6 WHERE template_id = $7 AND version = $8",
    )
    .bind(v.state.as_str())
    .bind(&v.definition)
    .bind(v.submitted_by.as_deref())
    .bind(v.approved_by.as_deref())
    .bind(to_db(v.updated_at))
    .bind(v.published_at.map(to_db))
    .bind(v.template_id.to_string())
    .bind(v.version)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn version(
    conn: &mut AnyConnection,
    id: Uuid,
    version: i64,
) -> StoreResult<Option<VersionRecord>> {
    sqlx::query(&format!(
        "SELECT {V_COLUMNS} FROM template_versions WHERE template_id = $1 AND version = $2"
    ))
    .bind(id.to_string())
    .bind(version)
    .fetch_optional(&mut *conn)
    .await?
    .as_ref()
    .map(decode_v)
    .transpose()
}

pub async fn versions(conn: &mut AnyConnection, id: Uuid) -> StoreResult<Vec<VersionRecord>> {
    sqlx::query(&format!(
        "SELECT {V_COLUMNS} FROM template_versions WHERE template_id = $1 ORDER BY version"
    ))
    .bind(id.to_string())
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(decode_v)
    .collect()
}

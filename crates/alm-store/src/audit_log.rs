//! The append-only, hash-chained audit log (SPEC §8).
//!
//! Each record's hash covers the previous record's hash and the record's own fields, so
//! altering, removing or reordering records breaks the chain at a nameable place. Personal
//! data (names, emails, source IPs) is kept outside the chain: the chain covers a salted hash
//! of it, so it can be erased later (SPEC §13) without breaking verification. A head row holds
//! the last link, so removing records at the end is detected too.

use crate::db::WriteTx;
use crate::dialect;
use crate::error::{StoreError, StoreResult};
use crate::time_codec::{from_db, to_db};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Keys whose values never enter an audit record, whatever a caller passes.
const SECRET_KEYS: &[&str] = &[
    "password",
    "password_hash",
    "secret",
    "client_secret",
    "token",
    "token_hash",
    "api_token",
    "pkce_verifier",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActorKind {
    User,
    Anonymous,
    System,
    Engine,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::Anonymous => "anonymous",
            ActorKind::System => "system",
            ActorKind::Engine => "engine",
        }
    }

    fn parse(s: &str) -> StoreResult<Self> {
        Ok(match s {
            "user" => ActorKind::User,
            "anonymous" => ActorKind::Anonymous,
            "system" => ActorKind::System,
            "engine" => ActorKind::Engine,
            other => return Err(StoreError::Corrupt(format!("actor kind {other:?}"))),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Denied,
    Failure,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
            Outcome::Failure => "failure",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "success" => Some(Outcome::Success),
            "denied" => Some(Outcome::Denied),
            "failure" => Some(Outcome::Failure),
            _ => None,
        }
    }
}

/// The erasable personal fields of a record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Personal {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewRecord {
    pub actor_kind: ActorKind,
    pub actor_id: Option<String>,
    pub action: String,
    pub object_type: String,
    pub object_id: Option<String>,
    pub outcome: Outcome,
    /// Before/after summary; keys in `SECRET_KEYS` are replaced by `"[redacted]"`.
    pub summary: serde_json::Value,
    pub personal: Personal,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRecord {
    pub seq: i64,
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub actor_kind: ActorKind,
    pub actor_id: Option<String>,
    pub action: String,
    pub object_type: String,
    pub object_id: Option<String>,
    pub outcome: Outcome,
    pub summary: serde_json::Value,
    pub personal: Personal,
    pub personal_erased: bool,
    pub hash: String,
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn redact(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if SECRET_KEYS.contains(&k.to_lowercase().as_str()) {
                    *v = serde_json::Value::String("[redacted]".into());
                } else {
                    redact(v);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// The fields a link covers, in a fixed order.
struct Link<'a> {
    seq: i64,
    id: &'a str,
    at: i64,
    actor_kind: &'a str,
    actor_id: Option<&'a str>,
    action: &'a str,
    object_type: &'a str,
    object_id: Option<&'a str>,
    outcome: &'a str,
    summary: &'a str,
    personal_hash: &'a str,
    prev_hash: &'a str,
}

impl Link<'_> {
    fn hash(&self) -> String {
        // A JSON array is an unambiguous encoding: no field can run into the next.
        let canonical = serde_json::json!([
            self.seq,
            self.id,
            self.at,
            self.actor_kind,
            self.actor_id,
            self.action,
            self.object_type,
            self.object_id,
            self.outcome,
            self.summary,
            self.personal_hash,
            self.prev_hash
        ]);
        sha256_hex(canonical.to_string().as_bytes())
    }
}

fn personal_hash(salt: &str, personal_text: &str) -> String {
    sha256_hex(format!("{salt}:{personal_text}").as_bytes())
}

/// Appends one record inside the caller's transaction, so the record commits or rolls back
/// with the change it describes.
pub async fn append(
    tx: &mut WriteTx,
    at: OffsetDateTime,
    record: NewRecord,
) -> StoreResult<AuditRecord> {
    let backend = tx.backend();
    let head = sqlx::query(dialect::audit_head_for_update(backend))
        .fetch_one(&mut **tx)
        .await?;
    let prev_seq: i64 = head.try_get("seq")?;
    let prev_hash: String = head.try_get("hash")?;
    let seq = prev_seq + 1;
    let id = alm_core::ids::uuid_v7_at(at).to_string();
    let mut summary = record.summary;
    redact(&mut summary);
    let summary_text = summary.to_string();
    let personal_text =
        serde_json::to_string(&record.personal).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let mut salt = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut salt);
    let salt = hex::encode(salt);
    let p_hash = personal_hash(&salt, &personal_text);
    let at_db = to_db(at);
    let hash = Link {
        seq,
        id: &id,
        at: at_db,
        actor_kind: record.actor_kind.as_str(),
        actor_id: record.actor_id.as_deref(),
        action: &record.action,
        object_type: &record.object_type,
        object_id: record.object_id.as_deref(),
        outcome: record.outcome.as_str(),
        summary: &summary_text,
        personal_hash: &p_hash,
        prev_hash: &prev_hash,
    }
    .hash();
    sqlx::query(
        "INSERT INTO audit_log (seq, id, at, actor_kind, actor_id, action, object_type, object_id, result, \
         summary, personal, personal_salt, personal_hash, personal_erased, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 0, $14, $15)",
    )
    .bind(seq)
    .bind(&id)
    .bind(at_db)
    .bind(record.actor_kind.as_str())
    .bind(record.actor_id.as_deref())
    .bind(&record.action)
    .bind(&record.object_type)
    .bind(record.object_id.as_deref())
    .bind(record.outcome.as_str())
    .bind(&summary_text)
    .bind(&personal_text)
    .bind(&salt)
    .bind(&p_hash)
    .bind(&prev_hash)
    .bind(&hash)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(seq)
        .bind(&hash)
        .execute(&mut **tx)
        .await?;
    let at = from_db(at_db)?;
    Ok(AuditRecord {
        seq,
        id,
        at,
        actor_kind: record.actor_kind,
        actor_id: record.actor_id,
        action: record.action,
        object_type: record.object_type,
        object_id: record.object_id,
        outcome: record.outcome,
        summary,
        personal: record.personal,
        personal_erased: false,
        hash,
    })
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor_id: Option<String>,
    pub action: Option<String>,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub outcome: Option<Outcome>,
    /// Leaves out records with this outcome.
    pub not_outcome: Option<Outcome>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
}

const COLUMNS: &str =
    "seq, id, at, actor_kind, actor_id, action, object_type, object_id, result, summary, \
    personal, personal_salt, personal_hash, personal_erased, prev_hash, hash";

struct StoredRow {
    record: AuditRecord,
    personal_text: String,
    personal_salt: String,
    personal_hash: String,
    prev_hash: String,
    summary_text: String,
    at_db: i64,
}

fn decode(row: &sqlx::any::AnyRow) -> StoreResult<StoredRow> {
    let summary_text: String = row.try_get("summary")?;
    let personal_text: String = row.try_get("personal")?;
    let result: String = row.try_get("result")?;
    let at_db: i64 = row.try_get("at")?;
    Ok(StoredRow {
        record: AuditRecord {
            seq: row.try_get("seq")?,
            id: row.try_get("id")?,
            at: from_db(at_db)?,
            actor_kind: ActorKind::parse(&row.try_get::<String, _>("actor_kind")?)?,
            actor_id: row.try_get("actor_id")?,
            action: row.try_get("action")?,
            object_type: row.try_get("object_type")?,
            object_id: row.try_get("object_id")?,
            outcome: Outcome::parse(&result)
                .ok_or_else(|| StoreError::Corrupt(format!("result {result:?}")))?,
            summary: serde_json::from_str(&summary_text)
                .unwrap_or(serde_json::Value::String(summary_text.clone())),
            personal: serde_json::from_str(&personal_text).unwrap_or_default(),
            personal_erased: row.try_get::<i64, _>("personal_erased")? != 0,
            hash: row.try_get("hash")?,
        },
        personal_text,
        personal_salt: row.try_get("personal_salt")?,
        personal_hash: row.try_get("personal_hash")?,
        prev_hash: row.try_get("prev_hash")?,
        summary_text,
        at_db,
    })
}

/// Records matching `filter`, newest first when `descending`, with the total count.
pub async fn list(
    conn: &mut AnyConnection,
    filter: &AuditFilter,
    descending: bool,
    limit: u32,
    offset: u64,
) -> StoreResult<(Vec<AuditRecord>, u64)> {
    let mut conditions: Vec<String> = Vec::new();
    let mut texts: Vec<String> = Vec::new();
    let mut push_text = |conditions: &mut Vec<String>, column: &str, value: &str| {
        texts.push(value.to_owned());
        conditions.push(format!("{column} = ${}", texts.len()));
    };
    if let Some(v) = &filter.actor_id {
        push_text(&mut conditions, "actor_id", v);
    }
    if let Some(v) = &filter.action {
        push_text(&mut conditions, "action", v);
    }
    if let Some(v) = &filter.object_type {
        push_text(&mut conditions, "object_type", v);
    }
    if let Some(v) = &filter.object_id {
        push_text(&mut conditions, "object_id", v);
    }
    if let Some(v) = filter.outcome {
        push_text(&mut conditions, "result", v.as_str());
    }
    if let Some(v) = filter.not_outcome {
        texts.push(v.as_str().to_owned());
        conditions.push(format!("result <> ${}", texts.len()));
    }
    // Instants are integers: safe to inline, and it keeps the text binds uniform.
    if let Some(since) = filter.since {
        conditions.push(format!("at >= {}", to_db(since)));
    }
    if let Some(until) = filter.until {
        conditions.push(format!("at < {}", to_db(until)));
    }
    let where_clause = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let count_sql = format!("SELECT COUNT(*) FROM audit_log {where_clause}");
    let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
    for t in &texts {
        count = count.bind(t.clone());
    }
    let total = count.fetch_one(&mut *conn).await?;
    let dir = if descending { "DESC" } else { "ASC" };
    let n = texts.len();
    let sql = format!(
        "SELECT {COLUMNS} FROM audit_log {where_clause} ORDER BY seq {dir} LIMIT ${} OFFSET ${}",
        n + 1,
        n + 2
    );
    let mut q = sqlx::query(&sql);
    for t in &texts {
        q = q.bind(t.clone());
    }
    let rows = q
        .bind(i64::from(limit))
        .bind(offset as i64)
        .fetch_all(&mut *conn)
        .await?;
    let records = rows
        .iter()
        .map(|r| decode(r).map(|s| s.record))
        .collect::<StoreResult<Vec<_>>>()?;
    Ok((records, total as u64))
}

/// The outcome of checking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub checked: u64,
    pub first_broken: Option<BrokenLink>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    pub seq: i64,
    pub reason: String,
}

fn broken(checked: u64, seq: i64, reason: String) -> StoreResult<VerifyReport> {
    Ok(VerifyReport {
        checked,
        first_broken: Some(BrokenLink { seq, reason }),
    })
}

/// Walks the chain from the first record and reports the first broken link.
pub async fn verify(conn: &mut AnyConnection) -> StoreResult<VerifyReport> {
    const BATCH: i64 = 1000;
    let mut expected_seq = 1_i64;
    let mut prev_hash = GENESIS_HASH.to_owned();
    let mut checked = 0_u64;
    loop {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT $2"
        ))
        .bind(expected_seq)
        .bind(BATCH)
        .fetch_all(&mut *conn)
        .await?;
        let batch_len = rows.len();
        for row in &rows {
            let stored = decode(row)?;
            let r = &stored.record;
            if r.seq != expected_seq {
                return broken(
                    checked,
                    expected_seq,
                    format!(
                        "record {expected_seq} is missing: the chain jumps from {} to {}",
                        expected_seq - 1,
                        r.seq
                    ),
                );
            }
            if stored.prev_hash != prev_hash {
                return broken(
                    checked,
                    r.seq,
                    format!("record {} does not link to record {}", r.seq, r.seq - 1),
                );
            }
            let recomputed = Link {
                seq: r.seq,
                id: &r.id,
                at: stored.at_db,
                actor_kind: r.actor_kind.as_str(),
                actor_id: r.actor_id.as_deref(),
                action: &r.action,
                object_type: &r.object_type,
                object_id: r.object_id.as_deref(),
                outcome: r.outcome.as_str(),
                summary: &stored.summary_text,
                personal_hash: &stored.personal_hash,
                prev_hash: &stored.prev_hash,
            }
            .hash();
            if recomputed != r.hash {
                return broken(
                    checked,
                    r.seq,
                    format!(
                        "record {} was altered: its contents do not match its hash",
                        r.seq
                    ),
                );
            }
            if !r.personal_erased
                && personal_hash(&stored.personal_salt, &stored.personal_text)
                    != stored.personal_hash
            {
                return broken(
                    checked,
                    r.seq,
                    format!(
                        "record {} was altered: its personal fields do not match",
                        r.seq
                    ),
                );
            }
            prev_hash = r.hash.clone();
            expected_seq += 1;
            checked += 1;
        }
        if (batch_len as i64) < BATCH {
            break;
        }
    }
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_one(&mut *conn)
        .await?;
    let head_seq: i64 = head.try_get("seq")?;
    let head_hash: String = head.try_get("hash")?;
    if head_seq != expected_seq - 1 || head_hash != prev_hash {
        return broken(
            checked,
            expected_seq,
            format!(
                "the log ends at record {} but its head says {head_seq}: records at the end were removed",
                expected_seq - 1
            ),
        );
    }
    Ok(VerifyReport {
        checked,
        first_broken: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let mut v = serde_json::json!({"name": "x", "password": "p", "nested": [{"Client_Secret": "s", "token_id": "t"}]});
        redact(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"name": "x", "password": "[redacted]", "nested": [{"Client_Secret": "[redacted]", "token_id": "t"}]})
        );
    }

    #[test]
    fn link_hash_depends_on_every_field() {
        let base = Link {
            seq: 1,
            id: "i",
            at: 2,
            actor_kind: "user",
            actor_id: Some("a"),
            action: "x",
            object_type: "user",
            object_id: None,
            outcome: "success",
            summary: "{}",
            personal_hash: "p",
            prev_hash: GENESIS_HASH,
        };
        let h = base.hash();
        assert_ne!(Link { seq: 2, ..base }.hash(), h);
        assert_ne!(
            Link {
                summary: "{\"a\":1}",
                ..base
            }
            .hash(),
            h
        );
        assert_ne!(
            Link {
                object_id: Some(""),
                ..base
            }
            .hash(),
            h
        );
        assert_ne!(
            Link {
                prev_hash: "1",
                ..base
            }
            .hash(),
            h
        );
        assert_eq!(h.len(), 64);
    }
}

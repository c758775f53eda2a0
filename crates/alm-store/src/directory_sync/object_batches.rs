//! Writing a sync's objects in bulk: what alm already holds of a domain (so a full sync can
//! skip what did not change) and multi-row upserts. A full sync of tens of thousands of objects
//! used to send one statement per object, and the per-statement cost of sqlx's `Any` driver
//! (≈ 35 µs) was most of its database time (bench/RESULTS.md "Directory sync").
//! Only SQL that SQLite and PostgreSQL both accept lives here.

use super::DirectoryObject;
use crate::error::{StoreError, StoreResult};
use crate::time_codec::to_db;
use alm_core::DomainId;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;
use time::OffsetDateTime;

/// Rows per `INSERT` (9 parameters each). Large enough that the per-statement cost of the `Any`
/// driver stops mattering, and small because SQLite finds a `$n` parameter's name by a linear
/// scan of the statement's parameters, so binding costs grow with the square of their number:
/// measured (bench/RESULTS.md "Directory sync"), with 500 rows a statement the database part of
/// a first full sync (22,001 new objects) took 1.37 s, against 0.62 s one statement each.
pub const UPSERT_BATCH_ROWS: usize = 50;

/// An object as alm stored it, everything a sync writes but `synced_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub kind: String,
    pub dn: String,
    pub name: String,
    pub enabled: bool,
    pub usn_changed: i64,
    /// The details as stored: JSON text.
    pub details: String,
}

impl StoredObject {
    /// Whether storing `o` would write the same row (apart from `synced_at`). Every column
    /// is compared, not only `uSNChanged`: a renamed or moved OU changes its children's DNs
    /// without touching their `uSNChanged`, and an engine that reads a new detail must get it
    /// stored. The details are compared as text; a difference in formatting alone only costs
    /// one rewrite.
    pub fn same_as(&self, o: &DirectoryObject) -> bool {
        let same_columns = self.usn_changed == o.usn_changed
            && self.enabled == o.enabled
            && self.kind == o.kind
            && self.name == o.name
            && self.dn == o.dn;
        // As text, the way it is stored (`Value == String` would compare against a JSON
        // string value instead).
        same_columns && {
            let details: String = o.details.to_string();
            self.details == details
        }
    }
}

/// Whether a sync that read `o` has to write it: it is new, or its row would change.
pub fn needs_write(stored: Option<&StoredObject>, o: &DirectoryObject) -> bool {
    !stored.is_some_and(|s| s.same_as(o))
}

/// Every object alm holds of the domain, by objectGUID, in one query.
pub async fn stored_objects(
    conn: &mut AnyConnection,
    domain: DomainId,
) -> StoreResult<HashMap<String, StoredObject>> {
    let rows = sqlx::query(
        "SELECT guid, kind, dn, name, enabled, usn_changed, details FROM directory_objects \
         WHERE domain_id = $1",
    )
    .bind(domain.to_string())
    .fetch_all(&mut *conn)
    .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in &rows {
        let guid: String = r.try_get("guid")?;
        let enabled: i64 = r.try_get("enabled")?;
        // Written as 0 or 1 only: anything else is not a value alm stored.
        let enabled = match enabled {
            0 => false,
            1 => true,
            other => {
                return Err(StoreError::Corrupt(format!(
                    "directory_objects.enabled of row {guid} is {other}, expected 0 or 1"
                )))
            }
        };
        let object = StoredObject {
            kind: r.try_get("kind")?,
            dn: r.try_get("dn")?,
            name: r.try_get("name")?,
            enabled,
            usn_changed: r.try_get("usn_changed")?,
            details: r.try_get("details")?,
        };
        out.insert(guid, object);
    }
    Ok(out)
}

/// Inserts the objects, or updates those the domain has already (by objectGUID), in
/// statements of [`UPSERT_BATCH_ROWS`] rows. An objectGUID given twice is written once, as
/// its last occurrence (what writing them one by one left): PostgreSQL refuses a statement
/// that would update one row twice.
pub async fn upsert(
    conn: &mut AnyConnection,
    domain: DomainId,
    objects: &[&DirectoryObject],
) -> StoreResult<()> {
    let mut at: HashMap<&str, usize> = HashMap::with_capacity(objects.len());
    let mut objects_once: Vec<&DirectoryObject> = Vec::with_capacity(objects.len());
    for o in objects {
        match at.get(o.guid.as_str()) {
            Some(&i) => objects_once[i] = o,
            None => {
                at.insert(&o.guid, objects_once.len());
                objects_once.push(o);
            }
        }
    }
    let domain = domain.to_string();
    for chunk in objects_once.chunks(UPSERT_BATCH_ROWS) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| {
                let p = i * 9;
                format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                    p + 1,
                    p + 2,
                    p + 3,
                    p + 4,
                    p + 5,
                    p + 6,
                    p + 7,
                    p + 8,
                    p + 9
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO directory_objects (domain_id, guid, kind, dn, name, enabled, usn_changed, details, synced_at) \
             VALUES {} ON CONFLICT (domain_id, guid) DO UPDATE SET kind = excluded.kind, dn = excluded.dn, \
             name = excluded.name, enabled = excluded.enabled, usn_changed = excluded.usn_changed, \
             details = excluded.details, synced_at = excluded.synced_at",
            rows.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for o in chunk {
            q = q
                .bind(&domain)
                .bind(&o.guid)
                .bind(&o.kind)
                .bind(&o.dn)
                .bind(&o.name)
                .bind(i64::from(o.enabled))
                .bind(o.usn_changed)
                .bind(o.details.to_string())
                .bind(to_db(o.synced_at));
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Records that a full sync saw every object the domain still has at `at`: one row in
/// `directory_seen`, which readers take as the `synced_at` of every row written before it.
/// Rewriting each unchanged row's `synced_at` instead (22,001 rows in the benchmark) was most
/// of what the sync did after its read (bench/RESULTS.md "Directory sync").
pub async fn mark_seen(
    conn: &mut AnyConnection,
    domain: DomainId,
    at: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query("DELETE FROM directory_seen WHERE domain_id = $1")
        .bind(domain.to_string())
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO directory_seen (domain_id, seen_at) VALUES ($1, $2)")
        .bind(domain.to_string())
        .bind(to_db(at))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn read(dn: &str, usn: i64, details: serde_json::Value) -> DirectoryObject {
        DirectoryObject {
            guid: "6f1c0e55-0000-4000-8000-000000000001".into(),
            kind: "user".into(),
            dn: dn.into(),
            name: "svc-a".into(),
            enabled: true,
            usn_changed: usn,
            details,
            synced_at: datetime!(2026-12-04 10:00 UTC),
        }
    }

    fn stored_as(o: &DirectoryObject) -> StoredObject {
        StoredObject {
            kind: o.kind.clone(),
            dn: o.dn.clone(),
            name: o.name.clone(),
            enabled: o.enabled,
            usn_changed: o.usn_changed,
            details: o.details.to_string(),
        }
    }

    #[test]
    fn only_new_and_changed_objects_are_written() {
        let details = serde_json::json!({"description": "web", "sid": "S-1-5-21-1-2-3-1104"});
        let o = read("CN=svc-a,OU=Apps,DC=x", 4711, details.clone());
        let stored = stored_as(&o);
        assert!(needs_write(None, &o), "a new object is written");
        assert!(
            !needs_write(Some(&stored), &o),
            "an unchanged one is not, whatever its synced_at"
        );
        // Its OU renamed: a new DN, the same uSNChanged (AD does not touch the children).
        let moved = read("CN=svc-a,OU=Services,DC=x", 4711, details.clone());
        assert!(needs_write(Some(&stored), &moved));
        let described = read(
            "CN=svc-a,OU=Apps,DC=x",
            4711,
            serde_json::json!({"description": "api", "sid": "S-1-5-21-1-2-3-1104"}),
        );
        assert!(needs_write(Some(&stored), &described));
        let disabled = DirectoryObject {
            enabled: false,
            ..o.clone()
        };
        assert!(needs_write(Some(&stored), &disabled));
        let renamed = DirectoryObject {
            name: "svc-b".into(),
            ..o.clone()
        };
        assert!(needs_write(Some(&stored), &renamed));
        let later = read("CN=svc-a,OU=Apps,DC=x", 4712, details);
        assert!(needs_write(Some(&stored), &later));
    }
}

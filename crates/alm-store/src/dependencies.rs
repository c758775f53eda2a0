//! Where directory objects are used (migration 0034): the services that run as an object,
//! per source, and when a complete host scan last looked for it. Rows only: which rows a run
//! removes or writes is alm-core's `dependencies::plan`.

use crate::error::{decode_state, StoreResult};
use crate::time_codec::{from_db, to_db};
use alm_core::dependencies::{Found, KnownRow, Source};
use alm_core::DomainId;
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

/// One service that runs as an object, as storage keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependencyRecord {
    pub source: Source,
    pub host: String,
    pub service_name: String,
    pub display_name: String,
    pub first_seen_at: OffsetDateTime,
    pub seen_at: OffsetDateTime,
}

/// The host-scan rows of the objects in `guids` (one domain), for `plan`.
pub async fn known_host_scan(
    conn: &mut AnyConnection,
    domain: DomainId,
    guids: &[String],
) -> StoreResult<Vec<KnownRow>> {
    let mut out = Vec::new();
    // Bounded statements: a run names up to 100,000 accounts; 500 placeholders a statement.
    for chunk in guids.chunks(500) {
        let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 3)).collect();
        let sql = format!(
            "SELECT guid, host_key, service_key, seen_at FROM account_dependencies \
             WHERE domain_id = $1 AND source = $2 AND guid IN ({})",
            marks.join(", ")
        );
        let mut q = sqlx::query(&sql)
            .bind(domain.to_string())
            .bind(Source::HostScan.as_str());
        for g in chunk {
            q = q.bind(g);
        }
        for row in q.fetch_all(&mut *conn).await? {
            out.push(KnownRow {
                guid: row.try_get("guid")?,
                host_key: row.try_get("host_key")?,
                service_key: row.try_get("service_key")?,
                seen_at: from_db(row.try_get("seen_at")?)?,
            });
        }
    }
    Ok(out)
}

/// Removes one row (guid, host key, service key) of `source`.
pub async fn remove(
    conn: &mut AnyConnection,
    domain: DomainId,
    source: Source,
    (guid, host_key, service_key): &(String, String, String),
) -> StoreResult<()> {
    sqlx::query(
        "DELETE FROM account_dependencies WHERE domain_id = $1 AND guid = $2 AND source = $3 \
         AND host_key = $4 AND service_key = $5",
    )
    .bind(domain.to_string())
    .bind(guid)
    .bind(source.as_str())
    .bind(host_key)
    .bind(service_key)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Inserts a service, or refreshes the names and the time it was seen of one known already;
/// `run_id` is the discovery run or vault-sync job that saw it.
pub async fn write(
    conn: &mut AnyConnection,
    domain: DomainId,
    source: Source,
    found: &Found,
    seen_at: OffsetDateTime,
    run_id: &str,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO account_dependencies (domain_id, guid, source, host_key, service_key, host, \
         service_name, display_name, first_seen_at, seen_at, run_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10) \
         ON CONFLICT (domain_id, guid, source, host_key, service_key) DO UPDATE SET \
         host = excluded.host, service_name = excluded.service_name, \
         display_name = excluded.display_name, seen_at = excluded.seen_at, run_id = excluded.run_id",
    )
    .bind(domain.to_string())
    .bind(&found.guid)
    .bind(source.as_str())
    .bind(found.host_key())
    .bind(found.service_key())
    .bind(&found.host)
    .bind(&found.service_name)
    .bind(&found.display_name)
    .bind(to_db(seen_at))
    .bind(run_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Replaces everything `source` said of one object with `found` (a vault's records are whole:
/// what it no longer lists is gone; what it lists again keeps when it was first seen).
pub async fn replace(
    conn: &mut AnyConnection,
    domain: DomainId,
    source: Source,
    guid: &str,
    found: &[Found],
    seen_at: OffsetDateTime,
    run_id: &str,
) -> StoreResult<()> {
    let known: Vec<(String, String)> = sqlx::query_as(
        "SELECT host_key, service_key FROM account_dependencies \
         WHERE domain_id = $1 AND guid = $2 AND source = $3",
    )
    .bind(domain.to_string())
    .bind(guid)
    .bind(source.as_str())
    .fetch_all(&mut *conn)
    .await?;
    let kept: std::collections::HashSet<(String, String)> = found
        .iter()
        .map(|f| (f.host_key(), f.service_key()))
        .collect();
    for (host_key, service_key) in known {
        if !kept.contains(&(host_key.clone(), service_key.clone())) {
            remove(
                conn,
                domain,
                source,
                &(guid.to_owned(), host_key, service_key),
            )
            .await?;
        }
    }
    for f in found {
        write(conn, domain, source, f, seen_at, run_id).await?;
    }
    Ok(())
}

/// Notes that a complete host scan at `at` looked for the object (a later one is kept).
pub async fn mark_scanned(
    conn: &mut AnyConnection,
    domain: DomainId,
    guid: &str,
    at: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO dependency_scans (domain_id, guid, scanned_at) VALUES ($1, $2, $3) \
         ON CONFLICT (domain_id, guid) DO UPDATE SET scanned_at = excluded.scanned_at \
         WHERE excluded.scanned_at > dependency_scans.scanned_at",
    )
    .bind(domain.to_string())
    .bind(guid)
    .bind(to_db(at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The services that run as one object, by host then service name.
pub async fn of_object(
    conn: &mut AnyConnection,
    domain: DomainId,
    guid: &str,
) -> StoreResult<Vec<DependencyRecord>> {
    let rows = sqlx::query(
        "SELECT source, host, service_name, display_name, first_seen_at, seen_at \
         FROM account_dependencies WHERE domain_id = $1 AND guid = $2 \
         ORDER BY host_key, service_key, source",
    )
    .bind(domain.to_string())
    .bind(guid)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            let host: String = row.try_get("host")?;
            let service_name: String = row.try_get("service_name")?;
            Ok(DependencyRecord {
                source: decode_state(
                    row.try_get("source")?,
                    "account_dependencies",
                    "source",
                    &format!("{guid} {host} {service_name}"),
                    Source::parse,
                )?,
                display_name: row.try_get("display_name")?,
                first_seen_at: from_db(row.try_get("first_seen_at")?)?,
                seen_at: from_db(row.try_get("seen_at")?)?,
                host,
                service_name,
            })
        })
        .collect()
}

/// When a complete host scan last looked for the object, if one ever did.
pub async fn last_scan(
    conn: &mut AnyConnection,
    domain: DomainId,
    guid: &str,
) -> StoreResult<Option<OffsetDateTime>> {
    let at: Option<i64> = sqlx::query_scalar(
        "SELECT scanned_at FROM dependency_scans WHERE domain_id = $1 AND guid = $2",
    )
    .bind(domain.to_string())
    .bind(guid)
    .fetch_optional(&mut *conn)
    .await?;
    at.map(from_db).transpose()
}

//! The forward-only chain of numbered schema migrations, run at start.
//!
//! Each migration runs in its own transaction and records its number in `schema_migrations`.
//! There are no downgrades: a database newer than the binary is refused, so an old binary
//! never writes into a schema it does not understand. The SQL is portable (see lib.rs).

use crate::db::Db;
use crate::error::{StoreError, StoreResult};
use crate::{dialect, time_codec};
use sqlx::Executor;
use time::OffsetDateTime;

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// The chain. Append only; never edit a migration that has been released.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "people, roles, sessions, api tokens and the audit chain",
        sql: include_str!("../migrations/0001_people_audit_auth.sql"),
    },
    Migration {
        version: 2,
        name: "directory domains",
        sql: include_str!("../migrations/0002_domains.sql"),
    },
    Migration {
        version: 3,
        name: "directory sync: objects, state and runs",
        sql: include_str!("../migrations/0003_directory_sync.sql"),
    },
    Migration {
        version: 4,
        name: "user sync from directory groups",
        sql: include_str!("../migrations/0004_user_sync.sql"),
    },
    Migration {
        version: 5,
        name: "scheduled domain syncs",
        sql: include_str!("../migrations/0005_scheduled_sync.sql"),
    },
    Migration {
        version: 6,
        name: "vaults and the built-in vault's entries",
        sql: include_str!("../migrations/0006_vaults.sql"),
    },
    Migration {
        version: 7,
        name: "engines, pools and the job queue",
        sql: include_str!("../migrations/0007_engines.sql"),
    },
    Migration {
        version: 8,
        name: "workflow templates and their versions",
        sql: include_str!("../migrations/0008_templates.sql"),
    },
    Migration {
        version: 9,
        name: "requests and approvals",
        sql: include_str!("../migrations/0009_requests.sql"),
    },
    Migration {
        version: 10,
        name: "managed accounts and their owners",
        sql: include_str!("../migrations/0010_managed_accounts.sql"),
    },
    Migration {
        version: 11,
        name: "email templates, the outbox and the inbox",
        sql: include_str!("../migrations/0011_notifications.sql"),
    },
    Migration {
        version: 12,
        name: "the directory state of managed accounts",
        sql: include_str!("../migrations/0012_account_directory_state.sql"),
    },
    Migration {
        version: 13,
        name: "the attribute names of each domain's schema",
        sql: include_str!("../migrations/0013_directory_attributes.sql"),
    },
    Migration {
        version: 14,
        name: "the managed-account list in name order",
        sql: include_str!("../migrations/0014_account_listing.sql"),
    },
    Migration {
        version: 15,
        name: "the lifecycle scheduler: EOL sweep index, reminder schedule and slots",
        sql: include_str!("../migrations/0015_lifecycle.sql"),
    },
    Migration {
        version: 16,
        name: "renewal requests",
        sql: include_str!("../migrations/0016_renewal_requests.sql"),
    },
    Migration {
        version: 17,
        name: "webhooks, their delivery history, SIEM integrations and the integration outbox",
        sql: include_str!("../migrations/0017_integrations.sql"),
    },
    Migration {
        version: 18,
        name: "a deleted account's request no longer holds its name",
        sql: include_str!("../migrations/0018_released_request_names.sql"),
    },
    Migration {
        version: 19,
        name: "discovery runs and the unmanaged accounts they found",
        sql: include_str!("../migrations/0019_discovered_accounts.sql"),
    },
    Migration {
        version: 20,
        name: "jobs retried until done; the server process holding an in-process lease",
        sql: include_str!("../migrations/0020_job_retries_and_lease_holders.sql"),
    },
    Migration {
        version: 21,
        name: "login throttle counters and anonymous denial counts",
        sql: include_str!("../migrations/0021_login_throttle_and_anonymous_denials.sql"),
    },
    Migration {
        version: 22,
        name: "a value sealed with the master key, to check the key at start",
        sql: include_str!("../migrations/0022_key_check.sql"),
    },
    Migration {
        version: 23,
        name: "a row /readyz rewrites to see that storage takes writes",
        sql: include_str!("../migrations/0023_readiness_probe.sql"),
    },
    Migration {
        version: 24,
        name: "an index of decisions by approver (the approvals page)",
        sql: include_str!("../migrations/0024_decisions_by_approver.sql"),
    },
    Migration {
        version: 25,
        name: "one-time passwords: the user must choose their own first",
        sql: include_str!("../migrations/0025_one_time_passwords.sql"),
    },
    Migration {
        version: 26,
        name: "the end-of-life index carries the id (deep pages of an end-of-life window)",
        sql: include_str!("../migrations/0026_eol_index_with_id.sql"),
    },
    Migration {
        version: 27,
        name: "domains list the domain controllers to fail over to",
        sql: include_str!("../migrations/0027_domain_failover.sql"),
    },
    Migration {
        version: 28,
        name: "the EOL instant whose EOL action has run",
        sql: include_str!("../migrations/0028_eol_done.sql"),
    },
    Migration {
        version: 29,
        name: "domains may find their domain controllers in DNS",
        sql: include_str!("../migrations/0029_domain_dc_discovery.sql"),
    },
    Migration {
        version: 30,
        name: "a full sync records once that it saw every object",
        sql: include_str!("../migrations/0030_directory_seen.sql"),
    },
    Migration {
        version: 31,
        name: "API clients, and the requests they submit for someone",
        sql: include_str!("../migrations/0031_api_clients.sql"),
    },
    Migration {
        version: 32,
        name: "requests listed by creation through an index",
        sql: include_str!("../migrations/0032_request_list_index.sql"),
    },
    Migration {
        version: 33,
        name: "a daily sync time per vault",
        sql: include_str!("../migrations/0033_vault_sync_schedule.sql"),
    },
    Migration {
        version: 34,
        name: "where each directory object is used (services on hosts)",
        sql: include_str!("../migrations/0034_account_dependencies.sql"),
    },
];

pub fn latest_version() -> i64 {
    MIGRATIONS.last().map(|m| m.version).unwrap_or(0)
}

/// The schema version the database is at (0 when empty).
pub async fn current_version(db: &Db) -> StoreResult<i64> {
    let mut conn = db.read().await?;
    ensure_table(&mut conn).await?;
    let v: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
        .fetch_one(&mut *conn)
        .await?;
    Ok(v.unwrap_or(0))
}

async fn ensure_table(conn: &mut sqlx::AnyConnection) -> StoreResult<()> {
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (\
            version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .await?;
    Ok(())
}

/// Applies every pending migration, one transaction each; returns the versions applied.
pub async fn migrate(db: &Db, now: OffsetDateTime) -> StoreResult<Vec<i64>> {
    let latest = latest_version();
    let mut applied = Vec::new();
    loop {
        let mut tx = db.begin_write().await?;
        if let Some(lock) = dialect::migration_lock(db.backend()) {
            tx.execute(lock).await?;
        }
        ensure_table(&mut tx).await?;
        let current: i64 =
            sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(version) FROM schema_migrations")
                .fetch_one(&mut *tx)
                .await?
                .unwrap_or(0);
        if current > latest {
            return Err(StoreError::SchemaTooNew {
                database: current,
                binary: latest,
            });
        }
        let Some(next) = MIGRATIONS.iter().find(|m| m.version > current) else {
            return Ok(applied);
        };
        for statement in statements(next.sql) {
            tx.execute(statement.as_str()).await?;
        }
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(next.version)
        .bind(next.name)
        .bind(time_codec::to_db(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(
            version = next.version,
            name = next.name,
            "applied database migration"
        );
        applied.push(next.version);
    }
}

/// Splits a migration file into statements: they end with `;` at the end of a line, and
/// lines starting with `--` are comments.
fn statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("--") || trimmed.is_empty() {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if trimmed.ends_with(';') {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.trim().is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A migration file that is not in the chain would never run (it happened once: the
    /// index of 0014 was missing until 0015 was added).
    #[test]
    fn every_migration_file_is_in_the_chain() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let chained: Vec<String> = MIGRATIONS
            .iter()
            .map(|m| {
                files
                    .iter()
                    .find(|f| f.starts_with(&format!("{:04}_", m.version)))
                    .cloned()
                    .unwrap_or_else(|| format!("{:04}_<missing file>", m.version))
            })
            .collect();
        assert_eq!(chained, files);
    }

    #[test]
    fn chain_is_numbered_without_gaps_and_statements_split() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1, "{}", m.name);
        }
        let parts = statements("-- c\nCREATE TABLE a (x BIGINT);\n\nCREATE INDEX b\n  ON a (x);\n");
        assert_eq!(parts.len(), 2);
        assert!(parts[1].contains("ON a (x);"));
    }
}

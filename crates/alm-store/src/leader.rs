//! Who runs the scheduler (SPEC §12: exactly one among replicas). On PostgreSQL, a session
//! advisory lock held on one dedicated connection: the replica holding it is the leader, and
//! if that replica dies its connection closes and PostgreSQL releases the lock, so another
//! takes over at its next try. On SQLite there is one process per database file: it leads.

use crate::db::{Backend, Db};
use crate::error::StoreResult;
use sqlx::AnyConnection;

/// The advisory lock's key (an arbitrary constant: "alm sched" in ASCII).
const SCHEDULER_LOCK: i64 = 0x616c_6d20_7363_6864;

/// Leadership, while held.
pub struct Leadership {
    /// The connection that holds the advisory lock (PostgreSQL); dropping it releases it.
    held: Option<AnyConnection>,
}

impl Leadership {
    /// Tries to become (or stay) the leader; `Ok(None)` when another replica leads.
    pub async fn acquire(db: &Db) -> StoreResult<Option<Self>> {
        match db.backend() {
            Backend::Sqlite => Ok(Some(Self { held: None })),
            Backend::Postgres => {
                let mut conn = db.pool().acquire().await?;
                let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                    .bind(SCHEDULER_LOCK)
                    .fetch_one(&mut *conn)
                    .await?;
                if got {
                    // Off the pool: the lock lives exactly as long as this connection, which
                    // closes when the leadership is dropped (a pooled one would keep it).
                    Ok(Some(Self {
                        held: Some(conn.detach()),
                    }))
                } else {
                    Ok(None)
                }
            }
        }
    }

    /// Whether the lock is still held (the connection still answers).
    pub async fn still_held(&mut self) -> bool {
        match &mut self.held {
            None => true,
            Some(conn) => sqlx::query_scalar::<_, i32>("SELECT 1")
                .fetch_one(&mut *conn)
                .await
                .is_ok(),
        }
    }
}

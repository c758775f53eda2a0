//! Whether a server process is alive, for giving back the job leases a dead one held through
//! its in-process engine (issue: a restarted server waited out its predecessor's leases). On
//! PostgreSQL each process holds a session advisory lock keyed by its instance id for as long
//! as it runs; the lock is released by PostgreSQL when the process's connection closes, so a
//! lock that can be taken belongs to a process that is gone. On SQLite one process owns the
//! database file, so any other instance is gone.

use crate::db::{Backend, Db};
use crate::error::StoreResult;
use sqlx::AnyConnection;

/// The first key of the two-key advisory lock: "alm" + "i" in ASCII, apart from the
/// scheduler's one-key lock.
const INSTANCE_CLASS: i32 = 0x616c_6d69;

/// The second key: the instance id folded to 32 bits (FNV-1a). Two live instances that fold
/// to the same key would each look alive to the other: their leases then run out as before,
/// which is safe.
fn key(instance: &str) -> i32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in instance.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h as i32
}

/// This process's claim to be alive, held while the value lives.
pub struct InstanceLock {
    /// The connection holding the advisory lock (PostgreSQL); dropping it releases the lock.
    _held: Option<AnyConnection>,
}

impl InstanceLock {
    pub async fn acquire(db: &Db, instance: &str) -> StoreResult<Self> {
        match db.backend() {
            Backend::Sqlite => Ok(Self { _held: None }),
            Backend::Postgres => {
                let mut conn = db.pool().acquire().await?;
                // Never waits: a live process whose id folds to the same key (about one chance
                // in four billion) keeps it, and this one runs without (its leases then only
                // run out by their deadline, as before).
                let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
                    .bind(INSTANCE_CLASS)
                    .bind(key(instance))
                    .fetch_one(&mut *conn)
                    .await?;
                if !got {
                    tracing::warn!("another running server holds this process's instance lock; leases are given back by their deadline only");
                    return Ok(Self { _held: None });
                }
                // Off the pool: the lock lives exactly as long as this connection.
                Ok(Self {
                    _held: Some(conn.detach()),
                })
            }
        }
    }

    /// Whether the process `instance` no longer runs.
    pub async fn is_gone(db: &Db, instance: &str) -> StoreResult<bool> {
        match db.backend() {
            Backend::Sqlite => Ok(true),
            Backend::Postgres => {
                let mut conn = db.pool().acquire().await?;
                let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
                    .bind(INSTANCE_CLASS)
                    .bind(key(instance))
                    .fetch_one(&mut *conn)
                    .await?;
                if got {
                    sqlx::query("SELECT pg_advisory_unlock($1, $2)")
                        .bind(INSTANCE_CLASS)
                        .bind(key(instance))
                        .execute(&mut *conn)
                        .await?;
                }
                Ok(got)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::key;

    #[test]
    fn instance_keys_are_stable_and_spread() {
        assert_eq!(key(""), 0x811c_9dc5_u32 as i32);
        assert_ne!(
            key("0190a000-0000-7000-8000-000000000001"),
            key("0190a000-0000-7000-8000-000000000002")
        );
        assert_eq!(key("abc"), key("abc"));
    }
}

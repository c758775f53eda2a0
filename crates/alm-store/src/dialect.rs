//! The few statements that must differ between SQLite and PostgreSQL, in one place.
//!
//! Everything else in the store is portable SQL with `$n` placeholders.

use crate::db::Backend;

/// Serialises concurrent migrators (several replicas starting at once). SQLite needs none:
/// its write lock already serialises them.
pub fn migration_lock(backend: Backend) -> Option<&'static str> {
    match backend {
        Backend::Postgres => Some("SELECT pg_advisory_xact_lock(7400331001)"),
        Backend::Sqlite => None,
    }
}

/// Reads the audit chain head and locks it until the transaction ends, so two appenders
/// cannot both extend the same link. On SQLite the process-wide write lock does this.
pub fn audit_head_for_update(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
        Backend::Sqlite => "SELECT seq, hash FROM audit_head WHERE id = 1",
    }
}

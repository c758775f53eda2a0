//! The store's error kinds: what a caller can act on, never a raw driver message with data.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database.url: unsupported scheme {scheme:?}; expected sqlite:// or postgres://")]
    UnsupportedScheme { scheme: String },
    #[error("database.url: {0}")]
    InvalidUrl(String),
    #[error(
        "the database is at schema version {database}, newer than this alm binary knows \
         (up to {binary}); run a newer alm, or restore a backup taken before the upgrade"
    )]
    SchemaTooNew { database: i64, binary: i64 },
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{what} already exists")]
    Conflict { what: &'static str },
    #[error("stored data is not what alm wrote: {0}")]
    Corrupt(String),
    #[error("{}: {source}", path.display())]
    File {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    /// A backup file that cannot be used, and why.
    #[error("{0}")]
    Backup(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl StoreError {
    /// True when a unique constraint refused the write (a lost race against a twin request).
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(e)) if e.is_unique_violation())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Reads a stored state back into its enum: a text alm did not write is corruption, named by
/// table, row and value, never a default.
pub(crate) fn decode_state<T>(
    text: String,
    table: &str,
    column: &str,
    row: &str,
    parse: fn(&str) -> Option<T>,
) -> StoreResult<T> {
    parse(&text).ok_or_else(|| {
        StoreError::Corrupt(format!(
            "{table}.{column} of row {row} is {text:?}, which alm does not know"
        ))
    })
}

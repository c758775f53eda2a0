//! What backing up and restoring need from the database itself: SQLite's online copy, the schema
//! version a backup file holds, and whether a database is empty (a restore never overwrites
//! data unless told to). Running `pg_dump`/`pg_restore` is the command line's job.

use crate::db::{Backend, Db};
use crate::error::{StoreError, StoreResult};
use std::path::Path;

/// The first bytes of each backend's backup file.
const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";
const PG_DUMP_MAGIC: &[u8] = b"PGDMP";

/// What kind of backup a file is, by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupKind {
    /// A SQLite database file (`alm db backup` on SQLite, or the server's timed backups).
    Sqlite,
    /// A `pg_dump --format=custom` archive.
    PgDump,
}

impl BackupKind {
    /// Reads the file's first bytes; None when it is neither kind.
    pub fn of_file(path: &Path) -> std::io::Result<Option<Self>> {
        use std::io::Read;
        let mut head = [0u8; 16];
        let mut file = std::fs::File::open(path)?;
        let mut read = 0;
        while read < head.len() {
            match file.read(&mut head[read..])? {
                0 => break,
                n => read += n,
            }
        }
        let head = &head[..read];
        Ok(if head.starts_with(SQLITE_MAGIC) {
            Some(Self::Sqlite)
        } else if head.starts_with(PG_DUMP_MAGIC) {
            Some(Self::PgDump)
        } else {
            None
        })
    }

    /// The backend whose backups are of this kind.
    pub fn backend(self) -> Backend {
        match self {
            Self::Sqlite => Backend::Sqlite,
            Self::PgDump => Backend::Postgres,
        }
    }
}

/// Writes a consistent copy of a SQLite database to `path` while it stays in use (`VACUUM
/// INTO`; the file must not exist, or be empty).
pub async fn sqlite_copy(db: &Db, path: &Path) -> StoreResult<()> {
    let path = path
        .to_str()
        .ok_or_else(|| StoreError::Backup("the backup path must be valid UTF-8".into()))?;
    sqlx::query("VACUUM INTO $1")
        .bind(path)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// The schema version recorded in a SQLite backup file (opened read-only); an error when the
/// file holds no alm schema.
pub async fn sqlite_file_schema_version(path: &Path) -> StoreResult<i64> {
    use sqlx::ConnectOptions;
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .read_only(true);
    let mut conn = options.connect().await?;
    let version: Result<Option<i64>, _> =
        sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
            .fetch_one(&mut conn)
            .await;
    let _ = sqlx::Connection::close(conn).await;
    match version {
        Ok(Some(v)) => Ok(v),
        _ => Err(StoreError::Backup(
            "the file is a SQLite database without alm's schema".into(),
        )),
    }
}

/// How many tables the database has (0: empty, safe to restore into).
pub async fn table_count(db: &Db) -> StoreResult<i64> {
    let sql = match db.backend() {
        Backend::Sqlite => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        }
        Backend::Postgres => {
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()"
        }
    };
    let mut conn = db.read().await?;
    Ok(sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(&mut *conn)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backups_are_told_apart_by_their_first_bytes() {
        let dir = std::env::temp_dir().join(format!("alm-backup-kind-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let p = dir.join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        };
        let sqlite = write("a.db", b"SQLite format 3\0rest of the header");
        let pg = write("a.dump", b"PGDMP\x01\x0e\x00");
        let other = write("a.txt", b"hello");
        let empty = write("empty", b"");
        assert_eq!(
            BackupKind::of_file(&sqlite).unwrap(),
            Some(BackupKind::Sqlite)
        );
        assert_eq!(BackupKind::of_file(&pg).unwrap(), Some(BackupKind::PgDump));
        assert_eq!(BackupKind::of_file(&other).unwrap(), None);
        assert_eq!(BackupKind::of_file(&empty).unwrap(), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

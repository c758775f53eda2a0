//! Connecting to the database and handing out transactions.
//!
//! The backend is chosen from the scheme of `database.url` at run time. SQLite allows one
//! writer at a time; a process-wide write lock makes writers queue in alm instead of failing
//! with `SQLITE_BUSY` when two transactions both try to upgrade from reading to writing.

use crate::error::{StoreError, StoreResult};
use crate::files;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyConnection, AnyPool, Executor};
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, OwnedMutexGuard};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Reads the backend from a database URL, refusing anything else by name.
    pub fn from_url(url: &str) -> StoreResult<Self> {
        let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or("");
        match scheme {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            "" => Err(StoreError::InvalidUrl(
                "expected a URL such as sqlite:///var/lib/alm/alm.db or postgres://alm@db/alm"
                    .into(),
            )),
            other => Err(StoreError::UnsupportedScheme {
                scheme: other.to_owned(),
            }),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A pool of connections to alm's database.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    sqlite_writer: Arc<Mutex<()>>,
    /// Where the data is, for people (the SQLite file, or the PostgreSQL URL without password).
    location: Arc<str>,
}

impl Db {
    /// Connects to `url` (the database is created when it is a new SQLite file).
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let backend = Backend::from_url(url)?;
        sqlx::any::install_default_drivers();
        let url = match backend {
            // rwc: create the file on first start; without it a fresh data dir fails to open.
            Backend::Sqlite if !url.contains("mode=") => {
                format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
            }
            _ => url.to_owned(),
        };
        let options = AnyConnectOptions::from_str(&url)
            .map_err(|e| StoreError::InvalidUrl(redact(&e.to_string())))?;
        if let Some(file) = sqlite_file(&url) {
            prepare_sqlite_file(&file, url.contains("mode=rwc"))?;
        }
        let location: Arc<str> = match sqlite_file(&url) {
            Some(file) => file.display().to_string().into(),
            None => redact(&url).into(),
        };
        let pool_options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(30));
        let pool = match backend {
            Backend::Sqlite => {
                pool_options
                    .max_connections(8)
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            // The busy timeout first: switching to WAL needs a lock that a
                            // second process opening the file at the same time may hold.
                            conn.execute("PRAGMA busy_timeout = 10000").await?;
                            conn.execute("PRAGMA journal_mode = WAL").await?;
                            conn.execute("PRAGMA synchronous = NORMAL").await?;
                            conn.execute("PRAGMA foreign_keys = ON").await?;
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await?
            }
            Backend::Postgres => {
                pool_options
                    .max_connections(16)
                    .connect_with(options)
                    .await?
            }
        };
        Ok(Self {
            pool,
            backend,
            sqlite_writer: Arc::new(Mutex::new(())),
            location,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A connection for reads outside a transaction.
    pub async fn read(&self) -> StoreResult<sqlx::pool::PoolConnection<Any>> {
        Ok(self.pool.acquire().await?)
    }

    /// Starts a write transaction; on SQLite it first waits for the other writers.
    ///
    /// SQLite's write transactions begin IMMEDIATE: a deferred one reads a snapshot first and,
    /// when another process (a second `alm serve` on the same file, `alm db` commands) commits
    /// before its first write, fails at once with "database is locked" whatever the busy
    /// timeout (the snapshot cannot be upgraded). Taking the write lock at BEGIN waits for the
    /// other writer instead (busy timeout) and then reads current data. The in-process mutex
    /// still keeps this process's writers from queueing inside SQLite.
    ///
    /// The begin runs in a task of its own, so it always finishes: a request handler is
    /// dropped when its client goes away, and sqlx's SQLite driver, dropped between its
    /// `BEGIN IMMEDIATE` and the transaction object existing, leaves the pooled connection
    /// inside a transaction holding the file's write lock: the next write handed that
    /// connection failed at once, every other one waited out the busy timeout and failed with
    /// "database is locked". Dropping the join handle lets the task finish; the transaction it
    /// then hands to nobody rolls back as it drops.
    pub async fn begin_write(&self) -> StoreResult<WriteTx> {
        let pool = self.pool.clone();
        let backend = self.backend;
        let writers = self.sqlite_writer.clone();
        let begin = tokio::spawn(async move {
            let (guard, tx) = match backend {
                Backend::Sqlite => {
                    let guard = writers.lock_owned().await;
                    (Some(guard), pool.begin_with("BEGIN IMMEDIATE").await?)
                }
                Backend::Postgres => (None, pool.begin().await?),
            };
            StoreResult::Ok(WriteTx {
                tx,
                backend,
                _writer: guard,
            })
        });
        match begin.await {
            Ok(began) => began,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // Only a runtime shutting down cancels the task: the pool goes with it.
            Err(_) => Err(StoreError::Database(sqlx::Error::PoolClosed)),
        }
    }

    /// True when the database answers a trivial query (for `/readyz`).
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    /// Where the data is, for people: the SQLite file, or the PostgreSQL URL without password.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Writes (and commits) one row: whether storage takes writes now.
    pub async fn probe_write(&self, at: time::OffsetDateTime) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE readiness_probe SET checked_at = $1 WHERE id = 1")
            .bind(crate::time_codec::to_db(at))
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A write transaction. Dropping it without [`WriteTx::commit`] rolls everything back.
pub struct WriteTx {
    // Field order matters: the transaction is dropped (rolled back) before the SQLite writer
    // lock is released.
    tx: sqlx::Transaction<'static, Any>,
    backend: Backend,
    _writer: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub async fn commit(self) -> StoreResult<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

impl Deref for WriteTx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.tx
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }
}

/// The file of a SQLite URL; `None` for PostgreSQL and in-memory databases.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    if Backend::from_url(url).ok()? != Backend::Sqlite
        || url.contains(":memory:")
        || url.contains("mode=memory")
    {
        return None;
    }
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url).ok()?;
    Some(options.get_filename().to_owned())
}

/// Makes the database file private before SQLite opens it: created 0600 when it is new
/// (SQLite gives its `-wal` and `-shm` files the database file's mode), and the files of an
/// older alm (created 0644) tightened to 0600.
fn prepare_sqlite_file(file: &Path, create: bool) -> StoreResult<()> {
    if create && file.parent().is_some_and(Path::exists) {
        match files::create_private_file(file) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(source) => {
                return Err(StoreError::File {
                    path: file.to_owned(),
                    source,
                })
            }
        }
    }
    for f in files::sqlite_files(file) {
        match files::make_private(&f) {
            Ok(true) => {
                tracing::info!(file = %f.display(), "made the database file private (mode 600)")
            }
            Ok(false) => {}
            // Not the owner: alm still works, but says so, since others may read the file.
            Err(e) => {
                tracing::warn!(file = %f.display(), error = %e, "cannot make the database file private (mode 600)")
            }
        }
    }
    Ok(())
}

/// Removes a password from a URL before it reaches an error message.
pub fn redact(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("****"));
            u.to_string()
        }
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_comes_from_the_scheme_and_unknown_schemes_are_named() {
        assert_eq!(
            Backend::from_url("sqlite:///tmp/a.db").unwrap(),
            Backend::Sqlite
        );
        assert_eq!(
            Backend::from_url("postgresql://u@h/db").unwrap(),
            Backend::Postgres
        );
        let err = Backend::from_url("mysql://u@h/db").unwrap_err().to_string();
        assert!(
            err.contains("\"mysql\"") && err.contains("database.url"),
            "{err}"
        );
        assert!(Backend::from_url("alm.db").is_err());
    }

    #[test]
    fn the_sqlite_file_is_read_from_the_url() {
        assert_eq!(
            sqlite_file("sqlite:///var/lib/alm/alm.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/alm/alm.db"))
        );
        assert_eq!(
            sqlite_file("sqlite://alm.db"),
            Some(PathBuf::from("alm.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://a@b/c"), None);
    }

    #[test]
    fn redact_hides_url_passwords() {
        assert_eq!(
            redact("postgres://alm:s3cret@db:5432/alm"),
            "postgres://alm:****@db:5432/alm"
        );
        assert_eq!(redact("no url here"), "no url here");
    }
}

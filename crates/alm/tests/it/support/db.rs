//! A fresh, empty database per test: a temporary SQLite file, or a new database on the
//! PostgreSQL server named by `ALMTEST_PG_URL`.

use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestDb {
    pub url: String,
    /// A directory private to this test (the SQLite file lives here; servers use it as data_dir).
    pub dir: PathBuf,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn temp_dir(label: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("alm-it-{label}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// The PostgreSQL admin URL, or a panic that says how to get one.
pub fn pg_admin_url() -> String {
    std::env::var("ALMTEST_PG_URL").unwrap_or_else(|_| {
        panic!(
            "ALMTEST_PG_URL is not set: PostgreSQL tests need a server. Run the tests with \
             `bash scripts/test.sh`, which starts one, or export ALMTEST_PG_URL=postgres://user@host:port/postgres"
        )
    })
}

impl TestDb {
    pub async fn new(backend: Backend) -> Self {
        let dir = temp_dir("db");
        let url = match backend {
            Backend::Sqlite => format!("sqlite://{}", dir.join("alm.db").display()),
            Backend::Postgres => {
                let admin = pg_admin_url();
                let name = format!("alm_t_{}", uuid::Uuid::new_v4().simple());
                sqlx::any::install_default_drivers();
                let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
                    .await
                    .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at ALMTEST_PG_URL: {e}"));
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .expect("create database");
                let mut u = url::Url::parse(&admin).expect("ALMTEST_PG_URL is a URL");
                u.set_path(&format!("/{name}"));
                u.to_string()
            }
        };
        Self { url, dir }
    }
}

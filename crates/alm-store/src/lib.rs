//! alm-store: everything alm keeps, on SQLite (the default) or PostgreSQL, through one code
//! path (sqlx's `Any` driver, chosen at run time from the URL scheme).
//!
//! The only crate with SQL in it. Portable SQL everywhere; what must differ per backend lives
//! in [`dialect`]. Instants are stored as BIGINT microseconds since the Unix epoch (UTC) and
//! booleans as 0/1, the two forms both backends read back identically through `Any`.

pub mod accounts;
pub mod anonymous_denials;
pub mod api_clients;
pub mod api_tokens;
pub mod audit_log;
pub mod backup;
pub mod crypto;
pub mod db;
pub mod dependencies;
pub mod dialect;
pub mod directory_sync;
pub mod discovery;
pub mod domains;
pub mod engines;
pub mod error;
pub mod files;
pub mod groups;
pub mod instance_lock;
pub mod integrations;
pub mod jobs;
pub mod key_backup;
pub mod key_check;
pub mod leader;
pub mod login_throttle;
pub mod migrations;
pub mod notifications;
pub mod oidc_logins;
pub mod outbox_queue;
pub mod permissions;
pub mod privacy;
pub mod requests;
pub mod roles;
pub mod sessions;
pub mod templates;
pub mod time_codec;
pub mod usage;
pub mod users;
pub mod vaults;

pub use db::{Backend, Db, WriteTx};
pub use error::StoreError;
/// A connection or transaction, as the repository functions take it.
pub use sqlx::AnyConnection as Conn;

/// `$start, $start+1, …` for an `IN (…)` list of `n` values.
pub(crate) fn in_list(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `ORDER BY column dir, tiebreak dir LIMIT $n+1 OFFSET $n+2` for a page, `column` from an allow-list.
pub(crate) fn order_by(
    column: &str,
    tiebreak: &str,
    page: &alm_core::paging::PageRequest,
    binds_before: usize,
) -> String {
    let dir = match page.direction {
        alm_core::paging::SortDirection::Ascending => "ASC",
        alm_core::paging::SortDirection::Descending => "DESC",
    };
    format!(
        "ORDER BY {column} {dir}, {tiebreak} {dir} LIMIT ${} OFFSET ${}",
        binds_before + 1,
        binds_before + 2
    )
}

/// One page of rows and how many rows match over all pages: `SELECT COUNT(*) {from_where}`
/// and `SELECT {columns} {from_where} ORDER BY {column} …, {tiebreak} … LIMIT … OFFSET …`, both
/// with `binds` as `$1…$n` (text values; numbers and flags the caller writes into the SQL
/// itself). `column` must come from the list's allow-list, never from input.
pub(crate) async fn fetch_page(
    conn: &mut sqlx::AnyConnection,
    columns: &str,
    from_where: &str,
    binds: &[String],
    (column, tiebreak): (&str, &str),
    page: &alm_core::paging::PageRequest,
) -> error::StoreResult<(Vec<sqlx::any::AnyRow>, u64)> {
    let count_sql = format!("SELECT COUNT(*) {from_where}");
    let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
    for b in binds {
        count = count.bind(b.clone());
    }
    let total = count.fetch_one(&mut *conn).await?;
    let sql = format!(
        "SELECT {columns} {from_where} {}",
        order_by(column, tiebreak, page, binds.len())
    );
    let mut q = sqlx::query(&sql);
    for b in binds {
        q = q.bind(b.clone());
    }
    let rows = q
        .bind(i64::from(page.limit))
        .bind(i64::try_from(page.offset).unwrap_or(i64::MAX))
        .fetch_all(&mut *conn)
        .await?;
    Ok((rows, u64::try_from(total).unwrap_or(0)))
}

//! Managed accounts and their owners (SPEC §2.7).

use crate::error::decode_state;
use crate::error::{StoreError, StoreResult};
use crate::time_codec::{from_db, to_db};
use alm_core::account_state::{DirectoryState, SecretState};
use alm_core::lifecycle::Status;
use alm_core::templates::{AccountType, EolAction, Interval};
use alm_core::{DomainId, GroupId, UserId, VaultId};
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    pub id: Uuid,
    pub domain_id: DomainId,
    pub name: String,
    pub dn: String,
    pub guid: String,
    pub account_type: AccountType,
    pub description: String,
    pub status: Status,
    pub template_id: Uuid,
    pub template_version: i64,
    pub request_id: Option<Uuid>,
    pub interval: Interval,
    pub eol_action: EolAction,
    pub lifecycle_start: OffsetDateTime,
    pub eol_at: OffsetDateTime,
    pub vault_id: VaultId,
    pub secret_ref: String,
    /// As the last domain sync saw the account's object.
    pub directory_state: DirectoryState,
    /// As the last vault sync saw the secret.
    pub secret_state: SecretState,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// The status a denied renewal goes back to.
    pub status_before: Option<Status>,
    /// A failure indicator shown with the status (e.g. "disable failed: …").
    pub problem: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    User(UserId),
    Group(GroupId),
}

const COLUMNS: &str = "id, domain_id, name, dn, guid, account_type, description, status, template_id, \
    template_version, request_id, interval, eol_action, lifecycle_start, eol_at, vault_id, secret_ref, \
    created_at, updated_at, directory_state, secret_state, status_before, problem";

const TABLE: &str = "managed_accounts";

fn parse<T: std::str::FromStr>(text: String, what: &str) -> StoreResult<T> {
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("{what} {text:?}")))
}

fn decode(row: &sqlx::any::AnyRow) -> StoreResult<AccountRecord> {
    let request: Option<String> = row.try_get("request_id")?;
    let id: String = row.try_get("id")?;
    let state = |column: &str| -> StoreResult<String> { Ok(row.try_get(column)?) };
    let interval: String = row.try_get("interval")?;
    let status_before: Option<String> = row.try_get("status_before")?;
    Ok(AccountRecord {
        account_type: decode_state(
            state("account_type")?,
            TABLE,
            "account_type",
            &id,
            AccountType::parse,
        )?,
        status: decode_state(state("status")?, TABLE, "status", &id, Status::parse)?,
        interval: decode_state(interval, TABLE, "interval", &id, |t| t.parse().ok())?,
        eol_action: decode_state(
            state("eol_action")?,
            TABLE,
            "eol_action",
            &id,
            EolAction::parse,
        )?,
        directory_state: decode_state(
            state("directory_state")?,
            TABLE,
            "directory_state",
            &id,
            DirectoryState::parse,
        )?,
        secret_state: decode_state(
            state("secret_state")?,
            TABLE,
            "secret_state",
            &id,
            SecretState::parse,
        )?,
        status_before: status_before
            .map(|t| decode_state(t, TABLE, "status_before", &id, Status::parse))
            .transpose()?,
        id: parse(id.clone(), "account id")?,
        domain_id: parse(row.try_get("domain_id")?, "domain id")?,
        name: row.try_get("name")?,
        dn: row.try_get("dn")?,
        guid: row.try_get("guid")?,
        description: row.try_get("description")?,
        template_id: parse(row.try_get("template_id")?, "template id")?,
        template_version: row.try_get("template_version")?,
        request_id: request.map(|r| parse(r, "request id")).transpose()?,
        lifecycle_start: from_db(row.try_get("lifecycle_start")?)?,
        eol_at: from_db(row.try_get("eol_at")?)?,
        vault_id: parse(row.try_get("vault_id")?, "vault id")?,
        secret_ref: row.try_get("secret_ref")?,
        created_at: from_db(row.try_get("created_at")?)?,
        updated_at: from_db(row.try_get("updated_at")?)?,
        problem: row.try_get("problem")?,
    })
}

pub async fn insert(conn: &mut AnyConnection, a: &AccountRecord) -> StoreResult<()> {
    sqlx::query(&format!(
        "INSERT INTO managed_accounts ({COLUMNS}, name_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
         $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)"
    ))
    .bind(a.id.to_string())
    .bind(a.domain_id.to_string())
    .bind(&a.name)
    .bind(&a.dn)
    .bind(&a.guid)
    .bind(a.account_type.as_str())
    .bind(&a.description)
    .bind(a.status.as_str())
    .bind(a.template_id.to_string())
    .bind(a.template_version)
    .bind(a.request_id.map(|r| r.to_string()))
    .bind(a.interval.to_string())
    .bind(a.eol_action.as_str())
    .bind(to_db(a.lifecycle_start))
    .bind(to_db(a.eol_at))
    .bind(a.vault_id.to_string())
    .bind(&a.secret_ref)
    .bind(to_db(a.created_at))
    .bind(to_db(a.updated_at))
    .bind(a.directory_state.as_str())
    .bind(a.secret_state.as_str())
    .bind(a.status_before.map(Status::as_str))
    .bind(&a.problem)
    .bind(a.name.to_lowercase())
    .execute(&mut *conn)
    .await
    .map_err(|e| crate::users::conflict_or(e, "a managed account with this name on this domain"))?;
    Ok(())
}

/// What a page of managed accounts is narrowed to (SPEC §2.7 views); `None`s do not narrow.
#[derive(Debug, Clone, Default)]
pub struct AccountFilter {
    /// The caller's own scope: accounts owned by the user directly or through these groups.
    pub visible_to: Option<(UserId, Vec<GroupId>)>,
    pub status: Option<Status>,
    pub template: Option<Uuid>,
    pub domain: Option<DomainId>,
    /// Accounts this user owns directly.
    pub owner: Option<UserId>,
    /// EOL window: `eol_from <= eol_at < eol_to`.
    pub eol_from: Option<OffsetDateTime>,
    pub eol_to: Option<OffsetDateTime>,
    /// Part of the name, case-insensitive.
    pub query: Option<String>,
    /// Only accounts without an enabled owner.
    pub orphaned: bool,
}

/// The sort keys of [`page`].
pub const SORT_KEYS: &[&str] = &["name", "eol_at", "created_at", "status"];

enum Bind {
    Text(String),
    Int(i64),
}

/// Adds a bind value; returns its `$n`.
fn bind(b: Bind, binds: &mut Vec<Bind>) -> usize {
    binds.push(b);
    binds.len()
}

/// The WHERE clause of `filter` and its bind values, in order.
fn filtered(filter: &AccountFilter) -> (String, Vec<Bind>) {
    let mut conditions: Vec<String> = Vec::new();
    let mut binds: Vec<Bind> = Vec::new();
    if let Some((user, groups)) = &filter.visible_to {
        let u = bind(Bind::Text(user.to_string()), &mut binds);
        let mut clause = format!("(o.owner_type = 'user' AND o.owner_id = ${u})");
        if !groups.is_empty() {
            let list: Vec<String> = groups
                .iter()
                .map(|g| format!("${}", bind(Bind::Text(g.to_string()), &mut binds)))
                .collect();
            clause = format!(
                "{clause} OR (o.owner_type = 'group' AND o.owner_id IN ({}))",
                list.join(", ")
            );
        }
        conditions.push(format!(
            "a.id IN (SELECT o.account_id FROM account_owners o WHERE {clause})"
        ));
    }
    if let Some(owner) = filter.owner {
        let n = bind(Bind::Text(owner.to_string()), &mut binds);
        conditions.push(format!(
            "a.id IN (SELECT o3.account_id FROM account_owners o3 WHERE o3.owner_type = 'user' AND o3.owner_id = ${n})"
        ));
    }
    if let Some(status) = &filter.status {
        let n = bind(Bind::Text(status.as_str().to_owned()), &mut binds);
        conditions.push(format!("a.status = ${n}"));
    }
    if let Some(t) = filter.template {
        let n = bind(Bind::Text(t.to_string()), &mut binds);
        conditions.push(format!("a.template_id = ${n}"));
    }
    if let Some(d) = filter.domain {
        let n = bind(Bind::Text(d.to_string()), &mut binds);
        conditions.push(format!("a.domain_id = ${n}"));
    }
    if let Some(from) = filter.eol_from {
        let n = bind(Bind::Int(to_db(from)), &mut binds);
        conditions.push(format!("a.eol_at >= ${n}"));
    }
    if let Some(to) = filter.eol_to {
        let n = bind(Bind::Int(to_db(to)), &mut binds);
        conditions.push(format!("a.eol_at < ${n}"));
    }
    if let Some(q) = &filter.query {
        let n = bind(Bind::Text(crate::users::like_pattern(q)), &mut binds);
        conditions.push(format!("a.name_key LIKE ${n} ESCAPE '\\'"));
    }
    if filter.orphaned {
        conditions.push(format!("a.status <> 'deleted' AND NOT {ENABLED_OWNER}"));
    }
    let where_clause = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    (where_clause, binds)
}

/// How many managed accounts match `filter` (the dashboard's counts, with the list's own
/// filter, so a count and the list it links to agree).
pub async fn count(conn: &mut AnyConnection, filter: &AccountFilter) -> StoreResult<u64> {
    let (where_clause, binds) = filtered(filter);
    let sql = format!("SELECT COUNT(*) FROM managed_accounts a {where_clause}");
    let mut count = sqlx::query_scalar::<_, i64>(&sql);
    for b in &binds {
        count = match b {
            Bind::Text(t) => count.bind(t.clone()),
            Bind::Int(i) => count.bind(*i),
        };
    }
    Ok(count.fetch_one(&mut *conn).await? as u64)
}

/// How many managed accounts match `filter` in each status (statuses without one left out):
/// one pass over the matching accounts instead of one count per status. (An index on the
/// status would serve this, but SQLite, without statistics, then prefers it to the sweep's
/// partial index and scans every active account: `bench/lifecycle.sh` caught it.)
pub async fn count_by_status(
    conn: &mut AnyConnection,
    filter: &AccountFilter,
) -> StoreResult<Vec<(Status, u64)>> {
    let (where_clause, binds) = filtered(filter);
    let sql = format!(
        "SELECT a.status, COUNT(*) AS n FROM managed_accounts a {where_clause} GROUP BY a.status"
    );
    let mut q = sqlx::query(&sql);
    for b in &binds {
        q = match b {
            Bind::Text(t) => q.bind(t.clone()),
            Bind::Int(i) => q.bind(*i),
        };
    }
    q.fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| {
            let status: String = row.try_get("status")?;
            let n: i64 = row.try_get("n")?;
            Ok((
                decode_state(
                    status,
                    "managed_accounts",
                    "status",
                    "(a count by status)",
                    Status::parse,
                )?,
                n as u64,
            ))
        })
        .collect()
}

/// One page of managed accounts and how many match in all.
pub async fn page(
    conn: &mut AnyConnection,
    filter: &AccountFilter,
    page: &alm_core::paging::PageRequest,
) -> StoreResult<(Vec<AccountRecord>, u64)> {
    let (where_clause, binds) = filtered(filter);
    let total = count(conn, filter).await?;
    let column = match page.sort {
        "eol_at" => "a.eol_at",
        "created_at" => "a.created_at",
        "status" => "a.status",
        _ => "a.name_key",
    };
    let cols = COLUMNS
        .split(", ")
        .map(|c| format!("a.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT {cols} FROM managed_accounts a {where_clause} {}",
        crate::order_by(column, "a.id", page, binds.len())
    );
    let mut q = sqlx::query(&sql);
    for b in &binds {
        q = match b {
            Bind::Text(t) => q.bind(t.clone()),
            Bind::Int(i) => q.bind(*i),
        };
    }
    let rows = q
        .bind(i64::from(page.limit))
        .bind(page.offset as i64)
        .fetch_all(&mut *conn)
        .await?;
    let items = rows.iter().map(decode).collect::<StoreResult<Vec<_>>>()?;
    Ok((items, total))
}

pub async fn get(conn: &mut AnyConnection, id: Uuid) -> StoreResult<Option<AccountRecord>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM managed_accounts WHERE id = $1"
    ))
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await?
    .as_ref()
    .map(decode)
    .transpose()
}

/// Accounts, by name: all, or those owned by the user directly or through one of `groups`.
pub async fn list(
    conn: &mut AnyConnection,
    owned_by: Option<(UserId, &[GroupId])>,
) -> StoreResult<Vec<AccountRecord>> {
    let rows = match owned_by {
        None => {
            sqlx::query(&format!(
                "SELECT {COLUMNS} FROM managed_accounts ORDER BY name_key, id"
            ))
            .fetch_all(&mut *conn)
            .await?
        }
        Some((user, groups)) => {
            let placeholders = crate::in_list(2, groups.len());
            let group_clause = if groups.is_empty() {
                String::new()
            } else {
                format!(" OR (o.owner_type = 'group' AND o.owner_id IN ({placeholders}))")
            };
            let sql = format!(
                "SELECT {COLUMNS} FROM managed_accounts WHERE id IN (SELECT o.account_id FROM account_owners o \
                 WHERE (o.owner_type = 'user' AND o.owner_id = $1){group_clause}) ORDER BY name_key, id"
            );
            let mut q = sqlx::query(&sql).bind(user.to_string());
            for g in groups {
                q = q.bind(g.to_string());
            }
            q.fetch_all(&mut *conn).await?
        }
    };
    rows.iter().map(decode).collect()
}

/// Whether a live (not deleted) account has the name on the domain.
/// How many accounts on the domain alm still manages (any status but `deleted`).
pub async fn live_on_domain(conn: &mut AnyConnection, domain: DomainId) -> StoreResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM managed_accounts WHERE domain_id = $1 AND status <> 'deleted'",
    )
    .bind(domain.to_string())
    .fetch_one(&mut *conn)
    .await?)
}

pub async fn name_in_use(
    conn: &mut AnyConnection,
    domain: DomainId,
    name: &str,
) -> StoreResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM managed_accounts WHERE domain_id = $1 AND name_key = $2 AND status <> 'deleted'",
    )
    .bind(domain.to_string())
    .bind(name.to_lowercase())
    .fetch_one(&mut *conn)
    .await?;
    Ok(n > 0)
}

pub async fn add_owner(
    conn: &mut AnyConnection,
    account: Uuid,
    owner: Owner,
    at: OffsetDateTime,
) -> StoreResult<()> {
    let (kind, id) = match owner {
        Owner::User(u) => ("user", u.to_string()),
        Owner::Group(g) => ("group", g.to_string()),
    };
    let next: i64 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(position), 0) + 1 FROM account_owners WHERE account_id = $1",
    )
    .bind(account.to_string())
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO account_owners (account_id, owner_type, owner_id, position, added_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(account.to_string())
    .bind(kind)
    .bind(id)
    .bind(next)
    .bind(to_db(at))
    .execute(&mut *conn)
    .await
    .map_err(|e| crate::users::conflict_or(e, "this owner"))?;
    Ok(())
}

/// Owners in the order they were added.
pub async fn owners(conn: &mut AnyConnection, account: Uuid) -> StoreResult<Vec<Owner>> {
    sqlx::query(
        "SELECT owner_type, owner_id FROM account_owners WHERE account_id = $1 ORDER BY position",
    )
    .bind(account.to_string())
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        let kind: String = r.try_get("owner_type")?;
        let id: String = r.try_get("owner_id")?;
        Ok(match kind.as_str() {
            "group" => Owner::Group(parse(id, "group id")?),
            _ => Owner::User(parse(id, "user id")?),
        })
    })
    .collect()
}

/// The owners of several accounts in one statement (a page's), each account's in the order
/// they were added; an account without owners has no entry.
pub async fn owners_of(
    conn: &mut AnyConnection,
    ids: &[Uuid],
) -> StoreResult<std::collections::HashMap<Uuid, Vec<Owner>>> {
    let mut out: std::collections::HashMap<Uuid, Vec<Owner>> = std::collections::HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let sql = format!(
        "SELECT account_id, owner_type, owner_id FROM account_owners WHERE account_id IN ({}) \
         ORDER BY account_id, position",
        crate::in_list(1, ids.len())
    );
    let mut q = sqlx::query(&sql);
    for id in ids {
        q = q.bind(id.to_string());
    }
    for r in q.fetch_all(&mut *conn).await? {
        let account: Uuid = parse(r.try_get("account_id")?, "account id")?;
        let kind: String = r.try_get("owner_type")?;
        let id: String = r.try_get("owner_id")?;
        out.entry(account).or_default().push(match kind.as_str() {
            "group" => Owner::Group(parse(id, "group id")?),
            _ => Owner::User(parse(id, "user id")?),
        });
    }
    Ok(out)
}

/// An owner counts while enabled: a user who is enabled, or an enabled group with at least
/// one enabled member.
const ENABLED_OWNER: &str = "EXISTS (SELECT 1 FROM account_owners o2 \
    LEFT JOIN users u ON o2.owner_type = 'user' AND u.id = o2.owner_id \
    LEFT JOIN alm_groups g ON o2.owner_type = 'group' AND g.id = o2.owner_id \
    WHERE o2.account_id = a.id AND ((o2.owner_type = 'user' AND u.enabled = 1) \
      OR (o2.owner_type = 'group' AND g.enabled = 1 AND EXISTS (SELECT 1 FROM group_members m \
          JOIN users u2 ON u2.id = m.user_id WHERE m.group_id = g.id AND u2.enabled = 1))))";

/// Live accounts with no enabled owner left (SPEC §2.7 orphans), optionally only those that
/// `owner` owns — a user directly or through a group they are a member of, since a group
/// owner counts only while it has an enabled member (so disabling its last one can orphan).
pub async fn orphaned(
    conn: &mut AnyConnection,
    owner: Option<Owner>,
) -> StoreResult<Vec<AccountRecord>> {
    let cols = COLUMNS
        .split(", ")
        .map(|c| format!("a.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let rows = match owner {
        None => {
            sqlx::query(&format!(
                "SELECT {cols} FROM managed_accounts a WHERE a.status <> 'deleted' AND NOT {ENABLED_OWNER} \
                 ORDER BY a.name_key, a.id"
            ))
            .fetch_all(&mut *conn)
            .await?
        }
        Some(Owner::User(u)) => {
            sqlx::query(&format!(
                "SELECT {cols} FROM managed_accounts a WHERE a.status <> 'deleted' AND NOT {ENABLED_OWNER} \
                 AND EXISTS (SELECT 1 FROM account_owners o WHERE o.account_id = a.id \
                   AND ((o.owner_type = 'user' AND o.owner_id = $1) \
                     OR (o.owner_type = 'group' AND EXISTS (SELECT 1 FROM group_members m \
                       WHERE m.group_id = o.owner_id AND m.user_id = $2)))) \
                 ORDER BY a.name_key, a.id"
            ))
            .bind(u.to_string())
            .bind(u.to_string())
            .fetch_all(&mut *conn)
            .await?
        }
        Some(Owner::Group(g)) => {
            sqlx::query(&format!(
                "SELECT {cols} FROM managed_accounts a JOIN account_owners o ON o.account_id = a.id \
                 WHERE o.owner_type = 'group' AND o.owner_id = $1 AND a.status <> 'deleted' AND NOT {ENABLED_OWNER} \
                 ORDER BY a.name_key, a.id"
            ))
            .bind(g.to_string())
            .fetch_all(&mut *conn)
            .await?
        }
    };
    rows.iter().map(decode).collect()
}

pub async fn remove_owner(
    conn: &mut AnyConnection,
    account: Uuid,
    owner: Owner,
) -> StoreResult<bool> {
    let (kind, id) = match owner {
        Owner::User(u) => ("user", u.to_string()),
        Owner::Group(g) => ("group", g.to_string()),
    };
    let done = sqlx::query(
        "DELETE FROM account_owners WHERE account_id = $1 AND owner_type = $2 AND owner_id = $3",
    )
    .bind(account.to_string())
    .bind(kind)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// How many accounts an owner owns.
pub async fn owned_count(conn: &mut AnyConnection, owner: Owner) -> StoreResult<i64> {
    let (kind, id) = match owner {
        Owner::User(u) => ("user", u.to_string()),
        Owner::Group(g) => ("group", g.to_string()),
    };
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM account_owners WHERE owner_type = $1 AND owner_id = $2",
    )
    .bind(kind)
    .bind(id)
    .fetch_one(&mut *conn)
    .await?)
}

/// A managed account whose directory state changed at a sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryChange {
    pub id: Uuid,
    pub name: String,
    pub before: DirectoryState,
    pub after: DirectoryState,
    pub old_dn: String,
    pub new_dn: String,
}

/// Compares the domain's live managed accounts with the objects its sync stored (by
/// objectGUID) and records each one's directory state as the core's rule decides it
/// (`alm_core::account_state::directory_state_after_sync`); a moved object updates the DN.
/// Returns what changed.
pub async fn reconcile_directory(
    conn: &mut AnyConnection,
    domain: DomainId,
    at: OffsetDateTime,
) -> StoreResult<Vec<DirectoryChange>> {
    let rows = sqlx::query(
        "SELECT a.id, a.name, a.status, a.dn, a.directory_state, o.dn AS object_dn, o.enabled AS object_enabled \
         FROM managed_accounts a LEFT JOIN directory_objects o ON o.domain_id = a.domain_id AND o.guid = a.guid \
         WHERE a.domain_id = $1 AND a.status <> 'deleted'",
    )
    .bind(domain.to_string())
    .fetch_all(&mut *conn)
    .await?;
    let mut changes = Vec::new();
    for r in &rows {
        let object_dn: Option<String> = r.try_get("object_dn")?;
        let object_enabled: Option<i64> = r.try_get("object_enabled")?;
        let id: String = r.try_get("id")?;
        let status = decode_state(r.try_get("status")?, TABLE, "status", &id, Status::parse)?;
        let before = decode_state(
            r.try_get("directory_state")?,
            TABLE,
            "directory_state",
            &id,
            DirectoryState::parse,
        )?;
        let old_dn: String = r.try_get("dn")?;
        // The join leaves `enabled` NULL when no object has the account's objectGUID.
        let object = object_dn.as_ref().map(|_| object_enabled != Some(0));
        let after = alm_core::account_state::directory_state_after_sync(object, status);
        let new_dn = object_dn.clone().unwrap_or_else(|| old_dn.clone());
        if before != after || new_dn != old_dn {
            sqlx::query(
                "UPDATE managed_accounts SET directory_state = $1, dn = $2, directory_checked_at = $3 WHERE id = $4",
            )
            .bind(after.as_str())
            .bind(&new_dn)
            .bind(to_db(at))
            .bind(&id)
            .execute(&mut *conn)
            .await?;
            changes.push(DirectoryChange {
                id: parse(id, "account id")?,
                name: r.try_get("name")?,
                before,
                after,
                old_dn,
                new_dn,
            });
        }
    }
    Ok(changes)
}

/// The live accounts whose secret is in `vault`.
pub async fn in_vault(conn: &mut AnyConnection, vault: VaultId) -> StoreResult<Vec<AccountRecord>> {
    // A gMSA has no secret (the directory manages its password): its reference is empty.
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM managed_accounts WHERE vault_id = $1 AND status <> 'deleted' AND secret_ref <> '' ORDER BY name_key, id"
    ))
    .bind(vault.to_string())
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(decode)
    .collect()
}

pub async fn set_secret_state(
    conn: &mut AnyConnection,
    id: Uuid,
    state: SecretState,
) -> StoreResult<()> {
    sqlx::query("UPDATE managed_accounts SET secret_state = $1 WHERE id = $2")
        .bind(state.as_str())
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Whether `user` owns the account, directly or through one of `groups`.
pub async fn is_owner(
    conn: &mut AnyConnection,
    account: Uuid,
    user: UserId,
    groups: &[GroupId],
) -> StoreResult<bool> {
    let group_clause = if groups.is_empty() {
        String::new()
    } else {
        format!(
            " OR (owner_type = 'group' AND owner_id IN ({}))",
            crate::in_list(3, groups.len())
        )
    };
    let sql = format!(
        "SELECT COUNT(*) FROM account_owners WHERE account_id = $1 \
         AND ((owner_type = 'user' AND owner_id = $2){group_clause})"
    );
    let mut q = sqlx::query_scalar(&sql)
        .bind(account.to_string())
        .bind(user.to_string());
    for g in groups {
        q = q.bind(g.to_string());
    }
    let n: i64 = q.fetch_one(&mut *conn).await?;
    Ok(n > 0)
}

/// Writes the fields the lifecycle changes (status, EOL, DN after a move, failure indicator,
/// the status a denied renewal restores).
pub async fn update_lifecycle(conn: &mut AnyConnection, a: &AccountRecord) -> StoreResult<()> {
    sqlx::query(
        "UPDATE managed_accounts SET status = $1, eol_at = $2, dn = $3, status_before = $4, problem = $5, \
         updated_at = $6, interval = $7, template_id = $8, template_version = $9, secret_ref = $10 WHERE id = $11",
    )
    .bind(a.status.as_str())
    .bind(to_db(a.eol_at))
    .bind(&a.dn)
    .bind(a.status_before.map(Status::as_str))
    .bind(&a.problem)
    .bind(to_db(a.updated_at))
    .bind(a.interval.to_string())
    .bind(a.template_id.to_string())
    .bind(a.template_version)
    .bind(&a.secret_ref)
    .bind(a.id.to_string())
    .execute(&mut *conn)
    .await?;
    // A deleted account frees its name: the request that made it stops holding it (§2.5).
    if a.status == Status::Deleted {
        if let Some(request) = a.request_id {
            sqlx::query(
                "UPDATE requests SET name_released_at = $1 WHERE id = $2 AND name_released_at IS NULL",
            )
            .bind(to_db(a.updated_at))
            .bind(request.to_string())
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

/// Active accounts whose EOL instant has come, whose EOL action changes something and has not
/// run for this instant yet (see [`claim_eol`]), oldest first — through the partial index
/// `managed_accounts_eol_due` (the predicate is repeated word for word so SQLite's planner can
/// use it).
pub async fn eol_due(
    conn: &mut AnyConnection,
    now: OffsetDateTime,
    limit: u32,
) -> StoreResult<Vec<AccountRecord>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM managed_accounts WHERE status = 'active' AND eol_action <> 'review' \
         AND eol_at <= $1 AND (eol_done_at IS NULL OR eol_done_at <> eol_at) \
         ORDER BY eol_at LIMIT $2"
    ))
    .bind(to_db(now))
    .bind(i64::from(limit))
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(decode)
    .collect()
}

/// Claims the run of the account's EOL action for its current EOL instant (SPEC §4.2: at EOL,
/// once): true for the first caller, false when it has run for this instant already (the
/// owner may have enabled the account again since; a new `eol_at` arms it again).
pub async fn claim_eol(conn: &mut AnyConnection, id: Uuid) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE managed_accounts SET eol_done_at = eol_at \
         WHERE id = $1 AND (eol_done_at IS NULL OR eol_done_at <> eol_at)",
    )
    .bind(id.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Sets (or replaces) an account's renewal date and next reminder instant.
pub async fn set_schedule(
    conn: &mut AnyConnection,
    id: Uuid,
    renewal_at: OffsetDateTime,
    reminder_due_at: Option<OffsetDateTime>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO account_schedule (account_id, renewal_at, reminder_due_at) VALUES ($1, $2, $3) \
         ON CONFLICT (account_id) DO UPDATE SET renewal_at = excluded.renewal_at, reminder_due_at = excluded.reminder_due_at",
    )
    .bind(id.to_string())
    .bind(to_db(renewal_at))
    .bind(reminder_due_at.map(to_db))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// An account's renewal date, when it has a schedule.
pub async fn renewal_at(conn: &mut AnyConnection, id: Uuid) -> StoreResult<Option<OffsetDateTime>> {
    let at: Option<i64> =
        sqlx::query_scalar("SELECT renewal_at FROM account_schedule WHERE account_id = $1")
            .bind(id.to_string())
            .fetch_optional(&mut *conn)
            .await?;
    at.map(from_db).transpose()
}

/// The renewal dates of several accounts in one statement (those with a schedule).
pub async fn renewal_ats(
    conn: &mut AnyConnection,
    ids: &[Uuid],
) -> StoreResult<std::collections::HashMap<Uuid, OffsetDateTime>> {
    let mut out = std::collections::HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let sql = format!(
        "SELECT account_id, renewal_at FROM account_schedule WHERE account_id IN ({})",
        crate::in_list(1, ids.len())
    );
    let mut q = sqlx::query(&sql);
    for id in ids {
        q = q.bind(id.to_string());
    }
    for r in q.fetch_all(&mut *conn).await? {
        out.insert(
            parse(r.try_get("account_id")?, "account id")?,
            from_db(r.try_get("renewal_at")?)?,
        );
    }
    Ok(out)
}

/// Accounts with a reminder due at or before `now` (through the index on the due instant).
pub async fn reminders_due(
    conn: &mut AnyConnection,
    now: OffsetDateTime,
    limit: u32,
) -> StoreResult<Vec<Uuid>> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT account_id FROM account_schedule WHERE reminder_due_at <= $1 ORDER BY reminder_due_at LIMIT $2",
    )
    .bind(to_db(now))
    .bind(i64::from(limit))
    .fetch_all(&mut *conn)
    .await?;
    ids.into_iter().map(|i| parse(i, "account id")).collect()
}

/// Records that a reminder went out; false when this (account, kind, slot) was sent before.
pub async fn record_reminder(
    conn: &mut AnyConnection,
    id: Uuid,
    kind: &str,
    slot: i64,
    at: OffsetDateTime,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "INSERT INTO account_reminders (account_id, kind, slot, sent_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (account_id, kind, slot) DO NOTHING",
    )
    .bind(id.to_string())
    .bind(kind)
    .bind(slot)
    .bind(to_db(at))
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Changes the EOL action (an account migrated to a template with another one).
pub async fn set_eol_action(
    conn: &mut AnyConnection,
    id: Uuid,
    action: EolAction,
) -> StoreResult<()> {
    sqlx::query("UPDATE managed_accounts SET eol_action = $1 WHERE id = $2")
        .bind(action.as_str())
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Whether the account has at least one enabled owner (a user, or an enabled group with an
/// enabled member).
pub async fn has_enabled_owner(conn: &mut AnyConnection, id: Uuid) -> StoreResult<bool> {
    let n: i64 = sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM managed_accounts a WHERE a.id = $1 AND {ENABLED_OWNER}"
    ))
    .bind(id.to_string())
    .fetch_one(&mut *conn)
    .await?;
    Ok(n > 0)
}

/// Whether a live managed account already governs this directory object.
pub async fn guid_managed(
    conn: &mut AnyConnection,
    domain: DomainId,
    guid: &str,
) -> StoreResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM managed_accounts WHERE domain_id = $1 AND guid = $2 AND status <> 'deleted'",
    )
    .bind(domain.to_string())
    .bind(guid)
    .fetch_one(&mut *conn)
    .await?;
    Ok(n > 0)
}

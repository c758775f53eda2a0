//! Managed accounts (SPEC §2.7), reading: `managed-account:read` shows the accounts the caller
//! owns (directly or through one of their groups); with `manage`, every account.

use super::refusal::Refusal;
use super::{ServiceError, ServiceResult};
use alm_core::permissions::{perm, Can, Scope};
use alm_store::accounts::{self, AccountRecord, Owner};
use alm_store::{users, Conn, Db};
use std::collections::HashMap;
use uuid::Uuid;

/// An owner as whoever may read the account sees it: who it is and how to reach them (an
/// owner without `user:read` cannot look co-owners up otherwise).
#[derive(Debug, Clone)]
pub struct OwnerInfo {
    pub owner: Owner,
    /// The user's display name, or the group's name.
    pub display_name: String,
    /// The user's addresses (the primary first); none for a group.
    pub emails: Vec<String>,
    pub enabled: bool,
}

#[derive(Debug, Clone)]
pub struct AccountInfo {
    pub record: AccountRecord,
    /// The requester first.
    pub owners: Vec<OwnerInfo>,
    /// The renewal date (EOL minus the template's re-approval window).
    pub renewal_at: time::OffsetDateTime,
    /// What an owner can do now (SPEC §4.1).
    pub actions: Vec<alm_core::lifecycle::Action>,
    /// Where the account stands in §4.1's table: says why an action is not offered now.
    pub standing: alm_core::lifecycle::Standing,
}

/// The account as callers see it: with its owners and what can be done with it now.
async fn info(
    conn: &mut Conn,
    record: AccountRecord,
    owners: Vec<Owner>,
    now: time::OffsetDateTime,
) -> ServiceResult<AccountInfo> {
    let standing = super::lifecycle::standing(conn, &record).await?;
    let mut described = describe_owners(conn, [(record.id, owners)].into()).await?;
    Ok(AccountInfo {
        renewal_at: standing.renewal_at,
        actions: standing.available(now),
        owners: described.remove(&record.id).unwrap_or_default(),
        standing,
        record,
    })
}

/// Names and addresses for the owners of several accounts, with one read of the users and
/// one of the groups. An owner id without its user or group is a broken reference (owners
/// are never deleted while they own accounts): refused as corrupt, not shown as nobody.
async fn describe_owners(
    conn: &mut Conn,
    owners: HashMap<Uuid, Vec<Owner>>,
) -> ServiceResult<HashMap<Uuid, Vec<OwnerInfo>>> {
    let mut user_ids = Vec::new();
    let mut group_ids = Vec::new();
    for o in owners.values().flatten() {
        match o {
            Owner::User(u) => user_ids.push(*u),
            Owner::Group(g) => group_ids.push(*g),
        }
    }
    user_ids.sort();
    user_ids.dedup();
    group_ids.sort();
    group_ids.dedup();
    let people: HashMap<_, _> = users::get_many(conn, &user_ids)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let groups: HashMap<_, _> = alm_store::groups::get_many(conn, &group_ids)
        .await?
        .into_iter()
        .map(|g| (g.id, g))
        .collect();
    let mut out = HashMap::with_capacity(owners.len());
    for (account, list) in owners {
        let mut described = Vec::with_capacity(list.len());
        for owner in list {
            let (display_name, emails, enabled) = match owner {
                Owner::User(u) => people
                    .get(&u)
                    .map(|p| (p.display_name.clone(), p.emails.clone(), p.enabled)),
                Owner::Group(g) => groups.get(&g).map(|x| (x.name.clone(), vec![], x.enabled)),
            }
            .ok_or_else(|| {
                ServiceError::Store(alm_store::StoreError::Corrupt(format!(
                    "account {account}: owner {} does not exist",
                    owner_id(owner)
                )))
            })?;
            described.push(OwnerInfo {
                owner,
                display_name,
                emails,
                enabled,
            });
        }
        out.insert(account, described);
    }
    Ok(out)
}

/// Whether the capability reaches the account: `manage`, or an owner (directly or through an
/// enabled group: a disabled one gives its members nothing, SPEC §2.2).
pub(super) async fn reaches<P: alm_core::permissions::PermissionMarker>(
    conn: &mut Conn,
    can: &Can<P>,
    id: Uuid,
) -> ServiceResult<bool> {
    if can.scope() == Scope::All {
        return Ok(true);
    }
    let groups = users::enabled_group_ids(conn, can.actor()).await?;
    Ok(accounts::is_owner(conn, id, can.actor(), &groups).await?)
}

/// The answer for an account that exists outside the caller's reach: "not found", audited.
pub(super) fn hidden<P: alm_core::permissions::PermissionMarker>(
    can: &Can<P>,
    id: Uuid,
) -> ServiceError {
    ServiceError::out_of_scope("account", "account", can.actor(), id)
}

/// One page of the accounts the caller may read (own scope: owned directly or through a
/// group; `manage`: all), narrowed by `filter` (its `visible_to` is set here, never by callers).
pub async fn list(
    db: &Db,
    clock: &dyn alm_core::Clock,
    can: &Can<perm::AccountRead>,
    mut filter: accounts::AccountFilter,
    page: &alm_core::paging::PageRequest,
) -> ServiceResult<(Vec<AccountInfo>, u64)> {
    let mut conn = db.read().await?;
    filter.visible_to = match can.scope() {
        Scope::All => None,
        Scope::Own => Some((
            can.actor(),
            users::enabled_group_ids(&mut conn, can.actor()).await?,
        )),
    };
    described_page(&mut conn, clock, &filter, page).await
}

/// The accounts the caller owns, directly or through a group (their Home, SPEC §10) —
/// whatever else a `manage` right lets them see.
pub async fn mine(
    db: &Db,
    clock: &dyn alm_core::Clock,
    can: &Can<perm::AccountRead>,
    page: &alm_core::paging::PageRequest,
) -> ServiceResult<(Vec<AccountInfo>, u64)> {
    let mut conn = db.read().await?;
    let filter = accounts::AccountFilter {
        visible_to: Some((
            can.actor(),
            users::enabled_group_ids(&mut conn, can.actor()).await?,
        )),
        ..accounts::AccountFilter::default()
    };
    described_page(&mut conn, clock, &filter, page).await
}

/// One page of accounts with their owners, renewal dates and available actions.
async fn described_page(
    conn: &mut Conn,
    clock: &dyn alm_core::Clock,
    filter: &accounts::AccountFilter,
    page: &alm_core::paging::PageRequest,
) -> ServiceResult<(Vec<AccountInfo>, u64)> {
    let (records, total) = accounts::page(conn, filter, page).await?;
    // The page's owners and schedules in one statement each, not two per account.
    let ids: Vec<Uuid> = records.iter().map(|r| r.id).collect();
    let owners = accounts::owners_of(conn, &ids).await?;
    let mut owners = describe_owners(conn, owners).await?;
    let renewals = accounts::renewal_ats(conn, &ids).await?;
    let now = clock.now();
    let mut out = Vec::with_capacity(records.len());
    for record in records {
        let standing =
            super::lifecycle::standing_with(conn, &record, renewals.get(&record.id).copied())
                .await?;
        out.push(AccountInfo {
            renewal_at: standing.renewal_at,
            actions: standing.available(now),
            owners: owners.remove(&record.id).unwrap_or_default(),
            standing,
            record,
        });
    }
    Ok((out, total))
}

/// The account's history (SPEC §2.7): its audit records by time (the page says which way). Owners without
/// `manage` see who acted but not their email or address (other people's personal data);
/// the approval trail is on the request, where hidden approver names are enforced.
pub async fn history(
    db: &Db,
    can: &Can<perm::AccountRead>,
    id: Uuid,
    page: &alm_core::paging::PageRequest,
) -> ServiceResult<(Vec<alm_store::audit_log::AuditRecord>, u64)> {
    let mut conn = db.read().await?;
    if accounts::get(&mut conn, id).await?.is_none() {
        return Err(ServiceError::NotFound { what: "account" });
    }
    if !reaches(&mut conn, can, id).await? {
        return Err(hidden(can, id));
    }
    // What happened to the account, not who was refused a look at it (that is for auditors,
    // in the audit log).
    let filter = alm_store::audit_log::AuditFilter {
        object_type: Some("account".into()),
        object_id: Some(id.to_string()),
        not_outcome: Some(alm_store::audit_log::Outcome::Denied),
        ..Default::default()
    };
    let (mut records, total) = alm_store::audit_log::list(
        &mut conn,
        &filter,
        page.direction == alm_core::paging::SortDirection::Descending,
        page.limit,
        page.offset,
    )
    .await?;
    if can.scope() != Scope::All {
        for r in &mut records {
            r.personal.actor_email = None;
            r.personal.source_ip = None;
        }
    }
    Ok((records, total))
}

pub async fn get(
    db: &Db,
    clock: &dyn alm_core::Clock,
    can: &Can<perm::AccountRead>,
    id: Uuid,
) -> ServiceResult<AccountInfo> {
    let mut conn = db.read().await?;
    let record = accounts::get(&mut conn, id)
        .await?
        .ok_or(ServiceError::NotFound { what: "account" })?;
    if !reaches(&mut conn, can, id).await? {
        return Err(hidden(can, id));
    }
    let owners = accounts::owners(&mut conn, id).await?;
    info(&mut conn, record, owners, clock.now()).await
}

/// The names a reader sees beside an account's ids: its template, domain and vault.
#[derive(Debug, Clone)]
pub struct AccountLabels {
    pub template: String,
    pub domain: String,
    pub vault: String,
}

/// The labels of accounts the caller has read (through [`get`] or [`mine`]), by account id:
/// each template, domain and vault read once however many accounts share it. A missing one is
/// a broken reference, refused as corrupt rather than shown blank.
pub async fn labels(
    db: &Db,
    records: &[&AccountRecord],
) -> ServiceResult<HashMap<Uuid, AccountLabels>> {
    let mut conn = db.read().await?;
    let broken = |id: Uuid, what: &str| {
        ServiceError::Store(alm_store::StoreError::Corrupt(format!(
            "account {id}: its {what} does not exist"
        )))
    };
    let mut templates: HashMap<Uuid, String> = HashMap::new();
    let mut domains: HashMap<alm_core::DomainId, String> = HashMap::new();
    let mut vaults: HashMap<alm_core::VaultId, String> = HashMap::new();
    let mut out = HashMap::with_capacity(records.len());
    for r in records {
        if let std::collections::hash_map::Entry::Vacant(slot) = templates.entry(r.template_id) {
            let t = alm_store::templates::get(&mut conn, r.template_id)
                .await?
                .ok_or_else(|| broken(r.id, "template"))?;
            slot.insert(t.name);
        }
        if let std::collections::hash_map::Entry::Vacant(slot) = domains.entry(r.domain_id) {
            let d = alm_store::domains::get(&mut conn, r.domain_id)
                .await?
                .ok_or_else(|| broken(r.id, "domain"))?;
            slot.insert(d.name);
        }
        if let std::collections::hash_map::Entry::Vacant(slot) = vaults.entry(r.vault_id) {
            let v = alm_store::vaults::get(&mut conn, r.vault_id)
                .await?
                .ok_or_else(|| broken(r.id, "vault"))?;
            slot.insert(v.name);
        }
        out.insert(
            r.id,
            AccountLabels {
                template: templates[&r.template_id].clone(),
                domain: domains[&r.domain_id].clone(),
                vault: vaults[&r.vault_id].clone(),
            },
        );
    }
    Ok(out)
}

/// The labels of one account the caller has read.
pub async fn labels_of(db: &Db, record: &AccountRecord) -> ServiceResult<AccountLabels> {
    Ok(labels(db, &[record])
        .await?
        .remove(&record.id)
        .expect("one label per record"))
}

/// Refuses a change that leaves this account without an enabled owner (a migration that
/// removes owners).
pub(crate) async fn refuse_orphans_of(conn: &mut Conn, id: Uuid) -> ServiceResult<()> {
    if accounts::has_enabled_owner(conn, id).await? {
        return Ok(());
    }
    let name = accounts::get(conn, id)
        .await?
        .map(|a| a.name)
        .unwrap_or_default();
    Err(ServiceError::Refused(Refusal::Ownership(format!(
        "{name} would be left without an enabled owner; add one in the same migration"
    ))))
}

/// Refuses a change that would leave accounts of `owner` without an enabled owner (SPEC §2.7
/// orphan protection). Runs inside the change's transaction, after the change, so dropping the
/// transaction undoes it.
pub(crate) async fn refuse_orphans(conn: &mut Conn, owner: Owner, what: &str) -> ServiceResult<()> {
    let orphans = accounts::orphaned(conn, Some(owner)).await?;
    if orphans.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = orphans.iter().take(10).map(|a| a.name.as_str()).collect();
    Err(ServiceError::Refused(Refusal::Ownership(format!(
        "{what} is the last enabled owner of {} managed account(s) ({}); give them another owner first",
        orphans.len(),
        names.join(", ")
    ))))
}

fn owner_field(owner: Owner) -> &'static str {
    match owner {
        Owner::User(_) => "user_id",
        Owner::Group(_) => "group_id",
    }
}

/// The account if the caller may change it (an owner, or `manage`), with its template's
/// ownership rules.
async fn changeable(
    conn: &mut Conn,
    can: &Can<perm::AccountUpdate>,
    id: Uuid,
) -> ServiceResult<(AccountRecord, alm_core::templates::Ownership)> {
    let record = accounts::get(conn, id)
        .await?
        .ok_or(ServiceError::NotFound { what: "account" })?;
    if !reaches(conn, can, id).await? {
        return Err(hidden(can, id));
    }
    let d = super::requests::definition(conn, record.template_id, record.template_version).await?;
    Ok((record, d.ownership))
}

/// Adds an owner within the template's rules.
pub async fn add_owner(
    db: &Db,
    clock: &dyn alm_core::Clock,
    can: &Can<perm::AccountUpdate>,
    actor: &super::Actor,
    id: Uuid,
    owner: Owner,
    base_url: &str,
) -> ServiceResult<AccountInfo> {
    use alm_core::FieldError;
    let now = clock.now();
    let mut tx = db.begin_write().await?;
    let (record, rules) = changeable(&mut tx, can, id).await?;
    let field = owner_field(owner);
    if rules.requester_only_owner {
        return Err(ServiceError::Refused(Refusal::Ownership(
            "the template makes the requester the only owner".into(),
        )));
    }
    match owner {
        Owner::Group(_) if !rules.allow_group_owners => {
            return Err(FieldError::new(
                field,
                "not-allowed",
                "the template does not allow group owners",
            )
            .into())
        }
        // An owner is a person (SPEC §2.7): an API client's user owns nothing.
        Owner::User(u)
            if !users::get(&mut tx, u)
                .await?
                .is_some_and(|u| u.enabled && u.source != users::UserSource::ApiClient) =>
        {
            return Err(FieldError::new(field, "exists", "no enabled person has this id").into())
        }
        Owner::Group(g)
            if !alm_store::groups::get(&mut tx, g)
                .await?
                .is_some_and(|g| g.enabled) =>
        {
            return Err(FieldError::new(field, "exists", "no enabled group has this id").into())
        }
        _ => {}
    }
    let count = accounts::owners(&mut tx, id).await?.len() as u32;
    if count + 1 > rules.max_owners {
        return Err(ServiceError::Refused(Refusal::Ownership(format!(
            "the template allows at most {} owner(s)",
            rules.max_owners
        ))));
    }
    accounts::add_owner(&mut tx, id, owner, now)
        .await
        .map_err(|e| match e {
            alm_store::StoreError::Conflict { .. } => {
                ServiceError::Conflict(FieldError::new(field, "unique", "already an owner"))
            }
            other => other.into(),
        })?;
    super::audit::record(
        &mut tx,
        clock,
        actor,
        "account.owner-added",
        super::audit::Subject::new("account", id),
        serde_json::json!({"name": record.name, field: owner_id(owner)}),
    )
    .await?;
    let owners = accounts::owners(&mut tx, id).await?;
    tell_owners(
        &mut tx,
        &record,
        &owners,
        &[owner],
        "an owner was added",
        base_url,
        now,
    )
    .await?;
    let out = info(&mut tx, record, owners, now).await?;
    tx.commit().await?;
    Ok(out)
}

/// Tells the owners (the old ones too) that ownership changed (SPEC §7.1).
async fn tell_owners(
    conn: &mut Conn,
    record: &AccountRecord,
    owners: &[Owner],
    also: &[Owner],
    change: &str,
    base_url: &str,
    now: time::OffsetDateTime,
) -> ServiceResult<()> {
    let mut people = Vec::new();
    for o in owners.iter().chain(also) {
        match o {
            Owner::User(u) => people.push(*u),
            Owner::Group(g) => {
                people.extend(alm_store::groups::enabled_member_ids(conn, *g).await?)
            }
        }
    }
    super::notifications::emit(
        conn,
        now,
        alm_notify::events::ACCOUNT_OWNERSHIP_CHANGED,
        &serde_json::json!({"account": {"name": record.name, "change": change,
                                        "url": format!("{base_url}/api/v1/accounts/{}", record.id)}}),
        people,
        Some(("account", record.id.to_string())),
    )
    .await
}

fn owner_id(owner: Owner) -> String {
    match owner {
        Owner::User(u) => u.to_string(),
        Owner::Group(g) => g.to_string(),
    }
}

/// Removes an owner, never below the template's minimum nor leaving no enabled owner.
pub async fn remove_owner(
    db: &Db,
    clock: &dyn alm_core::Clock,
    can: &Can<perm::AccountUpdate>,
    actor: &super::Actor,
    id: Uuid,
    owner: Owner,
    base_url: &str,
) -> ServiceResult<AccountInfo> {
    let now = clock.now();
    let mut tx = db.begin_write().await?;
    let (record, rules) = changeable(&mut tx, can, id).await?;
    if !accounts::remove_owner(&mut tx, id, owner).await? {
        return Err(ServiceError::NotFound { what: "owner" });
    }
    let owners = accounts::owners(&mut tx, id).await?;
    if (owners.len() as u32) < rules.min_owners {
        return Err(ServiceError::Refused(Refusal::Ownership(format!(
            "the template wants at least {} owner(s)",
            rules.min_owners
        ))));
    }
    if accounts::orphaned(&mut tx, None)
        .await?
        .iter()
        .any(|a| a.id == id)
    {
        return Err(ServiceError::Refused(Refusal::Ownership(
            "this is the account's last enabled owner; add another owner first".into(),
        )));
    }
    super::audit::record(
        &mut tx,
        clock,
        actor,
        "account.owner-removed",
        super::audit::Subject::new("account", id),
        serde_json::json!({"name": record.name, owner_field(owner): owner_id(owner)}),
    )
    .await?;
    tell_owners(
        &mut tx,
        &record,
        &owners,
        &[owner],
        "an owner was removed",
        base_url,
        now,
    )
    .await?;
    let out = info(&mut tx, record, owners, now).await?;
    tx.commit().await?;
    Ok(out)
}

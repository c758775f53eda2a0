//! Account discovery and import (SPEC §6.2): directory accounts the domain's sync has seen
//! become managed accounts of one template, with one interval or EOL date and the same owners
//! — without touching the directory. Every rule is checked first (field errors naming each
//! account); then all are imported in one transaction, or none.

use super::audit::{record, Subject};
use super::jobs::Queue;
use super::{denied, Actor, ServiceResult};
use alm_core::account_state::{DirectoryState, SecretState};
use alm_core::filetime::eol_instant;
use alm_core::lifecycle::Status;
use alm_core::permissions::{perm, Can};
use alm_core::templates::{AccountType, Interval};
use alm_core::{DomainId, FieldError, GroupId, UserId, ValidationErrors};
use alm_store::accounts::{self, AccountRecord, Owner};
use alm_store::directory_sync;
use serde_json::json;
use time::Date;
use uuid::Uuid;

/// What an import makes.
#[derive(Debug, Clone)]
pub struct Import {
    pub domain: DomainId,
    /// objectGUIDs of synced user or (g)MSA objects.
    pub guids: Vec<String>,
    pub template_id: Uuid,
    /// Exactly one of `interval` (from today) and `eol_date`.
    pub interval: Option<Interval>,
    pub eol_date: Option<Date>,
    pub users: Vec<UserId>,
    pub groups: Vec<GroupId>,
}

pub async fn import(
    queue: &Queue,
    can: &Can<perm::AccountUpdate>,
    actor: &Actor,
    i: Import,
) -> ServiceResult<Vec<AccountRecord>> {
    can.require_manage().map_err(denied(can.actor()))?;
    let now = queue.clock.now();
    let mut tx = queue.db.begin_write().await?;
    let mut errors = ValidationErrors::new();
    if i.guids.is_empty() {
        errors.push(FieldError::new(
            "object_guids",
            "required",
            "choose at least one account",
        ));
    }
    if i.users.is_empty() && i.groups.is_empty() {
        errors.push(FieldError::new(
            "owners",
            "required",
            "every imported account needs an owner",
        ));
    }
    for (n, u) in i.users.iter().enumerate() {
        if !alm_store::users::get(&mut tx, *u)
            .await?
            .is_some_and(|u| u.enabled)
        {
            errors.push(FieldError::new(
                format!("owners.users[{n}]"),
                "exists",
                "no enabled user has this id",
            ));
        }
    }
    for (n, g) in i.groups.iter().enumerate() {
        if !alm_store::groups::get(&mut tx, *g)
            .await?
            .is_some_and(|g| g.enabled)
        {
            errors.push(FieldError::new(
                format!("owners.groups[{n}]"),
                "exists",
                "no enabled group has this id",
            ));
        }
    }
    let Some(t) = alm_store::templates::get(&mut tx, i.template_id).await? else {
        errors.push(FieldError::new("template_id", "exists", "no such template"));
        return Err(errors.into());
    };
    let Some(version) = t.published_version else {
        errors.push(FieldError::new(
            "template_id",
            "published",
            "the template has no published version",
        ));
        return Err(errors.into());
    };
    let d = super::requests::definition(&mut tx, t.id, version).await?;
    if d.domain_id != i.domain {
        errors.push(FieldError::new(
            "template_id",
            "same-domain",
            "the template creates accounts in another domain",
        ));
    }
    let (interval, eol) = match (i.interval, i.eol_date) {
        (Some(iv), None) if d.lifecycle.intervals.contains(&iv) => {
            (iv, eol_instant(iv.end_date(now.date())))
        }
        (Some(_), None) => {
            errors.push(FieldError::new(
                "interval",
                "one-of",
                "the template does not offer this interval",
            ));
            (Interval::Days(1), now)
        }
        (None, Some(date)) => {
            let first = d
                .lifecycle
                .intervals
                .first()
                .copied()
                .unwrap_or(Interval::Days(365));
            (first, eol_instant(date))
        }
        _ => {
            errors.push(FieldError::new(
                "interval",
                "one-of",
                "give either interval or eol_date",
            ));
            (Interval::Days(1), now)
        }
    };
    let want = match d.account_type {
        AccountType::AdUser => &["user"][..],
        AccountType::Gmsa => &["gmsa", "msa"][..],
    };
    let mut objects = Vec::new();
    for (n, guid) in i.guids.iter().enumerate() {
        let field = format!("object_guids[{n}]");
        match directory_sync::object(&mut tx, i.domain, guid).await? {
            None => errors.push(FieldError::new(
                field,
                "exists",
                "the domain's sync has not seen this object",
            )),
            Some(o) if !want.contains(&o.kind.as_str()) => errors.push(FieldError::new(
                field,
                "account-type",
                format!(
                    "{} is a {}, not an account of the template's type",
                    o.name, o.kind
                ),
            )),
            Some(o) if accounts::guid_managed(&mut tx, i.domain, guid).await? => errors.push(
                FieldError::new(field, "unmanaged", format!("{} is managed already", o.name)),
            ),
            Some(o) => objects.push(o),
        }
    }
    errors.into_result()?;
    let mut out = Vec::new();
    for o in objects {
        let a = AccountRecord {
            id: alm_core::ids::uuid_v7_at(now),
            domain_id: i.domain,
            name: o.name.trim_end_matches('$').to_owned(),
            dn: o.dn.clone(),
            guid: o.guid.clone(),
            account_type: d.account_type,
            // An object without a description has none (an empty one, as AD shows it).
            description: o.details["description"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            status: Status::Active,
            template_id: t.id,
            template_version: version,
            request_id: None,
            interval,
            eol_action: d.eol_action,
            lifecycle_start: eol_instant(now.date()),
            eol_at: eol,
            vault_id: d.vault_id,
            // Imported as found: alm holds no secret for it (vault sync passes it over).
            secret_ref: String::new(),
            directory_state: if o.enabled {
                DirectoryState::Present
            } else {
                DirectoryState::DisabledInDirectory
            },
            secret_state: SecretState::None,
            created_at: now,
            updated_at: now,
            status_before: None,
            problem: None,
        };
        accounts::insert(&mut tx, &a).await?;
        for owner in i
            .users
            .iter()
            .map(|u| Owner::User(*u))
            .chain(i.groups.iter().map(|g| Owner::Group(*g)))
        {
            accounts::add_owner(&mut tx, a.id, owner, now).await?;
        }
        super::lifecycle::schedule(&mut tx, &a, &d, now, true).await?;
        record(
            &mut tx,
            queue.clock.as_ref(),
            actor,
            "account.imported",
            Subject::new("account", a.id),
            json!({"name": a.name, "dn": a.dn, "template_id": t.id.to_string(), "eol_at": a.eol_at.unix_timestamp()}),
        )
        .await?;
        out.push(a);
    }
    tx.commit().await?;
    Ok(out)
}

/// The synced objects chosen for an import, as (objectGUID, name, DN), in order; one the
/// domain's sync has not seen is an error naming it.
pub async fn chosen(
    db: &alm_store::Db,
    can: &Can<perm::AccountUpdate>,
    domain: DomainId,
    guids: &[String],
) -> ServiceResult<Vec<(String, String, String)>> {
    can.require_manage().map_err(denied(can.actor()))?;
    let mut conn = db.read().await?;
    let mut out = Vec::new();
    let mut errors = ValidationErrors::new();
    for (n, guid) in guids.iter().enumerate() {
        match directory_sync::object(&mut conn, domain, guid).await? {
            Some(o) => out.push((o.guid, o.name, o.dn)),
            None => errors.push(FieldError::new(
                format!("object_guids[{n}]"),
                "exists",
                format!("the domain's sync has not seen the object {guid}; sync the domain first"),
            )),
        }
    }
    errors.into_result()?;
    Ok(out)
}

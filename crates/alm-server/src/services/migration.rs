//! Account migration (SPEC §6.4): active accounts before their EOL move to another template
//! (or a newer version of theirs), with a new interval and EOL date (or the current one; a
//! past date makes them reach EOL at the next sweep), optionally another OU (moved in the
//! directory by an engine job), another secret folder in the same vault (the built-in vault's
//! entry moved in the transaction, an external vault's by an engine job) and other owners. All accounts change in one transaction, or
//! none (every rule is checked first, per account, with field errors naming it); each one's
//! history records the change.

use super::audit::{record, Subject};
use super::jobs::Queue;
use super::{denied, Actor, ServiceResult};
use alm_core::filetime::eol_instant;
use alm_core::lifecycle::Status;
use alm_core::permissions::{perm, Can};
use alm_core::templates::Interval;
use alm_core::{FieldError, GroupId, UserId, ValidationErrors};
use alm_store::accounts::{self, AccountRecord, Owner};
use serde_json::json;
use time::Date;
use uuid::Uuid;

/// What a migration changes.
#[derive(Debug, Clone)]
pub struct Migration {
    pub account_ids: Vec<Uuid>,
    pub template_id: Uuid,
    /// `None`: the template's published version.
    pub template_version: Option<i64>,
    /// `None`: each account keeps its interval (it must be offered by the new template).
    pub interval: Option<Interval>,
    /// `None`: keep each account's EOL date.
    pub eol_date: Option<Date>,
    /// Move the accounts into this OU (one the template offers).
    pub ou: Option<String>,
    /// Move the accounts' secrets into this folder (one the template offers, in the same vault).
    pub folder: Option<String>,
    pub add_users: Vec<UserId>,
    pub add_groups: Vec<GroupId>,
    pub remove_users: Vec<UserId>,
    pub remove_groups: Vec<GroupId>,
    /// Check everything and compute the result, then change nothing (the wizard's preview):
    /// the transaction is rolled back, so what it shows is what a real run would do.
    pub preview: bool,
}

pub async fn migrate(
    queue: &Queue,
    can: &Can<perm::AccountUpdate>,
    actor: &Actor,
    m: Migration,
) -> ServiceResult<Vec<AccountRecord>> {
    can.require_manage().map_err(denied(can.actor()))?;
    let now = queue.clock.now();
    let mut tx = queue.db.begin_write().await?;
    let mut errors = ValidationErrors::new();
    if m.account_ids.is_empty() {
        errors.push(FieldError::new(
            "account_ids",
            "required",
            "choose at least one account",
        ));
    }
    let t = alm_store::templates::get(&mut tx, m.template_id).await?;
    let Some(t) = t else {
        errors.push(FieldError::new("template_id", "exists", "no such template"));
        return Err(errors.into());
    };
    let version = match m.template_version.or(t.published_version) {
        Some(v) => v,
        None => {
            errors.push(FieldError::new(
                "template_version",
                "published",
                "the template has no published version; name one",
            ));
            return Err(errors.into());
        }
    };
    let d = match super::requests::definition(&mut tx, t.id, version).await {
        Ok(d) => d,
        Err(_) => {
            errors.push(FieldError::new(
                "template_version",
                "exists",
                "the template has no such version",
            ));
            return Err(errors.into());
        }
    };
    if let Some(i) = m.interval {
        if !d.lifecycle.intervals.contains(&i) {
            errors.push(FieldError::new(
                "interval",
                "one-of",
                "the template does not offer this interval",
            ));
        }
    }
    // The OU as a parsed DN, offered by the template and present in the last sync; kept as
    // the directory spells it (the DN checked is the DN the engine moves the accounts to).
    let mut m = m;
    if let Some(ou) = &m.ou {
        let known = super::templates::synced_ous(&mut tx, d.domain_id).await?;
        match alm_core::requests::check_ou(&d, ou, &known) {
            Ok(synced) => m.ou = Some(synced.to_string()),
            Err(e) => errors.push(e),
        }
    }
    if let Some(folder) = &m.folder {
        if !d.folders.iter().any(|f| f == folder) {
            errors.push(FieldError::new(
                "folder",
                "one-of",
                format!("the template offers the folders {}", d.folders.join(", ")),
            ));
        }
    }
    let vault_kind = alm_store::vaults::get(&mut tx, d.vault_id)
        .await?
        .map(|v| v.kind)
        .unwrap_or_default();
    for (i, u) in m.add_users.iter().enumerate() {
        if !alm_store::users::get(&mut tx, *u)
            .await?
            .is_some_and(|u| u.enabled)
        {
            errors.push(FieldError::new(
                format!("add_owners.users[{i}]"),
                "exists",
                "no enabled user has this id",
            ));
        }
    }
    for (i, g) in m.add_groups.iter().enumerate() {
        if !alm_store::groups::get(&mut tx, *g)
            .await?
            .is_some_and(|g| g.enabled)
        {
            errors.push(FieldError::new(
                format!("add_owners.groups[{i}]"),
                "exists",
                "no enabled group has this id",
            ));
        }
    }
    let mut chosen = Vec::new();
    for (i, id) in m.account_ids.iter().enumerate() {
        let field = format!("account_ids[{i}]");
        let Some(a) = accounts::get(&mut tx, *id).await? else {
            errors.push(FieldError::new(field, "exists", "no such managed account"));
            continue;
        };
        if a.status != Status::Active || a.eol_at <= now {
            errors.push(FieldError::new(
                field,
                "active",
                format!(
                    "{} is {} or past its EOL: only active accounts before EOL migrate",
                    a.name, a.status
                ),
            ));
        } else if a.domain_id != d.domain_id {
            errors.push(FieldError::new(
                field,
                "same-domain",
                format!("{} is in another domain than the template's", a.name),
            ));
        } else if a.account_type != d.account_type {
            errors.push(FieldError::new(
                field,
                "same-type",
                format!("{} is not of the template's account type", a.name),
            ));
        } else if m.interval.is_none() && !d.lifecycle.intervals.contains(&a.interval) {
            errors.push(FieldError::new(
                field,
                "interval",
                format!(
                    "{}'s interval {} is not offered by the template: give one",
                    a.name, a.interval
                ),
            ));
        }
        if m.folder.is_some() && !a.secret_ref.is_empty() {
            if a.vault_id != d.vault_id {
                errors.push(FieldError::new(
                    format!("account_ids[{i}]"),
                    "same-vault",
                    format!(
                        "{}'s secret is in another vault than the template's: a migration moves secrets within one vault",
                        a.name
                    ),
                ));
            } else if vault_kind == super::vaults::KIND_BUILTIN {
                let (folder, name) = a.secret_ref.rsplit_once('/').unwrap_or(("", ""));
                if alm_store::vaults::entry(&mut tx, a.vault_id, folder, name)
                    .await?
                    .is_none()
                {
                    errors.push(FieldError::new(
                        format!("account_ids[{i}]"),
                        "secret-present",
                        format!("{}'s secret is not in the vault: nothing to move", a.name),
                    ));
                }
            }
        }
        chosen.push(a);
    }
    errors.into_result()?;
    let mut out = Vec::new();
    for mut a in chosen {
        let before = json!({"template_id": a.template_id.to_string(), "template_version": a.template_version,
                            "interval": a.interval, "eol_at": a.eol_at.unix_timestamp(), "dn": a.dn});
        a.template_id = t.id;
        a.template_version = version;
        if let Some(i) = m.interval {
            a.interval = i;
        }
        if let Some(date) = m.eol_date {
            a.eol_at = eol_instant(date);
        }
        a.eol_action = d.eol_action;
        a.updated_at = now;
        // The secret's folder: the built-in vault's entry moves in this transaction; an
        // external vault's by an engine job (secret_ref follows when it is done).
        let mut move_secret_job = None;
        if let Some(folder) = m.folder.as_ref().filter(|_| !a.secret_ref.is_empty()) {
            if vault_kind == super::vaults::KIND_BUILTIN {
                if let Some(moved) = super::vaults::move_builtin_entry(
                    &mut tx,
                    &queue.key,
                    a.vault_id,
                    &a.secret_ref,
                    folder,
                    now,
                )
                .await?
                {
                    a.secret_ref = moved;
                }
            } else {
                move_secret_job = Some(folder.clone());
            }
        }
        accounts::update_lifecycle(&mut tx, &a).await?;
        accounts::set_eol_action(&mut tx, a.id, a.eol_action).await?;
        if let Some(folder) = move_secret_job {
            super::account_changes::queue_change(
                queue,
                &mut tx,
                &a,
                super::account_changes::ChangeOrder::MoveSecret { folder },
                actor,
            )
            .await?;
        }
        for u in &m.remove_users {
            accounts::remove_owner(&mut tx, a.id, Owner::User(*u)).await?;
        }
        for g in &m.remove_groups {
            accounts::remove_owner(&mut tx, a.id, Owner::Group(*g)).await?;
        }
        let current = accounts::owners(&mut tx, a.id).await?;
        for o in m
            .add_users
            .iter()
            .map(|u| Owner::User(*u))
            .chain(m.add_groups.iter().map(|g| Owner::Group(*g)))
        {
            if !current.contains(&o) {
                accounts::add_owner(&mut tx, a.id, o, now).await?;
            }
        }
        super::accounts::refuse_orphans_of(&mut tx, a.id).await?;
        if let Some(ou) = &m.ou {
            super::account_changes::queue_change(
                queue,
                &mut tx,
                &a,
                super::account_changes::ChangeOrder::Move { to: ou.clone() },
                actor,
            )
            .await?;
        }
        super::lifecycle::schedule(&mut tx, &a, &d, now, true).await?;
        record(
            &mut tx,
            queue.clock.as_ref(),
            actor,
            "account.migrated",
            Subject::new("account", a.id),
            json!({"before": before, "after": {"template_id": a.template_id.to_string(), "template_version": a.template_version,
                   "interval": a.interval, "eol_at": a.eol_at.unix_timestamp(), "ou": m.ou, "folder": m.folder}}),
        )
        .await?;
        out.push(a);
    }
    if m.preview {
        // Dropped, not committed: the records, jobs and audit entries above are undone.
        drop(tx);
        return Ok(out);
    }
    tx.commit().await?;
    queue.wake();
    Ok(out)
}

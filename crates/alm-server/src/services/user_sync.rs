//! User sync (SPEC §6.3): the members of chosen directory groups (through child groups too)
//! become alm users (source `synced`, in Everyone, with the auto-apply roles); synced users
//! no longer in those groups, or disabled in the directory, are disabled in alm (event
//! `user-disabled-by-sync`).
//!
//! It works on the picture the domain sync has just stored, inside the same transaction, so
//! a directory that cannot be read changes no user. A sync that would disable more than the
//! configured share of synced users stops instead, changes nothing, and raises an alert.

use super::audit::{record, Subject};
use super::{Actor, ServiceResult};
use alm_core::{Clock, DomainId, Email, UserId};
use alm_store::directory_sync::{self, DirectoryObject, UserSyncConfig};
use alm_store::users::{self, DirectoryLink, NewUser, UserSource};
use alm_store::{roles, sessions, WriteTx};
use serde_json::json;
use std::collections::{HashMap, HashSet, VecDeque};

pub const DEFAULT_MAX_DISABLE_PERCENT: u32 = 10;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct UserSyncOutcome {
    pub created: u64,
    pub disabled: u64,
    /// Names of the managed accounts the disabled users left without an enabled owner.
    pub orphaned: Vec<String>,
}

/// The mass-disable guard stopped the sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardTripped {
    pub would_disable: usize,
    pub synced_enabled: usize,
    pub max_percent: u32,
}

impl std::fmt::Display for GuardTripped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "mass-disable guard: this sync would disable {} of {} synced users, more than {}%; nothing was changed. \
             Check the directory, or raise the limit for one sync",
            self.would_disable, self.synced_enabled, self.max_percent
        )
    }
}

/// The enabled accounts that are members of the chosen groups, directly or through groups.
pub fn wanted_accounts<'a>(
    chosen: &[String],
    groups: &'a [DirectoryObject],
    accounts: &'a [DirectoryObject],
) -> Vec<&'a DirectoryObject> {
    let group_by_dn: HashMap<String, &DirectoryObject> =
        groups.iter().map(|g| (g.dn.to_lowercase(), g)).collect();
    let account_by_dn: HashMap<String, &DirectoryObject> =
        accounts.iter().map(|a| (a.dn.to_lowercase(), a)).collect();
    let mut queue: VecDeque<&DirectoryObject> =
        groups.iter().filter(|g| chosen.contains(&g.guid)).collect();
    let mut seen_groups: HashSet<&str> = queue.iter().map(|g| g.guid.as_str()).collect();
    let mut wanted: Vec<&DirectoryObject> = Vec::new();
    let mut seen_accounts: HashSet<&str> = HashSet::new();
    while let Some(group) = queue.pop_front() {
        for member in group.details["members"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m.as_str())
        {
            let key = member.to_lowercase();
            if let Some(child) = group_by_dn.get(&key) {
                if seen_groups.insert(child.guid.as_str()) {
                    queue.push_back(child);
                }
            } else if let Some(account) = account_by_dn.get(&key) {
                if account.enabled && seen_accounts.insert(account.guid.as_str()) {
                    wanted.push(account);
                }
            }
        }
    }
    wanted
}

/// The address alm will know the person by: `mail`, else the user principal name.
fn email_of(account: &DirectoryObject) -> Option<Email> {
    ["mail", "user_principal_name"]
        .iter()
        .filter_map(|k| account.details[*k].as_str())
        .find_map(|v| Email::parse("email", v).ok())
}

fn display_name_of(account: &DirectoryObject) -> String {
    account.details["display_name"]
        .as_str()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or(&account.name)
        .chars()
        .take(128)
        .collect()
}

/// Applies the user sync inside the domain sync's transaction.
pub async fn apply(
    tx: &mut WriteTx,
    clock: &dyn Clock,
    domain: DomainId,
    config: &UserSyncConfig,
    base_url: &str,
) -> ServiceResult<Result<UserSyncOutcome, GuardTripped>> {
    let groups_ = directory_sync::all_of_kinds(tx, domain, &["group"]).await?;
    let accounts = directory_sync::all_of_kinds(tx, domain, &["user"]).await?;
    // SPEC §7.5 "external groups disabled": a chosen directory group the sync no longer
    // finds (deleted, or moved out of the domain's scope) is an alert each sync, before
    // anything else happens to its former members.
    let now = clock.now();
    let system = Actor::system();
    for guid in &config.group_guids {
        if !groups_.iter().any(|g| &g.guid == guid) {
            record(
                tx,
                clock,
                &system,
                "domain.user-sync-group-missing",
                Subject::new("domain", domain),
                json!({"alert": true, "group_guid": guid,
                       "consequence": "its members are no longer alm users through it"}),
            )
            .await?;
        }
    }
    let wanted = wanted_accounts(&config.group_guids, &groups_, &accounts);
    let wanted_guids: HashSet<&str> = wanted.iter().map(|a| a.guid.as_str()).collect();
    let existing = users::synced_from(tx, domain).await?;
    let known: HashSet<&str> = existing.iter().map(|(_, g, _)| g.as_str()).collect();
    let synced_enabled = existing.iter().filter(|(_, _, enabled)| *enabled).count();
    let to_disable: Vec<UserId> = existing
        .iter()
        .filter(|(_, g, enabled)| *enabled && !wanted_guids.contains(g.as_str()))
        .map(|(id, _, _)| *id)
        .collect();
    if synced_enabled > 0
        && to_disable.len() * 100 > config.max_disable_percent as usize * synced_enabled
    {
        return Ok(Err(GuardTripped {
            would_disable: to_disable.len(),
            synced_enabled,
            max_percent: config.max_disable_percent,
        }));
    }
    let mut outcome = UserSyncOutcome::default();
    let everyone_roles = roles::auto_apply_ids(tx).await?;
    for account in wanted.iter().filter(|a| !known.contains(a.guid.as_str())) {
        let Some(email) = email_of(account) else {
            tracing::warn!(account = %account.name, "user sync: the account has no usable email address; skipped");
            continue;
        };
        if users::find_by_email(tx, &email).await?.is_some() {
            tracing::warn!(account = %account.name, "user sync: another alm user has this email address; skipped");
            continue;
        }
        let id = UserId::new_v7(now);
        let link = DirectoryLink {
            domain,
            account: account.name.clone(),
            guid: account.guid.clone(),
        };
        let name = display_name_of(account);
        users::insert(
            tx,
            &NewUser {
                id,
                display_name: &name,
                emails: std::slice::from_ref(&email),
                enabled: true,
                source: UserSource::Synced,
                password_hash: None,
                directory: Some(&link),
                at: now,
            },
        )
        .await?;
        for role in &everyone_roles {
            roles::assign_user(tx, *role, id).await?;
        }
        record(
            tx,
            clock,
            &system,
            "user.created",
            Subject::new("user", id),
            json!({"source": "synced", "domain": domain, "directory_guid": account.guid}),
        )
        .await?;
        // SPEC §6.3: a synced user is welcomed with the sign-in link.
        super::notifications::welcome(tx, now, base_url, id, &name, UserSource::Synced).await?;
        outcome.created += 1;
    }
    let mut orphaned: Vec<alm_store::accounts::AccountRecord> = Vec::new();
    for id in to_disable {
        users::set_enabled(tx, id, false, now).await?;
        // Accounts this user was the last enabled owner of (SPEC §2.7: listed and alerted).
        for a in
            alm_store::accounts::orphaned(tx, Some(alm_store::accounts::Owner::User(id))).await?
        {
            if !orphaned.iter().any(|o| o.id == a.id) {
                orphaned.push(a);
            }
        }
        let ended = sessions::delete_for_user(tx, id).await?;
        record(
            tx,
            clock,
            &system,
            "user.disabled-by-sync",
            Subject::new("user", id),
            json!({"domain": domain, "sessions_ended": ended}),
        )
        .await?;
        outcome.disabled += 1;
    }
    for a in &orphaned {
        record(
            tx,
            clock,
            &system,
            "account.orphaned",
            Subject::new("account", a.id),
            json!({"alert": true, "name": a.name, "domain": domain, "cause": "user sync"}),
        )
        .await?;
    }
    outcome.orphaned = orphaned.iter().map(|a| a.name.clone()).collect();
    Ok(Ok(outcome))
}

/// The user-sync settings of a domain (`None` when user sync is off).
pub async fn settings(
    db: &alm_store::Db,
    can: &alm_core::permissions::Can<alm_core::permissions::perm::DomainRead>,
    domain: DomainId,
) -> ServiceResult<Option<UserSyncConfig>> {
    let _ = can;
    let mut conn = db.read().await?;
    alm_store::domains::get(&mut conn, domain)
        .await?
        .ok_or(super::ServiceError::NotFound { what: "domain" })?;
    Ok(directory_sync::user_sync_config(&mut conn, domain).await?)
}

/// Chooses the groups whose members become alm users; they must be groups a sync has seen.
pub async fn configure(
    db: &alm_store::Db,
    clock: &dyn Clock,
    can: &alm_core::permissions::Can<alm_core::permissions::perm::DomainUpdate>,
    actor: &Actor,
    domain: DomainId,
    config: UserSyncConfig,
) -> ServiceResult<UserSyncConfig> {
    let _ = can;
    let mut errors = alm_core::ValidationErrors::new();
    if config.max_disable_percent > 100 {
        errors.push(alm_core::FieldError::new(
            "max_disable_percent",
            "range",
            "must be between 0 and 100",
        ));
    }
    let mut tx = db.begin_write().await?;
    alm_store::domains::get(&mut tx, domain)
        .await?
        .ok_or(super::ServiceError::NotFound { what: "domain" })?;
    let known: HashSet<String> = directory_sync::all_of_kinds(&mut tx, domain, &["group"])
        .await?
        .into_iter()
        .map(|g| g.guid)
        .collect();
    for (i, guid) in config.group_guids.iter().enumerate() {
        if !known.contains(guid) {
            errors.push(alm_core::FieldError::new(
                format!("group_guids[{i}]"),
                "exists",
                "no group with this objectGUID was found by a sync of this domain; sync first",
            ));
        }
    }
    errors.into_result()?;
    let mut unique = config.group_guids.clone();
    unique.sort();
    unique.dedup();
    let config = UserSyncConfig {
        group_guids: unique,
        max_disable_percent: config.max_disable_percent,
    };
    directory_sync::set_user_sync_config(&mut tx, domain, &config, clock.now()).await?;
    record(
        &mut tx,
        clock,
        actor,
        "domain.user-sync-configured",
        Subject::new("domain", domain),
        json!({"groups": config.group_guids, "max_disable_percent": config.max_disable_percent}),
    )
    .await?;
    tx.commit().await?;
    Ok(config)
}

/// The synced groups of a domain named in a form, one name or DN per line (case-insensitive),
/// as their objectGUIDs; a line that names no synced group is an error at `field` that quotes it.
pub async fn groups_named(
    db: &alm_store::Db,
    can: &alm_core::permissions::Can<alm_core::permissions::perm::DomainRead>,
    domain: DomainId,
    field: &str,
    lines: &[String],
) -> ServiceResult<Vec<String>> {
    let _ = can;
    let mut conn = db.read().await?;
    let groups = directory_sync::all_of_kinds(&mut conn, domain, &["group"]).await?;
    let mut errors = alm_core::ValidationErrors::new();
    let mut guids = Vec::new();
    for line in lines {
        let found = groups
            .iter()
            .find(|g| g.name.eq_ignore_ascii_case(line) || g.dn.eq_ignore_ascii_case(line));
        match found {
            Some(g) => guids.push(g.guid.clone()),
            None => errors.push(alm_core::FieldError::new(
                field,
                "exists",
                format!("no group named {line:?} was found by a sync of this domain; sync first, or check the name"),
            )),
        }
    }
    errors.into_result()?;
    Ok(guids)
}

/// The names of a domain's user-sync groups, in the configured order; a group the last sync
/// no longer found is shown by its objectGUID and says so.
pub async fn group_names(
    db: &alm_store::Db,
    can: &alm_core::permissions::Can<alm_core::permissions::perm::DomainRead>,
    domain: DomainId,
    guids: &[String],
) -> ServiceResult<Vec<String>> {
    let _ = can;
    let mut conn = db.read().await?;
    let mut names = Vec::new();
    for guid in guids {
        names.push(
            match directory_sync::object(&mut conn, domain, guid).await? {
                Some(g) => g.name,
                None => format!("{guid} (no longer found by a sync)"),
            },
        );
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(
        guid: &str,
        kind: &str,
        dn: &str,
        enabled: bool,
        details: serde_json::Value,
    ) -> DirectoryObject {
        DirectoryObject {
            guid: guid.into(),
            kind: kind.into(),
            dn: dn.into(),
            name: guid.into(),
            enabled,
            usn_changed: 1,
            details,
            synced_at: time::macros::datetime!(2026-01-01 0:00 UTC),
        }
    }

    #[test]
    fn members_are_found_through_child_groups_once_and_disabled_ones_left_out() {
        let groups = vec![
            obj(
                "g",
                "group",
                "CN=G,DC=x",
                true,
                json!({"members": ["CN=u1,DC=x", "CN=N,DC=x", "cn=U2,dc=x"]}),
            ),
            obj(
                "n",
                "group",
                "CN=N,DC=x",
                true,
                json!({"members": ["CN=u3,DC=x", "CN=G,DC=x", "CN=u1,DC=x"]}),
            ),
            obj(
                "other",
                "group",
                "CN=O,DC=x",
                true,
                json!({"members": ["CN=u4,DC=x"]}),
            ),
        ];
        let accounts = vec![
            obj("u1", "user", "CN=u1,DC=x", true, json!({})),
            obj("u2", "user", "CN=U2,DC=x", false, json!({})),
            obj("u3", "user", "CN=u3,DC=x", true, json!({})),
            obj("u4", "user", "CN=u4,DC=x", true, json!({})),
        ];
        let wanted: Vec<&str> = wanted_accounts(&["g".into()], &groups, &accounts)
            .iter()
            .map(|a| a.guid.as_str())
            .collect();
        assert_eq!(
            wanted,
            ["u1", "u3"],
            "nested, cycle-safe, once each, disabled and other groups' members excluded"
        );
    }

    #[test]
    fn the_email_is_mail_then_upn() {
        let a = obj(
            "a",
            "user",
            "CN=a",
            true,
            json!({"mail": "Ann@Corp.example", "user_principal_name": "ann@corp.local"}),
        );
        assert_eq!(email_of(&a).unwrap().as_str(), "ann@corp.example");
        let b = obj(
            "b",
            "user",
            "CN=b",
            true,
            json!({"user_principal_name": "bob@corp.example.test"}),
        );
        assert_eq!(email_of(&b).unwrap().as_str(), "bob@corp.example.test");
        assert!(email_of(&obj("c", "user", "CN=c", true, json!({}))).is_none());
    }
}

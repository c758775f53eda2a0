//! The replacement offer of SPEC §2.2: which workflow templates name a group (as audience,
//! approvers or gMSA password readers), and replacing it by another group in all of them at
//! once. Disabling a group answers with its uses, so the administrator sees the offer where
//! they act.
//!
//! Versions keep their rules: a published version is never edited in place, so where the
//! version requests use names the group, the replacement is a new version, published at once
//! (hence `provision-template-workflow:manage`); a draft is edited in place; an unpublished
//! template gets a new draft version. One transaction: every template is changed, or (when a
//! changed definition would not validate, say K approvals no longer reachable) none is.

use super::audit::{record, Subject};
use super::templates::{decode, new_version_from, validate};
use super::{denied, Actor, ServiceError, ServiceResult};
use alm_core::permissions::{perm, Can};
use alm_core::templates::{TemplateState, VersionState};
use alm_core::{Clock, FieldError, GroupId, ValidationErrors};
use alm_store::templates as store;
use alm_store::{groups, Conn, Db};
use serde_json::json;
use uuid::Uuid;

/// One version of a template that names the group, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionUse {
    pub version: i64,
    pub state: String,
    pub fields: Vec<String>,
}

/// A template (not disabled) whose live versions name the group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateUse {
    pub template_id: Uuid,
    pub name: String,
    pub state: String,
    pub versions: Vec<VersionUse>,
}

/// What the replacement did to one template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaced {
    pub template_id: Uuid,
    pub name: String,
    /// `published-new-version`, `edited-draft` or `new-draft-version`.
    pub action: &'static str,
    pub version: i64,
    /// What is left for the administrator, if anything.
    pub note: Option<String>,
}

/// The templates whose published or latest version names `group`. Disabled templates take
/// no new requests and are left out; superseded versions stay as they were (accounts made
/// from them keep them).
pub async fn uses(conn: &mut Conn, group: GroupId) -> ServiceResult<Vec<TemplateUse>> {
    let mut out = Vec::new();
    for t in store::list(conn, None).await? {
        if t.state == TemplateState::Disabled {
            continue;
        }
        let mut numbers = vec![t.latest_version];
        if let Some(p) = t.published_version.filter(|p| *p != t.latest_version) {
            numbers.insert(0, p);
        }
        let mut versions = Vec::new();
        for n in numbers {
            let Some(v) = store::version(conn, t.id, n).await? else {
                continue;
            };
            let fields = decode(&v)?.group_uses(group);
            if !fields.is_empty() {
                versions.push(VersionUse {
                    version: v.version,
                    state: v.state.to_string(),
                    fields,
                });
            }
        }
        if !versions.is_empty() {
            out.push(TemplateUse {
                template_id: t.id,
                name: t.name.clone(),
                state: t.state.to_string(),
                versions,
            });
        }
    }
    Ok(out)
}

/// The uses of a group, read on their own (the offer, again).
/// The templates that still name a group the caller has just disabled (the offer to replace
/// it, SPEC §2.2): the right to disable the group is the right to see where it is named.
pub async fn uses_after_disable(
    db: &Db,
    can: &Can<perm::GroupUpdate>,
    group: GroupId,
) -> ServiceResult<Vec<TemplateUse>> {
    let _ = can;
    let mut conn = db.read().await?;
    uses(&mut conn, group).await
}

pub async fn uses_of(
    db: &Db,
    can: &Can<perm::GroupRead>,
    group: GroupId,
) -> ServiceResult<Vec<TemplateUse>> {
    can.require_manage().map_err(denied(can.actor()))?;
    let mut conn = db.read().await?;
    groups::get(&mut conn, group)
        .await?
        .ok_or(ServiceError::NotFound { what: "group" })?;
    uses(&mut conn, group).await
}

/// Replaces `old` by `new` in every template that names it (see the module header).
pub async fn replace(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::TemplateUpdate>,
    actor: &Actor,
    old: GroupId,
    new: GroupId,
) -> ServiceResult<Vec<Replaced>> {
    // Publishing the new versions at once is what a workflow manager may do.
    can.require_manage().map_err(denied(can.actor()))?;
    let now = clock.now();
    let mut tx = db.begin_write().await?;
    groups::get(&mut tx, old)
        .await?
        .ok_or(ServiceError::NotFound { what: "group" })?;
    let field = "replacement_group_id";
    if new == old {
        return Err(FieldError::new(field, "different", "must be another group").into());
    }
    match groups::get(&mut tx, new).await? {
        None => return Err(FieldError::new(field, "exists", "no such group").into()),
        Some(g) if !g.enabled => {
            return Err(
                FieldError::new(field, "enabled", "the replacement group is disabled").into(),
            )
        }
        Some(_) => {}
    }
    let mut done = Vec::new();
    let mut problems = ValidationErrors::new();
    for found in uses(&mut tx, old).await? {
        let mut t = store::get(&mut tx, found.template_id)
            .await?
            .ok_or(ServiceError::NotFound { what: "template" })?;
        let mut latest = store::version(&mut tx, t.id, t.latest_version)
            .await?
            .ok_or(ServiceError::NotFound { what: "template" })?;
        let definition = decode(&latest)?.with_group_replaced(old, new);
        if let Err(ServiceError::Validation(errors)) = validate(&mut tx, &definition).await {
            for e in errors.0 {
                problems.push(FieldError::new(
                    format!("templates[{}].{}", t.id, e.field),
                    e.rule,
                    format!("template {:?}: {}", t.name, e.message),
                ));
            }
            continue;
        }
        let encoded = serde_json::to_string(&definition).expect("plain data");
        // A draft in preparation above a published version that names the group too: the
        // published one changes when the draft is published (one draft at a time).
        let note = found
            .versions
            .iter()
            .find(|u| u.version != t.latest_version)
            .map(|u| {
                format!(
                    "published version {} still names the group until the changed draft version {} is published",
                    u.version, t.latest_version
                )
            });
        let action = match (t.state, latest.state) {
            (_, VersionState::Draft | VersionState::NeedsApproval) => {
                latest.definition = encoded;
                latest.updated_at = now;
                store::update_version(&mut tx, &latest).await?;
                "edited-draft"
            }
            (TemplateState::Published, _) => {
                // The version requests use: a new one, published at once; the old one is
                // superseded (accounts made from it keep it).
                let mut v = new_version_from(&t, &latest, can.actor(), now);
                v.definition = encoded;
                v.state = VersionState::Published;
                v.approved_by = Some(can.actor().to_string());
                v.published_at = Some(now);
                store::insert_version(&mut tx, &v).await?;
                latest.state = VersionState::Superseded;
                latest.updated_at = now;
                store::update_version(&mut tx, &latest).await?;
                t.latest_version = v.version;
                t.published_version = Some(v.version);
                latest = v;
                "published-new-version"
            }
            _ => {
                // Unpublished: the change waits in a new draft version.
                let mut v = new_version_from(&t, &latest, can.actor(), now);
                v.definition = encoded;
                store::insert_version(&mut tx, &v).await?;
                t.latest_version = v.version;
                latest = v;
                "new-draft-version"
            }
        };
        t.updated_at = now;
        store::update(&mut tx, &t).await?;
        record(
            &mut tx,
            clock,
            actor,
            "template.group-replaced",
            Subject::new("template", t.id),
            json!({"old_group_id": old.to_string(), "new_group_id": new.to_string(),
                   "action": action, "version": latest.version}),
        )
        .await?;
        done.push(Replaced {
            template_id: t.id,
            name: t.name.clone(),
            action,
            version: latest.version,
            note,
        });
    }
    if !problems.0.is_empty() {
        return Err(problems.into());
    }
    tx.commit().await?;
    Ok(done)
}

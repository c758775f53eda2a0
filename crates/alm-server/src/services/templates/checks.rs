//! What a template's validation needs from the store (SPEC §2.4): the synced OUs, the
//! domain, vault, attributes and approvers it names — the rules themselves are alm-core's.

use super::*;

/// The OUs of the domain's last sync, as parsed DNs (compared RDN by RDN, never as text).
/// A DN the directory wrote that does not parse cannot be chosen; it is logged, not guessed at.
pub(crate) async fn synced_ous(
    conn: &mut Conn,
    domain: alm_core::DomainId,
) -> ServiceResult<HashSet<alm_core::Dn>> {
    let mut ous = HashSet::new();
    for o in directory_sync::all_of_kinds(conn, domain, &["ou"]).await? {
        match alm_core::Dn::parse(&o.dn) {
            Ok(dn) => {
                ous.insert(dn);
            }
            Err(e) => {
                tracing::warn!(domain = %domain, dn = %o.dn, "a synced OU's DN does not parse: {e}")
            }
        }
    }
    Ok(ous)
}

/// Looks up what validation needs from the database.
pub(crate) async fn facts(conn: &mut Conn, d: &TemplateDefinition) -> ServiceResult<Facts> {
    let domain_exists = domains::get(conn, d.domain_id).await?.is_some();
    let vault_exists = vaults::get(conn, d.vault_id).await?.is_some();
    let known_ous = if domain_exists {
        synced_ous(conn, d.domain_id).await?
    } else {
        HashSet::new()
    };
    let known_attributes = if domain_exists {
        directory_sync::attributes(conn, d.domain_id, None)
            .await?
            .into_iter()
            .map(|a| a.to_lowercase())
            .collect()
    } else {
        HashSet::new()
    };
    let mut unknown = Vec::new();
    let mut eligible = Vec::new();
    for (i, step) in d.steps.iter().enumerate() {
        let (reach, missing) = step_reach(conn, step).await?;
        for (kind, j, id) in missing {
            unknown.push((format!("steps[{i}].{kind}[{j}]"), id));
        }
        eligible.push(reach.len());
    }
    for (j, g) in d.audience_groups.iter().enumerate() {
        if groups::get(conn, *g).await?.is_none() {
            unknown.push((format!("audience_groups[{j}]"), g.to_string()));
        }
    }
    if let Some(gmsa) = &d.gmsa {
        for (j, u) in gmsa.password_reader_users.iter().enumerate() {
            if users::get(conn, *u).await?.is_none() {
                unknown.push((format!("gmsa.password_reader_users[{j}]"), u.to_string()));
            }
        }
        for (j, g) in gmsa.password_reader_groups.iter().enumerate() {
            if groups::get(conn, *g).await?.is_none() {
                unknown.push((format!("gmsa.password_reader_groups[{j}]"), g.to_string()));
            }
        }
    }
    Ok(Facts {
        domain_exists,
        vault_exists,
        known_ous,
        known_attributes,
        eligible_approvers: eligible,
        unknown_principals: unknown,
    })
}

/// The distinct enabled users a step reaches (its users, and enabled members of its enabled
/// groups), and the users and groups it names that do not exist as (list, index, id).
pub(crate) async fn step_reach(
    conn: &mut Conn,
    step: &alm_core::templates::ApprovalStep,
) -> ServiceResult<(HashSet<UserId>, Vec<(&'static str, usize, String)>)> {
    let mut reach = HashSet::new();
    let mut missing = Vec::new();
    for (j, u) in step.users.iter().enumerate() {
        match users::get(conn, *u).await? {
            Some(user) if user.enabled => {
                reach.insert(user.id);
            }
            Some(_) => {}
            None => missing.push(("users", j, u.to_string())),
        }
    }
    for (j, g) in step.groups.iter().enumerate() {
        if groups::get(conn, *g).await?.is_none() {
            missing.push(("groups", j, g.to_string()));
            continue;
        }
        reach.extend(groups::enabled_member_ids(conn, *g).await?);
    }
    Ok((reach, missing))
}

pub(crate) async fn validate(conn: &mut Conn, d: &TemplateDefinition) -> ServiceResult<()> {
    let facts = facts(conn, d).await?;
    Ok(d.validate(&facts)?)
}

/// Checks a definition against the rules and the database without saving it: the wizard's
/// summary is shown only for a definition that would be saved.
pub async fn check(
    db: &Db,
    _can: &Can<perm::TemplateRead>,
    d: &TemplateDefinition,
) -> ServiceResult<()> {
    let mut conn = db.read().await?;
    validate(&mut conn, d).await
}

//! The template wizard's names (SPEC §2.4, §10): people name approvers and gMSA password
//! readers by email address and alm groups by name, and pick OUs from the synced directory;
//! a definition stores ids and DNs. This turns names into ids (every unknown one an error at
//! the field it was typed in, quoting it), ids back into names for editing, and answers the
//! pickers' searches (a bounded number of matches, served from indexed columns).

use super::ServiceResult;
use alm_core::paging::{PageRequest, SortDirection};
use alm_core::permissions::{perm, Can};
use alm_core::{DomainId, Email, FieldError, GroupId, UserId};
use alm_store::{directory_sync, groups, users, Db};

/// Matches a picker answers with.
pub const PICKS: u32 = 20;

fn first_page(sort: &'static str) -> PageRequest {
    PageRequest {
        limit: PICKS,
        offset: 0,
        sort,
        direction: SortDirection::Ascending,
    }
}

/// Enabled users by email address, in order; `field` names where they were typed.
pub async fn user_ids(
    db: &Db,
    _can: &Can<perm::TemplateRead>,
    field: &str,
    emails: &[String],
    errors: &mut Vec<FieldError>,
) -> ServiceResult<Vec<UserId>> {
    let mut conn = db.read().await?;
    let mut ids = Vec::new();
    for text in emails {
        let email = match Email::parse(field, text) {
            Ok(e) => e,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        match users::find_by_email(&mut conn, &email).await? {
            Some(u) if u.enabled => ids.push(u.id),
            _ => errors.push(FieldError::new(
                field,
                "exists",
                format!("no enabled user has the email address {email}"),
            )),
        }
    }
    Ok(ids)
}

/// Enabled alm groups by name, in order.
pub async fn group_ids(
    db: &Db,
    _can: &Can<perm::TemplateRead>,
    field: &str,
    names: &[String],
    errors: &mut Vec<FieldError>,
) -> ServiceResult<Vec<GroupId>> {
    let mut conn = db.read().await?;
    let mut ids = Vec::new();
    for name in names {
        let found = match groups::find_by_name(&mut conn, name).await? {
            Some(id) => groups::get(&mut conn, id).await?,
            None => None,
        };
        match found {
            Some(g) if g.enabled => ids.push(g.id),
            _ => errors.push(FieldError::new(
                field,
                "exists",
                format!("no enabled group is named {name:?}"),
            )),
        }
    }
    Ok(ids)
}

/// The primary email address of each user, in order (a user gone since is shown by id).
pub async fn user_emails(db: &Db, ids: &[UserId]) -> ServiceResult<Vec<String>> {
    let mut conn = db.read().await?;
    let found = users::get_many(&mut conn, ids).await?;
    Ok(ids
        .iter()
        .map(|id| {
            found
                .iter()
                .find(|u| u.id == *id)
                .and_then(|u| u.emails.first().cloned())
                .unwrap_or_else(|| format!("(removed user {id})"))
        })
        .collect())
}

/// The name of each group, in order (a group gone since is shown by id).
pub async fn group_names(db: &Db, ids: &[GroupId]) -> ServiceResult<Vec<String>> {
    let mut conn = db.read().await?;
    let found = groups::get_many(&mut conn, ids).await?;
    Ok(ids
        .iter()
        .map(|id| {
            found
                .iter()
                .find(|g| g.id == *id)
                .map(|g| g.name.clone())
                .unwrap_or_else(|| format!("(removed group {id})"))
        })
        .collect())
}

/// OUs of the domain's last sync whose name or DN contains `query`, by name.
pub async fn pick_ous(
    db: &Db,
    _can: &Can<perm::TemplateRead>,
    domain: DomainId,
    query: &str,
) -> ServiceResult<Vec<String>> {
    let mut conn = db.read().await?;
    let query = Some(query.trim()).filter(|q| !q.is_empty());
    let (found, _) =
        directory_sync::list(&mut conn, domain, Some("ou"), query, &first_page("dn")).await?;
    Ok(found.into_iter().map(|o| o.dn).collect())
}

/// Enabled users whose name or email address contains `query`: (name, primary email).
pub async fn pick_users(
    db: &Db,
    _can: &Can<perm::TemplateRead>,
    query: &str,
) -> ServiceResult<Vec<(String, String)>> {
    let mut conn = db.read().await?;
    let filter = users::UserFilter {
        query: Some(query.trim().to_owned()).filter(|q| !q.is_empty()),
        enabled: Some(true),
        only: None,
    };
    let (found, _) = users::list(&mut conn, &filter, &first_page("display_name")).await?;
    Ok(found
        .into_iter()
        .filter_map(|u| Some((u.display_name, u.emails.first()?.clone())))
        .collect())
}

/// Enabled groups whose name contains `query`.
pub async fn pick_groups(
    db: &Db,
    _can: &Can<perm::TemplateRead>,
    query: &str,
) -> ServiceResult<Vec<String>> {
    let mut conn = db.read().await?;
    let filter = groups::GroupFilter {
        query: Some(query.trim().to_owned()).filter(|q| !q.is_empty()),
        enabled: Some(true),
        member: None,
    };
    let (found, _) = groups::list(&mut conn, &filter, &first_page("name")).await?;
    Ok(found.into_iter().map(|g| g.name).collect())
}

/// The names of a definition's domain and vault (a template's reader may not read domains or
/// vaults themselves); one that is gone is shown by id.
pub async fn domain_and_vault(
    db: &Db,
    domain: DomainId,
    vault: alm_core::VaultId,
) -> ServiceResult<(String, String)> {
    let mut conn = db.read().await?;
    let d = alm_store::domains::get(&mut conn, domain)
        .await?
        .map(|d| d.name)
        .unwrap_or_else(|| format!("(removed domain {domain})"));
    let v = alm_store::vaults::get(&mut conn, vault)
        .await?
        .map(|v| v.name)
        .unwrap_or_else(|| format!("(removed vault {vault})"));
    Ok((d, v))
}

/// Every domain and vault a template may name, by name: (id, name).
pub async fn domains_and_vaults(
    db: &Db,
    _can: &Can<perm::TemplateRead>,
) -> ServiceResult<(Vec<(String, String)>, Vec<(String, String)>)> {
    let mut conn = db.read().await?;
    let mut domains: Vec<(String, String)> = alm_store::domains::list(&mut conn)
        .await?
        .into_iter()
        .map(|d| (d.id.to_string(), d.name))
        .collect();
    let mut vaults: Vec<(String, String)> = alm_store::vaults::list(&mut conn)
        .await?
        .into_iter()
        .map(|v| (v.id.to_string(), v.name))
        .collect();
    domains.sort_by_key(|d| d.1.to_lowercase());
    vaults.sort_by_key(|v| v.1.to_lowercase());
    Ok((domains, vaults))
}

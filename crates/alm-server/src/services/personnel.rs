//! What the personnel pages show beside a record (SPEC §2.1–§2.3): a user's groups and roles
//! by name, their effective permissions and where a synced user comes from; role names for a
//! group. Reads only — every change goes through `users`, `groups` and `roles`, which the API
//! calls too.

use super::users::{self as user_service, UserDetail};
use super::{ServiceError, ServiceResult};
use alm_core::permissions::{perm, Can, Permission};
use alm_core::{RoleId, UserId};
use alm_store::{domains, groups, permissions, roles, users, Db};

/// A group or role as a list names it.
#[derive(Debug, Clone)]
pub struct Named {
    pub id: uuid::Uuid,
    pub name: String,
    pub enabled: bool,
}

/// A user as their page shows them.
#[derive(Debug, Clone)]
pub struct UserProfile {
    pub detail: UserDetail,
    pub groups: Vec<Named>,
    /// Roles given to the user directly (those of their groups are in `effective`).
    pub roles: Vec<Named>,
    /// What they may do now: from their enabled roles, direct or through enabled groups.
    pub effective: Vec<Permission>,
    /// A synced user's directory: (domain name, account name).
    pub directory: Option<(String, String)>,
}

pub async fn user_profile(
    db: &Db,
    can: &Can<perm::UserRead>,
    id: UserId,
) -> ServiceResult<UserProfile> {
    let detail = user_service::get(db, can, id).await?;
    let mut conn = db.read().await?;
    let found = groups::get_many(&mut conn, &detail.group_ids).await?;
    let mut group_names = Vec::with_capacity(detail.group_ids.len());
    for gid in &detail.group_ids {
        let g = found.iter().find(|g| g.id == *gid).ok_or_else(|| {
            alm_store::StoreError::Corrupt(format!("user {id}: membership of missing group {gid}"))
        })?;
        group_names.push(Named {
            id: g.id.0,
            name: g.name.clone(),
            enabled: g.enabled,
        });
    }
    let roles = role_names(&mut conn, &detail.role_ids).await?;
    let effective = permissions::effective(&mut conn, id)
        .await?
        .iter()
        .copied()
        .collect();
    let directory = match users::directory_link(&mut conn, id).await? {
        None => None,
        Some(link) => {
            let domain = domains::get(&mut conn, link.domain).await?.ok_or_else(|| {
                alm_store::StoreError::Corrupt(format!("user {id}: missing domain {}", link.domain))
            })?;
            Some((domain.name, link.account))
        }
    };
    Ok(UserProfile {
        detail,
        groups: group_names,
        roles,
        effective,
        directory,
    })
}

/// The roles `ids` by name, in the order given; a missing one is a broken reference.
pub async fn roles_named(db: &Db, ids: &[RoleId]) -> ServiceResult<Vec<Named>> {
    let mut conn = db.read().await?;
    role_names(&mut conn, ids).await
}

async fn role_names(conn: &mut alm_store::Conn, ids: &[RoleId]) -> ServiceResult<Vec<Named>> {
    let mut out = Vec::with_capacity(ids.len());
    for rid in ids {
        let r = roles::get(conn, *rid).await?.ok_or_else(|| {
            ServiceError::Store(alm_store::StoreError::Corrupt(format!(
                "a reference to missing role {rid}"
            )))
        })?;
        out.push(Named {
            id: r.id.0,
            name: r.name,
            enabled: r.enabled,
        });
    }
    Ok(out)
}

/// Every role, by name, for the choices of a form (which roles a group carries); the first
/// 500 by name — far more than a deployment has (four are built in).
pub async fn all_roles(db: &Db, can: &Can<perm::RoleRead>) -> ServiceResult<Vec<Named>> {
    let _ = can;
    let mut conn = db.read().await?;
    let page = alm_core::paging::PageRequest::parse(
        Some(alm_core::paging::MAX_LIMIT),
        None,
        Some("name"),
        roles::SORT_KEYS,
    )?;
    let (found, _) = roles::list(&mut conn, &roles::RoleFilter::default(), &page).await?;
    Ok(found
        .into_iter()
        .map(|r| Named {
            id: r.id.0,
            name: r.name,
            enabled: r.enabled,
        })
        .collect())
}

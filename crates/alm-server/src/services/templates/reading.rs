//! Reading templates: which ones and which version a caller sees (the audience rule of the
//! module header), one template, its versions.

use super::*;

/// The caller's groups (for the audience rule).
pub(crate) async fn caller_groups(
    conn: &mut Conn,
    user: UserId,
) -> ServiceResult<HashSet<GroupId>> {
    Ok(users::group_ids(conn, user).await?.into_iter().collect())
}

/// Which version of `t` the caller may read, if any.
pub(crate) async fn visible_version(
    conn: &mut Conn,
    t: &TemplateRecord,
    scope: Scope,
    caller: UserId,
    groups_of_caller: &HashSet<GroupId>,
) -> ServiceResult<Option<VersionRecord>> {
    let latest = store::version(conn, t.id, t.latest_version).await?;
    if scope == Scope::All {
        return Ok(latest);
    }
    let first = store::version(conn, t.id, 1).await?;
    if first.as_ref().and_then(|v| v.created_by.as_deref()) == Some(caller.to_string().as_str()) {
        return Ok(latest);
    }
    if t.state != TemplateState::Published {
        return Ok(None);
    }
    let Some(published) = t.published_version else {
        return Ok(None);
    };
    let Some(v) = store::version(conn, t.id, published).await? else {
        return Ok(None);
    };
    let d = decode(&v)?;
    Ok(d.audience_groups
        .iter()
        .any(|g| groups_of_caller.contains(g))
        .then_some(v))
}

pub async fn list(db: &Db, can: &Can<perm::TemplateRead>) -> ServiceResult<Vec<TemplateInfo>> {
    let mut conn = db.read().await?;
    let mine = caller_groups(&mut conn, can.actor()).await?;
    let mut out = Vec::new();
    for t in store::list(&mut conn, None).await? {
        if let Some(v) = visible_version(&mut conn, &t, can.scope(), can.actor(), &mine).await? {
            let definition = decode(&v)?;
            out.push(TemplateInfo {
                template: t,
                version: v,
                definition,
            });
        }
    }
    Ok(out)
}

pub async fn get(db: &Db, can: &Can<perm::TemplateRead>, id: Uuid) -> ServiceResult<TemplateInfo> {
    let mut conn = db.read().await?;
    let t = store::get(&mut conn, id).await?.ok_or_else(not_found)?;
    let mine = caller_groups(&mut conn, can.actor()).await?;
    let v = visible_version(&mut conn, &t, can.scope(), can.actor(), &mine)
        .await?
        .ok_or_else(|| ServiceError::out_of_scope("template", "template", can.actor(), id))?;
    let definition = decode(&v)?;
    Ok(TemplateInfo {
        template: t,
        version: v,
        definition,
    })
}

/// Every version (managers and the template's author only).
pub async fn versions(
    db: &Db,
    can: &Can<perm::TemplateRead>,
    id: Uuid,
) -> ServiceResult<Vec<(VersionRecord, TemplateDefinition)>> {
    let info = get(db, can, id).await?;
    if can.scope() != Scope::All && info.version.version != info.template.latest_version {
        // A requester sees the published version only.
        return Ok(vec![(info.version, info.definition)]);
    }
    let mut conn = db.read().await?;
    store::versions(&mut conn, id)
        .await?
        .into_iter()
        .map(|v| decode(&v).map(|d| (v, d)))
        .collect()
}

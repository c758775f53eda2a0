//! A template's states (SPEC §2.4): publish (directly, or through a workflow manager's
//! approval), unpublish and disable.

use super::*;

/// Publishes the latest version (or sends it for approval; see the module header). The
/// definition is validated again: what it refers to may have changed since it was saved.
pub async fn publish(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::TemplateUpdate>,
    actor: &Actor,
    id: Uuid,
    workflow_manager: bool,
    base_url: &str,
) -> ServiceResult<TemplateInfo> {
    let now = clock.now();
    let mut tx = db.begin_write().await?;
    let mut t = store::get(&mut tx, id).await?.ok_or_else(not_found)?;
    let mut v = store::version(&mut tx, id, t.latest_version)
        .await?
        .ok_or_else(not_found)?;
    let step = publish_step(t.state, v.state, workflow_manager)
        .map_err(|m| ServiceError::Refused(Refusal::InState(m)))?;
    let definition = decode(&v)?;
    validate(&mut tx, &definition).await?;
    let action = match step {
        PublishStep::AskApproval => {
            v.state = VersionState::NeedsApproval;
            v.submitted_by = Some(can.actor().to_string());
            let admins = crate::services::notifications::system_administrators(&mut tx).await?;
            crate::services::notifications::emit(
                &mut tx,
                now,
                alm_notify::events::TEMPLATE_NEEDS_APPROVAL,
                &template_params(&t.name, v.version, id, base_url),
                admins,
                Some(("template", id.to_string())),
            )
            .await?;
            "template.needs-approval"
        }
        PublishStep::Publish => {
            if let Some(old) = t.published_version.filter(|p| *p != v.version) {
                if let Some(mut previous) = store::version(&mut tx, id, old).await? {
                    previous.state = VersionState::Superseded;
                    previous.updated_at = now;
                    store::update_version(&mut tx, &previous).await?;
                }
            }
            if v.state != VersionState::Published {
                v.state = VersionState::Published;
                v.approved_by = Some(can.actor().to_string());
                v.published_at = Some(now);
            }
            t.published_version = Some(v.version);
            t.state = TemplateState::Published;
            crate::services::notifications::tell_administrators_if_enabled(
                &mut tx,
                now,
                alm_notify::events::TEMPLATE_PUBLISHED,
                &template_params(&t.name, v.version, id, base_url),
                ("template", id.to_string()),
            )
            .await?;
            "template.published"
        }
    };
    v.updated_at = now;
    t.updated_at = now;
    store::update_version(&mut tx, &v).await?;
    store::update(&mut tx, &t).await?;
    record(
        &mut tx,
        clock,
        actor,
        action,
        Subject::new("template", id),
        summary(&t, &v),
    )
    .await?;
    tx.commit().await?;
    Ok(TemplateInfo {
        template: t,
        version: v,
        definition,
    })
}

/// Published → unpublished (no new requests; changes go into a new version), or disabled
/// for good.
pub async fn set_state(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::TemplateUpdate>,
    actor: &Actor,
    id: Uuid,
    to: TemplateState,
    base_url: &str,
) -> ServiceResult<TemplateInfo> {
    let _ = can;
    let now = clock.now();
    let mut tx = db.begin_write().await?;
    let mut t = store::get(&mut tx, id).await?.ok_or_else(not_found)?;
    let from = t.state;
    let (allowed, action) = match to {
        TemplateState::Unpublished => (from == TemplateState::Published, "template.unpublished"),
        TemplateState::Disabled => (from != TemplateState::Disabled, "template.deactivated"),
        _ => (false, ""),
    };
    if !allowed {
        return Err(ServiceError::Refused(Refusal::InState(format!(
            "a {} template cannot become {}",
            from.as_str(),
            to.as_str()
        ))));
    }
    t.state = to;
    t.updated_at = now;
    store::update(&mut tx, &t).await?;
    let v = store::version(&mut tx, id, t.latest_version)
        .await?
        .ok_or_else(not_found)?;
    let event = if to == TemplateState::Unpublished {
        alm_notify::events::TEMPLATE_UNPUBLISHED
    } else {
        alm_notify::events::TEMPLATE_DEACTIVATED
    };
    crate::services::notifications::tell_administrators_if_enabled(
        &mut tx,
        now,
        event,
        &template_params(&t.name, v.version, id, base_url),
        ("template", id.to_string()),
    )
    .await?;
    recorded(tx, clock, actor, action, t, v).await
}

/// The parameters of a template event.
fn template_params(name: &str, version: i64, id: Uuid, base_url: &str) -> serde_json::Value {
    json!({"template": {"name": name, "version": version.to_string(),
                        "url": format!("{base_url}/api/v1/templates/{id}")}})
}

//! The emails a request sends on its way (SPEC §7.1): to the approvers of a step, and to the
//! requester.

use super::*;

/// Tells the approvers of the request's current step that it waits for them (the requester
/// never approves their own request, so is never told).
pub(crate) async fn notify_step(
    conn: &mut Conn,
    base_url: &str,
    r: &RequestRecord,
    d: &TemplateDefinition,
    now: time::OffsetDateTime,
) -> ServiceResult<()> {
    let Some(step) = r.current_step.and_then(|s| d.steps.get((s - 1) as usize)) else {
        return Ok(());
    };
    let (reach, _) = crate::services::templates::step_reach(conn, step).await?;
    let params = crate::services::notifications::request_params(conn, base_url, r, None).await?;
    crate::services::notifications::emit(
        conn,
        now,
        alm_notify::events::REQUEST_STEP_REQUIRES_APPROVAL,
        &params,
        reach.into_iter().filter(|u| *u != r.requester_id),
        Some(("request", r.id.to_string())),
    )
    .await
}

/// Tells the requester about their request.
pub(crate) async fn notify_requester(
    conn: &mut Conn,
    base_url: &str,
    r: &RequestRecord,
    event: alm_notify::events::EventKind,
    reason: Option<&str>,
    now: time::OffsetDateTime,
) -> ServiceResult<()> {
    let params = crate::services::notifications::request_params(conn, base_url, r, reason).await?;
    crate::services::notifications::emit(
        conn,
        now,
        event,
        &params,
        [r.requester_id],
        Some(("request", r.id.to_string())),
    )
    .await
}

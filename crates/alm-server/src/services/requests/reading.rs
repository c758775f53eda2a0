//! Reading requests: one (with its decisions, approver names hidden as the template says, and
//! provisioning progress), or a page of them.

use super::*;

/// A request with its decisions; approver names hidden from a requester (without `manage`)
/// when the template hides them.
pub(crate) async fn info(
    conn: &mut Conn,
    r: RequestRecord,
    reader: UserId,
    scope: Scope,
) -> ServiceResult<RequestInfo> {
    let d = definition(conn, r.template_id, r.template_version).await?;
    let name = templates::get(conn, r.template_id)
        .await?
        .map(|t| t.name)
        .unwrap_or_default();
    let hide = d.hide_approver_names && reader == r.requester_id && scope != Scope::All;
    let mut decisions = Vec::new();
    for a in store::decisions(conn, r.id).await? {
        let approver_name = if hide {
            None
        } else {
            users::get(conn, a.approver_id)
                .await?
                .map(|u| u.display_name)
        };
        decisions.push(DecisionInfo {
            step: a.step,
            approver_id: (!hide).then_some(a.approver_id),
            approver_name,
            decision: a.decision.as_str().to_owned(),
            reason: a.reason,
            decided_at: a.decided_at,
        });
    }
    let provisioning = match r.state {
        RequestState::QueuedForProvisioning
        | RequestState::Provisioning
        | RequestState::Retrying
        | RequestState::ProvisioningFailed => provisioning_progress(conn, &r).await?,
        _ => None,
    };
    Ok(RequestInfo {
        details: details_of(&r)?,
        record: r,
        template_name: name,
        steps: d.steps.len(),
        decisions,
        provisioning,
    })
}

pub async fn get(db: &Db, can: &Can<perm::RequestRead>, id: Uuid) -> ServiceResult<RequestInfo> {
    let mut conn = db.read().await?;
    let r = reachable(&mut conn, can, id).await?;
    info(&mut conn, r, can.actor(), can.scope()).await
}

/// One page of the caller's requests (everyone's with `manage`), of one state and with
/// `query` in the account name, and how many match.
pub async fn list(
    db: &Db,
    can: &Can<perm::RequestRead>,
    state: Option<RequestState>,
    query: Option<&str>,
    page: &alm_core::paging::PageRequest,
) -> ServiceResult<(Vec<RequestInfo>, u64)> {
    let mut conn = db.read().await?;
    let who = (can.scope() != Scope::All).then_some(can.actor());
    let (records, total) = store::page(&mut conn, who, state, query, page).await?;
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        out.push(info(&mut conn, r, can.actor(), can.scope()).await?);
    }
    Ok((out, total))
}

pub(crate) fn decision(
    r: &RequestRecord,
    step: i64,
    approver: UserId,
    approve: bool,
    reason: Option<String>,
    at: time::OffsetDateTime,
) -> ApprovalRecord {
    ApprovalRecord {
        request_id: r.id,
        step,
        approver_id: approver,
        decision: if approve {
            Decision::Approved
        } else {
            Decision::Denied
        },
        reason,
        decided_at: at,
    }
}

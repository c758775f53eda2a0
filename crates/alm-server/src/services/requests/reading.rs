//! Reading requests: one (with its decisions, approver names hidden as the template says, and
//! provisioning progress), or a page of them.

use super::*;
use std::collections::HashMap;
use std::sync::Arc;

/// What the requests of one page share, read once for the page: the template versions they
/// were made from, the templates' names and the approvers' names. A page of 25 requests from a
/// few templates used to send about five statements a row; measured under load
/// (bench/load.sh) the request lists were the slowest reads.
#[derive(Default)]
pub(crate) struct Shared {
    definitions: HashMap<(Uuid, i64), Arc<TemplateDefinition>>,
    template_names: HashMap<Uuid, String>,
    people: HashMap<UserId, Option<String>>,
    /// The page's decisions, read in one statement by [`Shared::prefetch_decisions`]; a
    /// request absent from a prefetched map has none. `None`: read per request.
    decisions: Option<HashMap<Uuid, Vec<ApprovalRecord>>>,
}

impl Shared {
    async fn definition(
        &mut self,
        conn: &mut Conn,
        template: Uuid,
        version: i64,
    ) -> ServiceResult<Arc<TemplateDefinition>> {
        if let Some(d) = self.definitions.get(&(template, version)) {
            return Ok(d.clone());
        }
        let d = Arc::new(definition(conn, template, version).await?);
        self.definitions.insert((template, version), d.clone());
        Ok(d)
    }

    /// Reads the decisions of all `requests` (a page) at once.
    pub(crate) async fn prefetch_decisions(
        &mut self,
        conn: &mut Conn,
        requests: &[Uuid],
    ) -> ServiceResult<()> {
        self.decisions = Some(store::decisions_of(conn, requests).await?);
        Ok(())
    }

    async fn decisions(
        &mut self,
        conn: &mut Conn,
        request: Uuid,
    ) -> ServiceResult<Vec<ApprovalRecord>> {
        match &mut self.decisions {
            Some(page) => Ok(page.remove(&request).unwrap_or_default()),
            None => Ok(store::decisions(conn, request).await?),
        }
    }

    async fn template_name(&mut self, conn: &mut Conn, template: Uuid) -> ServiceResult<String> {
        if let Some(n) = self.template_names.get(&template) {
            return Ok(n.clone());
        }
        // A request whose template is gone is corruption (templates are never deleted once
        // a request used them), not a request of a template with no name.
        let name = templates::get(conn, template)
            .await?
            .map(|t| t.name)
            .ok_or_else(|| {
                ServiceError::Store(alm_store::StoreError::Corrupt(format!(
                    "requests.template_id {template}: no such template"
                )))
            })?;
        self.template_names.insert(template, name.clone());
        Ok(name)
    }

    async fn person(&mut self, conn: &mut Conn, id: UserId) -> ServiceResult<Option<String>> {
        if let Some(n) = self.people.get(&id) {
            return Ok(n.clone());
        }
        let name = users::get(conn, id).await?.map(|u| u.display_name);
        self.people.insert(id, name.clone());
        Ok(name)
    }
}

/// A request with its decisions; approver names hidden from a requester (without `manage`)
/// when the template hides them.
pub(crate) async fn info(
    conn: &mut Conn,
    r: RequestRecord,
    reader: UserId,
    scope: Scope,
) -> ServiceResult<RequestInfo> {
    info_with(conn, &mut Shared::default(), r, reader, scope).await
}

/// [`info`], with what the rows of a page share read once.
pub(crate) async fn info_with(
    conn: &mut Conn,
    shared: &mut Shared,
    r: RequestRecord,
    reader: UserId,
    scope: Scope,
) -> ServiceResult<RequestInfo> {
    let d = shared
        .definition(conn, r.template_id, r.template_version)
        .await?;
    let name = shared.template_name(conn, r.template_id).await?;
    let hide = d.hide_approver_names && reader == r.requester_id && scope != Scope::All;
    let mut decisions = Vec::new();
    for a in shared.decisions(conn, r.id).await? {
        let approver_name = if hide {
            None
        } else {
            shared.person(conn, a.approver_id).await?
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
    let mut shared = Shared::default();
    let ids: Vec<Uuid> = records.iter().map(|r| r.id).collect();
    shared.prefetch_decisions(&mut conn, &ids).await?;
    for r in records {
        out.push(info_with(&mut conn, &mut shared, r, can.actor(), can.scope()).await?);
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

//! `/api/v1/requests` (SPEC §2.5) and `/api/v1/approvals` (SPEC §2.6).

use super::error::{ApiError, ApiResult};
use super::extract::{parse_id, ApiJson, ApiQuery};
use super::{list_query, page_of};
use crate::auth::principal::Authenticated;
use crate::services::approvals;
use crate::services::provisioning_recovery as recovery;
use crate::services::requests::{self as svc, RequestInfo, RequestInput};
use crate::state::AppState;
use alm_core::permissions::perm;
use alm_core::requests::{Owners, RequestState};
use alm_core::{GroupId, UserId};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnersBody {
    /// Owners besides the requester (who is always the first).
    #[serde(default)]
    pub users: Vec<UserId>,
    #[serde(default)]
    pub groups: Vec<GroupId>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionView {
    pub step: i64,
    /// Hidden from the requester when the template hides approver names.
    pub approver_id: Option<UserId>,
    pub approver_name: Option<String>,
    /// `approved` or `denied`.
    pub decision: String,
    pub reason: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub decided_at: OffsetDateTime,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RequestView {
    pub id: Uuid,
    pub requester_id: UserId,
    pub template_id: Uuid,
    pub template_name: String,
    pub template_version: i64,
    /// The full account name (the template's prefix applied).
    pub account_name: String,
    /// `draft`, `pending-approval`, `approved`, `queued-for-provisioning`, `provisioning`,
    /// `retrying` (an attempt failed for a reason that passes, e.g. the DC unreachable: it runs
    /// again at `next_attempt_at`), `provisioned`, `provisioning-failed` (failed for good: retry
    /// or abandon it), `rejected`, `withdrawn` or `abandoned`.
    pub state: String,
    /// The approval step waiting (1-based), while pending approval.
    pub current_step: Option<i64>,
    pub steps: usize,
    /// `90d`, `1y`, … one of the template's intervals.
    pub interval: String,
    pub justification: String,
    pub description: String,
    pub attributes: BTreeMap<String, String>,
    pub owners: OwnersBody,
    pub ou: String,
    pub folder: String,
    pub terms_accepted: bool,
    /// The approver's reason, when rejected.
    pub rejection_reason: Option<String>,
    /// Why the last provisioning attempt failed.
    pub failure_reason: Option<String>,
    /// Provisioning attempts started so far (once approved).
    pub provisioning_attempts: Option<i64>,
    /// When the next provisioning attempt may start, while one waits (`retrying`).
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    pub decisions: Vec<DecisionView>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub submitted_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub decided_at: Option<OffsetDateTime>,
}

impl From<RequestInfo> for RequestView {
    fn from(i: RequestInfo) -> Self {
        let r = i.record;
        let d = i.details;
        Self {
            id: r.id,
            requester_id: r.requester_id,
            template_id: r.template_id,
            template_name: i.template_name,
            template_version: r.template_version,
            account_name: r.account_name.into_string(),
            state: r.state.as_str().to_owned(),
            current_step: r.current_step,
            steps: i.steps,
            interval: d.interval.to_string(),
            justification: d.justification,
            description: d.description,
            attributes: d.attributes,
            owners: OwnersBody {
                users: d.owners.users,
                groups: d.owners.groups,
            },
            ou: d.ou,
            folder: d.folder,
            terms_accepted: d.terms_accepted,
            rejection_reason: r.rejection_reason,
            failure_reason: r.failure_reason,
            provisioning_attempts: i.provisioning.as_ref().map(|p| p.attempts),
            next_attempt_at: i.provisioning.as_ref().and_then(|p| p.next_attempt_at),
            decisions: i
                .decisions
                .into_iter()
                .map(|x| DecisionView {
                    step: x.step,
                    approver_id: x.approver_id,
                    approver_name: x.approver_name,
                    decision: x.decision,
                    reason: x.reason,
                    decided_at: x.decided_at,
                })
                .collect(),
            created_at: r.created_at,
            updated_at: r.updated_at,
            submitted_at: r.submitted_at,
            decided_at: r.decided_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestBody {
    pub template_id: Uuid,
    /// Without the template's prefix (alm adds it).
    #[schema(min_length = 1, max_length = 64)]
    pub account_name: String,
    /// One of the template's intervals, e.g. `90d` or `1y`.
    #[schema(pattern = "^[0-9]+[dy]$")]
    pub interval: String,
    #[schema(min_length = 1, max_length = 2000)]
    pub justification: String,
    #[serde(default)]
    #[schema(max_length = 1024)]
    pub description: String,
    /// Values for the template's attributes.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    #[serde(default)]
    pub owners: Option<OwnersBody>,
    /// The OU's distinguished name (RFC 4514): one of the template's, or, where the template
    /// allows it, an OU below one; it must exist in the domain's last sync (default: the
    /// template's first OU).
    #[schema(max_length = 2048)]
    pub ou: Option<String>,
    /// Where allowed: a sub-folder of one of the template's (default: its first folder).
    pub folder: Option<String>,
    /// The template's terms of service are accepted.
    #[serde(default)]
    pub terms_accepted: bool,
    /// For API clients only (SPEC §7.7): the person the request is for. It is made as theirs
    /// (the template's audience and rules checked for them); the client can read, submit and
    /// withdraw it. Only when the request is made.
    pub requester_id: Option<UserId>,
}

impl RequestBody {
    fn input(self) -> ApiResult<RequestInput> {
        let interval = self.interval.parse().map_err(|e: String| {
            ApiError::Validation(alm_core::FieldError::new("interval", "format", e).into())
        })?;
        let owners = self.owners.unwrap_or(OwnersBody {
            users: vec![],
            groups: vec![],
        });
        Ok(RequestInput {
            template_id: self.template_id,
            account_name: self.account_name,
            interval,
            justification: self.justification,
            description: self.description,
            attributes: self.attributes,
            owners: Owners {
                users: owners.users,
                groups: owners.groups,
            },
            ou: self.ou,
            folder: self.folder,
            terms_accepted: self.terms_accepted,
        })
    }
}

list_query!(RequestQuery, "^-?(created_at|updated_at|account_name|state)$", q: "Part of the account name, case-insensitive.", {
    /// Only requests in this state.
    #[param(
        pattern = "^(draft|pending-approval|approved|queued-for-provisioning|provisioning|retrying|provisioned|provisioning-failed|rejected|withdrawn|abandoned)$"
    )]
    pub state: Option<String>,
});

list_query!(ApprovalQuery, "^-?(submitted_at|account_name)$", q: "Part of the account name, case-insensitive.", {});

page_of!(RequestPage, RequestView);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// Required to deny; optional to approve.
    #[schema(max_length = 2000)]
    pub reason: Option<String>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_requests, create_request))
        .routes(routes!(get_request, update_request, delete_request))
        .routes(routes!(submit_request))
        .routes(routes!(withdraw_request))
        .routes(routes!(retry_request))
        .routes(routes!(abandon_request))
        .routes(routes!(list_approvals))
        .routes(routes!(approve_request))
        .routes(routes!(deny_request))
}

const ID: &str = "Request id";

/// The caller's requests (all requests with `provision-request:manage`), newest first.
#[utoipa::path(get, path = "/api/v1/requests", tag = "requests", params(RequestQuery), responses((status = 200, body = RequestPage)))]
async fn list_requests(
    State(s): State<AppState>,
    auth: Authenticated,
    ApiQuery(q): ApiQuery<RequestQuery>,
) -> ApiResult<Json<RequestPage>> {
    let can = auth.can::<perm::RequestRead>()?;
    let state = match q.state.as_deref() {
        None => None,
        Some(st) => Some(RequestState::parse(st).ok_or_else(|| ApiError::BadRequest {
            detail: "state: not a request state".into(),
            errors: vec![alm_core::FieldError::new(
                "state",
                "one-of",
                "not a request state",
            )],
        })?),
    };
    let page = q.page_or(alm_store::requests::SORT_KEYS, "-created_at")?;
    let (found, total) = svc::list(&s.db, &can, state, q.query().as_deref(), &page).await?;
    Ok(Json(RequestPage::new(
        found.into_iter().map(Into::into).collect(),
        total,
        &page,
    )))
}

/// Save a draft request (every field checked now; the name must be free on the domain).
#[utoipa::path(post, path = "/api/v1/requests", tag = "requests", request_body = RequestBody, responses((status = 201, body = RequestView)))]
async fn create_request(
    State(s): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<RequestBody>,
) -> ApiResult<(StatusCode, Json<RequestView>)> {
    let can = auth.can::<perm::RequestCreate>()?;
    let requester_id = body.requester_id;
    let r = svc::create(
        &s.db,
        s.clock.as_ref(),
        &can,
        &auth.principal.actor,
        body.input()?,
        requester_id,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(r.into())))
}

/// One request.
#[utoipa::path(get, path = "/api/v1/requests/{id}", tag = "requests", params(("id" = String, Path, description = ID)), responses((status = 200, body = RequestView)))]
async fn get_request(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<RequestView>> {
    let can = auth.can::<perm::RequestRead>()?;
    let id: Uuid = parse_id(&id, "request")?;
    Ok(Json(svc::get(&s.db, &can, id).await?.into()))
}

/// Change a draft (the whole request).
#[utoipa::path(put, path = "/api/v1/requests/{id}", tag = "requests", params(("id" = String, Path, description = ID)),
    request_body = RequestBody, responses((status = 200, body = RequestView)))]
async fn update_request(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RequestBody>,
) -> ApiResult<Json<RequestView>> {
    let can = auth.can::<perm::RequestUpdate>()?;
    let id: Uuid = parse_id(&id, "request")?;
    if body.requester_id.is_some() {
        return Err(ApiError::Validation(
            alm_core::FieldError::new(
                "requester_id",
                "create-only",
                "the requester is named when the request is made and cannot change",
            )
            .into(),
        ));
    }
    let r = svc::update(
        &s.db,
        s.clock.as_ref(),
        &can,
        &auth.principal.actor,
        id,
        body.input()?,
    )
    .await?;
    Ok(Json(r.into()))
}

/// Delete a draft.
#[utoipa::path(delete, path = "/api/v1/requests/{id}", tag = "requests", params(("id" = String, Path, description = ID)), responses((status = 204)))]
async fn delete_request(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let can = auth.can::<perm::RequestDelete>()?;
    let id: Uuid = parse_id(&id, "request")?;
    svc::delete(&s.db, s.clock.as_ref(), &can, &auth.principal.actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Submit a draft: checked again, the name taken, approval step 1 starts.
#[utoipa::path(post, path = "/api/v1/requests/{id}/submit", tag = "requests", params(("id" = String, Path, description = ID)), responses((status = 200, body = RequestView)))]
async fn submit_request(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<RequestView>> {
    let can = auth.can::<perm::RequestUpdate>()?;
    let id: Uuid = parse_id(&id, "request")?;
    let r = svc::submit(&s.queue, &can, &auth.principal.actor, id).await?;
    Ok(Json(r.into()))
}

/// Withdraw a draft or a request waiting for approval.
#[utoipa::path(post, path = "/api/v1/requests/{id}/withdraw", tag = "requests", params(("id" = String, Path, description = ID)), responses((status = 204)))]
async fn withdraw_request(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let can = auth.can::<perm::RequestUpdate>()?;
    let id: Uuid = parse_id(&id, "request")?;
    svc::withdraw(&s.db, s.clock.as_ref(), &can, &auth.principal.actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Retry provisioning now: a failed request (after fixing what its reason names) gets a new
/// attempt; a retrying one skips the rest of its wait. The requester's, or any with manage.
#[utoipa::path(post, path = "/api/v1/requests/{id}/retry", tag = "requests", params(("id" = String, Path, description = ID)), responses((status = 200, body = RequestView), (status = 409, description = "not retrying or failed, or an attempt is running")))]
async fn retry_request(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<RequestView>> {
    let can = auth.can::<perm::RequestUpdate>()?;
    let id: Uuid = parse_id(&id, "request")?;
    let r = recovery::retry(&s.queue, &can, &auth.principal.actor, id).await?;
    Ok(Json(r.into()))
}

/// Abandon a retrying or failed request: nothing more is attempted and its account name is
/// free again. The requester's, or any with manage.
#[utoipa::path(post, path = "/api/v1/requests/{id}/abandon", tag = "requests", params(("id" = String, Path, description = ID)), responses((status = 200, body = RequestView), (status = 409, description = "not retrying or failed, or an attempt is running")))]
async fn abandon_request(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<RequestView>> {
    let can = auth.can::<perm::RequestUpdate>()?;
    let id: Uuid = parse_id(&id, "request")?;
    let r = recovery::abandon(&s.queue, &can, &auth.principal.actor, id).await?;
    Ok(Json(r.into()))
}

/// Requests waiting at a step that lists the caller (all of them with
/// `provision-approval:manage`), newest first.
#[utoipa::path(get, path = "/api/v1/approvals", tag = "approvals", params(ApprovalQuery), responses((status = 200, body = RequestPage)))]
async fn list_approvals(
    State(s): State<AppState>,
    auth: Authenticated,
    ApiQuery(q): ApiQuery<ApprovalQuery>,
) -> ApiResult<Json<RequestPage>> {
    let can = auth.can::<perm::ApprovalRead>()?;
    let page = q.page_or(&["submitted_at", "account_name"], "-submitted_at")?;
    let query = q.query();
    // Who may approve is decided per request (steps, groups, separation of duties), so the
    // waiting requests are filtered, then paged, in memory.
    let waiting: Vec<RequestInfo> = approvals::pending(&s.db, &can)
        .await?
        .into_iter()
        .filter(|r| alm_core::paging::matches(query.as_deref(), &[r.record.account_name.as_str()]))
        .collect();
    let (items, total) = page.slice(waiting, |key, a, b| {
        let (a, b) = (&a.record, &b.record);
        match key {
            "account_name" => a.account_name.cmp(&b.account_name),
            _ => a.submitted_at.cmp(&b.submitted_at),
        }
        .then(a.id.cmp(&b.id))
    });
    Ok(Json(RequestPage::new(
        items.into_iter().map(Into::into).collect(),
        total,
        &page,
    )))
}

/// Approve the request at its current step.
#[utoipa::path(post, path = "/api/v1/approvals/{id}/approve", tag = "approvals", params(("id" = String, Path, description = ID)),
    request_body = DecisionBody, responses((status = 200, body = RequestView)))]
async fn approve_request(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DecisionBody>,
) -> ApiResult<Json<RequestView>> {
    let can = auth.can::<perm::ApprovalUpdate>()?;
    let id: Uuid = parse_id(&id, "request")?;
    let r = approvals::decide(&s.queue, &can, &auth.principal.actor, id, true, body.reason).await?;
    Ok(Json(r.into()))
}

/// Deny the request (a reason is required): it is rejected and its name is free again.
#[utoipa::path(post, path = "/api/v1/approvals/{id}/deny", tag = "approvals", params(("id" = String, Path, description = ID)),
    request_body = DecisionBody, responses((status = 200, body = RequestView)))]
async fn deny_request(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DecisionBody>,
) -> ApiResult<Json<RequestView>> {
    let can = auth.can::<perm::ApprovalUpdate>()?;
    let id: Uuid = parse_id(&id, "request")?;
    let r = approvals::decide(
        &s.queue,
        &can,
        &auth.principal.actor,
        id,
        false,
        body.reason,
    )
    .await?;
    Ok(Json(r.into()))
}

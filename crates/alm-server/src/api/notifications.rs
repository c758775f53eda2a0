//! `/api/v1/email-templates` (SPEC §7.2), `/api/v1/outbox` (what was sent, what waits), and
//! `/api/v1/inbox` (SPEC §7.3: each user's own notifications with unread counts).

use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, ApiQuery};
use super::{list_query, page_of};
use crate::auth::principal::Authenticated;
use crate::services::notifications as svc;
use crate::state::AppState;
use alm_core::paging::matches;
use alm_core::permissions::perm;
use alm_notify::events::EventKind;
use alm_store::notifications::{EmailTemplate, InboxEntry, OutboxMessage};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Debug, Serialize, ToSchema)]
pub struct EmailTemplateView {
    /// The event, e.g. `request.step-requires-approval`.
    pub event: String,
    pub title: String,
    /// `system-administrators`, `approvers-of-the-step`, `requester`, `owners`, `new-user`,
    /// `system-administrators-when-enabled` (nobody while `enabled` is false, SPEC §7.1 "none")
    /// or `nobody`.
    pub recipients: String,
    /// The `{{names}}` the subject and body may use.
    pub parameters: Vec<String>,
    pub subject: String,
    pub body: String,
    /// Whether the email is sent; for `system-administrators-when-enabled` events, whether
    /// anyone is told at all (email and inbox).
    pub enabled: bool,
}

fn view(e: EventKind, t: EmailTemplate) -> EmailTemplateView {
    use alm_notify::events::Audience::*;
    EmailTemplateView {
        event: e.key.into(),
        title: e.title.into(),
        recipients: match e.audience {
            SystemAdministrators => "system-administrators",
            ApproversOfTheStep => "approvers-of-the-step",
            Requester => "requester",
            Owners => "owners",
            NewUser => "new-user",
            SystemAdministratorsWhenEnabled => "system-administrators-when-enabled",
            Nobody => "nobody",
        }
        .into(),
        parameters: e.parameters.iter().map(|p| p.to_string()).collect(),
        subject: t.subject,
        body: t.body,
        enabled: t.enabled,
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailTemplateBody {
    #[schema(max_length = 500)]
    pub subject: Option<String>,
    #[schema(max_length = 20000)]
    pub body: Option<String>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewBody {
    /// Texts to try (default: the ones in force).
    pub subject: Option<String>,
    pub body: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewView {
    pub subject: String,
    pub body: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxView {
    pub id: String,
    pub event: String,
    pub recipient: String,
    pub subject: String,
    /// `pending`, `sent` or `failed`.
    pub status: String,
    pub attempts: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub next_attempt_at: OffsetDateTime,
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub sent_at: Option<OffsetDateTime>,
}

impl From<OutboxMessage> for OutboxView {
    fn from(m: OutboxMessage) -> Self {
        Self {
            id: m.id,
            event: m.event,
            recipient: m.recipient,
            subject: m.subject,
            status: m.status,
            attempts: m.attempts,
            next_attempt_at: m.next_attempt_at,
            last_error: m.last_error,
            created_at: m.created_at,
            sent_at: m.sent_at,
        }
    }
}

list_query!(OutboxQuery, "^-?(created_at|status|recipient)$", q: "Part of the recipient or subject, case-insensitive.", {
    #[param(pattern = "^(pending|sent|failed)$")]
    pub status: Option<String>,
});

page_of!(OutboxPage, OutboxView);
page_of!(EmailTemplatePage, EmailTemplateView);

list_query!(EmailTemplateQuery, "^-?(event|title)$", q: "Part of the event key, title or subject, case-insensitive.", {});

#[derive(Debug, Serialize, ToSchema)]
pub struct InboxEntryView {
    pub id: String,
    /// `requests`, `approvals`, `accounts` or `administration`.
    pub category: String,
    pub event: String,
    pub title: String,
    pub body: String,
    pub subject_type: Option<String>,
    pub subject_id: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub read_at: Option<OffsetDateTime>,
}

impl From<InboxEntry> for InboxEntryView {
    fn from(e: InboxEntry) -> Self {
        Self {
            id: e.id,
            category: e.category,
            event: e.event,
            title: e.title,
            body: e.body,
            subject_type: e.subject_type,
            subject_id: e.subject_id,
            created_at: e.created_at,
            read_at: e.read_at,
        }
    }
}

/// A page of the inbox (the paged envelope), with the unread counts beside it.
#[derive(Debug, Serialize, ToSchema)]
pub struct InboxPage {
    pub items: Vec<InboxEntryView>,
    /// How many entries match, over all pages.
    pub total: u64,
    pub limit: u32,
    pub offset: u64,
    /// Unread entries per category (of the whole inbox, whatever the page).
    pub unread: BTreeMap<String, i64>,
}

list_query!(InboxQuery, "^-?(created_at|category)$", q: "Part of the title, case-insensitive.", {
    /// Only unread entries.
    pub unread: Option<bool>,
});

#[derive(Debug, Serialize, ToSchema)]
pub struct MarkedView {
    pub marked: u64,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_templates))
        .routes(routes!(update_template))
        .routes(routes!(preview_template))
        .routes(routes!(list_outbox))
        .routes(routes!(get_inbox))
        .routes(routes!(read_entry))
        .routes(routes!(read_all))
}

/// Every event's email texts, recipients and parameters (in the events' order by default).
#[utoipa::path(get, path = "/api/v1/email-templates", tag = "notifications", params(EmailTemplateQuery),
    responses((status = 200, body = EmailTemplatePage)))]
async fn list_templates(
    State(s): State<AppState>,
    auth: Authenticated,
    ApiQuery(q): ApiQuery<EmailTemplateQuery>,
) -> ApiResult<Json<EmailTemplatePage>> {
    let can = auth.can::<perm::NotificationRead>()?;
    let page = q.page(&["event", "title"])?;
    let query = q.query();
    let views: Vec<(usize, EmailTemplateView)> = svc::templates(&s.db, &can)
        .await?
        .into_iter()
        .map(|(e, t)| view(e, t))
        .enumerate()
        .filter(|(_, v)| matches(query.as_deref(), &[&v.event, &v.title, &v.subject]))
        .collect();
    // `event` keeps the events' own order (the order of SPEC §7.2), which reads best.
    let (items, total) = page.slice(views, |key, (i, a), (j, b)| match key {
        "title" => a.title.cmp(&b.title).then(i.cmp(j)),
        _ => i.cmp(j),
    });
    Ok(Json(EmailTemplatePage::new(
        items.into_iter().map(|(_, v)| v).collect(),
        total,
        &page,
    )))
}

/// Change an event's subject, body or whether its email is sent.
#[utoipa::path(put, path = "/api/v1/email-templates/{event}", tag = "notifications", params(("event" = String, Path, description = "Event key")),
    request_body = EmailTemplateBody, responses((status = 200, body = EmailTemplateView)))]
async fn update_template(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(event): Path<String>,
    ApiJson(body): ApiJson<EmailTemplateBody>,
) -> ApiResult<Json<EmailTemplateView>> {
    let can = auth.can::<perm::NotificationUpdate>()?;
    let (e, t) = svc::update_template(
        &s.db,
        s.clock.as_ref(),
        &can,
        &auth.principal.actor,
        &event,
        svc::TemplateChange {
            subject: body.subject,
            body: body.body,
            enabled: body.enabled,
        },
    )
    .await?;
    Ok(Json(view(e, t)))
}

/// Render texts with sample values (each parameter shows its name).
#[utoipa::path(post, path = "/api/v1/email-templates/{event}/preview", tag = "notifications", params(("event" = String, Path, description = "Event key")),
    request_body = PreviewBody, responses((status = 200, body = PreviewView)))]
async fn preview_template(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(event): Path<String>,
    ApiJson(body): ApiJson<PreviewBody>,
) -> ApiResult<Json<PreviewView>> {
    let can = auth.can::<perm::NotificationRead>()?;
    let (subject, body) = svc::preview(&s.db, &can, &event, body.subject, body.body).await?;
    Ok(Json(PreviewView { subject, body }))
}

/// Emails, newest first: sent, waiting (with the last error) or given up.
#[utoipa::path(get, path = "/api/v1/outbox", tag = "notifications", params(OutboxQuery), responses((status = 200, body = OutboxPage)))]
async fn list_outbox(
    State(s): State<AppState>,
    auth: Authenticated,
    ApiQuery(q): ApiQuery<OutboxQuery>,
) -> ApiResult<Json<OutboxPage>> {
    let can = auth.can::<perm::NotificationRead>()?;
    if let Some(st) = q.status.as_deref() {
        if !["pending", "sent", "failed"].contains(&st) {
            return Err(ApiError::BadRequest {
                detail: "status: must be pending, sent or failed".into(),
                errors: vec![alm_core::FieldError::new(
                    "status",
                    "one-of",
                    "must be pending, sent or failed",
                )],
            });
        }
    }
    let page = q.page_or(alm_store::notifications::MESSAGE_SORT_KEYS, "-created_at")?;
    let (messages, total) = svc::outbox(
        &s.db,
        &can,
        q.status.as_deref(),
        q.query().as_deref(),
        &page,
    )
    .await?;
    Ok(Json(OutboxPage::new(
        messages.into_iter().map(Into::into).collect(),
        total,
        &page,
    )))
}

/// The caller's inbox, newest first, with unread counts per category.
#[utoipa::path(get, path = "/api/v1/inbox", tag = "notifications", params(InboxQuery), responses((status = 200, body = InboxPage)))]
async fn get_inbox(
    State(s): State<AppState>,
    auth: Authenticated,
    ApiQuery(q): ApiQuery<InboxQuery>,
) -> ApiResult<Json<InboxPage>> {
    let page = q.page_or(alm_store::notifications::INBOX_SORT_KEYS, "-created_at")?;
    let ((entries, total), unread) = svc::inbox(
        &s.db,
        auth.principal.user_id,
        q.unread.unwrap_or(false),
        q.query().as_deref(),
        &page,
    )
    .await?;
    Ok(Json(InboxPage {
        items: entries.into_iter().map(Into::into).collect(),
        total,
        limit: page.limit,
        offset: page.offset,
        unread: unread.into_iter().collect(),
    }))
}

/// Mark one of the caller's inbox entries read.
#[utoipa::path(post, path = "/api/v1/inbox/{id}/read", tag = "notifications", params(("id" = String, Path, description = "Inbox entry id")),
    responses((status = 200, body = MarkedView)))]
async fn read_entry(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<MarkedView>> {
    let marked = svc::mark_read(&s.db, s.clock.as_ref(), auth.principal.user_id, Some(&id)).await?;
    Ok(Json(MarkedView { marked }))
}

/// Mark every entry of the caller's inbox read.
#[utoipa::path(post, path = "/api/v1/inbox/read-all", tag = "notifications", responses((status = 200, body = MarkedView)))]
async fn read_all(
    State(s): State<AppState>,
    auth: Authenticated,
) -> ApiResult<(StatusCode, Json<MarkedView>)> {
    let marked = svc::mark_read(&s.db, s.clock.as_ref(), auth.principal.user_id, None).await?;
    Ok((StatusCode::OK, Json(MarkedView { marked })))
}

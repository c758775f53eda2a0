//! `/api/v1/audit`: search, page and export the audit log (SPEC §8).
//! Without `audit:manage` a reader sees only records of their own actions.

use super::error::{ApiError, ApiResult};
use super::extract::ApiQuery;
use super::page_of;
use crate::auth::principal::Authenticated;
use crate::services::audit as svc;
use crate::state::AppState;
use alm_core::paging::PageRequest;
use alm_core::permissions::perm;
use alm_core::FieldError;
use alm_store::audit_log::{AuditFilter, AuditRecord, Outcome};
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Exports stop at this many records; narrow the filter (e.g. by time) for more.
pub const EXPORT_MAX: u32 = 100_000;

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditRecordView {
    /// Position in the chain, from 1.
    pub seq: i64,
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// `user`, `anonymous`, `system` or `engine`.
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub actor_name: Option<String>,
    pub actor_email: Option<String>,
    pub source_ip: Option<String>,
    pub action: String,
    pub object_type: String,
    pub object_id: Option<String>,
    /// `success`, `denied` or `failure`.
    pub outcome: String,
    /// Before/after summary; never holds secrets.
    #[schema(value_type = Object)]
    pub summary: serde_json::Value,
    pub hash: String,
}

impl From<AuditRecord> for AuditRecordView {
    fn from(r: AuditRecord) -> Self {
        Self {
            seq: r.seq,
            id: r.id,
            at: r.at,
            actor_kind: r.actor_kind.as_str().to_owned(),
            actor_id: r.actor_id,
            actor_name: r.personal.actor_name,
            actor_email: r.personal.actor_email,
            source_ip: r.personal.source_ip,
            action: r.action,
            object_type: r.object_type,
            object_id: r.object_id,
            outcome: r.outcome.as_str().to_owned(),
            summary: r.summary,
            hash: r.hash,
        }
    }
}

page_of!(AuditPage, AuditRecordView);

/// Declares the audit filter parameters, shared by the search and the export.
macro_rules! audit_query {
    ($name:ident { $($extra:tt)* }) => {
        #[derive(Debug, Deserialize, IntoParams)]
        #[serde(deny_unknown_fields)]
        #[into_params(parameter_in = Query)]
        pub struct $name {
            #[param(minimum = 0, maximum = 9223372036854775807_i64)]
            pub offset: Option<u64>,
            /// `seq` (oldest first) or `-seq` (newest first, the default).
            #[param(pattern = "^-?seq$")]
            pub sort: Option<String>,
            /// A user id (UUID).
            #[param(format = Uuid)]
            pub actor_id: Option<String>,
            /// e.g. `user.disabled`, `login.password`, `access.denied`.
            pub action: Option<String>,
            pub object_type: Option<String>,
            pub object_id: Option<String>,
            /// `success`, `denied` or `failure`.
            #[param(pattern = "^(success|denied|failure)$")]
            pub outcome: Option<String>,
            /// Records at or after this instant (RFC 3339).
            #[param(format = DateTime)]
            pub since: Option<String>,
            /// Records before this instant (RFC 3339).
            #[param(format = DateTime)]
            pub until: Option<String>,
            $($extra)*
        }

        impl AuditFilterParams for $name {
            fn params(&self) -> FilterParams<'_> {
                FilterParams {
                    limit: self.limit,
                    offset: self.offset,
                    sort: self.sort.as_deref(),
                    actor_id: &self.actor_id,
                    action: &self.action,
                    object_type: &self.object_type,
                    object_id: &self.object_id,
                    outcome: self.outcome.as_deref(),
                    since: &self.since,
                    until: &self.until,
                }
            }
        }
    };
}

audit_query!(AuditQuery {
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
});
audit_query!(ExportQuery {
    /// At most this many records, 1 to 100,000 (the default).
    #[param(minimum = 1, maximum = 100000)]
    pub limit: Option<u32>,
    /// `json` (default) or `csv`.
    #[param(pattern = "^(json|csv)$")]
    pub format: Option<String>,
});

/// The filter and paging fields both query types share.
struct FilterParams<'a> {
    limit: Option<u32>,
    offset: Option<u64>,
    sort: Option<&'a str>,
    actor_id: &'a Option<String>,
    action: &'a Option<String>,
    object_type: &'a Option<String>,
    object_id: &'a Option<String>,
    outcome: Option<&'a str>,
    since: &'a Option<String>,
    until: &'a Option<String>,
}

trait AuditFilterParams {
    fn params(&self) -> FilterParams<'_>;
}

impl FilterParams<'_> {
    fn filter(&self) -> ApiResult<AuditFilter> {
        let mut errors = Vec::new();
        let instant = |field: &str, v: &Option<String>, errors: &mut Vec<FieldError>| {
            v.as_deref().and_then(|t| {
                OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                    .map_err(|_| {
                        errors.push(FieldError::new(
                            field,
                            "format",
                            "expected an RFC 3339 instant such as 2026-01-31T00:00:00Z",
                        ))
                    })
                    .ok()
            })
        };
        // Actors are users: an id that is not a UUID matches nothing, so it is a mistake.
        let actor_id = self.actor_id.as_deref().and_then(|a| {
            uuid::Uuid::parse_str(a)
                .map_err(|_| {
                    errors.push(FieldError::new(
                        "actor_id",
                        "format",
                        "expected a user id (a UUID)",
                    ))
                })
                .ok()
        });
        let since = instant("since", self.since, &mut errors);
        let until = instant("until", self.until, &mut errors);
        let outcome = match self.outcome {
            None => None,
            Some(o) => match Outcome::parse(o) {
                Some(o) => Some(o),
                None => {
                    errors.push(FieldError::new(
                        "outcome",
                        "one-of",
                        "must be success, denied or failure",
                    ));
                    None
                }
            },
        };
        if !errors.is_empty() {
            return Err(ApiError::BadRequest {
                detail: "bad audit filter".into(),
                errors,
            });
        }
        Ok(AuditFilter {
            actor_id: actor_id.map(|a| a.to_string()),
            action: self.action.clone(),
            object_type: self.object_type.clone(),
            object_id: self.object_id.clone(),
            outcome,
            not_outcome: None,
            since,
            until,
        })
    }

    /// The page: `limit` from 1 to `max_limit` (default `default_limit`), sorted by `seq`.
    fn page(&self, default_limit: u32, max_limit: u32) -> ApiResult<PageRequest> {
        let bad = |e: alm_core::ValidationErrors| ApiError::BadRequest {
            detail: e.to_string(),
            errors: e.0,
        };
        let mut page = PageRequest::parse(
            None,
            self.offset,
            Some(self.sort.unwrap_or("-seq")),
            &["seq"],
        )
        .map_err(bad)?;
        page.limit = match self.limit {
            None => default_limit,
            Some(l) if (1..=max_limit).contains(&l) => l,
            Some(_) => {
                return Err(bad(FieldError::new(
                    "limit",
                    "range",
                    format!("must be between 1 and {max_limit}"),
                )
                .into()))
            }
        };
        Ok(page)
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search_audit))
        .routes(routes!(export_audit))
        .routes(routes!(verify_audit))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyView {
    /// Records whose links were checked before the first broken one (all when intact).
    pub checked: u64,
    pub intact: bool,
    /// The first record whose link is broken, when one is.
    pub first_broken: Option<BrokenView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BrokenView {
    pub seq: i64,
    /// What is wrong: altered, missing, out of order, cut from the end.
    pub reason: String,
}

/// Verify the audit chain from the first record (the check of `alm db verify-audit`); needs
/// `audit:manage`.
#[utoipa::path(post, path = "/api/v1/audit/verify", tag = "audit",
    responses((status = 200, body = VerifyView), (status = 403)))]
async fn verify_audit(
    State(s): State<AppState>,
    auth: Authenticated,
) -> ApiResult<Json<VerifyView>> {
    let can = auth.can::<perm::AuditRead>()?;
    let report = svc::verify_chain(&s.db, &can).await?;
    Ok(Json(VerifyView {
        checked: report.checked,
        intact: report.first_broken.is_none(),
        first_broken: report.first_broken.map(|b| BrokenView {
            seq: b.seq,
            reason: b.reason,
        }),
    }))
}

/// Search the audit log.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery), responses((status = 200, body = AuditPage)))]
async fn search_audit(
    State(s): State<AppState>,
    auth: Authenticated,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    let can = auth.can::<perm::AuditRead>()?;
    let params = q.params();
    let page = params.page(alm_core::paging::DEFAULT_LIMIT, alm_core::paging::MAX_LIMIT)?;
    let (items, total) = svc::search(&s.db, &can, params.filter()?, &page).await?;
    Ok(Json(AuditPage::new(
        items.into_iter().map(Into::into).collect(),
        total,
        &page,
    )))
}

/// Export matching records as a JSON array or CSV file (at most 100,000 per call).
#[utoipa::path(get, path = "/api/v1/audit/export", tag = "audit", params(ExportQuery),
    responses((status = 200, description = "The records", content(
        (Vec<AuditRecordView> = "application/json"),
        (String = "text/csv")))))]
async fn export_audit(
    State(s): State<AppState>,
    auth: Authenticated,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> ApiResult<Response> {
    let can = auth.can::<perm::AuditRead>()?;
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => {
            return Err(ApiError::BadRequest {
                detail: "unknown export format".into(),
                errors: vec![FieldError::new("format", "one-of", "must be json or csv")],
            })
        }
    };
    let params = q.params();
    let page = params.page(EXPORT_MAX, EXPORT_MAX)?;
    let (items, _) = svc::search(&s.db, &can, params.filter()?, &page).await?;
    export_response(items, csv)
}

/// The records as a downloaded file: a JSON array of [`AuditRecordView`], or CSV with the same
/// fields as columns (the summary as JSON text). The browser's export answers with it too.
pub(crate) fn export_response(items: Vec<AuditRecord>, csv: bool) -> ApiResult<Response> {
    let views: Vec<AuditRecordView> = items.into_iter().map(Into::into).collect();
    if !csv {
        let mut response = Json(views).into_response();
        response.headers_mut().insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment; filename=\"alm-audit.json\""),
        );
        return Ok(response);
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    let header_row = [
        "seq",
        "id",
        "at",
        "actor_kind",
        "actor_id",
        "actor_name",
        "actor_email",
        "source_ip",
        "action",
        "object_type",
        "object_id",
        "outcome",
        "summary",
        "hash",
    ];
    let io = |e: csv::Error| ApiError::Internal(e.into());
    writer.write_record(header_row).map_err(io)?;
    for v in &views {
        let at =
            v.at.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
        writer
            .write_record([
                v.seq.to_string().as_str(),
                &v.id,
                &at,
                &v.actor_kind,
                v.actor_id.as_deref().unwrap_or(""),
                v.actor_name.as_deref().unwrap_or(""),
                v.actor_email.as_deref().unwrap_or(""),
                v.source_ip.as_deref().unwrap_or(""),
                &v.action,
                &v.object_type,
                v.object_id.as_deref().unwrap_or(""),
                &v.outcome,
                &v.summary.to_string(),
                &v.hash,
            ])
            .map_err(io)?;
    }
    let body = writer
        .into_inner()
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("csv: {e}")))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"alm-audit.csv\""),
            ),
        ],
        body,
    )
        .into_response())
}

//! `/api/v1/siem-integrations` (SPEC §7.5): where alm's events and audit records go, and a
//! test message.

use super::error::ApiResult;
use super::extract::{parse_id, ApiJson, ApiQuery};
use super::{list_query, page_of};
use crate::auth::principal::Authenticated;
use crate::services::siem::{self as svc, SiemInput, SiemTestResult};
use crate::state::AppState;
use alm_core::paging::matches;
use alm_core::permissions::perm;
use alm_store::integrations::SiemRecord;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Debug, Serialize, ToSchema)]
pub struct SiemView {
    pub id: String,
    pub name: String,
    pub server: String,
    pub port: i64,
    /// `udp`, `tcp` or `tls`.
    pub protocol: String,
    /// `rfc5424`, `cef` or `json-lines`.
    pub format: String,
    pub ca_pem: Option<String>,
    pub enabled: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Messages waiting in the outbox for this receiver (retried until delivered, never dropped).
    pub waiting: i64,
    /// Why the latest attempt for a waiting message failed; `null` when none failed.
    pub last_error: Option<String>,
}

/// The view of `r` with what waits for it.
async fn view(s: &AppState, r: SiemRecord) -> ApiResult<SiemView> {
    let (waiting, last_error) = svc::backlog(&s.db, &r.id).await?;
    let mut v = SiemView::from(r);
    v.waiting = waiting;
    v.last_error = last_error;
    Ok(v)
}

impl From<SiemRecord> for SiemView {
    fn from(r: SiemRecord) -> Self {
        Self {
            id: r.id,
            name: r.name,
            server: r.server,
            port: r.port,
            protocol: r.protocol,
            format: r.format,
            ca_pem: r.ca_pem,
            enabled: r.enabled,
            created_at: r.created_at,
            updated_at: r.updated_at,
            waiting: 0,
            last_error: None,
        }
    }
}

/// A SIEM integration's settings; on a change, fields left out keep their values.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SiemBody {
    #[schema(min_length = 1, max_length = 128)]
    pub name: Option<String>,
    /// Host name or IP address (for TLS, the name the receiver's certificate carries).
    #[schema(min_length = 1, max_length = 253)]
    pub server: Option<String>,
    #[schema(minimum = 1, maximum = 65535)]
    pub port: Option<i64>,
    #[schema(pattern = "^(udp|tcp|tls)$")]
    pub protocol: Option<String>,
    #[schema(pattern = "^(rfc5424|cef|json-lines)$")]
    pub format: Option<String>,
    /// PEM CA certificate(s) for TLS; empty removes it (the system's trust store is used).
    pub ca_pem: Option<String>,
    pub enabled: Option<bool>,
}

impl From<SiemBody> for SiemInput {
    fn from(b: SiemBody) -> Self {
        SiemInput {
            name: b.name,
            server: b.server,
            port: b.port,
            protocol: b.protocol,
            format: b.format,
            ca_pem: b.ca_pem,
            enabled: b.enabled,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SiemTestView {
    pub delivered: bool,
    pub error: Option<String>,
    /// Whether trying later may work without a change (receiver down, timeout).
    pub transient: bool,
}

impl From<SiemTestResult> for SiemTestView {
    fn from(r: SiemTestResult) -> Self {
        Self {
            delivered: r.delivered,
            error: r.error,
            transient: r.transient,
        }
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_siem, create_siem))
        .routes(routes!(get_siem, update_siem, delete_siem))
        .routes(routes!(test_siem))
}

const ID: &str = "SIEM integration id";

fn siem_id(id: &str) -> ApiResult<String> {
    Ok(parse_id::<uuid::Uuid>(id, "SIEM integration")?.to_string())
}

list_query!(SiemQuery, "^-?(name|created_at)$", q: "Part of the name or server, case-insensitive.", {});
page_of!(SiemPage, SiemView);

/// The SIEM integrations, by name.
#[utoipa::path(get, path = "/api/v1/siem-integrations", tag = "siem", params(SiemQuery), responses((status = 200, body = SiemPage)))]
async fn list_siem(
    State(s): State<AppState>,
    auth: Authenticated,
    ApiQuery(q): ApiQuery<SiemQuery>,
) -> ApiResult<Json<SiemPage>> {
    let can = auth.can::<perm::SiemRead>()?;
    let page = q.page(&["name", "created_at"])?;
    let query = q.query();
    let found: Vec<SiemRecord> = svc::list(&s.db, &can)
        .await?
        .into_iter()
        .filter(|r| matches(query.as_deref(), &[&r.name, &r.server]))
        .collect();
    let (records, total) = page.slice(found, |key, a, b| {
        match key {
            "created_at" => a.created_at.cmp(&b.created_at),
            _ => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
        }
        .then(a.id.cmp(&b.id))
    });
    let mut items = Vec::with_capacity(records.len());
    for r in records {
        items.push(view(&s, r).await?);
    }
    Ok(Json(SiemPage::new(items, total, &page)))
}

/// Add a SIEM integration (name, server, port, protocol and format are required).
#[utoipa::path(post, path = "/api/v1/siem-integrations", tag = "siem", request_body = SiemBody, responses((status = 201, body = SiemView)))]
async fn create_siem(
    State(s): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<SiemBody>,
) -> ApiResult<(StatusCode, Json<SiemView>)> {
    let can = auth.can::<perm::SiemCreate>()?;
    let host = crate::workers::integrations::siem_hostname(&s.config);
    let r = svc::create(
        &s.db,
        s.clock.as_ref(),
        &host,
        &can,
        &auth.principal.actor,
        body.into(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(view(&s, r).await?)))
}

/// One SIEM integration.
#[utoipa::path(get, path = "/api/v1/siem-integrations/{id}", tag = "siem", params(("id" = String, Path, description = ID)), responses((status = 200, body = SiemView)))]
async fn get_siem(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<SiemView>> {
    let can = auth.can::<perm::SiemRead>()?;
    let id = siem_id(&id)?;
    let r = svc::get(&s.db, &can, &id).await?;
    Ok(Json(view(&s, r).await?))
}

/// Change a SIEM integration.
#[utoipa::path(patch, path = "/api/v1/siem-integrations/{id}", tag = "siem", params(("id" = String, Path, description = ID)),
    request_body = SiemBody, responses((status = 200, body = SiemView)))]
async fn update_siem(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SiemBody>,
) -> ApiResult<Json<SiemView>> {
    let can = auth.can::<perm::SiemUpdate>()?;
    let id = siem_id(&id)?;
    let host = crate::workers::integrations::siem_hostname(&s.config);
    let r = svc::update(
        &s.db,
        s.clock.as_ref(),
        &host,
        &can,
        &auth.principal.actor,
        &id,
        body.into(),
    )
    .await?;
    Ok(Json(view(&s, r).await?))
}

/// Remove a SIEM integration and the messages still waiting for it.
#[utoipa::path(delete, path = "/api/v1/siem-integrations/{id}", tag = "siem", params(("id" = String, Path, description = ID)), responses((status = 204)))]
async fn delete_siem(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let can = auth.can::<perm::SiemDelete>()?;
    let id = siem_id(&id)?;
    svc::delete(&s.db, s.clock.as_ref(), &can, &auth.principal.actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Send the test message (`siem.test`) now and say whether it left.
#[utoipa::path(post, path = "/api/v1/siem-integrations/{id}/test", tag = "siem", params(("id" = String, Path, description = ID)), responses((status = 200, body = SiemTestView)))]
async fn test_siem(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<SiemTestView>> {
    let can = auth.can::<perm::SiemUpdate>()?;
    let id = siem_id(&id)?;
    let host = crate::workers::integrations::siem_hostname(&s.config);
    Ok(Json(
        svc::test(
            &s.db,
            s.clock.as_ref(),
            &host,
            &can,
            &auth.principal.actor,
            &id,
        )
        .await?
        .into(),
    ))
}

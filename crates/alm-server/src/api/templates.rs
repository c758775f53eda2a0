//! `/api/v1/templates`: workflow templates (SPEC §2.4) — definition, versions, publishing.

use super::error::{ApiError, ApiResult};
use super::extract::{parse_id, ApiJson, ApiQuery};
use super::{list_query, page_of};
use crate::auth::principal::Authenticated;
use crate::services::templates::{self as svc, TemplateInfo};
use crate::state::AppState;
use alm_core::paging::matches;
use alm_core::permissions::{perm, Feature, Permission, Right};
use alm_core::templates::{TemplateDefinition, TemplateState};
use alm_store::templates::VersionRecord;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionView {
    pub number: i64,
    /// `draft`, `needs-approval`, `published` or `superseded`.
    pub state: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub published_at: Option<OffsetDateTime>,
    pub definition: TemplateDefinition,
}

fn version_view(v: VersionRecord, definition: TemplateDefinition) -> VersionView {
    VersionView {
        number: v.version,
        state: v.state.as_str().to_owned(),
        created_at: v.created_at,
        published_at: v.published_at,
        definition,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateView {
    pub id: Uuid,
    pub name: String,
    /// `draft`, `published`, `unpublished` or `disabled`.
    pub state: String,
    /// The version new requests use.
    pub published_version: Option<i64>,
    pub latest_version: i64,
    /// The version shown: the latest for template managers, the published one for requesters.
    pub version: VersionView,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<TemplateInfo> for TemplateView {
    fn from(i: TemplateInfo) -> Self {
        Self {
            id: i.template.id,
            name: i.template.name,
            state: i.template.state.as_str().to_owned(),
            published_version: i.template.published_version,
            latest_version: i.template.latest_version,
            version: version_view(i.version, i.definition),
            created_at: i.template.created_at,
            updated_at: i.template.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTemplateBody {
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub name: String,
    pub definition: TemplateDefinition,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTemplateBody {
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub name: Option<String>,
    /// Replaces the draft version's definition as a whole.
    pub definition: Option<TemplateDefinition>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_templates, create_template))
        .routes(routes!(get_template, update_template, delete_template))
        .routes(routes!(list_versions, create_version))
        .routes(routes!(publish_template))
        .routes(routes!(unpublish_template))
        .routes(routes!(disable_template))
}

const ID: &str = "Template id";

list_query!(TemplateQuery, "^-?(name|created_at|updated_at)$", q: "Part of the name, case-insensitive.", {
    /// Only templates in this state: `draft`, `published`, `unpublished` or `disabled`.
    #[param(pattern = "^(draft|published|unpublished|disabled)$")]
    pub state: Option<String>,
});
list_query!(VersionQuery, "^-?number$", {});
page_of!(TemplatePage, TemplateView);
page_of!(VersionPage, VersionView);

/// Templates the caller may see (managers: all; requesters: published ones for their groups),
/// by name.
#[utoipa::path(get, path = "/api/v1/templates", tag = "templates", params(TemplateQuery), responses((status = 200, body = TemplatePage)))]
async fn list_templates(
    State(s): State<AppState>,
    auth: Authenticated,
    ApiQuery(q): ApiQuery<TemplateQuery>,
) -> ApiResult<Json<TemplatePage>> {
    let can = auth.can::<perm::TemplateRead>()?;
    if let Some(st) = q.state.as_deref() {
        if TemplateState::parse(st).is_none() {
            return Err(ApiError::BadRequest {
                detail: "state: must be draft, published, unpublished or disabled".into(),
                errors: vec![alm_core::FieldError::new(
                    "state",
                    "one-of",
                    "must be draft, published, unpublished or disabled",
                )],
            });
        }
    }
    let page = q.page(&["name", "created_at", "updated_at"])?;
    let query = q.query();
    // The audience decides per template what a requester sees: filtered, then paged, here.
    let found: Vec<TemplateInfo> = svc::list(&s.db, &can)
        .await?
        .into_iter()
        .filter(|t| {
            q.state
                .as_deref()
                .is_none_or(|st| t.template.state.as_str() == st)
        })
        .filter(|t| matches(query.as_deref(), &[&t.template.name]))
        .collect();
    let (items, total) = page.slice(found, |key, a, b| {
        let (a, b) = (&a.template, &b.template);
        match key {
            "created_at" => a.created_at.cmp(&b.created_at),
            "updated_at" => a.updated_at.cmp(&b.updated_at),
            _ => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
        }
        .then(a.id.cmp(&b.id))
    });
    Ok(Json(TemplatePage::new(
        items.into_iter().map(Into::into).collect(),
        total,
        &page,
    )))
}

/// Create a template (a draft, version 1); every rule is checked now.
#[utoipa::path(post, path = "/api/v1/templates", tag = "templates", request_body = CreateTemplateBody,
    responses((status = 201, body = TemplateView)))]
async fn create_template(
    State(s): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<CreateTemplateBody>,
) -> ApiResult<(StatusCode, Json<TemplateView>)> {
    let can = auth.can::<perm::TemplateCreate>()?;
    let t = svc::create(
        &s.db,
        s.clock.as_ref(),
        &can,
        &auth.principal.actor,
        &body.name,
        body.definition,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(t.into())))
}

/// One template.
#[utoipa::path(get, path = "/api/v1/templates/{id}", tag = "templates", params(("id" = String, Path, description = ID)),
    responses((status = 200, body = TemplateView)))]
async fn get_template(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<TemplateView>> {
    let can = auth.can::<perm::TemplateRead>()?;
    let id: Uuid = parse_id(&id, "template")?;
    Ok(Json(svc::get(&s.db, &can, id).await?.into()))
}

/// Rename, or change the draft version (an unpublished template gets a new draft version; a
/// published one is never edited in place).
#[utoipa::path(patch, path = "/api/v1/templates/{id}", tag = "templates", params(("id" = String, Path, description = ID)),
    request_body = UpdateTemplateBody, responses((status = 200, body = TemplateView)))]
async fn update_template(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateTemplateBody>,
) -> ApiResult<Json<TemplateView>> {
    let can = auth.can::<perm::TemplateUpdate>()?;
    let id: Uuid = parse_id(&id, "template")?;
    let t = svc::update(
        &s.db,
        s.clock.as_ref(),
        &can,
        &auth.principal.actor,
        id,
        body.name.as_deref(),
        body.definition,
    )
    .await?;
    Ok(Json(t.into()))
}

/// Remove a template that was never published.
#[utoipa::path(delete, path = "/api/v1/templates/{id}", tag = "templates", params(("id" = String, Path, description = ID)),
    responses((status = 204)))]
async fn delete_template(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let can = auth.can::<perm::TemplateDelete>()?;
    let id: Uuid = parse_id(&id, "template")?;
    svc::delete(&s.db, s.clock.as_ref(), &can, &auth.principal.actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every version of the template, oldest first (requesters: the published one).
#[utoipa::path(get, path = "/api/v1/templates/{id}/versions", tag = "templates", params(("id" = String, Path, description = ID), VersionQuery),
    responses((status = 200, body = VersionPage)))]
async fn list_versions(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<VersionQuery>,
) -> ApiResult<Json<VersionPage>> {
    let can = auth.can::<perm::TemplateRead>()?;
    let id: Uuid = parse_id(&id, "template")?;
    let page = q.page(&["number"])?;
    let versions = svc::versions(&s.db, &can, id).await?;
    let (items, total) = page.slice(versions, |_, (a, _), (b, _)| a.version.cmp(&b.version));
    Ok(Json(VersionPage::new(
        items.into_iter().map(|(v, d)| version_view(v, d)).collect(),
        total,
        &page,
    )))
}

/// Create a new version: a draft copy of the latest one.
#[utoipa::path(post, path = "/api/v1/templates/{id}/versions", tag = "templates", params(("id" = String, Path, description = ID)),
    responses((status = 201, body = TemplateView)))]
async fn create_version(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<TemplateView>)> {
    let can = auth.can::<perm::TemplateCreate>()?;
    let id: Uuid = parse_id(&id, "template")?;
    let t = svc::new_version(&s.db, s.clock.as_ref(), &can, &auth.principal.actor, id).await?;
    Ok((StatusCode::CREATED, Json(t.into())))
}

/// Publish the latest version; prepared by someone without
/// `provision-template-workflow:manage`, it waits for a holder's approval (`needs-approval`),
/// given by that holder calling this again.
#[utoipa::path(post, path = "/api/v1/templates/{id}/publish", tag = "templates", params(("id" = String, Path, description = ID)),
    responses((status = 200, body = TemplateView)))]
async fn publish_template(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<TemplateView>> {
    let can = auth.can::<perm::TemplateUpdate>()?;
    let id: Uuid = parse_id(&id, "template")?;
    let manager = auth.principal.permissions.has(Permission::new(
        Feature::ProvisionTemplateWorkflow,
        Right::Manage,
    ));
    let t = svc::publish(
        &s.db,
        s.clock.as_ref(),
        &can,
        &auth.principal.actor,
        id,
        manager,
        &s.config.base_url(),
    )
    .await?;
    Ok(Json(t.into()))
}

/// Stop offering the template to requesters (it can be changed and published again).
#[utoipa::path(post, path = "/api/v1/templates/{id}/unpublish", tag = "templates", params(("id" = String, Path, description = ID)),
    responses((status = 200, body = TemplateView)))]
async fn unpublish_template(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<TemplateView>> {
    let can = auth.can::<perm::TemplateUpdate>()?;
    let id: Uuid = parse_id(&id, "template")?;
    let t = svc::set_state(
        &s.db,
        s.clock.as_ref(),
        &can,
        &auth.principal.actor,
        id,
        TemplateState::Unpublished,
        &s.config.base_url(),
    )
    .await?;
    Ok(Json(t.into()))
}

/// Disable the template for good: no new requests (accounts made from it keep it).
#[utoipa::path(post, path = "/api/v1/templates/{id}/disable", tag = "templates", params(("id" = String, Path, description = ID)),
    responses((status = 200, body = TemplateView)))]
async fn disable_template(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<TemplateView>> {
    let can = auth.can::<perm::TemplateUpdate>()?;
    let id: Uuid = parse_id(&id, "template")?;
    let t = svc::set_state(
        &s.db,
        s.clock.as_ref(),
        &can,
        &auth.principal.actor,
        id,
        TemplateState::Disabled,
        &s.config.base_url(),
    )
    .await?;
    Ok(Json(t.into()))
}

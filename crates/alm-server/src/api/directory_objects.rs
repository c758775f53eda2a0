//! `/api/v1/domains/{id}/objects` and `/api/v1/domains/{id}/attributes`: what the domain's
//! syncs found in the directory (OUs, accounts, groups) and its schema's attribute names.

use super::domains::{bad_query, ID};
use super::error::ApiResult;
use super::extract::{parse_id, ApiQuery};
use super::{list_query, page_of};
use crate::auth::principal::Authenticated;
use crate::services::domain_sync;
use crate::state::AppState;
use alm_core::permissions::perm;
use alm_core::DomainId;
use alm_store::directory_sync::DirectoryObject;
use axum::extract::{Path, State};
use axum::Json;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_objects))
        .routes(routes!(list_attributes))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DirectoryObjectView {
    /// The objectGUID.
    pub guid: String,
    /// `user`, `gmsa`, `msa`, `group` or `ou`.
    pub kind: String,
    pub dn: String,
    pub name: String,
    pub enabled: bool,
    /// Kind-specific details (UPN, description, accountExpires, members, SID).
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    #[serde(with = "time::serde::rfc3339")]
    pub synced_at: OffsetDateTime,
}

impl From<DirectoryObject> for DirectoryObjectView {
    fn from(o: DirectoryObject) -> Self {
        Self {
            guid: o.guid,
            kind: o.kind,
            dn: o.dn,
            name: o.name,
            enabled: o.enabled,
            details: o.details,
            synced_at: o.synced_at,
        }
    }
}

page_of!(DirectoryObjectPage, DirectoryObjectView);

list_query!(ObjectQuery, "^-?(name|dn|synced_at)$", q: "Part of the name or DN, case-insensitive.", {
    /// `user`, `gmsa`, `msa`, `group` or `ou`.
    #[param(pattern = "^(user|gmsa|msa|group|ou)$")]
    pub kind: Option<String>,
});
list_query!(AttributeQuery, "^-?name$", q: "Part of the name, case-insensitive.", {});
page_of!(AttributePage, String);

/// What the last syncs found in the directory: OUs, accounts and groups.
#[utoipa::path(get, path = "/api/v1/domains/{id}/objects", tag = "domains", params(("id" = String, Path, description = ID), ObjectQuery),
    responses((status = 200, body = DirectoryObjectPage)))]
async fn list_objects(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ObjectQuery>,
) -> ApiResult<Json<DirectoryObjectPage>> {
    let can = auth.can::<perm::DomainRead>()?;
    let id: DomainId = parse_id(&id, "domain")?;
    if let Some(k) = q.kind.as_deref() {
        if !["user", "gmsa", "msa", "group", "ou"].contains(&k) {
            return Err(bad_query(
                "kind",
                "one-of",
                "must be user, gmsa, msa, group or ou",
            ));
        }
    }
    let page = q.page(alm_store::directory_sync::OBJECT_SORT_KEYS)?;
    let (items, total) = domain_sync::objects(
        &s.db,
        &can,
        id,
        q.kind.as_deref(),
        q.query().as_deref(),
        &page,
    )
    .await?;
    Ok(Json(DirectoryObjectPage::new(
        items.into_iter().map(Into::into).collect(),
        total,
        &page,
    )))
}

/// The attribute names of the domain's schema (from its last full sync): what templates may set.
#[utoipa::path(get, path = "/api/v1/domains/{id}/attributes", tag = "domains", params(("id" = String, Path, description = ID), AttributeQuery),
    responses((status = 200, body = AttributePage)))]
async fn list_attributes(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<AttributeQuery>,
) -> ApiResult<Json<AttributePage>> {
    let can = auth.can::<perm::DomainRead>()?;
    let id: DomainId = parse_id(&id, "domain")?;
    let page = q.page(&["name"])?;
    let (names, total) =
        domain_sync::attributes(&s.db, &can, id, q.query().as_deref(), &page).await?;
    Ok(Json(AttributePage::new(names, total, &page)))
}

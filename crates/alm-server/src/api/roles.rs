//! `/api/v1/roles`: roles, their permissions and who holds them (SPEC §2.3).

use super::error::ApiResult;
use super::extract::{parse_id, ApiJson, ApiQuery};
use super::groups::MemberBody;
use super::{list_query, page_of};
use crate::auth::principal::Authenticated;
use crate::services::roles::{self as svc, CreateRole, UpdateRole};
use crate::state::AppState;
use alm_core::permissions::perm;
use alm_core::{RoleId, UserId};
use alm_store::roles::{RoleFilter, RoleRecord, SORT_KEYS};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleView {
    pub id: RoleId,
    pub name: String,
    pub description: String,
    pub enabled: bool,
    /// Given to every user created from now on.
    pub auto_apply: bool,
    /// The stable key of a built-in role (`system-administrator`, …); absent for custom roles.
    pub builtin_key: Option<String>,
    /// `feature:right` pairs.
    pub permissions: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<RoleRecord> for RoleView {
    fn from(r: RoleRecord) -> Self {
        Self {
            id: r.id,
            name: r.name,
            description: r.description,
            enabled: r.enabled,
            auto_apply: r.auto_apply,
            builtin_key: r.builtin_key,
            permissions: r.permissions.iter().map(|p| p.to_string()).collect(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

page_of!(RolePage, RoleView);
list_query!(RoleListQuery, "^-?(name|created_at|updated_at)$");

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRoleBody {
    /// 1 to 128 characters, unique (case-insensitive).
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub description: String,
    /// `feature:right` pairs, e.g. `audit:read`.
    #[serde(default)]
    #[schema(value_type = Vec<super::PermissionText>)]
    pub permissions: Vec<String>,
    /// Default true.
    pub enabled: Option<bool>,
    /// Default false.
    pub auto_apply: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRoleBody {
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub name: Option<String>,
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    /// Replaces the whole list.
    #[schema(value_type = Option<Vec<super::PermissionText>>)]
    pub permissions: Option<Vec<String>>,
    pub auto_apply: Option<bool>,
}

/// A holder of the role.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleMemberView {
    /// `user` (holds the role directly) or `group` (its enabled members hold it).
    pub kind: String,
    pub id: uuid::Uuid,
    /// The user's display name or the group's name.
    pub name: String,
    pub enabled: bool,
}

page_of!(RoleMemberPage, RoleMemberView);
list_query!(RoleMemberQuery, "^-?(kind|name)$", q: "Part of the name, case-insensitive.", {});

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_roles, create_role))
        .routes(routes!(get_role, update_role, delete_role))
        .routes(routes!(enable_role))
        .routes(routes!(disable_role))
        .routes(routes!(list_role_members, add_role_member))
        .routes(routes!(remove_role_member))
}

const ID: &str = "Role id";

/// List roles (own scope: those you hold; with `role:manage`: all).
#[utoipa::path(get, path = "/api/v1/roles", tag = "roles", params(RoleListQuery), responses((status = 200, body = RolePage)))]
async fn list_roles(
    State(s): State<AppState>,
    auth: Authenticated,
    ApiQuery(q): ApiQuery<RoleListQuery>,
) -> ApiResult<Json<RolePage>> {
    let can = auth.can::<perm::RoleRead>()?;
    let page = q.page(SORT_KEYS)?;
    let filter = RoleFilter {
        query: q.query(),
        enabled: q.enabled,
        held_by: None,
    };
    let (items, total) = svc::list(&s.db, &can, filter, &page).await?;
    Ok(Json(RolePage::new(
        items.into_iter().map(Into::into).collect(),
        total,
        &page,
    )))
}

/// Create a custom role (only with permissions you hold, unless you hold `role:manage`).
#[utoipa::path(post, path = "/api/v1/roles", tag = "roles", request_body = CreateRoleBody, responses((status = 201, body = RoleView)))]
async fn create_role(
    State(s): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<CreateRoleBody>,
) -> ApiResult<(StatusCode, Json<RoleView>)> {
    let can = auth.can::<perm::RoleCreate>()?;
    let input = CreateRole {
        name: body.name,
        description: body.description,
        permissions: body.permissions,
        enabled: body.enabled.unwrap_or(true),
        auto_apply: body.auto_apply.unwrap_or(false),
    };
    let r = svc::create(
        &s.db,
        s.clock.as_ref(),
        &can,
        &auth.principal.permissions,
        &auth.principal.actor,
        input,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(r.into())))
}

/// One role with its permissions.
#[utoipa::path(get, path = "/api/v1/roles/{id}", tag = "roles", params(("id" = String, Path, description = ID)), responses((status = 200, body = RoleView)))]
async fn get_role(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<RoleView>> {
    let can = auth.can::<perm::RoleRead>()?;
    let id: RoleId = parse_id(&id, "role")?;
    Ok(Json(svc::get(&s.db, &can, id).await?.into()))
}

/// Change a role (needs `role:manage`).
#[utoipa::path(patch, path = "/api/v1/roles/{id}", tag = "roles", params(("id" = String, Path, description = ID)),
    request_body = UpdateRoleBody, responses((status = 200, body = RoleView)))]
async fn update_role(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateRoleBody>,
) -> ApiResult<Json<RoleView>> {
    let can = auth.can::<perm::RoleUpdate>()?;
    let id: RoleId = parse_id(&id, "role")?;
    let input = UpdateRole {
        name: body.name,
        description: body.description,
        permissions: body.permissions,
        auto_apply: body.auto_apply,
    };
    Ok(Json(
        svc::update(
            &s.db,
            s.clock.as_ref(),
            &can,
            &auth.principal.actor,
            id,
            input,
        )
        .await?
        .into(),
    ))
}

/// Delete a custom role.
#[utoipa::path(delete, path = "/api/v1/roles/{id}", tag = "roles", params(("id" = String, Path, description = ID)), responses((status = 204)))]
async fn delete_role(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let can = auth.can::<perm::RoleDelete>()?;
    let id: RoleId = parse_id(&id, "role")?;
    svc::delete(&s.db, s.clock.as_ref(), &can, &auth.principal.actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Enable a role.
#[utoipa::path(post, path = "/api/v1/roles/{id}/enable", tag = "roles", params(("id" = String, Path, description = ID)), responses((status = 200, body = RoleView)))]
async fn enable_role(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<RoleView>> {
    let can = auth.can::<perm::RoleUpdate>()?;
    let id: RoleId = parse_id(&id, "role")?;
    Ok(Json(
        svc::set_enabled(
            &s.db,
            s.clock.as_ref(),
            &can,
            &auth.principal.actor,
            id,
            true,
        )
        .await?
        .into(),
    ))
}

/// Disable a role: nobody gets its permissions while it is disabled.
#[utoipa::path(post, path = "/api/v1/roles/{id}/disable", tag = "roles", params(("id" = String, Path, description = ID)), responses((status = 200, body = RoleView)))]
async fn disable_role(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<RoleView>> {
    let can = auth.can::<perm::RoleUpdate>()?;
    let id: RoleId = parse_id(&id, "role")?;
    Ok(Json(
        svc::set_enabled(
            &s.db,
            s.clock.as_ref(),
            &can,
            &auth.principal.actor,
            id,
            false,
        )
        .await?
        .into(),
    ))
}

/// Who holds the role: users directly, groups for their members (users first by default).
#[utoipa::path(get, path = "/api/v1/roles/{id}/members", tag = "roles", params(("id" = String, Path, description = ID), RoleMemberQuery),
    responses((status = 200, body = RoleMemberPage)))]
async fn list_role_members(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<RoleMemberQuery>,
) -> ApiResult<Json<RoleMemberPage>> {
    let can = auth.can::<perm::RoleRead>()?;
    let id: RoleId = parse_id(&id, "role")?;
    let page = q.page(&["kind", "name"])?;
    let query = q.query();
    let holders: Vec<svc::RoleMember> = svc::members(&s.db, &can, id)
        .await?
        .into_iter()
        .filter(|m| alm_core::paging::matches(query.as_deref(), &[&m.name]))
        .collect();
    // `kind` puts users before groups ("group" sorts after "user" only when descending).
    let (items, total) = page.slice(holders, |key, a, b| {
        let by_name = a.name.to_lowercase().cmp(&b.name.to_lowercase());
        match key {
            "name" => by_name,
            _ => b.kind.cmp(a.kind).then(by_name),
        }
        .then(a.id.cmp(&b.id))
    });
    Ok(Json(RoleMemberPage::new(
        items
            .into_iter()
            .map(|m| RoleMemberView {
                kind: m.kind.into(),
                id: m.id,
                name: m.name,
                enabled: m.enabled,
            })
            .collect(),
        total,
        &page,
    )))
}

/// Give the role to a user directly (needs `role:manage`).
#[utoipa::path(post, path = "/api/v1/roles/{id}/members", tag = "roles", params(("id" = String, Path, description = ID)),
    request_body = MemberBody, responses((status = 204)))]
async fn add_role_member(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<MemberBody>,
) -> ApiResult<StatusCode> {
    let can = auth.can::<perm::RoleUpdate>()?;
    let id: RoleId = parse_id(&id, "role")?;
    svc::change_member(
        &s.db,
        s.clock.as_ref(),
        &can,
        &auth.principal.actor,
        id,
        body.user_id,
        true,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Take the role away from a user (needs `role:manage`).
#[utoipa::path(delete, path = "/api/v1/roles/{id}/members/{user_id}", tag = "roles",
    params(("id" = String, Path, description = ID), ("user_id" = String, Path, description = "User id")),
    responses((status = 204)))]
async fn remove_role_member(
    State(s): State<AppState>,
    auth: Authenticated,
    Path((id, user_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let can = auth.can::<perm::RoleUpdate>()?;
    let id: RoleId = parse_id(&id, "role")?;
    let user: UserId = parse_id(&user_id, "role member")?;
    svc::change_member(
        &s.db,
        s.clock.as_ref(),
        &can,
        &auth.principal.actor,
        id,
        user,
        false,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

//! `/api/v1/groups`: alm groups, their members and roles (SPEC §2.2).

use super::error::ApiResult;
use super::extract::{parse_id, ApiJson, ApiQuery};
use super::users::{UserPage, UserView};
use super::{list_query, page_of};
use crate::auth::principal::Authenticated;
use crate::services::groups::{self as svc, CreateGroup, UpdateGroup};
use crate::state::AppState;
use alm_core::permissions::perm;
use alm_core::{GroupId, RoleId, UserId};
use alm_store::groups::{GroupFilter, GroupRecord, SORT_KEYS};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupView {
    pub id: GroupId,
    pub name: String,
    pub description: String,
    pub enabled: bool,
    /// True for Everyone, which cannot be disabled or deleted.
    pub builtin: bool,
    pub member_count: u64,
    pub role_ids: Vec<RoleId>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<GroupRecord> for GroupView {
    fn from(g: GroupRecord) -> Self {
        Self {
            id: g.id,
            name: g.name,
            description: g.description,
            enabled: g.enabled,
            builtin: g.builtin_key.is_some(),
            member_count: g.member_count,
            role_ids: g.role_ids,
            created_at: g.created_at,
            updated_at: g.updated_at,
        }
    }
}

page_of!(GroupPage, GroupView);
list_query!(GroupListQuery, "^-?(name|created_at|updated_at)$");

/// Paging of a group's members (by display name).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MemberListQuery {
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// How many members to skip.
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    pub offset: Option<u64>,
    /// `display_name` or `-display_name`.
    #[param(pattern = "^-?display_name$")]
    pub sort: Option<String>,
    /// Part of the member's display name or email, case-insensitive.
    pub q: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGroupBody {
    /// 1 to 128 characters, unique (case-insensitive).
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub name: String,
    /// Up to 2000 characters.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub description: String,
    /// Default true.
    pub enabled: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateGroupBody {
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub name: Option<String>,
    #[schema(max_length = 2000)]
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberBody {
    pub user_id: UserId,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupRolesBody {
    /// The complete list of roles the group carries.
    pub role_ids: Vec<RoleId>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_groups, create_group))
        .routes(routes!(get_group, update_group, delete_group))
        .routes(routes!(enable_group))
        .routes(routes!(disable_group))
        .routes(routes!(list_members, add_member))
        .routes(routes!(remove_member))
        .routes(routes!(set_group_roles))
}

const ID: &str = "Group id";

/// List groups (own scope: those you belong to; with `group:manage`: all).
#[utoipa::path(get, path = "/api/v1/groups", tag = "groups", params(GroupListQuery), responses((status = 200, body = GroupPage)))]
async fn list_groups(
    State(s): State<AppState>,
    auth: Authenticated,
    ApiQuery(q): ApiQuery<GroupListQuery>,
) -> ApiResult<Json<GroupPage>> {
    let can = auth.can::<perm::GroupRead>()?;
    let page = q.page(SORT_KEYS)?;
    let filter = GroupFilter {
        query: q.query(),
        enabled: q.enabled,
        member: None,
    };
    let (items, total) = svc::list(&s.db, &can, filter, &page).await?;
    Ok(Json(GroupPage::new(
        items.into_iter().map(Into::into).collect(),
        total,
        &page,
    )))
}

/// Create a group.
#[utoipa::path(post, path = "/api/v1/groups", tag = "groups", request_body = CreateGroupBody, responses((status = 201, body = GroupView)))]
async fn create_group(
    State(s): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<CreateGroupBody>,
) -> ApiResult<(StatusCode, Json<GroupView>)> {
    let can = auth.can::<perm::GroupCreate>()?;
    let input = CreateGroup {
        name: body.name,
        description: body.description,
        enabled: body.enabled.unwrap_or(true),
    };
    let g = svc::create(&s.db, s.clock.as_ref(), &can, &auth.principal.actor, input).await?;
    Ok((StatusCode::CREATED, Json(g.into())))
}

/// One group.
#[utoipa::path(get, path = "/api/v1/groups/{id}", tag = "groups", params(("id" = String, Path, description = ID)), responses((status = 200, body = GroupView)))]
async fn get_group(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<GroupView>> {
    let can = auth.can::<perm::GroupRead>()?;
    let id: GroupId = parse_id(&id, "group")?;
    Ok(Json(svc::get(&s.db, &can, id).await?.into()))
}

/// Rename a group or change its description.
#[utoipa::path(patch, path = "/api/v1/groups/{id}", tag = "groups", params(("id" = String, Path, description = ID)),
    request_body = UpdateGroupBody, responses((status = 200, body = GroupView)))]
async fn update_group(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateGroupBody>,
) -> ApiResult<Json<GroupView>> {
    let can = auth.can::<perm::GroupUpdate>()?;
    let id: GroupId = parse_id(&id, "group")?;
    let input = UpdateGroup {
        name: body.name,
        description: body.description,
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

/// Delete a group (not Everyone).
#[utoipa::path(delete, path = "/api/v1/groups/{id}", tag = "groups", params(("id" = String, Path, description = ID)), responses((status = 204)))]
async fn delete_group(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let can = auth.can::<perm::GroupDelete>()?;
    let id: GroupId = parse_id(&id, "group")?;
    svc::delete(&s.db, s.clock.as_ref(), &can, &auth.principal.actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Enable a group: its members get its roles again.
#[utoipa::path(post, path = "/api/v1/groups/{id}/enable", tag = "groups", params(("id" = String, Path, description = ID)), responses((status = 200, body = GroupView)))]
async fn enable_group(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<GroupView>> {
    let can = auth.can::<perm::GroupUpdate>()?;
    let id: GroupId = parse_id(&id, "group")?;
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

/// A disabled group, with the replacement offer: the templates that still name it.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupDisabledView {
    #[serde(flatten)]
    pub group: GroupView,
    /// Templates that name the group; `POST …/replace-in-templates` replaces it in all of them.
    pub template_uses: Vec<super::group_replacement::TemplateUseView>,
}

/// Disable a group: its members lose what they had only through it. The answer lists the
/// workflow templates that still name it, for the replacement offer (SPEC §2.2).
#[utoipa::path(post, path = "/api/v1/groups/{id}/disable", tag = "groups", params(("id" = String, Path, description = ID)), responses((status = 200, body = GroupDisabledView)))]
async fn disable_group(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<GroupDisabledView>> {
    let can = auth.can::<perm::GroupUpdate>()?;
    let id: GroupId = parse_id(&id, "group")?;
    let group = svc::set_enabled(
        &s.db,
        s.clock.as_ref(),
        &can,
        &auth.principal.actor,
        id,
        false,
    )
    .await?;
    let uses = crate::services::group_replacement::uses_after_disable(&s.db, &can, id).await?;
    Ok(Json(GroupDisabledView {
        group: group.into(),
        template_uses: uses.into_iter().map(Into::into).collect(),
    }))
}

/// The group's members.
#[utoipa::path(get, path = "/api/v1/groups/{id}/members", tag = "groups", params(("id" = String, Path, description = ID), MemberListQuery),
    responses((status = 200, body = UserPage)))]
async fn list_members(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<MemberListQuery>,
) -> ApiResult<Json<UserPage>> {
    let can = auth.can::<perm::GroupRead>()?;
    let id: GroupId = parse_id(&id, "group")?;
    let page = alm_core::paging::PageRequest::parse(
        q.limit,
        q.offset,
        q.sort.as_deref(),
        &["display_name"],
    )
    .map_err(|e| super::error::ApiError::BadRequest {
        detail: e.to_string(),
        errors: e.0,
    })?;
    let query = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let (items, total) = svc::members(&s.db, &can, id, query, &page).await?;
    Ok(Json(UserPage::new(
        items.into_iter().map(UserView::from).collect(),
        total,
        &page,
    )))
}

/// Add a member.
#[utoipa::path(post, path = "/api/v1/groups/{id}/members", tag = "groups", params(("id" = String, Path, description = ID)),
    request_body = MemberBody, responses((status = 200, body = GroupView)))]
async fn add_member(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<MemberBody>,
) -> ApiResult<Json<GroupView>> {
    let can = auth.can::<perm::GroupUpdate>()?;
    let id: GroupId = parse_id(&id, "group")?;
    Ok(Json(
        svc::change_member(
            &s.db,
            s.clock.as_ref(),
            &can,
            &auth.principal.actor,
            id,
            body.user_id,
            true,
        )
        .await?
        .into(),
    ))
}

/// Remove a member.
#[utoipa::path(delete, path = "/api/v1/groups/{id}/members/{user_id}", tag = "groups",
    params(("id" = String, Path, description = ID), ("user_id" = String, Path, description = "User id")),
    responses((status = 200, body = GroupView)))]
async fn remove_member(
    State(s): State<AppState>,
    auth: Authenticated,
    Path((id, user_id)): Path<(String, String)>,
) -> ApiResult<Json<GroupView>> {
    let can = auth.can::<perm::GroupUpdate>()?;
    let id: GroupId = parse_id(&id, "group")?;
    let user: UserId = parse_id(&user_id, "member")?;
    Ok(Json(
        svc::change_member(
            &s.db,
            s.clock.as_ref(),
            &can,
            &auth.principal.actor,
            id,
            user,
            false,
        )
        .await?
        .into(),
    ))
}

/// Replace the roles the group carries (needs `group:update`, `role:update` and both `manage`).
#[utoipa::path(put, path = "/api/v1/groups/{id}/roles", tag = "groups", params(("id" = String, Path, description = ID)),
    request_body = GroupRolesBody, responses((status = 200, body = GroupView)))]
async fn set_group_roles(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<GroupRolesBody>,
) -> ApiResult<Json<GroupView>> {
    let can = auth.can::<perm::GroupUpdate>()?;
    let can_role = auth.can::<perm::RoleUpdate>()?;
    let id: GroupId = parse_id(&id, "group")?;
    Ok(Json(
        svc::set_roles(
            &s.db,
            s.clock.as_ref(),
            &can,
            &can_role,
            &auth.principal.actor,
            id,
            body.role_ids,
        )
        .await?
        .into(),
    ))
}

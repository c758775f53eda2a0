//! `/api/v1/users`: people (SPEC §2.1).

use super::error::ApiResult;
use super::extract::{parse_id, ApiJson, ApiQuery};
use super::{list_query, page_of};
use crate::auth::principal::Authenticated;
use crate::services::users::{self as svc, CreateUser, UpdateUser, UserDetail};
use crate::state::AppState;
use alm_core::permissions::perm;
use alm_core::{GroupId, RoleId, UserId};
use alm_store::users::{UserFilter, UserRecord, SORT_KEYS};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: UserId,
    pub display_name: String,
    /// Every address; notifications go to all of them. The first is the primary.
    pub emails: Vec<String>,
    pub enabled: bool,
    /// `local` (created in alm) or `synced` (from a directory group).
    pub source: String,
    /// Whether the user can log in with a local password.
    pub has_password: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<UserRecord> for UserView {
    fn from(u: UserRecord) -> Self {
        Self {
            id: u.id,
            display_name: u.display_name,
            emails: u.emails,
            enabled: u.enabled,
            source: u.source.as_str().to_owned(),
            has_password: u.has_password,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserDetailView {
    #[serde(flatten)]
    pub user: UserView,
    /// Groups the user is a member of (Everyone included).
    pub group_ids: Vec<GroupId>,
    /// Roles given to the user directly.
    pub role_ids: Vec<RoleId>,
}

impl From<UserDetail> for UserDetailView {
    fn from(d: UserDetail) -> Self {
        Self {
            user: d.user.into(),
            group_ids: d.group_ids,
            role_ids: d.role_ids,
        }
    }
}

page_of!(UserPage, UserView);
list_query!(UserListQuery, "^-?(display_name|created_at|updated_at)$");

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserBody {
    /// 1 to 128 characters.
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub display_name: String,
    /// 1 to 10 distinct addresses, each unused by other users.
    #[schema(value_type = Vec<super::EmailText>, min_items = 1, max_items = 10)]
    pub emails: Vec<String>,
    /// Default true.
    pub enabled: Option<bool>,
    /// Send the welcome email (event `user.welcome`, with the sign-in link) to the new user.
    /// Default false.
    pub welcome_email: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserBody {
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub display_name: Option<String>,
    /// Replaces the list; needs `user:manage`.
    #[schema(value_type = Option<Vec<super::EmailText>>, min_items = 1, max_items = 10)]
    pub emails: Option<Vec<String>>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user))
        .routes(routes!(enable_user))
        .routes(routes!(disable_user))
        .routes(routes!(forget_user))
        .routes(routes!(export_user))
}

/// List users (own scope: yourself; with `user:manage`: everyone).
#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(UserListQuery),
    responses((status = 200, body = UserPage)))]
async fn list_users(
    State(s): State<AppState>,
    auth: Authenticated,
    ApiQuery(q): ApiQuery<UserListQuery>,
) -> ApiResult<Json<UserPage>> {
    let can = auth.can::<perm::UserRead>()?;
    let page = q.page(SORT_KEYS)?;
    let filter = UserFilter {
        query: q.query(),
        enabled: q.enabled,
        only: None,
    };
    let (items, total) = svc::list(&s.db, &can, filter, &page).await?;
    Ok(Json(UserPage::new(
        items.into_iter().map(Into::into).collect(),
        total,
        &page,
    )))
}

/// Create a local user (added to Everyone, with the auto-apply roles).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = CreateUserBody,
    responses((status = 201, body = UserDetailView)))]
async fn create_user(
    State(s): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<CreateUserBody>,
) -> ApiResult<(StatusCode, Json<UserDetailView>)> {
    let can = auth.can::<perm::UserCreate>()?;
    let input = CreateUser {
        display_name: body.display_name,
        emails: body.emails,
        enabled: body.enabled.unwrap_or(true),
        welcome_email: body.welcome_email.unwrap_or(false),
    };
    let detail = svc::create(
        &s.db,
        s.clock.as_ref(),
        &can,
        &auth.principal.actor,
        input,
        &s.config.base_url(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(detail.into())))
}

/// One user, with their groups and direct roles.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", params(("id" = String, Path, description = "User id")),
    responses((status = 200, body = UserDetailView)))]
async fn get_user(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<UserDetailView>> {
    let can = auth.can::<perm::UserRead>()?;
    let id: UserId = parse_id(&id, "user")?;
    Ok(Json(svc::get(&s.db, &can, id).await?.into()))
}

/// Rename a user (yourself, or anyone with `user:manage`); change emails (`user:manage`).
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", params(("id" = String, Path, description = "User id")),
    request_body = UpdateUserBody, responses((status = 200, body = UserDetailView)))]
async fn update_user(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateUserBody>,
) -> ApiResult<Json<UserDetailView>> {
    let can = auth.can::<perm::UserUpdate>()?;
    let id: UserId = parse_id(&id, "user")?;
    let input = UpdateUser {
        display_name: body.display_name,
        emails: body.emails,
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

/// Enable a user: their access (API tokens included) works again.
#[utoipa::path(post, path = "/api/v1/users/{id}/enable", tag = "users", params(("id" = String, Path, description = "User id")),
    responses((status = 200, body = UserDetailView)))]
async fn enable_user(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<UserDetailView>> {
    let can = auth.can::<perm::UserUpdate>()?;
    let id: UserId = parse_id(&id, "user")?;
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

/// Disable a user: ends their sessions and stops their API tokens at once.
#[utoipa::path(post, path = "/api/v1/users/{id}/disable", tag = "users", params(("id" = String, Path, description = "User id")),
    responses((status = 200, body = UserDetailView)))]
async fn disable_user(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<UserDetailView>> {
    let can = auth.can::<perm::UserUpdate>()?;
    let id: UserId = parse_id(&id, "user")?;
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

/// What forgetting a person changed (counts only).
#[derive(Debug, Serialize, ToSchema)]
pub struct ForgottenView {
    /// Audit records whose personal part now carries the pseudonym.
    pub audit_records: u64,
    /// Queued or finished jobs whose requester now carries the pseudonym.
    pub jobs: u64,
    /// Free-text fields (emails sent, inbox, webhook and SIEM payloads, request texts, reasons)
    /// in which the person's name, addresses or IPs were replaced.
    pub text_fields: u64,
    /// Anonymous audit records (refusals) from the person's addresses, their address erased.
    pub anonymous_source_ips: u64,
    pub sessions_ended: u64,
}

/// Forget a disabled person (SPEC §13): their name, email addresses and source IPs are replaced
/// by a stable pseudonym everywhere alm holds them; the audit chain still verifies. Needs
/// `user:delete` and `user:manage`; an enabled user is refused (409).
#[utoipa::path(post, path = "/api/v1/users/{id}/forget", tag = "users", params(("id" = String, Path, description = "User id")),
    responses((status = 200, body = ForgottenView)))]
async fn forget_user(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<ForgottenView>> {
    let can = auth.can::<perm::UserDelete>()?;
    let id: UserId = parse_id(&id, "user")?;
    let e =
        crate::services::privacy::forget(&s.db, s.clock.as_ref(), &can, &auth.principal.actor, id)
            .await?;
    Ok(Json(ForgottenView {
        audit_records: e.audit_records,
        jobs: e.jobs,
        text_fields: e.text_fields,
        anonymous_source_ips: e.source_ips,
        sessions_ended: e.sessions,
    }))
}

/// Everything alm holds about a person, as JSON (SPEC §13): their record, addresses, groups,
/// roles, sessions, API tokens (no secrets), requests, approval decisions, owned accounts, inbox,
/// emails sent to them, jobs they asked for and their audit records. Everyone may export their
/// own data; `user:manage` anyone's.
#[utoipa::path(get, path = "/api/v1/users/{id}/export", tag = "users", params(("id" = String, Path, description = "User id")),
    responses((status = 200, body = Object)))]
async fn export_user(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let can = auth.can::<perm::UserRead>()?;
    let id: UserId = parse_id(&id, "user")?;
    Ok(Json(
        crate::services::privacy::export(&s.db, s.clock.as_ref(), &can, &auth.principal.actor, id)
            .await?,
    ))
}

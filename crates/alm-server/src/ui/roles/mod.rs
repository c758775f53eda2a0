//! Personnel — roles (SPEC §2.3, §10): the list, a role's page (its permissions as the
//! features × rights grid, who holds it: users directly, groups for their members), create and
//! edit with the grid as tick boxes, enable, disable and delete. Built-in roles are protected
//! by the service; a granter can hand out only what they hold (the service checks).

use super::browser::{Browser, SignedIn};
use super::confirm::ConfirmPage;
use super::permission_grid::{grid, Grid};
use super::table::{Table, TableQuery};
use super::users::{enabled_filter, enabled_states};
use super::{errors, render, Chrome, FormError, PageResult};
use crate::services::roles::{self, CreateRole, RoleMember, UpdateRole};
use crate::services::ServiceError;
use crate::state::AppState;
use crate::ui::form::{self, Control, Field, Form};
use alm_core::permissions::{perm, Permission};
use alm_core::RoleId;
use alm_store::roles::RoleFilter;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form as Posted, Router};
use serde::Deserialize;

mod changes;
mod edit;

use changes::{change, confirm};
use edit::{create, edit_form, new_form, update};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/roles", get(list))
        .route("/roles/new", get(new_form).post(create))
        .route("/roles/{id}", get(show))
        .route("/roles/{id}/edit", get(edit_form).post(update))
        .route("/roles/{id}/members", post(add_member))
        .route("/roles/{id}/members/remove", post(remove_member))
        .route("/roles/{id}/{change}", get(confirm).post(change))
}

struct Row {
    id: RoleId,
    name: String,
    description: String,
    enabled: bool,
    builtin: bool,
    auto_apply: bool,
    permissions: usize,
}

#[derive(Template)]
#[template(path = "roles.html")]
struct ListPage {
    chrome: Chrome,
    title: &'static str,
    can_create: bool,
    table: Table,
    states: Vec<(&'static str, &'static str, bool)>,
    rows: Vec<Row>,
}

async fn list(
    State(s): State<AppState>,
    browser: Browser,
    Query(q): Query<TableQuery>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let can = signed_in.can::<perm::RoleRead>(&path)?;
    let table = Table::parse("/roles", &q, alm_store::roles::SORT_KEYS, "name")
        .map_err(|e| errors::bad_address(&signed_in, &path, &e))?;
    let filter = RoleFilter {
        query: Some(table.q.clone()).filter(|q| !q.is_empty()),
        enabled: enabled_filter(&signed_in, &path, &table.state)?,
        held_by: None,
    };
    let (found, total) = roles::list(&s.db, &can, filter, &table.page)
        .await
        .map_err(|e| errors::service(&signed_in, &path, e))?;
    let rows: Vec<Row> = found
        .into_iter()
        .map(|r| Row {
            id: r.id,
            builtin: r.builtin_key.is_some(),
            permissions: r.permissions.len(),
            name: r.name,
            description: r.description,
            enabled: r.enabled,
            auto_apply: r.auto_apply,
        })
        .collect();
    let page = ListPage {
        chrome: Chrome::new(Some(&signed_in), &path).with_counts(&s).await,
        title: "Roles",
        can_create: signed_in.may::<perm::RoleCreate>(),
        states: enabled_states(&table.state),
        table: table.with_counts(total, rows.len()),
        rows,
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(Template)]
#[template(path = "role.html")]
struct RolePage {
    chrome: Chrome,
    title: String,
    notice: Option<&'static str>,
    errors: Vec<FormError>,
    csrf_token: String,
    id: RoleId,
    description: String,
    enabled: bool,
    builtin: bool,
    auto_apply: bool,
    grid: Grid,
    grid_title: &'static str,
    members: Vec<RoleMember>,
    member_email: String,
    member_error: Option<String>,
    can_manage: bool,
    can_delete: bool,
}

async fn loaded(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    id: RoleId,
) -> Result<RolePage, Response> {
    let can = signed_in.can::<perm::RoleRead>(path)?;
    let fail = |e| errors::service(signed_in, path, e);
    let r = roles::get(&s.db, &can, id).await.map_err(fail)?;
    let members = roles::members(&s.db, &can, id).await.map_err(fail)?;
    let builtin = r.builtin_key.is_some();
    Ok(RolePage {
        chrome: Chrome::new(Some(signed_in), path).with_counts(s).await,
        title: r.name.clone(),
        notice: None,
        errors: Vec::new(),
        csrf_token: signed_in.csrf_token(),
        id,
        description: r.description.clone(),
        enabled: r.enabled,
        builtin,
        auto_apply: r.auto_apply,
        grid: grid(&r.permissions, false),
        grid_title: "permissions-title",
        members,
        member_email: String::new(),
        member_error: None,
        can_manage: signed_in.manages::<perm::RoleUpdate>(),
        can_delete: signed_in.manages::<perm::RoleDelete>() && !builtin,
    })
}

#[derive(Deserialize, Default)]
struct Done {
    done: Option<String>,
}

async fn show(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    Query(q): Query<Done>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let id = signed_in.id::<RoleId>(&path, &id)?;
    let mut page = loaded(&s, &signed_in, &path, id).await?;
    page.notice = match q.done.as_deref() {
        Some("created") => {
            Some("The role is created. Give it to users here, or to groups on their pages.")
        }
        Some("updated") => {
            Some("The role is changed: its holders have the new permissions at once.")
        }
        Some("member-added") => Some("The user holds the role now."),
        Some("member-removed") => Some("The user no longer holds the role directly."),
        Some("enable") => Some("The role is enabled: its holders have its permissions again."),
        Some("disable") => {
            Some("The role is disabled: its holders no longer have its permissions.")
        }
        _ => None,
    };
    Ok(render(StatusCode::OK, &page))
}

async fn page_with_error(
    s: &AppState,
    signed_in: &SignedIn,
    id: RoleId,
    field: &str,
    message: String,
    status: StatusCode,
) -> PageResult {
    let path = format!("/roles/{id}");
    let mut page = loaded(s, signed_in, &path, id).await?;
    if field == "member-email" {
        page.member_error = Some(message.clone());
    }
    page.errors.push(FormError {
        field: field.into(),
        message,
    });
    page.chrome.has_errors = true;
    Ok(render(status, &page))
}

#[derive(Deserialize)]
struct MemberForm {
    csrf_token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    user: String,
}

async fn add_member(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    Posted(f): Posted<MemberForm>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&f.csrf_token)?;
    let id = signed_in.id::<RoleId>(&path, &id)?;
    let can = signed_in.can::<perm::RoleUpdate>(&path)?;
    let user = match crate::services::users::enabled_by_email(&s.db, f.email.trim()).await {
        Ok(u) => u,
        Err(ServiceError::Validation(v)) => {
            let message = v.0.first().map(|e| e.message.clone()).unwrap_or_default();
            return page_with_error(
                &s,
                &signed_in,
                id,
                "member-email",
                message,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
        Err(e) => return Err(errors::service(&signed_in, &path, e)),
    };
    member_change(&s, &signed_in, &path, &can, id, user, true).await
}

async fn remove_member(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    Posted(f): Posted<MemberForm>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&f.csrf_token)?;
    let id = signed_in.id::<RoleId>(&path, &id)?;
    let user = signed_in.id::<alm_core::UserId>(&path, &f.user)?;
    let can = signed_in.can::<perm::RoleUpdate>(&path)?;
    member_change(&s, &signed_in, &path, &can, id, user, false).await
}

async fn member_change(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    can: &alm_core::permissions::Can<perm::RoleUpdate>,
    id: RoleId,
    user: alm_core::UserId,
    add: bool,
) -> PageResult {
    match roles::change_member(
        &s.db,
        s.clock.as_ref(),
        can,
        &signed_in.principal.actor,
        id,
        user,
        add,
    )
    .await
    {
        Ok(()) => Ok(Redirect::to(&format!(
            "/roles/{id}?done={}",
            if add {
                "member-added"
            } else {
                "member-removed"
            }
        ))
        .into_response()),
        Err(ServiceError::Refused(r)) => {
            page_with_error(
                s,
                signed_in,
                id,
                "members-title",
                r.to_string(),
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(ServiceError::Conflict(c)) => {
            page_with_error(
                s,
                signed_in,
                id,
                "member-email",
                c.message,
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(e) => Err(errors::service(signed_in, path, e)),
    }
}

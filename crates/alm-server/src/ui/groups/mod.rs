//! Personnel — groups (SPEC §2.2, §10): the list, a group's page (members added by email and
//! removed, the roles it carries chosen by tick boxes), create, edit, enable, disable and
//! delete. Everyone is protected by the service; its page says so instead of offering changes.

use super::browser::{Browser, SignedIn};
use super::confirm::ConfirmPage;
use super::table::{Table, TableQuery};
use super::users::{enabled_filter, enabled_states};
use super::{errors, render, Chrome, FormError, PageResult};
use crate::services::groups::{self, CreateGroup, UpdateGroup};
use crate::services::personnel::{self, Named};
use crate::services::ServiceError;
use crate::state::AppState;
use crate::ui::form::{Control, Field, Form};
use alm_core::paging::PageRequest;
use alm_core::permissions::perm;
use alm_core::{GroupId, RoleId};
use alm_store::groups::{GroupFilter, GroupRecord};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form as Posted, Router};
use serde::Deserialize;

mod changes;
mod edit;
mod replacement;

use changes::{change, confirm};
use edit::{create, edit_form, new_form, update};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/groups", get(list))
        .route("/groups/new", get(new_form).post(create))
        .route("/groups/{id}", get(show))
        .route("/groups/{id}/edit", get(edit_form).post(update))
        .route("/groups/{id}/members", post(add_member))
        .route("/groups/{id}/members/remove", post(remove_member))
        .route("/groups/{id}/roles", post(set_roles))
        .route("/groups/{id}/replace", post(replacement::replace))
        .route("/groups/{id}/{change}", get(confirm).post(change))
}

/// The most members the group page lists (the API pages through more).
const MEMBERS_SHOWN: u32 = 200;

/// Where a template names a group, as people read it (the service names definition fields).
fn place_label(field: &str) -> String {
    match field {
        "audience_groups" => "who may request (audience)".into(),
        "gmsa.password_reader_groups" => "gMSA password readers".into(),
        other => match other
            .strip_prefix("steps[")
            .and_then(|r| r.strip_suffix("].groups"))
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(n) => format!("approvers of step {}", n + 1),
            None => other.to_owned(),
        },
    }
}

fn is_everyone(g: &GroupRecord) -> bool {
    g.builtin_key.as_deref() == Some(alm_core::roles::EVERYONE_GROUP_KEY)
}

struct Row {
    id: GroupId,
    name: String,
    description: String,
    enabled: bool,
    members: u64,
}

#[derive(Template)]
#[template(path = "groups.html")]
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
    let can = signed_in.can::<perm::GroupRead>(&path)?;
    let table = Table::parse("/groups", &q, alm_store::groups::SORT_KEYS, "name")
        .map_err(|e| errors::bad_address(&signed_in, &path, &e))?;
    let filter = GroupFilter {
        query: Some(table.q.clone()).filter(|q| !q.is_empty()),
        enabled: enabled_filter(&signed_in, &path, &table.state)?,
        member: None,
    };
    let (found, total) = groups::list(&s.db, &can, filter, &table.page)
        .await
        .map_err(|e| errors::service(&signed_in, &path, e))?;
    let rows: Vec<Row> = found
        .into_iter()
        .map(|g| Row {
            id: g.id,
            name: g.name,
            description: g.description,
            enabled: g.enabled,
            members: g.member_count,
        })
        .collect();
    let page = ListPage {
        chrome: Chrome::new(Some(&signed_in), &path).with_counts(&s).await,
        title: "Groups",
        can_create: signed_in.may::<perm::GroupCreate>(),
        states: enabled_states(&table.state),
        table: table.with_counts(total, rows.len()),
        rows,
    };
    Ok(render(StatusCode::OK, &page))
}

struct Member {
    id: alm_core::UserId,
    name: String,
    email: String,
    enabled: bool,
}

#[derive(Template)]
#[template(path = "group.html")]
struct GroupPage {
    chrome: Chrome,
    title: String,
    notice: Option<&'static str>,
    errors: Vec<FormError>,
    csrf_token: String,
    id: GroupId,
    description: String,
    enabled: bool,
    everyone: bool,
    members: Vec<Member>,
    member_total: u64,
    member_email: String,
    member_error: Option<String>,
    roles: Vec<(Named, bool)>,
    can_edit: bool,
    can_manage: bool,
    can_delete: bool,
    can_set_roles: bool,
    /// A disabled group's uses in templates (SPEC §2.2's offer): (template id, name, where).
    template_uses: Vec<(uuid::Uuid, String, String)>,
    /// The offer's form, for those who may publish the templates' new versions.
    can_replace: bool,
    replacement: String,
    replacement_error: Option<String>,
    /// What a replacement just did, one line per template.
    replaced: Vec<String>,
}

#[derive(Deserialize, Default)]
struct Done {
    done: Option<String>,
}

async fn loaded(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    id: GroupId,
) -> Result<GroupPage, Response> {
    let can = signed_in.can::<perm::GroupRead>(path)?;
    let fail = |e| errors::service(signed_in, path, e);
    let g = groups::get(&s.db, &can, id).await.map_err(fail)?;
    let page = PageRequest::parse(
        Some(MEMBERS_SHOWN),
        None,
        Some("display_name"),
        &["display_name"],
    )
    .map_err(|e| fail(ServiceError::Validation(e)))?;
    let (people, member_total) = groups::members(&s.db, &can, id, None, &page)
        .await
        .map_err(fail)?;
    let carried = g.role_ids.clone();
    let roles = match signed_in.may::<perm::RoleRead>() {
        true => {
            let role_can = signed_in.can::<perm::RoleRead>(path)?;
            personnel::all_roles(&s.db, &role_can)
                .await
                .map_err(fail)?
                .into_iter()
                .map(|r| {
                    let held = carried.iter().any(|c| c.0 == r.id);
                    (r, held)
                })
                .collect()
        }
        false => personnel::roles_named(&s.db, &carried)
            .await
            .map_err(fail)?
            .into_iter()
            .map(|r| (r, true))
            .collect(),
    };
    let everyone = is_everyone(&g);
    let template_uses = if !g.enabled && signed_in.manages::<perm::GroupRead>() {
        crate::services::group_replacement::uses_of(&s.db, &can, id)
            .await
            .map_err(fail)?
            .into_iter()
            .map(|u| {
                let places = u
                    .versions
                    .iter()
                    .map(|v| {
                        let places: Vec<String> = v.fields.iter().map(|f| place_label(f)).collect();
                        format!("version {} ({}): {}", v.version, v.state, places.join(", "))
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                (u.template_id, u.name, places)
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(GroupPage {
        chrome: Chrome::new(Some(signed_in), path).with_counts(s).await,
        title: g.name.clone(),
        notice: None,
        errors: Vec::new(),
        csrf_token: signed_in.csrf_token(),
        id,
        description: g.description.clone(),
        enabled: g.enabled,
        everyone,
        members: people
            .into_iter()
            .map(|u| Member {
                id: u.id,
                name: u.display_name,
                email: u.emails.first().cloned().unwrap_or_default(),
                enabled: u.enabled,
            })
            .collect(),
        member_total,
        member_email: String::new(),
        member_error: None,
        roles,
        can_edit: signed_in.may::<perm::GroupUpdate>(),
        can_manage: signed_in.manages::<perm::GroupUpdate>() && !everyone,
        can_delete: signed_in.manages::<perm::GroupDelete>() && !everyone,
        can_set_roles: signed_in.manages::<perm::GroupUpdate>()
            && signed_in.manages::<perm::RoleUpdate>(),
        template_uses,
        can_replace: signed_in.manages::<perm::TemplateUpdate>(),
        replacement: String::new(),
        replacement_error: None,
        replaced: Vec::new(),
    })
}

async fn show(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    Query(q): Query<Done>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let id = signed_in.id::<GroupId>(&path, &id)?;
    let mut page = loaded(&s, &signed_in, &path, id).await?;
    page.notice = match q.done.as_deref() {
        Some("created") => Some("The group is created. Add its members and the roles it carries."),
        Some("updated") => Some("The group is changed."),
        Some("member-added") => Some("The member is added: they hold the group's roles now."),
        Some("member-removed") => Some("The member is removed."),
        Some("roles") => Some("The group's roles are saved."),
        Some("enable") => Some("The group is enabled: its members hold its roles again."),
        Some("disable") => Some("The group is disabled: its members no longer hold its roles."),
        _ => None,
    };
    Ok(render(StatusCode::OK, &page))
}

/// The group page again with an error at a form of it (nothing was changed).
async fn page_with_error(
    s: &AppState,
    signed_in: &SignedIn,
    id: GroupId,
    field: &str,
    message: String,
    status: StatusCode,
) -> PageResult {
    let path = format!("/groups/{id}");
    let mut page = loaded(s, signed_in, &path, id).await?;
    if field == "member-email" {
        page.member_error = Some(message.clone());
    }
    if field == "replacement" {
        page.replacement_error = Some(message.clone());
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
    let id = signed_in.id::<GroupId>(&path, &id)?;
    let can = signed_in.can::<perm::GroupUpdate>(&path)?;
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
    let id = signed_in.id::<GroupId>(&path, &id)?;
    let user = signed_in.id::<alm_core::UserId>(&path, &f.user)?;
    let can = signed_in.can::<perm::GroupUpdate>(&path)?;
    member_change(&s, &signed_in, &path, &can, id, user, false).await
}

async fn member_change(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    can: &alm_core::permissions::Can<perm::GroupUpdate>,
    id: GroupId,
    user: alm_core::UserId,
    add: bool,
) -> PageResult {
    match groups::change_member(
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
        Ok(_) => Ok(Redirect::to(&format!(
            "/groups/{id}?done={}",
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

async fn set_roles(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    body: String,
) -> PageResult {
    let path = browser.path.clone();
    let posted = crate::ui::form::pairs(&body);
    let signed_in = browser.require_form(&crate::ui::form::one(&posted, "csrf_token"))?;
    let id = signed_in.id::<GroupId>(&path, &id)?;
    let can = signed_in.can::<perm::GroupUpdate>(&path)?;
    let can_role = signed_in.can::<perm::RoleUpdate>(&path)?;
    let chosen = crate::ui::form::all(&posted, "roles");
    let mut role_ids = Vec::with_capacity(chosen.len());
    for r in &chosen {
        role_ids.push(signed_in.id::<RoleId>(&path, r)?);
    }
    match groups::set_roles(
        &s.db,
        s.clock.as_ref(),
        &can,
        &can_role,
        &signed_in.principal.actor,
        id,
        role_ids,
    )
    .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/groups/{id}?done=roles")).into_response()),
        Err(ServiceError::Refused(r)) => {
            page_with_error(
                &s,
                &signed_in,
                id,
                "roles-title",
                r.to_string(),
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(ServiceError::Validation(v)) => {
            let message = v.0.first().map(|e| e.message.clone()).unwrap_or_default();
            page_with_error(
                &s,
                &signed_in,
                id,
                "roles-title",
                message,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(errors::service(&signed_in, &path, e)),
    }
}

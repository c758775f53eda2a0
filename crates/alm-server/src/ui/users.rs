//! Personnel — users (SPEC §2.1, §10): the list, a user's page (emails, enabled, where a synced
//! user comes from, groups, roles and the effective permissions as a matrix), create, edit,
//! enable and disable. Each handler authorises like the API and calls `services::users`.

use super::browser::{Browser, SignedIn};
use super::confirm::ConfirmPage;
use super::form::{lines, ticked, Control, Field, Form};
use super::form_page::{FormPage, Target};
use super::permission_grid::{grid, Grid};
use super::table::{Table, TableQuery};
use super::{errors, iso, render, utc, Chrome, PageResult};
use crate::services::personnel::{self, Named};
use crate::services::users::{self, CreateUser, UpdateUser};
use crate::services::ServiceError;
use crate::state::AppState;
use alm_core::permissions::perm;
use alm_core::UserId;
use alm_store::users::{UserFilter, UserSource};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::{Form as Posted, Router};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/users", get(list))
        .route("/users/new", get(new_form).post(create))
        .route("/users/{id}", get(show))
        .route("/users/{id}/edit", get(edit_form).post(update))
        .route("/users/{id}/{change}", get(confirm).post(change))
}

struct Row {
    id: UserId,
    name: String,
    emails: String,
    enabled: bool,
    source: &'static str,
}

#[derive(Template)]
#[template(path = "users.html")]
struct ListPage {
    chrome: Chrome,
    title: &'static str,
    can_create: bool,
    table: Table,
    states: Vec<(&'static str, &'static str, bool)>,
    rows: Vec<Row>,
}

fn source_label(source: &UserSource) -> &'static str {
    match source {
        UserSource::Local => "Local",
        UserSource::Synced => "Synced from a directory",
        UserSource::ApiClient => "API client",
    }
}

/// The enabled/disabled filter of a personnel list: `None` for any.
pub fn enabled_filter(
    signed_in: &SignedIn,
    path: &str,
    state: &str,
) -> Result<Option<bool>, axum::response::Response> {
    match state {
        "" => Ok(None),
        "enabled" => Ok(Some(true)),
        "disabled" => Ok(Some(false)),
        _ => Err(errors::bad_address(
            signed_in,
            path,
            &alm_core::FieldError::new("state", "one-of", "must be enabled or disabled").into(),
        )),
    }
}

/// The choices of that filter: (value, label, chosen).
pub fn enabled_states(state: &str) -> Vec<(&'static str, &'static str, bool)> {
    [("enabled", "Enabled"), ("disabled", "Disabled")]
        .into_iter()
        .map(|(v, l)| (v, l, v == state))
        .collect()
}

async fn list(
    State(s): State<AppState>,
    browser: Browser,
    Query(q): Query<TableQuery>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let can = signed_in.can::<perm::UserRead>(&path)?;
    let table = Table::parse("/users", &q, alm_store::users::SORT_KEYS, "display_name")
        .map_err(|e| errors::bad_address(&signed_in, &path, &e))?;
    let enabled = enabled_filter(&signed_in, &path, &table.state)?;
    let filter = UserFilter {
        query: Some(table.q.clone()).filter(|q| !q.is_empty()),
        enabled,
        only: None,
    };
    let (found, total) = users::list(&s.db, &can, filter, &table.page)
        .await
        .map_err(|e| errors::service(&signed_in, &path, e))?;
    let rows: Vec<Row> = found
        .iter()
        .map(|u| Row {
            id: u.id,
            name: u.display_name.clone(),
            emails: u.emails.join(", "),
            enabled: u.enabled,
            source: source_label(&u.source),
        })
        .collect();
    let page = ListPage {
        chrome: Chrome::new(Some(&signed_in), &path).with_counts(&s).await,
        title: "Users",
        can_create: signed_in.may::<perm::UserCreate>(),
        states: enabled_states(&table.state),
        table: table.with_counts(total, rows.len()),
        rows,
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(Template)]
#[template(path = "user.html")]
struct UserPage {
    chrome: Chrome,
    title: String,
    notice: Option<&'static str>,
    id: UserId,
    enabled: bool,
    emails: Vec<String>,
    source: &'static str,
    directory: Option<(String, String)>,
    one_time_password: bool,
    created: (String, String),
    groups: Vec<Named>,
    roles: Vec<Named>,
    grid: Grid,
    grid_title: &'static str,
    can_edit: bool,
    can_switch: bool,
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
    let id = signed_in.id::<UserId>(&path, &id)?;
    let can = signed_in.can::<perm::UserRead>(&path)?;
    let p = personnel::user_profile(&s.db, &can, id)
        .await
        .map_err(|e| errors::service(&signed_in, &path, e))?;
    let u = &p.detail.user;
    let manage = signed_in.manages::<perm::UserUpdate>();
    let page = UserPage {
        chrome: Chrome::new(Some(&signed_in), &path).with_counts(&s).await,
        title: u.display_name.clone(),
        notice: match q.done.as_deref() {
            Some("created") => Some("The user is created. They sign in through the identity provider with one of these addresses, or with a password an administrator sets for them."),
            Some("updated") => Some("The user is changed."),
            Some("enable") => Some("The user is enabled: they can sign in again."),
            Some("disable") => Some("The user is disabled: their sessions have ended and their API tokens stop working."),
            _ => None,
        },
        id,
        enabled: u.enabled,
        emails: u.emails.clone(),
        source: source_label(&u.source),
        directory: p.directory.clone(),
        one_time_password: u.password_must_change,
        created: (iso(u.created_at), utc(u.created_at)),
        groups: p.groups.clone(),
        roles: p.roles.clone(),
        grid: grid(&p.effective, false),
        grid_title: "effective-title",
        can_edit: signed_in.may::<perm::UserUpdate>(),
        can_switch: manage && id != signed_in.principal.user_id,
    };
    Ok(render(StatusCode::OK, &page))
}

fn fields(name: &str, emails: &str, enabled: Option<bool>, with_emails: bool) -> Form {
    let mut fields = vec![Field::new("display_name", "Name", Control::Text)
        .hint("As people read it in alm: approval trails, owners, emails.")
        .value(name)];
    if with_emails {
        fields.push(
            Field::new("emails", "Email addresses", Control::TextArea(3))
                .hint("One per line; the first is the primary. Sign-in through the identity provider matches them.")
                .value(emails),
        );
    }
    if let Some(enabled) = enabled {
        fields.push(
            Field::new(
                "enabled",
                "Enabled: the user can sign in",
                Control::Checkbox,
            )
            .checked(enabled),
        );
    }
    Form::new(fields)
}

/// The new-user form: the user's fields and whether to send the welcome email.
fn new_user_fields(name: &str, emails: &str, enabled: bool, welcome: bool) -> Form {
    let mut form = fields(name, emails, Some(enabled), true);
    form.fields.push(
        Field::new(
            "welcome_email",
            "Send the welcome email with the sign-in link",
            Control::Checkbox,
        )
        .checked(welcome),
    );
    form
}

#[derive(Deserialize)]
struct UserForm {
    csrf_token: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    emails: String,
    enabled: Option<String>,
    welcome_email: Option<String>,
}

async fn new_form(State(s): State<AppState>, browser: Browser) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    signed_in.can::<perm::UserCreate>(&path)?;
    Ok(render(
        StatusCode::OK,
        &new_page(&s, &signed_in, &path, new_user_fields("", "", true, false)).await,
    ))
}

async fn new_page(s: &AppState, signed_in: &SignedIn, path: &str, form: Form) -> FormPage {
    let target = Target {
        title: "New user".into(),
        action: "/users/new".into(),
        back: "/users".into(),
        button: "Create user",
    };
    FormPage::new(s, signed_in, path, target, form).await
}

async fn create(
    State(s): State<AppState>,
    browser: Browser,
    Posted(f): Posted<UserForm>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&f.csrf_token)?;
    let can = signed_in.can::<perm::UserCreate>(&path)?;
    let input = CreateUser {
        display_name: f.display_name.clone(),
        emails: lines(&f.emails),
        enabled: ticked(&f.enabled),
        welcome_email: ticked(&f.welcome_email),
    };
    match users::create(
        &s.db,
        s.clock.as_ref(),
        &can,
        &signed_in.principal.actor,
        input,
        &s.config.base_url(),
    )
    .await
    {
        Ok(d) => Ok(Redirect::to(&format!("/users/{}?done=created", d.user.id)).into_response()),
        Err(ServiceError::Validation(v)) => {
            let mut form = new_user_fields(
                &f.display_name,
                &f.emails,
                ticked(&f.enabled),
                ticked(&f.welcome_email),
            );
            form.place(v.0);
            Ok(render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &new_page(&s, &signed_in, &path, form).await,
            ))
        }
        Err(ServiceError::Conflict(c)) => {
            let mut form = new_user_fields(
                &f.display_name,
                &f.emails,
                ticked(&f.enabled),
                ticked(&f.welcome_email),
            );
            form.place(vec![c]);
            Ok(render(
                StatusCode::CONFLICT,
                &new_page(&s, &signed_in, &path, form).await,
            ))
        }
        Err(e) => Err(errors::service(&signed_in, &path, e)),
    }
}

async fn edit_page(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    (id, name): (UserId, &str),
    form: Form,
) -> FormPage {
    let target = Target {
        title: format!("Edit {name}"),
        action: format!("/users/{id}/edit"),
        back: format!("/users/{id}"),
        button: "Save changes",
    };
    FormPage::new(s, signed_in, path, target, form).await
}

async fn edit_form(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let id = signed_in.id::<UserId>(&path, &id)?;
    signed_in.can::<perm::UserUpdate>(&path)?;
    let read = signed_in.can::<perm::UserRead>(&path)?;
    let d = users::get(&s.db, &read, id)
        .await
        .map_err(|e| errors::service(&signed_in, &path, e))?;
    let form = fields(
        &d.user.display_name,
        &d.user.emails.join("\n"),
        None,
        signed_in.manages::<perm::UserUpdate>(),
    );
    Ok(render(
        StatusCode::OK,
        &edit_page(&s, &signed_in, &path, (id, &d.user.display_name), form).await,
    ))
}

async fn update(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    Posted(f): Posted<UserForm>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&f.csrf_token)?;
    let id = signed_in.id::<UserId>(&path, &id)?;
    let can = signed_in.can::<perm::UserUpdate>(&path)?;
    let with_emails = signed_in.manages::<perm::UserUpdate>();
    let input = UpdateUser {
        display_name: Some(f.display_name.clone()),
        emails: with_emails.then(|| lines(&f.emails)),
    };
    match users::update(
        &s.db,
        s.clock.as_ref(),
        &can,
        &signed_in.principal.actor,
        id,
        input,
    )
    .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/users/{id}?done=updated")).into_response()),
        Err(ServiceError::Validation(v)) => {
            let mut form = fields(&f.display_name, &f.emails, None, with_emails);
            form.place(v.0);
            let page = edit_page(&s, &signed_in, &path, (id, "user"), form).await;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(ServiceError::Conflict(c)) => {
            let mut form = fields(&f.display_name, &f.emails, None, with_emails);
            form.place(vec![c]);
            let page = edit_page(&s, &signed_in, &path, (id, "user"), form).await;
            Ok(render(StatusCode::CONFLICT, &page))
        }
        Err(e) => Err(errors::service(&signed_in, &path, e)),
    }
}

/// `enable` or `disable`, from the address (users are never deleted); anything else is not a
/// page.
fn parse_change(
    signed_in: &SignedIn,
    path: &str,
    change: &str,
) -> Result<bool, axum::response::Response> {
    Ok(
        super::confirm::Change::parse(signed_in, path, change, false)?
            == super::confirm::Change::Enable,
    )
}

async fn confirm_page(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    id: UserId,
    enable: bool,
) -> Result<ConfirmPage, axum::response::Response> {
    let read = signed_in.can::<perm::UserRead>(path)?;
    let d = users::get(&s.db, &read, id)
        .await
        .map_err(|e| errors::service(signed_in, path, e))?;
    let name = d.user.display_name.clone();
    let (title, consequences, button, class) = if enable {
        (
            format!("Enable {name}"),
            vec![
                format!("{name} can sign in again and their API tokens work again."),
                "Their groups and roles are as they were.".to_owned(),
            ],
            "Enable user",
            "",
        )
    } else {
        (
            format!("Disable {name}"),
            vec![
                format!("{name} is signed out everywhere at once and cannot sign in."),
                "Their API tokens stop working while they are disabled.".to_owned(),
                "Refused when they are the last enabled owner of a managed account: give it another owner first.".to_owned(),
            ],
            "Disable user",
            "warning",
        )
    };
    Ok(ConfirmPage {
        chrome: Chrome::new(Some(signed_in), path).with_counts(s).await,
        title,
        back: (format!("/users/{id}"), name),
        consequences,
        action: format!("/users/{id}/{}", if enable { "enable" } else { "disable" }),
        button: button.into(),
        button_class: class,
        csrf_token: signed_in.csrf_token(),
        errors: Vec::new(),
    })
}

async fn confirm(
    State(s): State<AppState>,
    browser: Browser,
    Path((id, change)): Path<(String, String)>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let id = signed_in.id::<UserId>(&path, &id)?;
    let enable = parse_change(&signed_in, &path, &change)?;
    signed_in.can::<perm::UserUpdate>(&path)?;
    Ok(confirm_page(&s, &signed_in, &path, id, enable)
        .await?
        .show())
}

async fn change(
    State(s): State<AppState>,
    browser: Browser,
    Path((id, change)): Path<(String, String)>,
    Posted(f): Posted<super::form::CsrfOnly>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&f.csrf_token)?;
    let id = signed_in.id::<UserId>(&path, &id)?;
    let enable = parse_change(&signed_in, &path, &change)?;
    let can = signed_in.can::<perm::UserUpdate>(&path)?;
    let outcome = users::set_enabled(
        &s.db,
        s.clock.as_ref(),
        &can,
        &signed_in.principal.actor,
        id,
        enable,
    )
    .await;
    crate::ui::confirm::answer(
        &signed_in,
        &path,
        outcome,
        &format!("/users/{id}?done={change}"),
        confirm_page(&s, &signed_in, &path, id, enable),
    )
    .await
}

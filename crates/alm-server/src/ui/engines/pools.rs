//! Engine pools: the list (which is the default, how many engines each has), create and edit
//! (name, description), and delete with a confirmation (refused while a domain, vault or
//! engine uses the pool; the default pool stays).

use super::*;
use crate::services::engines::PoolInput;
use crate::services::ServiceError;
use crate::ui::browser::SignedIn;
use crate::ui::confirm::ConfirmPage;
use crate::ui::form::{Control, Field, Form};
use crate::ui::form_page::{FormPage, Target};
use alm_core::PoolId;
use axum::extract::Path;
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;

struct PoolRow {
    id: PoolId,
    name: String,
    description: String,
    is_default: bool,
    engines: usize,
}

#[derive(Template)]
#[template(path = "pools.html")]
struct PoolsPage {
    chrome: Chrome,
    title: &'static str,
    rows: Vec<PoolRow>,
    table: Table,
    can_create: bool,
    can_update: bool,
    can_delete: bool,
}

pub(super) async fn list(
    State(s): State<AppState>,
    browser: Browser,
    Query(q): Query<TableQuery>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let can = signed_in.can::<perm::EngineRead>(&path)?;
    let table = Table::parse("/engines/pools", &q, &["name"], "name")
        .map_err(|e| errors::bad_address(&signed_in, &path, &e))?;
    let fail = |e| errors::service(&signed_in, &path, e);
    let (pools, total) = table.slice(
        engines::pools(&s.db, &can).await.map_err(fail)?,
        |p| format!("{} {}", p.name, p.description),
        |p, _| p.name.clone(),
    );
    let shown = pools.len();
    let all = engines::list(&s.db, &can, false, None)
        .await
        .map_err(fail)?;
    let page = PoolsPage {
        chrome: Chrome::new(Some(&signed_in), &path).with_counts(&s).await,
        title: "Engine pools",
        rows: pools
            .into_iter()
            .map(|p| PoolRow {
                engines: all.iter().filter(|e| e.pool_id == Some(p.id)).count(),
                id: p.id,
                name: p.name,
                description: p.description,
                is_default: p.is_default,
            })
            .collect(),
        table: table.with_counts(total, shown),
        can_create: signed_in.may::<perm::EngineCreate>(),
        can_update: signed_in.may::<perm::EngineUpdate>(),
        can_delete: signed_in.may::<perm::EngineDelete>(),
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(Deserialize)]
pub(super) struct PoolForm {
    csrf_token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
}

fn fields(name: &str, description: &str) -> Form {
    Form::new(vec![
        Field::new("name", "Name", Control::Text)
            .hint("e.g. the site or network its engines stand in.")
            .value(name),
        Field::new("description", "Description", Control::TextArea(3))
            .hint("Optional.")
            .value(description),
    ])
}

fn target(editing: Option<(PoolId, &str)>) -> Target {
    match editing {
        None => Target {
            title: "New engine pool".into(),
            action: "/engines/pools/new".into(),
            back: "/engines/pools".into(),
            button: "Create pool",
        },
        Some((id, name)) => Target {
            title: format!("Edit {name}"),
            action: format!("/engines/pools/{id}/edit"),
            back: "/engines/pools".into(),
            button: "Save changes",
        },
    }
}

async fn refused(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    f: &PoolForm,
    editing: Option<(PoolId, &str)>,
    error: ServiceError,
) -> PageResult {
    let (status, found) = match error {
        ServiceError::Validation(v) => (StatusCode::UNPROCESSABLE_ENTITY, v.0),
        ServiceError::Conflict(c) => (StatusCode::CONFLICT, vec![c]),
        e => return Err(errors::service(signed_in, path, e)),
    };
    let mut form = fields(&f.name, &f.description);
    form.place(found);
    Ok(render(
        status,
        &FormPage::new(s, signed_in, path, target(editing), form).await,
    ))
}

pub(super) async fn new_form(State(s): State<AppState>, browser: Browser) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    signed_in.can::<perm::EngineCreate>(&path)?;
    Ok(render(
        StatusCode::OK,
        &FormPage::new(&s, &signed_in, &path, target(None), fields("", "")).await,
    ))
}

pub(super) async fn create(
    State(s): State<AppState>,
    browser: Browser,
    axum::Form(f): axum::Form<PoolForm>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&f.csrf_token)?;
    let can = signed_in.can::<perm::EngineCreate>(&path)?;
    let input = PoolInput {
        name: Some(f.name.clone()),
        description: Some(f.description.clone()),
    };
    match engines::create_pool(
        &s.db,
        s.clock.as_ref(),
        &can,
        &signed_in.principal.actor,
        input,
    )
    .await
    {
        Ok(_) => Ok(Redirect::to("/engines/pools").into_response()),
        Err(e) => refused(&s, &signed_in, &path, &f, None, e).await,
    }
}

pub(super) async fn edit_form(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let id = signed_in.id::<PoolId>(&path, &id)?;
    signed_in.can::<perm::EngineUpdate>(&path)?;
    let read = signed_in.can::<perm::EngineRead>(&path)?;
    let p = engines::pool(&s.db, &read, id)
        .await
        .map_err(|e| errors::service(&signed_in, &path, e))?;
    let form = fields(&p.name, &p.description);
    Ok(render(
        StatusCode::OK,
        &FormPage::new(&s, &signed_in, &path, target(Some((id, &p.name))), form).await,
    ))
}

pub(super) async fn update(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    axum::Form(f): axum::Form<PoolForm>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&f.csrf_token)?;
    let id = signed_in.id::<PoolId>(&path, &id)?;
    let can = signed_in.can::<perm::EngineUpdate>(&path)?;
    let input = PoolInput {
        name: Some(f.name.clone()),
        description: Some(f.description.clone()),
    };
    match engines::update_pool(
        &s.db,
        s.clock.as_ref(),
        &can,
        &signed_in.principal.actor,
        id,
        input,
    )
    .await
    {
        Ok(_) => Ok(Redirect::to("/engines/pools").into_response()),
        Err(e) => refused(&s, &signed_in, &path, &f, Some((id, "pool")), e).await,
    }
}

async fn delete_page(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    id: PoolId,
) -> Result<ConfirmPage, axum::response::Response> {
    let read = signed_in.can::<perm::EngineRead>(path)?;
    let p = engines::pool(&s.db, &read, id)
        .await
        .map_err(|e| errors::service(signed_in, path, e))?;
    Ok(ConfirmPage {
        chrome: Chrome::new(Some(signed_in), path).with_counts(s).await,
        title: format!("Delete {}", p.name),
        back: ("/engines/pools".into(), "Engine pools".into()),
        consequences: vec![
            format!("The pool {} is removed.", p.name),
            "Refused while a domain, vault or engine uses it: move them to another pool first. The default pool cannot be removed.".into(),
        ],
        action: format!("/engines/pools/{id}/delete"),
        button: "Delete pool".into(),
        button_class: "warning",
        csrf_token: signed_in.csrf_token(),
        errors: Vec::new(),
    })
}

pub(super) async fn confirm_delete(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let id = signed_in.id::<PoolId>(&path, &id)?;
    signed_in.can::<perm::EngineDelete>(&path)?;
    Ok(delete_page(&s, &signed_in, &path, id).await?.show())
}

pub(super) async fn delete(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    axum::Form(f): axum::Form<crate::ui::form::CsrfOnly>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&f.csrf_token)?;
    let id = signed_in.id::<PoolId>(&path, &id)?;
    let can = signed_in.can::<perm::EngineDelete>(&path)?;
    let outcome = engines::delete_pool(
        &s.db,
        s.clock.as_ref(),
        &can,
        &signed_in.principal.actor,
        id,
    )
    .await;
    crate::ui::confirm::answer(
        &signed_in,
        &path,
        outcome,
        "/engines/pools",
        delete_page(&s, &signed_in, &path, id),
    )
    .await
}

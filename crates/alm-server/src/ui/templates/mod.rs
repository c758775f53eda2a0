//! Administration — workflow templates (SPEC §2.4, §10): the list; a template's page (its state,
//! the version shown as the six groups, its versions, and what may be done now: edit the draft,
//! publish — or send for approval when the author is no workflow manager, and approve as one —,
//! unpublish, disable, new version, delete a never-published one); a version's page and its
//! comparison with the published version field by field; the wizard (`flow.rs`, `wizard.rs`);
//! and the pickers' searches the wizard's script asks.

mod flow;
mod summary;
mod wizard;

use super::browser::{Browser, SignedIn};
use super::form::{self, Control, Field, Form};
use super::table::{Table, TableQuery};
use super::{errors, escape, iso, render, utc, Chrome, FormError, PageResult};
use crate::services::template_names as names;
use crate::services::{templates, ServiceError, ServiceResult};
use crate::state::AppState;
use alm_core::permissions::{perm, Can, Feature, Permission, Right};
use alm_core::templates::{TemplateState, VersionState};
use alm_core::FieldError;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use uuid::Uuid;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/templates", get(list))
        .route("/templates/new", get(flow::new_form).post(flow::post_new))
        .route("/templates/pick/{what}", get(pick))
        .route("/templates/{id}", get(show))
        .route(
            "/templates/{id}/edit",
            get(flow::edit_form).post(flow::post_draft),
        )
        .route("/templates/{id}/versions/{n}", get(version))
        .route("/templates/{id}/{action}", get(confirm).post(act))
}

struct Row {
    id: Uuid,
    name: String,
    state: &'static str,
    published: String,
    latest: i64,
    kind: &'static str,
}

#[derive(Template)]
#[template(path = "templates.html")]
struct ListPage {
    chrome: Chrome,
    title: &'static str,
    notice: Option<&'static str>,
    can_create: bool,
    table: Table,
    rows: Vec<Row>,
}

#[derive(Deserialize, Default)]
struct Done {
    done: Option<String>,
}

fn state_label(s: TemplateState) -> &'static str {
    match s {
        TemplateState::Draft => "Draft",
        TemplateState::Published => "Published",
        TemplateState::Unpublished => "Unpublished",
        TemplateState::Disabled => "Disabled",
    }
}

fn version_label(s: VersionState) -> &'static str {
    match s {
        VersionState::Draft => "Draft",
        VersionState::NeedsApproval => "Waiting for approval",
        VersionState::Published => "Published",
        VersionState::Superseded => "Superseded",
    }
}

async fn list(
    State(s): State<AppState>,
    browser: Browser,
    Query(q): Query<Done>,
    Query(tq): Query<TableQuery>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let can = signed_in.can::<perm::TemplateRead>(&path)?;
    let table = Table::parse("/templates", &tq, &["name", "state"], "name")
        .map_err(|e| errors::bad_address(&signed_in, &path, &e))?;
    let all = templates::list(&s.db, &can)
        .await
        .map_err(|e| errors::service(&signed_in, &path, e))?;
    let (found, total) = table.slice(
        all,
        |t| t.template.name.clone(),
        |t, key| match key {
            "state" => state_label(t.template.state).to_owned(),
            _ => t.template.name.clone(),
        },
    );
    let page = ListPage {
        chrome: Chrome::new(Some(&signed_in), &path).with_counts(&s).await,
        title: "Workflow templates",
        notice: (q.done.as_deref() == Some("deleted")).then_some("The template is deleted."),
        can_create: signed_in.may::<perm::TemplateCreate>(),
        table: table.with_counts(total, found.len()),
        rows: found
            .iter()
            .map(|t| Row {
                id: t.template.id,
                name: t.template.name.clone(),
                state: state_label(t.template.state),
                published: t
                    .template
                    .published_version
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "None".into()),
                latest: t.template.latest_version,
                kind: t.definition.account_type.as_str(),
            })
            .collect(),
    };
    Ok(render(StatusCode::OK, &page))
}

struct VersionRow {
    number: i64,
    state: &'static str,
    created: (String, String),
    published: Option<(String, String)>,
}

/// A button of the template page: (action in the address, label, warning style).
type Action = (&'static str, &'static str, bool);

#[derive(Template)]
#[template(path = "template.html")]
struct TemplatePage {
    chrome: Chrome,
    title: String,
    notice: Option<String>,
    id: Uuid,
    state: &'static str,
    version: i64,
    version_state: &'static str,
    can_edit: bool,
    actions: Vec<Action>,
    csrf_token: String,
    groups: Vec<summary::Group>,
    versions: Vec<VersionRow>,
    published_version: Option<i64>,
    /// A refused action's rule (nothing changed).
    errors: Vec<FormError>,
}

fn workflow_manager(signed_in: &SignedIn) -> bool {
    signed_in.principal.permissions.has(Permission::new(
        Feature::ProvisionTemplateWorkflow,
        Right::Manage,
    ))
}

async fn template_page(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    id: Uuid,
    notice: Option<String>,
) -> Result<TemplatePage, axum::response::Response> {
    let can = signed_in.can::<perm::TemplateRead>(path)?;
    let fail = |e| errors::service(signed_in, path, e);
    let t = templates::get(&s.db, &can, id).await.map_err(fail)?;
    let d = &t.definition;
    let (domain, vault) = names::domain_and_vault(&s.db, d.domain_id, d.vault_id)
        .await
        .map_err(fail)?;
    let groups = summary::groups(s, d, &domain, &vault).await.map_err(fail)?;
    let versions = templates::versions(&s.db, &can, id).await.map_err(fail)?;
    let (state, vstate) = (t.template.state, t.version.state);
    let latest = t.version.version == t.template.latest_version;
    let update = signed_in.may::<perm::TemplateUpdate>() && latest;
    let manager = workflow_manager(signed_in);
    let mut actions: Vec<Action> = Vec::new();
    if update && state != TemplateState::Disabled {
        match vstate {
            VersionState::Draft if manager => actions.push(("publish", "Publish", false)),
            VersionState::Draft => actions.push(("publish", "Send for approval", false)),
            VersionState::NeedsApproval if manager => {
                actions.push(("publish", "Approve and publish", false))
            }
            VersionState::Published if state == TemplateState::Unpublished => {
                actions.push(("publish", "Publish again", false))
            }
            _ => {}
        }
        if state == TemplateState::Published {
            actions.push(("unpublish", "Unpublish", false));
        }
    }
    if signed_in.may::<perm::TemplateCreate>()
        && latest
        && matches!(vstate, VersionState::Published | VersionState::Superseded)
        && state != TemplateState::Disabled
    {
        actions.push(("new-version", "Create a new version", false));
    }
    if update && state != TemplateState::Disabled {
        actions.push(("disable", "Disable", true));
    }
    if signed_in.may::<perm::TemplateDelete>() && t.template.published_version.is_none() {
        actions.push(("delete", "Delete", true));
    }
    Ok(TemplatePage {
        chrome: Chrome::new(Some(signed_in), path).with_counts(s).await,
        title: t.template.name.clone(),
        notice,
        id,
        state: state_label(state),
        version: t.version.version,
        version_state: version_label(vstate),
        can_edit: update && vstate == VersionState::Draft && state != TemplateState::Disabled,
        actions,
        csrf_token: signed_in.csrf_token(),
        groups,
        versions: versions
            .iter()
            .rev()
            .map(|(v, _)| VersionRow {
                number: v.version,
                state: version_label(v.state),
                created: (iso(v.created_at), utc(v.created_at)),
                published: v.published_at.map(|at| (iso(at), utc(at))),
            })
            .collect(),
        published_version: t.template.published_version,
        errors: Vec::new(),
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
    let id = signed_in.id::<Uuid>(&path, &id)?;
    let notice = match q.done.as_deref() {
        Some("saved") => Some("The template is saved as a draft. Publish it to offer it to requesters."),
        Some("unpublish") => Some("The template is unpublished: no new requests; change it in a new version."),
        Some("disable") => Some("The template is disabled for good: no new requests. Accounts made from it keep their version."),
        Some("new-version") => Some("A new draft version is made from the latest one: edit it, then publish it."),
        _ => None,
    }
    .map(str::to_owned);
    let mut page = template_page(&s, &signed_in, &path, id, notice).await?;
    // What "publish" did depends on who pressed it: published, or sent for approval.
    if q.done.as_deref() == Some("publish") {
        page.notice = Some(
            if page.version_state == version_label(VersionState::NeedsApproval) {
                "Sent for approval: a workflow manager publishes it; until then requests use the version published before, if any.".into()
            } else {
                format!("Published: new requests use version {}.", page.version)
            },
        );
    }
    Ok(render(StatusCode::OK, &page))
}

/// The state changes of a template page, posted by its buttons.
async fn act(
    State(s): State<AppState>,
    browser: Browser,
    Path((id, action)): Path<(String, String)>,
    axum::Form(f): axum::Form<form::CsrfOnly>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&f.csrf_token)?;
    let id = signed_in.id::<Uuid>(&path, &id)?;
    let actor = &signed_in.principal.actor;
    let clock = s.clock.as_ref();
    let done: ServiceResult<()> = match action.as_str() {
        "publish" => {
            let can = signed_in.can::<perm::TemplateUpdate>(&path)?;
            templates::publish(
                &s.db,
                clock,
                &can,
                actor,
                id,
                workflow_manager(&signed_in),
                &s.config.base_url(),
            )
            .await
            .map(drop)
        }
        "unpublish" | "disable" => {
            let can = signed_in.can::<perm::TemplateUpdate>(&path)?;
            let to = if action == "unpublish" {
                TemplateState::Unpublished
            } else {
                TemplateState::Disabled
            };
            templates::set_state(&s.db, clock, &can, actor, id, to, &s.config.base_url())
                .await
                .map(drop)
        }
        "new-version" => {
            let can = signed_in.can::<perm::TemplateCreate>(&path)?;
            templates::new_version(&s.db, clock, &can, actor, id)
                .await
                .map(drop)
        }
        "delete" => {
            let can = signed_in.can::<perm::TemplateDelete>(&path)?;
            return match templates::delete(&s.db, clock, &can, actor, id).await {
                Ok(()) => Ok(Redirect::to("/templates?done=deleted").into_response()),
                Err(e) => refused(&s, &signed_in, id, e).await,
            };
        }
        _ => return Err(errors::not_found_for(Some(&signed_in), &path)),
    };
    match done {
        Ok(()) => Ok(Redirect::to(&format!("/templates/{id}?done={action}")).into_response()),
        Err(e) => refused(&s, &signed_in, id, e).await,
    }
}

/// The confirmation of what cannot be undone: disabling a template (for good) and deleting
/// one that was never published. The other actions post from the template's page directly.
async fn confirm_page(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    id: Uuid,
    action: &str,
) -> Result<crate::ui::confirm::ConfirmPage, axum::response::Response> {
    let read = signed_in.can::<perm::TemplateRead>(path)?;
    let t = templates::get(&s.db, &read, id)
        .await
        .map_err(|e| errors::service(signed_in, path, e))?;
    let name = t.template.name.clone();
    let (title, consequences, button) = match action {
        "disable" => (
            format!("Disable {name}"),
            vec![
                "No new request can use it, for good: a disabled template is never published again.".to_owned(),
                "Accounts made from it keep their version and their lifecycle; requests in progress go on.".to_owned(),
            ],
            "Disable template",
        ),
        "delete" => (
            format!("Delete {name}"),
            vec![
                "The template and its draft versions are removed.".to_owned(),
                "Only a template that was never published can be deleted.".to_owned(),
            ],
            "Delete template",
        ),
        _ => return Err(errors::not_found_for(Some(signed_in), path)),
    };
    Ok(crate::ui::confirm::ConfirmPage {
        chrome: Chrome::new(Some(signed_in), path).with_counts(s).await,
        title,
        back: (format!("/templates/{id}"), name),
        consequences,
        action: format!("/templates/{id}/{action}"),
        button: button.into(),
        button_class: "warning",
        csrf_token: signed_in.csrf_token(),
        errors: Vec::new(),
    })
}

async fn confirm(
    State(s): State<AppState>,
    browser: Browser,
    Path((id, action)): Path<(String, String)>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let id = signed_in.id::<Uuid>(&path, &id)?;
    match action.as_str() {
        "disable" => {
            signed_in.can::<perm::TemplateUpdate>(&path)?;
        }
        "delete" => {
            signed_in.can::<perm::TemplateDelete>(&path)?;
        }
        _ => return Err(errors::not_found_for(Some(&signed_in), &path)),
    }
    Ok(confirm_page(&s, &signed_in, &path, id, &action)
        .await?
        .show())
}

/// The template's page again with the rule that refused the action (nothing changed).
async fn refused(s: &AppState, signed_in: &SignedIn, id: Uuid, e: ServiceError) -> PageResult {
    let page_path = format!("/templates/{id}");
    let message = match e {
        ServiceError::Refused(r) => r.to_string(),
        ServiceError::Validation(v) => format!("The version cannot be published as it is: {v}"),
        e => return Err(errors::service(signed_in, &page_path, e)),
    };
    let mut page = template_page(s, signed_in, &page_path, id, None).await?;
    page.chrome.has_errors = true;
    page.errors.push(FormError {
        field: "template-actions".into(),
        message,
    });
    Ok(render(StatusCode::CONFLICT, &page))
}

#[derive(Template)]
#[template(path = "template_version.html")]
struct VersionPage {
    chrome: Chrome,
    title: String,
    id: Uuid,
    name: String,
    number: i64,
    state: &'static str,
    groups: Vec<summary::Group>,
    /// Against the published version, when there is one and it is another.
    published: Option<i64>,
    differences: Vec<summary::Difference>,
    changed: usize,
}

#[derive(Deserialize, Default)]
struct Compare {
    compare: Option<String>,
}

/// A version of a template, and with `?compare=published` its differences from the published one.
async fn version(
    State(s): State<AppState>,
    browser: Browser,
    Path((id, n)): Path<(String, String)>,
    Query(q): Query<Compare>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let id = signed_in.id::<Uuid>(&path, &id)?;
    let n = signed_in.id::<i64>(&path, &n)?;
    let can = signed_in.can::<perm::TemplateRead>(&path)?;
    let fail = |e| errors::service(&signed_in, &path, e);
    let t = templates::get(&s.db, &can, id).await.map_err(fail)?;
    let versions = templates::versions(&s.db, &can, id).await.map_err(fail)?;
    let (v, d) = versions
        .iter()
        .find(|(v, _)| v.version == n)
        .ok_or_else(|| errors::not_found_for(Some(&signed_in), &path))?;
    let rows = |d: &alm_core::templates::TemplateDefinition| {
        let s = s.clone();
        let d = d.clone();
        async move {
            let (domain, vault) = names::domain_and_vault(&s.db, d.domain_id, d.vault_id).await?;
            summary::groups(&s, &d, &domain, &vault).await
        }
    };
    let groups = rows(d).await.map_err(fail)?;
    let published = t.template.published_version.filter(|p| *p != n);
    let differences = match (q.compare.as_deref(), published) {
        (Some("published"), Some(p)) => {
            let (_, pd) = versions
                .iter()
                .find(|(v, _)| v.version == p)
                .ok_or_else(|| errors::not_found_for(Some(&signed_in), &path))?;
            let theirs = rows(pd).await.map_err(fail)?;
            summary::compare(&groups, &theirs)
        }
        (Some(other), _) if other != "published" => {
            return Err(errors::bad_address(
                &signed_in,
                &path,
                &FieldError::new("compare", "one-of", "must be published").into(),
            ))
        }
        _ => Vec::new(),
    };
    let page = VersionPage {
        chrome: Chrome::new(Some(&signed_in), &path).with_counts(&s).await,
        title: format!("{} — version {n}", t.template.name),
        id,
        name: t.template.name.clone(),
        number: n,
        state: version_label(v.state),
        groups,
        published,
        changed: differences.iter().filter(|d| d.changed).count(),
        differences,
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(Deserialize, Default)]
struct PickQuery {
    #[serde(default)]
    q: String,
    domain_id: Option<String>,
}

/// A picker's answer: `<option>` elements for the wizard's search field (escaped text).
async fn pick(
    State(s): State<AppState>,
    browser: Browser,
    Path(what): Path<String>,
    Query(q): Query<PickQuery>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let can: Can<perm::TemplateRead> = signed_in.can::<perm::TemplateRead>(&path)?;
    let fail = |e| errors::service(&signed_in, &path, e);
    let options: Vec<(String, String)> = match what.as_str() {
        "ous" => {
            let domain = q
                .domain_id
                .as_deref()
                .and_then(|d| d.parse().ok())
                .ok_or_else(|| {
                    errors::bad_address(
                        &signed_in,
                        &path,
                        &FieldError::new("domain_id", "required", "choose a domain first").into(),
                    )
                })?;
            names::pick_ous(&s.db, &can, domain, &q.q)
                .await
                .map_err(fail)?
                .into_iter()
                .map(|dn| (dn, String::new()))
                .collect()
        }
        "users" => names::pick_users(&s.db, &can, &q.q)
            .await
            .map_err(fail)?
            .into_iter()
            .map(|(name, email)| (email, name))
            .collect(),
        "groups" => names::pick_groups(&s.db, &can, &q.q)
            .await
            .map_err(fail)?
            .into_iter()
            .map(|g| (g, String::new()))
            .collect(),
        _ => return Err(errors::not_found_for(Some(&signed_in), &path)),
    };
    let html: String = options
        .iter()
        .map(|(value, label)| {
            if label.is_empty() {
                format!("<option value=\"{}\"></option>", escape(value))
            } else {
                format!(
                    "<option value=\"{}\">{}</option>",
                    escape(value),
                    escape(label)
                )
            }
        })
        .collect();
    Ok((
        [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response())
}

//! `/accounts/{id}`: one managed account (SPEC §2.7) — where it lives, its lifecycle dates,
//! where its secret is (vault and secret id, never the password), its owners (added and
//! removed within the template's rules) and its history — with the §4.1 actions offered now,
//! and for the others the rule that keeps them back. The actions themselves are in
//! [`super::account_actions`].

use super::browser::{Browser, SignedIn};
use super::dependencies::DependencyBlock;
use super::{errors, iso, label, render, utc, Chrome, FormError, PageResult};
use crate::services::accounts::{self, AccountInfo, AccountLabels};
use crate::services::dependencies::Dependencies;
use crate::services::ServiceError;
use crate::state::AppState;
use alm_core::lifecycle::Action;
use alm_core::permissions::perm;
use alm_store::accounts::Owner;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use uuid::Uuid;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/accounts/{id}", get(show))
        .route("/accounts/{id}/owners", post(add_owner))
        .route("/accounts/{id}/owners/remove", post(remove_owner))
}

/// How many history entries the page shows (newest first).
const HISTORY_SHOWN: u32 = 50;

/// An action as a button on the page, leading to its confirmation.
pub struct ActionLink {
    pub href: String,
    pub label: &'static str,
    /// `warning` for the ones that take something away.
    pub class: &'static str,
}

/// The label of an owner action, as buttons and confirmations name it.
pub fn action_label(action: Action) -> &'static str {
    match action {
        Action::Renew => "Renew",
        Action::SubmitRenewal => "Submit for approval to renew",
        Action::Disable => "Disable",
        Action::Enable => "Enable",
        Action::Delete => "Delete account and secret",
        Action::Clone => "Clone as new request",
    }
}

/// The buttons for the actions §4.1 offers now, in a fixed order.
pub fn action_links(info: &AccountInfo) -> Vec<ActionLink> {
    Action::ALL
        .into_iter()
        .filter(|a| info.actions.contains(a))
        .map(|a| ActionLink {
            href: format!("/accounts/{}/{}", info.record.id, a.as_str()),
            label: action_label(a),
            class: match a {
                Action::Disable | Action::Delete => "warning",
                Action::Clone => "secondary",
                _ => "",
            },
        })
        .collect()
}

struct OwnerRow {
    /// `user:<id>` or `group:<id>`, for the remove form.
    key: String,
    name: String,
    kind: &'static str,
    email: String,
    enabled: bool,
}

struct HistoryRow {
    at_iso: String,
    at_utc: String,
    what: String,
    who: String,
    outcome: &'static str,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    chrome: Chrome,
    title: String,
    errors: Vec<FormError>,
    notice: Option<String>,
    csrf_token: String,
    id: Uuid,
    status: &'static str,
    status_label: String,
    problem: Option<String>,
    facts: Vec<(&'static str, String)>,
    dates: Vec<(&'static str, String, String)>,
    days_left: i64,
    renewal_open: bool,
    actions: Vec<ActionLink>,
    /// (action, why not now) for the actions §4.1 keeps back.
    unavailable: Vec<(&'static str, String)>,
    owners: Vec<OwnerRow>,
    can_change_owners: bool,
    owner_email: String,
    owner_error: Option<String>,
    history: Vec<HistoryRow>,
    dependencies: DependencyBlock,
}

fn may_update(signed_in: &SignedIn) -> bool {
    signed_in.may::<perm::AccountUpdate>()
}

fn owner_row(o: &accounts::OwnerInfo) -> OwnerRow {
    let (key, kind) = match o.owner {
        Owner::User(u) => (format!("user:{u}"), "person"),
        Owner::Group(g) => (format!("group:{g}"), "group"),
    };
    OwnerRow {
        key,
        name: o.display_name.clone(),
        kind,
        email: o.emails.first().cloned().unwrap_or_default(),
        enabled: o.enabled,
    }
}

async fn account_page(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    info: &AccountInfo,
    names: &AccountLabels,
    history: Vec<alm_store::audit_log::AuditRecord>,
    dependencies: &Dependencies,
) -> AccountPage {
    let r = &info.record;
    let now = s.clock.now();
    let status = r.status.as_str();
    let facts = vec![
        ("Type", label(r.account_type.as_str())),
        ("Domain", names.domain.clone()),
        ("Distinguished name", r.dn.clone()),
        ("objectGUID", r.guid.clone()),
        (
            "Template",
            format!("{} (version {})", names.template, r.template_version),
        ),
        ("Interval", r.interval.to_string()),
        ("At end of life", label(r.eol_action.as_str())),
        ("Vault", names.vault.clone()),
        ("Secret id", r.secret_ref.clone()),
        ("In the directory", label(r.directory_state.as_str())),
        ("In the vault", label(r.secret_state.as_str())),
        ("Description", r.description.clone()),
    ];
    let dates = vec![
        (
            "Lifecycle started",
            iso(r.lifecycle_start),
            utc(r.lifecycle_start),
        ),
        (
            "Renewal window opens",
            iso(info.renewal_at),
            utc(info.renewal_at),
        ),
        ("End of life", iso(r.eol_at), utc(r.eol_at)),
    ];
    let unavailable = Action::ALL
        .into_iter()
        .filter_map(|a| {
            info.standing
                .check(a, now)
                .err()
                .map(|why| (action_label(a), why))
        })
        .collect();
    let history = history
        .into_iter()
        .map(|h| HistoryRow {
            at_iso: iso(h.at),
            at_utc: utc(h.at),
            what: label(h.action.strip_prefix("account.").unwrap_or(&h.action)),
            who: h
                .personal
                .actor_name
                .clone()
                .unwrap_or_else(|| label(h.actor_kind.as_str())),
            outcome: h.outcome.as_str(),
        })
        .collect();
    AccountPage {
        chrome: Chrome::new(Some(signed_in), path).with_counts(s).await,
        title: r.name.clone(),
        errors: Vec::new(),
        notice: None,
        csrf_token: signed_in.csrf_token(),
        id: r.id,
        status,
        status_label: label(status),
        problem: r.problem.clone(),
        facts,
        dates,
        days_left: (r.eol_at - now).whole_days().max(0),
        renewal_open: info.renewal_at <= now,
        actions: if may_update(signed_in) {
            action_links(info)
        } else {
            Vec::new()
        },
        unavailable,
        owners: info.owners.iter().map(owner_row).collect(),
        can_change_owners: may_update(signed_in),
        owner_email: String::new(),
        owner_error: None,
        history,
        dependencies: dependencies.into(),
    }
}

#[derive(Debug, Deserialize)]
struct ShowQuery {
    done: Option<String>,
}

/// What the page says after an action or an owner change (from the redirect's `done`).
fn notice_for(done: &str) -> Option<&'static str> {
    Some(match done {
        "renew" => "The account is renewed: its end of life moved by one interval.",
        "disable" => "The account is disabled. The directory change is on its way.",
        "enable" => "The account is enabled again. The directory change is on its way.",
        "delete" => {
            "The account is being deleted from the directory, and its secret from the vault."
        }
        "submit-renewal" => "The renewal is submitted: the template's approvers decide on it.",
        "owner-added" => "The owner is added.",
        "owner-removed" => "The owner is removed.",
        _ => return None,
    })
}

async fn show(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    Query(q): Query<ShowQuery>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let id = signed_in.id::<Uuid>(&path, &id)?;
    let mut p = loaded(&s, &signed_in, &path, id).await?;
    p.notice = q.done.as_deref().and_then(notice_for).map(str::to_owned);
    Ok(render(StatusCode::OK, &p))
}

/// The page's data for an account the caller may read.
async fn loaded(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    id: Uuid,
) -> Result<AccountPage, Response> {
    let can = signed_in.can::<perm::AccountRead>(path)?;
    let fail = |e: ServiceError| errors::service(signed_in, path, e);
    let info = accounts::get(&s.db, s.clock.as_ref(), &can, id)
        .await
        .map_err(fail)?;
    let names = accounts::labels_of(&s.db, &info.record)
        .await
        .map_err(fail)?;
    let history_page =
        alm_core::paging::PageRequest::parse(Some(HISTORY_SHOWN), Some(0), Some("-at"), &["at"])
            .expect("the history's page is valid");
    let (history, _) = accounts::history(&s.db, &can, id, &history_page)
        .await
        .map_err(fail)?;
    let dependencies = crate::services::dependencies::of_account(&s.db, &can, id)
        .await
        .map_err(fail)?;
    Ok(account_page(s, signed_in, path, &info, &names, history, &dependencies).await)
}

#[derive(Debug, Deserialize)]
struct OwnerForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    owner: String,
}

async fn add_owner(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    Form(form): Form<OwnerForm>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&form.csrf_token)?;
    let id = signed_in.id::<Uuid>(&path, &id)?;
    let can = signed_in.can::<perm::AccountUpdate>(&path)?;
    let page_path = format!("/accounts/{id}");
    // An address names a person; anything else a group (group names hold no "@").
    let who = form.email.trim();
    let owner = if who.contains('@') {
        crate::services::users::enabled_by_email(&s.db, who)
            .await
            .map(Owner::User)
    } else if who.is_empty() {
        Err(alm_core::FieldError::new(
            "email",
            "required",
            "give the email address of a person or the name of a group",
        )
        .into())
    } else {
        crate::services::groups::enabled_by_name(&s.db, "email", who)
            .await
            .map(Owner::Group)
    };
    let owner = match owner {
        Ok(owner) => owner,
        Err(ServiceError::Validation(v)) => {
            let message = v.0.first().map(|e| e.message.clone()).unwrap_or_default();
            return owner_form_error(&s, &signed_in, &page_path, id, &form.email, message).await;
        }
        Err(e) => return Err(errors::service(&signed_in, &path, e)),
    };
    match accounts::add_owner(
        &s.db,
        s.clock.as_ref(),
        &can,
        &signed_in.principal.actor,
        id,
        owner,
        &s.config.base_url(),
    )
    .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/accounts/{id}?done=owner-added")).into_response()),
        // The template's rules (no group owners, too many owners) are the field's errors.
        Err(ServiceError::Validation(v)) => {
            let message = v.0.first().map(|e| e.message.clone()).unwrap_or_default();
            owner_form_error(&s, &signed_in, &page_path, id, &form.email, message).await
        }
        Err(ServiceError::Refused(r)) => {
            owner_form_error(&s, &signed_in, &page_path, id, &form.email, r.to_string()).await
        }
        Err(ServiceError::Conflict(f)) => {
            owner_form_error(&s, &signed_in, &page_path, id, &form.email, f.message).await
        }
        Err(e) => Err(errors::service(&signed_in, &path, e)),
    }
}

/// The account page again with the owner form's error at its field (and nothing changed).
async fn owner_form_error(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    id: Uuid,
    email: &str,
    message: String,
) -> PageResult {
    let mut p = loaded(s, signed_in, path, id).await?;
    p.owner_email = email.to_owned();
    p.owner_error = Some(message.clone());
    p.errors.push(FormError {
        field: "owner-email".into(),
        message,
    });
    p.chrome.has_errors = true;
    Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &p))
}

async fn remove_owner(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    Form(form): Form<OwnerForm>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&form.csrf_token)?;
    let id = signed_in.id::<Uuid>(&path, &id)?;
    let can = signed_in.can::<perm::AccountUpdate>(&path)?;
    let owner = match form.owner.split_once(':') {
        Some(("user", u)) => u.parse().ok().map(Owner::User),
        Some(("group", g)) => g.parse().ok().map(Owner::Group),
        _ => None,
    }
    .ok_or_else(|| errors::not_found_for(Some(&signed_in), &path))?;
    match accounts::remove_owner(
        &s.db,
        s.clock.as_ref(),
        &can,
        &signed_in.principal.actor,
        id,
        owner,
        &s.config.base_url(),
    )
    .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/accounts/{id}?done=owner-removed")).into_response()),
        Err(ServiceError::Refused(r)) => {
            let mut p = loaded(&s, &signed_in, &format!("/accounts/{id}"), id).await?;
            p.errors.push(FormError {
                field: "owners-title".into(),
                message: r.to_string(),
            });
            p.chrome.has_errors = true;
            Ok(render(StatusCode::CONFLICT, &p))
        }
        Err(e) => Err(errors::service(&signed_in, &path, e)),
    }
}

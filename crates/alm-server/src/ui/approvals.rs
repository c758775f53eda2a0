//! `/approvals` (SPEC §2.6, §10): the requests waiting for me, and what I decided before;
//! `/approvals/{id}` shows one with everything the approver reads (requester, template and
//! version, name, interval, justification, description, attributes, owners, OU, folder, the
//! trail so far), approve (with an optional note) or deny (a reason is required). The forms
//! post and redirect back to the list.

use super::browser::{Browser, SignedIn};
use super::{errors, iso, label, render, utc, Chrome, FormError, PageResult};
use crate::services::approvals;
use crate::services::requests::RequestInfo;
use crate::services::users::contacts_of;
use crate::services::ServiceError;
use crate::state::AppState;
use alm_core::permissions::perm;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use uuid::Uuid;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/approvals", get(list))
        .route("/approvals/{id}", get(show))
        .route("/approvals/{id}/approve", post(approve))
        .route("/approvals/{id}/deny", post(deny))
}

/// How many of my earlier decisions the page lists.
const DECIDED_SHOWN: u32 = 50;

struct WaitingRow {
    id: Uuid,
    name: String,
    template: String,
    step: String,
    submitted: Option<(String, String)>,
}

struct DecidedRow {
    name: String,
    step: i64,
    approved: bool,
    reason: Option<String>,
    at_iso: String,
    at_utc: String,
}

#[derive(Template)]
#[template(path = "approvals.html")]
struct ListPage {
    chrome: Chrome,
    title: &'static str,
    notice: Option<&'static str>,
    waiting: Vec<WaitingRow>,
    decided: Vec<DecidedRow>,
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    done: Option<String>,
}

fn step_of(i: &RequestInfo) -> String {
    match i.record.current_step {
        Some(n) => format!("{n} of {}", i.steps),
        None => String::new(),
    }
}

async fn list(
    State(s): State<AppState>,
    browser: Browser,
    Query(q): Query<ListQuery>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let can = signed_in.can::<perm::ApprovalRead>(&path)?;
    let fail = |e: ServiceError| errors::service(&signed_in, &path, e);
    let mut waiting = approvals::pending(&s.db, &can).await.map_err(fail)?;
    waiting.sort_by_key(|r| (r.record.submitted_at, r.record.id));
    let decided = approvals::decided_by_me(&s.db, &can, DECIDED_SHOWN)
        .await
        .map_err(fail)?;
    let page = ListPage {
        chrome: Chrome::new(Some(&signed_in), &path).with_counts(&s).await,
        title: "Approvals",
        notice: match q.done.as_deref() {
            Some("approved") => Some("Your approval is recorded."),
            Some("denied") => Some("The request is denied; the requester is told why."),
            _ => None,
        },
        waiting: waiting
            .iter()
            .map(|i| WaitingRow {
                id: i.record.id,
                name: i.record.account_name.to_string(),
                template: i.template_name.clone(),
                step: step_of(i),
                submitted: i.record.submitted_at.map(|at| (iso(at), utc(at))),
            })
            .collect(),
        decided: decided
            .into_iter()
            .map(|(d, name)| DecidedRow {
                name,
                step: d.step,
                approved: d.decision == alm_core::requests::Decision::Approved,
                reason: d.reason,
                at_iso: iso(d.decided_at),
                at_utc: utc(d.decided_at),
            })
            .collect(),
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(Template)]
#[template(path = "approval.html")]
struct DecidePage {
    chrome: Chrome,
    title: String,
    errors: Vec<FormError>,
    csrf_token: String,
    id: Uuid,
    kind: &'static str,
    step: String,
    requester: (String, String),
    facts: Vec<(&'static str, String)>,
    attributes: Vec<(String, String)>,
    owners: Vec<(String, String)>,
    earlier: Vec<String>,
    note: String,
    reason: String,
    reason_error: Option<String>,
}

async fn decide_page(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    id: Uuid,
) -> Result<DecidePage, axum::response::Response> {
    let can = signed_in.can::<perm::ApprovalRead>(path)?;
    let fail = |e: ServiceError| errors::service(signed_in, path, e);
    let i = approvals::waiting(&s.db, &can, id).await.map_err(fail)?;
    let r = &i.record;
    let d = &i.details;
    let requester = contacts_of(&s.db, &[r.requester_id])
        .await
        .map_err(fail)?
        .remove(0);
    let owners = contacts_of(&s.db, &d.owners.users).await.map_err(fail)?;
    Ok(DecidePage {
        chrome: Chrome::new(Some(signed_in), path).with_counts(s).await,
        title: format!("Approve or deny: {}", r.account_name),
        errors: Vec::new(),
        csrf_token: signed_in.csrf_token(),
        id,
        kind: match r.kind {
            alm_core::requests::RequestKind::New => "A new account",
            alm_core::requests::RequestKind::Renewal => "A renewal of an existing account",
        },
        step: step_of(&i),
        requester,
        facts: vec![
            ("Account name", r.account_name.to_string()),
            (
                "Template",
                format!("{} (version {})", i.template_name, r.template_version),
            ),
            ("Interval", d.interval.to_string()),
            ("Justification", d.justification.clone()),
            ("Description", d.description.clone()),
            ("Organizational unit", d.ou.clone()),
            ("Vault folder", d.folder.clone()),
            (
                "Terms of service",
                if d.terms_accepted {
                    "accepted".into()
                } else {
                    "none to accept".into()
                },
            ),
        ],
        attributes: d
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        owners,
        earlier: i
            .decisions
            .iter()
            .map(|x| {
                format!(
                    "Step {}: {} {}{}",
                    x.step,
                    x.approver_name.as_deref().unwrap_or("an approver"),
                    label(&x.decision).to_lowercase(),
                    x.reason
                        .as_deref()
                        .map(|r| format!(": “{r}”"))
                        .unwrap_or_default()
                )
            })
            .collect(),
        note: String::new(),
        reason: String::new(),
        reason_error: None,
    })
}

async fn show(State(s): State<AppState>, browser: Browser, Path(id): Path<String>) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let id = signed_in.id::<Uuid>(&path, &id)?;
    let page = decide_page(&s, &signed_in, &path, id).await?;
    Ok(render(StatusCode::OK, &page))
}

#[derive(Debug, Deserialize)]
struct DecisionForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    reason: String,
}

async fn decide(
    s: AppState,
    browser: Browser,
    id: String,
    form: DecisionForm,
    approve: bool,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&form.csrf_token)?;
    let id = signed_in.id::<Uuid>(&path, &id)?;
    let can = signed_in.can::<perm::ApprovalUpdate>(&path)?;
    let reason = Some(form.reason.clone()).filter(|r| !r.trim().is_empty());
    match approvals::decide(
        &s.queue,
        &can,
        &signed_in.principal.actor,
        id,
        approve,
        reason,
    )
    .await
    {
        Ok(_) => Ok(Redirect::to(if approve {
            "/approvals?done=approved"
        } else {
            "/approvals?done=denied"
        })
        .into_response()),
        Err(ServiceError::Validation(v)) => {
            let page_path = format!("/approvals/{id}");
            let mut page = decide_page(&s, &signed_in, &page_path, id).await?;
            let field = if approve { "note" } else { "reason" };
            for e in v.0 {
                let message = format!("{}: {}", if approve { "Note" } else { "Reason" }, e.message);
                if !approve {
                    page.reason_error = Some(message.clone());
                }
                page.errors.push(FormError {
                    field: field.into(),
                    message,
                });
            }
            page.reason = form.reason.clone();
            page.chrome.has_errors = true;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(e) => Err(errors::service(&signed_in, &path, e)),
    }
}

async fn approve(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    Form(form): Form<DecisionForm>,
) -> PageResult {
    decide(s, browser, id, form, true).await
}

async fn deny(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    Form(form): Form<DecisionForm>,
) -> PageResult {
    decide(s, browser, id, form, false).await
}

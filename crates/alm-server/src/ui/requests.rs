//! `/requests` (my requests: a table whose state lives in the URL) and `/requests/{id}` (one
//! request: its state, the approval trail step by step with approver names hidden where the
//! template says so, the rejection reason, provisioning progress and failures), with the
//! requester's actions: submit or delete a draft, withdraw. SPEC §2.5, §2.6, §10.

use super::browser::Browser;
use super::table::{Table, TableQuery};
use super::{errors, iso, label, render, utc, Chrome, PageResult};
use crate::services::requests::{self as svc, RequestInfo};
use crate::state::AppState;
use alm_core::permissions::perm;
use alm_core::requests::{RequestKind, RequestState};
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
        .route("/requests", get(list))
        .route("/requests/{id}", get(show))
        .route("/requests/{id}/{action}", post(act))
}

struct Row {
    id: Uuid,
    name: String,
    template: String,
    kind: &'static str,
    state: &'static str,
    state_label: String,
    step: String,
    updated_iso: String,
    updated_utc: String,
}

impl From<&RequestInfo> for Row {
    fn from(i: &RequestInfo) -> Self {
        let r = &i.record;
        Self {
            id: r.id,
            name: r.account_name.to_string(),
            template: i.template_name.clone(),
            kind: kind_label(r.kind),
            state: r.state.as_str(),
            state_label: label(r.state.as_str()),
            step: match (r.state, r.current_step) {
                (RequestState::PendingApproval, Some(n)) => format!("{n} of {}", i.steps),
                _ => String::new(),
            },
            updated_iso: iso(r.updated_at),
            updated_utc: utc(r.updated_at),
        }
    }
}

fn kind_label(kind: RequestKind) -> &'static str {
    match kind {
        RequestKind::New => "New account",
        RequestKind::Renewal => "Renewal",
    }
}

#[derive(Template)]
#[template(path = "requests.html")]
struct ListPage {
    chrome: Chrome,
    title: &'static str,
    table: Table,
    /// (value, label, selected) for the state filter.
    states: Vec<(&'static str, String, bool)>,
    rows: Vec<Row>,
    can_create: bool,
    notice: Option<&'static str>,
}

#[derive(Debug, Deserialize)]
struct ListNotice {
    deleted: Option<String>,
}

async fn list(
    State(s): State<AppState>,
    browser: Browser,
    Query(q): Query<TableQuery>,
    Query(n): Query<ListNotice>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let can = signed_in.can::<perm::RequestRead>(&path)?;
    let table = Table::parse(
        "/requests",
        &q,
        alm_store::requests::SORT_KEYS,
        "-updated_at",
    )
    .map_err(|e| errors::bad_address(&signed_in, &path, &e))?;
    let state = match table.state.as_str() {
        "" => None,
        text => Some(RequestState::parse(text).ok_or_else(|| {
            errors::bad_address(
                &signed_in,
                &path,
                &alm_core::FieldError::new("state", "one-of", "not a request state").into(),
            )
        })?),
    };
    let query = Some(table.q.as_str()).filter(|q| !q.is_empty());
    let (found, total) = svc::list(&s.db, &can, state, query, &table.page)
        .await
        .map_err(|e| errors::service(&signed_in, &path, e))?;
    let states = RequestState::ALL
        .into_iter()
        .map(|st| (st.as_str(), label(st.as_str()), Some(st) == state))
        .collect();
    let page = ListPage {
        chrome: Chrome::new(Some(&signed_in), &path).with_counts(&s).await,
        title: "My requests",
        table: table.with_counts(total, found.len()),
        states,
        rows: found.iter().map(Row::from).collect(),
        can_create: signed_in.may::<perm::RequestCreate>(),
        notice: n.deleted.map(|_| "The draft is deleted."),
    };
    Ok(render(StatusCode::OK, &page))
}

/// One approval step as the trail shows it.
struct StepView {
    number: usize,
    status: &'static str,
    decisions: Vec<DecisionView>,
}

struct DecisionView {
    who: String,
    approved: bool,
    reason: Option<String>,
    at_iso: String,
    at_utc: String,
}

/// Where step `n` stands, from the request's state and the decisions taken at it.
fn step_status(i: &RequestInfo, n: usize, denied_here: bool, decided_here: bool) -> &'static str {
    let r = &i.record;
    let current = r.current_step.map(|c| c as usize);
    if denied_here {
        return "Denied";
    }
    match r.state {
        RequestState::Draft => "Not started",
        RequestState::PendingApproval => match current {
            Some(c) if c == n => "Waiting for approval",
            Some(c) if c > n => "Approved",
            _ => "Not reached yet",
        },
        RequestState::Rejected | RequestState::Withdrawn if !decided_here => "Not reached",
        RequestState::Rejected | RequestState::Withdrawn => "Approved",
        _ => "Approved",
    }
}

fn trail(i: &RequestInfo) -> Vec<StepView> {
    (1..=i.steps)
        .map(|n| {
            let here: Vec<_> = i
                .decisions
                .iter()
                .filter(|d| d.step as usize == n)
                .collect();
            let denied = here.iter().any(|d| d.decision == "denied");
            StepView {
                number: n,
                status: step_status(i, n, denied, !here.is_empty()),
                decisions: here
                    .iter()
                    .map(|d| DecisionView {
                        who: d
                            .approver_name
                            .clone()
                            .unwrap_or_else(|| "An approver".into()),
                        approved: d.decision == "approved",
                        reason: d.reason.clone(),
                        at_iso: iso(d.decided_at),
                        at_utc: utc(d.decided_at),
                    })
                    .collect(),
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "request.html")]
struct RequestPage {
    chrome: Chrome,
    title: String,
    notice: Option<String>,
    csrf_token: String,
    id: Uuid,
    kind: &'static str,
    state: &'static str,
    state_label: String,
    facts: Vec<(&'static str, String)>,
    attributes: Vec<(String, String)>,
    steps: Vec<StepView>,
    rejection_reason: Option<String>,
    failure_reason: Option<String>,
    attempts: Option<i64>,
    next_attempt: Option<(String, String)>,
    is_draft: bool,
    withdrawable: bool,
}

fn notice_for(done: &str) -> Option<&'static str> {
    Some(match done {
        "saved" => "The draft is saved. Submit it when it is ready.",
        "submitted" => "The request is submitted: the approvers of step 1 are told.",
        "cloned" => "A draft is made from the account. Check it, then submit it.",
        "withdrawn" => "The request is withdrawn. Its account name is free again.",
        _ => return None,
    })
}

#[derive(Debug, Deserialize)]
struct ShowQuery {
    done: Option<String>,
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
    let can = signed_in.can::<perm::RequestRead>(&path)?;
    let i = svc::get(&s.db, &can, id)
        .await
        .map_err(|e| errors::service(&signed_in, &path, e))?;
    let r = &i.record;
    let d = &i.details;
    let mine = r.requester_id == signed_in.principal.user_id;
    let facts = vec![
        (
            "Template",
            format!("{} (version {})", i.template_name, r.template_version),
        ),
        ("Interval", d.interval.to_string()),
        ("Organizational unit", d.ou.clone()),
        ("Vault folder", d.folder.clone()),
        ("Justification", d.justification.clone()),
        ("Description", d.description.clone()),
    ];
    let page = RequestPage {
        chrome: Chrome::new(Some(&signed_in), &path).with_counts(&s).await,
        title: r.account_name.to_string(),
        notice: q.done.as_deref().and_then(notice_for).map(str::to_owned),
        csrf_token: signed_in.csrf_token(),
        id,
        kind: kind_label(r.kind),
        state: r.state.as_str(),
        state_label: label(r.state.as_str()),
        facts,
        attributes: d
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        steps: trail(&i),
        rejection_reason: r.rejection_reason.clone(),
        failure_reason: r.failure_reason.clone(),
        attempts: i.provisioning.as_ref().map(|p| p.attempts),
        next_attempt: i
            .provisioning
            .as_ref()
            .and_then(|p| p.next_attempt_at)
            .map(|at| (iso(at), utc(at))),
        is_draft: r.state == RequestState::Draft && mine,
        withdrawable: r.state.withdrawable() && mine,
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(Debug, Deserialize)]
struct ActionForm {
    #[serde(default)]
    csrf_token: String,
}

/// A requester action — `submit` or `delete` a draft, `withdraw` — then back to the request
/// (to the list after a delete), or the page of the rule that refused it.
async fn act(
    State(s): State<AppState>,
    browser: Browser,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&form.csrf_token)?;
    let id = signed_in.id::<Uuid>(&path, &id)?;
    let actor = &signed_in.principal.actor;
    let done = match action.as_str() {
        "submit" => {
            let can = signed_in.can::<perm::RequestUpdate>(&path)?;
            svc::submit(&s.queue, &can, actor, id)
                .await
                .map(|_| format!("/requests/{id}?done=submitted"))
        }
        "withdraw" => {
            let can = signed_in.can::<perm::RequestUpdate>(&path)?;
            svc::withdraw(&s.db, s.clock.as_ref(), &can, actor, id)
                .await
                .map(|_| format!("/requests/{id}?done=withdrawn"))
        }
        "delete" => {
            let can = signed_in.can::<perm::RequestDelete>(&path)?;
            svc::delete(&s.db, s.clock.as_ref(), &can, actor, id)
                .await
                .map(|_| "/requests?deleted=1".to_owned())
        }
        _ => return Err(errors::not_found_for(Some(&signed_in), &path)),
    };
    match done {
        Ok(to) => Ok(Redirect::to(&to).into_response()),
        Err(e) => Err(errors::service(&signed_in, &path, e)),
    }
}

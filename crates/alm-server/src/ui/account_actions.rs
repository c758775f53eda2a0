//! `/accounts/{id}/{action}`: the owner actions of SPEC §4.1 — renew, submit for approval to
//! renew, disable, enable, delete (account and secret), clone as new request. `GET` is the
//! confirmation, which says what will happen in the directory and the vault; `POST` does it
//! through the lifecycle service (the same §4.1 check as the API) and goes back to the
//! account, or shows the rule that refused it. Works without JavaScript.

use super::accounts::action_label;
use super::browser::{Browser, SignedIn};
use super::dependencies::DependencyBlock;
use super::{errors, render, utc, Chrome, FormError, PageResult};
use crate::services::accounts::{self, AccountInfo};
use crate::services::lifecycle::{self, CloneInput};
use crate::services::ServiceError;
use crate::state::AppState;
use alm_core::lifecycle::Status;
use alm_core::lifecycle::{renewed_eol, Action};
use alm_core::permissions::perm;
use alm_core::templates::EolAction;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;
use uuid::Uuid;

pub fn router() -> Router<AppState> {
    Router::new().route("/accounts/{id}/{action}", get(confirm).post(perform))
}

fn parse_action(text: &str) -> Option<Action> {
    Action::ALL.into_iter().find(|a| a.as_str() == text)
}

#[derive(Template)]
#[template(path = "account_action.html")]
struct ConfirmPage {
    chrome: Chrome,
    title: String,
    errors: Vec<FormError>,
    csrf_token: String,
    id: Uuid,
    name: String,
    action: &'static str,
    button: &'static str,
    /// `warning` for actions that take something away.
    button_class: &'static str,
    /// What will happen, one sentence each.
    consequences: Vec<String>,
    /// The form's extra fields.
    asks_name: bool,
    asks_reason: bool,
    asks_clone: bool,
    terms: String,
    confirm: String,
    confirm_error: Option<String>,
    reason: String,
    reason_error: Option<String>,
    account_name: String,
    account_name_error: Option<String>,
    justification: String,
    justification_error: Option<String>,
    terms_error: Option<String>,
    /// Where the account is used, before a disable or delete.
    dependencies: Option<DependencyBlock>,
}

/// What the action will do, for the confirmation page.
fn consequences(info: &AccountInfo, domain: &str, vault: &str, action: Action) -> Vec<String> {
    let a = &info.record;
    match action {
        Action::Renew => {
            let mut out = vec![format!(
                "The end of life moves from {} to {} (one interval of {}).",
                utc(a.eol_at),
                utc(renewed_eol(a.eol_at, a.interval)),
                a.interval
            )];
            if a.status == Status::Disabled {
                out.push(format!("The account is enabled again in {domain}."));
            } else {
                out.push(format!("Nothing changes in {domain}: the account stays enabled."));
            }
            out
        }
        Action::SubmitRenewal => vec![
            "The template's approvers decide on the renewal, step by step, as for a new request."
                .into(),
            format!(
                "When it is approved, the end of life moves by one interval ({}) and the account's expiry date in {domain} with it.",
                a.interval
            ),
            "Until then nothing changes in the directory.".into(),
        ],
        Action::Disable => {
            let mut out = vec![format!(
                "The account is disabled in {domain}: whatever signs in with it stops working."
            )];
            out.push(format!(
                "Its password stays in {vault}; it can be enabled again later."
            ));
            out
        }
        Action::Enable => {
            let mut out = vec![format!("The account is enabled again in {domain}.")];
            if a.eol_action == EolAction::Expire {
                out.push(format!(
                    "Its expiry date stays {}: after it, the directory refuses sign-ins.",
                    utc(a.eol_at)
                ));
            }
            out
        }
        Action::Delete => vec![
            format!("The account {} is deleted from {domain}.", a.name),
            format!("Its secret is deleted from {vault}."),
            "This cannot be undone. alm keeps the account's history.".into(),
        ],
        Action::Clone => vec![
            "A new draft request is made from this account: its template, interval, description, owners, attributes, OU and folder.".into(),
            "Nothing changes for this account. You can check the draft before you submit it.".into(),
        ],
    }
}

/// The account (which the caller may read) and the confirmation for `action` on it.
async fn confirm_page(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    id: Uuid,
    action: Action,
) -> Result<ConfirmPage, Response> {
    let can = signed_in.can::<perm::AccountRead>(path)?;
    let fail = |e: ServiceError| errors::service(signed_in, path, e);
    let info = accounts::get(&s.db, s.clock.as_ref(), &can, id)
        .await
        .map_err(fail)?;
    let names = accounts::labels_of(&s.db, &info.record)
        .await
        .map_err(fail)?;
    let name = info.record.name.clone();
    let dependencies = match action {
        Action::Disable | Action::Delete => Some(
            crate::services::dependencies::of_account(&s.db, &can, id)
                .await
                .map_err(fail)?,
        ),
        _ => None,
    };
    let terms = if action == Action::Clone {
        crate::services::requests::terms_of(&s.db, info.record.template_id)
            .await
            .map_err(fail)?
    } else {
        String::new()
    };
    Ok(ConfirmPage {
        chrome: Chrome::new(Some(signed_in), path).with_counts(s).await,
        title: format!("{}: {name}", action_label(action)),
        errors: Vec::new(),
        csrf_token: signed_in.csrf_token(),
        id,
        consequences: consequences(&info, &names.domain, &names.vault, action),
        action: action.as_str(),
        button: action_label(action),
        button_class: match action {
            Action::Disable | Action::Delete => "warning",
            _ => "",
        },
        asks_name: action == Action::Delete,
        asks_reason: action == Action::SubmitRenewal,
        asks_clone: action == Action::Clone,
        terms,
        confirm: String::new(),
        confirm_error: None,
        reason: String::new(),
        reason_error: None,
        account_name: String::new(),
        account_name_error: None,
        justification: String::new(),
        justification_error: None,
        terms_error: None,
        dependencies: dependencies.as_ref().map(Into::into),
        name,
    })
}

fn parse_target(
    signed_in: &SignedIn,
    path: &str,
    id: &str,
    action: &str,
) -> Result<(Uuid, Action), Response> {
    match (id.parse(), parse_action(action)) {
        (Ok(id), Some(action)) => Ok((id, action)),
        _ => Err(errors::not_found_for(Some(signed_in), path)),
    }
}

async fn confirm(
    State(s): State<AppState>,
    browser: Browser,
    Path((id, action)): Path<(String, String)>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let (id, action) = parse_target(&signed_in, &path, &id, &action)?;
    signed_in.can::<perm::AccountUpdate>(&path)?;
    let page = confirm_page(&s, &signed_in, &path, id, action).await?;
    Ok(render(StatusCode::OK, &page))
}

#[derive(Debug, Deserialize)]
struct ActionForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    confirm: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    account_name: String,
    #[serde(default)]
    justification: String,
    #[serde(default)]
    terms_accepted: Option<String>,
}

async fn perform(
    State(s): State<AppState>,
    browser: Browser,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&form.csrf_token)?;
    let (id, action) = parse_target(&signed_in, &path, &id, &action)?;
    let can = signed_in.can::<perm::AccountUpdate>(&path)?;
    let actor = &signed_in.principal.actor;
    let outcome = match action {
        Action::Clone => {
            let can_request = signed_in.can::<perm::RequestCreate>(&path)?;
            let input = CloneInput {
                account_name: Some(form.account_name.trim().to_owned()).filter(|n| !n.is_empty()),
                justification: Some(form.justification.trim().to_owned()).filter(|j| !j.is_empty()),
                terms_accepted: form.terms_accepted.is_some(),
            };
            match lifecycle::clone_as_request(&s.queue, &can, &can_request, actor, id, input).await
            {
                Ok(draft) => {
                    return Ok(
                        Redirect::to(&format!("/requests/{}?done=cloned", draft.record.id))
                            .into_response(),
                    )
                }
                Err(e) => Err(e),
            }
        }
        Action::SubmitRenewal => {
            lifecycle::submit_renewal(&s.queue, &can, actor, id, Some(form.reason.as_str()))
                .await
                .map(|_| ())
        }
        other => lifecycle::act(&s.queue, &can, actor, id, other, Some(form.confirm.trim()))
            .await
            .map(|_| ()),
    };
    match outcome {
        Ok(()) => {
            Ok(Redirect::to(&format!("/accounts/{id}?done={}", action.as_str())).into_response())
        }
        Err(ServiceError::Validation(v)) => {
            let mut page = confirm_page(&s, &signed_in, &path, id, action).await?;
            page.confirm = form.confirm;
            page.reason = form.reason;
            page.account_name = form.account_name;
            page.justification = form.justification;
            for e in v.0 {
                let (field, slot) = match e.field.as_str() {
                    "confirm" => ("confirm", &mut page.confirm_error),
                    "reason" => ("reason", &mut page.reason_error),
                    "justification" => ("justification", &mut page.justification_error),
                    "terms_accepted" => ("terms_accepted", &mut page.terms_error),
                    _ => ("account_name", &mut page.account_name_error),
                };
                *slot = Some(e.message.clone());
                page.errors.push(FormError {
                    field: field.into(),
                    message: e.message,
                });
            }
            page.chrome.has_errors = true;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(ServiceError::Conflict(f)) if action == Action::Clone => {
            let mut page = confirm_page(&s, &signed_in, &path, id, action).await?;
            page.account_name = form.account_name;
            page.justification = form.justification;
            page.account_name_error = Some(f.message.clone());
            page.errors.push(FormError {
                field: "account_name".into(),
                message: f.message,
            });
            page.chrome.has_errors = true;
            Ok(render(StatusCode::CONFLICT, &page))
        }
        Err(e) => Err(errors::service(&signed_in, &path, e)),
    }
}

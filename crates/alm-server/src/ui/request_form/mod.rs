//! The new-request pages (SPEC §2.5, §10): `/requests/new` lists the published templates
//! offered to me with their purpose; `/requests/new/{template}` is the form generated from the
//! template's published version (name with its prefix and rules, interval, justification,
//! description, attributes, co-owners, OU and folder where the template allows a choice, the
//! terms to accept); `/requests/{id}/edit` is the same form for a draft. The form saves a
//! draft or submits; every error the service finds is shown at its field, and nothing is
//! stored. `…/name-check` answers the live name check as an HTML fragment.

use super::browser::{Browser, SignedIn};
mod fields;

use super::{errors, render, Chrome, PageResult};
use crate::services::requests::{self as svc, OfferedTemplate};
use crate::services::ServiceError;
use crate::state::AppState;
use alm_core::permissions::{perm, Can};
use alm_core::requests::RequestState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use fields::{form_page, input_of, place_errors, sent_from, FormPage, Sent};
use serde::Deserialize;
use uuid::Uuid;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/requests/new", get(choose))
        .route("/requests/new/{template}", get(new_form).post(create))
        .route("/requests/new/{template}/name-check", get(name_check))
        .route("/requests/{id}/edit", get(edit_form).post(update))
}

#[derive(Template)]
#[template(path = "request_new.html")]
struct ChoosePage {
    chrome: Chrome,
    title: &'static str,
    templates: Vec<OfferedTemplate>,
}

async fn choose(State(s): State<AppState>, browser: Browser) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let can = signed_in.can::<perm::RequestCreate>(&path)?;
    let templates = svc::offered_templates(&s.db, &can)
        .await
        .map_err(|e| errors::service(&signed_in, &path, e))?;
    let page = ChoosePage {
        chrome: Chrome::new(Some(&signed_in), &path).with_counts(&s).await,
        title: "New request",
        templates,
    };
    Ok(render(StatusCode::OK, &page))
}

/// The template if it is offered to the caller; else the 404 page (a template not offered
/// to someone is not theirs to see).
async fn template_for(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    can: &Can<perm::RequestCreate>,
    id: Uuid,
) -> Result<OfferedTemplate, Response> {
    match svc::offered_template(&s.db, can, id).await {
        Ok(t) => Ok(t),
        Err(ServiceError::Validation(_)) => Err(errors::not_found_for(Some(signed_in), path)),
        Err(e) => Err(errors::service(signed_in, path, e)),
    }
}

async fn new_form(
    State(s): State<AppState>,
    browser: Browser,
    Path(template): Path<String>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let can = signed_in.can::<perm::RequestCreate>(&path)?;
    let id = signed_in.id::<Uuid>(&path, &template)?;
    let t = template_for(&s, &signed_in, &path, &can, id).await?;
    let chrome = Chrome::new(Some(&signed_in), &path).with_counts(&s).await;
    let page = form_page(
        chrome,
        signed_in.csrf_token(),
        &t,
        &Sent::default(),
        path.clone(),
    );
    Ok(render(StatusCode::OK, &page))
}

/// Saves a new draft (and submits it when asked); errors go back to the form.
async fn create(
    State(s): State<AppState>,
    browser: Browser,
    Path(template): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let sent = sent_from(pairs);
    let path = browser.path.clone();
    let signed_in = browser.require_form(&sent.csrf_token)?;
    let can = signed_in.can::<perm::RequestCreate>(&path)?;
    let id = signed_in.id::<Uuid>(&path, &template)?;
    let t = template_for(&s, &signed_in, &path, &can, id).await?;
    let saved = match input_of(&s, &t, &sent).await {
        Ok(input) => svc::create(
            &s.db,
            s.clock.as_ref(),
            &can,
            &signed_in.principal.actor,
            input,
            None,
        )
        .await
        .map(|r| r.record.id),
        Err(problems) => Err(ServiceError::Validation(alm_core::ValidationErrors(
            problems,
        ))),
    };
    finish(&s, &signed_in, &path, &t, &sent, saved, None).await
}

/// After saving: submit when asked and go to the request; or the form again with its errors.
async fn finish(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    t: &OfferedTemplate,
    sent: &Sent,
    saved: Result<Uuid, ServiceError>,
    draft: Option<Uuid>,
) -> PageResult {
    match saved {
        Ok(id) if sent.intent == "submit" => {
            let can = signed_in.can::<perm::RequestUpdate>(path)?;
            match svc::submit(&s.queue, &can, &signed_in.principal.actor, id).await {
                Ok(_) => {
                    Ok(Redirect::to(&format!("/requests/{id}?done=submitted")).into_response())
                }
                // Saved as a draft; the request page says what stands in the way.
                Err(e) => Err(errors::service(signed_in, path, e)),
            }
        }
        Ok(id) => Ok(Redirect::to(&format!("/requests/{id}?done=saved")).into_response()),
        Err(ServiceError::Validation(v)) => {
            Ok(form_with_errors(s, signed_in, path, t, sent, v.0, draft).await)
        }
        Err(ServiceError::Conflict(f)) => {
            Ok(form_with_errors(s, signed_in, path, t, sent, vec![f], draft).await)
        }
        Err(e) => Err(errors::service(signed_in, path, e)),
    }
}

async fn form_with_errors(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    t: &OfferedTemplate,
    sent: &Sent,
    problems: Vec<alm_core::FieldError>,
    draft: Option<Uuid>,
) -> Response {
    let chrome = Chrome::new(Some(signed_in), path).with_counts(s).await;
    let mut page = form_page(chrome, signed_in.csrf_token(), t, sent, path.to_owned());
    if let Some(id) = draft {
        editing(&mut page, t, id);
    }
    place_errors(&mut page, problems);
    render(StatusCode::UNPROCESSABLE_ENTITY, &page)
}

/// The form as the editor of draft `id`: its title, and a name check that does not count the
/// draft's own name as taken.
fn editing(page: &mut FormPage, t: &OfferedTemplate, id: Uuid) {
    page.title = format!("Edit request: {}", t.name);
    page.check_url = format!("/requests/new/{}/name-check?request={id}", t.id);
}

/// A draft of the caller's, with the template it was made from (still offered).
async fn draft_of(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    id: Uuid,
) -> Result<(svc::RequestInfo, OfferedTemplate), Response> {
    let read = signed_in.can::<perm::RequestRead>(path)?;
    let create = signed_in.can::<perm::RequestCreate>(path)?;
    let r = svc::get(&s.db, &read, id)
        .await
        .map_err(|e| errors::service(signed_in, path, e))?;
    if r.record.state != RequestState::Draft || r.record.requester_id != signed_in.principal.user_id
    {
        return Err(errors::refused(
            signed_in,
            path,
            "only your own draft can be edited",
        ));
    }
    let t = template_for(s, signed_in, path, &create, r.record.template_id).await?;
    Ok((r, t))
}

async fn edit_form(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let id = signed_in.id::<Uuid>(&path, &id)?;
    let (r, t) = draft_of(&s, &signed_in, &path, id).await?;
    let d = &r.details;
    let sent = Sent {
        account_name: alm_core::requests::AccountName::typed_part(
            &r.record.account_name,
            &t.definition,
        )
        .to_owned(),
        interval: d.interval.to_string(),
        justification: d.justification.clone(),
        description: d.description.clone(),
        attributes: d.attributes.clone(),
        co_owners: String::new(),
        ou: d.ou.clone(),
        folder: d.folder.clone(),
        terms_accepted: d.terms_accepted,
        ..Default::default()
    };
    let chrome = Chrome::new(Some(&signed_in), &path).with_counts(&s).await;
    let mut page = form_page(chrome, signed_in.csrf_token(), &t, &sent, path.clone());
    editing(&mut page, &t, id);
    page.co_owners = crate::services::users::contacts_of(&s.db, &d.owners.users)
        .await
        .map_err(|e| errors::service(&signed_in, &path, e))?
        .into_iter()
        .map(|(_, email)| email)
        .collect::<Vec<_>>()
        .join("\n");
    Ok(render(StatusCode::OK, &page))
}

async fn update(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let sent = sent_from(pairs);
    let path = browser.path.clone();
    let signed_in = browser.require_form(&sent.csrf_token)?;
    let id = signed_in.id::<Uuid>(&path, &id)?;
    let (_, t) = draft_of(&s, &signed_in, &path, id).await?;
    let can = signed_in.can::<perm::RequestUpdate>(&path)?;
    let saved = match input_of(&s, &t, &sent).await {
        Ok(input) => svc::update(
            &s.db,
            s.clock.as_ref(),
            &can,
            &signed_in.principal.actor,
            id,
            input,
        )
        .await
        .map(|r| r.record.id),
        Err(problems) => Err(ServiceError::Validation(alm_core::ValidationErrors(
            problems,
        ))),
    };
    finish(&s, &signed_in, &path, &t, &sent, saved, Some(id)).await
}

#[derive(Debug, Deserialize)]
struct NameQuery {
    #[serde(default)]
    account_name: String,
    /// The draft being edited (its own name is not a clash).
    request: Option<Uuid>,
}

/// The live name check: a fragment that says whether the name is free, or which rule it
/// breaks. Reads only; the form's own submit checks again.
async fn name_check(
    State(s): State<AppState>,
    browser: Browser,
    Path(template): Path<String>,
    Query(q): Query<NameQuery>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let can = signed_in.can::<perm::RequestCreate>(&path)?;
    let id = signed_in.id::<Uuid>(&path, &template)?;
    let (ok, text) = match svc::check_name(&s.db, &can, id, &q.account_name, q.request).await {
        Ok(name) => (true, format!("{name} is free on the domain.")),
        Err(ServiceError::Validation(v)) => (
            false,
            v.0.into_iter()
                .map(|e| e.message)
                .collect::<Vec<_>>()
                .join("; "),
        ),
        Err(ServiceError::Conflict(f)) => (false, f.message),
        Err(e) => return Err(errors::service(&signed_in, &path, e)),
    };
    let class = if ok { "check-ok" } else { "check-bad" };
    Ok((
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Html(format!(
            "<span class=\"{class}\">{}</span>",
            super::escape(&text)
        )),
    )
        .into_response())
}

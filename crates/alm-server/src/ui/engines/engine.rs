//! One engine: who it is (host, version, address, registration, last contact, health), its
//! pool and whether it is active — changed by one form —, its abbreviated log, and removal
//! with a confirmation (its credential stops working at once).

use super::*;
use crate::services::engines::EngineChange;
use crate::services::ServiceError;
use crate::ui::browser::SignedIn;
use crate::ui::confirm::ConfirmPage;
use crate::ui::form::{ticked, Control, Field, Form};
use alm_core::paging::PageRequest;
use alm_core::EngineId;
use axum::extract::Path;
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;

/// Log lines shown on the page, newest first (the API pages through all it keeps).
const LOG_LINES_SHOWN: u32 = 100;

struct LogRow {
    at: (String, String),
    level: String,
    message: String,
}

#[derive(Template)]
#[template(path = "engine.html")]
struct EnginePage {
    chrome: Chrome,
    title: String,
    notice: Option<&'static str>,
    id: EngineId,
    host: String,
    version: String,
    address: String,
    in_process: bool,
    registered: (String, String),
    seen: Option<(String, String)>,
    health: &'static str,
    health_class: &'static str,
    pool: String,
    can_update: bool,
    can_delete: bool,
    csrf_token: String,
    form: Form,
    errors: Vec<crate::ui::FormError>,
    log: Vec<LogRow>,
}

fn assignment(pools: Vec<(String, String)>, pool: &str, active: bool) -> Form {
    let mut choices = vec![(String::new(), "Unassigned".to_owned())];
    choices.extend(pools);
    Form::new(vec![
        Field::new("pool_id", "Pool", Control::Select(choices))
            .hint("The engine takes the work of this pool's domains and vaults.")
            .value(pool),
        Field::new("active", "Active: it takes work", Control::Checkbox).checked(active),
    ])
}

#[derive(Deserialize, Default)]
pub(super) struct Done {
    done: Option<String>,
}

async fn engine_page(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    id: EngineId,
    form: Option<Form>,
    notice: Option<&'static str>,
) -> Result<EnginePage, axum::response::Response> {
    let can = signed_in.can::<perm::EngineRead>(path)?;
    let fail = |e| errors::service(signed_in, path, e);
    let e = engines::get(&s.db, &can, id).await.map_err(fail)?;
    let pools = engines::pools(&s.db, &can).await.map_err(fail)?;
    let pool = match e.pool_id {
        None => "Unassigned".to_owned(),
        Some(p) => pools
            .iter()
            .find(|x| x.id == p)
            .map(|x| x.name.clone())
            .unwrap_or_else(|| p.to_string()),
    };
    let choices = pools
        .iter()
        .map(|p| (p.id.to_string(), p.name.clone()))
        .collect();
    let form = form.unwrap_or_else(|| {
        assignment(
            choices,
            &e.pool_id.map(|p| p.to_string()).unwrap_or_default(),
            e.active,
        )
    });
    let page = PageRequest {
        limit: LOG_LINES_SHOWN,
        offset: 0,
        sort: "at",
        direction: SortDirection::Descending,
    };
    let (lines, _) = engines::logs(&s.db, &can, id, None, &page)
        .await
        .map_err(fail)?;
    let health = Health::of(&e, s.clock.now());
    let mut chrome = Chrome::new(Some(signed_in), path).with_counts(s).await;
    chrome.has_errors = form.has_errors();
    Ok(EnginePage {
        chrome,
        title: e.name.clone(),
        notice,
        id,
        host: e.host.clone(),
        version: e.version.clone(),
        address: e.last_address.clone().unwrap_or_default(),
        in_process: e.in_process,
        registered: (iso(e.registered_at), utc(e.registered_at)),
        seen: e.last_seen_at.map(|at| (iso(at), utc(at))),
        health: health.text(),
        health_class: health.class(),
        pool,
        can_update: signed_in.may::<perm::EngineUpdate>() && !e.in_process,
        can_delete: signed_in.may::<perm::EngineDelete>() && !e.in_process,
        csrf_token: signed_in.csrf_token(),
        errors: form.errors.clone(),
        form,
        log: lines
            .into_iter()
            .map(|l| LogRow {
                at: (iso(l.at), utc(l.at)),
                level: l.level,
                message: l.message,
            })
            .collect(),
    })
}

pub(super) async fn show(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    Query(q): Query<Done>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let id = signed_in.id::<EngineId>(&path, &id)?;
    let notice = match q.done.as_deref() {
        Some("assigned") => Some("The engine's pool and activity are saved."),
        _ => None,
    };
    let page = engine_page(&s, &signed_in, &path, id, None, notice).await?;
    Ok(render(StatusCode::OK, &page))
}

#[derive(Deserialize)]
pub(super) struct AssignForm {
    csrf_token: String,
    #[serde(default)]
    pool_id: String,
    active: Option<String>,
}

pub(super) async fn assign(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    axum::Form(f): axum::Form<AssignForm>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&f.csrf_token)?;
    let id = signed_in.id::<EngineId>(&path, &id)?;
    let can = signed_in.can::<perm::EngineUpdate>(&path)?;
    let pool = match f.pool_id.trim() {
        "" => Ok(None),
        p => p.parse().map(Some).map_err(|_| {
            ServiceError::from(alm_core::FieldError::new(
                "pool_id",
                "one-of",
                "choose one of the pools",
            ))
        }),
    };
    let result = match pool {
        Ok(pool_id) => {
            engines::update(
                &s.db,
                s.clock.as_ref(),
                &can,
                &signed_in.principal.actor,
                id,
                EngineChange {
                    pool_id: Some(pool_id),
                    active: Some(ticked(&f.active)),
                },
            )
            .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/engines/{id}?done=assigned")).into_response()),
        Err(ServiceError::Validation(v)) => {
            let read = signed_in.can::<perm::EngineRead>(&path)?;
            let pools = engines::pools(&s.db, &read)
                .await
                .map_err(|e| errors::service(&signed_in, &path, e))?;
            let mut form = assignment(
                pools
                    .iter()
                    .map(|p| (p.id.to_string(), p.name.clone()))
                    .collect(),
                &f.pool_id,
                ticked(&f.active),
            );
            form.place(v.0);
            let page = engine_page(&s, &signed_in, &path, id, Some(form), None).await?;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(e) => Err(errors::service(&signed_in, &path, e)),
    }
}

async fn delete_page(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    id: EngineId,
) -> Result<ConfirmPage, axum::response::Response> {
    let read = signed_in.can::<perm::EngineRead>(path)?;
    let e = engines::get(&s.db, &read, id)
        .await
        .map_err(|e| errors::service(signed_in, path, e))?;
    Ok(ConfirmPage {
        chrome: Chrome::new(Some(signed_in), path).with_counts(s).await,
        title: format!("Remove {}", e.name),
        back: (format!("/engines/{id}"), e.name.clone()),
        consequences: vec![
            format!(
                "{}'s credential stops working at once: it can take no more work.",
                e.name
            ),
            "The jobs it holds go back to the queue for the pool's other engines.".into(),
            "To use the host again, give it a new activation token.".into(),
        ],
        action: format!("/engines/{id}/delete"),
        button: "Remove engine".into(),
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
    let id = signed_in.id::<EngineId>(&path, &id)?;
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
    let id = signed_in.id::<EngineId>(&path, &id)?;
    let can = signed_in.can::<perm::EngineDelete>(&path)?;
    let outcome = engines::delete(
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
        "/engines",
        delete_page(&s, &signed_in, &path, id),
    )
    .await
}

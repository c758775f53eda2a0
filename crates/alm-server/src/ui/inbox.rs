//! `/inbox` (SPEC §7.3): the signed-in user's notifications, unread first; mark one or all
//! read. Every signed-in user has an inbox (no permission gates it). The forms post and
//! redirect back, so it works without JavaScript.

use super::browser::{Browser, SignedIn};
use super::{errors, iso, render, utc, Chrome};
use crate::services::notifications;
use crate::state::AppState;
use alm_store::notifications::InboxEntry;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/inbox", get(show))
        .route("/inbox/read-all", post(read_all))
        .route("/inbox/{id}/read", post(read_one))
}

/// The most entries each list shows (the API pages through more).
const SHOWN: u32 = 100;

struct Message {
    id: String,
    category: String,
    title: String,
    body: String,
    at_iso: String,
    at_utc: String,
}

impl From<&InboxEntry> for Message {
    fn from(e: &InboxEntry) -> Self {
        Self {
            id: e.id.clone(),
            category: e.category.clone(),
            title: e.title.clone(),
            body: e.body.clone(),
            at_iso: iso(e.created_at),
            at_utc: utc(e.created_at),
        }
    }
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    chrome: Chrome,
    title: &'static str,
    notice: Option<String>,
    csrf_token: String,
    unread_total: u64,
    unread: Vec<Message>,
    read: Vec<Message>,
}

#[derive(Debug, Deserialize)]
struct ShowQuery {
    marked: Option<u64>,
}

async fn show(State(s): State<AppState>, browser: Browser, Query(q): Query<ShowQuery>) -> Response {
    let path = browser.path.clone();
    let signed_in = match browser.require() {
        Ok(s) => s,
        Err(redirect) => return redirect,
    };
    let page = alm_core::paging::PageRequest::parse(
        Some(SHOWN),
        Some(0),
        Some("-created_at"),
        alm_store::notifications::INBOX_SORT_KEYS,
    )
    .expect("the inbox's page is valid");
    let user = signed_in.principal.user_id;
    let unread = notifications::inbox(&s.db, user, true, None, &page).await;
    let all = notifications::inbox(&s.db, user, false, None, &page).await;
    let (((unread, unread_total), _), ((all, _), _)) = match (unread, all) {
        (Ok(u), Ok(a)) => (u, a),
        (Err(e), _) | (_, Err(e)) => {
            return errors::internal_with_id(Some(&signed_in), &path, None, &e)
        }
    };
    let notice = q.marked.map(|n| match n {
        1 => "1 message marked as read.".to_owned(),
        n => format!("{n} messages marked as read."),
    });
    render(
        StatusCode::OK,
        &InboxPage {
            chrome: Chrome::new(Some(&signed_in), &path).with_counts(&s).await,
            title: "Inbox",
            notice,
            csrf_token: signed_in.csrf_token(),
            unread_total,
            unread: unread.iter().map(Message::from).collect(),
            read: all
                .iter()
                .filter(|e| e.read_at.is_some())
                .map(Message::from)
                .collect(),
        },
    )
}

#[derive(Debug, Deserialize)]
struct TokenForm {
    #[serde(default)]
    csrf_token: String,
}

async fn mark(s: &AppState, signed_in: &SignedIn, path: &str, id: Option<&str>) -> Response {
    match notifications::mark_read(&s.db, s.clock.as_ref(), signed_in.principal.user_id, id).await {
        Ok(n) => Redirect::to(&format!("/inbox?marked={n}")).into_response(),
        // Read already, or not this user's: nothing to do; the inbox shows how things are.
        Err(crate::services::ServiceError::NotFound { .. }) => {
            Redirect::to("/inbox?marked=0").into_response()
        }
        Err(e) => errors::internal_with_id(Some(signed_in), path, None, &e),
    }
}

async fn read_one(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    Form(form): Form<TokenForm>,
) -> Response {
    let path = browser.path.clone();
    let signed_in = match browser.require() {
        Ok(s) => s,
        Err(redirect) => return redirect,
    };
    if !signed_in.csrf_ok(&form.csrf_token) {
        return errors::form_not_verified(Some(&signed_in), &path);
    }
    mark(&s, &signed_in, &path, Some(&id)).await
}

async fn read_all(
    State(s): State<AppState>,
    browser: Browser,
    Form(form): Form<TokenForm>,
) -> Response {
    let path = browser.path.clone();
    let signed_in = match browser.require() {
        Ok(s) => s,
        Err(redirect) => return redirect,
    };
    if !signed_in.csrf_ok(&form.csrf_token) {
        return errors::form_not_verified(Some(&signed_in), &path);
    }
    mark(&s, &signed_in, &path, None).await
}

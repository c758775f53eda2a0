//! `/audit` (SPEC §8, §10 Audit): the audit log searched and filtered (actor, action, object,
//! result, days), paged newest first; the filtered set exported as CSV or JSON (the API's
//! export, same columns); and "verify chain" — the check of `alm db verify-audit` — naming
//! the first broken record. Without `audit:manage` a reader sees their own actions only, as in
//! the API.

use super::browser::{Browser, SignedIn};
use super::form::{Control, Field, Form};
use super::table::{Table, TableQuery};
use super::{errors, iso, render, utc, Chrome, FormError, PageResult};
use crate::services::audit as svc;
use crate::services::ServiceError;
use crate::state::AppState;
use alm_core::permissions::{perm, Can};
use alm_core::FieldError;
use alm_store::audit_log::{ActorKind, AuditFilter, AuditRecord, Outcome, VerifyReport};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Form as Posted, Router};
use time::{Date, Duration, OffsetDateTime, Time};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/audit", get(list))
        .route("/audit/export.{format}", get(export))
        .route("/audit/verify", post(verify))
}

/// A summary longer than this is cut in the table (the export has it whole).
const SUMMARY_SHOWN: usize = 160;

struct Row {
    seq: i64,
    at: (String, String),
    actor: String,
    actor_detail: String,
    action: String,
    object: String,
    /// The object's page, when it has one.
    object_link: Option<String>,
    outcome: &'static str,
    outcome_class: &'static str,
    summary: String,
}

/// What "verify chain" found, shown above the table.
struct Verified {
    intact: bool,
    text: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    title: &'static str,
    table: Table,
    form: Form,
    errors: Vec<FormError>,
    rows: Vec<Row>,
    /// Only the caller's own actions are listed.
    own_only: bool,
    can_verify: bool,
    csrf_token: String,
    verified: Option<Verified>,
    export_csv: String,
    export_json: String,
}

/// The page of an object named in a record, for the types that have one.
fn object_link(object_type: &str, id: &str) -> Option<String> {
    let base = match object_type {
        "account" => "/accounts",
        "request" => "/requests",
        "user" => "/users",
        "group" => "/groups",
        "role" => "/roles",
        _ => return None,
    };
    Some(format!("{base}/{id}"))
}

fn row(r: &AuditRecord) -> Row {
    let (actor, actor_detail) = match r.actor_kind {
        ActorKind::User => (
            r.personal
                .actor_name
                .clone()
                .unwrap_or_else(|| "A user".into()),
            r.personal.actor_email.clone().unwrap_or_default(),
        ),
        ActorKind::Anonymous => (
            "Not signed in".into(),
            r.personal.source_ip.clone().unwrap_or_default(),
        ),
        ActorKind::System => ("alm".into(), "the server itself".into()),
        ActorKind::Engine => ("An engine".into(), r.actor_id.clone().unwrap_or_default()),
    };
    let mut summary = if r.summary.is_null() {
        String::new()
    } else {
        r.summary.to_string()
    };
    if summary.chars().count() > SUMMARY_SHOWN {
        summary = summary.chars().take(SUMMARY_SHOWN).collect::<String>() + "…";
    }
    let (outcome, outcome_class) = match r.outcome {
        Outcome::Success => ("Success", "success"),
        Outcome::Denied => ("Denied", "denied"),
        Outcome::Failure => ("Failure", "failure"),
    };
    Row {
        seq: r.seq,
        at: (iso(r.at), utc(r.at)),
        actor,
        actor_detail,
        action: r.action.clone(),
        object: match &r.object_id {
            Some(id) => format!("{} {id}", r.object_type),
            None => r.object_type.clone(),
        },
        object_link: r
            .object_id
            .as_deref()
            .and_then(|id| object_link(&r.object_type, id)),
        outcome,
        outcome_class,
        summary,
    }
}

/// A day of the filter: `since` starts at its midnight (UTC), `until` includes the whole day.
fn day(field: &str, text: &str, errors: &mut Vec<FieldError>) -> Option<OffsetDateTime> {
    if text.is_empty() {
        return None;
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    match Date::parse(text, &format) {
        Ok(d) => Some(d.with_time(Time::MIDNIGHT).assume_utc()),
        Err(_) => {
            errors.push(FieldError::new(
                field,
                "format",
                format!("must be a day written as YYYY-MM-DD, not {text:?}"),
            ));
            None
        }
    }
}

/// The store's filter from the table's query; each bad value is an error at its field.
async fn filter_of(
    s: &AppState,
    can: &Can<perm::AuditRead>,
    table: &Table,
) -> Result<AuditFilter, ServiceError> {
    let mut errors = Vec::new();
    let text = |name: &str| Some(table.extra(name).to_owned()).filter(|v| !v.is_empty());
    let outcome = match table.state.as_str() {
        "" => None,
        other => Outcome::parse(other).or_else(|| {
            errors.push(FieldError::new(
                "state",
                "one-of",
                "must be success, denied or failure",
            ));
            None
        }),
    };
    let since = day("since", table.extra("since"), &mut errors);
    let until = day("until", table.extra("until"), &mut errors).map(|d| d + Duration::days(1));
    if let (Some(a), Some(b)) = (since, until) {
        if b <= a {
            errors.push(FieldError::new(
                "until",
                "order",
                "the last day must not be before the first day",
            ));
        }
    }
    let actor_id = match text("actor") {
        None => None,
        Some(email) => match svc::actor_by_email(&s.db, can, "actor", &email).await {
            Ok(id) => Some(id.to_string()),
            Err(ServiceError::Validation(v)) => {
                errors.extend(v.0);
                None
            }
            Err(e) => return Err(e),
        },
    };
    if !errors.is_empty() {
        return Err(ServiceError::Validation(alm_core::ValidationErrors(errors)));
    }
    Ok(AuditFilter {
        actor_id,
        action: text("action"),
        object_type: text("object_type"),
        object_id: text("object_id"),
        outcome,
        not_outcome: None,
        since,
        until,
    })
}

fn filter_form(table: &Table, with_actor: bool) -> Form {
    let mut fields = Vec::new();
    if with_actor {
        fields.push(
            Field::new("actor", "Actor's email address", Control::Email)
                .value(table.extra("actor")),
        );
    }
    let outcomes = [
        ("", "Any result"),
        ("success", "Success"),
        ("denied", "Denied"),
        ("failure", "Failure"),
    ]
    .iter()
    .map(|(v, l)| ((*v).to_owned(), (*l).to_owned()))
    .collect();
    fields.extend([
        Field::new("action", "Action", Control::Text)
            .hint("e.g. user.disabled")
            .value(table.extra("action")),
        Field::new("object_type", "Object type", Control::Text)
            .hint("e.g. account")
            .value(table.extra("object_type")),
        Field::new("object_id", "Object id", Control::Text).value(table.extra("object_id")),
        Field::new("state", "Result", Control::Select(outcomes)).value(table.state.clone()),
        Field::new("since", "From (day, UTC)", Control::Date).value(table.extra("since")),
        Field::new("until", "To (day, UTC)", Control::Date).value(table.extra("until")),
    ]);
    Form::new(fields)
}

async fn page(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    q: &TableQuery,
    verified: Option<Verified>,
) -> PageResult {
    let can = signed_in.can::<perm::AuditRead>(path)?;
    let table = Table::parse("/audit", q, &["seq"], "-seq")
        .map_err(|e| errors::bad_address(signed_in, path, &e))?;
    let manage = signed_in.manages::<perm::AuditRead>();
    let mut filters = filter_form(&table, manage);
    let (rows, total, status) = match filter_of(s, &can, &table).await {
        Ok(filter) => {
            let (found, total) = svc::search(&s.db, &can, filter, &table.page)
                .await
                .map_err(|e| errors::service(signed_in, path, e))?;
            (
                found.iter().map(row).collect::<Vec<_>>(),
                total,
                StatusCode::OK,
            )
        }
        Err(ServiceError::Validation(v)) => {
            filters.place(v.0);
            (Vec::new(), 0, StatusCode::BAD_REQUEST)
        }
        Err(e) => return Err(errors::service(signed_in, path, e)),
    };
    let mut chrome = Chrome::new(Some(signed_in), path).with_counts(s).await;
    chrome.has_errors = filters.has_errors();
    let page = AuditPage {
        chrome,
        title: "Audit log",
        export_csv: table.filtered_link("/audit/export.csv", &[]),
        export_json: table.filtered_link("/audit/export.json", &[]),
        table: table.with_counts(total, rows.len()),
        errors: filters.errors.clone(),
        form: filters,
        rows,
        own_only: !manage,
        can_verify: manage,
        csrf_token: signed_in.csrf_token(),
        verified,
    };
    Ok(render(status, &page))
}

async fn list(
    State(s): State<AppState>,
    browser: Browser,
    Query(q): Query<TableQuery>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    page(&s, &signed_in, &path, &q, None).await
}

/// The filtered set as a file, up to the API's export limit, in the table's order.
async fn export(
    State(s): State<AppState>,
    browser: Browser,
    Path(format): Path<String>,
    Query(q): Query<TableQuery>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let csv = match format.as_str() {
        "csv" => true,
        "json" => false,
        _ => return Err(errors::not_found_for(Some(&signed_in), &path)),
    };
    let can = signed_in.can::<perm::AuditRead>(&path)?;
    let mut table = Table::parse("/audit", &q, &["seq"], "-seq")
        .map_err(|e| errors::bad_address(&signed_in, &path, &e))?;
    let filter = filter_of(&s, &can, &table).await.map_err(|e| match e {
        ServiceError::Validation(v) => errors::bad_address(&signed_in, &path, &v),
        e => errors::service(&signed_in, &path, e),
    })?;
    table.page.offset = 0;
    table.page.limit = crate::api::audit::EXPORT_MAX;
    let (found, _) = svc::search(&s.db, &can, filter, &table.page)
        .await
        .map_err(|e| errors::service(&signed_in, &path, e))?;
    crate::api::audit::export_response(found, csv).map_err(|e| e.into_response())
}

fn verified(report: VerifyReport) -> Verified {
    match report.first_broken {
        None => Verified {
            intact: true,
            text: format!(
                "The audit chain is intact: {} records verified from the first.",
                report.checked
            ),
        },
        Some(b) => Verified {
            intact: false,
            text: format!(
                "The audit chain is broken at record {}: {}. The {} records before it verify.",
                b.seq, b.reason, report.checked
            ),
        },
    }
}

async fn verify(
    State(s): State<AppState>,
    browser: Browser,
    Posted(f): Posted<super::form::CsrfOnly>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&f.csrf_token)?;
    let can = signed_in.can::<perm::AuditRead>(&path)?;
    let report = svc::verify_chain(&s.db, &can)
        .await
        .map_err(|e| errors::service(&signed_in, &path, e))?;
    page(
        &s,
        &signed_in,
        "/audit",
        &TableQuery::default(),
        Some(verified(report)),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_filter_covers_the_whole_day_and_names_a_bad_value() {
        let mut errors = Vec::new();
        let at = day("since", "2026-03-01", &mut errors).unwrap();
        assert_eq!(iso(at), "2026-03-01T00:00:00Z");
        assert!(day("until", "", &mut errors).is_none());
        assert!(errors.is_empty());
        assert!(day("until", "1/3/2026", &mut errors).is_none());
        assert_eq!(errors[0].field, "until");
        assert!(
            errors[0].message.contains("YYYY-MM-DD"),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn objects_with_pages_are_linked() {
        assert_eq!(object_link("user", "u1").as_deref(), Some("/users/u1"));
        assert_eq!(
            object_link("account", "a1").as_deref(),
            Some("/accounts/a1")
        );
        assert_eq!(object_link("session", "s1"), None);
    }
}

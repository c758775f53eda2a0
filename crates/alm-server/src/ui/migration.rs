//! Account migration (SPEC §6.4) as a wizard: the accounts ticked on the managed accounts list;
//! what changes (template and version, period or end-of-life date, OU, secret folder, owners
//! added and removed); a preview of every account before and after — the service's own run,
//! rolled back, so every rule is checked and nothing changes —; then the migration itself, all
//! accounts or none.

use super::browser::{Browser, SignedIn};
use super::form::{self, lines, Control, Field, Form};
use super::{errors, render, utc, Chrome, FormError, PageResult};
use crate::services::migration::{self as svc, Migration};
use crate::services::template_names as names;
use crate::services::{accounts, templates, ServiceError};
use crate::state::AppState;
use alm_core::permissions::perm;
use alm_core::templates::{Interval, TemplateState};
use alm_core::FieldError;
use askama::Template;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::routing::get;
use axum::Router;
use std::collections::HashMap;
use uuid::Uuid;

pub fn router() -> Router<AppState> {
    Router::new().route("/accounts/migrate", get(form_page).post(post))
}

/// One account as the preview shows it: name, then (before, after) of template, end of life
/// and place in the directory.
struct Change {
    id: Uuid,
    name: String,
    template: (String, String),
    eol: (String, String),
    dn: (String, String),
}

#[derive(Template)]
#[template(path = "migration.html")]
struct MigrationPage {
    chrome: Chrome,
    title: &'static str,
    csrf_token: String,
    /// The chosen accounts: (id, name).
    accounts: Vec<(Uuid, String)>,
    form: Form,
    errors: Vec<FormError>,
    /// The preview, when asked for (the form's values then ride along as hidden fields).
    preview: Vec<Change>,
    hidden: Vec<(String, String)>,
    /// After the migration: (id, name) of each account changed.
    done: Vec<(Uuid, String)>,
}

const FIELDS: [&str; 10] = [
    "template_id",
    "template_version",
    "interval",
    "eol_date",
    "ou",
    "folder",
    "add_emails",
    "add_groups",
    "remove_emails",
    "remove_groups",
];

fn fields(pairs: &[(String, String)], templates: Vec<(String, String)>) -> Form {
    let v = |n: &str| form::one(pairs, n);
    Form::new(vec![
        Field::new("template_id", "Template", Control::Select(templates))
            .hint("A published template; the accounts get its rules from now on.")
            .value(v("template_id")),
        Field::new("template_version", "Version", Control::Text)
            .hint("Optional: a version number of that template; empty: its published version.")
            .value(v("template_version")),
        Field::new("interval", "Period", Control::Text)
            .hint("Optional: one the template offers, e.g. 1y; empty: each account keeps its own.")
            .value(v("interval")),
        Field::new("eol_date", "End-of-life date", Control::Date)
            .hint("Optional; empty: each account keeps its end of life. A past date makes them reach it at the next sweep.")
            .value(v("eol_date")),
        Field::new("ou", "Move to OU", Control::Text)
            .hint("Optional: one of the template's OUs; an engine moves the accounts in the directory.")
            .value(v("ou")),
        Field::new("folder", "Move secrets to folder", Control::Text)
            .hint("Optional: one of the template's folders in the same vault.")
            .value(v("folder")),
        Field::new("add_emails", "Add owners (people)", Control::TextArea(2))
            .hint("Email addresses, one per line.")
            .value(v("add_emails"))
            .takes("add_owners.users"),
        Field::new("add_groups", "Add owners (groups)", Control::TextArea(2))
            .hint("alm group names, one per line.")
            .value(v("add_groups"))
            .takes("add_owners.groups"),
        Field::new("remove_emails", "Remove owners (people)", Control::TextArea(2))
            .value(v("remove_emails"))
            .takes("remove_owners.users"),
        Field::new("remove_groups", "Remove owners (groups)", Control::TextArea(2))
            .value(v("remove_groups"))
            .takes("remove_owners.groups"),
    ])
}

/// The chosen account ids; none, or one that is not an id, is the caller's error.
fn chosen(pairs: &[(String, String)]) -> Result<Vec<Uuid>, FieldError> {
    let ids: Vec<Uuid> = form::all(pairs, "account")
        .iter()
        .map(|t| {
            t.parse().map_err(|_| {
                FieldError::new("account", "format", format!("{t:?} is no account id"))
            })
        })
        .collect::<Result<_, _>>()?;
    if ids.is_empty() {
        return Err(FieldError::new(
            "account",
            "required",
            "tick at least one account on the list first",
        ));
    }
    Ok(ids)
}

/// Published templates, (id, name), and every template's name by id (for the preview).
async fn template_choices(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
) -> Result<(Vec<(String, String)>, HashMap<Uuid, String>), axum::response::Response> {
    let read = signed_in.can::<perm::TemplateRead>(path)?;
    let all = templates::list(&s.db, &read)
        .await
        .map_err(|e| errors::service(signed_in, path, e))?;
    let named = all
        .iter()
        .map(|t| (t.template.id, t.template.name.clone()))
        .collect();
    let published = all
        .into_iter()
        .filter(|t| t.template.state == TemplateState::Published)
        .map(|t| (t.template.id.to_string(), t.template.name))
        .collect();
    Ok((published, named))
}

struct Answer {
    found: Vec<FieldError>,
    preview: Vec<Change>,
    done: Vec<(Uuid, String)>,
}

async fn page(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    pairs: &[(String, String)],
    answer: Answer,
) -> PageResult {
    let ids = chosen(pairs).map_err(|e| errors::bad_address(signed_in, path, &e.into()))?;
    let read = signed_in.can::<perm::AccountRead>(path)?;
    let mut accounts_shown = Vec::new();
    for id in &ids {
        let a = accounts::get(&s.db, s.clock.as_ref(), &read, *id)
            .await
            .map_err(|e| errors::service(signed_in, path, e))?;
        accounts_shown.push((*id, a.record.name));
    }
    let (published, _) = template_choices(s, signed_in, path).await?;
    let mut form = fields(pairs, published);
    // An account's own error names it (`account_ids[1]` is the second chosen).
    let found = answer
        .found
        .into_iter()
        .map(|mut e| {
            let n = e
                .field
                .strip_prefix("account_ids[")
                .and_then(|r| r.split_once(']'))
                .and_then(|(n, _)| n.parse::<usize>().ok());
            if let Some((_, name)) = n.and_then(|n| accounts_shown.get(n)) {
                e.message = format!("{name}: {}", e.message);
            }
            e
        })
        .collect();
    form.place(found);
    let mut chrome = Chrome::new(Some(signed_in), path).with_counts(s).await;
    chrome.has_errors = form.has_errors();
    let status = if form.has_errors() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let hidden = FIELDS
        .iter()
        .map(|f| ((*f).to_owned(), form::one(pairs, f)))
        .collect();
    let page = MigrationPage {
        chrome,
        title: match (answer.done.is_empty(), answer.preview.is_empty()) {
            (false, _) => "Accounts migrated",
            (true, false) => "Check the migration",
            (true, true) => "Migrate accounts",
        },
        csrf_token: signed_in.csrf_token(),
        accounts: accounts_shown,
        errors: form.errors.clone(),
        form,
        preview: answer.preview,
        hidden,
        done: answer.done,
    };
    Ok(render(status, &page))
}

async fn form_page(State(s): State<AppState>, browser: Browser, uri: Uri) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    signed_in.can::<perm::AccountUpdate>(&path)?;
    let pairs = form::pairs(uri.query().unwrap_or(""));
    let answer = Answer {
        found: Vec::new(),
        preview: Vec::new(),
        done: Vec::new(),
    };
    page(&s, &signed_in, &path, &pairs, answer).await
}

/// The migration the form describes, or the errors at their fields.
async fn read(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    pairs: &[(String, String)],
    preview: bool,
) -> Result<Result<Migration, Vec<FieldError>>, axum::response::Response> {
    let names_can = signed_in.can::<perm::TemplateRead>(path)?;
    let ids = chosen(pairs).map_err(|e| errors::bad_address(signed_in, path, &e.into()))?;
    let mut found = Vec::new();
    let text = |n: &str| Some(form::one(pairs, n).trim().to_owned()).filter(|t| !t.is_empty());
    let template_id = form::one(pairs, "template_id").parse::<Uuid>().ok();
    if template_id.is_none() {
        found.push(FieldError::new(
            "template_id",
            "required",
            "choose a published template",
        ));
    }
    let template_version = text("template_version").and_then(|t| match t.parse::<i64>() {
        Ok(n) => Some(n),
        Err(_) => {
            found.push(FieldError::new(
                "template_version",
                "format",
                "must be a version number such as 2",
            ));
            None
        }
    });
    let interval = text("interval").and_then(|t| match t.parse::<Interval>() {
        Ok(i) => Some(i),
        Err(e) => {
            found.push(FieldError::new("interval", "format", e));
            None
        }
    });
    let eol_date = text("eol_date").and_then(|t| {
        time::Date::parse(
            &t,
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .map_err(|_| {
            found.push(FieldError::new(
                "eol_date",
                "format",
                "must be a day written as YYYY-MM-DD",
            ))
        })
        .ok()
    });
    let fail = |e| errors::service(signed_in, path, e);
    let add_users = names::user_ids(
        &s.db,
        &names_can,
        "add_emails",
        &lines(&form::one(pairs, "add_emails")),
        &mut found,
    )
    .await
    .map_err(fail)?;
    let remove_users = names::user_ids(
        &s.db,
        &names_can,
        "remove_emails",
        &lines(&form::one(pairs, "remove_emails")),
        &mut found,
    )
    .await
    .map_err(fail)?;
    let add_groups = names::group_ids(
        &s.db,
        &names_can,
        "add_groups",
        &lines(&form::one(pairs, "add_groups")),
        &mut found,
    )
    .await
    .map_err(fail)?;
    let remove_groups = names::group_ids(
        &s.db,
        &names_can,
        "remove_groups",
        &lines(&form::one(pairs, "remove_groups")),
        &mut found,
    )
    .await
    .map_err(fail)?;
    if !found.is_empty() {
        return Ok(Err(found));
    }
    Ok(Ok(Migration {
        account_ids: ids,
        template_id: template_id.expect("checked above"),
        template_version,
        interval,
        eol_date,
        ou: text("ou"),
        folder: text("folder"),
        add_users,
        add_groups,
        remove_users,
        remove_groups,
        preview,
    }))
}

async fn post(State(s): State<AppState>, browser: Browser, body: String) -> PageResult {
    let path = browser.path.clone();
    let pairs = form::pairs(&body);
    let signed_in = browser.require_form(&form::one(&pairs, "csrf_token"))?;
    let can = signed_in.can::<perm::AccountUpdate>(&path)?;
    let intent = form::one(&pairs, "intent");
    let preview = match intent.as_str() {
        "preview" => true,
        "migrate" => false,
        // Back from the preview to the filled-in form.
        "change" => {
            let answer = Answer {
                found: Vec::new(),
                preview: Vec::new(),
                done: Vec::new(),
            };
            return page(&s, &signed_in, &path, &pairs, answer).await;
        }
        _ => {
            return Err(errors::bad_address(
                &signed_in,
                &path,
                &FieldError::new("intent", "one-of", "must be preview, change or migrate").into(),
            ))
        }
    };
    let m = match read(&s, &signed_in, &path, &pairs, preview).await? {
        Ok(m) => m,
        Err(found) => {
            let answer = Answer {
                found,
                preview: Vec::new(),
                done: Vec::new(),
            };
            return page(&s, &signed_in, &path, &pairs, answer).await;
        }
    };
    let read_accounts = signed_in.can::<perm::AccountRead>(&path)?;
    let mut before = Vec::new();
    for id in &m.account_ids {
        before.push(
            accounts::get(&s.db, s.clock.as_ref(), &read_accounts, *id)
                .await
                .map_err(|e| errors::service(&signed_in, &path, e))?
                .record,
        );
    }
    match svc::migrate(&s.queue, &can, &signed_in.principal.actor, m).await {
        Ok(after) if preview => {
            let (_, named) = template_choices(&s, &signed_in, &path).await?;
            let template = |id: &Uuid, v: i64| {
                format!(
                    "{} v{v}",
                    named.get(id).cloned().unwrap_or_else(|| id.to_string())
                )
            };
            let changes = before
                .iter()
                .zip(&after)
                .map(|(b, a)| Change {
                    id: b.id,
                    name: b.name.clone(),
                    template: (
                        template(&b.template_id, b.template_version),
                        template(&a.template_id, a.template_version),
                    ),
                    eol: (utc(b.eol_at), utc(a.eol_at)),
                    dn: (b.dn.clone(), a.dn.clone()),
                })
                .collect();
            let answer = Answer {
                found: Vec::new(),
                preview: changes,
                done: Vec::new(),
            };
            page(&s, &signed_in, &path, &pairs, answer).await
        }
        Ok(after) => {
            let done = after.into_iter().map(|a| (a.id, a.name)).collect();
            let answer = Answer {
                found: Vec::new(),
                preview: Vec::new(),
                done,
            };
            page(&s, &signed_in, &path, &pairs, answer).await
        }
        Err(ServiceError::Validation(v)) => {
            let answer = Answer {
                found: v.0,
                preview: Vec::new(),
                done: Vec::new(),
            };
            page(&s, &signed_in, &path, &pairs, answer).await
        }
        Err(e) => Err(errors::service(&signed_in, &path, e)),
    }
}

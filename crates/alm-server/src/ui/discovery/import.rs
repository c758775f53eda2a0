//! Import (SPEC §6.2): the accounts ticked on the unmanaged list become managed accounts of one
//! published template of their domain, with one period (from today) or an end-of-life date, and
//! the same owners — people by email address, alm groups by name. The directory is not touched;
//! all are imported or none (the service's rule), and the answer lists each imported account.

use super::*;
use crate::services::import::{self as svc, Import};
use crate::services::template_names as names;
use crate::services::{templates, ServiceError};
use crate::ui::browser::SignedIn;
use crate::ui::form::{self, lines, Control, Field, Form};
use crate::ui::FormError;
use alm_core::templates::{Interval, TemplateState};
use alm_core::{DomainId, FieldError};
use axum::http::Uri;

/// The chosen accounts, read from the repeated `account` values (`<domain>:<guid>`); they must
/// be of one domain.
fn choices(pairs: &[(String, String)]) -> Result<(DomainId, Vec<String>), FieldError> {
    let mut domain: Option<DomainId> = None;
    let mut guids = Vec::new();
    for value in form::all(pairs, "account") {
        let (d, guid) = value
            .split_once(':')
            .and_then(|(d, g)| Some((d.parse::<DomainId>().ok()?, g.to_owned())))
            .ok_or_else(|| {
                FieldError::new("account", "format", format!("{value:?} names no account"))
            })?;
        if domain.is_some_and(|x| x != d) {
            return Err(FieldError::new(
                "account",
                "one-domain",
                "choose accounts of one domain at a time (a template makes accounts in one domain)",
            ));
        }
        domain = Some(d);
        guids.push(guid);
    }
    match domain {
        Some(d) => Ok((d, guids)),
        None => Err(FieldError::new(
            "account",
            "required",
            "tick at least one account on the list first",
        )),
    }
}

#[derive(Template)]
#[template(path = "discovery_import.html")]
struct ImportPage {
    chrome: Chrome,
    title: &'static str,
    csrf_token: String,
    /// (`<domain>:<guid>`, name, DN) of each chosen account.
    accounts: Vec<(String, String, String)>,
    form: Form,
    errors: Vec<FormError>,
    /// After an import: the accounts made, (id, name).
    imported: Vec<(String, String)>,
}

fn fields(pairs: &[(String, String)], templates: Vec<(String, String)>) -> Form {
    let value = |name: &str| form::one(pairs, name);
    Form::new(vec![
        Field::new("template_id", "Template", Control::Select(templates))
            .hint("A published template of the accounts' domain: its lifecycle, approvals of later changes and vault apply.")
            .value(value("template_id")),
        Field::new("interval", "Period", Control::Text)
            .hint("One the template offers, from today, e.g. 90d or 1y. Or leave it empty and give an end-of-life date.")
            .value(value("interval")),
        Field::new("eol_date", "End-of-life date", Control::Date)
            .hint("Optional, instead of a period.")
            .value(value("eol_date")),
        Field::new("owner_emails", "Owners (people)", Control::TextArea(3))
            .hint("Email addresses, one per line. Every account gets every owner.")
            .value(value("owner_emails"))
            .takes("owners"),
        Field::new("owner_groups", "Owners (groups)", Control::TextArea(2))
            .hint("alm group names, one per line.")
            .value(value("owner_groups")),
    ])
}

/// The published templates of `domain`: (id, name).
async fn templates_of(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    domain: DomainId,
) -> Result<Vec<(String, String)>, axum::response::Response> {
    let read = signed_in.can::<perm::TemplateRead>(path)?;
    let all = templates::list(&s.db, &read)
        .await
        .map_err(|e| errors::service(signed_in, path, e))?;
    Ok(all
        .into_iter()
        .filter(|t| {
            t.template.state == TemplateState::Published && t.definition.domain_id == domain
        })
        .map(|t| (t.template.id.to_string(), t.template.name))
        .collect())
}

async fn page(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    pairs: &[(String, String)],
    found: Vec<FieldError>,
    imported: Vec<(String, String)>,
) -> PageResult {
    let can = signed_in.can::<perm::AccountUpdate>(path)?;
    let (domain, guids) =
        choices(pairs).map_err(|e| errors::bad_address(signed_in, path, &e.into()))?;
    let described = svc::chosen(&s.db, &can, domain, &guids)
        .await
        .map_err(|e| errors::service(signed_in, path, e))?;
    let mut form = fields(pairs, templates_of(s, signed_in, path, domain).await?);
    // An account's own error names it (`object_guids[1]` is the second chosen).
    let found = found
        .into_iter()
        .map(|mut e| {
            if let Some(n) = e
                .field
                .strip_prefix("object_guids[")
                .and_then(|r| r.strip_suffix(']'))
                .and_then(|n| n.parse::<usize>().ok())
            {
                if let Some((_, name, _)) = described.get(n) {
                    e.message = format!("{name}: {}", e.message);
                }
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
    let page = ImportPage {
        chrome,
        title: if imported.is_empty() {
            "Import accounts"
        } else {
            "Accounts imported"
        },
        csrf_token: signed_in.csrf_token(),
        accounts: described
            .into_iter()
            .map(|(guid, name, dn)| (format!("{domain}:{guid}"), name, dn))
            .collect(),
        errors: form.errors.clone(),
        form,
        imported,
    };
    Ok(render(status, &page))
}

pub(super) async fn form(State(s): State<AppState>, browser: Browser, uri: Uri) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let pairs = form::pairs(uri.query().unwrap_or(""));
    page(&s, &signed_in, &path, &pairs, Vec::new(), Vec::new()).await
}

fn interval_and_date(
    pairs: &[(String, String)],
    errors: &mut Vec<FieldError>,
) -> (Option<Interval>, Option<time::Date>) {
    let interval = form::one(pairs, "interval");
    let interval = Some(interval.trim())
        .filter(|t| !t.is_empty())
        .and_then(|t| match t.parse::<Interval>() {
            Ok(i) => Some(i),
            Err(e) => {
                errors.push(FieldError::new("interval", "format", e));
                None
            }
        });
    let date = form::one(pairs, "eol_date");
    let date = Some(date.trim()).filter(|t| !t.is_empty()).and_then(|t| {
        time::Date::parse(t, time::macros::format_description!("[year]-[month]-[day]"))
            .map_err(|_| {
                errors.push(FieldError::new(
                    "eol_date",
                    "format",
                    format!("must be a day written as YYYY-MM-DD, not {t:?}"),
                ))
            })
            .ok()
    });
    (interval, date)
}

pub(super) async fn run(State(s): State<AppState>, browser: Browser, body: String) -> PageResult {
    let path = browser.path.clone();
    let pairs = form::pairs(&body);
    let signed_in = browser.require_form(&form::one(&pairs, "csrf_token"))?;
    let can = signed_in.can::<perm::AccountUpdate>(&path)?;
    let read = signed_in.can::<perm::TemplateRead>(&path)?;
    let (domain, guids) =
        choices(&pairs).map_err(|e| errors::bad_address(&signed_in, &path, &e.into()))?;
    let mut found = Vec::new();
    let (interval, eol_date) = interval_and_date(&pairs, &mut found);
    let fail = |e| errors::service(&signed_in, &path, e);
    let users = names::user_ids(
        &s.db,
        &read,
        "owner_emails",
        &lines(&form::one(&pairs, "owner_emails")),
        &mut found,
    )
    .await
    .map_err(fail)?;
    let groups = names::group_ids(
        &s.db,
        &read,
        "owner_groups",
        &lines(&form::one(&pairs, "owner_groups")),
        &mut found,
    )
    .await
    .map_err(fail)?;
    let template_id = form::one(&pairs, "template_id").parse::<uuid::Uuid>().ok();
    if template_id.is_none() {
        found.push(FieldError::new(
            "template_id",
            "required",
            "choose a published template of the accounts' domain",
        ));
    }
    if !found.is_empty() {
        return page(&s, &signed_in, &path, &pairs, found, Vec::new()).await;
    }
    let result = svc::import(
        &s.queue,
        &can,
        &signed_in.principal.actor,
        Import {
            domain,
            guids,
            template_id: template_id.expect("checked above"),
            interval,
            eol_date,
            users,
            groups,
        },
    )
    .await;
    match result {
        Ok(done) => {
            let imported = done
                .into_iter()
                .map(|a| (a.id.to_string(), a.name))
                .collect();
            page(&s, &signed_in, &path, &pairs, Vec::new(), imported).await
        }
        Err(ServiceError::Validation(v)) => {
            page(&s, &signed_in, &path, &pairs, v.0, Vec::new()).await
        }
        Err(e) => Err(errors::service(&signed_in, &path, e)),
    }
}

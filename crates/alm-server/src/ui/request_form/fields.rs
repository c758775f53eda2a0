//! The request form's fields: what the requester sent ([`Sent`], every field as text), the
//! page generated from the template version ([`FormPage`]), the service's errors placed at
//! their fields, and the input for the service (the interval parsed, co-owners' addresses
//! looked up).

use super::super::{Chrome, FormError};
use crate::services::requests::{OfferedTemplate, RequestInput};
use crate::services::ServiceError;
use crate::state::AppState;
use alm_core::requests::Owners;
use askama::Template;
use std::collections::BTreeMap;

/// One attribute of the template as a field.
pub(super) struct AttributeField {
    pub(super) name: String,
    /// The input's id and form name: `attr-<name>`.
    pub(super) id: String,
    pub(super) value: String,
    pub(super) required: bool,
    pub(super) read_only: bool,
    pub(super) error: Option<String>,
}

#[derive(Template)]
#[template(path = "request_form.html")]
pub(super) struct FormPage {
    pub(super) chrome: Chrome,
    pub(super) title: String,
    pub(super) errors: Vec<FormError>,
    pub(super) csrf_token: String,
    pub(super) action: String,
    pub(super) check_url: String,
    pub(super) purpose: String,
    pub(super) prefix: String,
    pub(super) name_hint: String,
    pub(super) account_name: String,
    pub(super) account_name_error: Option<String>,
    pub(super) intervals: Vec<(String, bool)>,
    pub(super) interval_error: Option<String>,
    pub(super) justification: String,
    pub(super) justification_error: Option<String>,
    pub(super) description: String,
    pub(super) description_error: Option<String>,
    pub(super) attributes: Vec<AttributeField>,
    pub(super) asks_owners: bool,
    pub(super) owners_hint: String,
    pub(super) co_owners: String,
    pub(super) co_owners_error: Option<String>,
    pub(super) ous: Vec<(String, bool)>,
    pub(super) ou_free: bool,
    pub(super) ou: String,
    pub(super) ou_error: Option<String>,
    pub(super) folders: Vec<(String, bool)>,
    pub(super) folder_free: bool,
    pub(super) folder: String,
    pub(super) folder_error: Option<String>,
    pub(super) terms: String,
    pub(super) terms_accepted: bool,
    pub(super) terms_error: Option<String>,
}

/// What the requester sent (every field as text; parsed by [`input_of`]).
#[derive(Debug, Default, Clone)]
pub(super) struct Sent {
    pub(super) csrf_token: String,
    pub(super) account_name: String,
    pub(super) interval: String,
    pub(super) justification: String,
    pub(super) description: String,
    pub(super) attributes: BTreeMap<String, String>,
    pub(super) co_owners: String,
    pub(super) ou: String,
    pub(super) folder: String,
    pub(super) terms_accepted: bool,
    /// `submit` or `draft`.
    pub(super) intent: String,
}

pub(super) fn sent_from(pairs: Vec<(String, String)>) -> Sent {
    let mut sent = Sent::default();
    for (name, value) in pairs {
        match name.as_str() {
            "csrf_token" => sent.csrf_token = value,
            "account_name" => sent.account_name = value,
            "interval" => sent.interval = value,
            "justification" => sent.justification = value,
            "description" => sent.description = value,
            "co_owners" => sent.co_owners = value,
            "ou" => sent.ou = value,
            "folder" => sent.folder = value,
            "terms_accepted" => sent.terms_accepted = true,
            "intent" => sent.intent = value,
            other => {
                if let Some(attr) = other.strip_prefix("attr-") {
                    sent.attributes.insert(attr.to_owned(), value);
                }
            }
        }
    }
    sent
}

/// The form for template `t`, filled with `sent`.
pub(super) fn form_page(
    chrome: Chrome,
    csrf_token: String,
    t: &OfferedTemplate,
    sent: &Sent,
    action: String,
) -> FormPage {
    let d = &t.definition;
    let mut name_hint = String::new();
    if !d.name_prefix.is_empty() {
        name_hint.push_str(&format!("alm puts {} in front of it. ", d.name_prefix));
    }
    name_hint.push_str(&format!(
        "At most {} characters in all",
        alm_core::account_name::max_chars(d)
    ));
    if let Some(re) = &d.name_regex {
        name_hint.push_str(&format!("; the full name must match {re}"));
    }
    name_hint.push('.');
    let o = &d.ownership;
    FormPage {
        chrome,
        title: format!("New request: {}", t.name),
        errors: Vec::new(),
        csrf_token,
        action,
        check_url: format!("/requests/new/{}/name-check", t.id),
        purpose: d.purpose.clone(),
        prefix: d.name_prefix.clone(),
        name_hint,
        account_name: sent.account_name.clone(),
        account_name_error: None,
        intervals: d
            .lifecycle
            .intervals
            .iter()
            .enumerate()
            .map(|(i, iv)| {
                let text = iv.to_string();
                let chosen = if sent.interval.is_empty() { i == 0 } else { sent.interval == text };
                (text, chosen)
            })
            .collect(),
        interval_error: None,
        justification: sent.justification.clone(),
        justification_error: None,
        description: sent.description.clone(),
        description_error: None,
        attributes: d
            .attributes
            .iter()
            .map(|rule| AttributeField {
                name: rule.name.clone(),
                id: format!("attr-{}", rule.name),
                value: sent
                    .attributes
                    .get(&rule.name)
                    .cloned()
                    .or_else(|| rule.default.clone())
                    .unwrap_or_default(),
                required: rule.required,
                read_only: !rule.editable,
                error: None,
            })
            .collect(),
        asks_owners: !o.requester_only_owner && o.max_owners > 1,
        owners_hint: format!(
            "You are the first owner. The template wants {} to {} owners in all. Email addresses of the others, one per line.",
            o.min_owners, o.max_owners
        ),
        co_owners: sent.co_owners.clone(),
        co_owners_error: None,
        ous: d
            .ous
            .iter()
            .map(|ou| (ou.clone(), *ou == sent.ou))
            .collect(),
        ou_free: d.allow_sub_ous,
        ou: if sent.ou.is_empty() { d.ous.first().cloned().unwrap_or_default() } else { sent.ou.clone() },
        ou_error: None,
        folders: d
            .folders
            .iter()
            .map(|f| (f.clone(), *f == sent.folder))
            .collect(),
        folder_free: d.allow_folder_override,
        folder: if sent.folder.is_empty() { d.folders.first().cloned().unwrap_or_default() } else { sent.folder.clone() },
        folder_error: None,
        terms: d.terms.clone(),
        terms_accepted: sent.terms_accepted,
        terms_error: None,
    }
}

/// Puts each error at its field (and in the summary), with the field's label in front.
pub(super) fn place_errors(page: &mut FormPage, errors: Vec<alm_core::FieldError>) {
    for e in errors {
        let message = e.message.clone();
        let (anchor, label, slot): (String, String, &mut Option<String>) = match e.field.as_str() {
            "account_name" => (
                "account_name".into(),
                "Account name".into(),
                &mut page.account_name_error,
            ),
            "interval" => (
                "interval".into(),
                "Interval".into(),
                &mut page.interval_error,
            ),
            "justification" => (
                "justification".into(),
                "Justification".into(),
                &mut page.justification_error,
            ),
            "description" => (
                "description".into(),
                "Description".into(),
                &mut page.description_error,
            ),
            "ou" => (
                "ou".into(),
                "Organizational unit".into(),
                &mut page.ou_error,
            ),
            "folder" => (
                "folder".into(),
                "Vault folder".into(),
                &mut page.folder_error,
            ),
            "terms_accepted" => (
                "terms_accepted".into(),
                "Terms of service".into(),
                &mut page.terms_error,
            ),
            f if f.starts_with("attributes.") => {
                let name = &f["attributes.".len()..];
                match page
                    .attributes
                    .iter_mut()
                    .find(|a| a.name.eq_ignore_ascii_case(name))
                {
                    Some(a) => (a.id.clone(), a.name.clone(), &mut a.error),
                    None => (
                        "account_name".into(),
                        name.to_owned(),
                        &mut page.account_name_error,
                    ),
                }
            }
            // owners, owners.users[i], owners.groups, and co-owner addresses.
            _ => (
                "co_owners".into(),
                "Owners".into(),
                &mut page.co_owners_error,
            ),
        };
        let text = format!("{label}: {message}");
        *slot = Some(match slot.take() {
            Some(before) => format!("{before}; {message}"),
            None => text.clone(),
        });
        page.errors.push(FormError {
            field: anchor,
            message: text,
        });
    }
    page.chrome.has_errors = true;
}

/// The co-owners' addresses as user ids; an unknown address is an error of the field.
pub(super) async fn co_owners(
    s: &AppState,
    text: &str,
) -> Result<Vec<alm_core::UserId>, Vec<alm_core::FieldError>> {
    let mut ids = Vec::new();
    let mut problems = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match crate::services::users::enabled_by_email(&s.db, line).await {
            Ok(id) => ids.push(id),
            Err(ServiceError::Validation(v)) => problems.extend(v.0.into_iter().map(|mut e| {
                e.field = "co_owners".into();
                e
            })),
            Err(e) => problems.push(alm_core::FieldError::new(
                "co_owners",
                "lookup",
                e.to_string(),
            )),
        }
    }
    if problems.is_empty() {
        Ok(ids)
    } else {
        Err(problems)
    }
}

/// The input for the service, or the form's own parse errors (the interval, co-owners).
pub(super) async fn input_of(
    s: &AppState,
    t: &OfferedTemplate,
    sent: &Sent,
) -> Result<RequestInput, Vec<alm_core::FieldError>> {
    let mut problems = Vec::new();
    let interval = match sent.interval.parse() {
        Ok(i) => Some(i),
        Err(e) => {
            problems.push(alm_core::FieldError::new("interval", "format", e));
            None
        }
    };
    let users = co_owners(s, &sent.co_owners).await.unwrap_or_else(|e| {
        problems.extend(e);
        Vec::new()
    });
    match interval {
        Some(interval) if problems.is_empty() => Ok(RequestInput {
            template_id: t.id,
            account_name: sent.account_name.clone(),
            interval,
            justification: sent.justification.clone(),
            description: sent.description.clone(),
            attributes: sent
                .attributes
                .iter()
                .filter(|(name, _)| {
                    t.definition
                        .attributes
                        .iter()
                        .any(|a| a.editable && a.name == **name)
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            owners: Owners {
                users,
                groups: vec![],
            },
            ou: Some(sent.ou.trim().to_owned()).filter(|o| !o.is_empty()),
            folder: Some(sent.folder.trim().to_owned()).filter(|f| !f.is_empty()),
            terms_accepted: sent.terms_accepted,
        }),
        _ => Err(problems),
    }
}

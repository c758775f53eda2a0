//! The wizard's steps for a new template and for a draft version: fill in the six sections,
//! then a summary of what will be saved (only for a definition the service accepts), then save.
//! The summary carries the definition as JSON in the form; "Change" goes back to the filled-in
//! wizard. Saving parses that JSON and validates again: it came back from the browser.

use super::wizard::{self, Choices, Section, Values};
use super::*;
use alm_core::templates::TemplateDefinition;

#[derive(Template)]
#[template(path = "template_wizard.html")]
struct WizardPage {
    chrome: Chrome,
    title: String,
    action: String,
    back: String,
    csrf_token: String,
    sections: Vec<Section>,
    errors: Vec<FormError>,
}

#[derive(Template)]
#[template(path = "template_review.html")]
struct ReviewPage {
    chrome: Chrome,
    title: String,
    action: String,
    csrf_token: String,
    name: String,
    definition_json: String,
    groups: Vec<summary::Group>,
}

/// Where the wizard posts: a new template, or the draft of `id`.
#[derive(Clone, Copy)]
pub(super) enum Target {
    New,
    Draft(Uuid),
}

impl Target {
    fn action(self) -> String {
        match self {
            Target::New => "/templates/new".into(),
            Target::Draft(id) => format!("/templates/{id}/edit"),
        }
    }

    fn back(self) -> String {
        match self {
            Target::New => "/templates".into(),
            Target::Draft(id) => format!("/templates/{id}"),
        }
    }
}

async fn choices(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
) -> Result<Choices, axum::response::Response> {
    let can = signed_in.can::<perm::TemplateRead>(path)?;
    let (domains, vaults) = names::domains_and_vaults(&s.db, &can)
        .await
        .map_err(|e| errors::service(signed_in, path, e))?;
    Ok(Choices { domains, vaults })
}

async fn wizard_page(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    target: Target,
    values: &Values,
    found: Vec<FieldError>,
) -> PageResult {
    let choices = choices(s, signed_in, path).await?;
    let (sections, errors) = wizard::sections(values, &choices, found);
    let mut chrome = Chrome::new(Some(signed_in), path).with_counts(s).await;
    chrome.has_errors = !errors.is_empty();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = WizardPage {
        chrome,
        title: match target {
            Target::New => "New template".into(),
            Target::Draft(_) => format!("Edit {}", values.get("name")),
        },
        action: target.action(),
        back: target.back(),
        csrf_token: signed_in.csrf_token(),
        sections,
        errors,
    };
    Ok(render(status, &page))
}

pub(super) async fn new_form(State(s): State<AppState>, browser: Browser) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    signed_in.can::<perm::TemplateCreate>(&path)?;
    let c = choices(&s, &signed_in, &path).await?;
    let values = Values::defaults(
        c.domains.first().map(|d| d.0.clone()),
        c.vaults.first().map(|v| v.0.clone()),
    );
    wizard_page(&s, &signed_in, &path, Target::New, &values, Vec::new()).await
}

pub(super) async fn edit_form(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let id = signed_in.id::<Uuid>(&path, &id)?;
    signed_in.can::<perm::TemplateUpdate>(&path)?;
    let read = signed_in.can::<perm::TemplateRead>(&path)?;
    let fail = |e| errors::service(&signed_in, &path, e);
    let t = templates::get(&s.db, &read, id).await.map_err(fail)?;
    let values = wizard::values_of(&s, &t.template.name, &t.definition)
        .await
        .map_err(fail)?;
    wizard_page(
        &s,
        &signed_in,
        &path,
        Target::Draft(id),
        &values,
        Vec::new(),
    )
    .await
}

/// What the wizard's buttons ask for.
enum Intent {
    /// Check the filled-in wizard and show the summary.
    Review,
    /// Back from the summary to the filled-in wizard.
    Change,
    /// Save the summary's definition.
    Save,
}

pub(super) async fn post_new(
    State(s): State<AppState>,
    browser: Browser,
    body: String,
) -> PageResult {
    post(s, browser, Target::New, body).await
}

pub(super) async fn post_draft(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    body: String,
) -> PageResult {
    let path = browser.path.clone();
    let id = match id.parse::<Uuid>() {
        Ok(id) => id,
        Err(_) => return Err(errors::not_found_for(None, &path)),
    };
    post(s, browser, Target::Draft(id), body).await
}

async fn post(s: AppState, browser: Browser, target: Target, body: String) -> PageResult {
    let path = browser.path.clone();
    let pairs = form::pairs(&body);
    let signed_in = browser.require_form(&form::one(&pairs, "csrf_token"))?;
    // Checked first (the service checks again on save): a refusal is audited at once.
    match target {
        Target::New => {
            signed_in.can::<perm::TemplateCreate>(&path)?;
        }
        Target::Draft(_) => {
            signed_in.can::<perm::TemplateUpdate>(&path)?;
        }
    }
    let read = signed_in.can::<perm::TemplateRead>(&path)?;
    let intent = match form::one(&pairs, "intent").as_str() {
        "review" => Intent::Review,
        "change" => Intent::Change,
        "save" => Intent::Save,
        _ => {
            return Err(errors::bad_address(
                &signed_in,
                &path,
                &FieldError::new("intent", "one-of", "must be review, change or save").into(),
            ))
        }
    };
    let values = Values::from_pairs(&pairs);
    match intent {
        Intent::Review => {
            let (name, definition, rows) = match wizard::read(&s, &read, &values).await {
                Ok(read) => read,
                Err(ServiceError::Validation(v)) => {
                    return wizard_page(&s, &signed_in, &path, target, &values, v.0).await
                }
                Err(e) => return Err(errors::service(&signed_in, &path, e)),
            };
            match templates::check(&s.db, &read, &definition).await {
                Ok(()) => review(&s, &signed_in, &path, target, name, &definition).await,
                Err(ServiceError::Validation(v)) => {
                    wizard_page(&s, &signed_in, &path, target, &values, rows.rewrite(v.0)).await
                }
                Err(e) => Err(errors::service(&signed_in, &path, e)),
            }
        }
        Intent::Change | Intent::Save => {
            let name = form::one(&pairs, "name");
            let definition: TemplateDefinition =
                serde_json::from_str(&form::one(&pairs, "definition")).map_err(|e| {
                    errors::bad_address(
                        &signed_in,
                        &path,
                        &FieldError::new(
                            "definition",
                            "format",
                            format!("not a template definition: {e}"),
                        )
                        .into(),
                    )
                })?;
            if matches!(intent, Intent::Change) {
                let values = wizard::values_of(&s, &name, &definition)
                    .await
                    .map_err(|e| errors::service(&signed_in, &path, e))?;
                return wizard_page(&s, &signed_in, &path, target, &values, Vec::new()).await;
            }
            save(&s, &signed_in, &path, target, &name, definition).await
        }
    }
}

async fn review(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    target: Target,
    name: String,
    definition: &TemplateDefinition,
) -> PageResult {
    let fail = |e| errors::service(signed_in, path, e);
    let (domain, vault) = names::domain_and_vault(&s.db, definition.domain_id, definition.vault_id)
        .await
        .map_err(fail)?;
    let groups = summary::groups(s, definition, &domain, &vault)
        .await
        .map_err(fail)?;
    let page = ReviewPage {
        chrome: Chrome::new(Some(signed_in), path).with_counts(s).await,
        title: format!("Check {name} before saving"),
        action: target.action(),
        csrf_token: signed_in.csrf_token(),
        name,
        definition_json: serde_json::to_string(definition).expect("plain data"),
        groups,
    };
    Ok(render(StatusCode::OK, &page))
}

async fn save(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    target: Target,
    name: &str,
    definition: TemplateDefinition,
) -> PageResult {
    let actor = &signed_in.principal.actor;
    let saved = match target {
        Target::New => {
            let can = signed_in.can::<perm::TemplateCreate>(path)?;
            templates::create(
                &s.db,
                s.clock.as_ref(),
                &can,
                actor,
                name,
                definition.clone(),
            )
            .await
        }
        Target::Draft(id) => {
            let can = signed_in.can::<perm::TemplateUpdate>(path)?;
            templates::update(
                &s.db,
                s.clock.as_ref(),
                &can,
                actor,
                id,
                Some(name),
                Some(definition.clone()),
            )
            .await
        }
    };
    match saved {
        Ok(t) => {
            Ok(Redirect::to(&format!("/templates/{}?done=saved", t.template.id)).into_response())
        }
        // The name taken meanwhile, or what the definition names changed: back to the wizard.
        Err(ServiceError::Validation(v)) => {
            let values = wizard::values_of(s, name, &definition)
                .await
                .map_err(|e| errors::service(signed_in, path, e))?;
            wizard_page(s, signed_in, path, target, &values, v.0).await
        }
        Err(ServiceError::Conflict(c)) => {
            let values = wizard::values_of(s, name, &definition)
                .await
                .map_err(|e| errors::service(signed_in, path, e))?;
            wizard_page(s, signed_in, path, target, &values, vec![c]).await
        }
        Err(e) => Err(errors::service(signed_in, path, e)),
    }
}

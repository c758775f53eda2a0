//! A webhook's create and edit forms, and its deletion. The form is read into the same JSON
//! shape the API takes and parsed by the definition's own types, so a value that does not
//! parse is an error at the field that holds it (`authorization.token_url` at the token URL).
//! Secrets are never shown; left empty on edit they keep the stored ones.

use super::*;
use crate::ui::confirm::ConfirmPage;
use alm_core::FieldError;
use alm_webhook::WebhookDefinition;
use serde_json::{json, Value};

#[derive(Deserialize, Default)]
pub(super) struct WebhookForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    event: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    body_template: String,
    #[serde(default)]
    content_type: String,
    #[serde(default)]
    headers: String,
    enabled: Option<String>,
    #[serde(default)]
    signing_secret: String,
    #[serde(default)]
    auth_type: String,
    #[serde(default)]
    auth_username: String,
    #[serde(default)]
    auth_password: String,
    #[serde(default)]
    auth_token_url: String,
    #[serde(default)]
    auth_client_id: String,
    #[serde(default)]
    auth_client_secret: String,
    #[serde(default)]
    auth_extra: String,
}

impl WebhookForm {
    fn of(d: &WebhookDefinition) -> Self {
        let mut f = Self {
            description: d.description.clone(),
            event: d.event.clone(),
            url: d.url.clone(),
            body_template: d.body_template.clone(),
            content_type: d.content_type.clone(),
            headers: d
                .headers
                .iter()
                .map(|h| format!("{}: {}", h.name, h.value))
                .collect::<Vec<_>>()
                .join("\n"),
            enabled: d.enabled.then(|| "yes".into()),
            ..Self::default()
        };
        match &d.authorization {
            None => f.auth_type = "none".into(),
            Some(Authorization::Basic { username, .. }) => {
                f.auth_type = "basic".into();
                f.auth_username = username.clone();
            }
            Some(Authorization::OauthClientCredentials(o)) => {
                f.auth_type = "oauth".into();
                f.auth_token_url = o.token_url.clone();
                f.auth_client_id = o.client_id.clone();
                f.auth_extra = o
                    .extra
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("\n");
            }
        }
        f
    }

    /// The definition the form describes, or the errors at their fields.
    fn definition(&self) -> Result<WebhookDefinition, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut headers = Vec::new();
        for (n, line) in form::lines(&self.headers).iter().enumerate() {
            match line.split_once(':') {
                Some((name, value)) => {
                    headers.push(json!({"name": name.trim(), "value": value.trim()}))
                }
                None => errors.push(FieldError::new(
                    format!("headers[{n}]"),
                    "format",
                    format!("{line:?} is not a header written as Name: value"),
                )),
            }
        }
        let mut extra = serde_json::Map::new();
        for line in form::lines(&self.auth_extra) {
            match line.split_once('=') {
                Some((k, v)) => {
                    extra.insert(k.trim().to_owned(), Value::String(v.trim().to_owned()));
                }
                None => errors.push(FieldError::new(
                    "auth_extra",
                    "format",
                    format!("{line:?} is not written as name=value"),
                )),
            }
        }
        let authorization = match self.auth_type.as_str() {
            "" | "none" => Value::Null,
            "basic" => json!({"type": "basic", "username": self.auth_username.trim(),
                              "password": self.auth_password}),
            "oauth" => {
                json!({"type": "oauth_client_credentials", "token_url": self.auth_token_url.trim(),
                              "client_id": self.auth_client_id.trim(), "client_secret": self.auth_client_secret,
                              "extra": extra})
            }
            _ => {
                errors.push(FieldError::new(
                    "auth_type",
                    "one-of",
                    "choose none, basic or OAuth client credentials",
                ));
                Value::Null
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let content_type = Some(self.content_type.trim())
            .filter(|c| !c.is_empty())
            .unwrap_or("application/json");
        let v = json!({
            "description": self.description.trim(), "event": self.event, "url": self.url.trim(),
            "body_template": self.body_template, "content_type": content_type,
            "headers": headers, "enabled": form::ticked(&self.enabled),
            "signing_secret": self.signing_secret, "authorization": authorization,
        });
        serde_path_to_error::deserialize(v).map_err(|e| {
            let path = e.path().to_string();
            vec![FieldError::new(path, "format", e.into_inner().to_string())]
        })
    }
}

fn fields(f: &WebhookForm, editing: bool) -> Form {
    let events: Vec<(String, String)> = alm_notify::events::ALL
        .iter()
        .map(|e| (e.key.to_owned(), format!("{} ({})", e.title, e.key)))
        .collect();
    let parameters = alm_notify::events::by_key(&f.event)
        .map(|e| {
            e.parameters
                .iter()
                .map(|p| format!("{{{{{p}}}}}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_else(|| "the chosen event's, listed on its email template".into());
    let keep = |what: &str| {
        if editing {
            format!("Leave empty to keep the stored {what}.")
        } else {
            String::new()
        }
    };
    Form::new(vec![
        Field::new("description", "Description", Control::Text)
            .hint("For people: what the call is for.")
            .value(&f.description),
        Field::new("event", "Event", Control::Select(events)).value(&f.event),
        Field::new("url", "Address", Control::Text)
            .hint("https://…, or http:// to this machine only.")
            .value(&f.url),
        Field::new("body_template", "Body", Control::TextArea(6))
            .hint(format!("With the event's parameters: {parameters}."))
            .value(&f.body_template),
        Field::new("content_type", "Content type", Control::Text)
            .hint("Empty: application/json (values are then escaped as JSON).")
            .value(&f.content_type),
        Field::new("headers", "Extra headers", Control::TextArea(2))
            .hint("Optional. One per line, Name: value. Keys belong in the authorization below.")
            .value(&f.headers),
        Field::new(
            "enabled",
            "Call it when the event happens",
            Control::Checkbox,
        )
        .checked(form::ticked(&f.enabled)),
        Field::new("signing_secret", "Signing secret", Control::Password).hint(format!(
            "The key of the X-Alm-Signature HMAC, at least 16 characters. {}",
            keep("one")
        )),
        Field::new(
            "auth_type",
            "Authorization",
            Control::Select(vec![
                ("none".into(), "None".into()),
                ("basic".into(), "Basic (user name and password)".into()),
                ("oauth".into(), "OAuth 2.0 client credentials".into()),
            ]),
        )
        .value(&f.auth_type)
        .takes("authorization"),
        Field::new("auth_username", "Basic: user name", Control::Text)
            .value(&f.auth_username)
            .takes("authorization.username"),
        Field::new("auth_password", "Basic: password", Control::Password)
            .hint(keep("password"))
            .takes("authorization.password"),
        Field::new("auth_token_url", "OAuth: token URL", Control::Text)
            .value(&f.auth_token_url)
            .takes("authorization.token_url"),
        Field::new("auth_client_id", "OAuth: client id", Control::Text)
            .value(&f.auth_client_id)
            .takes("authorization.client_id"),
        Field::new(
            "auth_client_secret",
            "OAuth: client secret",
            Control::Password,
        )
        .hint(keep("client secret"))
        .takes("authorization.client_secret"),
        Field::new("auth_extra", "OAuth: extra values", Control::TextArea(2))
            .hint("Optional. One per line, name=value, e.g. scope=alm.")
            .value(&f.auth_extra)
            .takes("authorization.extra"),
    ])
}

fn target(editing: Option<&str>) -> Target {
    match editing {
        None => Target {
            title: "New webhook".into(),
            action: "/webhooks/new".into(),
            back: "/webhooks".into(),
            button: "Save webhook",
        },
        Some(id) => Target {
            title: "Edit webhook".into(),
            action: format!("/webhooks/{id}/edit"),
            back: format!("/webhooks/{id}"),
            button: "Save changes",
        },
    }
}

async fn refused(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    f: &WebhookForm,
    editing: Option<&str>,
    found: Vec<FieldError>,
) -> PageResult {
    let mut form = fields(f, editing.is_some());
    form.place(found);
    Ok(render(
        StatusCode::UNPROCESSABLE_ENTITY,
        &FormPage::new(s, signed_in, path, target(editing), form).await,
    ))
}

pub(super) async fn new_form(State(s): State<AppState>, browser: Browser) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    signed_in.can::<perm::WebhookCreate>(&path)?;
    let f = WebhookForm {
        event: alm_notify::events::ALL[0].key.to_owned(),
        content_type: "application/json".into(),
        enabled: Some("yes".into()),
        auth_type: "none".into(),
        ..WebhookForm::default()
    };
    Ok(render(
        StatusCode::OK,
        &FormPage::new(&s, &signed_in, &path, target(None), fields(&f, false)).await,
    ))
}

pub(super) async fn create(
    State(s): State<AppState>,
    browser: Browser,
    axum::Form(f): axum::Form<WebhookForm>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&f.csrf_token)?;
    let can = signed_in.can::<perm::WebhookCreate>(&path)?;
    let d = match f.definition() {
        Ok(d) => d,
        Err(found) => return refused(&s, &signed_in, &path, &f, None, found).await,
    };
    match svc::create(
        &s.db,
        s.clock.as_ref(),
        &s.master_key,
        &can,
        &signed_in.principal.actor,
        d,
    )
    .await
    {
        Ok(w) => Ok(Redirect::to(&format!("/webhooks/{}?done=created", w.id)).into_response()),
        Err(ServiceError::Validation(v)) => refused(&s, &signed_in, &path, &f, None, v.0).await,
        Err(e) => Err(errors::service(&signed_in, &path, e)),
    }
}

pub(super) async fn edit_form(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let id = webhook_id(&signed_in, &path, &id)?;
    signed_in.can::<perm::WebhookUpdate>(&path)?;
    let read = signed_in.can::<perm::WebhookRead>(&path)?;
    let w = svc::get(&s.db, &s.master_key, &read, &id)
        .await
        .map_err(|e| errors::service(&signed_in, &path, e))?;
    let form = fields(&WebhookForm::of(&w.definition), true);
    Ok(render(
        StatusCode::OK,
        &FormPage::new(&s, &signed_in, &path, target(Some(&id)), form).await,
    ))
}

pub(super) async fn update(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    axum::Form(f): axum::Form<WebhookForm>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&f.csrf_token)?;
    let id = webhook_id(&signed_in, &path, &id)?;
    let can = signed_in.can::<perm::WebhookUpdate>(&path)?;
    let d = match f.definition() {
        Ok(d) => d,
        Err(found) => return refused(&s, &signed_in, &path, &f, Some(&id), found).await,
    };
    match svc::update(
        &s.db,
        s.clock.as_ref(),
        &s.master_key,
        &can,
        &signed_in.principal.actor,
        &id,
        d,
    )
    .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/webhooks/{id}?done=updated")).into_response()),
        Err(ServiceError::Validation(v)) => {
            refused(&s, &signed_in, &path, &f, Some(&id), v.0).await
        }
        Err(e) => Err(errors::service(&signed_in, &path, e)),
    }
}

async fn delete_page(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    id: &str,
) -> Result<ConfirmPage, axum::response::Response> {
    let read = signed_in.can::<perm::WebhookRead>(path)?;
    let w = svc::get(&s.db, &s.master_key, &read, id)
        .await
        .map_err(|e| errors::service(signed_in, path, e))?;
    Ok(ConfirmPage {
        chrome: Chrome::new(Some(signed_in), path).with_counts(s).await,
        title: "Delete the webhook".into(),
        back: (format!("/webhooks/{id}"), w.definition.url.clone()),
        consequences: vec![
            format!(
                "{} is no longer called for {}; calls waiting to be sent are dropped.",
                w.definition.url, w.definition.event
            ),
            "Its stored secrets are erased; its delivery history goes with it.".into(),
        ],
        action: format!("/webhooks/{id}/delete"),
        button: "Delete webhook".into(),
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
    let id = webhook_id(&signed_in, &path, &id)?;
    signed_in.can::<perm::WebhookDelete>(&path)?;
    Ok(delete_page(&s, &signed_in, &path, &id).await?.show())
}

pub(super) async fn delete(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    axum::Form(f): axum::Form<form::CsrfOnly>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&f.csrf_token)?;
    let id = webhook_id(&signed_in, &path, &id)?;
    let can = signed_in.can::<perm::WebhookDelete>(&path)?;
    svc::delete(
        &s.db,
        s.clock.as_ref(),
        &can,
        &signed_in.principal.actor,
        &id,
    )
    .await
    .map_err(|e| errors::service(&signed_in, &path, e))?;
    Ok(Redirect::to("/webhooks?done=deleted").into_response())
}

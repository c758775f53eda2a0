//! `/api/v1/webhooks` (SPEC §7.4): webhooks, a test call, and the delivery history. Secrets
//! (signing secret, basic password, OAuth client secret) are write-only: answers never carry
//! them, and on a change an omitted or empty secret keeps the stored one.

use super::error::{ApiError, ApiResult};
use super::extract::{parse_id, ApiJson, ApiQuery};
use crate::auth::principal::Authenticated;
use crate::services::webhooks::{self as svc, WebhookInfo};
use crate::state::AppState;
use alm_core::permissions::perm;
use alm_core::FieldError;
use alm_store::integrations::WebhookDelivery;
use alm_webhook::{DeliveryOutcome, WebhookDefinition};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// A webhook's settings, as given and (without secrets) as shown.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookBody {
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: String,
    /// The event key, e.g. `request.step-requires-approval` (see `/api/v1/email-templates`).
    pub event: String,
    /// `https://…`, or `http://` to a loopback address.
    pub url: String,
    /// The body with `{{parameter}}` placeholders of the event.
    pub body_template: String,
    #[serde(default = "alm_webhook::definition::default_content_type")]
    pub content_type: String,
    #[serde(default)]
    pub headers: Vec<HeaderBody>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The HMAC key of `X-Alm-Signature` (at least 16 characters); write-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = Password)]
    pub signing_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<AuthorizationBody>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeaderBody {
    pub name: String,
    pub value: String,
}

/// How the callback learns who calls.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthorizationBody {
    Basic {
        username: String,
        /// Write-only.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(format = Password)]
        password: Option<String>,
    },
    OauthClientCredentials {
        token_url: String,
        /// `form` (default) or `json`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(pattern = "^(form|json)$")]
        content_type: Option<String>,
        client_id: String,
        /// Write-only.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(format = Password)]
        client_secret: Option<String>,
        #[serde(default)]
        extra: BTreeMap<String, String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token_map: Option<TokenMapBody>,
    },
}

/// JSON pointers into the token response.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenMapBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    pub id: String,
    #[serde(flatten)]
    pub webhook: WebhookBody,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

const SECRET_KEYS: &[&str] = &["signing_secret", "password", "client_secret"];

/// Removes every secret key (the redacted definition has them empty).
fn strip_secrets(v: &mut Value) {
    if let Value::Object(map) = v {
        for k in SECRET_KEYS {
            map.remove(*k);
        }
        for v in map.values_mut() {
            strip_secrets(v);
        }
    }
}

impl From<WebhookInfo> for WebhookView {
    fn from(i: WebhookInfo) -> Self {
        let mut v = serde_json::to_value(&i.definition).unwrap_or_default();
        strip_secrets(&mut v);
        Self {
            id: i.id,
            webhook: serde_json::from_value(v).expect("a definition reads as a body"),
            created_at: i.created_at,
            updated_at: i.updated_at,
        }
    }
}

/// The body as a definition; missing secrets are empty (a change keeps the stored ones).
fn definition(body: WebhookBody) -> ApiResult<WebhookDefinition> {
    let mut v = serde_json::to_value(&body).unwrap_or_default();
    v["signing_secret"] = Value::String(body.signing_secret.unwrap_or_default());
    if let Some(a) = v.get_mut("authorization").and_then(Value::as_object_mut) {
        let key = if a.get("type").and_then(Value::as_str) == Some("basic") {
            "password"
        } else {
            "client_secret"
        };
        a.entry(key).or_insert(Value::String(String::new()));
    }
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        ApiError::Validation(FieldError::new(path, "format", e.into_inner().to_string()).into())
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: String,
    /// The same on every attempt of one delivery (`X-Alm-Delivery`).
    pub delivery_id: String,
    pub event: String,
    pub attempt: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The callback's HTTP status, when it answered.
    pub status_code: Option<i64>,
    pub duration_ms: i64,
    pub response_excerpt: String,
    pub error: Option<String>,
    /// A test call.
    pub test: bool,
}

impl From<WebhookDelivery> for DeliveryView {
    fn from(d: WebhookDelivery) -> Self {
        Self {
            id: d.id,
            delivery_id: d.delivery_id,
            event: d.event,
            attempt: d.attempt,
            at: d.at,
            status_code: d.status_code,
            duration_ms: d.duration_ms,
            response_excerpt: d.response_excerpt,
            error: d.error,
            test: d.test,
        }
    }
}

super::page_of!(DeliveryPage, DeliveryView);

super::list_query!(DeliveryQuery, "^-?at$", {});

super::list_query!(WebhookQuery, "^-?(created_at|event|url)$", q: "Part of the event, URL or description, case-insensitive.", {});
super::page_of!(WebhookPage, WebhookView);

/// The outcome of a test call.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestCallView {
    pub delivered: bool,
    pub delivery_id: String,
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    pub response_excerpt: String,
    pub error: Option<String>,
    /// `connect`, `timeout`, `status`, `token`, `transport` or `invalid_definition`.
    pub error_kind: Option<String>,
}

impl From<DeliveryOutcome> for TestCallView {
    fn from(o: DeliveryOutcome) -> Self {
        Self {
            delivered: o.delivered(),
            delivery_id: o.delivery_id,
            status_code: o.status,
            duration_ms: u64::try_from(o.duration.as_millis()).unwrap_or(u64::MAX),
            response_excerpt: o.response_excerpt,
            error_kind: o.error.as_ref().map(|e| {
                serde_json::to_value(e.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            }),
            error: o.error.map(|e| e.message),
        }
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_webhooks, create_webhook))
        .routes(routes!(get_webhook, update_webhook, delete_webhook))
        .routes(routes!(test_webhook))
        .routes(routes!(webhook_deliveries))
}

const ID: &str = "Webhook id";

fn webhook_id(id: &str) -> ApiResult<String> {
    Ok(parse_id::<uuid::Uuid>(id, "webhook")?.to_string())
}

/// The webhooks (secrets never shown), oldest first.
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks", params(WebhookQuery), responses((status = 200, body = WebhookPage)))]
async fn list_webhooks(
    State(s): State<AppState>,
    auth: Authenticated,
    ApiQuery(q): ApiQuery<WebhookQuery>,
) -> ApiResult<Json<WebhookPage>> {
    let can = auth.can::<perm::WebhookRead>()?;
    let page = q.page(&["created_at", "event", "url"])?;
    let query = q.query();
    let found: Vec<WebhookInfo> = svc::list(&s.db, &s.master_key, &can)
        .await?
        .into_iter()
        .filter(|w| {
            let d = &w.definition;
            alm_core::paging::matches(query.as_deref(), &[&d.event, &d.url, &d.description])
        })
        .collect();
    let (items, total) = page.slice(found, |key, a, b| {
        match key {
            "event" => a.definition.event.cmp(&b.definition.event),
            "url" => a.definition.url.cmp(&b.definition.url),
            _ => a.created_at.cmp(&b.created_at),
        }
        .then(a.id.cmp(&b.id))
    });
    Ok(Json(WebhookPage::new(
        items.into_iter().map(Into::into).collect(),
        total,
        &page,
    )))
}

/// Add a webhook for one event.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", request_body = WebhookBody, responses((status = 201, body = WebhookView)))]
async fn create_webhook(
    State(s): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<WebhookBody>,
) -> ApiResult<(StatusCode, Json<WebhookView>)> {
    let can = auth.can::<perm::WebhookCreate>()?;
    let d = definition(body)?;
    let w = svc::create(
        &s.db,
        s.clock.as_ref(),
        &s.master_key,
        &can,
        &auth.principal.actor,
        d,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(w.into())))
}

/// One webhook.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = String, Path, description = ID)), responses((status = 200, body = WebhookView)))]
async fn get_webhook(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookView>> {
    let can = auth.can::<perm::WebhookRead>()?;
    let id = webhook_id(&id)?;
    Ok(Json(
        svc::get(&s.db, &s.master_key, &can, &id).await?.into(),
    ))
}

/// Replace a webhook's settings; secrets left out keep their stored values.
#[utoipa::path(put, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = String, Path, description = ID)),
    request_body = WebhookBody, responses((status = 200, body = WebhookView)))]
async fn update_webhook(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<WebhookBody>,
) -> ApiResult<Json<WebhookView>> {
    let can = auth.can::<perm::WebhookUpdate>()?;
    let id = webhook_id(&id)?;
    let d = definition(body)?;
    Ok(Json(
        svc::update(
            &s.db,
            s.clock.as_ref(),
            &s.master_key,
            &can,
            &auth.principal.actor,
            &id,
            d,
        )
        .await?
        .into(),
    ))
}

/// Remove a webhook, its history and its undelivered calls.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = String, Path, description = ID)), responses((status = 204)))]
async fn delete_webhook(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let can = auth.can::<perm::WebhookDelete>()?;
    let id = webhook_id(&id)?;
    svc::delete(&s.db, s.clock.as_ref(), &can, &auth.principal.actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Send one test call now (sample values, `X-Alm-Test: true`); it is kept in the history.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/test", tag = "webhooks", params(("id" = String, Path, description = ID)), responses((status = 200, body = TestCallView)))]
async fn test_webhook(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<TestCallView>> {
    let can = auth.can::<perm::WebhookUpdate>()?;
    let id = webhook_id(&id)?;
    let o = svc::test(
        &s.db,
        s.clock.as_ref(),
        &s.master_key,
        &s.webhook_sender,
        &can,
        &auth.principal.actor,
        &id,
    )
    .await?;
    Ok(Json(o.into()))
}

/// The webhook's calls, newest first: time, status, duration, attempt, response excerpt, error.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks", params(("id" = String, Path, description = ID), DeliveryQuery),
    responses((status = 200, body = DeliveryPage)))]
async fn webhook_deliveries(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<DeliveryQuery>,
) -> ApiResult<Json<DeliveryPage>> {
    let can = auth.can::<perm::WebhookRead>()?;
    let id = webhook_id(&id)?;
    let page = q.page_or(&["at"], "-at")?;
    let (items, total) = svc::deliveries(&s.db, &can, &id, &page).await?;
    Ok(Json(DeliveryPage::new(
        items.into_iter().map(Into::into).collect(),
        total,
        &page,
    )))
}

//! `/api/v1/domains`: the directories alm connects to (SPEC §6.1). The bind password is
//! write-only: accepted on create and update, never returned.

use super::error::ApiResult;
use super::extract::{parse_id, ApiJson};
use crate::auth::principal::Authenticated;
use crate::services::domains::{self as svc, CheckOutcome, DomainInfo, DomainInput, PasswordRules};
use crate::state::AppState;
use alm_core::permissions::perm;
use alm_core::DomainId;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Rules for the passwords alm generates for this domain's accounts.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordRulesBody {
    #[schema(minimum = 14, maximum = 128)]
    pub length: usize,
    pub lowercase: bool,
    pub uppercase: bool,
    pub digits: bool,
    pub symbols: bool,
}

impl From<PasswordRulesBody> for PasswordRules {
    fn from(b: PasswordRulesBody) -> Self {
        Self {
            length: b.length,
            lowercase: b.lowercase,
            uppercase: b.uppercase,
            digits: b.digits,
            symbols: b.symbols,
        }
    }
}

impl From<PasswordRules> for PasswordRulesBody {
    fn from(r: PasswordRules) -> Self {
        Self {
            length: r.length,
            lowercase: r.lowercase,
            uppercase: r.uppercase,
            digits: r.digits,
            symbols: r.symbols,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DomainView {
    pub id: DomainId,
    pub name: String,
    /// `active-directory`.
    pub kind: String,
    pub url: String,
    pub bind_identity: String,
    /// The CA certificate(s) trusted for this domain (PEM); absent: the system's store.
    pub ca_pem: Option<String>,
    pub base_dn: String,
    pub password_rules: PasswordRulesBody,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<DomainInfo> for DomainView {
    fn from(d: DomainInfo) -> Self {
        let r = d.record;
        Self {
            id: r.id,
            name: r.name,
            kind: r.kind,
            url: r.url,
            bind_identity: r.bind_identity,
            ca_pem: r.ca_pem,
            base_dn: r.base_dn,
            password_rules: d.password_rules.into(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDomainBody {
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub name: String,
    /// `ldaps://dc1.corp.example.com[:636]` (LDAPS only).
    #[schema(pattern = "^ldaps://")]
    pub url: String,
    /// A DN or a user principal name.
    #[schema(min_length = 1, max_length = 512)]
    pub bind_identity: String,
    /// Write-only.
    #[schema(min_length = 1, max_length = 512, format = Password)]
    pub bind_password: String,
    /// PEM text of the CA certificate(s) to trust.
    pub ca_pem: Option<String>,
    /// e.g. `DC=corp,DC=example,DC=com`.
    #[schema(min_length = 1, max_length = 1024)]
    pub base_dn: String,
    pub password_rules: Option<PasswordRulesBody>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDomainBody {
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub name: Option<String>,
    #[schema(pattern = "^ldaps://")]
    pub url: Option<String>,
    #[schema(min_length = 1, max_length = 512)]
    pub bind_identity: Option<String>,
    /// Omit to keep the stored password.
    #[schema(min_length = 1, max_length = 512, format = Password)]
    pub bind_password: Option<String>,
    /// An empty string removes the configured CA.
    pub ca_pem: Option<String>,
    #[schema(min_length = 1, max_length = 1024)]
    pub base_dn: Option<String>,
    pub password_rules: Option<PasswordRulesBody>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckView {
    pub ok: bool,
    /// When it failed: `unreachable`, `tls`, `bad-credentials`, `insufficient-rights`, …
    pub problem: Option<String>,
    /// What happened and what to do.
    pub message: String,
}

impl From<CheckOutcome> for CheckView {
    fn from(c: CheckOutcome) -> Self {
        Self {
            ok: c.ok,
            problem: c.problem,
            message: c.message,
        }
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_domains, create_domain))
        .routes(routes!(get_domain, update_domain, delete_domain))
        .routes(routes!(check_domain))
}

const ID: &str = "Domain id";

/// Every domain.
#[utoipa::path(get, path = "/api/v1/domains", tag = "domains", responses((status = 200, body = Vec<DomainView>)))]
async fn list_domains(
    State(s): State<AppState>,
    auth: Authenticated,
) -> ApiResult<Json<Vec<DomainView>>> {
    let can = auth.can::<perm::DomainRead>()?;
    Ok(Json(
        svc::list(&s.db, &can)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// Add a domain (its bind password is stored sealed).
#[utoipa::path(post, path = "/api/v1/domains", tag = "domains", request_body = CreateDomainBody, responses((status = 201, body = DomainView)))]
async fn create_domain(
    State(s): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<CreateDomainBody>,
) -> ApiResult<(StatusCode, Json<DomainView>)> {
    let can = auth.can::<perm::DomainCreate>()?;
    let input = DomainInput {
        name: Some(body.name),
        url: Some(body.url),
        bind_identity: Some(body.bind_identity),
        bind_password: Some(body.bind_password),
        ca_pem: Some(body.ca_pem),
        base_dn: Some(body.base_dn),
        password_rules: body.password_rules.map(Into::into),
    };
    let d = svc::create(
        &s.db,
        s.clock.as_ref(),
        &s.master_key,
        &can,
        &auth.principal.actor,
        input,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(d.into())))
}

/// One domain.
#[utoipa::path(get, path = "/api/v1/domains/{id}", tag = "domains", params(("id" = String, Path, description = ID)), responses((status = 200, body = DomainView)))]
async fn get_domain(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<DomainView>> {
    let can = auth.can::<perm::DomainRead>()?;
    let id: DomainId = parse_id(&id, "domain")?;
    Ok(Json(svc::get(&s.db, &can, id).await?.into()))
}

/// Change a domain; fields left out keep their values.
#[utoipa::path(patch, path = "/api/v1/domains/{id}", tag = "domains", params(("id" = String, Path, description = ID)),
    request_body = UpdateDomainBody, responses((status = 200, body = DomainView)))]
async fn update_domain(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateDomainBody>,
) -> ApiResult<Json<DomainView>> {
    let can = auth.can::<perm::DomainUpdate>()?;
    let id: DomainId = parse_id(&id, "domain")?;
    let input = DomainInput {
        name: body.name,
        url: body.url,
        bind_identity: body.bind_identity,
        bind_password: body.bind_password,
        ca_pem: body
            .ca_pem
            .map(|c| Some(c).filter(|c| !c.trim().is_empty())),
        base_dn: body.base_dn,
        password_rules: body.password_rules.map(Into::into),
    };
    Ok(Json(
        svc::update(
            &s.db,
            s.clock.as_ref(),
            &s.master_key,
            &can,
            &auth.principal.actor,
            id,
            input,
        )
        .await?
        .into(),
    ))
}

/// Remove a domain.
#[utoipa::path(delete, path = "/api/v1/domains/{id}", tag = "domains", params(("id" = String, Path, description = ID)), responses((status = 204)))]
async fn delete_domain(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let can = auth.can::<perm::DomainDelete>()?;
    let id: DomainId = parse_id(&id, "domain")?;
    svc::delete(&s.db, s.clock.as_ref(), &can, &auth.principal.actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Bind to the domain with its stored credentials now; the answer says what went wrong.
#[utoipa::path(post, path = "/api/v1/domains/{id}/check", tag = "domains", params(("id" = String, Path, description = ID)), responses((status = 200, body = CheckView)))]
async fn check_domain(
    State(s): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<CheckView>> {
    let can = auth.can::<perm::DomainRead>()?;
    let id: DomainId = parse_id(&id, "domain")?;
    Ok(Json(
        svc::check(
            &s.db,
            s.clock.as_ref(),
            &s.master_key,
            &can,
            &auth.principal.actor,
            id,
        )
        .await?
        .into(),
    ))
}

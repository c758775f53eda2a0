//! API errors as `application/problem+json` (RFC 9457), converted in this one place.
//!
//! Refusals (401, 403, and 404 for an object outside the caller's scope) carry a
//! [`DeniedAttempt`] in the response extensions; the
//! `audit_denials` middleware turns it into an audit record, so every denied attempt is
//! recorded whichever handler or extractor refused it.

use crate::services::login::LoginError;
use crate::services::ServiceError;
use alm_core::permissions::Permission;
use alm_core::{FieldError, UserId, ValidationErrors};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URN naming the kind of problem (`urn:alm:problem:validation`).
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// For validation problems: one entry per broken rule, naming the field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// A refused request, for the audit middleware.
#[derive(Debug, Clone)]
pub struct DeniedAttempt {
    pub actor: Option<UserId>,
    pub needed: Option<Permission>,
    pub reason: String,
    /// The object refused (type, id), when the refusal is about one; else the route is.
    pub object: Option<(&'static str, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{detail}")]
    BadRequest {
        detail: String,
        errors: Vec<FieldError>,
    },
    #[error("{0}")]
    Validation(ValidationErrors),
    #[error("{0}")]
    Unauthorized(String),
    /// A login refusal the login service has audited already.
    #[error("{detail}")]
    LoginRefused { status: StatusCode, detail: String },
    #[error("{reason}")]
    Forbidden {
        actor: Option<UserId>,
        needed: Option<Permission>,
        reason: String,
    },
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// Answered exactly like `NotFound`; audited as a denied attempt on the object.
    #[error("{what} not found")]
    OutOfScope {
        what: &'static str,
        actor: UserId,
        object_type: &'static str,
        object_id: String,
    },
    #[error("{0}")]
    Conflict(FieldError),
    #[error("{0}")]
    NotAllowed(String),
    #[error("{detail}")]
    TooManyRequests { detail: String, retry_after: i64 },
    #[error("expected a JSON body (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("the request body is larger than this route accepts")]
    PayloadTooLarge,
    #[error("the request body did not arrive in time")]
    RequestTimeout,
    #[error("this route does not take this method; the Allow header lists those it takes")]
    MethodNotAllowed,
    #[error("the request target is longer than {max} bytes")]
    UriTooLong { max: usize },
    /// The server runs read-only for recovery (the reason says why and what to do).
    #[error("alm runs read-only: {0}")]
    ReadOnly(String),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Validation(v) => ApiError::Validation(v),
            ServiceError::NotFound { what } => ApiError::NotFound { what },
            ServiceError::OutOfScope {
                what,
                actor,
                object_type,
                object_id,
            } => ApiError::OutOfScope {
                what,
                actor,
                object_type,
                object_id,
            },
            ServiceError::Conflict(f) => ApiError::Conflict(f),
            ServiceError::Refused(r) => ApiError::NotAllowed(r.to_string()),
            ServiceError::Internal(m) => ApiError::Internal(anyhow::anyhow!(m)),
            e @ ServiceError::LeaseLost => ApiError::NotAllowed(e.to_string()),
            ServiceError::Unauthenticated(m) => ApiError::Unauthorized(m),
            ServiceError::Forbidden { denied, actor } => ApiError::Forbidden {
                actor: Some(actor),
                needed: Some(denied.needed),
                reason: denied.to_string(),
            },
            ServiceError::Store(e) => ApiError::Internal(e.into()),
        }
    }
}

impl From<LoginError> for ApiError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::Refused => ApiError::LoginRefused {
                status: StatusCode::UNAUTHORIZED,
                detail: e.to_string(),
            },
            LoginError::LocalLoginOff => ApiError::LoginRefused {
                status: StatusCode::FORBIDDEN,
                detail: e.to_string(),
            },
            LoginError::Locked { seconds } => ApiError::TooManyRequests {
                detail: e.to_string(),
                retry_after: seconds,
            },
            LoginError::Service(s) => s.into(),
        }
    }
}

impl From<alm_store::StoreError> for ApiError {
    fn from(e: alm_store::StoreError) -> Self {
        ApiError::Internal(e.into())
    }
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::BadRequest { .. } => (
                StatusCode::BAD_REQUEST,
                "bad-request",
                "The request is malformed",
            ),
            ApiError::Validation(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "The input is not valid",
            ),
            ApiError::Unauthorized(_) => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Authentication required",
            ),
            ApiError::LoginRefused { status, .. } => (*status, "login-refused", "Login refused"),
            ApiError::Forbidden { .. } => (StatusCode::FORBIDDEN, "forbidden", "Not permitted"),
            ApiError::NotFound { .. } | ApiError::OutOfScope { .. } => {
                (StatusCode::NOT_FOUND, "not-found", "Not found")
            }
            ApiError::Conflict(_) => (
                StatusCode::CONFLICT,
                "conflict",
                "Conflicts with existing data",
            ),
            ApiError::NotAllowed(_) => (
                StatusCode::CONFLICT,
                "not-allowed",
                "Not possible in the current state",
            ),
            ApiError::TooManyRequests { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many attempts",
            ),
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            ApiError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Request body too large",
            ),
            ApiError::RequestTimeout => (
                StatusCode::REQUEST_TIMEOUT,
                "request-timeout",
                "Request timed out",
            ),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
            ),
            ApiError::ReadOnly(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "read-only",
                "Read-only for recovery",
            ),
            ApiError::UriTooLong { .. } => (
                StatusCode::URI_TOO_LONG,
                "uri-too-long",
                "Request target too long",
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, slug, title) = self.parts();
        if let ApiError::Internal(e) = &self {
            // The chain of causes is logged for operators; the client sees no internals.
            tracing::error!(error = format!("{e:#}"), "request failed");
        }
        let errors = match &self {
            ApiError::Validation(v) => v.0.clone(),
            ApiError::BadRequest { errors, .. } => errors.clone(),
            ApiError::Conflict(f) => vec![f.clone()],
            ApiError::PayloadTooLarge => vec![FieldError::new(
                "body",
                "max-size",
                "too large for this route",
            )],
            _ => Vec::new(),
        };
        let problem = Problem {
            kind: format!("urn:alm:problem:{slug}"),
            title: title.into(),
            status: status.as_u16(),
            detail: self.to_string(),
            errors,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match &self {
            ApiError::Unauthorized(reason) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"alm\""),
                );
                response.extensions_mut().insert(DeniedAttempt {
                    actor: None,
                    needed: None,
                    reason: reason.clone(),
                    object: None,
                });
            }
            ApiError::Forbidden {
                actor,
                needed,
                reason,
            } => {
                response.extensions_mut().insert(DeniedAttempt {
                    actor: *actor,
                    needed: *needed,
                    reason: reason.clone(),
                    object: None,
                });
            }
            ApiError::OutOfScope {
                actor,
                object_type,
                object_id,
                ..
            } => {
                response.extensions_mut().insert(DeniedAttempt {
                    actor: Some(*actor),
                    needed: None,
                    reason: "outside the caller's scope (answered as not found)".into(),
                    object: Some((object_type, object_id.clone())),
                });
            }
            ApiError::TooManyRequests { retry_after, .. } => {
                if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            _ => {}
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

//! Request extractors that refuse bad input with field-naming problems instead of axum's
//! plain-text rejections: JSON bodies, query strings, and path ids.

use super::error::ApiError;
use alm_core::FieldError;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;

/// A JSON body, parsed with the path of the offending field in every error.
pub struct ApiJson<T>(pub T);

/// Turns a serde error at `path` into the field error clients see.
fn field_error(path: &str, message: &str) -> FieldError {
    let message = message.split(" at line").next().unwrap_or(message);
    let join = |name: &str| {
        if path == "." {
            name.to_owned()
        } else if path == name || path.ends_with(&format!(".{name}")) {
            // serde_path_to_error already ends the path with an unknown field's name.
            path.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    let quoted = |rest: &str| rest.split('`').next().unwrap_or_default().to_owned();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        return FieldError::new(join(&quoted(rest)), "unknown-field", message);
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = quoted(rest);
        let field = if path == "." {
            name
        } else {
            format!("{path}.{name}")
        };
        return FieldError::new(field, "required", message);
    }
    let field = if path == "." {
        "body".to_owned()
    } else {
        path.to_owned()
    };
    FieldError::new(field, "type", message)
}

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| {
                let m = m.trim().to_ascii_lowercase();
                m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
            });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(body_error)?;
        // Bodies are JSON objects; serde would also read an array into a struct, by position.
        let first = bytes.iter().copied().find(|b| !b.is_ascii_whitespace());
        if first != Some(b'{') {
            return Err(
                match serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
                    Ok(_) => ApiError::Validation(
                        FieldError::new("body", "type", "expected a JSON object").into(),
                    ),
                    Err(e) => ApiError::BadRequest {
                        detail: format!("the body is not valid JSON: {e}"),
                        errors: vec![FieldError::new("body", "json", e.to_string())],
                    },
                },
            );
        }
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut de);
        match value {
            Ok(v) => match de.end() {
                Ok(()) => Ok(ApiJson(v)),
                Err(e) => Err(ApiError::BadRequest {
                    detail: format!("the body is not valid JSON: {e}"),
                    errors: vec![FieldError::new("body", "json", e.to_string())],
                }),
            },
            Err(e) => {
                let path = e.path().to_string();
                let inner = e.into_inner();
                if inner.is_syntax() || inner.is_eof() {
                    Err(ApiError::BadRequest {
                        detail: format!("the body is not valid JSON: {inner}"),
                        errors: vec![FieldError::new("body", "json", inner.to_string())],
                    })
                } else {
                    Err(ApiError::Validation(
                        field_error(&path, &inner.to_string()).into(),
                    ))
                }
            }
        }
    }
}

/// Why a body could not be read: too large for the route (413), not sent in time (408), or
/// broken off (400).
fn body_error(e: BytesRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::PayloadTooLarge;
    }
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(c) = cause {
        if c.is::<tower_http::timeout::TimeoutError>() {
            return ApiError::RequestTimeout;
        }
        cause = c.source();
    }
    ApiError::BadRequest {
        detail: format!("could not read the body: {e}"),
        errors: vec![],
    }
}

/// A query string, refused field by field (unknown parameters included).
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner().to_string();
                let mut fe = field_error(&path, &inner);
                if fe.field == "body" {
                    fe.field = "query".into();
                }
                ApiError::BadRequest {
                    detail: format!("bad query parameter: {}", fe.message),
                    errors: vec![fe],
                }
            })
    }
}

/// Parses a path id, refusing a malformed one as 404 (no such object can exist).
pub fn parse_id<T: std::str::FromStr>(text: &str, what: &'static str) -> Result<T, ApiError> {
    text.parse().map_err(|_| ApiError::NotFound { what })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_become_named_fields() {
        let e = field_error(
            "colour",
            "unknown field `colour`, expected one of `name` at line 1 column 9",
        );
        assert_eq!(
            (e.field.as_str(), e.rule.as_str()),
            ("colour", "unknown-field")
        );
        let e = field_error("owner.colour", "unknown field `colour`, expected `id`");
        assert_eq!(e.field, "owner.colour");
        let e = field_error(".", "missing field `name` at line 1 column 2");
        assert_eq!((e.field.as_str(), e.rule.as_str()), ("name", "required"));
        let e = field_error(
            "emails[1]",
            "invalid type: integer `3`, expected a string at line 1 column 20",
        );
        assert_eq!((e.field.as_str(), e.rule.as_str()), ("emails[1]", "type"));
        assert!(!e.message.contains("at line"));
    }
}

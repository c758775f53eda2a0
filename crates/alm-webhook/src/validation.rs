//! The rules a webhook definition must meet before it is saved; every refusal names the field
//! (`url`, `headers[1].name`, `authorization.token_url`) and the rule. No I/O: nothing is
//! resolved or called here.
//!
//! The callback URL follows the engine's server-URL rule (`alm-engine/src/http.rs`): `https`,
//! or `http` only to a loopback address, since bodies and credentials must not cross a network
//! in clear. The same rule applies to an OAuth token URL.

use crate::body::{is_json_content_type, render_json};
use crate::definition::{Authorization, WebhookDefinition};
use crate::signature::SIGNATURE_HEADER;
use alm_core::{FieldError, ValidationErrors};
use reqwest::header::{HeaderName, HeaderValue};
use url::Url;

/// Longest description accepted.
pub const DESCRIPTION_MAX: usize = 500;
/// Shortest signing secret accepted (the generated ones are 70 characters).
pub const SIGNING_SECRET_MIN: usize = 16;

/// Headers alm sets itself, or that would change how the request is framed; a custom header
/// may not set them. `x-alm-*` names are all reserved, so a receiver can trust them.
const RESERVED_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "content-length",
    "content-type",
    "host",
    "transfer-encoding",
    "connection",
    "te",
    "upgrade",
    "user-agent",
];

/// Body values alm writes itself in a client-credentials token request.
const RESERVED_TOKEN_FIELDS: &[&str] = &["grant_type", "client_id", "client_secret"];

/// Checks an outbound URL: `https://…`, or `http://` to a loopback address, no credentials in
/// it. `field` names the input in the error.
pub fn outbound_url(field: &str, text: &str) -> Result<Url, FieldError> {
    if text.trim().is_empty() {
        return Err(FieldError::new(
            field,
            "required",
            "a URL such as https://hooks.example.com/alm is required",
        ));
    }
    let url = Url::parse(text).map_err(|e| {
        FieldError::new(
            field,
            "format",
            format!("{text:?} is not a URL such as https://hooks.example.com/alm ({e})"),
        )
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(FieldError::new(
            field,
            "no-credentials",
            "the URL holds a user name or password; use the authorization settings instead",
        ));
    }
    let loopback = match url.host() {
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(FieldError::new(
            field,
            "https-required",
            format!("{text:?} uses plain http to another machine; use https:// (plain http is accepted only to 127.0.0.1, ::1 or localhost)"),
        )),
        _ => Err(FieldError::new(field, "format", format!("{text:?} must start with https://"))),
    }
}

/// Checks one custom header's name.
pub fn header_name(field: &str, name: &str) -> Result<HeaderName, FieldError> {
    let parsed = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
        FieldError::new(
            field,
            "format",
            format!("{name:?} is not a header name (letters, digits and !#$%&'*+-.^_`|~ only)"),
        )
    })?;
    let lower = parsed.as_str();
    if RESERVED_HEADERS.contains(&lower) || lower.starts_with("x-alm-") || lower == SIGNATURE_HEADER
    {
        return Err(FieldError::new(
            field,
            "reserved",
            format!("{name} is set by alm and cannot be overridden (reserved: Authorization, Content-Length, Content-Type, Host, User-Agent, connection headers and every X-Alm-* header)"),
        ));
    }
    Ok(parsed)
}

/// Checks one custom header's value: visible ASCII and spaces, no line breaks.
pub fn header_value(field: &str, value: &str) -> Result<HeaderValue, FieldError> {
    if value
        .chars()
        .any(|c| !(c == ' ' || c == '\t' || c.is_ascii_graphic()))
    {
        return Err(FieldError::new(
            field,
            "format",
            "a header value holds printable ASCII only (no line breaks or control characters)",
        ));
    }
    HeaderValue::from_str(value)
        .map_err(|_| FieldError::new(field, "format", "not a valid header value"))
}

/// Checks a JSON pointer (RFC 6901): empty, or starting with `/`.
fn json_pointer(field: &str, pointer: &str, required: bool) -> Result<(), FieldError> {
    if pointer.is_empty() {
        return if required {
            Err(FieldError::new(
                field,
                "required",
                "a JSON pointer such as /access_token is required",
            ))
        } else {
            Ok(())
        };
    }
    if !pointer.starts_with('/') {
        return Err(FieldError::new(
            field,
            "format",
            format!(
                "{pointer:?} is not a JSON pointer; write it like /access_token or /data/token"
            ),
        ));
    }
    Ok(())
}

fn required(errors: &mut ValidationErrors, field: &str, value: &str, what: &str) {
    if value.trim().is_empty() {
        errors.push(FieldError::new(
            field,
            "required",
            format!("{what} is required"),
        ));
    }
}

impl WebhookDefinition {
    /// Checks every field; `event_parameters` are the parameter names the event offers (the
    /// only placeholders the body may use). All broken rules are reported, not just the first.
    pub fn validate(&self, event_parameters: &[&str]) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if self.description.chars().count() > DESCRIPTION_MAX {
            errors.push(FieldError::new(
                "description",
                "max-length",
                format!("at most {DESCRIPTION_MAX} characters"),
            ));
        }
        required(&mut errors, "event", &self.event, "the event");
        errors.check(outbound_url("url", &self.url));

        let unknown =
            alm_notify::render::unknown_placeholders(&self.body_template, event_parameters);
        if !unknown.is_empty() {
            errors.push(FieldError::new(
                "body_template",
                "unknown-parameter",
                format!(
                    "unknown parameter(s) {}; this event offers: {}",
                    unknown.join(", "),
                    event_parameters.join(", ")
                ),
            ));
        }
        if self.content_type.trim().is_empty() {
            errors.push(FieldError::new(
                "content_type",
                "required",
                "a media type such as application/json is required",
            ));
        } else if HeaderValue::from_str(&self.content_type).is_err()
            || !self.content_type.contains('/')
        {
            errors.push(FieldError::new(
                "content_type",
                "format",
                format!(
                    "{:?} is not a media type such as application/json",
                    self.content_type
                ),
            ));
        } else if is_json_content_type(&self.content_type) {
            // Every placeholder rendered as `null` (or kept as text inside a string): if the
            // result is not JSON, no set of values will make it JSON.
            let probe = render_json(&self.body_template, &serde_json::Value::Null);
            if let Err(e) = serde_json::from_str::<serde_json::Value>(&probe) {
                errors.push(FieldError::new(
                    "body_template",
                    "json",
                    format!("the content type is JSON but the template is not JSON once its placeholders are filled ({e}); put placeholders where a JSON value or string text goes"),
                ));
            }
        }

        let mut seen: Vec<String> = Vec::new();
        for (i, h) in self.headers.iter().enumerate() {
            let field = format!("headers[{i}].name");
            if let Some(name) = errors.check(header_name(&field, &h.name)) {
                if seen.iter().any(|s| s == name.as_str()) {
                    errors.push(FieldError::new(
                        field,
                        "unique",
                        format!("{} is given twice", h.name),
                    ));
                } else {
                    seen.push(name.as_str().to_owned());
                }
            }
            errors.check(header_value(&format!("headers[{i}].value"), &h.value));
        }

        if self.signing_secret.expose().chars().count() < SIGNING_SECRET_MIN {
            errors.push(FieldError::new(
                "signing_secret",
                "min-length",
                format!("at least {SIGNING_SECRET_MIN} characters; let alm generate one"),
            ));
        }

        match &self.authorization {
            None => {}
            Some(Authorization::Basic { username, password }) => {
                required(
                    &mut errors,
                    "authorization.username",
                    username,
                    "the user name",
                );
                if username.contains(':') {
                    errors.push(FieldError::new(
                        "authorization.username",
                        "format",
                        "a basic-authorization user name cannot contain ':'",
                    ));
                }
                if password.expose().is_empty() {
                    errors.push(FieldError::new(
                        "authorization.password",
                        "required",
                        "the password is required",
                    ));
                }
            }
            Some(Authorization::OauthClientCredentials(o)) => {
                errors.check(outbound_url("authorization.token_url", &o.token_url));
                required(
                    &mut errors,
                    "authorization.client_id",
                    &o.client_id,
                    "the client id",
                );
                if o.client_secret.expose().is_empty() {
                    errors.push(FieldError::new(
                        "authorization.client_secret",
                        "required",
                        "the client secret is required",
                    ));
                }
                for key in o.extra.keys() {
                    let field = format!("authorization.extra.{key}");
                    if key.trim().is_empty() {
                        errors.push(FieldError::new(
                            field,
                            "required",
                            "an extra body value needs a name",
                        ));
                    } else if RESERVED_TOKEN_FIELDS.contains(&key.as_str()) {
                        errors.push(FieldError::new(
                            field,
                            "reserved",
                            format!("{key} is written by alm from the client settings"),
                        ));
                    }
                }
                errors.check(json_pointer(
                    "authorization.token_map.token",
                    &o.token_map.token,
                    true,
                ));
                errors.check(json_pointer(
                    "authorization.token_map.expires_in",
                    &o.token_map.expires_in,
                    false,
                ));
            }
        }
        errors.into_result()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outbound_urls_are_https_or_loopback_http() {
        assert!(outbound_url("url", "https://hooks.example.com/x").is_ok());
        assert!(outbound_url("url", "http://127.0.0.1:9000/x").is_ok());
        assert!(outbound_url("url", "http://[::1]/x").is_ok());
        assert!(outbound_url("url", "http://LOCALHOST/x").is_ok());
        assert_eq!(
            outbound_url("url", "http://hooks.example.com")
                .unwrap_err()
                .rule,
            "https-required"
        );
        assert_eq!(
            outbound_url("url", "ftp://hooks.example.com")
                .unwrap_err()
                .rule,
            "format"
        );
        assert_eq!(
            outbound_url("url", "https://u:p@hooks.example.com")
                .unwrap_err()
                .rule,
            "no-credentials"
        );
        assert_eq!(outbound_url("url", "").unwrap_err().rule, "required");
        assert_eq!(outbound_url("url", "nope").unwrap_err().rule, "format");
    }

    #[test]
    fn reserved_headers_are_refused_in_any_case() {
        for name in [
            "Authorization",
            "content-LENGTH",
            "Host",
            "X-Alm-Signature",
            "x-alm-anything",
            "Content-Type",
        ] {
            assert_eq!(
                header_name("h", name).unwrap_err().rule,
                "reserved",
                "{name}"
            );
        }
        assert!(header_name("h", "X-Api-Version").is_ok());
        assert_eq!(header_name("h", "bad header").unwrap_err().rule, "format");
        assert_eq!(header_value("h", "a\r\nb").unwrap_err().rule, "format");
        assert!(header_value("h", "v1; q=2").is_ok());
    }
}

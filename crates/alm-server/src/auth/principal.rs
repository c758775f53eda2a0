//! The `Authenticated` extractor: turns a bearer API token or a session cookie into the
//! principal acting, and enforces CSRF on cookie-authenticated state changes.
//!
//! Handlers that take `Authenticated` can only be reached by a logged-in, enabled user;
//! they then ask it for the capability their service needs (`auth.can::<perm::X>()?`).

use crate::api::error::ApiError;
use crate::auth::csrf;
use crate::services::login::{self, Credential};
use crate::services::Principal;
use crate::state::AppState;
use alm_core::permissions::{Can, PermissionMarker};
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

pub const SESSION_COOKIE: &str = "alm_session";
/// With HTTPS the `__Host-` prefix makes browsers refuse the cookie unless it is Secure,
/// host-only and for path `/`.
pub const SECURE_SESSION_COOKIE: &str = "__Host-alm_session";

pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

#[derive(Debug, Clone)]
pub struct Authenticated {
    pub principal: Principal,
    pub credential: Credential,
}

impl Authenticated {
    /// The capability for `P`, or a 403 that the audit middleware records.
    pub fn can<P: PermissionMarker>(&self) -> Result<Can<P>, ApiError> {
        self.principal
            .permissions
            .authorize::<P>(self.principal.user_id)
            .map_err(|d| ApiError::Forbidden {
                actor: Some(self.principal.user_id),
                needed: Some(d.needed),
                reason: d.to_string(),
            })
    }
}

/// The client's address (see `client_addr.rs`: the peer, or from a trusted proxy's header).
pub fn source_ip(parts: &Parts) -> Option<String> {
    crate::auth::client_addr::client_of(parts).map(|c| c.0.to_string())
}

/// The credentials of an `Authorization: Bearer <token>` value. The scheme is matched without
/// regard to case (RFC 9110 §11.1), so `bearer` and `BEARER` work too.
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim_start().split_once([' ', '\t'])?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The value of cookie `name` in the request, if any.
pub fn cookie_value(parts: &Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|line| {
            line.split(';').find_map(|pair| {
                let (k, v) = pair.trim().split_once('=')?;
                (k == name).then(|| v.to_owned())
            })
        })
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ip = source_ip(parts);
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let token = value.to_str().ok().and_then(bearer_token).ok_or_else(|| {
                ApiError::Unauthorized(
                    "the Authorization header must be `Bearer <API token>`".into(),
                )
            })?;
            return match login::principal_from_token(&state.db, state.clock.as_ref(), token, ip)
                .await?
            {
                Some((principal, credential)) => Ok(Self {
                    principal,
                    credential,
                }),
                None => Err(ApiError::Unauthorized(
                    "the API token is unknown, expired or revoked, or its user is disabled".into(),
                )),
            };
        }
        let name = cookie_name(state.config.secure_cookies());
        let Some(secret) = cookie_value(parts, name) else {
            return Err(ApiError::Unauthorized(
                "log in, or send an API token as `Authorization: Bearer`".into(),
            ));
        };
        let Some((principal, credential)) =
            login::principal_from_session(&state.db, state.clock.as_ref(), &secret, ip).await?
        else {
            return Err(ApiError::Unauthorized(
                "the session has ended; log in again".into(),
            ));
        };
        if !parts.method.is_safe() {
            let presented = parts
                .headers
                .get(csrf::HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if !csrf::matches(&secret, presented) {
                return Err(ApiError::Forbidden {
                    actor: Some(principal.user_id),
                    needed: None,
                    reason:
                        "missing or wrong X-CSRF-Token header for a cookie-authenticated change"
                            .into(),
                });
            }
        }
        if principal.password_must_change && !ONE_TIME_PASSWORD_ROUTES.contains(&parts.uri.path()) {
            return Err(ApiError::Forbidden {
                actor: Some(principal.user_id),
                needed: None,
                reason: "choose your own password first (POST /api/v1/me/password): the one alm generated is good for one sign-in only".into(),
            });
        }
        Ok(Self {
            principal,
            credential,
        })
    }
}

/// What a session signed in with a one-time password may call: read who it is, change the
/// password, log out.
const ONE_TIME_PASSWORD_ROUTES: [&str; 3] =
    ["/api/v1/me", "/api/v1/me/password", "/api/v1/auth/logout"];

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for v in [
            "Bearer alm_x",
            "bearer alm_x",
            "BEARER  alm_x ",
            "bEaReR\talm_x",
        ] {
            assert_eq!(bearer_token(v), Some("alm_x"), "{v:?}");
        }
        for v in ["Basic alm_x", "Bearer", "Bearer ", "Beareralm_x", "alm_x"] {
            assert_eq!(bearer_token(v), None, "{v:?}");
        }
    }
}

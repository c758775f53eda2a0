//! Who is at the browser: the session cookie read once per page request. Pages take
//! [`Browser`] (anyone) and decide; a page for signed-in people answers a sign-in redirect
//! to those without a session.

use crate::auth::csrf;
use crate::auth::principal::{cookie_name, cookie_value, source_ip};
use crate::services::login::{self, Credential};
use crate::services::Principal;
use crate::state::AppState;
use alm_core::SessionId;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};

/// A browser with a live session.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub principal: Principal,
    pub session: SessionId,
    secret: String,
}

impl SignedIn {
    /// The token this session's forms carry (`csrf_token`).
    pub fn csrf_token(&self) -> String {
        csrf::token_for(&self.secret)
    }

    /// The capability for `P`, or the 403 page (audited as a denied attempt, like the API's).
    pub fn can<P: alm_core::permissions::PermissionMarker>(
        &self,
        path: &str,
    ) -> Result<alm_core::permissions::Can<P>, Response> {
        self.principal
            .permissions
            .authorize::<P>(self.principal.user_id)
            .map_err(|denied| {
                let mut page = super::errors::forbidden(self, path);
                page.extensions_mut()
                    .insert(crate::api::error::DeniedAttempt {
                        actor: Some(self.principal.user_id),
                        needed: Some(denied.needed),
                        reason: denied.to_string(),
                        object: None,
                    });
                page
            })
    }

    /// Whether the user holds `P` (to show a link or a button; the handler behind it checks
    /// again with [`Self::can`]).
    pub fn may<P: alm_core::permissions::PermissionMarker>(&self) -> bool {
        self.principal.permissions.has(P::PERMISSION)
    }

    /// Whether the user holds `P` with `manage` (all objects of the feature): what changes of
    /// state, membership and roles need; shows their buttons.
    pub fn manages<P: alm_core::permissions::PermissionMarker>(&self) -> bool {
        self.principal
            .permissions
            .authorize::<P>(self.principal.user_id)
            .is_ok_and(|c| c.require_manage().is_ok())
    }

    /// An id from the address, or the 404 page (a malformed id names no page).
    pub fn id<T: std::str::FromStr>(&self, path: &str, text: &str) -> Result<T, Response> {
        text.parse()
            .map_err(|_| super::errors::not_found_for(Some(self), path))
    }

    /// Whether a posted form's `csrf_token` belongs to this session.
    pub fn csrf_ok(&self, presented: &str) -> bool {
        csrf::matches(&self.secret, presented)
    }
}

/// The request's browser: signed in or not, and the path it asked for.
#[derive(Debug, Clone)]
pub struct Browser {
    pub signed_in: Option<SignedIn>,
    pub path: String,
}

impl Browser {
    /// The signed-in user, or the redirect to the sign-in page that comes back here.
    /// A user signed in with a one-time password is sent to choose their own first.
    pub fn require(self) -> Result<SignedIn, Response> {
        let path = self.path;
        let signed_in = self.signed_in.ok_or_else(|| sign_in_redirect(&path))?;
        if signed_in.principal.password_must_change && path != super::password::PATH {
            return Err(Redirect::to(super::password::PATH).into_response());
        }
        Ok(signed_in)
    }

    /// The signed-in user of a posted form that carries their session's `csrf_token`;
    /// without it, the page that says the form could not be verified (nothing changes).
    pub fn require_form(self, csrf_token: &str) -> Result<SignedIn, Response> {
        let path = self.path.clone();
        let signed_in = self.require()?;
        if !signed_in.csrf_ok(csrf_token) {
            return Err(super::errors::form_not_verified(Some(&signed_in), &path));
        }
        Ok(signed_in)
    }
}

/// `303 See Other` to the sign-in page, returning to `path` afterwards.
pub fn sign_in_redirect(path: &str) -> Response {
    let back: String = url::form_urlencoded::byte_serialize(path.as_bytes()).collect();
    Redirect::to(&format!("/sign-in?return_to={back}")).into_response()
}

impl FromRequestParts<AppState> for Browser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let path = parts.uri.path().to_owned();
        let Some(secret) = cookie_value(parts, cookie_name(state.config.secure_cookies())) else {
            return Ok(Self {
                signed_in: None,
                path,
            });
        };
        let found = login::principal_from_session(
            &state.db,
            state.clock.as_ref(),
            &secret,
            source_ip(parts),
        )
        .await
        .map_err(|e| super::errors::internal(parts, &e))?;
        let signed_in = match found {
            Some((principal, Credential::Session { id, .. })) => Some(SignedIn {
                principal,
                session: id,
                secret,
            }),
            _ => None,
        };
        Ok(Self { signed_in, path })
    }
}

//! The session cookie as browsers get it: set at sign-in (API or page), cleared at sign-out.
//! `HttpOnly` and `SameSite=Lax` always; `Secure` when alm is reached over HTTPS.

use crate::services::login::NewSession;
use crate::state::AppState;
use axum::http::HeaderValue;

/// The `Set-Cookie` value that carries a new session.
pub fn session_cookie(state: &AppState, session: &NewSession) -> HeaderValue {
    let secure = state.config.secure_cookies();
    let max_age = (session.expires_at - state.clock.now())
        .whole_seconds()
        .max(0);
    let value = format!(
        "{}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        super::principal::cookie_name(secure),
        session.secret,
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&value).expect("cookie is ASCII")
}

/// The `Set-Cookie` value that removes cookie `name` (under `path`).
pub fn clear_cookie(name: &str, path: &str, secure: bool) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{name}=; Path={path}; HttpOnly; SameSite=Lax; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    ))
    .expect("cookie is ASCII")
}

//! The session cookie as browsers get it: set at sign-in (API or page), cleared at sign-out.
//! `HttpOnly` and `SameSite=Lax` always; `Secure` when alm is reached over HTTPS.

use crate::services::login::{self, LoginError, NewSession, PasswordLogin};
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

/// Signs in with an email and password under this server's login settings (local login on or
/// off, session length, the throttle): the one path of the API's login and the sign-in page.
pub async fn password_sign_in(
    state: &AppState,
    email: &str,
    password: &str,
    source: std::net::IpAddr,
) -> Result<NewSession, LoginError> {
    login::password_login(
        &state.db,
        state.clock.as_ref(),
        &state.login_throttle,
        state.config.auth.local_login,
        state.config.auth.session_hours,
        PasswordLogin {
            email,
            password,
            source,
        },
    )
    .await
}

/// The `Set-Cookie` value that removes cookie `name` (under `path`).
pub fn clear_cookie(name: &str, path: &str, secure: bool) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{name}=; Path={path}; HttpOnly; SameSite=Lax; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    ))
    .expect("cookie is ASCII")
}

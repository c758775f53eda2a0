//! "Add an engine": an activation token (valid 8 hours, one engine) shown once, with the exact
//! command to run on the engine host. The engine then registers and waits, unassigned, until an
//! administrator assigns it to a pool and activates it on its page.

use super::*;
use axum::http::HeaderMap;

#[derive(Template)]
#[template(path = "engine_activation.html")]
struct ActivationPage {
    chrome: Chrome,
    title: &'static str,
    token: String,
    expires: (String, String),
    command: String,
}

/// The address engines reach the server at: `public_url` when configured, else the address the
/// browser used (right on a single machine; behind a proxy `public_url` must be set anyway).
fn server_url(s: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &s.config.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1:8080");
    format!("http://{host}")
}

/// The command for the engine host. The token goes in the environment, not on the command
/// line (a flag's value shows in process listings).
fn command(server: &str, token: &str) -> String {
    format!(
        "ALM_ENGINE_TOKEN='{token}' alm engine --server {server} --data-dir /var/lib/alm-engine"
    )
}

pub(super) async fn create(
    State(s): State<AppState>,
    browser: Browser,
    headers: HeaderMap,
    axum::Form(f): axum::Form<crate::ui::form::CsrfOnly>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&f.csrf_token)?;
    let can = signed_in.can::<perm::EngineCreate>(&path)?;
    let t =
        engines::create_activation_token(&s.db, s.clock.as_ref(), &can, &signed_in.principal.actor)
            .await
            .map_err(|e| errors::service(&signed_in, &path, e))?;
    let page = ActivationPage {
        chrome: Chrome::new(Some(&signed_in), &path).with_counts(&s).await,
        title: "Add an engine",
        command: command(&server_url(&s, &headers), &t.token),
        token: t.token,
        expires: (iso(t.expires_at), utc(t.expires_at)),
    };
    Ok(render(StatusCode::OK, &page))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_keeps_the_token_out_of_the_arguments() {
        let c = super::command("https://alm.example.com", "alma_x");
        assert!(
            c.starts_with("ALM_ENGINE_TOKEN='alma_x' alm engine --server https://alm.example.com")
        );
        assert!(!c.contains("--token"));
    }
}

//! The plain-HTTP listener of a server that serves HTTPS (`tls.redirect_listen`): every request
//! is answered with a permanent redirect to the same path and query over HTTPS, and nothing
//! else — no page, no API, no cookie is ever served in clear — but the ACME CA's HTTP-01 check
//! (`/.well-known/acme-challenge/<token>`), answered while a certificate is being obtained.

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

/// Where redirects go: `public_url` when set, else the host the client asked for with the
/// HTTPS listener's port.
#[derive(Debug, Clone)]
pub enum Target {
    PublicUrl(String),
    SameHost { https_port: u16 },
}

#[derive(Clone)]
struct Redirect {
    target: Target,
    challenges: super::acme::Challenges,
}

pub fn router(target: Target, challenges: super::acme::Challenges) -> Router {
    Router::new()
        .route(
            "/.well-known/acme-challenge/{token}",
            axum::routing::get(challenge),
        )
        .fallback(redirect)
        .with_state(Redirect { target, challenges })
}

/// The key authorization of a token being validated; any other token is redirected like every
/// other path (there is nothing else to see in clear).
async fn challenge(
    State(r): State<Redirect>,
    axum::extract::Path(token): axum::extract::Path<String>,
    req: Request,
) -> Response {
    let answer = r
        .challenges
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(&token)
        .cloned();
    match answer {
        Some(answer) => {
            ([(header::CONTENT_TYPE, "application/octet-stream")], answer).into_response()
        }
        None => redirect(State(r), req).await,
    }
}

async fn redirect(State(Redirect { target, .. }): State<Redirect>, req: Request) -> Response {
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let base = match target {
        Target::PublicUrl(url) => url.trim_end_matches('/').to_owned(),
        Target::SameHost { https_port } => {
            let host = req
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .and_then(host_without_port);
            match host {
                Some(host) if https_port == 443 => format!("https://{host}"),
                Some(host) => format!("https://{host}:{https_port}"),
                None => {
                    return (
                        StatusCode::BAD_REQUEST,
                        "this address only redirects to HTTPS, and the request names no host\n",
                    )
                        .into_response()
                }
            }
        }
    };
    // 308 keeps the method and body, so even a POST lands where it was meant to.
    (
        StatusCode::PERMANENT_REDIRECT,
        [(header::LOCATION, format!("{base}{path_and_query}"))],
    )
        .into_response()
}

/// The host part of a Host header (`name`, `name:port`, `[v6]:port`), if it is a plausible
/// host: anything else is refused rather than echoed into a Location header.
fn host_without_port(host: &str) -> Option<String> {
    let name = if let Some(rest) = host.strip_prefix('[') {
        format!("[{}]", rest.split(']').next()?)
    } else {
        host.split(':').next()?.to_owned()
    };
    let plausible = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'));
    plausible.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::host_without_port;

    #[test]
    fn hosts_are_taken_apart_and_odd_ones_refused() {
        assert_eq!(
            host_without_port("alm.example.com:80").as_deref(),
            Some("alm.example.com")
        );
        assert_eq!(host_without_port("localhost").as_deref(), Some("localhost"));
        assert_eq!(host_without_port("[::1]:8080").as_deref(), Some("[::1]"));
        assert_eq!(host_without_port("evil.com/x"), None);
        assert_eq!(host_without_port(""), None);
    }
}

//! The page assets (one stylesheet, one script, the icon), embedded in the binary and served under a
//! name that carries a hash of their content, so browsers may keep them for a year: a new
//! build with a changed file gets a new name.

use crate::state::AppState;
use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
    /// `/assets/<stem>.<hash>.<ext>`
    url: String,
}

const FILES: &[(&str, &str, &[u8])] = &[
    (
        "alm.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/alm.css"),
    ),
    (
        "alm.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/alm.js"),
    ),
    (
        "alm.svg",
        "image/svg+xml",
        include_bytes!("../../assets/alm.svg"),
    ),
];

fn all() -> &'static [Asset] {
    static ASSETS: OnceLock<Vec<Asset>> = OnceLock::new();
    ASSETS.get_or_init(|| {
        FILES
            .iter()
            .map(|(name, content_type, bytes)| {
                let hash = hex::encode(&Sha256::digest(bytes)[..6]);
                let (stem, ext) = name
                    .rsplit_once('.')
                    .expect("asset names have an extension");
                Asset {
                    name,
                    content_type,
                    bytes,
                    url: format!("/assets/{stem}.{hash}.{ext}"),
                }
            })
            .collect()
    })
}

/// The URL of asset `name` (e.g. `alm.css`).
pub fn url(name: &str) -> &'static str {
    all()
        .iter()
        .find(|a| a.name == name)
        .map(|a| a.url.as_str())
        .unwrap_or_else(|| panic!("no asset {name}"))
}

pub fn router() -> Router<AppState> {
    Router::new().route("/assets/{file}", get(serve))
}

async fn serve(Path(file): Path<String>) -> Response {
    let wanted = format!("/assets/{file}");
    match all().iter().find(|a| a.url == wanted) {
        Some(a) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(a.content_type),
                ),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=31536000, immutable"),
                ),
            ],
            a.bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asset_urls_carry_a_content_hash() {
        let css = url("alm.css");
        assert!(
            css.starts_with("/assets/alm.") && css.ends_with(".css"),
            "{css}"
        );
        assert_eq!(css.len(), "/assets/alm..css".len() + 12, "{css}");
        assert_ne!(url("alm.js"), css);
    }
}

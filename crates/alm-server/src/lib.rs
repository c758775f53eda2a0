//! alm-server: the HTTP server of alm. `api/` (REST + OpenAPI), `auth/` (sessions, tokens,
//! CSRF, OIDC), `services/` (use cases), `ui/` (pages for browsers), and `app` which wires
//! them together.
//!
//! Handlers parse and authorise, call one service function, and render; services own the
//! transactions; SQL lives only in alm-store.

pub mod api;
pub mod app;
pub mod auth;
pub mod config;
pub mod engine_host;
pub mod request_id;
pub mod security_headers;
pub mod serve;
pub mod services;
pub mod state;
pub mod tls;
pub mod ui;
pub mod workers;

#[cfg(test)]
mod layering_tests;

pub use app::{build_state, router, start, RunningServer};
pub use config::Config;
pub use state::AppState;

//! Health and metrics for load balancers and monitoring: `/healthz` (the process answers),
//! `/readyz` (the database answers and its schema is current), `/metrics` (Prometheus text).
//! None of them needs a login or reveals anything but counts.

use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(s): State<AppState>) -> impl IntoResponse {
    if s.read_only.is_some() {
        // The reason (with the key's source) is in the log and on every refused change.
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "read-only for recovery: the master key does not open this database's secrets"
                .to_owned(),
        );
    }
    if !s.db.ping().await {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "database unreachable".to_owned(),
        );
    }
    // Reading is not enough: a full disk or a read-only file system fails every change while
    // reads go on. The log names where the data is.
    if let Err(e) = s.db.probe_write(s.clock.now()).await {
        tracing::error!(storage = %s.db.location(), error = %e, "storage does not take writes");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("storage does not take writes: {}: {e}", s.db.location()),
        );
    }
    match alm_store::migrations::current_version(&s.db).await {
        Ok(v) if v == alm_store::migrations::latest_version() => {}
        _ => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "database schema not current".to_owned(),
            )
        }
    }
    if s.config.smtp.host.is_none() {
        // Ready, and says what an administrator must know: nobody gets alm's emails.
        return (
            StatusCode::OK,
            "ready; email off: smtp.host is not set, no email is sent (messages wait in the outbox)"
                .to_owned(),
        );
    }
    (StatusCode::OK, "ready".to_owned())
}

async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        s.metrics.render(),
    )
}

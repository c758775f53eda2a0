//! Serving HTTP/1.1 on a TCP listener, with limits so that slow or numerous clients cannot
//! exhaust the server:
//!
//! - at most `server.max_connections` connections are served at once; further ones wait in
//!   the kernel's listen backlog, where they hold no file descriptor of alm's;
//! - a request's headers must arrive within `server.header_read_timeout_seconds` (hyper's
//!   header timer also runs while a keep-alive connection is idle, so idle connections are
//!   closed after it too);
//! - a request body may pause at most `server.body_read_timeout_seconds` between two reads
//!   (the handler then answers 408).
//!
//! HTTP/1.1 only: alm serves plain HTTP behind a TLS proxy or to engines and scripts; the
//! protocol sniffing of an HTTP/2-capable server would wait for the first bytes without any
//! of these timers.

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Semaphore};
use tower::ServiceExt;
use tower_http::timeout::TimeoutBody;

/// The connection and timing limits of the HTTP server.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
}

/// Counts the connections being served (for `/metrics` and tests).
#[derive(Debug, Clone)]
pub struct Connections {
    permits: Arc<Semaphore>,
    max: usize,
}

impl Connections {
    fn new(max: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max)),
            max,
        }
    }

    /// How many connections are being served now.
    pub fn open(&self) -> usize {
        self.max - self.permits.available_permits()
    }
}

/// Serves `app` on `listener` until `stop` fires, then lets requests in flight finish.
pub fn spawn(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    stop: oneshot::Receiver<()>,
) -> (Connections, tokio::task::JoinHandle<std::io::Result<()>>) {
    let connections = Connections::new(limits.max_connections);
    let task = tokio::spawn(serve(listener, app, limits, connections.clone(), stop));
    (connections, task)
}

async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    connections: Connections,
    mut stop: oneshot::Receiver<()>,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    loop {
        // A slot first, then a connection: while all slots are taken nothing is accepted.
        let permit = tokio::select! {
            p = connections.permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = &mut stop => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors (or a connection reset before it was
                    // accepted): wait a little instead of spinning on the error.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let body_timeout = limits.body_read_timeout;
        let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let mut req = req.map(|body| TimeoutBody::new(body_timeout, body));
            req.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(req)
        });
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, peer = %peer, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

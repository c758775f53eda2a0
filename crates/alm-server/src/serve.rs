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
//! With a TLS acceptor (`tls/`) each connection's handshake runs in its own task and must end
//! within the header timeout too, so a client that stalls mid-handshake holds one slot for a
//! bounded time and never blocks accepting.
//!
//! HTTP/1.1 only (also by ALPN): the protocol sniffing of an HTTP/2-capable server would wait
//! for the first bytes without any of these timers.

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch, Semaphore};
use tokio_rustls::TlsAcceptor;
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
/// Speaks TLS on every connection when `tls` is given.
pub fn spawn(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    tls: Option<TlsAcceptor>,
    stop: oneshot::Receiver<()>,
) -> (Connections, tokio::task::JoinHandle<std::io::Result<()>>) {
    let connections = Connections::new(limits.max_connections);
    let task = tokio::spawn(serve(listener, app, limits, tls, connections.clone(), stop));
    (connections, task)
}

async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    tls: Option<TlsAcceptor>,
    connections: Connections,
    mut stop: oneshot::Receiver<()>,
) -> std::io::Result<()> {
    // Tells every connection to finish its request in flight and close.
    let (closing_tx, closing) = watch::channel(false);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let builder = Arc::new(builder);
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
        let connection = Connection {
            peer,
            app: app.clone(),
            builder: builder.clone(),
            closing: closing.clone(),
            limits,
        };
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => connection.serve(stream).await,
                Some(acceptor) => {
                    let handshake = acceptor.accept(stream);
                    match tokio::time::timeout(limits.header_read_timeout, handshake).await {
                        Ok(Ok(stream)) => connection.serve(stream).await,
                        Ok(Err(e)) => {
                            tracing::debug!(error = %e, peer = %peer, "TLS handshake failed")
                        }
                        Err(_) => tracing::debug!(peer = %peer, "TLS handshake timed out"),
                    }
                }
            }
            // The slot is free again (and shutdown, below, waits for every slot).
            drop(permit);
        });
    }
    drop(listener);
    let _ = closing_tx.send(true);
    // Every connection holds a slot until it ends: all slots back means all connections done.
    let _ = connections
        .permits
        .acquire_many(connections.max as u32)
        .await;
    Ok(())
}

/// One accepted connection and what serving it needs.
struct Connection {
    peer: std::net::SocketAddr,
    app: Router,
    builder: Arc<hyper::server::conn::http1::Builder>,
    closing: watch::Receiver<bool>,
    limits: Limits,
}

impl Connection {
    /// Serves requests on `stream` (plain or TLS) until the client leaves or the server shuts
    /// down; at shutdown the request in flight finishes first.
    async fn serve<S>(mut self, stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (peer, app) = (self.peer, self.app.clone());
        let body_timeout = self.limits.body_read_timeout;
        let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let mut req = req.map(|body| TimeoutBody::new(body_timeout, body));
            req.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(req)
        });
        let connection = self.builder.serve_connection(TokioIo::new(stream), service);
        tokio::pin!(connection);
        let ended = tokio::select! {
            ended = connection.as_mut() => ended,
            _ = async { self.closing.wait_for(|closing| *closing).await.map(|_| ()) } => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        if let Err(e) = ended {
            tracing::debug!(error = %e, peer = %peer, "connection ended with an error");
        }
    }
}

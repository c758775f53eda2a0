//! A local HTTP receiver for webhook tests: an axum server on 127.0.0.1:0 that records every
//! request and answers 200, or the status a test sets. `/token` answers an OAuth
//! client-credentials token request (recorded too), so one receiver serves both the token
//! endpoint and the callback. Put a [`super::relay::Relay`] in front to make it unreachable.
//! A call is recorded when it arrives; [`Receiver::answer_after`] holds the answer, so a test
//! can act between a call arriving and alm hearing the answer.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[derive(Default)]
struct State {
    requests: Mutex<Vec<Recorded>>,
    status: AtomicU16,
    tokens: AtomicUsize,
    /// How long callbacks wait before answering, in milliseconds.
    delay_ms: AtomicU64,
}

pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<State>,
}

impl Receiver {
    pub async fn start() -> Self {
        let state = Arc::new(State::default());
        state.status.store(200, Ordering::SeqCst);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The status callbacks get from now on (the token endpoint always answers 200).
    pub fn answer_with(&self, status: u16) {
        self.state.status.store(status, Ordering::SeqCst);
    }

    /// How long callbacks wait, once recorded, before they answer (the token endpoint never
    /// waits).
    pub fn answer_after(&self, delay: Duration) {
        self.state
            .delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Every request so far to paths other than `/token`.
    pub fn calls(&self) -> Vec<Recorded> {
        self.all()
            .into_iter()
            .filter(|r| r.path != "/token")
            .collect()
    }

    /// Every request so far, token requests included.
    pub fn all(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }
}

async fn answer(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let path = uri.path().to_owned();
    state.requests.lock().unwrap().push(Recorded {
        path: path.clone(),
        headers,
        body: body.to_vec(),
    });
    if path == "/token" {
        let n = state.tokens.fetch_add(1, Ordering::SeqCst) + 1;
        return (
            StatusCode::OK,
            serde_json::json!({"access_token": format!("tok-{n}"), "token_type": "Bearer", "expires_in": 3600})
                .to_string(),
        );
    }
    let delay = state.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let status = StatusCode::from_u16(state.status.load(Ordering::SeqCst)).unwrap();
    (status, format!("answered {}", status.as_u16()))
}

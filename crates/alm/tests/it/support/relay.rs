//! A TCP relay in front of a peer (the Samba DC by default, or OpenBao) that a test controls,
//! to make it misbehave the way a real network or a dying server does: hold connections silent
//! (an engine then blocks mid-job), refuse them (the peer is down), or cut every connection
//! after a number of bytes from the peer (the DC stopping in the middle of a read). LDAPS runs
//! through it unchanged; the DC's certificate names 127.0.0.1, so
//! `ldaps://127.0.0.1:<relay port>` verifies.

use super::ad;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct Relay {
    pub port: u16,
    forward: Arc<AtomicBool>,
    /// Cut each connection once the DC has sent this many bytes (0: never).
    cut_after: Arc<AtomicU64>,
    /// Bytes the DC sent on the latest connection.
    last_bytes: Arc<AtomicU64>,
    pub accepted: Arc<AtomicUsize>,
    held: Arc<Mutex<Vec<TcpStream>>>,
    /// While not forwarding: drop connections at once instead of holding them.
    refusing: Arc<AtomicBool>,
}

impl Relay {
    /// A relay to the Samba DC, holding connections silent until [`Relay::open`].
    pub async fn start() -> Self {
        let target = url::Url::parse(&ad::config().url).unwrap();
        Self::start_to(format!(
            "{}:{}",
            target.host_str().unwrap(),
            target.port().unwrap_or(636)
        ))
        .await
    }

    /// A relay to `host:port`, holding connections silent until [`Relay::open`].
    pub async fn start_to(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let relay = Self {
            port: listener.local_addr().unwrap().port(),
            forward: Arc::default(),
            cut_after: Arc::default(),
            last_bytes: Arc::default(),
            accepted: Arc::default(),
            held: Arc::default(),
            refusing: Arc::default(),
        };
        let (forward, cut_after, last_bytes, accepted, held, refusing) = (
            relay.forward.clone(),
            relay.cut_after.clone(),
            relay.last_bytes.clone(),
            relay.accepted.clone(),
            relay.held.clone(),
            relay.refusing.clone(),
        );
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                accepted.fetch_add(1, Ordering::SeqCst);
                if !forward.load(Ordering::SeqCst) {
                    if !refusing.load(Ordering::SeqCst) {
                        held.lock().unwrap().push(inbound);
                    }
                    continue;
                }
                let Ok(outbound) = TcpStream::connect(&target).await else {
                    continue;
                };
                last_bytes.store(0, Ordering::SeqCst);
                let limit = cut_after.load(Ordering::SeqCst);
                let counter = last_bytes.clone();
                tokio::spawn(pipe(inbound, outbound, limit, counter));
            }
        });
        relay
    }

    /// The peer is down: every connection is closed at once.
    pub fn refuse(&self) {
        self.refusing.store(true, Ordering::SeqCst);
        self.forward.store(false, Ordering::SeqCst);
    }

    /// Lets traffic through (and drops the connections held so far).
    pub fn open(&self) {
        self.forward.store(true, Ordering::SeqCst);
        self.held.lock().unwrap().clear();
    }

    /// New connections are cut once the DC has sent `bytes` (0: never).
    pub fn cut_after(&self, bytes: u64) {
        self.cut_after.store(bytes, Ordering::SeqCst);
    }

    /// What the DC sent on the latest connection.
    pub fn last_bytes(&self) -> u64 {
        self.last_bytes.load(Ordering::SeqCst)
    }
}

async fn pipe(inbound: TcpStream, outbound: TcpStream, limit: u64, counter: Arc<AtomicU64>) {
    let (mut client_read, mut client_write) = inbound.into_split();
    let (mut dc_read, mut dc_write) = outbound.into_split();
    let upstream = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_read, &mut dc_write).await;
    });
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match dc_read.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let sent = counter.load(Ordering::SeqCst);
        if limit > 0 && sent + n as u64 >= limit {
            // The DC "stops": pass what fits under the limit, then both sides go dead.
            let fits = (limit.saturating_sub(sent)) as usize;
            let _ = client_write.write_all(&buf[..fits]).await;
            counter.fetch_add(fits as u64, Ordering::SeqCst);
            break;
        }
        if client_write.write_all(&buf[..n]).await.is_err() {
            break;
        }
        counter.fetch_add(n as u64, Ordering::SeqCst);
    }
    upstream.abort();
    let _ = client_write.shutdown().await;
}

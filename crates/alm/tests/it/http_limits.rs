//! Slow and numerous clients (issue 12 item 6): request headers and bodies must arrive in
//! time, connections are served up to a limit, and `/healthz` keeps answering meanwhile.
//! Real sockets; no timed assertions (only generous upper bounds before failing).

use crate::support::{Backend, TestServer};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Generous bound for something the server must do "soon" (its timeouts are 1 s here).
const PATIENCE: Duration = Duration::from_secs(30);

/// Reads until the server closes the connection; returns what it sent, or None when it
/// stays open past `PATIENCE`.
async fn read_until_closed(stream: &mut TcpStream) -> Option<String> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(PATIENCE, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok()
        .map(|()| String::from_utf8_lossy(&received).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_headers_are_cut_off_and_healthz_keeps_answering() {
    const MAX: usize = 32;
    let s = TestServer::start_with(
        Backend::Sqlite,
        &[
            ("ALM_SERVER__MAX_CONNECTIONS", "32"),
            ("ALM_SERVER__HEADER_READ_TIMEOUT_SECONDS", "1"),
        ],
    )
    .await;
    let addr = s.server.as_ref().unwrap().addr;
    let connections = s.server.as_ref().unwrap().connections.clone();
    // 200 clients that start a request and never finish its headers.
    let mut slow = Vec::new();
    for _ in 0..200 {
        let mut c = TcpStream::connect(addr).await.expect("connect");
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: alm\r\nX-Slow: ")
            .await
            .expect("write");
        slow.push(c);
    }
    assert!(connections.open() <= MAX, "{} open", connections.open());
    let healthz = reqwest::Client::builder()
        .timeout(PATIENCE)
        .build()
        .unwrap()
        .get(format!("{}/healthz", s.base))
        .send()
        .await
        .expect("/healthz answers while 200 clients stall");
    assert_eq!(healthz.status(), 200);
    assert!(connections.open() <= MAX, "{} open", connections.open());
    for (i, c) in slow.iter_mut().enumerate() {
        assert!(
            read_until_closed(c).await.is_some(),
            "slow client {i} is still connected after {PATIENCE:?}"
        );
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_limit_wait_until_a_slot_frees() {
    let s = TestServer::start_with(
        Backend::Sqlite,
        &[
            ("ALM_SERVER__MAX_CONNECTIONS", "4"),
            ("ALM_SERVER__HEADER_READ_TIMEOUT_SECONDS", "600"),
        ],
    )
    .await;
    let addr = s.server.as_ref().unwrap().addr;
    let connections = s.server.as_ref().unwrap().connections.clone();
    let mut idle = Vec::new();
    for _ in 0..10 {
        idle.push(TcpStream::connect(addr).await.expect("connect"));
    }
    // The server takes 4 of them and leaves the rest in the listen backlog.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while connections.open() < 4 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} open",
            connections.open()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(connections.open(), 4, "never more than the limit");
    // Once the idle clients leave, the next request is served.
    drop(idle);
    let healthz = reqwest::Client::builder()
        .timeout(PATIENCE)
        .build()
        .unwrap()
        .get(format!("{}/healthz", s.base))
        .send()
        .await
        .expect("/healthz answers once slots are free");
    assert_eq!(healthz.status(), 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_is_answered_408() {
    let s = TestServer::start_with(
        Backend::Sqlite,
        &[("ALM_SERVER__BODY_READ_TIMEOUT_SECONDS", "1")],
    )
    .await;
    let addr = s.server.as_ref().unwrap().addr;
    let mut c = TcpStream::connect(addr).await.expect("connect");
    c.write_all(
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: alm\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\n\r\n{\"email\": ",
    )
    .await
    .expect("write");
    let answer = read_until_closed(&mut c)
        .await
        .expect("the server answers and closes a stalled body");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert!(
        answer.contains("urn:alm:problem:request-timeout"),
        "{answer}"
    );
    s.stop().await;
}

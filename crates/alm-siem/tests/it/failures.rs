//! Failures a sender must name correctly: a receiver that is down (then back), a certificate
//! the CA did not sign or that names another host, a port that never answers.

use crate::rsyslog::{receiver, spare, the_message, wait_for_messages};
use crate::{event, new_id, options};
use alm_siem::{Format, SendErrorKind, Sender, SenderConfig, Transport};
use std::time::{Duration, Instant};

fn tls_sender(host: &str, port: u16, ca_pem: &str) -> Sender {
    let mut config = SenderConfig::new(host, port, Transport::Tls, Format::Rfc5424, options());
    config.ca_pem = Some(ca_pem.to_owned());
    config.timeout = Duration::from_secs(5);
    Sender::new(config).unwrap()
}

/// Waits until the spare has accepted `expected` connections, then checks it is not more.
fn assert_connections(spare: &crate::rsyslog::Spare, expected: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while spare.connections() < expected && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        spare.connections(),
        expected,
        "connections accepted by the spare rsyslog"
    );
}

#[tokio::test]
async fn a_receiver_that_is_down_is_unreachable_and_sends_succeed_once_it_is_back() {
    let r = receiver();
    let mut spare = spare();
    let mut tcp = Sender::new(SenderConfig::new(
        "127.0.0.1",
        spare.tcp_port,
        Transport::Tcp,
        Format::Rfc5424,
        options(),
    ))
    .unwrap();
    let mut tls = tls_sender("127.0.0.1", spare.tls_port, &r.ca_pem);
    let (tcp_file, tls_file) = (spare.out.join("tcp.log"), spare.out.join("tls.log"));

    // Down: nothing listens.
    let missed = [event(&new_id()), event(&new_id())];
    for (sender, e) in [(&mut tcp, &missed[0]), (&mut tls, &missed[1])] {
        let err = sender.send(e).await.expect_err("nothing listens");
        assert_eq!(err.kind(), SendErrorKind::Unreachable, "{err}");
        assert!(err.is_transient());
        assert!(
            err.to_string()
                .contains(&format!("127.0.0.1:{}", sender.config().port)),
            "{err}"
        );
    }

    // Up: two messages per sender over one connection each.
    spare.start();
    let first = [
        event(&new_id()),
        event(&new_id()),
        event(&new_id()),
        event(&new_id()),
    ];
    tcp.send(&first[0]).await.unwrap();
    tcp.send(&first[1]).await.unwrap();
    tls.send(&first[2]).await.unwrap();
    tls.send(&first[3]).await.unwrap();
    the_message(&tcp_file, &first[0].id);
    the_message(&tcp_file, &first[1].id);
    the_message(&tls_file, &first[2].id);
    the_message(&tls_file, &first[3].id);
    assert_connections(&spare, 2);

    // Down again: the kept connections are closed by the receiver; the next send notices,
    // tries a new connection and reports the receiver unreachable.
    spare.stop();
    let during = [event(&new_id()), event(&new_id())];
    for (sender, e) in [(&mut tcp, &during[0]), (&mut tls, &during[1])] {
        let err = sender.send(e).await.expect_err("the receiver is stopped");
        assert_eq!(err.kind(), SendErrorKind::Unreachable, "{err}");
    }

    // Back: the same senders reconnect; the events that failed are sent again (as an outbox
    // would) and arrive, each once.
    spare.start();
    for e in missed.iter().chain(&during) {
        let (sender, file) = if e.id == missed[0].id || e.id == during[0].id {
            (&mut tcp, &tcp_file)
        } else {
            (&mut tls, &tls_file)
        };
        sender.send(e).await.unwrap();
        the_message(file, &e.id);
    }
    // One new connection per sender after the restart (the internal log survives restarts).
    assert_connections(&spare, 4);
    // Nothing was written twice or lost on the way.
    for (file, events) in [
        (&tcp_file, [&first[0], &first[1], &missed[0], &during[0]]),
        (&tls_file, [&first[2], &first[3], &missed[1], &during[1]]),
    ] {
        for e in events {
            assert_eq!(
                wait_for_messages(file, &e.id).len(),
                1,
                "{} in {}",
                e.id,
                file.display()
            );
        }
    }
    tcp.close().await;
    tls.close().await;
    spare.stop();
}

#[tokio::test]
async fn a_certificate_from_another_ca_or_for_another_name_is_a_certificate_error() {
    let r = receiver();
    let mut wrong_ca = tls_sender("127.0.0.1", r.tls_port, &r.wrong_ca_pem);
    let err = wrong_ca
        .send(&event(&new_id()))
        .await
        .expect_err("untrusted issuer");
    assert_eq!(err.kind(), SendErrorKind::Certificate, "{err}");
    assert!(!err.is_transient());
    assert!(err.to_string().contains("CA certificate"), "{err}");

    // The certificate names IP 127.0.0.1 only; "localhost" reaches the same server.
    let mut wrong_name = tls_sender("localhost", r.tls_port, &r.ca_pem);
    let err = wrong_name
        .send(&event(&new_id()))
        .await
        .expect_err("name not in the certificate");
    assert_eq!(err.kind(), SendErrorKind::Certificate, "{err}");
    assert!(err.to_string().contains("\"localhost\""), "{err}");

    // The right CA and name, to the same port: delivered.
    let mut right = tls_sender("127.0.0.1", r.tls_port, &r.ca_pem);
    let e = event(&new_id());
    right.send(&e).await.unwrap();
    right.close().await;
    the_message(&r.out.join("tls.log"), &e.id);
}

#[tokio::test]
async fn tls_to_a_port_that_never_answers_the_handshake_times_out() {
    // rsyslog's plain TCP input reads the ClientHello as the start of a message and waits
    // for the rest: the handshake never completes.
    let r = receiver();
    let mut config = SenderConfig::new(
        "127.0.0.1",
        r.tcp_port,
        Transport::Tls,
        Format::Rfc5424,
        options(),
    );
    config.ca_pem = Some(r.ca_pem);
    config.timeout = Duration::from_millis(800);
    let mut sender = Sender::new(config).unwrap();
    let started = Instant::now();
    let err = sender
        .send(&event(&new_id()))
        .await
        .expect_err("no handshake");
    assert_eq!(err.kind(), SendErrorKind::Timeout, "{err}");
    assert!(err.is_transient());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn udp_to_a_closed_port_reports_unreachable_on_a_later_send() {
    // A port nobody listens on: bound, noted, released.
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut sender = Sender::new(SenderConfig::new(
        "127.0.0.1",
        port,
        Transport::Udp,
        Format::JsonLines,
        options(),
    ))
    .unwrap();
    // UDP cannot know at once: the ICMP "port unreachable" for one datagram fails the next send.
    let deadline = Instant::now() + Duration::from_secs(5);
    let err = loop {
        match sender.send(&event(&new_id())).await {
            Err(err) => break err,
            Ok(()) => {
                assert!(
                    Instant::now() < deadline,
                    "no error from a closed UDP port in 5 s"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    assert_eq!(err.kind(), SendErrorKind::Unreachable, "{err}");
}

//! A DNS server of the test's own: Debian's dnsmasq (`ALMTEST_DNSMASQ`, which `.ci/run`
//! installs), serving only the SRV and address records the test gives it, on 127.0.0.1 and a
//! free port, answering "no such name" for anything else under `example.test` and asking no
//! one else. Stopped when dropped; its log (every query) is shown when it does not start.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// One record to serve.
pub enum Record<'a> {
    /// `name` SRV `priority weight port target`.
    Srv {
        name: &'a str,
        target: &'a str,
        port: u16,
        priority: u16,
        weight: u16,
    },
    /// `name` A `addr`.
    Host { name: &'a str, addr: &'a str },
}

pub struct Dns {
    child: Child,
    pub addr: SocketAddr,
    log: PathBuf,
}

impl Dns {
    pub fn start(records: &[Record<'_>]) -> Self {
        let dnsmasq = std::env::var("ALMTEST_DNSMASQ").expect(
            "ALMTEST_DNSMASQ is not set (bash scripts/test.sh installs dnsmasq and sets it)",
        );
        let port = free_udp_and_tcp_port();
        let log = std::env::temp_dir().join(format!(
            "alm-test-dnsmasq-{}-{port}.log",
            std::process::id()
        ));
        let mut cmd = Command::new(&dnsmasq);
        cmd.args([
            "--keep-in-foreground",
            "--log-facility=-",
            "--log-queries",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
            "--listen-address=127.0.0.1",
            "--pid-file=",
            "--local=/example.test/",
        ])
        .arg(format!("--port={port}"));
        for record in records {
            cmd.arg(match record {
                Record::Srv {
                    name,
                    target,
                    port,
                    priority,
                    weight,
                } => format!("--srv-host={name},{target},{port},{priority},{weight}"),
                Record::Host { name, addr } => format!("--host-record={name},{addr}"),
            });
        }
        let out = std::fs::File::create(&log).expect("dnsmasq log file");
        let child = cmd
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {dnsmasq}: {e}"));
        let mut dns = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            log,
        };
        dns.wait_until_ready();
        dns
    }

    /// dnsmasq says "started" once it listens; an exit before that is a failure to start.
    fn wait_until_ready(&mut self) {
        for _ in 0..100 {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "dnsmasq exited ({status}) before it served:\n{}",
                    self.log_text()
                );
            }
            if self.log_text().contains("started, version") {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("dnsmasq did not start within 5 s:\n{}", self.log_text());
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Dns {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A port free for both UDP and TCP on 127.0.0.1 (DNS answers on both).
fn free_udp_and_tcp_port() -> u16 {
    loop {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind a UDP port");
        let port = udp.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

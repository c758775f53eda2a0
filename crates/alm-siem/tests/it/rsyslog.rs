//! The rsyslog receiver of `tests/peers/rsyslog.sh`, as the tests see it: its ports and CA
//! from `ALMTEST_RSYSLOG_*` (missing variables fail the test, they never skip it), the
//! messages it wrote, and a spare instance a test may start and stop itself.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: these tests need the rsyslog receiver of tests/peers/rsyslog.sh; run scripts/test.sh (or start it yourself and export the ALMTEST_RSYSLOG_* variables)")
    })
}

fn port(name: &str) -> u16 {
    var(name).parse().unwrap_or_else(|e| panic!("{name}: {e}"))
}

pub struct Receiver {
    pub udp_port: u16,
    pub tcp_port: u16,
    pub tls_port: u16,
    pub ca_pem: String,
    pub wrong_ca_pem: String,
    /// Where rsyslog writes udp.log, tcp.log, tls.log.
    pub out: PathBuf,
}

pub fn receiver() -> Receiver {
    let ca_file = var("ALMTEST_RSYSLOG_CA_FILE");
    let wrong_ca_file = var("ALMTEST_RSYSLOG_WRONG_CA_FILE");
    Receiver {
        udp_port: port("ALMTEST_RSYSLOG_UDP_PORT"),
        tcp_port: port("ALMTEST_RSYSLOG_TCP_PORT"),
        tls_port: port("ALMTEST_RSYSLOG_TLS_PORT"),
        ca_pem: std::fs::read_to_string(&ca_file).unwrap_or_else(|e| panic!("{ca_file}: {e}")),
        wrong_ca_pem: std::fs::read_to_string(&wrong_ca_file)
            .unwrap_or_else(|e| panic!("{wrong_ca_file}: {e}")),
        out: PathBuf::from(var("ALMTEST_RSYSLOG_DIR")),
    }
}

/// The messages in `file` (one JSON-string-escaped raw message per line) that contain
/// `needle`, waiting up to 10 s for at least one. Panics with the file's tail when none came.
pub fn wait_for_messages(file: &Path, needle: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let found: Vec<String> = text
            .lines()
            .filter(|line| line.contains(needle))
            .map(|line| {
                serde_json::from_str::<String>(&format!("\"{line}\"")).unwrap_or_else(|e| {
                    panic!("{}: not a JSON-escaped line ({e}): {line}", file.display())
                })
            })
            .collect();
        if !found.is_empty() {
            return found;
        }
        if Instant::now() > deadline {
            let tail: Vec<&str> = text.lines().rev().take(5).collect();
            panic!(
                "no message with {needle} in {} after 10 s; last lines: {tail:#?}",
                file.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Exactly one message containing `needle` arrived in `file`; returns it.
pub fn the_message(file: &Path, needle: &str) -> String {
    let mut found = wait_for_messages(file, needle);
    assert_eq!(
        found.len(),
        1,
        "{needle} arrived {} times: {found:#?}",
        found.len()
    );
    found.remove(0)
}

/// A second rsyslog configured by the peer script on its own ports but not started: tests
/// start and stop it to play a receiver that goes down and comes back.
pub struct Spare {
    pub conf: PathBuf,
    pub tcp_port: u16,
    pub tls_port: u16,
    pub out: PathBuf,
    child: Option<Child>,
    /// Connections the spare's log shows from before this handle (the log outlives each run,
    /// and other test binaries use the spare too): counts are this handle's own.
    connections_before: usize,
}

pub fn spare() -> Spare {
    let mut spare = Spare {
        conf: PathBuf::from(var("ALMTEST_RSYSLOG_SPARE_CONF")),
        tcp_port: port("ALMTEST_RSYSLOG_SPARE_TCP_PORT"),
        tls_port: port("ALMTEST_RSYSLOG_SPARE_TLS_PORT"),
        out: PathBuf::from(var("ALMTEST_RSYSLOG_SPARE_DIR")),
        child: None,
        connections_before: 0,
    };
    spare.connections_before = spare.connections_in_log();
    spare
}

/// Whether a socket listens on 127.0.0.1:`port`, asked of the kernel (/proc/net/tcp) rather
/// than by connecting, so the receiver's connection count stays the senders' alone.
fn listening(port: u16) -> bool {
    let local = format!("0100007F:{port:04X}");
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .any(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // cols[1] local address, cols[3] state (0A = LISTEN).
            cols.len() > 3 && cols[1] == local && cols[3] == "0A"
        })
}

impl Spare {
    /// Starts `rsyslogd -n` with the spare configuration and waits (polling) until its TCP
    /// and TLS ports accept connections.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "the spare rsyslog already runs");
        assert!(
            !listening(self.tcp_port) && !listening(self.tls_port),
            "something else listens on the spare rsyslog's ports {} / {}",
            self.tcp_port,
            self.tls_port
        );
        let dir = self.conf.parent().expect("config in a directory");
        let log = std::fs::File::create(dir.join("rsyslog.log")).expect("rsyslog log file");
        let child = Command::new("rsyslogd")
            .arg("-n")
            .arg("-f")
            .arg(&self.conf)
            .arg("-i")
            .arg(dir.join("rsyslogd.pid"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start rsyslogd (is rsyslog installed?)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !(listening(self.tcp_port) && listening(self.tls_port)) {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().expect("wait") {
                self.child = None;
                panic!(
                    "the spare rsyslogd exited ({status}); its log: {}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the spare rsyslogd did not listen within 10 s; its log: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the spare rsyslogd (the process this test started, by its pid) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGTERM lets rsyslog flush its files and close its connections (a FIN the sender
            // must notice).
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().expect("wait").is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// How many TCP/TLS connections the spare accepted since this handle was made, from its
    /// internal log (imtcp's notifyOnConnectionOpen).
    pub fn connections(&self) -> usize {
        self.connections_in_log() - self.connections_before
    }

    fn connections_in_log(&self) -> usize {
        let dir = self.conf.parent().expect("config in a directory");
        std::fs::read_to_string(dir.join("rsyslog-internal.log"))
            .unwrap_or_default()
            .matches("imtcp: connection established")
            .count()
    }

    fn log(&self) -> String {
        let dir = self.conf.parent().expect("config in a directory");
        std::fs::read_to_string(dir.join("rsyslog.log")).unwrap_or_default()
    }
}

impl Drop for Spare {
    fn drop(&mut self) {
        self.stop();
    }
}

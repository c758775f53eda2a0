//! A real SMTP server for one test: aiosmtpd (PyPI; `scripts/test.sh` installs it and sets
//! `ALMTEST_SMTP_PYTHON`) on a free port, storing each message in a maildir the test reads.
//! Plain by default; [`SmtpSink::start_secure`] runs `tests/peers/smtp_server.py`, which
//! requires STARTTLS or TLS from the first byte, and a login, before it takes a message.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct SmtpSink {
    pub port: u16,
    dir: PathBuf,
    child: Child,
}

#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
    /// The Message-ID header (alm's outbox row id), to tell a second copy of one message from
    /// a second message (the crash suite, tests/crash, reads it; the `it` tests do not).
    #[allow(dead_code)]
    pub message_id: String,
    /// The TLS version the message came over (`none` if plain); secure sinks only.
    pub tls: String,
    /// The login it was sent under (`none` without one); secure sinks only.
    pub auth: String,
}

/// How a secure sink wants its clients to talk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secure {
    /// Plain first, STARTTLS required before anything else.
    StartTls,
    /// TLS from the first byte.
    Tls,
}

/// What a secure sink presents and accepts.
pub struct SecureSink<'a> {
    pub mode: Secure,
    pub cert: &'a Path,
    pub key: &'a Path,
    pub user: &'a str,
    pub password: &'a str,
    /// A port to listen on (to stand in for a sink that was stopped); a free one otherwise.
    pub port: Option<u16>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        let dir = super::db::temp_dir("smtp");
        let port = free_port();
        let mut command = Command::new(python());
        command
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.join("mail"));
        Self::spawn(command, dir, port).await
    }

    /// A sink that refuses every message not sent over TLS with the right login.
    pub async fn start_secure(c: SecureSink<'_>) -> Self {
        let dir = super::db::temp_dir("smtp");
        let port = c.port.unwrap_or_else(free_port);
        // The password goes in a file, not on the command line (`ps` shows that).
        let password_file = dir.join("password");
        std::fs::write(&password_file, c.password).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/peers/smtp_server.py");
        let mut command = Command::new(python());
        command
            .arg(script)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--maildir")
            .arg(dir.join("mail"))
            .args([
                "--mode",
                match c.mode {
                    Secure::StartTls => "starttls",
                    Secure::Tls => "tls",
                },
            ])
            .arg("--cert")
            .arg(c.cert)
            .arg("--key")
            .arg(c.key)
            .args(["--user", c.user])
            .arg("--password-file")
            .arg(&password_file);
        Self::spawn(command, dir, port).await
    }

    async fn spawn(mut command: Command, dir: PathBuf, port: u16) -> Self {
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(dir.join("mail").join(sub)).unwrap();
        }
        let log = std::fs::File::create(dir.join("aiosmtpd.log")).unwrap();
        let child = command
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start aiosmtpd");
        let mut sink = Self { port, dir, child };
        for _ in 0..100 {
            if let Ok(Some(status)) = sink.child.try_wait() {
                panic!("aiosmtpd exited ({status}): {}", sink.log());
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return sink;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("aiosmtpd did not start: {}", sink.log());
    }

    /// What the server wrote to its log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("aiosmtpd.log")).unwrap_or_default()
    }

    /// Every message received so far.
    pub fn mails(&self) -> Vec<Mail> {
        let mut out = Vec::new();
        let Ok(entries) = std::fs::read_dir(self.dir.join("mail").join("new")) else {
            return out;
        };
        for entry in entries.flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
            let header = |name: &str| {
                head.lines()
                    .find_map(|l| l.strip_prefix(&format!("{name}: ")))
                    .unwrap_or_default()
                    .trim()
                    .to_owned()
            };
            let body = body.replace("\r\n", "\n");
            let quoted = head
                .to_ascii_lowercase()
                .contains("content-transfer-encoding: quoted-printable");
            out.push(Mail {
                to: header("X-RcptTo"),
                subject: header("Subject"),
                message_id: header("Message-ID"),
                tls: header("X-Alm-Tls"),
                auth: header("X-Alm-Auth"),
                body: if quoted { unquote(&body) } else { body },
            });
        }
        out
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn python() -> String {
    std::env::var("ALMTEST_SMTP_PYTHON").unwrap_or_else(|_| {
        panic!("ALMTEST_SMTP_PYTHON is not set: notification tests need the aiosmtpd that `bash scripts/test.sh` installs")
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Decodes a quoted-printable body (RFC 2045 §6.7): soft line breaks and `=XX` bytes.
fn unquote(text: &str) -> String {
    let joined = text.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

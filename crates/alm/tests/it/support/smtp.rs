//! A real SMTP server for one test: aiosmtpd (PyPI; `scripts/test.sh` installs it and sets
//! `ALMTEST_SMTP_PYTHON`) on a free port, storing each message in a maildir the test reads.

use std::path::PathBuf;
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
}

impl SmtpSink {
    pub async fn start() -> Self {
        let python = std::env::var("ALMTEST_SMTP_PYTHON").unwrap_or_else(|_| {
            panic!("ALMTEST_SMTP_PYTHON is not set: notification tests need the aiosmtpd that `bash scripts/test.sh` installs")
        });
        let dir = super::db::temp_dir("smtp");
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(dir.join("mail").join(sub)).unwrap();
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::fs::File::create(dir.join("aiosmtpd.log")).unwrap();
        let child = Command::new(python)
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(dir.join("mail"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start aiosmtpd");
        let sink = Self { port, dir, child };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return sink;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "aiosmtpd did not start: {}",
            std::fs::read_to_string(sink.dir.join("aiosmtpd.log")).unwrap_or_default()
        );
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

//! Sending one email over SMTP (SPEC §7.2): plain SMTP to a local relay, STARTTLS, or TLS from
//! the first byte, with optional credentials and a CA file; the server certificate is always
//! verified. A refusal the server calls permanent (5xx) is reported as such, so the outbox
//! stops retrying that message — except a refused login (530, 534, 535, 538), which is alm's
//! configuration, not the message; anything else is worth another try.

use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// No TLS (a relay on the same host or network only).
    None,
    /// STARTTLS, required.
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

impl Security {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(Self::None),
            "starttls" => Some(Self::StartTls),
            "tls" => Some(Self::Tls),
            _ => None,
        }
    }
}

#[derive(Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    pub password: Option<alm_core::Secret>,
    pub from: String,
    pub ca_pem: Option<String>,
    pub timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The message or the address is wrong, or the server refused it for good.
    #[error("{0}")]
    Permanent(String),
    /// Try again later (server down, timeout, temporary refusal).
    #[error("{0}")]
    Transient(String),
}

pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: lettre::message::Mailbox,
}

impl SmtpSender {
    pub fn new(c: &SmtpConfig) -> Result<Self, String> {
        let from = c
            .from
            .parse()
            .map_err(|e| format!("smtp.from: {:?} is not an address ({e})", c.from))?;
        let tls = |host: &str| -> Result<TlsParameters, String> {
            let mut b = TlsParameters::builder(host.to_owned());
            if let Some(pem) = &c.ca_pem {
                let cert = Certificate::from_pem(pem.as_bytes())
                    .map_err(|e| format!("smtp.ca_file: not a PEM certificate ({e})"))?;
                b = b.add_root_certificate(cert);
            }
            b.build_rustls().map_err(|e| format!("smtp: {e}"))
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&c.host)
            .port(c.port)
            .timeout(Some(c.timeout))
            .tls(match c.security {
                Security::None => Tls::None,
                Security::StartTls => Tls::Required(tls(&c.host)?),
                Security::Tls => Tls::Wrapper(tls(&c.host)?),
            });
        if let (Some(user), Some(password)) = (&c.username, &c.password) {
            builder =
                builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
        }
        Ok(Self {
            transport: builder.build(),
            from,
        })
    }

    /// Connects (with TLS and login as configured) and says goodbye: whether mail can go out.
    pub async fn check(&self) -> Result<(), String> {
        match self.transport.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => Err("the server did not accept the connection".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Sends one message. `id` names it (the outbox row) and becomes its Message-ID, the same
    /// on every attempt: the outbox delivers at least once (a process that dies after the
    /// server accepted a message but before recording it sends it again after the claim runs
    /// out, and SMTP has no way to ask whether a message arrived), so a second copy must be
    /// recognisable as the same message. Without one, lettre sends none and each relay invents
    /// its own, which makes the copy look like a new message.
    pub async fn send(
        &self,
        id: &str,
        to: &str,
        subject: &str,
        body: &str,
    ) -> Result<(), SendError> {
        let to = to
            .parse()
            .map_err(|e| SendError::Permanent(format!("{to:?} is not an address ({e})")))?;
        let message = Message::builder()
            .message_id(Some(format!("<{id}@{}>", self.from.email.domain())))
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_owned())
            .map_err(|e| SendError::Permanent(e.to_string()))?;
        self.transport.send(message).await.map(drop).map_err(|e| {
            let code = e.status().map(|c| c.to_string());
            if code.as_deref().is_some_and(refuses_login) {
                // A 5xx, but about alm's login, not this message: the message waits until an
                // administrator fixes the SMTP credentials, as it does for a wrong certificate.
                SendError::Transient(format!(
                    "the SMTP server refused alm's login (smtp.username / smtp.password): {e}"
                ))
            } else if e.is_permanent() {
                SendError::Permanent(e.to_string())
            } else {
                SendError::Transient(e.to_string())
            }
        })
    }
}

/// Whether an SMTP reply code says the login is wrong or missing (RFC 4954 §6: 530
/// authentication required, 534 mechanism too weak, 535 credentials invalid, 538 encryption
/// required for the mechanism) rather than that this message can never be delivered.
fn refuses_login(code: &str) -> bool {
    matches!(code, "530" | "534" | "535" | "538")
}

#[cfg(test)]
mod login_refusal_tests {
    use super::refuses_login;

    #[test]
    fn only_the_login_codes_wait() {
        for code in ["530", "534", "535", "538"] {
            assert!(refuses_login(code), "{code}");
        }
        // A refused recipient or message stays permanent.
        for code in ["550", "551", "552", "553", "554", "501", "421", "450"] {
            assert!(!refuses_login(code), "{code}");
        }
    }
}

//! alm-siem: delivery of alm's events to a SIEM (SPEC §7.5) — RFC 5424 syslog, CEF and JSON
//! lines over UDP, TCP (RFC 6587 octet counting) and TLS (RFC 5425, rustls with ring, the
//! receiver's certificate always verified).
//!
//! The pure part (`event`, `format`, `rfc5424`, `cef`, `json_lines`, `framing`) turns an event
//! into bytes; `sender` writes them and says whether the event was delivered or why not.
//! Not here: choosing which events go where, storing them, retrying later — that is the
//! server's outbox, which calls [`Sender::send`] and keeps the event on any error.
//!
//! ```no_run
//! # async fn demo(event: alm_siem::SiemEvent) -> Result<(), alm_siem::SendError> {
//! use alm_siem::*;
//! let options = FormatOptions { origin: Origin::alm("alm1.example.test"), facility: Facility::AUTHPRIV };
//! let mut config = SenderConfig::new("siem.example.test", 6514, Transport::Tls, Format::Rfc5424, options);
//! config.ca_pem = Some(std::fs::read_to_string("/etc/alm/siem-ca.pem").unwrap());
//! let mut sender = Sender::new(config)?;
//! match sender.send(&event).await {
//!     Ok(()) => {}                                // delivered: mark the outbox row done
//!     Err(e) if e.is_transient() => {}            // keep it, try again later
//!     Err(e) => eprintln!("needs a person: {e}"), // keep it, tell an administrator
//! }
//! # Ok(()) }
//! ```

pub mod cef;
mod error;
mod event;
mod format;
pub mod framing;
pub mod json_lines;
pub mod rfc5424;
mod sender;
mod timestamp;

pub use error::{SendError, SendErrorKind};
pub use event::{test_message, Origin, Severity, SiemEvent};
pub use format::{encode, Facility, Format, FormatOptions};
pub use framing::{frame, Transport};
pub use sender::{Sender, SenderConfig, DEFAULT_TIMEOUT};
pub use timestamp::rfc3339_utc_micros;

#[cfg(test)]
mod fuzz;

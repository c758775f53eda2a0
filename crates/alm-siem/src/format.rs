//! The choice of wire format and the settings every format shares; [`encode`] turns one event
//! into one message (no framing — that depends on the transport, see `framing`). Pure.

use crate::event::{Origin, SiemEvent};
use crate::{cef, json_lines, rfc5424};

/// The three formats of SPEC §7.5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// RFC 5424 syslog with alm's structured data and the message as BOM + UTF-8.
    Rfc5424,
    /// ArcSight CEF, carried as the MSG of an RFC 5424 syslog message.
    Cef,
    /// One JSON object, no syslog header.
    JsonLines,
}

impl Format {
    /// Syslog formats are framed by octet counting on streams; JSON lines by a newline.
    pub fn is_syslog(self) -> bool {
        matches!(self, Format::Rfc5424 | Format::Cef)
    }
}

/// A syslog facility (RFC 5424 §6.2.1, 0–23).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Facility(u8);

impl Facility {
    /// 10, security/authorization messages (private): alm's events are about accounts and
    /// their secrets, and receivers usually keep `authpriv` in a file only admins can read.
    /// The default.
    pub const AUTHPRIV: Facility = Facility(10);
    /// 16, local use 0: for receivers that route alm by a local facility.
    pub const LOCAL0: Facility = Facility(16);

    /// `None` outside 0–23.
    pub fn new(code: u8) -> Option<Facility> {
        (code <= 23).then_some(Facility(code))
    }

    pub fn code(self) -> u8 {
        self.0
    }
}

impl Default for Facility {
    fn default() -> Facility {
        Facility::AUTHPRIV
    }
}

/// What every message of one integration shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatOptions {
    pub origin: Origin,
    /// Syslog facility of RFC 5424 and CEF messages (JSON lines carry no PRI).
    pub facility: Facility,
}

/// One event as one message in `format`, without framing.
pub fn encode(event: &SiemEvent, format: Format, options: &FormatOptions) -> String {
    match format {
        Format::Rfc5424 => rfc5424::message(event, options),
        Format::Cef => rfc5424::carrying_cef(event, options, &cef::record(event, &options.origin)),
        Format::JsonLines => json_lines::object(event, &options.origin),
    }
}

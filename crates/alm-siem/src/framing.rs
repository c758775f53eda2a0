//! What goes on the wire for each format × transport. Pure.
//!
//! | | UDP | TCP | TLS |
//! |---|---|---|---|
//! | RFC 5424, CEF | one datagram = the message | RFC 6587 octet counting `LEN SP MSG` | the same inside TLS (RFC 5425) |
//! | JSON lines | one datagram = the object | the object + `\n` | the same inside TLS |
//!
//! Octet counting is a syslog framing: a JSON-lines receiver reads lines, so JSON is
//! newline-framed (serde_json escapes newlines inside the object, so the line cannot break).
//! A datagram has no trailer: the datagram is the frame.

use crate::format::Format;

/// How messages travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

/// Appended to a message cut to fit a datagram.
pub const TRUNCATION_MARKER: &str = "…[truncated]";
/// RFC 5426 §3.2: every receiver must take 480 octets; a smaller limit leaves no room.
pub const MIN_DATAGRAM: usize = 480;
/// Default datagram limit: rsyslog's default `maxMessageSize` (8 KiB). RFC 5426 only promises
/// 2048 octets (and IPv4 carries at most 65,507); lower it for receivers that take less.
pub const DEFAULT_MAX_DATAGRAM: usize = 8192;

/// The bytes one message becomes on `transport`. `max_datagram` (at least [`MIN_DATAGRAM`])
/// applies to UDP only.
pub fn frame(message: &str, format: Format, transport: Transport, max_datagram: usize) -> Vec<u8> {
    match transport {
        Transport::Udp => fit_datagram(message, max_datagram).into_bytes(),
        Transport::Tcp | Transport::Tls if format.is_syslog() => {
            format!("{} {message}", message.len()).into_bytes()
        }
        Transport::Tcp | Transport::Tls => format!("{message}\n").into_bytes(),
    }
}

/// `message` if it fits in `max` bytes; otherwise cut at a character boundary so that it,
/// with [`TRUNCATION_MARKER`] appended, is at most `max` bytes. The cut keeps the head, where
/// the header and ids are; what is lost is the end of MSG (or of the fields, when they alone
/// exceed the limit — send over TCP or TLS when records are that large).
pub fn fit_datagram(message: &str, max: usize) -> String {
    let max = max.max(MIN_DATAGRAM);
    if message.len() <= max {
        return message.to_owned();
    }
    let mut cut = max - TRUNCATION_MARKER.len();
    while !message.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{TRUNCATION_MARKER}", &message[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syslog_on_streams_is_octet_counted_json_is_newline_framed() {
        // RFC 6587 §3.4.1: MSG-LEN is the octet count of SYSLOG-MSG, then one space.
        assert_eq!(
            frame("<86>1 é", Format::Rfc5424, Transport::Tcp, 8192),
            b"8 <86>1 \xc3\xa9"
        );
        assert_eq!(
            frame("CEF:0|x", Format::Cef, Transport::Tls, 8192),
            b"7 CEF:0|x"
        );
        assert_eq!(
            frame("{\"a\":1}", Format::JsonLines, Transport::Tcp, 8192),
            b"{\"a\":1}\n"
        );
        assert_eq!(
            frame("{\"a\":1}", Format::JsonLines, Transport::Udp, 8192),
            b"{\"a\":1}"
        );
        assert_eq!(
            frame("<86>1 x", Format::Rfc5424, Transport::Udp, 8192),
            b"<86>1 x"
        );
    }

    #[test]
    fn datagrams_are_cut_at_a_char_boundary_with_a_marker() {
        // 'é' is two bytes: 300 of them are 600 bytes.
        let long = "é".repeat(300);
        let cut = fit_datagram(&long, 500);
        assert!(cut.len() <= 500, "{}", cut.len());
        assert!(cut.ends_with(TRUNCATION_MARKER));
        // 500 - 14 marker bytes = 486 = 243 'é': an even cut, nothing dropped short of it.
        assert_eq!(cut, format!("{}{TRUNCATION_MARKER}", "é".repeat(243)));
        let odd = format!("a{long}");
        let cut = fit_datagram(&odd, 500);
        assert_eq!(cut, format!("a{}{TRUNCATION_MARKER}", "é".repeat(242)));
        assert_eq!(fit_datagram("short", 500), "short");
        // Limits below the RFC 5426 minimum are raised to it.
        assert_eq!(fit_datagram(&"x".repeat(480), 10).len(), 480);
    }
}

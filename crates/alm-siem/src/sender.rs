//! The sender of one SIEM integration: formats, frames and writes events over UDP, TCP or TLS.
//! It keeps its TCP/TLS connection between sends and opens a new one when the old one is gone;
//! every send is bounded by the timeout. It does not queue or retry later: that is the
//! caller's outbox, which learns from [`SendError::is_transient`] whether to try again.
//!
//! "Delivered" means: UDP — the datagram was handed to the kernel (nothing more can be known);
//! TCP/TLS — the bytes were written and flushed on a connection the receiver had not closed.
//! Syslog over TCP has no acknowledgement, so a receiver that dies in the moment after a write
//! can lose that message; the event id lets a receiver drop the duplicates retries cause.

use crate::error::{SendError, SendErrorKind};
use crate::event::SiemEvent;
use crate::format::{encode, Format, FormatOptions};
use crate::framing::{frame, Transport, DEFAULT_MAX_DATAGRAM, MIN_DATAGRAM};
use rustls::pki_types::ServerName;
use std::io;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// Default bound on one send (connect + TLS handshake + write).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// One integration's settings (SPEC §7.5: server, port, protocol, format).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderConfig {
    /// Host name or IP address of the receiver. For TLS it is also the name the receiver's
    /// certificate must carry (an IP address must be in the certificate's IP SANs).
    pub host: String,
    pub port: u16,
    pub transport: Transport,
    pub format: Format,
    pub options: FormatOptions,
    /// PEM CA certificate(s) the receiver's TLS certificate must chain to; `None` uses the
    /// system trust store. Ignored for UDP and TCP. Verification is never turned off.
    pub ca_pem: Option<String>,
    /// Bound on one send.
    pub timeout: Duration,
    /// Largest UDP datagram (bytes, at least 480); longer messages are cut with a marker.
    pub max_datagram: usize,
}

impl SenderConfig {
    /// Settings with the defaults: system trust store, [`DEFAULT_TIMEOUT`],
    /// [`DEFAULT_MAX_DATAGRAM`].
    pub fn new(
        host: impl Into<String>,
        port: u16,
        transport: Transport,
        format: Format,
        options: FormatOptions,
    ) -> SenderConfig {
        SenderConfig {
            host: host.into(),
            port,
            transport,
            format,
            options,
            ca_pem: None,
            timeout: DEFAULT_TIMEOUT,
            max_datagram: DEFAULT_MAX_DATAGRAM,
        }
    }

    /// `udp://host:port` etc., for messages.
    pub fn receiver(&self) -> String {
        let scheme = match self.transport {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        };
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}", self.host, self.port)
        } else {
            format!("{scheme}://{}:{}", self.host, self.port)
        }
    }
}

enum Connection {
    Udp(UdpSocket),
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// Sends one integration's events. Not shared between tasks: give each delivery worker its own.
pub struct Sender {
    config: SenderConfig,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    connection: Option<Connection>,
}

impl Sender {
    /// Checks the settings (CA PEM, TLS server name, limits) without connecting.
    pub fn new(config: SenderConfig) -> Result<Sender, SendError> {
        let receiver = config.receiver();
        if config.timeout.is_zero() {
            return Err(SendError::new(
                SendErrorKind::Config,
                format!("SIEM receiver {receiver}: the timeout must be more than zero"),
            ));
        }
        if config.max_datagram < MIN_DATAGRAM {
            return Err(SendError::new(
                SendErrorKind::Config,
                format!(
                    "SIEM receiver {receiver}: the datagram limit {} is below the {MIN_DATAGRAM} bytes every syslog receiver takes (RFC 5426)",
                    config.max_datagram
                ),
            ));
        }
        let tls = match config.transport {
            Transport::Tls => {
                let client = alm_tls::client_config(config.ca_pem.as_deref()).map_err(|e| {
                    SendError::new(
                        SendErrorKind::Config,
                        format!("SIEM receiver {receiver}: {e}; set the integration's CA certificate (PEM)"),
                    )
                })?;
                let name = ServerName::try_from(config.host.clone()).map_err(|_| {
                    SendError::new(
                        SendErrorKind::Config,
                        format!(
                            "SIEM receiver {receiver}: \"{}\" is not a host name or IP address a TLS certificate can be checked against",
                            config.host
                        ),
                    )
                })?;
                Some((TlsConnector::from(Arc::new(client)), name))
            }
            Transport::Udp | Transport::Tcp => None,
        };
        Ok(Sender {
            config,
            tls,
            connection: None,
        })
    }

    pub fn config(&self) -> &SenderConfig {
        &self.config
    }

    /// The bytes `event` becomes on this sender's wire (format + framing).
    pub fn wire_bytes(&self, event: &SiemEvent) -> Vec<u8> {
        let message = encode(event, self.config.format, &self.config.options);
        frame(
            &message,
            self.config.format,
            self.config.transport,
            self.config.max_datagram,
        )
    }

    /// Formats and sends one event. `Ok` is delivery as this module's header defines it.
    pub async fn send(&mut self, event: &SiemEvent) -> Result<(), SendError> {
        let bytes = self.wire_bytes(event);
        self.send_wire_bytes(&bytes).await
    }

    /// Sends bytes already framed by [`Sender::wire_bytes`] (e.g. stored by an outbox).
    pub async fn send_wire_bytes(&mut self, bytes: &[u8]) -> Result<(), SendError> {
        let timeout = self.config.timeout;
        match tokio::time::timeout(timeout, self.send_within_timeout(bytes)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                self.connection = None;
                Err(e)
            }
            Err(_) => {
                self.connection = None;
                Err(SendError::new(
                    SendErrorKind::Timeout,
                    format!(
                        "SIEM receiver {}: not done within {:?}; check that the receiver runs and that no firewall drops the traffic",
                        self.config.receiver(),
                        timeout
                    ),
                ))
            }
        }
    }

    /// Drops the connection, if any, without a goodbye (the next send opens a new one).
    pub fn disconnect(&mut self) {
        self.connection = None;
    }

    /// Closes the connection politely: TLS sends close_notify (so the receiver does not log a
    /// truncated session), TCP a FIN. Bounded by the timeout; errors are ignored, the
    /// connection is gone either way.
    pub async fn close(&mut self) {
        if let Some(connection) = self.connection.take() {
            let goodbye = async move {
                match connection {
                    Connection::Udp(_) => {}
                    Connection::Tcp(mut stream) => {
                        let _ = stream.shutdown().await;
                    }
                    Connection::Tls(mut stream) => {
                        let _ = stream.shutdown().await;
                    }
                }
            };
            let _ = tokio::time::timeout(self.config.timeout, goodbye).await;
        }
    }

    async fn send_within_timeout(&mut self, bytes: &[u8]) -> Result<(), SendError> {
        if let Some(connection) = self.connection.as_mut() {
            if !peer_has_closed(connection) {
                match write(connection, bytes).await {
                    Ok(()) => return Ok(()),
                    // UDP: the error belongs to an earlier datagram; a fresh socket would hide
                    // it, so report it.
                    Err(e) if matches!(connection, Connection::Udp(_)) => {
                        return Err(self.io_error(e, "sending"))
                    }
                    // A stream that broke since the last send: open a new one, once.
                    Err(_) => {}
                }
            }
            self.connection = None;
        }
        let mut connection = self.connect().await?;
        write(&mut connection, bytes)
            .await
            .map_err(|e| self.io_error(e, "sending"))?;
        self.connection = Some(connection);
        Ok(())
    }

    async fn connect(&self) -> Result<Connection, SendError> {
        let addrs = self.resolve().await?;
        if self.config.transport == Transport::Udp {
            let mut last = None;
            for addr in addrs {
                let local: SocketAddr = if addr.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    ([0u16; 8], 0).into()
                };
                match udp_to(local, addr).await {
                    Ok(socket) => return Ok(Connection::Udp(socket)),
                    Err(e) => last = Some(e),
                }
            }
            return Err(self.io_error(last.unwrap_or_else(no_address), "opening a UDP socket to"));
        }
        let mut last = None;
        let mut tcp = None;
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(stream) => {
                    tcp = Some(stream);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let tcp = match tcp {
            Some(tcp) => tcp,
            None => return Err(self.io_error(last.unwrap_or_else(no_address), "connecting to")),
        };
        // Syslog messages are small and each should leave at once.
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None => Ok(Connection::Tcp(tcp)),
            Some((connector, name)) => connector
                .connect(name.clone(), tcp)
                .await
                .map(|tls| Connection::Tls(Box::new(tls)))
                .map_err(|e| self.tls_error(e)),
        }
    }

    async fn resolve(&self) -> Result<Vec<SocketAddr>, SendError> {
        let found = tokio::net::lookup_host((self.config.host.as_str(), self.config.port))
            .await
            .map(|addrs| addrs.collect::<Vec<_>>());
        match found {
            Ok(addrs) if !addrs.is_empty() => Ok(addrs),
            Ok(_) => Err(self.io_error(no_address(), "resolving")),
            Err(e) => Err(SendError::new(
                SendErrorKind::Unreachable,
                format!(
                    "SIEM receiver {}: cannot resolve \"{}\" ({e}); check the server name",
                    self.config.receiver(),
                    self.config.host
                ),
            )),
        }
    }

    fn io_error(&self, e: io::Error, doing: &str) -> SendError {
        let receiver = self.config.receiver();
        match e.kind() {
            io::ErrorKind::ConnectionRefused
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
            | io::ErrorKind::AddrNotAvailable
            | io::ErrorKind::NotFound => SendError::new(
                SendErrorKind::Unreachable,
                format!(
                    "SIEM receiver {receiver}: unreachable while {doing} it ({e}); check that the receiver runs and listens on this port"
                ),
            ),
            io::ErrorKind::TimedOut => SendError::new(
                SendErrorKind::Timeout,
                format!("SIEM receiver {receiver}: timed out while {doing} it ({e})"),
            ),
            _ => SendError::new(
                SendErrorKind::Io,
                format!("SIEM receiver {receiver}: failed while {doing} it ({e})"),
            ),
        }
    }

    fn tls_error(&self, e: io::Error) -> SendError {
        let receiver = self.config.receiver();
        let rustls_error = e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>());
        match rustls_error {
            Some(rustls::Error::InvalidCertificate(why)) => SendError::new(
                SendErrorKind::Certificate,
                format!(
                    "SIEM receiver {receiver}: its TLS certificate was not accepted ({why:?}); set the integration's CA certificate to the CA that issued it and check that the certificate names \"{}\"",
                    self.config.host
                ),
            ),
            Some(other) => SendError::new(
                SendErrorKind::Tls,
                format!("SIEM receiver {receiver}: TLS failed ({other}); check that this port speaks TLS"),
            ),
            None if e.kind() == io::ErrorKind::UnexpectedEof => SendError::new(
                SendErrorKind::Tls,
                format!(
                    "SIEM receiver {receiver}: the receiver closed the connection during the TLS handshake; check that this port speaks TLS and accepts alm"
                ),
            ),
            None => self.io_error(e, "opening TLS with"),
        }
    }
}

async fn udp_to(local: SocketAddr, remote: SocketAddr) -> io::Result<UdpSocket> {
    let socket = UdpSocket::bind(local).await?;
    socket.connect(remote).await?;
    Ok(socket)
}

fn no_address() -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, "no address found")
}

async fn write(connection: &mut Connection, bytes: &[u8]) -> io::Result<()> {
    match connection {
        Connection::Udp(socket) => {
            let sent = socket.send(bytes).await?;
            if sent != bytes.len() {
                return Err(io::Error::other(format!(
                    "only {sent} of {} bytes went into the datagram",
                    bytes.len()
                )));
            }
            Ok(())
        }
        Connection::Tcp(stream) => {
            stream.write_all(bytes).await?;
            stream.flush().await
        }
        Connection::Tls(stream) => {
            stream.write_all(bytes).await?;
            stream.flush().await
        }
    }
}

/// Whether the receiver closed (or reset) a kept stream since the last send. A syslog receiver
/// never sends anything, so readable data means EOF, a reset, or a TLS close_notify — in every
/// case the connection is done. The peek asks the kernel directly: tokio's readiness cache may
/// not have seen the FIN yet, and a write into a closed connection would "succeed" and be lost.
fn peer_has_closed(connection: &Connection) -> bool {
    let tcp = match connection {
        Connection::Udp(_) => return false,
        Connection::Tcp(stream) => stream,
        Connection::Tls(stream) => stream.get_ref().0,
    };
    let mut buf = [MaybeUninit::<u8>::uninit(); 1];
    // tokio's sockets are non-blocking, so this returns at once.
    match socket2::SockRef::from(tcp).peek(&mut buf) {
        Err(e) => e.kind() != io::ErrorKind::WouldBlock,
        Ok(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Origin;
    use crate::format::Facility;

    fn config(transport: Transport) -> SenderConfig {
        SenderConfig::new(
            "127.0.0.1",
            6514,
            transport,
            Format::Rfc5424,
            FormatOptions {
                origin: Origin::alm("h"),
                facility: Facility::AUTHPRIV,
            },
        )
    }

    #[test]
    fn settings_that_cannot_work_are_config_errors() {
        let mut c = config(Transport::Tls);
        c.ca_pem = Some("not a certificate".to_owned());
        let err = Sender::new(c).err().expect("bad CA");
        assert_eq!(err.kind(), SendErrorKind::Config);
        assert!(err.to_string().contains("tls://127.0.0.1:6514"), "{err}");
        assert!(!err.is_transient());

        let mut c = config(Transport::Tls);
        c.host = "bad host name!".to_owned();
        c.ca_pem = None;
        // Without a system store the CA error comes first; either way it is a Config error.
        assert_eq!(
            Sender::new(c).err().expect("bad name").kind(),
            SendErrorKind::Config
        );

        let mut c = config(Transport::Udp);
        c.max_datagram = 100;
        assert_eq!(
            Sender::new(c).err().expect("tiny datagram").kind(),
            SendErrorKind::Config
        );

        let mut c = config(Transport::Tcp);
        c.timeout = Duration::ZERO;
        assert_eq!(
            Sender::new(c).err().expect("no timeout").kind(),
            SendErrorKind::Config
        );

        assert!(Sender::new(config(Transport::Tcp)).is_ok());
    }

    #[test]
    fn receiver_names_carry_the_scheme_and_bracket_ipv6() {
        assert_eq!(config(Transport::Udp).receiver(), "udp://127.0.0.1:6514");
        let mut c = config(Transport::Tcp);
        c.host = "::1".to_owned();
        assert_eq!(c.receiver(), "tcp://[::1]:6514");
    }
}

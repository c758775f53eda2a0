//! One SMB2/3 connection to one host, used one request at a time: negotiate, NTLMv2 session
//! setup through SPNEGO, signing of every later request, and the named-pipe operations
//! (tree connect, create, transceive, read, close). Timeouts are the caller's: every method
//! may be cancelled by dropping its future, which drops the socket.

use crate::error::{nt_status_error, ScanError};
use crate::ntlm;
use crate::smb2_messages::{self as msg, Command, RequestHeader, ResponseHeader};
use crate::smb2_signing::{distrust, Signer};
use crate::spnego;
use crate::wire::{WireError, Writer};
use crate::Credentials;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Refuse to buffer anything bigger from a server (our reads ask for 64 KiB at most).
const MAX_MESSAGE: usize = 1 << 20;
/// NTLM "workstation" name: shows up in the host's logon events, so admins can tell the scan.
const WORKSTATION: &str = "ALM-SCAN";

pub struct Smb2Client {
    stream: TcpStream,
    /// `host:port` as used in errors.
    host: String,
    dialect: u16,
    next_message_id: u64,
    session_id: u64,
    signer: Option<Signer>,
    pub max_transact_size: u32,
    pub max_read_size: u32,
}

impl Smb2Client {
    /// Opens the TCP connection (Direct TCP transport, MS-SMB2 2.1).
    pub async fn connect(host: &str, port: u16, label: &str) -> Result<Self, ScanError> {
        let unreachable = |reason: String| ScanError::Unreachable {
            host: label.to_string(),
            reason,
        };
        let addrs: Vec<_> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| unreachable(format!("the name does not resolve ({e}); check DNS")))?
            .collect();
        let mut last = None;
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(stream) => {
                    stream.set_nodelay(true).ok();
                    return Ok(Self {
                        stream,
                        host: label.to_string(),
                        dialect: 0,
                        next_message_id: 0,
                        session_id: 0,
                        signer: None,
                        max_transact_size: 65536,
                        max_read_size: 65536,
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(unreachable(match last {
            Some(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                "connection refused: nothing accepts SMB on that port; is the host a Windows \
                 machine with file sharing on, and does its firewall allow TCP 445?"
                    .to_string()
            }
            Some(e) => format!("{e}; is the host up and reachable from here on TCP 445?"),
            None => "the name resolves to no address".to_string(),
        }))
    }

    fn wire(&self, e: WireError) -> ScanError {
        ScanError::protocol(&self.host, format!("malformed answer: {e}"))
    }

    /// Sends one request and returns the final response header and the whole message
    /// (offsets in SMB2 bodies count from the header's start). Interim STATUS_PENDING answers
    /// are skipped; signatures of signed answers are checked.
    async fn call(
        &mut self,
        command: Command,
        tree_id: u32,
        body: impl FnOnce(&mut Writer),
    ) -> Result<(ResponseHeader, Vec<u8>), ScanError> {
        let message_id = self.next_message_id;
        self.next_message_id += 1;
        let mut w = msg::encode_header(&RequestHeader {
            command,
            // Every request here moves less than 64 KiB: one credit (MS-SMB2 3.2.4.1.5).
            credit_charge: 1,
            message_id,
            tree_id,
            session_id: self.session_id,
        });
        body(&mut w);
        let mut bytes = w.into_inner();
        // SESSION_SETUP requests are never signed (MS-SMB2 3.2.4.1.1): the server learns
        // the key only from the last one.
        let request_signed = match (&self.signer, command == Command::SessionSetup) {
            (Some(signer), false) => {
                signer.sign(&mut bytes);
                true
            }
            _ => false,
        };
        let mut frame = (bytes.len() as u32).to_be_bytes();
        frame[0] = 0; // Direct TCP: a zero byte, then a 24-bit length
        let io = |e: std::io::Error| ScanError::Unreachable {
            host: self.host.clone(),
            reason: format!("the connection broke: {e}"),
        };
        self.stream
            .write_all(&[&frame[..], &bytes].concat())
            .await
            .map_err(io)?;
        loop {
            let reply = self.read_message().await?;
            let header = msg::parse_header(&reply).map_err(|e| self.wire(e))?;
            if header.message_id != message_id {
                // An oplock break or a stray answer: nothing we asked for.
                continue;
            }
            if header.flags & msg::FLAGS_ASYNC_COMMAND != 0 && header.status == msg::STATUS_PENDING
            {
                continue; // interim answer; the real one follows
            }
            if header.command != command as u16 {
                return Err(ScanError::protocol(
                    &self.host,
                    format!(
                        "answer to command {:#x} came back as command {:#x}",
                        command as u16, header.command
                    ),
                ));
            }
            if let Some(why) = distrust(
                self.signer.as_ref(),
                request_signed,
                header.flags,
                header.status,
                &reply,
            ) {
                return Err(ScanError::protocol(&self.host, why));
            }
            return Ok((header, reply));
        }
    }

    async fn read_message(&mut self) -> Result<Vec<u8>, ScanError> {
        let io = |e: std::io::Error| ScanError::Unreachable {
            host: self.host.clone(),
            reason: format!("the connection broke: {e}"),
        };
        let mut frame = [0u8; 4];
        self.stream.read_exact(&mut frame).await.map_err(io)?;
        let len = u32::from_be_bytes(frame) as usize;
        if frame[0] != 0 || len > MAX_MESSAGE {
            return Err(ScanError::protocol(
                &self.host,
                "the port does not speak SMB2 (bad message framing)",
            ));
        }
        let mut buf = vec![0u8; len];
        self.stream.read_exact(&mut buf).await.map_err(io)?;
        Ok(buf)
    }

    fn check(&self, step: &str, header: &ResponseHeader, ok: &[u32]) -> Result<(), ScanError> {
        if ok.contains(&header.status) {
            Ok(())
        } else {
            Err(nt_status_error(&self.host, step, header.status))
        }
    }

    /// NEGOTIATE: picks 2.1, 3.0 or 3.0.2.
    pub async fn negotiate(&mut self) -> Result<(), ScanError> {
        let guid: [u8; 16] = rand::random();
        let (h, reply) = self
            .call(Command::Negotiate, 0, |w| msg::negotiate_body(w, &guid))
            .await?;
        if h.status == 0xc000_00bb {
            return Err(ScanError::protocol(
                &self.host,
                "the host speaks none of SMB 2.1, 3.0, 3.0.2 (STATUS_NOT_SUPPORTED)",
            ));
        }
        self.check("SMB negotiation", &h, &[msg::STATUS_SUCCESS])?;
        let n = msg::parse_negotiate(&reply).map_err(|e| self.wire(e))?;
        if !msg::DIALECTS.contains(&n.dialect) {
            return Err(ScanError::protocol(
                &self.host,
                format!(
                    "the host chose SMB dialect {:#06x}, which was not offered",
                    n.dialect
                ),
            ));
        }
        self.dialect = n.dialect;
        self.max_transact_size = n.max_transact_size.max(4280);
        self.max_read_size = n.max_read_size.max(4280);
        Ok(())
    }

    /// SESSION_SETUP with NTLMv2 in SPNEGO (two round trips); afterwards every request is
    /// signed with the session key.
    pub async fn session_setup(&mut self, creds: &Credentials) -> Result<(), ScanError> {
        let negotiate = ntlm::negotiate_message();
        let token = spnego::neg_token_init(&negotiate);
        let (h, reply) = self
            .call(Command::SessionSetup, 0, |w| {
                msg::session_setup_body(w, &token)
            })
            .await?;
        self.check("logon", &h, &[msg::STATUS_MORE_PROCESSING_REQUIRED])?;
        self.session_id = h.session_id;
        let (_, token) = msg::parse_session_setup(&reply).map_err(|e| self.wire(e))?;
        let resp = spnego::parse_neg_token_resp(&token).map_err(|e| self.wire(e))?;
        let challenge_bytes = resp.response_token.ok_or_else(|| {
            ScanError::protocol(
                &self.host,
                "the host offered no NTLM challenge (NTLM disabled?)",
            )
        })?;
        let challenge = ntlm::parse_challenge(&challenge_bytes).map_err(|e| self.wire(e))?;

        let key = ntlm::ntowf_v2(creds.password.expose(), &creds.user, &creds.domain);
        let client_challenge: [u8; 8] = rand::random();
        let timestamp = challenge.timestamp.unwrap_or_else(now_filetime);
        let v2 = ntlm::v2_response(
            &key,
            &challenge.server_challenge,
            &client_challenge,
            timestamp,
            &challenge.target_info,
        );
        let auth =
            ntlm::authenticate_message(&challenge, &v2, &creds.user, &creds.domain, WORKSTATION);
        let token = spnego::neg_token_resp(&auth);
        // The server signs its final answer with the new key (3.x always, 2.x when signing
        // is required): set the signer first so `call` verifies that answer.
        self.signer = Some(Signer::new(self.dialect, &v2.session_base_key));
        let (h, reply) = self
            .call(Command::SessionSetup, 0, |w| {
                msg::session_setup_body(w, &token)
            })
            .await?;
        self.check("logon", &h, &[msg::STATUS_SUCCESS])?;
        let (flags, _) = msg::parse_session_setup(&reply).map_err(|e| self.wire(e))?;
        if flags & (msg::SESSION_FLAG_IS_GUEST | msg::SESSION_FLAG_IS_NULL) != 0 {
            // A host that maps unknown users to guest lets anyone "log on"; the scan would
            // only be refused later, with a less clear message.
            return Err(ScanError::LogonFailure {
                host: self.host.clone(),
                reason: "the host logged us on as guest, so it does not know this user".into(),
            });
        }
        Ok(())
    }

    pub async fn tree_connect(&mut self, unc_path: &str) -> Result<u32, ScanError> {
        let (h, _) = self
            .call(Command::TreeConnect, 0, |w| {
                msg::tree_connect_body(w, unc_path)
            })
            .await?;
        self.check("the IPC$ share", &h, &[msg::STATUS_SUCCESS])?;
        Ok(h.tree_id)
    }

    pub async fn open_pipe(&mut self, tree_id: u32, name: &str) -> Result<[u8; 16], ScanError> {
        let (h, reply) = self
            .call(Command::Create, tree_id, |w| msg::create_pipe_body(w, name))
            .await?;
        self.check(&format!("the {name} pipe"), &h, &[msg::STATUS_SUCCESS])?;
        msg::parse_create(&reply).map_err(|e| self.wire(e))
    }

    /// Writes `input` to the pipe and returns (status, first part of the answer); status
    /// STATUS_BUFFER_OVERFLOW means more of the same message waits to be read.
    pub async fn transceive(
        &mut self,
        tree_id: u32,
        file_id: &[u8; 16],
        input: &[u8],
        max_out: u32,
    ) -> Result<(u32, Vec<u8>), ScanError> {
        let max_out = max_out.min(self.max_transact_size).min(65536);
        let (h, reply) = self
            .call(Command::Ioctl, tree_id, |w| {
                msg::ioctl_body(w, msg::FSCTL_PIPE_TRANSCEIVE, file_id, input, max_out)
            })
            .await?;
        self.check(
            "the service control pipe",
            &h,
            &[msg::STATUS_SUCCESS, msg::STATUS_BUFFER_OVERFLOW],
        )?;
        Ok((
            h.status,
            msg::parse_ioctl(&reply).map_err(|e| self.wire(e))?,
        ))
    }

    /// Reads from the pipe: (status, data), STATUS_BUFFER_OVERFLOW as for `transceive`.
    pub async fn read(
        &mut self,
        tree_id: u32,
        file_id: &[u8; 16],
        len: u32,
    ) -> Result<(u32, Vec<u8>), ScanError> {
        let len = len.min(self.max_read_size).min(65536);
        let (h, reply) = self
            .call(Command::Read, tree_id, |w| msg::read_body(w, file_id, len))
            .await?;
        self.check(
            "the service control pipe",
            &h,
            &[msg::STATUS_SUCCESS, msg::STATUS_BUFFER_OVERFLOW],
        )?;
        Ok((h.status, msg::parse_read(&reply).map_err(|e| self.wire(e))?))
    }

    /// Polite goodbye: close the pipe, leave the share, log off. Failures are ignored: the
    /// answers are already in hand and the socket closes anyway.
    pub async fn close_all(&mut self, tree_id: u32, file_id: &[u8; 16]) {
        let _ = self
            .call(Command::Close, tree_id, |w| msg::close_body(w, file_id))
            .await;
        let _ = self
            .call(Command::TreeDisconnect, tree_id, msg::empty_body)
            .await;
        let _ = self.call(Command::Logoff, 0, msg::empty_body).await;
    }
}

/// The current time as a FILETIME, for NTLMv2 when the server sent no timestamp (servers
/// since Windows Server 2008 and Samba always send one). Not a lifecycle decision, so the
/// injected clock of alm-core does not apply.
#[allow(clippy::disallowed_methods)]
fn now_filetime() -> u64 {
    const EPOCH_DIFF_SECS: u64 = 11_644_473_600; // 1601-01-01 to 1970-01-01
    let since_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (since_unix.as_secs() + EPOCH_DIFF_SECS) * 10_000_000
        + u64::from(since_unix.subsec_nanos() / 100)
}

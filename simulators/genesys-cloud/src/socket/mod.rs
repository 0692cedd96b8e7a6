//! The streaming host: WebSocket upgrade at `/channels/{id}` and the per-socket loop (§2).
//!
//! Runs on its own TCP listener (like `streaming.{domain}`, §5) with raw `TcpStream`s, so the
//! simulator controls the TCP socket: RST via SO_LINGER 0, FIN without a close frame, or silence.
//!
//! Contract:
//! - Upgrade of a live channel → 101. A channel that existed but is dead (expired, evicted, its
//!   token expired or revoked) → HTTP 401 (the status clients report on upgrade, §2.1/§5). An id
//!   that never existed → 404. No auth header is needed: the channel URI is the credential (§2.1).
//! - One socket per channel: a second socket on the same channel closes the first (close 1000,
//!   §1 "the first WebSocket disconnects").
//! - Heartbeat `{"topicName":"channel.metadata","eventBody":{"message":"WebSocket Heartbeat"}}`
//!   every `heartbeat_interval` (30 s, §2.2), starting one interval after connect.
//! - Client text `{"message":"ping"}` → `{"topicName":"channel.metadata","eventBody":{"message":"pong"}}`
//!   (§2.2). WebSocket `subscribe`/`unsubscribe` requests: see [`subscribe`].
//! - RFC 6455 ping frames are read and never answered: no pong frame ([UNK] §2.4; field reports
//!   say protocol pings do not keep the socket alive). Pong frames and binary frames are ignored.
//! - Idle cut-off: a socket that sends no JSON message (`ping`, `subscribe`, `unsubscribe`) for
//!   `idle_timeout` is cut off per `idle_action`: by default it goes silent — no heartbeats,
//!   events or pongs, TCP left open, no close frame ([UNK] §2.4; modelled on field reports).
//! - A client close frame is answered with a close frame, then TCP is closed.

mod subscribe;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until, timeout};

use crate::clock::Clock;
use crate::config::IdleAction;
use crate::faults::BadFrameKind;
use crate::models::{ChannelMetadataFrame, ErrorBody};
use crate::org::channels::ChannelStatus;
use crate::org::counters::Counters;
use crate::org::sockets::{Attachment, SocketCmd};
use crate::org::{Org, lock};
use crate::wsframe::{self, ClientFrame, DataKind, FrameError};

/// How long a socket write may block before the connection is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the upgrade request may take to arrive.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the client's side of a closing handshake.
const CLOSE_LINGER: Duration = Duration::from_millis(500);

/// Accepts connections until the org shuts down.
pub(crate) async fn serve(org: Arc<Org>, listener: TcpListener) {
    loop {
        tokio::select! {
            _ = org.cancel.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let org = org.clone();
                    tokio::spawn(async move { handle(org, stream).await });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "streaming accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}

struct Request {
    method: String,
    path: String,
    headers: HashMap<String, String>,
}

async fn read_request(stream: &mut TcpStream, buf: &mut BytesMut) -> Option<Request> {
    loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = buf.split_to(pos + 4);
            let text = String::from_utf8_lossy(&head).into_owned();
            let mut lines = text.split("\r\n");
            let mut first = lines.next()?.split_whitespace();
            let method = first.next()?.to_string();
            let path = first.next()?.to_string();
            let headers = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                .collect();
            return Some(Request { method, path, headers });
        }
        if buf.len() > 16 * 1024 {
            return None;
        }
        match stream.read_buf(buf).await {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

async fn reject(org: &Org, mut stream: TcpStream, status: u16, reason: &str, code: &str, message: &str) {
    Counters::inc(&org.counters.upgrades_rejected);
    let body = serde_json::to_string(&ErrorBody {
        message: message.to_string(),
        code: code.to_string(),
        status,
        message_params: None,
        context_id: uuid::Uuid::new_v4().to_string(),
        details: Vec::new(),
        errors: Vec::new(),
        limit: None,
    })
    .unwrap_or_default();
    let resp = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = timeout(WRITE_TIMEOUT, stream.write_all(resp.as_bytes())).await;
    let _ = stream.shutdown().await;
}

async fn handle(org: Arc<Org>, mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = BytesMut::with_capacity(4096);
    let req = match timeout(HANDSHAKE_TIMEOUT, read_request(&mut stream, &mut buf)).await {
        Ok(Some(r)) => r,
        _ => return,
    };
    let header = |name: &str| req.headers.get(name).map(String::as_str).unwrap_or("");
    let is_upgrade = header("upgrade").eq_ignore_ascii_case("websocket")
        && header("connection").to_ascii_lowercase().contains("upgrade")
        && !header("sec-websocket-key").is_empty();
    let path = req.path.split('?').next().unwrap_or("");
    let Some(channel_id) = path.strip_prefix("/channels/").filter(|id| !id.is_empty() && !id.contains('/')) else {
        return reject(&org, stream, 404, "Not Found", "not.found", "No such path").await;
    };
    let channel_id = channel_id.to_string();
    if req.method != "GET" || !is_upgrade {
        return reject(&org, stream, 400, "Bad Request", "bad.request", "WebSocket upgrade required").await;
    }
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(header("sec-websocket-key").as_bytes());
    let (tx, rx) = mpsc::unbounded_channel();
    let now = Instant::now();
    let attached = {
        let mut st = lock(&org.state);
        match st.channel_status(&channel_id, now) {
            ChannelStatus::Unknown => Err(404),
            ChannelStatus::Dead(_) => Err(401),
            ChannelStatus::Live => {
                let conn_id = st.next_conn_id();
                match st.channels.get_mut(&channel_id) {
                    Some(ch) => {
                        ch.last_used = now;
                        let old = ch.socket.replace(Attachment { conn_id, tx: tx.clone() });
                        Ok((conn_id, old, ch.client_id.clone()))
                    }
                    None => Err(404),
                }
            }
        }
    };
    let (conn_id, old, client_id) = match attached {
        Ok(a) => a,
        Err(404) => return reject(&org, stream, 404, "Not Found", "not.found", "Channel not found").await,
        Err(_) => {
            return reject(&org, stream, 401, "Unauthorized", "bad.credentials", "Channel is no longer valid").await;
        }
    };
    if let Some(old) = old {
        let _ = old.tx.send(SocketCmd::Replaced);
    }
    let resp = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    if !matches!(timeout(WRITE_TIMEOUT, stream.write_all(resp.as_bytes())).await, Ok(Ok(()))) {
        detach(&org, &channel_id, conn_id);
        return;
    }
    Counters::inc(&org.counters.sockets_accepted);
    Counters::inc(&org.counters.sockets_open);
    tracing::debug!(channel = channel_id, conn_id, client = client_id, "socket connected");
    let conn = Conn {
        org: org.clone(),
        channel_id: channel_id.clone(),
        conn_id,
        stream,
        buf,
        rx,
        _tx: tx,
        silent: false,
        last_activity: now,
        fragments: None,
        closing_at: None,
    };
    conn.run().await;
    detach(&org, &channel_id, conn_id);
    Counters::dec(&org.counters.sockets_open);
    tracing::debug!(channel = channel_id, conn_id, "socket gone");
}

/// Removes this connection from its channel if it is still the attached one.
fn detach(org: &Org, channel_id: &str, conn_id: u64) {
    let mut st = lock(&org.state);
    if let Some(ch) = st.channels.get_mut(channel_id)
        && ch.socket.as_ref().is_some_and(|a| a.conn_id == conn_id)
    {
        ch.socket = None;
        ch.last_used = Instant::now();
    }
}

/// How a loop iteration ends the connection.
enum End {
    /// Just drop (peer gone or shutdown).
    Drop,
    /// Close frame, then FIN.
    CloseFrame(u16, String),
    /// FIN without a close frame.
    Fin,
    /// RST.
    Reset,
}

struct Conn {
    org: Arc<Org>,
    channel_id: String,
    conn_id: u64,
    stream: TcpStream,
    buf: BytesMut,
    rx: mpsc::UnboundedReceiver<SocketCmd>,
    /// Keeps `rx` open for the connection's lifetime.
    _tx: mpsc::UnboundedSender<SocketCmd>,
    silent: bool,
    last_activity: Instant,
    fragments: Option<(DataKind, Vec<u8>)>,
    closing_at: Option<Instant>,
}

impl Conn {
    async fn run(mut self) {
        let n = &self.org.cfg.notifications;
        let hb_every = self.org.real(n.heartbeat_interval).max(Duration::from_millis(1));
        let idle = n.idle_timeout.map(|d| self.org.real(d));
        let idle_action = n.idle_action;
        let mut next_hb = Instant::now() + hb_every;
        let far = || Instant::now() + Duration::from_secs(86_400 * 365);
        let end = loop {
            let idle_at = match idle {
                Some(d) if !self.silent => self.last_activity + d,
                _ => far(),
            };
            let hb_at = if self.silent { far() } else { next_hb };
            let closing_at = self.closing_at.unwrap_or_else(far);
            tokio::select! {
                _ = self.org.cancel.cancelled() => break End::Drop,
                read = self.stream.read_buf(&mut self.buf) => match read {
                    Ok(0) | Err(_) => break End::Drop,
                    Ok(_) => {
                        if let Some(end) = self.process_input().await {
                            break end;
                        }
                    }
                },
                Some(cmd) = self.rx.recv(), if !self.silent => {
                    if let Some(end) = self.command(cmd).await {
                        break end;
                    }
                },
                _ = sleep_until(hb_at), if !self.silent => {
                    next_hb += hb_every;
                    let text = serde_json::to_string(&ChannelMetadataFrame::heartbeat()).unwrap_or_default();
                    if !self.write(&wsframe::text(&text)).await {
                        break End::Drop;
                    }
                    Counters::inc(&self.org.counters.heartbeats_sent);
                },
                _ = sleep_until(idle_at), if !self.silent && idle.is_some() => {
                    tracing::info!(channel = self.channel_id, conn_id = self.conn_id, "idle cut-off");
                    match idle_action {
                        IdleAction::Silent => self.go_silent(),
                        IdleAction::Close1001 => break End::CloseFrame(1001, "idle timeout".into()),
                    }
                },
                _ = sleep_until(closing_at), if self.closing_at.is_some() && !self.silent => {
                    break End::CloseFrame(1001, "socket closing".into());
                },
            }
        };
        self.finish(end).await;
    }

    fn go_silent(&mut self) {
        self.silent = true;
        detach(&self.org, &self.channel_id, self.conn_id);
        // Drain queued commands: a silent server sends nothing more.
        while self.rx.try_recv().is_ok() {}
    }

    async fn write(&mut self, bytes: &[u8]) -> bool {
        matches!(timeout(WRITE_TIMEOUT, self.stream.write_all(bytes)).await, Ok(Ok(())))
    }

    async fn send_text(&mut self, text: &str) -> bool {
        self.write(&wsframe::text(text)).await
    }

    /// Decodes buffered client frames. Returns how to end, if the connection must end.
    async fn process_input(&mut self) -> Option<End> {
        loop {
            let frame = match wsframe::take_frame(&mut self.buf) {
                Ok(Some(f)) => f,
                Ok(None) => return None,
                Err(FrameError::TooLarge(_)) if !self.silent => {
                    return Some(End::CloseFrame(1009, "message too big".into()));
                }
                Err(FrameError::Protocol(m)) if !self.silent => return Some(End::CloseFrame(1002, m)),
                Err(_) => {
                    // Silent: the server is "gone"; swallow everything.
                    self.buf.clear();
                    return None;
                }
            };
            if self.silent {
                continue;
            }
            match frame {
                // RFC 6455 pings get no pong (§2.4 [UNK]; see module docs).
                ClientFrame::Ping(_) | ClientFrame::Pong(_) => {}
                ClientFrame::Close(code) => {
                    let code = code.filter(|c| *c >= 1000 && *c != 1005 && *c != 1006).unwrap_or(1000);
                    return Some(End::CloseFrame(code, String::new()));
                }
                ClientFrame::Data { opcode, fin, payload } => {
                    let message = match (opcode, self.fragments.take()) {
                        (DataKind::Continuation, Some((kind, mut acc))) => {
                            acc.extend_from_slice(&payload);
                            if acc.len() as u64 > wsframe::MAX_CLIENT_FRAME {
                                return Some(End::CloseFrame(1009, "message too big".into()));
                            }
                            if fin {
                                Some((kind, acc))
                            } else {
                                self.fragments = Some((kind, acc));
                                None
                            }
                        }
                        (DataKind::Continuation, None) => {
                            return Some(End::CloseFrame(1002, "unexpected continuation frame".into()));
                        }
                        (kind, Some(_)) => {
                            let _ = kind;
                            return Some(End::CloseFrame(1002, "expected a continuation frame".into()));
                        }
                        (kind, None) => {
                            if fin {
                                Some((kind, payload))
                            } else {
                                self.fragments = Some((kind, payload));
                                None
                            }
                        }
                    };
                    if let Some((DataKind::Text, bytes)) = message
                        && !self.client_text(&bytes).await
                    {
                        return Some(End::Drop);
                    }
                }
            }
        }
    }

    /// Handles one client text message. Returns false if writing failed.
    async fn client_text(&mut self, bytes: &[u8]) -> bool {
        let parsed: Option<serde_json::Value> = serde_json::from_slice(bytes).ok();
        let message = parsed.as_ref().and_then(|v| v.get("message")).and_then(|m| m.as_str()).map(str::to_string);
        let reply = match (message.as_deref(), parsed.as_ref()) {
            (Some("ping"), _) => {
                self.touch();
                serde_json::to_string(&ChannelMetadataFrame::pong()).unwrap_or_default()
            }
            (Some(m @ ("subscribe" | "unsubscribe")), Some(v)) => {
                self.touch();
                subscribe::ws_request(&self.org, &self.channel_id, v, m == "unsubscribe")
            }
            _ => {
                let correlation = parsed
                    .as_ref()
                    .and_then(|v| v.get("correlationId"))
                    .and_then(|c| c.as_str())
                    .unwrap_or("")
                    .to_string();
                serde_json::to_string(&crate::models::SubscribeReply {
                    correlation_id: correlation,
                    topics: Vec::new(),
                    result: "400".into(),
                    status: "error".into(),
                    message: Some("Invalid request.".into()),
                })
                .unwrap_or_default()
            }
        };
        self.send_text(&reply).await
    }

    fn touch(&mut self) {
        let now = Instant::now();
        self.last_activity = now;
        let mut st = lock(&self.org.state);
        if let Some(ch) = st.channels.get_mut(&self.channel_id) {
            ch.last_used = now;
        }
    }

    /// Executes a command. Returns how to end, if the connection must end.
    async fn command(&mut self, cmd: SocketCmd) -> Option<End> {
        match cmd {
            SocketCmd::Event { seq, text } => {
                if !self.send_text(&text).await {
                    return Some(End::Drop);
                }
                lock(&self.org.truth).mark_delivered(seq, &self.channel_id, self.conn_id, Clock::now_ms());
                None
            }
            SocketCmd::SystemThenClose { text, code, reason } => {
                if !self.send_text(&text).await {
                    return Some(End::Drop);
                }
                Some(End::CloseFrame(code, reason))
            }
            SocketCmd::SocketClosing { text, grace } => {
                if !self.send_text(&text).await {
                    return Some(End::Drop);
                }
                self.closing_at = Some(Instant::now() + grace);
                None
            }
            SocketCmd::HalfOpen => {
                self.go_silent();
                None
            }
            SocketCmd::Reset => Some(End::Reset),
            SocketCmd::Close { code, reason } => {
                if code == 1005 || code == 1006 {
                    Some(End::Fin)
                } else {
                    Some(End::CloseFrame(code, reason))
                }
            }
            SocketCmd::Replaced => Some(End::CloseFrame(1000, "replaced by a new connection to this channel".into())),
            SocketCmd::BadFrame { kind, size } => {
                let ok = match kind {
                    BadFrameKind::InvalidJson => {
                        self.send_text(r#"{"topicName":"channel.metadata","eventBody":{"message":"WebSocket Hea"#).await
                    }
                    BadFrameKind::UnknownTopic => {
                        let id = uuid::Uuid::new_v4();
                        let text = format!(
                            r#"{{"topicName":"v2.sim.unknown.{id}","version":"2","eventBody":{{"id":"{id}"}},"metadata":{{"CorrelationId":"{id}"}}}}"#
                        );
                        self.send_text(&text).await
                    }
                    BadFrameKind::Oversized => {
                        let id = uuid::Uuid::new_v4();
                        let head = format!(
                            r#"{{"topicName":"v2.sim.oversized.{id}","version":"2","metadata":{{"CorrelationId":"{id}"}},"eventBody":{{"padding":""#
                        );
                        let tail = r#""}}"#;
                        let pad = size.saturating_sub(head.len() + tail.len());
                        let text = format!("{head}{}{tail}", "x".repeat(pad));
                        self.send_text(&text).await
                    }
                    BadFrameKind::Binary => self.write(&wsframe::binary(&[0xde, 0xad, 0xbe, 0xef, 0x00, 0xff])).await,
                };
                if ok { None } else { Some(End::Drop) }
            }
        }
    }

    async fn finish(mut self, end: End) {
        detach(&self.org, &self.channel_id, self.conn_id);
        match end {
            End::Drop => {}
            End::Reset => {
                let _ = self.stream.set_zero_linger();
            }
            End::Fin => {
                let _ = self.stream.shutdown().await;
                self.drain().await;
            }
            End::CloseFrame(code, reason) => {
                let _ = self.write(&wsframe::close(code, &reason)).await;
                let _ = self.stream.shutdown().await;
                self.drain().await;
            }
        }
    }

    /// Reads until EOF (bounded), so that closing does not turn into a reset on unread data.
    async fn drain(&mut self) {
        let deadline = Instant::now() + CLOSE_LINGER;
        let mut scratch = [0u8; 4096];
        while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, self.stream.read(&mut scratch)).await {
            if n == 0 {
                break;
            }
        }
    }
}

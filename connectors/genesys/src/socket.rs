//! One Notification API WebSocket: application-level keep-alive and death detection.
//!
//! Genesys ignores RFC 6455 pings; it answers `{"message":"ping"}` with a `pong` notification
//! (reference §2.2). The socket actor sends that ping every `ping_interval`, requires the pong
//! within `pong_timeout`, and requires *some* frame within `watchdog`. It never blocks on the
//! consumer of its events: if the consumer falls behind by a full buffer, the socket declares
//! itself dead (`Overflow`) rather than drop an event silently — the lost span then becomes a
//! gap like any other death.

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_util::sync::CancellationToken;

use crate::frame::{Inbound, classify};
use crate::net::{Egress, TunnelError, Ws, WsConnectError, connect_ws};
use crate::notification::Notification;

const PING: &str = r#"{"message":"ping"}"#;

/// Keep-alive settings for one socket.
#[derive(Debug, Clone)]
pub struct SocketSettings {
    pub ping_interval: Duration,
    pub pong_timeout: Duration,
    pub watchdog: Duration,
    pub connect_timeout: Duration,
    pub max_frame_bytes: usize,
    /// Events buffered for the consumer before the socket gives up (`Overflow`).
    pub buffer: usize,
    /// The connector's name, for metrics.
    pub connector: String,
    /// Direct or through a proxy, and the extra trust for `wss://`.
    pub egress: Egress,
}

/// Something the socket saw, in arrival order.
#[derive(Debug)]
pub enum SocketEvent {
    /// A heartbeat or pong arrived: the socket was alive at `at_ms`.
    Proof {
        at_ms: i64,
    },
    Conversation(Notification),
    SocketClosing,
    SubscriptionChanged,
    /// A frame that could not be used (logged and counted, never fatal).
    Bad {
        reason: String,
    },
    UnknownTopic {
        topic: String,
    },
}

/// Why a socket is dead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Death {
    MissedPong,
    Silence,
    Closed {
        code: Option<u16>,
        reason: String,
    },
    /// TCP ended or failed without a close frame.
    Transport(String),
    NoLongerSubscribed,
    TokenRevoked,
    /// A `{"result":"404"}` frame.
    ChannelGone,
    /// The consumer fell a full buffer behind.
    Overflow,
    /// We closed it.
    Stopped,
}

impl Death {
    /// A short label for metrics and status.
    pub fn cause(&self) -> &'static str {
        match self {
            Death::MissedPong => "missed_pong",
            Death::Silence => "silence",
            Death::Closed { .. } => "closed",
            Death::Transport(_) => "transport",
            Death::NoLongerSubscribed => "no_longer_subscribed",
            Death::TokenRevoked => "token_revoked",
            Death::ChannelGone => "channel_gone",
            Death::Overflow => "overflow",
            Death::Stopped => "stopped",
        }
    }

    /// Whether the channel itself is known to be unusable (not just this socket).
    pub fn channel_dead(&self) -> bool {
        matches!(self, Death::NoLongerSubscribed | Death::TokenRevoked | Death::ChannelGone)
    }
}

impl std::fmt::Display for Death {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Death::MissedPong => f.write_str("no pong within the deadline"),
            Death::Silence => f.write_str("no frame within the watchdog"),
            Death::Closed { code: Some(code), reason } => write!(f, "closed by the server with code {code} {reason}"),
            Death::Closed { code: None, reason } => write!(f, "closed by the server without a code {reason}"),
            Death::Transport(e) => write!(f, "connection lost without a close frame: {e}"),
            Death::NoLongerSubscribed => f.write_str("v2.system.no_longer_subscribed: the channel was replaced"),
            Death::TokenRevoked => f.write_str("v2.system.token_revoked: the channel died with its token"),
            Death::ChannelGone => f.write_str("a 404 result frame: the channel is gone"),
            Death::Overflow => f.write_str("events arrived faster than they could be produced"),
            Death::Stopped => f.write_str("closed by the connector"),
        }
    }
}

/// How a socket ended.
#[derive(Debug, Clone)]
pub struct Ending {
    pub death: Death,
    /// The last heartbeat or pong: the socket was alive then.
    pub last_proof_ms: i64,
    /// When the death was detected.
    pub detected_ms: i64,
}

/// The socket could not be opened or did not answer its first ping.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot connect to the channel's socket: {0}")]
    Connect(String),
    #[error("the channel refused the socket (HTTP {0})")]
    Refused(u16),
    /// The proxy refused or failed the tunnel.
    #[error("cannot open the channel's socket: {0}")]
    Proxy(TunnelError),
    #[error("no pong within {0:?} of connecting")]
    NoPong(Duration),
    #[error("the socket died while opening: {0}")]
    Died(Death),
}

/// A running socket.
pub struct Socket {
    pub events: mpsc::Receiver<SocketEvent>,
    pub ending: oneshot::Receiver<Ending>,
    stop: CancellationToken,
    /// When the first pong arrived.
    pub healthy_ms: i64,
}

impl Socket {
    /// Asks the socket to close; its `ending` then reports [`Death::Stopped`].
    pub fn close(&self) {
        self.stop.cancel();
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default()
}

impl OpenError {
    /// Retrying will not help until the configuration changes: the proxy wants credentials it
    /// was not given (407).
    pub fn is_fatal(&self) -> bool {
        matches!(self, OpenError::Proxy(e) if e.status() == Some(407))
    }
}

/// Connects to `uri` (through the egress's proxy, if any), sends a ping, and returns once the
/// pong arrives (the socket is healthy). Both steps together take at most twice
/// `connect_timeout`.
pub async fn open(uri: &str, settings: &SocketSettings) -> Result<Socket, OpenError> {
    let config = WebSocketConfig::default()
        .max_message_size(Some(settings.max_frame_bytes))
        .max_frame_size(Some(settings.max_frame_bytes));
    let connect = connect_ws(&settings.egress, uri, config);
    let ws = match tokio::time::timeout(settings.connect_timeout, connect).await {
        Err(_) => {
            let via = match settings.egress.proxy_for_url(uri) {
                Some(proxy) => format!(" (through proxy {proxy})"),
                None => String::new(),
            };
            return Err(OpenError::Connect(format!("no answer within {:?}{via}", settings.connect_timeout)));
        }
        Ok(Err(WsConnectError::Refused { status, .. })) => return Err(OpenError::Refused(status)),
        Ok(Err(WsConnectError::Tunnel(e))) => return Err(OpenError::Proxy(e)),
        Ok(Err(e)) => return Err(OpenError::Connect(e.to_string())),
        Ok(Ok(ws)) => ws,
    };
    let (events_tx, events) = mpsc::channel(settings.buffer.max(16));
    let (ending_tx, mut ending) = oneshot::channel();
    let (healthy_tx, healthy) = oneshot::channel();
    let stop = CancellationToken::new();
    let actor = Actor { settings: settings.clone(), events: events_tx, stop: stop.clone(), healthy: Some(healthy_tx) };
    tokio::spawn(async move {
        let ending = actor.run(ws).await;
        let _ = ending_tx.send(ending);
    });
    let deadline = tokio::time::sleep(settings.connect_timeout);
    tokio::pin!(deadline);
    tokio::select! {
        healthy = healthy => match healthy {
            Ok(at) => Ok(Socket { events, ending, stop, healthy_ms: at }),
            Err(_) => {
                let death = ending.try_recv().map(|e| e.death).unwrap_or(Death::Stopped);
                Err(OpenError::Died(death))
            }
        },
        _ = &mut deadline => {
            stop.cancel();
            Err(OpenError::NoPong(settings.connect_timeout))
        }
    }
}

struct Actor {
    settings: SocketSettings,
    events: mpsc::Sender<SocketEvent>,
    stop: CancellationToken,
    healthy: Option<oneshot::Sender<i64>>,
}

enum Step {
    Continue,
    Die(Death),
}

impl Actor {
    async fn run(mut self, ws: Ws) -> Ending {
        let (mut sink, mut stream) = ws.split();
        let mut last_proof_ms = now_ms();
        let mut last_frame = Instant::now();
        // The first ping goes out at once: it proves the socket before it counts as healthy.
        let mut next_ping = Instant::now();
        let mut awaiting_pong: Option<Instant> = None;
        let death = loop {
            let pong_deadline = awaiting_pong.map(|sent| sent + self.settings.pong_timeout);
            let wake = [Some(next_ping), pong_deadline, Some(last_frame + self.settings.watchdog)]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or_else(|| Instant::now() + self.settings.ping_interval);
            tokio::select! {
                biased;
                _ = self.stop.cancelled() => {
                    let close = Message::Close(Some(CloseFrame { code: 1000.into(), reason: "".into() }));
                    let _ = tokio::time::timeout(Duration::from_secs(1), sink.send(close)).await;
                    break Death::Stopped;
                }
                frame = stream.next() => {
                    last_frame = Instant::now();
                    match frame {
                        None => break Death::Transport("the connection closed".into()),
                        Some(Err(e)) => break Death::Transport(e.to_string()),
                        Some(Ok(Message::Close(frame))) => {
                            break Death::Closed {
                                code: frame.as_ref().map(|f| u16::from(f.code)),
                                reason: frame.map(|f| format!("({})", f.reason)).unwrap_or_default(),
                            };
                        }
                        Some(Ok(Message::Text(text))) => {
                            if let Step::Die(death) = self.on_text(text.as_str(), &mut awaiting_pong, &mut last_proof_ms) {
                                break death;
                            }
                        }
                        Some(Ok(Message::Binary(bytes))) => {
                            if let Step::Die(d) = self.emit(SocketEvent::Bad { reason: format!("a binary frame of {} bytes", bytes.len()) }) {
                                break d;
                            }
                        }
                        // RFC 6455 control frames carry no meaning here.
                        Some(Ok(_)) => {}
                    }
                }
                _ = tokio::time::sleep_until(wake.into()) => {
                    let now = Instant::now();
                    if pong_deadline.is_some_and(|d| now >= d) {
                        break Death::MissedPong;
                    }
                    if now >= last_frame + self.settings.watchdog {
                        break Death::Silence;
                    }
                    if now >= next_ping {
                        next_ping = now + self.settings.ping_interval;
                        if awaiting_pong.is_none() {
                            let send = sink.send(Message::Text(PING.into()));
                            match tokio::time::timeout(self.settings.pong_timeout, send).await {
                                Ok(Ok(())) => awaiting_pong = Some(now),
                                Ok(Err(e)) => break Death::Transport(e.to_string()),
                                Err(_) => break Death::MissedPong,
                            }
                        }
                    }
                }
            }
        };
        Ending { death, last_proof_ms, detected_ms: now_ms() }
    }

    fn emit(&self, event: SocketEvent) -> Step {
        match self.events.try_send(event) {
            Ok(()) => Step::Continue,
            Err(mpsc::error::TrySendError::Full(_)) => Step::Die(Death::Overflow),
            Err(mpsc::error::TrySendError::Closed(_)) => Step::Die(Death::Stopped),
        }
    }

    fn on_text(&mut self, text: &str, awaiting_pong: &mut Option<Instant>, last_proof_ms: &mut i64) -> Step {
        let received_ms = now_ms();
        match classify(text, received_ms) {
            Inbound::Pong => {
                if let Some(sent) = awaiting_pong.take() {
                    metrics::histogram!("genesys_pong_rtt_seconds", "connector" => self.settings.connector.clone())
                        .record(sent.elapsed().as_secs_f64());
                }
                *last_proof_ms = received_ms;
                if let Some(healthy) = self.healthy.take() {
                    let _ = healthy.send(received_ms);
                }
                self.emit(SocketEvent::Proof { at_ms: received_ms })
            }
            Inbound::Heartbeat => {
                *last_proof_ms = received_ms;
                self.emit(SocketEvent::Proof { at_ms: received_ms })
            }
            Inbound::Conversation(notification) => self.emit(SocketEvent::Conversation(notification)),
            Inbound::SocketClosing => self.emit(SocketEvent::SocketClosing),
            Inbound::SubscriptionChanged => self.emit(SocketEvent::SubscriptionChanged),
            Inbound::NoLongerSubscribed { .. } => Step::Die(Death::NoLongerSubscribed),
            Inbound::TokenRevoked => Step::Die(Death::TokenRevoked),
            Inbound::ChannelGone { .. } => Step::Die(Death::ChannelGone),
            Inbound::Result { result, message } => {
                tracing::debug!(result, message = message.as_deref().unwrap_or(""), "result frame");
                Step::Continue
            }
            Inbound::UnknownTopic(topic) => self.emit(SocketEvent::UnknownTopic { topic }),
            Inbound::Bad(reason) => self.emit(SocketEvent::Bad { reason }),
        }
    }
}

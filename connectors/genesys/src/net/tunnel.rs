//! `CONNECT` tunnels through an HTTP proxy, and WebSockets over them.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::Egress;
use super::proxy::{ProxyUrl, authority};

/// The largest proxy answer to `CONNECT` read (status line and headers).
const MAX_CONNECT_RESPONSE: usize = 16 * 1024;

/// A WebSocket to Genesys, direct or tunnelled.
pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// A tunnel could not be opened. Names the proxy as `http://host:port`, never its credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TunnelError {
    #[error("cannot connect to proxy {proxy}: {detail}")]
    Connect { proxy: String, detail: String },
    /// The proxy answered `CONNECT` with something other than 2xx.
    #[error("proxy {proxy} answered {status} {reason} to CONNECT {target}{}", hint(*.status))]
    Refused { proxy: String, target: String, status: u16, reason: String },
    /// The proxy's answer was not HTTP, too long, or cut short.
    #[error("proxy {proxy} gave no usable answer to CONNECT {target}: {detail}")]
    Protocol { proxy: String, target: String, detail: String },
}

fn hint(status: u16) -> &'static str {
    match status {
        407 => " (set the proxy's user and password: http://user:password@host:port)",
        403 => " (the proxy does not allow this destination)",
        _ => "",
    }
}

impl TunnelError {
    /// The proxy's status, when it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            TunnelError::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Opens a TCP connection to `proxy` and asks it, with `CONNECT host:port`, for a tunnel to
/// `host:port`. Returns the stream once the proxy answered 2xx: what follows is the target's.
/// Not bounded in time by itself: callers wrap it in their connect timeout.
pub async fn tunnel(proxy: &ProxyUrl, host: &str, port: u16) -> Result<TcpStream, TunnelError> {
    let target = authority(host, port);
    let proxy_name = proxy.to_string();
    let mut stream = TcpStream::connect((proxy.host(), proxy.port()))
        .await
        .map_err(|e| TunnelError::Connect { proxy: proxy_name.clone(), detail: e.to_string() })?;
    let _ = stream.set_nodelay(true);
    let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some(auth) = proxy.authorization() {
        request.push_str("Proxy-Authorization: ");
        request.push_str(auth.expose());
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    let protocol = |detail: String| TunnelError::Protocol { proxy: proxy_name.clone(), target: target.clone(), detail };
    stream.write_all(request.as_bytes()).await.map_err(|e| protocol(format!("sending CONNECT: {e}")))?;
    // Byte by byte up to the blank line: whatever follows belongs to the tunnel.
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_CONNECT_RESPONSE {
            return Err(protocol(format!("an answer longer than {MAX_CONNECT_RESPONSE} bytes")));
        }
        match stream.read(&mut byte).await {
            Ok(0) => return Err(protocol("the proxy closed the connection without an answer".into())),
            Ok(_) => head.push(byte[0]),
            Err(e) => return Err(protocol(format!("reading the answer: {e}"))),
        }
    }
    let text = String::from_utf8_lossy(&head);
    let status_line = text.lines().next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let status = parts.next().and_then(|s| s.parse::<u16>().ok());
    let reason: String = parts.next().unwrap_or_default().trim().chars().take(100).collect();
    match status {
        Some(status) if version.starts_with("HTTP/") => {
            if (200..300).contains(&status) {
                Ok(stream)
            } else {
                Err(TunnelError::Refused { proxy: proxy_name, target, status, reason })
            }
        }
        _ => Err(protocol(format!("not an HTTP status line: {:?}", status_line.chars().take(100).collect::<String>()))),
    }
}

/// A WebSocket could not be opened. The channel's URI is a credential, so only its host is
/// named.
#[derive(Debug, thiserror::Error)]
pub enum WsConnectError {
    #[error("the channel's connectUri is not a ws:// or wss:// URL with a host")]
    BadUri,
    #[error(transparent)]
    Tunnel(#[from] TunnelError),
    #[error("cannot connect to {target}: {detail}")]
    Connect { target: String, detail: String },
    /// The server answered the upgrade with an HTTP status (401 for a dead channel).
    #[error("{target} refused the WebSocket (HTTP {status})")]
    Refused { target: String, status: u16 },
    #[error("WebSocket handshake with {target}{} failed: {detail}", via(.proxy))]
    Handshake { target: String, proxy: Option<String>, detail: String },
}

fn via(proxy: &Option<String>) -> String {
    proxy.as_deref().map(|p| format!(" through proxy {p}")).unwrap_or_default()
}

/// Opens the WebSocket at `uri` the way `egress` says: directly, or through a `CONNECT` tunnel;
/// TLS for `wss://` with the egress's trust. Not bounded in time by itself.
pub async fn connect_ws(egress: &Egress, uri: &str, config: WebSocketConfig) -> Result<Ws, WsConnectError> {
    let url = reqwest::Url::parse(uri).map_err(|_| WsConnectError::BadUri)?;
    if !matches!(url.scheme(), "ws" | "wss") {
        return Err(WsConnectError::BadUri);
    }
    let host = url.host_str().ok_or(WsConnectError::BadUri)?.trim_start_matches('[').trim_end_matches(']').to_string();
    let port = url.port_or_known_default().ok_or(WsConnectError::BadUri)?;
    let target = format!("{}://{}", url.scheme(), authority(&host, port));
    let proxy = egress.proxy_for(url.scheme(), &host, port);
    let stream = match proxy {
        Some(proxy) => tunnel(proxy, &host, port).await?,
        None => TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| WsConnectError::Connect { target: target.clone(), detail: e.to_string() })?,
    };
    let _ = stream.set_nodelay(true);
    match tokio_tungstenite::client_async_tls_with_config(uri, stream, Some(config), egress.websocket_tls()).await {
        Ok((ws, _)) => Ok(ws),
        Err(tungstenite::Error::Http(response)) => {
            Err(WsConnectError::Refused { target, status: response.status().as_u16() })
        }
        Err(e) => {
            Err(WsConnectError::Handshake { target, proxy: proxy.map(ToString::to_string), detail: e.to_string() })
        }
    }
}

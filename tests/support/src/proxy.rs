//! The HTTP proxy of the egress tests, on 127.0.0.1: `CONNECT host:port` tunnels and
//! absolute-form requests (`GET http://host:port/path`), with optional Basic credentials. It
//! resolves names only from its own table (a name it does not know gets 502), so a client that
//! reaches a host under a non-resolving name must have gone through it. It records every request.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// One request the proxy received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// `CONNECT`, `GET`, `POST`, …
    pub method: String,
    /// `host:port` for `CONNECT`, the absolute URL otherwise.
    pub target: String,
    /// The `Proxy-Authorization` header matched the proxy's credentials (true without any).
    pub authorized: bool,
}

/// What the proxy does.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Forwards to the hosts of `hosts` (name → address), requiring `credentials` if set.
    Forward { hosts: HashMap<String, IpAddr>, credentials: Option<(String, String)> },
    /// Answers every request with 407 Proxy Authentication Required.
    Refuse407,
}

/// A running proxy; it stops on drop.
pub struct TestProxy {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: CancellationToken,
}

impl Drop for TestProxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

const MAX_HEAD: usize = 64 * 1024;
/// No connection through the proxy lives longer than this (tests are bounded anyway).
const MAX_CONNECTION: Duration = Duration::from_secs(300);

impl TestProxy {
    pub async fn start(mode: Mode) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
        let addr = listener.local_addr().expect("proxy address");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = CancellationToken::new();
        let (s, st) = (seen.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = st.cancelled() => break,
                    a = listener.accept() => a,
                };
                let Ok((client, _)) = accepted else { continue };
                let (mode, seen, stop) = (mode.clone(), s.clone(), st.clone());
                tokio::spawn(async move {
                    tokio::select! {
                        _ = stop.cancelled() => {}
                        _ = tokio::time::timeout(MAX_CONNECTION, serve(client, mode, seen)) => {}
                    }
                });
            }
        });
        Self { addr, seen, stop }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://user:password@127.0.0.1:PORT`.
    pub fn url_with(&self, user: &str, password: &str) -> String {
        format!("http://{user}:{password}@{}", self.addr)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

/// Reads up to the blank line, byte by byte so nothing after it is consumed.
async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > MAX_HEAD || stream.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    String::from_utf8(head).ok()
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

async fn answer(stream: &mut TcpStream, status: &str, extra: &str) {
    let response = format!("HTTP/1.1 {status}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n");
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// `host:port` → a socket address, through the proxy's own table only.
fn resolve(hosts: &HashMap<String, IpAddr>, authority: &str) -> Option<SocketAddr> {
    let (host, port) = authority.rsplit_once(':')?;
    let ip = hosts.get(&host.to_ascii_lowercase())?;
    Some(SocketAddr::new(*ip, port.parse().ok()?))
}

async fn serve(mut client: TcpStream, mode: Mode, seen: Arc<Mutex<Vec<Seen>>>) {
    let Some(head) = read_head(&mut client).await else { return };
    let mut request_line = head.lines().next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_string();
    let target = request_line.next().unwrap_or_default().to_string();
    let (hosts, credentials) = match mode {
        Mode::Refuse407 => {
            seen.lock().expect("lock").push(Seen { method, target, authorized: false });
            answer(&mut client, "407 Proxy Authentication Required", "Proxy-Authenticate: Basic realm=\"test\"\r\n")
                .await;
            return;
        }
        Mode::Forward { hosts, credentials } => (hosts, credentials),
    };
    let authorized = match &credentials {
        None => true,
        Some((user, password)) => {
            let expected =
                format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")));
            header(&head, "proxy-authorization") == Some(expected.as_str())
        }
    };
    seen.lock().expect("lock").push(Seen { method: method.clone(), target: target.clone(), authorized });
    if !authorized {
        answer(&mut client, "407 Proxy Authentication Required", "Proxy-Authenticate: Basic realm=\"test\"\r\n").await;
        return;
    }
    if method == "CONNECT" {
        let Some(addr) = resolve(&hosts, &target) else {
            answer(&mut client, "502 Bad Gateway", "").await;
            return;
        };
        let Ok(mut upstream) = TcpStream::connect(addr).await else {
            answer(&mut client, "502 Bad Gateway", "").await;
            return;
        };
        if client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await.is_err() {
            return;
        }
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        return;
    }
    // Absolute form: one request, forwarded in origin form with `Connection: close`.
    let Some(rest) = target.strip_prefix("http://") else {
        answer(&mut client, "400 Bad Request", "").await;
        return;
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let Some(addr) = resolve(&hosts, authority) else {
        answer(&mut client, "502 Bad Gateway", "").await;
        return;
    };
    let Ok(mut upstream) = TcpStream::connect(addr).await else {
        answer(&mut client, "502 Bad Gateway", "").await;
        return;
    };
    let mut forwarded = format!("{method} {path} HTTP/1.1\r\n");
    for line in head.lines().skip(1).filter(|l| !l.is_empty()) {
        let name = line.split(':').next().unwrap_or_default().trim().to_ascii_lowercase();
        if !matches!(name.as_str(), "proxy-authorization" | "proxy-connection" | "connection" | "keep-alive") {
            forwarded.push_str(line);
            forwarded.push_str("\r\n");
        }
    }
    forwarded.push_str("Connection: close\r\n\r\n");
    let length: usize = header(&head, "content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0u8; length];
    if client.read_exact(&mut body).await.is_err() {
        return;
    }
    if upstream.write_all(forwarded.as_bytes()).await.is_err() || upstream.write_all(&body).await.is_err() {
        return;
    }
    let _ = tokio::io::copy(&mut upstream, &mut client).await;
    let _ = client.shutdown().await;
}

//! A plain client of the simulated org, as a test drives it by hand: HTTP with reqwest (tokens,
//! notification channels, subscriptions) and WebSocket frames with tokio-tungstenite. Every
//! network step is bounded by [`STEP`].

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use genesys_cloud_sim::SimHandle;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::simulator::queue_topic;

/// A client's WebSocket.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Upper bound for any single network step.
pub const STEP: Duration = Duration::from_secs(10);

/// An HTTP client whose requests give up after [`STEP`].
pub fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(STEP).build().expect("reqwest client")
}

/// A token for the given client (defaults to the first client).
pub async fn token_for(sim: &SimHandle, id: &str, secret: &str) -> String {
    let resp = http()
        .post(format!("{}/oauth/token", sim.login_base_url()))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token request");
    assert_eq!(resp.status(), 200, "token request failed");
    let body: Value = resp.json().await.expect("token json");
    body["access_token"].as_str().expect("access_token").to_string()
}

/// A token for the org's first client.
pub async fn token(sim: &SimHandle) -> String {
    let c = sim.credentials();
    token_for(sim, &c.client_id, &c.client_secret).await
}

/// Sends a request with a bearer token; returns status and JSON body (Null when empty).
pub async fn call(
    sim: &SimHandle,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = http().request(method, format!("{}{}", sim.api_base_url(), path)).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Creates a notification channel; panics unless 200.
pub async fn create_channel(sim: &SimHandle, token: &str) -> Value {
    let (status, body) = call(sim, reqwest::Method::POST, "/api/v2/notifications/channels", token, None).await;
    assert_eq!(status, 200, "create channel: {body}");
    body
}

/// Replaces a channel's subscriptions with `topics`.
pub async fn subscribe(sim: &SimHandle, token: &str, channel_id: &str, topics: &[String]) -> (u16, Value) {
    let body = Value::Array(topics.iter().map(|t| serde_json::json!({ "id": t })).collect());
    call(
        sim,
        reqwest::Method::PUT,
        &format!("/api/v2/notifications/channels/{channel_id}/subscriptions"),
        token,
        Some(body),
    )
    .await
}

/// Opens a WebSocket to `uri`.
pub async fn connect(uri: &str) -> Ws {
    match tokio::time::timeout(STEP, tokio_tungstenite::connect_async(uri)).await {
        Ok(Ok((ws, _))) => ws,
        Ok(Err(e)) => panic!("websocket connect to {uri} failed: {e}"),
        Err(_) => panic!("websocket connect to {uri} timed out"),
    }
}

/// What the client saw on the socket.
#[derive(Debug)]
pub enum Seen {
    Text(String),
    Binary(Vec<u8>),
    Ping,
    Pong,
    Close(Option<u16>),
    /// The stream ended without a close frame (or with an error such as a reset).
    Ended(String),
    /// Nothing arrived within the wait.
    Nothing,
}

/// The next frame, waiting at most `wait`.
pub async fn next(ws: &mut Ws, wait: Duration) -> Seen {
    match tokio::time::timeout(wait, ws.next()).await {
        Err(_) => Seen::Nothing,
        Ok(None) => Seen::Ended("stream ended".into()),
        Ok(Some(Err(e))) => Seen::Ended(e.to_string()),
        Ok(Some(Ok(m))) => match m {
            Message::Text(t) => Seen::Text(t.to_string()),
            Message::Binary(b) => Seen::Binary(b.to_vec()),
            Message::Ping(_) => Seen::Ping,
            Message::Pong(_) => Seen::Pong,
            Message::Close(c) => Seen::Close(c.map(|c| u16::from(c.code))),
            Message::Frame(_) => Seen::Nothing,
        },
    }
}

/// Reads until a text frame satisfying `pred` arrives (other frames are skipped) or `wait` passes.
pub async fn wait_text(ws: &mut Ws, wait: Duration, pred: impl Fn(&Value) -> bool) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return None;
        }
        match next(ws, left).await {
            Seen::Text(t) => {
                if let Ok(v) = serde_json::from_str::<Value>(&t)
                    && pred(&v)
                {
                    return Some(v);
                }
            }
            Seen::Nothing | Seen::Ended(_) | Seen::Close(_) => return None,
            _ => {}
        }
    }
}

/// Sends a text frame.
pub async fn send_text(ws: &mut Ws, text: &str) {
    tokio::time::timeout(STEP, ws.send(Message::text(text.to_string())))
        .await
        .expect("send timed out")
        .expect("send failed");
}

/// Whether `v` is the channel's heartbeat.
pub fn is_heartbeat(v: &Value) -> bool {
    v["topicName"] == "channel.metadata" && v["eventBody"]["message"] == "WebSocket Heartbeat"
}

/// Whether `v` answers a client's `{"message":"ping"}`.
pub fn is_pong(v: &Value) -> bool {
    v["topicName"] == "channel.metadata" && v["eventBody"]["message"] == "pong"
}

/// Creates a channel, subscribes it to `queues`, connects. Returns (channel id, socket).
pub async fn channel_with_socket(sim: &SimHandle, token: &str, queues: &[String]) -> (String, Ws) {
    let ch = create_channel(sim, token).await;
    let id = ch["id"].as_str().expect("channel id").to_string();
    let topics: Vec<String> = queues.iter().map(|q| queue_topic(q)).collect();
    if !topics.is_empty() {
        let (status, body) = subscribe(sim, token, &id, &topics).await;
        assert_eq!(status, 200, "subscribe: {body}");
    }
    let ws = connect(ch["connectUri"].as_str().expect("connectUri")).await;
    (id, ws)
}

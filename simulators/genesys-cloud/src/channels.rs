//! Notification channels (§1): creation with the 20-per-client budget and eviction, listing,
//! `HEAD` checks, expiry, and the token binding.
//!
//! Contract:
//! - `POST /api/v2/notifications/channels` → `Channel {connectUri, id, expires}`; `expires` is
//!   now + `channel_lifetime` (24 h, scaled) as ISO-8601 with millis and `Z`.
//! - At `max_channels` live channels for the client, creating another evicts the one with the
//!   oldest "last used" time, preferring channels without an active connection (§1). "Last used"
//!   moves on creation, socket connect/disconnect, subscription changes and client frames. The
//!   evicted channel's socket receives `v2.system.no_longer_subscribed.{id}` (reason
//!   `another_channel_subscribed`, §2.5 [INF]) and is closed (close frame 1000).
//! - A channel is dead once expired, evicted, or when the token that created it expired or was
//!   revoked ([INF] token-scoped channels, §1). A dead channel: `HEAD` 404, no events, subscribe
//!   over REST 404 and over the socket `{"result":"404"}`, WebSocket upgrade 401. On expiry (of the
//!   channel or of its token) an open socket is left up and keeps heartbeating but carries no more
//!   events — heartbeats prove the socket, not the subscription. On revocation it receives
//!   `v2.system.token_revoked.{id}` (reason `user_tokens_revoked`) and is closed.
//! - There is no `DELETE` of a channel (§1); the route does not exist (405).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::extract::{Extension, Path, Query, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rand::Rng;
use tokio::time::Instant;

use crate::auth::{AuthCtx, TokenRec, instant_to_wall_ms, token_valid};
use crate::error::ApiError;
use crate::models::{self, ChannelEntityListing, Envelope, Metadata, SystemMessage, iso_ms};
use crate::org::{Counters, Org, State, lock};
use crate::socket::{Attachment, SocketCmd};

/// Why a channel is dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Death {
    Expired,
    Evicted,
    TokenExpired,
    TokenRevoked,
}

impl Death {
    /// A short human reason.
    pub fn as_str(self) -> &'static str {
        match self {
            Death::Expired => "channel expired",
            Death::Evicted => "channel was replaced by another channel",
            Death::TokenExpired => "the token that created the channel expired",
            Death::TokenRevoked => "the token that created the channel was revoked",
        }
    }
}

/// One channel.
#[derive(Debug)]
pub(crate) struct ChannelRec {
    pub id: String,
    pub client_id: String,
    pub token: String,
    pub expires: Instant,
    pub last_used: Instant,
    pub topics: Vec<String>,
    pub topic_set: HashSet<String>,
    pub socket: Option<Attachment>,
    pub killed: Option<Death>,
}

impl ChannelRec {
    /// Why this channel is dead, if it is.
    pub fn death(&self, tokens: &HashMap<String, TokenRec>, now: Instant) -> Option<Death> {
        if let Some(d) = self.killed {
            return Some(d);
        }
        if now >= self.expires {
            return Some(Death::Expired);
        }
        let tok = tokens.get(&self.token);
        if !token_valid(tok, now) {
            return Some(if tok.is_some_and(|t| t.revoked) { Death::TokenRevoked } else { Death::TokenExpired });
        }
        None
    }

    /// Sets the topic list.
    pub fn set_topics(&mut self, topics: Vec<String>) {
        self.topic_set = topics.iter().cloned().collect();
        self.topics = topics;
    }
}

/// Live / dead / never existed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChannelStatus {
    Live,
    Dead(Death),
    Unknown,
}

impl State {
    /// The status of a channel.
    pub fn channel_status(&self, id: &str, now: Instant) -> ChannelStatus {
        match self.channels.get(id) {
            None => ChannelStatus::Unknown,
            Some(ch) => match ch.death(&self.tokens, now) {
                None => ChannelStatus::Live,
                Some(d) => ChannelStatus::Dead(d),
            },
        }
    }

    /// Ids of live channels, optionally of one client.
    pub fn live_channel_ids(&self, client: Option<&str>, now: Instant) -> Vec<String> {
        let mut ids: Vec<&ChannelRec> = self
            .channels
            .values()
            .filter(|c| client.is_none_or(|cl| c.client_id == cl) && c.death(&self.tokens, now).is_none())
            .collect();
        ids.sort_by(|a, b| a.id.cmp(&b.id));
        ids.into_iter().map(|c| c.id.clone()).collect()
    }
}

/// Which system message to build (§2.5).
#[derive(Debug, Clone, Copy)]
pub(crate) enum SystemKind {
    SocketClosing,
    NoLongerSubscribed,
    TokenRevoked,
}

/// The full text frame of a system message for `channel_id`.
pub(crate) fn system_frame(org: &Org, channel_id: &str, client_id: &str, kind: SystemKind) -> String {
    let (topic, topic_type, reason, message) = match kind {
        SystemKind::SocketClosing => (
            "v2.system.socket_closing".to_string(),
            None,
            None,
            "This WebSocket will be closed in one minute; connect a new WebSocket".to_string(),
        ),
        SystemKind::NoLongerSubscribed => (
            format!("v2.system.no_longer_subscribed.{channel_id}"),
            Some("no_longer_subscribed"),
            Some("another_channel_subscribed"),
            "Channel was removed because another channel was created".to_string(),
        ),
        SystemKind::TokenRevoked => (
            format!("v2.system.token_revoked.{channel_id}"),
            Some("token_revoked"),
            Some("user_tokens_revoked"),
            "The token used to create this channel was revoked".to_string(),
        ),
    };
    let correlation = uuid::Uuid::new_v4().to_string();
    let body = SystemMessage {
        channel_id: channel_id.to_string(),
        system_topic_type: topic_type.map(str::to_string),
        correlation_id: correlation.clone(),
        organization_id: org.cfg.org_id.clone(),
        user_id: None,
        oauth_client_id: client_id.to_string(),
        oauth_client_org_id: org.cfg.org_id.clone(),
        reason: reason.map(str::to_string),
        message,
        data: None,
    };
    let env = Envelope {
        topic_name: topic,
        version: "2".into(),
        event_body: body,
        metadata: Metadata { correlation_id: correlation },
    };
    serde_json::to_string(&env).unwrap_or_default()
}

fn new_channel_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let tail: String = (0..26).map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())])).collect();
    format!("streaming-0-{tail}")
}

fn render(org: &Org, ch: &ChannelRec, show_id: bool) -> models::Channel {
    models::Channel {
        connect_uri: show_id.then(|| format!("{}/channels/{}", org.urls.streaming, ch.id)),
        id: show_id.then(|| ch.id.clone()),
        expires: iso_ms(instant_to_wall_ms(ch.expires)),
    }
}

/// Marks a channel dead and hands back its socket (if any) so the caller can notify it outside the lock.
fn kill_locked(state: &mut State, id: &str, death: Death) -> Option<(String, Attachment)> {
    let ch = state.channels.get_mut(id)?;
    if ch.killed.is_none() {
        ch.killed = Some(death);
    }
    ch.socket.take().map(|a| (ch.client_id.clone(), a))
}

/// Evicts a channel as if a 21st channel had been created: no_longer_subscribed, then close.
/// Returns whether a socket was notified.
pub(crate) fn evict(org: &Org, id: &str) -> bool {
    let taken = kill_locked(&mut lock(&org.state), id, Death::Evicted);
    Counters::inc(&org.counters.channels_evicted);
    notify_and_close(org, id, taken, SystemKind::NoLongerSubscribed)
}

fn notify_and_close(org: &Org, id: &str, taken: Option<(String, Attachment)>, kind: SystemKind) -> bool {
    match taken {
        Some((client_id, att)) => {
            let text = system_frame(org, id, &client_id, kind);
            att.tx.send(SocketCmd::SystemThenClose { text, code: 1000, reason: "channel closed".into() }).is_ok()
        }
        None => false,
    }
}

/// Force-expires a channel now; its socket (if any) stays open but gets no more events.
pub(crate) fn expire_now(org: &Org, id: &str) -> bool {
    let mut st = lock(&org.state);
    match st.channels.get_mut(id) {
        Some(ch) if ch.killed.is_none() => {
            ch.killed = Some(Death::Expired);
            true
        }
        _ => false,
    }
}

/// Revokes tokens; their channels die and their sockets get `token_revoked` and are closed.
/// Returns the ids of channels that died.
pub(crate) fn revoke_tokens(org: &Org, tokens: &[String]) -> Vec<String> {
    let now = Instant::now();
    let mut notify = Vec::new();
    let mut dead = Vec::new();
    {
        let mut st = lock(&org.state);
        for t in tokens {
            if let Some(rec) = st.tokens.get_mut(t) {
                rec.revoked = true;
            }
        }
        let ids: Vec<String> = st
            .channels
            .values()
            .filter(|c| tokens.contains(&c.token) && c.killed.is_none() && now < c.expires)
            .map(|c| c.id.clone())
            .collect();
        for id in ids {
            let taken = kill_locked(&mut st, &id, Death::TokenRevoked);
            dead.push(id.clone());
            notify.push((id, taken));
        }
    }
    for (id, taken) in notify {
        notify_and_close(org, &id, taken, SystemKind::TokenRevoked);
    }
    dead
}

/// `POST /api/v2/notifications/channels`.
pub(crate) async fn create(AxState(org): AxState<Arc<Org>>, Extension(ctx): Extension<AuthCtx>) -> Response {
    let now = Instant::now();
    let max = org.client(&ctx.client_id).map(|c| c.max_channels).unwrap_or(20);
    let lifetime = org.real(org.cfg.notifications.channel_lifetime);
    let mut evicted: Option<(String, Option<(String, Attachment)>)> = None;
    let channel = {
        let mut st = lock(&org.state);
        let mut live: Vec<(bool, Instant, String)> = st
            .channels
            .values()
            .filter(|c| c.client_id == ctx.client_id && c.death(&st.tokens, now).is_none())
            .map(|c| (c.socket.is_some(), c.last_used, c.id.clone()))
            .collect();
        if live.len() >= max {
            live.sort();
            if let Some((_, _, victim)) = live.into_iter().next() {
                let taken = kill_locked(&mut st, &victim, Death::Evicted);
                evicted = Some((victim, taken));
            }
        }
        let id = new_channel_id();
        let rec = ChannelRec {
            id: id.clone(),
            client_id: ctx.client_id.clone(),
            token: ctx.token.clone(),
            expires: now + lifetime,
            last_used: now,
            topics: Vec::new(),
            topic_set: HashSet::new(),
            socket: None,
            killed: None,
        };
        let rendered = render(&org, &rec, true);
        st.channels.insert(id, rec);
        rendered
    };
    Counters::inc(&org.counters.channels_created);
    if let Some((victim, taken)) = evicted {
        Counters::inc(&org.counters.channels_evicted);
        tracing::info!(channel = victim, client = ctx.client_id, "channel evicted by channel budget");
        notify_and_close(&org, &victim, taken, SystemKind::NoLongerSubscribed);
    }
    (StatusCode::OK, axum::Json(channel)).into_response()
}

/// `GET /api/v2/notifications/channels?includechannels=token|oauthclient`.
pub(crate) async fn list(
    AxState(org): AxState<Arc<Org>>,
    Extension(ctx): Extension<AuthCtx>,
    query: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = query else {
        return ApiError::bad_request("invalid query string").into_response();
    };
    let all_tokens = match q.get("includechannels").map(|s| s.to_ascii_lowercase()) {
        None => false,
        Some(v) if v == "token" => false,
        Some(v) if v == "oauthclient" => true,
        Some(v) => return ApiError::bad_request(format!("invalid includechannels value `{v}`")).into_response(),
    };
    let now = Instant::now();
    let st = lock(&org.state);
    let mut chans: Vec<&ChannelRec> = st
        .channels
        .values()
        .filter(|c| c.client_id == ctx.client_id && c.death(&st.tokens, now).is_none())
        .filter(|c| all_tokens || c.token == ctx.token)
        .collect();
    chans.sort_by_key(|c| c.expires);
    // Channels of other tokens are "presented to show their existence" without their ids (§1).
    let entities = chans.into_iter().map(|c| render(&org, c, c.token == ctx.token)).collect();
    (StatusCode::OK, axum::Json(ChannelEntityListing { entities })).into_response()
}

/// `HEAD /api/v2/notifications/channels/{id}`: 200 if live and the caller's, else 404.
pub(crate) async fn head(
    AxState(org): AxState<Arc<Org>>,
    Extension(ctx): Extension<AuthCtx>,
    Path(id): Path<String>,
) -> StatusCode {
    let st = lock(&org.state);
    let ok = st.channels.get(&id).is_some_and(|c| c.client_id == ctx.client_id)
        && st.channel_status(&id, Instant::now()) == ChannelStatus::Live;
    if ok { StatusCode::OK } else { StatusCode::NOT_FOUND }
}

/// Summary of one channel for [`crate::SimHandle::channels`].
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct ChannelInfo {
    pub id: String,
    pub client_id: String,
    pub live: bool,
    /// Why it is dead, if it is.
    pub dead_reason: Option<String>,
    /// A socket is attached (and not half-open).
    pub connected: bool,
    pub topics: Vec<String>,
    pub expires_ms: i64,
}

/// All channels, live and dead.
pub(crate) fn infos(org: &Org) -> Vec<ChannelInfo> {
    let now = Instant::now();
    let st = lock(&org.state);
    let mut out: Vec<ChannelInfo> = st
        .channels
        .values()
        .map(|c| {
            let death = c.death(&st.tokens, now);
            ChannelInfo {
                id: c.id.clone(),
                client_id: c.client_id.clone(),
                live: death.is_none(),
                dead_reason: death.map(|d| d.as_str().to_string()),
                connected: c.socket.is_some(),
                topics: c.topics.clone(),
                expires_ms: instant_to_wall_ms(c.expires),
            }
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

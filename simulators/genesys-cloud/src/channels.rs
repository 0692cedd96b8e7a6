//! Notification channels over REST (§1): creation with the 20-per-client budget and eviction,
//! listing, and `HEAD` checks. The channel record, and when a channel is dead, is in
//! [`crate::org::channels`]; eviction, forced expiry and token revocation in [`crate::org::ending`].
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

use crate::clock::instant_to_wall_ms;
use crate::error::ApiError;
use crate::models::{self, ChannelEntityListing, iso_ms};
use crate::org::channels::{ChannelRec, ChannelStatus, Death};
use crate::org::counters::Counters;
use crate::org::ending::{kill_locked, notify_and_close};
use crate::org::sockets::Attachment;
use crate::org::system::SystemKind;
use crate::org::tokens::AuthCtx;
use crate::org::{Org, lock};

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

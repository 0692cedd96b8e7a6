//! Channel subscriptions over REST and over the WebSocket (§1, §2.2).
//!
//! Contract:
//! - Body `[{"id": "<topic>"}, …]`; `POST` adds, `PUT` replaces (`[]` clears), `DELETE` removes all
//!   (204), `GET` lists. Responses are `ChannelTopicEntityListing` with every current topic as
//!   `{id, state: "Permitted", selfUri?}` plus, with `?ignoreErrors=true`, the rejected entries of
//!   this request as `{id, state: "Rejected", rejectionReason, missingPermissions}`.
//! - More than `max_topics_per_channel` (1,000) topics on the channel after the change → 400 and
//!   nothing changes (§1).
//! - A topic for a queue in the client's `forbidden_queue_ids` → 403 for the whole request, nothing
//!   subscribed ("any permission failure will return a 403 error for the entire request", §1),
//!   unless `ignoreErrors=true`. The permission named in `missingPermissions` is [UNK] in the
//!   reference; `routing:queue:view` is used.
//! - Topic syntax: `v2.routing.queues.{queueId}.conversations` is the topic the simulator publishes.
//!   A well-formed topic for a queue id that does not exist is accepted and never fires ([INF]: the
//!   notification service checks permissions, not existence). Other `v2.*` topics are accepted and
//!   never fire. `v2.system.*`, `channel.metadata` and malformed names (empty segments, longer than
//!   200 characters) are invalid: 400, or `Rejected` with `ignoreErrors=true`.
//! - Unknown channel, another client's channel, or a dead channel → 404.
//! - A successful subscribe (POST/PUT, or WebSocket `subscribe`) moves `expires` to now + lifetime
//!   when `resubscribe_extends` is on (§1 "resubscribe to topics").
//! - WebSocket form: `{"message":"subscribe"|"unsubscribe","topics":[…],"correlationId":"…"}` →
//!   `{"correlationId","topics","result":"200","status":"subscribed"|"unsubscribed"}`; a malformed
//!   request → `{"correlationId","topics":[],"result":"400","status":"error","message":"Required
//!   data missing from subscribe request."}`; a forbidden topic → the same with `"result":"403"`;
//!   a dead channel → `{"result":"404","message":…}`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::time::Instant;

use crate::auth::AuthCtx;
use crate::channels::ChannelStatus;
use crate::error::ApiError;
use crate::models::{ChannelFailure, ChannelTopic, ChannelTopicEntityListing, SubscribeReply};
use crate::org::{Org, lock};

/// The permission reported as missing for a forbidden queue topic ([UNK] in the reference).
pub const QUEUE_TOPIC_PERMISSION: &str = "routing:queue:view";

/// What a topic name means to the simulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TopicKind {
    /// `v2.routing.queues.{id}.conversations`.
    QueueConversations(String),
    /// Syntactically valid, never fires.
    Other,
    /// Not subscribable.
    Invalid(String),
}

/// Classifies a topic name.
pub(crate) fn classify(topic: &str) -> TopicKind {
    if topic.is_empty() || topic.len() > 200 {
        return TopicKind::Invalid("topic names must be 1 to 200 characters".into());
    }
    if topic == "channel.metadata" || topic.starts_with("v2.system") {
        return TopicKind::Invalid(format!("{topic} is delivered automatically and cannot be subscribed to"));
    }
    let base = topic.split('?').next().unwrap_or(topic);
    if !base.starts_with("v2.") || base.split('.').any(str::is_empty) || base.contains(char::is_whitespace) {
        return TopicKind::Invalid(format!("{topic} is not a valid topic"));
    }
    let parts: Vec<&str> = base.split('.').collect();
    if parts.len() == 5 && parts[1] == "routing" && parts[2] == "queues" && parts[4] == "conversations" {
        return TopicKind::QueueConversations(parts[3].to_string());
    }
    TopicKind::Other
}

/// The queue topic for a queue id.
pub fn queue_topic(queue_id: &str) -> String {
    format!("v2.routing.queues.{queue_id}.conversations")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Add,
    Replace,
    Remove,
}

/// A failed subscription change.
#[derive(Debug)]
pub(crate) enum SubError {
    /// Unknown, foreign or dead channel.
    NotFound(String),
    BadRequest(String),
    Forbidden(String),
}

impl SubError {
    fn api(self) -> ApiError {
        match self {
            SubError::NotFound(m) => ApiError::not_found(m),
            SubError::BadRequest(m) => ApiError::bad_request(m),
            SubError::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, "missing.permissions", m),
        }
    }
}

fn self_uri(topic: &str) -> Option<String> {
    match classify(topic) {
        TopicKind::QueueConversations(q) => Some(format!("/api/v2/routing/queues/{q}")),
        _ => None,
    }
}

fn permitted(topic: &str) -> ChannelTopic {
    ChannelTopic {
        id: topic.to_string(),
        state: Some("Permitted".into()),
        rejection_reason: None,
        missing_permissions: None,
        self_uri: self_uri(topic),
    }
}

/// Applies a subscription change for `client_id` on `channel_id`. Returns the listing entities.
pub(crate) fn apply(
    org: &Org,
    client_id: &str,
    channel_id: &str,
    topics: Vec<String>,
    mode: Mode,
    ignore_errors: bool,
) -> Result<Vec<ChannelTopic>, SubError> {
    let now = Instant::now();
    let forbidden: Vec<String> = org.client(client_id).map(|c| c.forbidden_queue_ids.clone()).unwrap_or_default();
    let mut rejected = Vec::new();
    let mut accepted: Vec<String> = Vec::new();
    for t in topics {
        if accepted.contains(&t) || rejected.iter().any(|r: &ChannelTopic| r.id == t) {
            continue;
        }
        if mode == Mode::Remove {
            accepted.push(t);
            continue;
        }
        match classify(&t) {
            TopicKind::Invalid(reason) => {
                if !ignore_errors {
                    return Err(SubError::BadRequest(reason));
                }
                rejected.push(ChannelTopic {
                    id: t,
                    state: Some("Rejected".into()),
                    rejection_reason: Some(reason),
                    missing_permissions: None,
                    self_uri: None,
                });
            }
            TopicKind::QueueConversations(q) if forbidden.contains(&q) => {
                if !ignore_errors {
                    return Err(SubError::Forbidden(format!(
                        "Unable to subscribe to topic {t}: missing permission {QUEUE_TOPIC_PERMISSION}"
                    )));
                }
                rejected.push(ChannelTopic {
                    id: t,
                    state: Some("Rejected".into()),
                    rejection_reason: Some("Permission denied".into()),
                    missing_permissions: Some(vec![QUEUE_TOPIC_PERMISSION.to_string()]),
                    self_uri: None,
                });
            }
            _ => accepted.push(t),
        }
    }
    let max = org.cfg.notifications.max_topics_per_channel;
    let lifetime = org.real(org.cfg.notifications.channel_lifetime);
    let extend = org.cfg.notifications.resubscribe_extends;
    let mut st = lock(&org.state);
    let status = st.channel_status(channel_id, now);
    let Some(ch) = st.channels.get_mut(channel_id).filter(|c| c.client_id == client_id) else {
        return Err(SubError::NotFound(format!("Channel {channel_id} not found")));
    };
    if status != ChannelStatus::Live {
        return Err(SubError::NotFound(format!("Channel {channel_id} not found")));
    }
    let new_topics: Vec<String> = match mode {
        Mode::Replace => accepted,
        Mode::Add => {
            let mut t = ch.topics.clone();
            t.extend(accepted.into_iter().filter(|a| !ch.topic_set.contains(a)));
            t
        }
        Mode::Remove => ch.topics.iter().filter(|t| !accepted.contains(t)).cloned().collect(),
    };
    if new_topics.len() > max {
        return Err(SubError::BadRequest(format!(
            "Subscription would exceed the limit of {max} topics per channel ({} requested)",
            new_topics.len()
        )));
    }
    ch.set_topics(new_topics);
    ch.last_used = now;
    if extend && mode != Mode::Remove && !ch.topics.is_empty() {
        ch.expires = now + lifetime;
    }
    let mut entities: Vec<ChannelTopic> = ch.topics.iter().map(|t| permitted(t)).collect();
    entities.extend(rejected);
    Ok(entities)
}

#[derive(Debug, Deserialize)]
struct TopicRef {
    id: String,
}

fn parse_body(body: &[u8]) -> Result<Vec<String>, ApiError> {
    let refs: Vec<TopicRef> = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("The request body must be a list of {{\"id\": topic}}: {e}")))?;
    Ok(refs.into_iter().map(|r| r.id).collect())
}

type QueryResult = Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>;

fn ignore_errors(q: &QueryResult) -> Result<bool, ApiError> {
    match q {
        Err(_) => Err(ApiError::bad_request("invalid query string")),
        Ok(Query(m)) => match m.get("ignoreErrors").map(|v| v.to_ascii_lowercase()) {
            None => Ok(false),
            Some(v) if v == "true" => Ok(true),
            Some(v) if v == "false" => Ok(false),
            Some(v) => Err(ApiError::bad_request(format!("invalid ignoreErrors value `{v}`"))),
        },
    }
}

fn listing(entities: Vec<ChannelTopic>) -> Response {
    (StatusCode::OK, axum::Json(ChannelTopicEntityListing { entities })).into_response()
}

/// `GET …/subscriptions`.
pub(crate) async fn get(
    AxState(org): AxState<Arc<Org>>,
    Extension(ctx): Extension<AuthCtx>,
    Path(id): Path<String>,
) -> Response {
    let st = lock(&org.state);
    let live = st.channel_status(&id, Instant::now()) == ChannelStatus::Live;
    match st.channels.get(&id).filter(|c| c.client_id == ctx.client_id && live) {
        Some(ch) => listing(ch.topics.iter().map(|t| permitted(t)).collect()),
        None => ApiError::not_found(format!("Channel {id} not found")).into_response(),
    }
}

async fn change(org: Arc<Org>, ctx: AuthCtx, id: String, q: QueryResult, body: Bytes, mode: Mode) -> Response {
    let ignore = match ignore_errors(&q) {
        Ok(i) => i,
        Err(e) => return e.into_response(),
    };
    let topics = match parse_body(&body) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    match apply(&org, &ctx.client_id, &id, topics, mode, ignore) {
        Ok(entities) => listing(entities),
        Err(e) => e.api().into_response(),
    }
}

/// `POST …/subscriptions`.
pub(crate) async fn post(
    AxState(org): AxState<Arc<Org>>,
    Extension(ctx): Extension<AuthCtx>,
    Path(id): Path<String>,
    q: QueryResult,
    body: Bytes,
) -> Response {
    change(org, ctx, id, q, body, Mode::Add).await
}

/// `PUT …/subscriptions`.
pub(crate) async fn put(
    AxState(org): AxState<Arc<Org>>,
    Extension(ctx): Extension<AuthCtx>,
    Path(id): Path<String>,
    q: QueryResult,
    body: Bytes,
) -> Response {
    change(org, ctx, id, q, body, Mode::Replace).await
}

/// `DELETE …/subscriptions`: 204.
pub(crate) async fn delete(
    AxState(org): AxState<Arc<Org>>,
    Extension(ctx): Extension<AuthCtx>,
    Path(id): Path<String>,
) -> Response {
    match apply(&org, &ctx.client_id, &id, Vec::new(), Mode::Replace, false) {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.api().into_response(),
    }
}

/// Handles a WebSocket `subscribe`/`unsubscribe` request; returns the reply frame text.
pub(crate) fn ws_request(org: &Org, channel_id: &str, value: &serde_json::Value, unsubscribe: bool) -> String {
    let correlation = value.get("correlationId").and_then(|v| v.as_str()).unwrap_or("").to_string();
    let topics: Option<Vec<String>> = value
        .get("topics")
        .and_then(|t| t.as_array())
        .and_then(|arr| arr.iter().map(|v| v.as_str().map(str::to_string)).collect::<Option<Vec<String>>>());
    let error = |result: &str, message: String| {
        serde_json::to_string(&SubscribeReply {
            correlation_id: correlation.clone(),
            topics: Vec::new(),
            result: result.into(),
            status: "error".into(),
            message: Some(message),
        })
        .unwrap_or_default()
    };
    let topics = match topics {
        Some(t) if !t.is_empty() => t,
        _ => return error("400", "Required data missing from subscribe request.".into()),
    };
    let client_id = {
        let st = lock(&org.state);
        if st.channel_status(channel_id, Instant::now()) != ChannelStatus::Live {
            return dead_channel_frame(channel_id);
        }
        match st.channels.get(channel_id) {
            Some(c) => c.client_id.clone(),
            None => return dead_channel_frame(channel_id),
        }
    };
    let mode = if unsubscribe { Mode::Remove } else { Mode::Add };
    match apply(org, &client_id, channel_id, topics.clone(), mode, false) {
        Ok(_) => serde_json::to_string(&SubscribeReply {
            correlation_id: correlation,
            topics,
            result: "200".into(),
            status: if unsubscribe { "unsubscribed".into() } else { "subscribed".into() },
            message: None,
        })
        .unwrap_or_default(),
        Err(SubError::NotFound(_)) => dead_channel_frame(channel_id),
        Err(SubError::BadRequest(m)) => error("400", m),
        Err(SubError::Forbidden(m)) => error("403", m),
    }
}

/// `{"result":"404","message":…}` (§2.2).
pub(crate) fn dead_channel_frame(channel_id: &str) -> String {
    serde_json::to_string(&ChannelFailure {
        result: "404".into(),
        message: format!("Channel {channel_id} does not exist or has expired"),
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_topics() {
        assert_eq!(classify("v2.routing.queues.abc.conversations"), TopicKind::QueueConversations("abc".into()));
        assert_eq!(classify("v2.users.abc?presence&routingStatus"), TopicKind::Other);
        assert!(matches!(classify("v2.system.socket_closing"), TopicKind::Invalid(_)));
        assert!(matches!(classify("channel.metadata"), TopicKind::Invalid(_)));
        assert!(matches!(classify("v2..x"), TopicKind::Invalid(_)));
        assert!(matches!(classify("foo"), TopicKind::Invalid(_)));
        assert!(matches!(classify(&"v2.x".repeat(60)), TopicKind::Invalid(_)));
    }
}

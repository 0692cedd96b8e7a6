//! Changing a channel's subscriptions (§1): the rules every subscribe and unsubscribe follows,
//! over REST or over the WebSocket.
//!
//! - More than `max_topics_per_channel` (1,000) topics on the channel after the change → 400 and
//!   nothing changes (§1).
//! - A topic for a queue in the client's `forbidden_queue_ids` → 403 for the whole request, nothing
//!   subscribed ("any permission failure will return a 403 error for the entire request", §1),
//!   unless errors are ignored. The permission named in `missingPermissions` is [UNK] in the
//!   reference; `routing:queue:view` is used.
//! - Invalid topic names (see [`crate::topics`]) → 400, or `Rejected` when errors are ignored.
//! - Unknown channel, another client's channel, or a dead channel → 404.
//! - A successful subscribe moves `expires` to now + lifetime when `resubscribe_extends` is on
//!   (§1 "resubscribe to topics").

use axum::http::StatusCode;
use tokio::time::Instant;

use crate::error::ApiError;
use crate::models::ChannelTopic;
use crate::org::channels::ChannelStatus;
use crate::org::{Org, lock};
use crate::topics::{QUEUE_TOPIC_PERMISSION, TopicKind, classify};

/// How a change combines with the channel's topics.
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
    /// The REST error for this failure.
    pub(crate) fn api(self) -> ApiError {
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

/// The listing entry of a subscribed topic.
pub(crate) fn permitted(topic: &str) -> ChannelTopic {
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

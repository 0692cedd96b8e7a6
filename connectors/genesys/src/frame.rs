//! What a Notification API text frame means (reference §2.2, §2.5).

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::notification::Notification;

/// A classified inbound frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    /// `channel.metadata` / `WebSocket Heartbeat`, about every 30 s.
    Heartbeat,
    /// `channel.metadata` / `pong`: the answer to our `{"message":"ping"}`.
    Pong,
    /// A queue conversation snapshot.
    Conversation(Notification),
    /// `v2.system.socket_closing`: the server will close this socket in about a minute.
    SocketClosing,
    /// `v2.system.no_longer_subscribed.{id}`: the channel lost its subscriptions (e.g. evicted).
    NoLongerSubscribed { reason: Option<String> },
    /// `v2.system.token_revoked.{id}`: the channel's token was revoked.
    TokenRevoked,
    /// `v2.subscription.updated`: the subscriptions changed.
    SubscriptionChanged,
    /// `{"result":"404", …}`: the channel is gone (expired, replaced, or its token expired).
    ChannelGone { message: Option<String> },
    /// The answer to a WebSocket `subscribe` message, or another result frame.
    Result { result: String, message: Option<String> },
    /// A well-formed notification on a topic we did not ask for.
    UnknownTopic(String),
    /// Not JSON, or not a shape we know.
    Bad(String),
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "topicName")]
    topic_name: Option<String>,
    #[serde(rename = "eventBody", borrow)]
    event_body: Option<&'a RawValue>,
    result: Option<serde_json::Value>,
    message: Option<String>,
}

#[derive(Deserialize)]
struct Metadata {
    message: Option<String>,
}

#[derive(Deserialize)]
struct SystemBody {
    reason: Option<String>,
}

const QUEUE_PREFIX: &str = "v2.routing.queues.";
const QUEUE_SUFFIX: &str = ".conversations";

/// The queue id of a `v2.routing.queues.{id}.conversations` topic.
pub fn queue_of_topic(topic: &str) -> Option<&str> {
    let id = topic.strip_prefix(QUEUE_PREFIX)?.strip_suffix(QUEUE_SUFFIX)?;
    (!id.is_empty() && !id.contains('.')).then_some(id)
}

/// The topic of a queue's conversations.
pub fn queue_topic(queue_id: &str) -> String {
    format!("{QUEUE_PREFIX}{queue_id}{QUEUE_SUFFIX}")
}

/// Classifies one text frame received at `received_ms`. Never fails: anything unexpected is
/// [`Inbound::Bad`].
pub fn classify(text: &str, received_ms: i64) -> Inbound {
    let envelope: Envelope<'_> = match serde_json::from_str(text) {
        Ok(e) => e,
        Err(e) => return Inbound::Bad(format!("not a JSON notification: {e}")),
    };
    let Some(topic) = envelope.topic_name else {
        return match envelope.result {
            Some(result) => {
                let result = match result {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                if result == "404" {
                    Inbound::ChannelGone { message: envelope.message }
                } else {
                    Inbound::Result { result, message: envelope.message }
                }
            }
            None => Inbound::Bad("a frame without topicName or result".into()),
        };
    };
    if topic == "channel.metadata" {
        let message = envelope
            .event_body
            .and_then(|b| serde_json::from_str::<Metadata>(b.get()).ok())
            .and_then(|m| m.message)
            .unwrap_or_default();
        return match message.as_str() {
            "pong" => Inbound::Pong,
            "WebSocket Heartbeat" => Inbound::Heartbeat,
            // Some other metadata: still a sign of life, like a heartbeat.
            _ => Inbound::Heartbeat,
        };
    }
    if topic == "v2.system.socket_closing" {
        return Inbound::SocketClosing;
    }
    if topic.starts_with("v2.system.no_longer_subscribed") {
        let reason =
            envelope.event_body.and_then(|b| serde_json::from_str::<SystemBody>(b.get()).ok()).and_then(|b| b.reason);
        return Inbound::NoLongerSubscribed { reason };
    }
    if topic.starts_with("v2.system.token_revoked") {
        return Inbound::TokenRevoked;
    }
    if topic == "v2.subscription.updated" {
        return Inbound::SubscriptionChanged;
    }
    if let Some(queue_id) = queue_of_topic(&topic) {
        return match envelope.event_body {
            Some(raw) => Inbound::Conversation(Notification {
                queue_id: queue_id.to_owned(),
                raw_body: raw.get().to_owned(),
                topic,
                received_ms,
                channel_id: None,
            }),
            None => Inbound::Bad(format!("notification on {topic} without an eventBody")),
        };
    }
    Inbound::UnknownTopic(topic)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify_at(text: &str) -> Inbound {
        classify(text, 7)
    }

    #[test]
    fn heartbeats_pongs_and_system_messages() {
        assert_eq!(
            classify_at(r#"{"topicName":"channel.metadata","eventBody":{"message":"WebSocket Heartbeat"}}"#),
            Inbound::Heartbeat
        );
        assert_eq!(classify_at(r#"{"topicName":"channel.metadata","eventBody":{"message":"pong"}}"#), Inbound::Pong);
        assert_eq!(classify_at(r#"{"topicName":"v2.system.socket_closing","eventBody":{}}"#), Inbound::SocketClosing);
        assert_eq!(
            classify_at(
                r#"{"topicName":"v2.system.no_longer_subscribed.c1","eventBody":{"reason":"another_channel_subscribed"}}"#
            ),
            Inbound::NoLongerSubscribed { reason: Some("another_channel_subscribed".into()) }
        );
        assert_eq!(classify_at(r#"{"topicName":"v2.system.token_revoked.c1","eventBody":{}}"#), Inbound::TokenRevoked);
        assert_eq!(
            classify_at(r#"{"result":"404","message":"channel gone"}"#),
            Inbound::ChannelGone { message: Some("channel gone".into()) }
        );
        assert_eq!(
            classify_at(r#"{"correlationId":"x","topics":[],"result":"200","status":"subscribed"}"#),
            Inbound::Result { result: "200".into(), message: None }
        );
    }

    #[test]
    fn conversation_bodies_are_kept_verbatim() {
        let frame = r#"{"topicName":"v2.routing.queues.q-1.conversations","version":"2","eventBody":{"id":"c1", "participants":[]},"metadata":{"CorrelationId":"k"}}"#;
        assert_eq!(
            classify_at(frame),
            Inbound::Conversation(Notification {
                queue_id: "q-1".into(),
                topic: "v2.routing.queues.q-1.conversations".into(),
                raw_body: r#"{"id":"c1", "participants":[]}"#.into(),
                received_ms: 7,
                channel_id: None,
            })
        );
    }

    #[test]
    fn bad_and_unknown_frames_are_named() {
        assert!(matches!(classify_at("not json"), Inbound::Bad(_)));
        assert!(matches!(classify_at("{}"), Inbound::Bad(_)));
        assert!(matches!(classify_at(r#"{"topicName":"v2.routing.queues.q.conversations"}"#), Inbound::Bad(_)));
        assert_eq!(
            classify_at(r#"{"topicName":"v2.users.u.presence","eventBody":{}}"#),
            Inbound::UnknownTopic("v2.users.u.presence".into())
        );
        assert_eq!(queue_of_topic("v2.routing.queues.a.b.conversations"), None);
        assert_eq!(queue_topic("q"), "v2.routing.queues.q.conversations");
    }
}

//! Topic names: what a notification topic means to the org, and the queue topic the traffic
//! publishes on.
//!
//! - `v2.routing.queues.{queueId}.conversations` is the topic the simulator publishes. A
//!   well-formed topic for a queue id that does not exist is accepted and never fires ([INF]: the
//!   notification service checks permissions, not existence). Other `v2.*` topics are accepted and
//!   never fire. `v2.system.*`, `channel.metadata` and malformed names (empty segments, longer than
//!   200 characters) are invalid.
//! - A topic for a queue the client may not see lacks [`QUEUE_TOPIC_PERMISSION`].

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

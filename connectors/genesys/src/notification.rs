//! One queue conversation notification on its way from a WebSocket frame to a record.
//!
//! It is read once: the frame's `eventBody` is parsed here and its text copied here, once
//! ([`crate::frame`]); the socket stamps when it arrived, the shard which channel carried it,
//! and the task maps it into a record ([`crate::record::from_notification`]), which takes the
//! text over without copying it again.

use std::sync::Arc;

use serde_json::Value;

/// A `v2.routing.queues.{id}.conversations` notification.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The queue of the topic.
    pub queue_id: String,
    /// The topic it was published on.
    pub topic: String,
    /// The conversation snapshot (`eventBody`), parsed.
    pub body: Value,
    /// The same `eventBody`, exactly as sent: what the record keeps.
    pub raw_body: String,
    /// When the socket received it, epoch ms.
    pub received_ms: i64,
    /// The channel that delivered it (set by the shard that owns the socket).
    pub channel_id: Option<Arc<str>>,
}

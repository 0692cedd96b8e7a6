//! One queue conversation notification on its way from a WebSocket frame to a record.
//!
//! The frame ([`crate::frame`]) copies the `eventBody` text out of the frame, once; the socket
//! stamps when it arrived and the shard which channel carried it; the task maps it into a record
//! ([`crate::record::from_notification`]), which parses the body, once, and takes the text over
//! as the record's `event_body` without copying it again. The body is parsed where its parsed
//! form is dropped, so the allocations of the parse never cross threads.

use std::sync::Arc;

/// A `v2.routing.queues.{id}.conversations` notification.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The queue of the topic.
    pub queue_id: String,
    /// The topic it was published on.
    pub topic: String,
    /// The conversation snapshot (`eventBody`), exactly as sent (well-formed JSON).
    pub raw_body: String,
    /// When the socket received it, epoch ms.
    pub received_ms: i64,
    /// The channel that delivered it (set by the shard that owns the socket).
    pub channel_id: Option<Arc<str>>,
}

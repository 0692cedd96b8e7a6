//! The part of building a record that every source shares.

use serde_json::Value;

use super::digest::event_id_for;
use super::json::newest;
use super::{ConversationEvent, Participant, Source};

/// Where a record came from.
pub(super) struct Origin<'a> {
    pub tenant: &'a str,
    pub queue_id: &'a str,
    pub source: Source,
    pub topic_name: &'a str,
    pub channel_id: Option<&'a str>,
    pub received_ms: i64,
}

/// A conversation in the normalised form, before it becomes a record.
pub(super) struct Normalized {
    pub conversation_id: String,
    pub participants: Vec<Participant>,
    pub start_ms: Option<i64>,
    /// Set iff the conversation has ended.
    pub end_ms: Option<i64>,
    /// The newest timestamp seen anywhere in the body.
    pub newest_ms: Option<i64>,
}

/// Builds the record; `body` is the parsed form of `event_body`, digested for the event id.
pub(super) fn assemble(
    origin: Origin<'_>,
    conversation: Normalized,
    body: &Value,
    event_body: String,
) -> ConversationEvent {
    let event_time_ms =
        newest([conversation.newest_ms, conversation.start_ms, conversation.end_ms]).unwrap_or_default();
    ConversationEvent {
        tenant: origin.tenant.to_owned(),
        queue_id: origin.queue_id.to_owned(),
        event_id: event_id_for(&conversation.conversation_id, body),
        conversation_id: conversation.conversation_id,
        source: origin.source,
        topic_name: origin.topic_name.to_owned(),
        channel_id: origin.channel_id.map(str::to_owned),
        event_time_ms,
        receive_time_ms: origin.received_ms,
        conversation_start_ms: conversation.start_ms,
        conversation_end_ms: conversation.end_ms,
        ended: conversation.end_ms.is_some(),
        participants: conversation.participants,
        event_body,
    }
}

//! BACKFILL records from `GET /api/v2/conversations/{id}` (`Conversation`, reference §4.3).

use serde_json::Value;

use super::assemble::{Origin, assemble};
use super::error::MappingError;
use super::json::{Obj, newest};
use super::live::normalize;
use super::{BackfillApi, ConversationEvent, Source};

/// Maps a REST `Conversation` to a BACKFILL record (`topic_name` `conversations.get`).
///
/// Participants have the queue-topic shape plus `startTime`. The conversation's own `startTime`
/// and `endTime` win when present; without them start and end are derived from the participants
/// as for live snapshots (ended iff every participant has an `endTime`). `event_body` is the
/// conversation re-serialized.
///
/// Errors: as for [`from_notification`](super::from_notification), plus malformed `startTime`/`endTime`.
pub fn from_rest_conversation(
    tenant: &str,
    queue_id: &str,
    conversation: &Value,
    received_ms: i64,
) -> Result<ConversationEvent, MappingError> {
    let root = Obj::root(conversation)?;
    let mut normalized = normalize(&root)?;
    let start = root.opt_time("startTime")?;
    let end = root.opt_time("endTime")?;
    normalized.start_ms = start.or(normalized.start_ms);
    normalized.end_ms = end.or(normalized.end_ms);
    normalized.newest_ms = newest([normalized.newest_ms, start, end]);
    let topic_name = BackfillApi::ConversationsGet.topic_name();
    let origin = Origin { tenant, queue_id, source: Source::Backfill, topic_name, channel_id: None, received_ms };
    Ok(assemble(origin, normalized, conversation, conversation.to_string()))
}

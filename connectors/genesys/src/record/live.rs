//! LIVE records from `v2.routing.queues.{id}.conversations` notifications
//! (`QueueConversationEventTopicConversation`, reference §3.1).

use serde_json::Value;

use super::assemble::{Normalized, Origin, assemble};
use super::error::MappingError;
use super::json::{Obj, earliest, newest};
use super::participant::map_participant;
use super::{ConversationEvent, Source};

/// Maps the `eventBody` of a queue conversation notification to a LIVE record.
///
/// `event_body` is the parsed body and `raw_event_body` its text exactly as received (kept in
/// the record). The event carries no conversation-level start, end or state, so they are derived
/// from the participants:
/// - `conversation_start_ms`: the earliest participant or media start/connect time;
/// - `ended`: there is at least one participant and every participant has an `endTime`;
/// - `conversation_end_ms`: then the largest participant `endTime` (what analytics calls
///   `conversationEnd` and REST `endTime`);
/// - `event_time_ms`: the newest timestamp of any participant, media, after-call work or wrap-up.
///
/// Errors: the body is not an object, `id` or a participant's `id` is missing, or a field has the
/// wrong type or an unparseable date-time.
pub fn from_snapshot(
    tenant: &str,
    queue_id: &str,
    topic_name: &str,
    channel_id: Option<&str>,
    event_body: &Value,
    raw_event_body: &str,
    received_ms: i64,
) -> Result<ConversationEvent, MappingError> {
    let root = Obj::root(event_body)?;
    let conversation = normalize(&root)?;
    let origin = Origin { tenant, queue_id, source: Source::Live, topic_name, channel_id, received_ms };
    Ok(assemble(origin, conversation, event_body, raw_event_body.to_owned()))
}

/// The participant-derived view shared with REST conversations that lack top-level times.
pub(super) fn normalize(root: &Obj<'_>) -> Result<Normalized, MappingError> {
    let conversation_id = root.req_str("id")?.to_owned();
    let mapped = root.objects("participants")?.iter().map(map_participant).collect::<Result<Vec<_>, _>>()?;
    let start_ms = earliest(mapped.iter().map(|m| m.start_ms));
    let newest_ms = newest(mapped.iter().map(|m| m.newest_ms));
    let participants: Vec<_> = mapped.into_iter().map(|m| m.participant).collect();
    let all_ended = !participants.is_empty() && participants.iter().all(|p| p.end_time_ms.is_some());
    let end_ms = if all_ended { newest(participants.iter().map(|p| p.end_time_ms)) } else { None };
    Ok(Normalized { conversation_id, participants, start_ms, end_ms, newest_ms })
}

//! LIVE records from `v2.routing.queues.{id}.conversations` notifications
//! (`QueueConversationEventTopicConversation`, reference §3.1).

use serde_json::Value;

use super::assemble::{Normalized, Origin, assemble};
use super::error::MappingError;
use super::json::{Obj, earliest, newest};
use super::participant::map_participant;
use super::{ConversationEvent, Source};
use crate::notification::Notification;

/// Maps a queue conversation notification to a LIVE record of `tenant`; the notification's
/// body text becomes the record's `event_body` as it is. The event carries no conversation-level start, end or state, so they are derived
/// from the participants:
/// - `conversation_start_ms`: the earliest participant or media start/connect time;
/// - `ended`: there is at least one participant and every participant has an `endTime`;
/// - `conversation_end_ms`: then the largest participant `endTime` (what analytics calls
///   `conversationEnd` and REST `endTime`);
/// - `event_time_ms`: the newest timestamp of any participant, media, after-call work or wrap-up.
///
/// Errors: the body is not JSON or not an object, `id` or a participant's `id` is missing, or a field has the
/// wrong type or an unparseable date-time.
pub fn from_notification(tenant: &str, notification: Notification) -> Result<ConversationEvent, MappingError> {
    let Notification { queue_id, topic, raw_body, received_ms, channel_id } = notification;
    let body: Value = serde_json::from_str(&raw_body).map_err(|e| MappingError::NotJson { detail: e.to_string() })?;
    let root = Obj::root(&body)?;
    let conversation = normalize(&root)?;
    let origin = Origin {
        tenant,
        queue_id: &queue_id,
        source: Source::Live,
        topic_name: &topic,
        channel_id: channel_id.as_deref(),
        received_ms,
    };
    Ok(assemble(origin, conversation, &body, raw_body))
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

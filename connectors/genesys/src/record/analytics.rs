//! BACKFILL records from analytics conversation-details rows (reference §4.1 query, §4.2 jobs):
//! participants → sessions → segments, folded into the participant/media fields of a snapshot.

use serde_json::Value;

use super::assemble::{Normalized, Origin, assemble};
use super::error::MappingError;
use super::json::{Obj, earliest, newest};
use super::{BackfillApi, ConversationEvent, Media, Participant, Source, Wrapup};

/// Segment types that are not part of the participant's presence on the conversation.
const WRAPUP: &str = "wrapup";
const ALERT: &str = "alert";
const INTERACT: &str = "interact";

/// Maps one `conversations[]` row of a details query or job result to a BACKFILL record.
///
/// - `conversation_start_ms` is `conversationStart` (else the earliest segment start);
///   `conversation_end_ms` is `conversationEnd`, and `ended` iff it is present.
/// - Participant `queue_id` is the first segment `queueId`; `connected_time_ms` the first
///   `interact` segment start (else the first segment that is neither `alert` nor `wrapup`);
///   `end_time_ms` the last `segmentEnd` once every segment other than `wrapup` has ended.
///   After-call work is left out so the value means what a live participant `endTime` means
///   (the disconnect); it shows up in `wrapup` instead.
/// - One media entry per session: `type` from `mediaType` (`voice` is written `call`), `id` the
///   `sessionId`, `state` `disconnected` once every non-`wrapup` segment has ended, else
///   `alerting` when only `alert` segments are open, else `connected`.
/// - `wrapup` from the last `wrapup` segment that has a `wrapUpCode` (an open wrap-up segment
///   without code is work in progress): code, `wrapUpNote`, end and whole-second duration.
/// - `event_time_ms` is the newest segment boundary or conversation start/end.
///
/// `source_api` names the API the row came from in `topic_name`. `event_body` is the row
/// re-serialized. Errors: not an object, no `conversationId`, a participant without
/// `participantId`, a segment without `segmentStart`, wrong types, unparseable date-times.
pub fn from_analytics(
    tenant: &str,
    queue_id: &str,
    row: &Value,
    source_api: BackfillApi,
    received_ms: i64,
) -> Result<ConversationEvent, MappingError> {
    let root = Obj::root(row)?;
    let conversation_id = root.req_str("conversationId")?.to_owned();
    let conversation_start = root.opt_time("conversationStart")?;
    let conversation_end = root.opt_time("conversationEnd")?;
    let mut participants = Vec::new();
    let mut first_segment = Vec::new();
    let mut newest_segment = Vec::new();
    for p in root.objects("participants")? {
        let segments = segments_of(&p)?;
        first_segment.push(earliest(segments.iter().flat_map(|(_, s)| s.iter().map(|s| Some(s.start)))));
        newest_segment.push(newest(segments.iter().flat_map(|(_, s)| s.iter().flat_map(|s| [Some(s.start), s.end]))));
        participants.push(map_participant(&p, &segments)?);
    }
    let normalized = Normalized {
        conversation_id,
        participants,
        start_ms: conversation_start.or(earliest(first_segment)),
        end_ms: conversation_end,
        newest_ms: newest(newest_segment.into_iter().chain([conversation_start, conversation_end])),
    };
    let origin = Origin {
        tenant,
        queue_id,
        source: Source::Backfill,
        topic_name: source_api.topic_name(),
        channel_id: None,
        received_ms,
    };
    Ok(assemble(origin, normalized, row, row.to_string()))
}

/// One analytics segment.
struct Segment {
    start: i64,
    end: Option<i64>,
    kind: Option<String>,
    queue_id: Option<String>,
    disconnect_type: Option<String>,
    wrap_up_code: Option<String>,
    wrap_up_note: Option<String>,
}

impl Segment {
    fn is(&self, kind: &str) -> bool {
        self.kind.as_deref() == Some(kind)
    }
}

/// A session's header fields and its segments, in source order.
struct Session {
    media_type: Option<String>,
    id: Option<String>,
    direction: Option<String>,
}

fn segments_of(p: &Obj<'_>) -> Result<Vec<(Session, Vec<Segment>)>, MappingError> {
    let mut sessions = Vec::new();
    for s in p.objects("sessions")? {
        let header = Session {
            media_type: s.opt_string("mediaType")?,
            id: s.opt_string("sessionId")?,
            direction: s.opt_string("direction")?,
        };
        let mut segments = Vec::new();
        for g in s.objects("segments")? {
            let start =
                g.opt_time("segmentStart")?.ok_or_else(|| MappingError::Missing { path: g.path_of("segmentStart") })?;
            segments.push(Segment {
                start,
                end: g.opt_time("segmentEnd")?,
                kind: g.opt_string("segmentType")?,
                queue_id: g.opt_string("queueId")?,
                disconnect_type: g.opt_string("disconnectType")?,
                wrap_up_code: g.opt_string("wrapUpCode")?,
                wrap_up_note: g.opt_string("wrapUpNote")?,
            });
        }
        sessions.push((header, segments));
    }
    Ok(sessions)
}

fn map_participant(p: &Obj<'_>, sessions: &[(Session, Vec<Segment>)]) -> Result<Participant, MappingError> {
    let all = || sessions.iter().flat_map(|(_, segments)| segments.iter());
    let work: Vec<&Segment> = all().filter(|s| !s.is(WRAPUP)).collect();
    let connected = earliest(all().filter(|s| s.is(INTERACT)).map(|s| Some(s.start)))
        .or_else(|| earliest(work.iter().filter(|s| !s.is(ALERT)).map(|s| Some(s.start))));
    let ended = !work.is_empty() && work.iter().all(|s| s.end.is_some());
    let wrapup = all().rev().filter(|s| s.is(WRAPUP)).find_map(wrapup_of);
    Ok(Participant {
        id: p.req_str("participantId")?.to_owned(),
        purpose: p.opt_string("purpose")?,
        user_id: p.opt_string("userId")?,
        queue_id: all().find_map(|s| s.queue_id.clone()),
        name: p.opt_string("participantName")?,
        connected_time_ms: connected,
        end_time_ms: if ended { newest(work.iter().map(|s| s.end)) } else { None },
        wrapup,
        media: sessions.iter().map(|(session, segments)| media_of(session, segments)).collect(),
    })
}

fn media_of(session: &Session, segments: &[Segment]) -> Media {
    let work: Vec<&Segment> = segments.iter().filter(|s| !s.is(WRAPUP)).collect();
    let open: Vec<&&Segment> = work.iter().filter(|s| s.end.is_none()).collect();
    let state = match (work.is_empty(), open.is_empty()) {
        (true, _) => None,
        (false, true) => Some("disconnected"),
        (false, false) if open.iter().all(|s| s.is(ALERT)) => Some("alerting"),
        (false, false) => Some("connected"),
    };
    let media_type = match session.media_type.as_deref() {
        Some("voice") => "call".to_owned(),
        Some(other) => other.to_owned(),
        None => "unknown".to_owned(),
    };
    Media {
        media_type,
        id: session.id.clone(),
        state: state.map(str::to_owned),
        direction: session.direction.clone(),
        disconnect_type: work.iter().rev().find_map(|s| s.disconnect_type.clone()),
        connected_time_ms: earliest(work.iter().filter(|s| s.is(INTERACT)).map(|s| Some(s.start))),
        disconnected_time_ms: if state == Some("disconnected") { newest(work.iter().map(|s| s.end)) } else { None },
    }
}

fn wrapup_of(segment: &Segment) -> Option<Wrapup> {
    let code = segment.wrap_up_code.clone()?;
    let duration_seconds = segment.end.and_then(|end| i32::try_from(end.saturating_sub(segment.start) / 1000).ok());
    Some(Wrapup { code, notes: segment.wrap_up_note.clone(), duration_seconds, end_time_ms: segment.end })
}

//! Participants in the shape shared by the queue-topic event (§3.1) and the REST `Conversation`
//! (§4.3): participant fields plus one array per media type (`calls[]`, `chats[]`, …).

use super::error::MappingError;
use super::json::{Obj, earliest, newest};
use super::{Media, Participant, Wrapup};

/// The media arrays of a participant and the media type written for their entries.
const MEDIA_LISTS: [(&str, &str); 11] = [
    ("calls", "call"),
    ("callbacks", "callback"),
    ("chats", "chat"),
    ("cobrowsesessions", "cobrowse"),
    ("emails", "email"),
    ("messages", "message"),
    ("internalMessages", "internalmessage"),
    ("screenshares", "screenshare"),
    ("socialExpressions", "socialexpression"),
    ("videos", "video"),
    ("screenMonitorings", "screenmonitoring"),
];

/// A mapped participant and the times the conversation-level fields are derived from.
pub(super) struct MappedParticipant {
    pub participant: Participant,
    /// Earliest start or connect time of the participant or its media.
    pub start_ms: Option<i64>,
    /// Newest timestamp of the participant or its media, after-call work included.
    pub newest_ms: Option<i64>,
}

/// Maps one `participants[]` entry.
///
/// `connected_time_ms` is the participant's `connectedTime`, else its earliest media
/// `connectedTime`. `end_time_ms` is its `endTime`.
pub(super) fn map_participant(p: &Obj<'_>) -> Result<MappedParticipant, MappingError> {
    let mut media = Vec::new();
    let mut media_starts = Vec::new();
    let mut media_newest = Vec::new();
    for (key, media_type) in MEDIA_LISTS {
        for item in p.objects(key)? {
            let (mapped, start, last) = map_media(&item, media_type)?;
            media.push(mapped);
            media_starts.push(start);
            media_newest.push(last);
        }
    }
    let connected = p.opt_time("connectedTime")?;
    let end = p.opt_time("endTime")?;
    let start = p.opt_time("startTime")?;
    let wrapup = match p.opt_obj("wrapup")? {
        Some(w) => Some(map_wrapup(&w)?),
        None => None,
    };
    let queue_id = match p.opt_string("queueId")? {
        Some(id) => Some(id),
        None => routing_queue_id(p)?,
    };
    let first_media_connect = earliest(media.iter().map(|m| m.connected_time_ms));
    let newest_ms = newest(
        [
            connected,
            end,
            start,
            p.opt_time("startAcwTime")?,
            p.opt_time("endAcwTime")?,
            wrapup.as_ref().and_then(|w| w.end_time_ms),
        ]
        .into_iter()
        .chain(media_newest),
    );
    let participant = Participant {
        id: p.req_str("id")?.to_owned(),
        purpose: p.opt_string("purpose")?,
        user_id: p.opt_string("userId")?,
        queue_id,
        name: p.opt_string("name")?,
        connected_time_ms: connected.or(first_media_connect),
        end_time_ms: end,
        wrapup,
        media,
    };
    let start_ms = earliest([start, connected].into_iter().chain(media_starts));
    Ok(MappedParticipant { participant, start_ms, newest_ms })
}

/// `conversationRoutingData.queue.id`, the queue of a routed participant without `queueId`.
fn routing_queue_id(p: &Obj<'_>) -> Result<Option<String>, MappingError> {
    let Some(routing) = p.opt_obj("conversationRoutingData")? else { return Ok(None) };
    let Some(queue) = routing.opt_obj("queue")? else { return Ok(None) };
    queue.opt_string("id")
}

/// A media entry, its earliest start and its newest timestamp.
fn map_media(m: &Obj<'_>, media_type: &str) -> Result<(Media, Option<i64>, Option<i64>), MappingError> {
    let connected = m.opt_time("connectedTime")?;
    let disconnected = m.opt_time("disconnectedTime")?;
    let alerting = m.opt_time("startAlertingTime")?;
    let mut times = vec![connected, disconnected, alerting, m.opt_time("startHoldTime")?];
    if let Some(acw) = m.opt_obj("afterCallWork")? {
        times.push(acw.opt_time("startTime")?);
        times.push(acw.opt_time("endTime")?);
    }
    if let Some(wrapup) = m.opt_obj("wrapup")? {
        times.push(wrapup.opt_time("endTime")?);
    }
    let media = Media {
        media_type: media_type.to_owned(),
        id: m.opt_string("id")?,
        state: m.opt_string("state")?,
        direction: m.opt_string("direction")?,
        disconnect_type: m.opt_string("disconnectType")?,
        connected_time_ms: connected,
        disconnected_time_ms: disconnected,
    };
    Ok((media, earliest([alerting, connected]), newest(times)))
}

/// `wrapup{code, notes, durationSeconds, endTime}`; `code` is required.
fn map_wrapup(w: &Obj<'_>) -> Result<Wrapup, MappingError> {
    let out_of_range =
        |secs: i64| MappingError::OutOfRange { path: w.path_of("durationSeconds"), value: secs.to_string() };
    let duration_seconds =
        w.opt_i64("durationSeconds")?.map(|secs| i32::try_from(secs).map_err(|_| out_of_range(secs))).transpose()?;
    Ok(Wrapup {
        code: w.req_str("code")?.to_owned(),
        notes: w.opt_string("notes")?,
        duration_seconds,
        end_time_ms: w.opt_time("endTime")?,
    })
}

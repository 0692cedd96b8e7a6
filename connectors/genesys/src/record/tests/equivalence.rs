//! The same conversation state read from a live snapshot, an analytics row and a REST
//! conversation maps to the same conversation-level and participant fields.

use serde_json::Value;

use super::samples::*;
use crate::record::tests::from_snapshot;
use crate::record::{
    BackfillApi, ConversationEvent, canonical_json, event_id_for, from_analytics, from_rest_conversation,
};

/// Fields every source can express, per participant: id, purpose, connected, end, wrap-up code
/// and end, and per media: id, state, connected, disconnected, disconnect type.
pub(crate) fn comparable(event: &ConversationEvent) -> Value {
    let participants: Vec<Value> = event
        .participants
        .iter()
        .map(|p| {
            serde_json::json!({
                "id": p.id, "purpose": p.purpose, "connected": p.connected_time_ms, "end": p.end_time_ms,
                "wrapup": p.wrapup.as_ref().map(|w| (w.code.clone(), w.end_time_ms)),
                "media": p.media.iter().map(|m| serde_json::json!({
                    "type": m.media_type, "id": m.id, "state": m.state, "connected": m.connected_time_ms,
                    "disconnected": m.disconnected_time_ms, "disconnect_type": m.disconnect_type,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::json!({
        "conversation": event.conversation_id, "start": event.conversation_start_ms,
        "end": event.conversation_end_ms, "ended": event.ended, "participants": participants,
    })
}

/// Queues of routed participants (analytics has no queue on the customer).
pub(crate) fn routed_queues(event: &ConversationEvent) -> Vec<(String, Option<String>)> {
    event
        .participants
        .iter()
        .filter(|p| p.purpose.as_deref() != Some("customer"))
        .map(|p| (p.id.clone(), p.queue_id.clone()))
        .collect()
}

#[test]
fn final_state_agrees_across_sources() {
    let live = from_snapshot("t", QUEUE, TOPIC, None, &json(LIVE_FINAL), LIVE_FINAL, 1).expect("live");
    let analytics = from_analytics("t", QUEUE, &json(ANALYTICS_FINAL), BackfillApi::AnalyticsQuery, 2).expect("row");
    let rest = from_rest_conversation("t", QUEUE, &json(REST_FINAL), 3).expect("rest");
    assert_eq!(comparable(&live), comparable(&analytics));
    assert_eq!(comparable(&live), comparable(&rest));
    assert_eq!(routed_queues(&live), routed_queues(&analytics));
    assert_eq!(routed_queues(&live), routed_queues(&rest));
    assert_eq!(live.participants, rest.participants, "the REST participant shape is the event's");
    assert_eq!(live.event_time_ms, analytics.event_time_ms);
    assert_eq!(live.event_time_ms, rest.event_time_ms);
    assert_eq!(live.completeness(), analytics.completeness());
    assert_eq!(live.completeness(), rest.completeness());
}

#[test]
fn reordered_keys_keep_the_id_and_the_raw_text() {
    let parsed = json(LIVE_FINAL);
    let compact = canonical_json(&parsed);
    let a = from_snapshot("t", QUEUE, TOPIC, None, &parsed, LIVE_FINAL, 1).expect("maps");
    let b = from_snapshot("t", QUEUE, TOPIC, None, &json(&compact), &compact, 1).expect("maps");
    assert_eq!(a.event_id, b.event_id);
    assert_ne!(a.event_body, b.event_body, "each keeps the text it received");
    assert_eq!(a.event_id, event_id_for(CONVERSATION, &parsed));
}

//! Each shape maps to the documented typed fields.

use serde_json::json;

use super::samples::*;
use crate::record::tests::from_snapshot;
use crate::record::{
    BackfillApi, ConversationEvent, Media, Source, Wrapup, event_id_for, from_analytics, from_rest_conversation,
};

const RECEIVED: i64 = 1_591_968_500_000;

fn live(text: &str) -> ConversationEvent {
    from_snapshot("acme", QUEUE, TOPIC, Some("streaming-1"), &json(text), text, RECEIVED).expect("maps")
}

fn analytics(text: &str) -> ConversationEvent {
    from_analytics("acme", QUEUE, &json(text), BackfillApi::AnalyticsQuery, RECEIVED).expect("maps")
}

#[test]
fn live_final_snapshot() {
    let event = live(LIVE_FINAL);
    assert_eq!(event.tenant, "acme");
    assert_eq!(event.queue_id, QUEUE);
    assert_eq!(event.conversation_id(), CONVERSATION);
    assert_eq!(event.key(), CONVERSATION.as_bytes());
    assert_eq!(event.event_id(), event_id_for(CONVERSATION, &json(LIVE_FINAL)));
    assert!(event.event_id().starts_with(&format!("{CONVERSATION}:")));
    assert_eq!(event.source, Source::Live);
    assert_eq!(event.topic_name, TOPIC);
    assert_eq!(event.channel_id.as_deref(), Some("streaming-1"));
    assert_eq!(event.receive_time_ms, RECEIVED);
    assert_eq!(event.conversation_start_ms, Some(START_MS));
    assert_eq!(event.conversation_end_ms, Some(END_MS));
    assert!(event.is_ended());
    // The wrap-up is the newest thing; the customer's free-form `attributes.endTime` is not a time.
    assert_eq!(event.event_time_ms(), WRAPUP_END_MS);
    assert_eq!(event.event_body, LIVE_FINAL, "the body is kept byte for byte");

    let ids: Vec<&str> = event.participants.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, [CUSTOMER, ACD, AGENT]);
    let agent = &event.participants[2];
    assert_eq!(agent.purpose.as_deref(), Some("agent"));
    assert_eq!(agent.user_id.as_deref(), Some(AGENT_USER));
    assert_eq!(agent.queue_id.as_deref(), Some(QUEUE));
    assert_eq!(agent.name.as_deref(), Some("Agent Smith"));
    assert_eq!(agent.connected_time_ms, Some(ANSWER_MS));
    assert_eq!(agent.end_time_ms, Some(END_MS));
    assert_eq!(
        agent.wrapup,
        Some(Wrapup {
            code: WRAPUP_CODE.into(),
            notes: Some("refund issued".into()),
            duration_seconds: Some(19),
            end_time_ms: Some(WRAPUP_END_MS),
        })
    );
    assert_eq!(
        agent.media,
        [Media {
            media_type: "call".into(),
            id: Some("c0a3".into()),
            state: Some("disconnected".into()),
            direction: Some("inbound".into()),
            disconnect_type: Some("peer".into()),
            connected_time_ms: Some(ANSWER_MS),
            disconnected_time_ms: Some(END_MS),
        }]
    );
    assert_eq!(event.completeness(), 3 + 1 + 1);
}

#[test]
fn live_snapshot_in_progress_is_not_ended() {
    let event = live(LIVE_CONNECTED);
    assert!(!event.ended);
    assert_eq!(event.conversation_end_ms, None);
    assert_eq!(event.conversation_start_ms, Some(START_MS));
    assert_eq!(event.event_time_ms, ANSWER_MS);
    assert_eq!(event.participants[1].end_time_ms, Some(ANSWER_MS));
    assert_eq!(event.participants[2].wrapup, None);
    assert_eq!(event.participants[2].media[0].state.as_deref(), Some("connected"));
    assert!(event.completeness() < live(LIVE_FINAL).completeness());
}

#[test]
fn other_media_lists_and_routing_queue() {
    let body = json!({
        "id": "c1",
        "participants": [
            {"id": "p1", "purpose": "customer",
             "chats": [{"id": "ch1", "state": "connected", "connectedTime": "2024-03-01T10:00:05Z"}],
             "emails": [{"id": "em1", "state": "alerting"}]},
            {"id": "p2", "purpose": "acd", "conversationRoutingData": {"queue": {"id": "q9"}},
             "messages": [{"id": "m1", "state": "connected", "connectedTime": "2024-03-01T12:00:00+02:00"}]}
        ]
    });
    let event = from_snapshot("t", "q9", "topic", None, &body, &body.to_string(), 7).expect("maps");
    let customer = &event.participants[0];
    assert_eq!(customer.media.iter().map(|m| m.media_type.as_str()).collect::<Vec<_>>(), ["chat", "email"]);
    // No participant `connectedTime`: the earliest media one stands in.
    assert_eq!(customer.connected_time_ms, Some(1_709_287_205_000));
    assert_eq!(event.participants[1].queue_id.as_deref(), Some("q9"));
    assert_eq!(event.participants[1].media[0].media_type, "message");
    assert_eq!(event.conversation_start_ms, Some(1_709_287_200_000));
    assert_eq!(event.event_time_ms, 1_709_287_205_000);
    assert_eq!(event.channel_id, None);
}

#[test]
fn snapshot_without_times_or_participants() {
    let body = json!({"id": "c1"});
    let event = from_snapshot("t", "q", "topic", None, &body, "{\"id\":\"c1\"}", 5).expect("maps");
    assert!(event.participants.is_empty());
    assert!(!event.ended, "no participants is not an ended conversation");
    assert_eq!((event.conversation_start_ms, event.conversation_end_ms, event.event_time_ms), (None, None, 0));
}

#[test]
fn one_open_participant_keeps_the_conversation_open() {
    let body = json!({"id": "c1", "participants": [
        {"id": "a", "connectedTime": "2024-03-01T10:00:00Z", "endTime": "2024-03-01T10:05:00Z"},
        {"id": "b", "connectedTime": "2024-03-01T10:01:00Z"}
    ]});
    let event = from_snapshot("t", "q", "topic", None, &body, "", 5).expect("maps");
    assert!(!event.ended);
    assert_eq!(event.conversation_end_ms, None);
    assert_eq!(event.event_time_ms, 1_709_287_500_000);
}

#[test]
fn analytics_final_row() {
    let event = analytics(ANALYTICS_FINAL);
    assert_eq!(event.source, Source::Backfill);
    assert_eq!(event.topic_name, "analytics.conversations.details.query");
    assert_eq!(event.channel_id, None);
    assert_eq!(event.conversation_start_ms, Some(START_MS));
    assert_eq!(event.conversation_end_ms, Some(END_MS));
    assert!(event.ended);
    assert_eq!(event.event_time_ms, WRAPUP_END_MS);
    assert_eq!(event.event_id, event_id_for(CONVERSATION, &json(ANALYTICS_FINAL)));

    let customer = &event.participants[0];
    assert_eq!(customer.queue_id, None, "analytics puts queueId on routed segments only");
    assert_eq!(customer.name.as_deref(), Some("ronald reagan"));
    let agent = &event.participants[2];
    assert_eq!(agent.queue_id.as_deref(), Some(QUEUE));
    assert_eq!(agent.user_id.as_deref(), Some(AGENT_USER));
    assert_eq!(agent.connected_time_ms, Some(ANSWER_MS));
    assert_eq!(agent.end_time_ms, Some(END_MS), "after-call work is not part of the participant's end");
    assert_eq!(
        agent.wrapup,
        Some(Wrapup {
            code: WRAPUP_CODE.into(),
            notes: Some("refund issued".into()),
            duration_seconds: Some(19),
            end_time_ms: Some(WRAPUP_END_MS),
        })
    );
    assert_eq!(
        agent.media,
        [Media {
            media_type: "call".into(),
            id: Some("c0a3".into()),
            state: Some("disconnected".into()),
            direction: Some("inbound".into()),
            disconnect_type: Some("peer".into()),
            connected_time_ms: Some(ANSWER_MS),
            disconnected_time_ms: Some(END_MS),
        }]
    );
    let jobs = from_analytics("acme", QUEUE, &json(ANALYTICS_FINAL), BackfillApi::AnalyticsJobs, 1).expect("maps");
    assert_eq!(jobs.topic_name, "analytics.conversations.details.jobs");
    assert_eq!(jobs.event_id, event.event_id, "the id depends on the body only");
}

#[test]
fn analytics_alerting_row() {
    let event = analytics(ANALYTICS_ALERTING);
    assert!(!event.ended);
    assert_eq!(event.conversation_end_ms, None);
    assert_eq!(event.event_time_ms, ALERT_MS);
    let agent = &event.participants[2];
    assert_eq!(agent.connected_time_ms, None, "being alerted is not being connected");
    assert_eq!(agent.end_time_ms, None);
    assert_eq!(agent.media[0].state.as_deref(), Some("alerting"));
    assert_eq!(event.participants[0].media[0].state.as_deref(), Some("connected"));
    assert_eq!(event.participants[1].connected_time_ms, Some(ACD_CONNECTED_MS));
}

#[test]
fn analytics_open_wrapup_segment() {
    let event = analytics(ANALYTICS_IN_WRAPUP);
    assert!(event.ended);
    let agent = &event.participants[0];
    assert_eq!(agent.end_time_ms, Some(END_MS));
    assert_eq!(agent.wrapup, None, "no code yet: wrap-up in progress");
    assert_eq!(agent.media[0].state.as_deref(), Some("disconnected"));
    assert_eq!(agent.media[0].disconnected_time_ms, Some(END_MS));
}

#[test]
fn analytics_row_without_conversation_start_uses_the_first_segment() {
    let row = json!({"conversationId": "c1", "participants": [{"participantId": "p", "sessions": [
        {"mediaType": "chat", "sessionId": "s", "segments": [
            {"segmentStart": "2024-03-01T10:00:10Z", "segmentType": "ivr"},
            {"segmentStart": "2024-03-01T10:00:00Z", "segmentEnd": "2024-03-01T10:00:10Z", "segmentType": "system"}]}]}]});
    let event = from_analytics("t", "q", &row, BackfillApi::AnalyticsQuery, 1).expect("maps");
    assert_eq!(event.conversation_start_ms, Some(1_709_287_200_000));
    let p = &event.participants[0];
    assert_eq!(p.connected_time_ms, Some(1_709_287_200_000), "no interact segment: the first non-alert one");
    assert_eq!(p.media[0].media_type, "chat");
    assert_eq!(p.media[0].state.as_deref(), Some("connected"));
    assert_eq!(p.media[0].connected_time_ms, None);
}

#[test]
fn rest_final_conversation() {
    let event = from_rest_conversation("acme", QUEUE, &json(REST_FINAL), RECEIVED).expect("maps");
    assert_eq!(event.source, Source::Backfill);
    assert_eq!(event.topic_name, "conversations.get");
    assert_eq!(event.conversation_start_ms, Some(START_MS));
    assert_eq!(event.conversation_end_ms, Some(END_MS));
    assert!(event.ended);
    assert_eq!(event.event_time_ms, WRAPUP_END_MS);
    assert_eq!(event.participants[2].connected_time_ms, Some(ANSWER_MS));
    assert_eq!(event.participants[2].wrapup.as_ref().map(|w| w.code.as_str()), Some(WRAPUP_CODE));
    assert_eq!(serde_json::from_str::<serde_json::Value>(&event.event_body).ok(), Some(json(REST_FINAL)));
}

#[test]
fn rest_conversation_without_top_level_times_derives_them() {
    let mut body = json(REST_FINAL);
    if let Some(map) = body.as_object_mut() {
        map.remove("startTime");
        map.remove("endTime");
    }
    let event = from_rest_conversation("acme", QUEUE, &body, RECEIVED).expect("maps");
    assert_eq!(event.conversation_start_ms, Some(START_MS));
    assert_eq!(event.conversation_end_ms, Some(END_MS));
}

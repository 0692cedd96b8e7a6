//! The gate over the overlaps the connector produces by design.

use serde_json::Value;

use super::*;
use crate::record::tests::from_snapshot;
use crate::record::tests::samples::*;
use crate::record::{BackfillApi, ConversationEvent, Participant, Source, from_analytics};

fn live_on(channel: &str, text: &str, received: i64) -> ConversationEvent {
    from_snapshot("t", QUEUE, TOPIC, Some(channel), &json(text), text, received).expect("live")
}

fn row(text: &str, received: i64) -> ConversationEvent {
    from_analytics("t", QUEUE, &json(text), BackfillApi::AnalyticsQuery, received).expect("row")
}

/// A bare record: `ended_participants` participants with an end time.
fn bare(conversation: &str, tag: &str, time: i64, source: Source, ended_participants: usize) -> ConversationEvent {
    let participant = |i: usize| Participant {
        id: format!("p{i}"),
        purpose: None,
        user_id: None,
        queue_id: None,
        name: None,
        connected_time_ms: Some(0),
        end_time_ms: (i < ended_participants).then_some(time),
        wrapup: None,
        media: Vec::new(),
    };
    let ended = ended_participants >= 2;
    ConversationEvent {
        tenant: "t".into(),
        queue_id: "q".into(),
        conversation_id: conversation.into(),
        event_id: format!("{conversation}:{tag}"),
        source,
        topic_name: "x".into(),
        channel_id: None,
        event_time_ms: time,
        receive_time_ms: time,
        conversation_start_ms: Some(0),
        conversation_end_ms: ended.then_some(time),
        ended,
        participants: (0..2).map(participant).collect(),
        event_body: String::new(),
    }
}

#[test]
fn two_channels_delivering_one_snapshot_produce_it_once() {
    let mut gate = Gate::new(GateConfig::default());
    assert_eq!(gate.admit(&live_on("old-channel", LIVE_CONNECTED, 1)), Verdict::Emit);
    assert_eq!(gate.admit(&live_on("new-channel", LIVE_CONNECTED, 2)), Verdict::Duplicate);
    // The same content with other whitespace and key order is the same event.
    let reformatted = crate::record::canonical_json(&json(LIVE_CONNECTED));
    assert_eq!(gate.admit(&live_on("new-channel", &reformatted, 3)), Verdict::Duplicate);
    assert_eq!(gate.admit(&live_on("new-channel", LIVE_FINAL, 4)), Verdict::Emit);
    assert_eq!((gate.duplicates, gate.stale), (2, 0));
}

#[test]
fn analytics_pages_repeating_a_row_produce_it_once() {
    let mut gate = Gate::new(GateConfig::default());
    assert_eq!(gate.admit(&row(ANALYTICS_ALERTING, 10)), Verdict::Emit);
    assert_eq!(gate.admit(&row(ANALYTICS_ALERTING, 11)), Verdict::Duplicate);
    assert_eq!(gate.duplicates, 1);
}

#[test]
fn stale_backfill_after_a_newer_live_snapshot_is_dropped() {
    let mut gate = Gate::new(GateConfig::default());
    assert_eq!(gate.admit(&live_on("c", LIVE_FINAL, 100)), Verdict::Emit);
    // The analytics view lagging behind: the agent was still being alerted.
    assert_eq!(gate.admit(&row(ANALYTICS_ALERTING, 200)), Verdict::Stale);
    assert_eq!(gate.admit(&row(ANALYTICS_IN_WRAPUP, 200)), Verdict::Stale);
    // The same final state seen through analytics adds nothing either.
    assert_eq!(gate.admit(&row(ANALYTICS_FINAL, 200)), Verdict::Stale);
    assert_eq!((gate.duplicates, gate.stale), (0, 3));
}

#[test]
fn newer_backfill_after_a_gap_is_emitted_and_old_live_repeats_are_not() {
    let mut gate = Gate::new(GateConfig::default());
    assert_eq!(gate.admit(&live_on("a", LIVE_CONNECTED, 100)), Verdict::Emit);
    // The socket died; the conversation ended during the gap; the backfill finds its end.
    let backfilled = row(ANALYTICS_FINAL, 500);
    assert_eq!(gate.admit(&backfilled), Verdict::Emit);
    // The old channel's last frames arriving late: a repeat, then an older state.
    assert_eq!(gate.admit(&live_on("a", LIVE_CONNECTED, 501)), Verdict::Duplicate);
    let mut older = json(LIVE_CONNECTED);
    if let Some(Value::Array(participants)) = older.get_mut("participants") {
        participants.truncate(2);
    }
    let older = from_snapshot("t", QUEUE, TOPIC, Some("a"), &older, "", 502).expect("older");
    assert_eq!(gate.admit(&older), Verdict::Stale);
    assert_eq!((gate.duplicates, gate.stale), (1, 1));
}

#[test]
fn equal_event_times_need_more_completeness_from_a_backfill_only() {
    let mut gate = Gate::new(GateConfig::default());
    assert_eq!(gate.admit(&bare("c", "a", 50, Source::Live, 1)), Verdict::Emit);
    assert_eq!(gate.admit(&bare("c", "b", 50, Source::Backfill, 1)), Verdict::Stale, "as complete");
    assert_eq!(gate.admit(&bare("c", "c", 50, Source::Live, 0)), Verdict::Emit, "live may repeat a time");
    assert_eq!(gate.admit(&bare("c", "d", 50, Source::Backfill, 2)), Verdict::Emit, "more complete");
    assert_eq!(gate.admit(&bare("c", "e", 49, Source::Live, 2)), Verdict::Stale, "older");
    assert_eq!(gate.admit(&bare("c", "f", 51, Source::Backfill, 0)), Verdict::Emit, "newer");
    assert_eq!(gate.admit(&bare("other", "a", 1, Source::Backfill, 0)), Verdict::Emit, "per conversation");
}

#[test]
fn recording_an_older_state_keeps_the_newest() {
    let mut freshness = Freshness::new(10, i64::MAX);
    freshness.record(&bare("c", "new", 100, Source::Live, 0));
    freshness.record(&bare("c", "old", 10, Source::Live, 0));
    assert_eq!(freshness.judge(&bare("c", "x", 50, Source::Live, 0)), Standing::Stale);
}

#[test]
fn memory_does_not_grow_past_capacity() {
    let config = GateConfig {
        event_capacity: 500,
        event_max_age_ms: i64::MAX,
        conversation_capacity: 200,
        ended_ttl_ms: i64::MAX,
    };
    let mut gate = Gate::new(config);
    for i in 0..20_000_i64 {
        let conversation = format!("c{}", i / 4);
        // Four states per conversation, the last one ended.
        let event = bare(&conversation, &i.to_string(), i, Source::Live, if i % 4 == 3 { 2 } else { 0 });
        assert_eq!(gate.admit(&event), Verdict::Emit);
        let (ids, conversations) = gate.sizes();
        assert!(ids <= 500 && conversations <= 200, "{ids} ids, {conversations} conversations at {i}");
        assert!(gate.freshness.queued() <= 2 * 2 * 1024 + 2, "{} queued at {i}", gate.freshness.queued());
    }
    assert_eq!(gate.sizes(), (500, 200));
    // The most recently updated conversation is still known; the first one is forgotten.
    assert_eq!(gate.judge(&bare("c4999", "y", 0, Source::Live, 0)), Verdict::Stale);
    assert_eq!(gate.judge(&bare("c0", "y", 0, Source::Live, 0)), Verdict::Emit);
}

#[test]
fn ended_conversations_are_forgotten_after_the_ttl_and_open_ones_are_not() {
    let config = GateConfig { ended_ttl_ms: 1_000, ..GateConfig::default() };
    let mut gate = Gate::new(config);
    gate.admit(&bare("done", "a", 100, Source::Live, 2));
    gate.admit(&bare("open", "a", 100, Source::Live, 0));
    gate.expire(1_000);
    assert_eq!(gate.sizes().1, 2, "within the TTL");
    gate.expire(1_101);
    assert_eq!(gate.sizes().1, 1);
    assert_eq!(gate.judge(&bare("open", "b", 0, Source::Live, 0)), Verdict::Stale);
    assert_eq!(gate.judge(&bare("done", "b", 0, Source::Backfill, 0)), Verdict::Emit);
    // A conversation updated after it ended is kept until its newest end is old enough.
    gate.admit(&bare("again", "a", 2_000, Source::Live, 2));
    gate.admit(&bare("again", "b", 2_900, Source::Live, 2));
    gate.expire(3_500);
    assert_eq!(gate.judge(&bare("again", "c", 0, Source::Live, 0)), Verdict::Stale);
    gate.expire(3_901);
    assert_eq!(gate.judge(&bare("again", "c", 0, Source::Live, 0)), Verdict::Emit);
}

#[test]
fn event_ids_age_out() {
    let config = GateConfig { event_max_age_ms: 1_000, ..GateConfig::default() };
    let mut gate = Gate::new(config);
    let first = bare("c", "same", 10, Source::Live, 0);
    gate.admit(&first);
    let mut late = first.clone();
    late.receive_time_ms = 5_000;
    gate.expire(5_000);
    assert_eq!(gate.judge(&late), Verdict::Emit, "forgotten id, same state: live may repeat it");
}

//! The verifier finds a dropped conversation, a missing final state and a duplicate in an
//! observed stream built to contain them, and reports clean on a clean one.

use genesys_cloud_sim::{ObservedRecord, RecordSource, Truth, TruthSnapshot, VerifyOptions, verify};
use serde_json::json;

const Q1: &str = "queue-1";
const Q2: &str = "queue-2";

fn snap(seq: u64, conv: &str, queue: &str, at: i64, phase: &str, end: Option<i64>) -> TruthSnapshot {
    TruthSnapshot {
        seq,
        conversation_id: conv.into(),
        queue_id: queue.into(),
        topic: format!("v2.routing.queues.{queue}.conversations"),
        generated_ms: at,
        phase: phase.into(),
        ended: end.is_some(),
        conversation_start_ms: 1_000,
        conversation_end_ms: end,
        wrapup_code: None,
        subscribed_channels: vec![],
        deliveries: vec![],
        body: None,
    }
}

/// A: ended at 5000; B: ended at 6000; C: still open; D: only on an unsubscribed queue;
/// E: started after the window.
fn truth() -> Truth {
    let mut s = vec![
        snap(0, "A", Q1, 1_000, "queued", None),
        snap(1, "A", Q1, 3_000, "connected", None),
        snap(2, "A", Q1, 5_000, "disconnected", Some(5_000)),
        snap(3, "A", Q1, 5_500, "wrapup", Some(5_000)),
        snap(4, "B", Q1, 2_000, "queued", None),
        snap(5, "B", Q1, 6_000, "disconnected", Some(6_000)),
        snap(6, "C", Q1, 4_000, "queued", None),
        snap(7, "D", Q2, 4_000, "queued", None),
        snap(8, "E", Q1, 50_000, "queued", None),
    ];
    for (i, x) in s.iter_mut().enumerate() {
        x.seq = i as u64;
    }
    Truth { snapshots: s, faults: vec![] }
}

fn rec(
    conv: &str,
    event: &str,
    offset: i64,
    end: Option<i64>,
    source: RecordSource,
    rt: Option<i64>,
) -> ObservedRecord {
    ObservedRecord {
        conversation_id: conv.into(),
        queue_id: Some(Q1.into()),
        event_id: event.into(),
        source,
        conversation_end_ms: end,
        receive_time_ms: rt,
        kafka_partition: 0,
        kafka_offset: offset,
    }
}

fn options() -> VerifyOptions {
    VerifyOptions::new([Q1.to_string()], 0, 10_000)
}

fn clean_stream() -> Vec<ObservedRecord> {
    use RecordSource::*;
    vec![
        rec("A", "a1", 0, None, Live, Some(1_010)),
        rec("B", "b1", 1, None, Live, Some(2_020)),
        rec("A", "a2", 2, None, Live, Some(3_030)),
        rec("C", "c1", 3, None, Backfill, None),
        rec("A", "a3", 4, Some(5_000), Live, Some(5_040)),
        rec("A", "a4", 5, Some(5_000), Live, Some(5_550)),
        rec("B", "b2", 6, Some(6_000), Backfill, None),
    ]
}

#[test]
fn clean_stream_is_clean() {
    let report = verify(&truth(), &clean_stream(), &options());
    assert!(report.is_clean(), "{}", report.summary());
    assert_eq!(report.expected_conversations, 3, "A, B, C (not D: other queue; not E: after the window)");
    assert_eq!(report.expected_final_states, 2);
    let lat = report.latency.clone().expect("latency");
    assert_eq!((lat.count, lat.min_ms, lat.max_ms), (5, 10, 50));
    assert!(report.summary().contains("CLEAN"));
}

#[test]
fn finds_a_dropped_conversation_a_missing_final_state_and_a_duplicate() {
    use RecordSource::*;
    let mut stream: Vec<ObservedRecord> = clean_stream().into_iter().filter(|r| r.conversation_id != "C").collect();
    // A duplicate: a1 written again by backfill.
    stream.push(rec("A", "a1", 7, None, Backfill, None));
    // B's final state lost: a stale (open) backfill record lands after the ended one.
    stream.push(rec("B", "b1-stale", 8, None, Backfill, None));
    let report = verify(&truth(), &stream, &options());
    assert!(!report.is_clean());
    let missing: Vec<&str> = report.missing.iter().map(|m| m.conversation_id.as_str()).collect();
    assert_eq!(missing, ["C"]);
    assert_eq!(report.final_state_missing.len(), 2, "{}", report.summary());
    let a = report.final_state_missing.iter().find(|f| f.conversation_id == "A").expect("A");
    assert!(a.end_seen_earlier, "A's final state was written, then overwritten by the duplicate a1");
    let b = report.final_state_missing.iter().find(|f| f.conversation_id == "B").expect("B");
    assert!(b.end_seen_earlier);
    assert_eq!(b.expected_end_ms, 6_000);
    assert_eq!(b.last_record.event_id, "b1-stale");
    assert_eq!(report.duplicates.len(), 1);
    assert_eq!(report.duplicates[0].event_id, "a1");
    assert_eq!(report.duplicates[0].count, 2);
    let summary = report.summary();
    assert!(summary.contains("PROBLEMS") && summary.contains("missing conversations: 1"), "{summary}");
    let json = serde_json::to_value(&report).expect("report serializes");
    assert_eq!(json["missing"][0]["conversation_id"], "C");
}

#[test]
fn wrong_end_time_and_never_ended_are_reported() {
    use RecordSource::*;
    let mut stream = clean_stream();
    stream.retain(|r| r.event_id != "b2");
    stream.push(rec("B", "b2", 6, Some(6_002), Backfill, None));
    stream.retain(|r| r.event_id != "a3" && r.event_id != "a4");
    let report = verify(&truth(), &stream, &options());
    let reasons: Vec<(&str, &str)> =
        report.final_state_missing.iter().map(|f| (f.conversation_id.as_str(), f.reason.as_str())).collect();
    assert_eq!(
        reasons,
        [("A", "no record shows the conversation ended"), ("B", "the last record shows a different end time")]
    );
}

#[test]
fn split_partitions_and_unknown_conversations() {
    let mut stream = clean_stream();
    stream[1].kafka_partition = 1;
    stream.push(ObservedRecord { conversation_id: "Z".into(), ..stream[0].clone() });
    let last = stream.len() - 1;
    stream[last].event_id = "z1".into();
    let report = verify(&truth(), &stream, &options());
    assert_eq!(report.split_keys.len(), 1);
    assert_eq!(report.split_keys[0].conversation_id, "B");
    assert_eq!(report.unknown_conversations, ["Z"]);
    assert!(!report.is_clean());
}

#[test]
fn records_read_from_json_as_the_avro_schema_names_them() {
    let values = [
        json!({"conversation_id": "A", "queue_id": Q1, "event_id": "a1", "source": "LIVE",
               "conversation_end_ms": null, "receive_time_ms": 1010, "kafka_partition": 0, "kafka_offset": 0}),
        json!({"conversation_id": "A", "queue_id": {"string": Q1}, "event_id": "a3", "source": "BACKFILL",
               "conversation_end_ms": {"long": 5000}, "receive_time_ms": null, "kafka_partition": 0, "kafka_offset": 1}),
    ];
    let records: Vec<ObservedRecord> = values.iter().map(|v| ObservedRecord::from_json(v).expect("record")).collect();
    assert_eq!(records[1].conversation_end_ms, Some(5000));
    assert_eq!(records[1].source, RecordSource::Backfill);
    let bad = json!({"conversation_id": "A", "event_id": "x", "source": "SOMETIMES", "kafka_partition": 0, "kafka_offset": 0});
    assert!(ObservedRecord::from_json(&bad).is_err());
}

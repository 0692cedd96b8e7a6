//! Time-scaled traffic: conversations are generated with a real lifecycle, delivered over a
//! socket, recorded in the truth, and the verifier agrees with what the socket saw.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use genesys_cloud_sim::{DurationRange, ObservedRecord, RecordSource, VerifyOptions, verify};
use serde_json::Value;
use tributary_test_support::{sim_client::*, simulator::*};

fn parse_ms(s: &str) -> i64 {
    genesys_cloud_sim::models::parse_iso_ms(s).expect("ISO timestamp")
}

/// The end time a consumer derives from a snapshot: max participant endTime once all have one.
fn end_ms(body: &Value) -> Option<i64> {
    let parts = body["participants"].as_array()?;
    let ends: Option<Vec<i64>> = parts.iter().map(|p| p["endTime"].as_str().map(parse_ms)).collect();
    ends.and_then(|e| e.into_iter().max())
}

#[tokio::test]
async fn conversations_flow_through_their_lifecycle_to_the_socket_and_the_truth() {
    let mut cfg = quiet(60.0);
    cfg.traffic.enabled = true;
    cfg.traffic.arrivals_per_minute = 20.0; // 20 per real second at scale 60
    cfg.traffic.queue_wait = DurationRange::secs(3, 9);
    cfg.traffic.alert = DurationRange::secs(2, 6);
    cfg.traffic.talk = DurationRange::secs(10, 30);
    cfg.traffic.wrapup = DurationRange::secs(5, 10);
    cfg.traffic.transfer_probability = 0.4;
    cfg.traffic.abandon_probability = 0.15;
    let sim = start(cfg).await;
    let queues = sim.queue_ids();
    let tok = token(&sim).await;
    sim.pause_traffic(true);
    let (channel, mut ws) = channel_with_socket(&sim, &tok, &queues).await;
    let t_start = genesys_cloud_sim::Clock::now_ms();
    sim.pause_traffic(false);

    // Collect for 1.5 s of arrivals plus time for every conversation to finish (≤ ~1.6 s each).
    let mut received: Vec<(Value, i64)> = Vec::new();
    let began = tokio::time::Instant::now();
    let mut paused = false;
    let mut last_ping = began;
    while began.elapsed() < Duration::from_millis(4200) {
        if !paused && began.elapsed() > Duration::from_millis(1500) {
            sim.pause_traffic(true);
            paused = true;
        }
        if last_ping.elapsed() > Duration::from_millis(500) {
            send_text(&mut ws, r#"{"message":"ping"}"#).await;
            last_ping = tokio::time::Instant::now();
        }
        match next(&mut ws, Duration::from_millis(50)).await {
            Seen::Text(t) => {
                let v: Value = serde_json::from_str(&t).expect("json");
                if v["topicName"].as_str().is_some_and(|n| n.starts_with("v2.routing.queues.")) {
                    received.push((v, genesys_cloud_sim::Clock::now_ms()));
                }
            }
            Seen::Nothing => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let t_end = genesys_cloud_sim::Clock::now_ms();
    let truth = sim.truth();
    let convs = truth.conversations();
    assert!(convs.len() >= 10, "expected traffic, got {} conversations", convs.len());

    // Every snapshot was delivered to our channel, and what we received is exactly the truth.
    assert_eq!(received.len(), truth.snapshots.len());
    for (s, (v, _)) in truth.snapshots.iter().zip(&received) {
        assert_eq!(s.deliveries.len(), 1, "snapshot {} delivered once", s.seq);
        assert_eq!(s.deliveries[0].channel_id, channel);
        assert_eq!(v["topicName"], s.topic.as_str());
        assert_eq!(Some(&v["eventBody"]), s.body.as_ref());
    }

    // Lifecycles: every conversation ends (wrap-up or abandoned) with consistent timestamps.
    let mut transferred = 0;
    let mut abandoned = 0;
    for c in convs.values() {
        assert!(c.last_phase == "wrapup" || c.last_phase == "abandoned", "{c:?}");
        let end = c.end_ms.expect("ended");
        assert!(c.start_ms >= t_start - 50 && end <= t_end, "wall-clock timestamps");
        let snaps = truth.for_conversation(&c.conversation_id);
        let last = snaps.last().expect("snapshots").body.as_ref().expect("body");
        assert_eq!(end_ms(last), Some(end), "consumer-derived end time equals the truth");
        let phases: Vec<&str> = snaps.iter().map(|s| s.phase.as_str()).collect();
        assert_eq!(phases[0], "queued");
        if c.last_phase == "abandoned" {
            abandoned += 1;
            assert!(c.wrapup_code.is_none());
        } else {
            let agent_with_wrapup = last["participants"]
                .as_array()
                .expect("participants")
                .iter()
                .any(|p| p["purpose"] == "agent" && p["wrapup"]["code"].is_string());
            assert!(agent_with_wrapup, "final snapshot carries the wrap-up");
        }
        if c.queue_ids.len() == 2 {
            transferred += 1;
            // After the transfer both queues' topics see every snapshot.
            let after: Vec<_> = snaps.iter().skip_while(|s| s.phase != "transferred").collect();
            let topics: BTreeSet<&str> = after.iter().map(|s| s.queue_id.as_str()).collect();
            assert_eq!(topics.len(), 2);
        }
    }
    assert!(transferred > 0 && abandoned > 0, "transfers {transferred}, abandons {abandoned}");

    // The verifier, fed what the socket delivered, reports clean with plausible latency.
    let observed: Vec<ObservedRecord> = received
        .iter()
        .enumerate()
        .map(|(i, (v, at))| ObservedRecord {
            conversation_id: v["eventBody"]["id"].as_str().expect("id").to_string(),
            queue_id: v["topicName"].as_str().and_then(|t| t.split('.').nth(3)).map(str::to_string),
            event_id: format!("e{i}"),
            source: RecordSource::Live,
            conversation_end_ms: end_ms(&v["eventBody"]),
            receive_time_ms: Some(*at),
            kafka_partition: 0,
            kafka_offset: i as i64,
        })
        .collect();
    let report = verify(&truth, &observed, &VerifyOptions::new(queues.clone(), t_start - 1000, t_end));
    assert!(report.is_clean(), "{}", report.summary());
    assert_eq!(report.expected_conversations, convs.len());
    let lat = report.latency.clone().expect("latency");
    assert!(lat.p99_ms < 500, "{}", report.summary());

    // The per-conversation counts add up.
    let per_queue: BTreeMap<&str, usize> = truth.snapshots.iter().fold(BTreeMap::new(), |mut m, s| {
        *m.entry(s.queue_id.as_str()).or_default() += 1;
        m
    });
    assert!(per_queue.len() >= 2);
    let path = std::env::temp_dir().join(format!("genesys-sim-truth-{}.jsonl", std::process::id()));
    sim.dump_truth_jsonl(&path).expect("dump");
    let back = genesys_cloud_sim::Truth::read_jsonl(&path).expect("read back");
    assert_eq!(back, sim.truth());
    let _ = std::fs::remove_file(&path);
    sim.shutdown().await;
}

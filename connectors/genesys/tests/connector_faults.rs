//! The connector against the simulated org: every fault is survived on its own, the cause is
//! named in status, and — judged by the simulator's ground truth — nothing is missing.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use genesys_cloud_sim::{BadFrameKind, EndpointClass, Fault, Target};
use serde_json::json;
use tributary_connector_api::{Health, TaskError};
use tributary_test_support::{
    clock::now_ms,
    connector_task::*,
    simulator::{sim_config, start_sim},
    wait::bounded,
};

const LIMIT: Duration = Duration::from_secs(120);

fn healthy(h: &Harness) -> bool {
    h.status().health == Health::Healthy && !h.channel_ids().is_empty()
}

fn reconnects(h: &Harness, cause: &str) -> u64 {
    h.reconnects().get(cause).copied().unwrap_or(0)
}

fn rollovers(h: &Harness) -> u64 {
    h.status().detail["channels"]
        .as_array()
        .map(|c| c.iter().map(|c| c["rollovers"].as_u64().unwrap_or(0)).sum())
        .unwrap_or(0)
}

/// Stops traffic, waits for every conversation to end and the connector to settle, then checks
/// the truth: no conversation and no final state missing.
async fn settle_and_verify(h: &Harness, from_ms: i64) {
    h.sim.pause_traffic(true);
    let to_ms = now_ms();
    h.wait_for("every conversation to end", Duration::from_secs(60), |h| {
        h.sim.truth().conversations().values().all(|c| c.end_ms.is_some())
    })
    .await;
    h.wait_for("backfill to finish", Duration::from_secs(60), |h| h.pending_gaps() == 0).await;
    // The last snapshots reach the connector over the socket.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let report = h.verify(from_ms, to_ms);
    assert!(report.expected_conversations > 0, "the test generated no traffic: {}", report.summary());
    assert!(report.missing.is_empty(), "missing conversations: {}", report.summary());
    assert!(report.final_state_missing.is_empty(), "final states missing: {}", report.summary());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_is_survived_and_named() {
    bounded(LIMIT, async {
        let mut h = Harness::start(sim_config(60.0, 3, 40.0, 7), |_| {}).await;
        h.wait_for("a healthy channel", Duration::from_secs(10), healthy).await;
        let from_ms = now_ms();
        tokio::time::sleep(Duration::from_secs(1)).await;

        let faults: Vec<(Fault, &str)> = vec![
            (Fault::HalfOpen { target: Target::All }, "missed_pong"),
            (Fault::TcpReset { target: Target::All }, "transport"),
            (Fault::Close { target: Target::All, code: 1001, reason: "going away".into() }, "closed"),
            (Fault::Close { target: Target::All, code: 1006, reason: String::new() }, "transport"),
            (Fault::ChannelExpiry { target: Target::All }, "channel_invalid"),
            (Fault::Eviction { target: Target::All }, "no_longer_subscribed"),
            (Fault::TokenRevocation { target: Target::All }, "token_revoked"),
        ];
        for (fault, cause) in faults {
            let before = reconnects(&h, cause);
            let channel = h.channel_ids();
            let injected = now_ms();
            h.sim.inject(fault.clone());
            h.wait_for(&format!("{cause} to be detected after {fault:?}"), Duration::from_secs(10), |h| {
                reconnects(h, cause) > before
            })
            .await;
            h.wait_for("coverage to return", Duration::from_secs(15), |h| {
                healthy(h) && h.channel_ids() != vec![String::new()]
            })
            .await;
            let death = h.status().detail["channels"][0]["last_death"].clone();
            assert_eq!(death["cause"], json!(cause), "{death}");
            let detection = death["detection_ms"].as_i64().unwrap_or(i64::MAX);
            assert!(detection < 5_000, "{cause}: detection took {detection} ms: {death}");
            // Only a socket that died on a valid channel is reused.
            let reused = h.channel_ids() == channel;
            let socket_only = matches!(cause, "missed_pong" | "transport" | "closed");
            assert_eq!(reused, socket_only, "{cause}: channel reuse {channel:?} -> {:?}", h.channel_ids());
            tracing_note(cause, injected);
            tokio::time::sleep(Duration::from_millis(700)).await;
        }

        // Planned: socket_closing is make-before-break, no reconnect.
        let before = rollovers(&h);
        let total_reconnects: u64 = h.reconnects().values().sum();
        h.sim.inject(Fault::SocketClosing { target: Target::All, grace: None });
        h.wait_for("a rollover", Duration::from_secs(10), |h| rollovers(h) > before).await;
        assert_eq!(h.reconnects().values().sum::<u64>(), total_reconnects, "a rollover is not a reconnect");

        settle_and_verify(&h, from_ms).await;
        assert!(h.stop().await.is_ok());
    })
    .await;
}

fn tracing_note(cause: &str, injected_ms: i64) {
    eprintln!("fault {cause} injected at {injected_ms} recovered");
}

/// Event ids of every snapshot the simulator generated in `[from, to]` on `queues`.
fn generated_ids(h: &Harness, from_ms: i64, to_ms: i64) -> BTreeSet<String> {
    let queues: BTreeSet<String> = h.sim.queue_ids().into_iter().collect();
    h.sim
        .truth()
        .snapshots
        .iter()
        .filter(|s| s.generated_ms >= from_ms && s.generated_ms <= to_ms && queues.contains(&s.queue_id))
        .filter_map(|s| s.body.as_ref().map(|b| tributary_genesys::record::event_id_for(&s.conversation_id, b)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planned_rollovers_lose_no_snapshot() {
    bounded(LIMIT, async {
        // Channels live 10 protocol minutes (10 s real): they roll over before expiry.
        let mut sim = sim_config(60.0, 2, 60.0, 7);
        sim.notifications.channel_lifetime = Duration::from_secs(600);
        let mut h = Harness::start(sim, |c| c["backfill"]["enabled"] = json!(false)).await;
        h.wait_for("a healthy channel", Duration::from_secs(10), healthy).await;
        let from_ms = now_ms();
        h.sim.inject(Fault::SocketClosing { target: Target::All, grace: None });
        h.wait_for("a socket_closing rollover", Duration::from_secs(10), |h| rollovers(h) >= 1).await;
        h.wait_for("an expiry rollover", Duration::from_secs(20), |h| rollovers(h) >= 2).await;
        let to_ms = now_ms();
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(h.reconnects().is_empty(), "planned rollovers only: {:?}", h.reconnects());
        let emitted: BTreeSet<String> =
            h.records().iter().filter_map(|r| r["event_id"].as_str().map(str::to_owned)).collect();
        let generated = generated_ids(&h, from_ms, to_ms);
        assert!(generated.len() > 10, "too little traffic: {}", generated.len());
        let missing: Vec<_> = generated.difference(&emitted).collect();
        assert!(missing.is_empty(), "{} of {} snapshots missing: {missing:?}", missing.len(), generated.len());
        let ids: Vec<String> = h.records().iter().filter_map(|r| r["event_id"].as_str().map(str::to_owned)).collect();
        let unique: BTreeSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "events seen on both channels during the overlap are emitted once");
        assert!(h.stop().await.is_ok());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_frozen_watermark_is_the_last_covered_moment() {
    bounded(LIMIT, async {
        let mut h = Harness::start(sim_config(60.0, 2, 30.0, 7), |c| c["backfill"]["enabled"] = json!(false)).await;
        h.wait_for("a healthy channel", Duration::from_secs(10), healthy).await;
        let queue = h.sim.queue_ids()[0].clone();
        h.wait_for("the watermark to advance", Duration::from_secs(5), |h| h.watermark(&queue).is_some()).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let silenced = now_ms();
        h.sim.inject(Fault::HalfOpen { target: Target::All });
        h.wait_for("the death", Duration::from_secs(10), |h| reconnects(h, "missed_pong") > 0).await;
        h.wait_for("recovery", Duration::from_secs(10), healthy).await;
        let detected = h.status().detail["channels"][0]["last_death"]["detected_ms"].as_i64().expect("detected_ms");
        tokio::time::sleep(Duration::from_secs(2)).await;
        let frozen = h.watermark(&queue).expect("a watermark");
        // Coverage was proven (channel checked, socket alive) shortly before the socket went silent.
        assert!(frozen <= silenced, "watermark {frozen} is after the silence began at {silenced}");
        assert!(frozen < detected, "watermark {frozen} must not be the detection time {detected}");
        assert!(silenced - frozen < 1500, "watermark {frozen} lags the silence ({silenced}) by too much");
        let gaps = h.status().detail["gaps"].clone();
        assert_eq!(gaps[0]["queue_id"], json!(queue), "{gaps}");
        let gap_from = gaps[0]["from_ms"].as_i64().expect("from_ms");
        assert!(gap_from <= silenced && silenced - gap_from < 1000, "gap starts at the last proof: {gaps}");
        assert!(h.stop().await.is_ok());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_server_errors_on_channel_creation_are_retried() {
    bounded(LIMIT, async {
        let sim = start_sim(sim_config(60.0, 2, 20.0, 7)).await;
        sim.inject(Fault::RateLimitBurst {
            count: Some(3),
            duration: None,
            endpoints: vec![EndpointClass::ChannelCreate],
            client: None,
            retry_after: Duration::from_secs(60),
        });
        sim.inject(Fault::ServerErrorBurst {
            status: 503,
            count: Some(3),
            duration: None,
            endpoints: vec![EndpointClass::ChannelCreate],
            client: None,
        });
        let mut h = Harness::start_on(sim, HashMap::new(), |_| {}).await;
        h.wait_for("a healthy channel despite 429s and 503s", Duration::from_secs(30), healthy).await;
        let stats = h.sim.stats();
        let client = &stats.clients["tributary-sim"];
        assert!(client.fault_429s >= 1 && client.fault_5xx >= 1, "{client:?}");
        assert!(client.early_requests.is_empty(), "Retry-After obeyed: {:?}", client.early_requests);
        assert!(h.stop().await.is_ok());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_a_thousand_queues_use_several_channels() {
    bounded(LIMIT, async {
        let mut h = Harness::start(sim_config(60.0, 1500, 30.0, 7), |_| {}).await;
        h.wait_for("two healthy channels", Duration::from_secs(30), |h| healthy(h) && h.channel_ids().len() == 2).await;
        let topics: Vec<u64> = h.status().detail["channels"]
            .as_array()
            .map(|c| c.iter().map(|c| c["topics"].as_u64().unwrap_or(0)).collect())
            .unwrap_or_default();
        assert_eq!(topics, vec![1000, 500]);
        let covered =
            h.status().detail["queues"].as_array().map(|q| q.iter().filter(|q| q["covered"] == json!(true)).count());
        assert_eq!(covered, Some(1500));
        assert!(h.stop().await.is_ok());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_are_counted_never_fatal() {
    bounded(LIMIT, async {
        let mut h = Harness::start(sim_config(60.0, 2, 20.0, 7), |_| {}).await;
        h.wait_for("a healthy channel", Duration::from_secs(10), healthy).await;
        for frame in
            [BadFrameKind::InvalidJson, BadFrameKind::UnknownTopic, BadFrameKind::Oversized, BadFrameKind::Binary]
        {
            h.sim.inject(Fault::BadFrame { target: Target::All, frame, size: None });
        }
        h.wait_for("the bad frames to be counted", Duration::from_secs(10), |h| {
            let c = &h.status().detail["channels"][0];
            c["bad_frames"].as_u64().unwrap_or(0) + c["unknown_topics"].as_u64().unwrap_or(0) >= 3
        })
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(h.reconnects().is_empty(), "no reconnect for bad frames: {:?}", h.reconnects());
        assert!(healthy(&h));
        assert!(h.stop().await.is_ok());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_fail_clearly_without_the_secret() {
    bounded(LIMIT, async {
        let mut h =
            Harness::start(sim_config(60.0, 1, 0.0, 7), |c| c["client_secret"] = json!("not-the-secret-42")).await;
        let result = h.join().await;
        let Err(TaskError::Fatal(reason)) = result else { panic!("expected a fatal error, got {result:?}") };
        assert!(reason.contains("tributary-sim"), "names the client: {reason}");
        assert!(!reason.contains("not-the-secret-42"), "never shows the secret: {reason}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_token_rolls_channels_over_without_a_gap() {
    bounded(LIMIT, async {
        // Tokens live 300 protocol seconds (5 s real): refreshed at 80 %, channels follow.
        let mut sim = sim_config(60.0, 2, 40.0, 7);
        sim.clients[0].token_lifetime = Duration::from_secs(300);
        let mut h = Harness::start(sim, |c| c["backfill"]["enabled"] = json!(false)).await;
        h.wait_for("a healthy channel", Duration::from_secs(10), healthy).await;
        let from_ms = now_ms();
        let first = h.channel_ids();
        h.wait_for("two token rotations", Duration::from_secs(20), |h| rollovers(h) >= 2).await;
        let to_ms = now_ms();
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_ne!(h.channel_ids(), first, "the channel of the old token was replaced");
        assert!(h.reconnects().is_empty(), "rotation is planned, not a reconnect: {:?}", h.reconnects());
        assert!(h.sim.stats().tokens_issued >= 3, "tokens were refreshed: {:?}", h.sim.stats().tokens_issued);
        let emitted: BTreeSet<String> =
            h.records().iter().filter_map(|r| r["event_id"].as_str().map(str::to_owned)).collect();
        let generated = generated_ids(&h, from_ms, to_ms);
        let missing: Vec<_> = generated.difference(&emitted).collect();
        assert!(missing.is_empty(), "{} of {} snapshots missing across rotations", missing.len(), generated.len());
        assert!(h.stop().await.is_ok());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_topics_are_named_in_status_and_the_rest_is_covered() {
    bounded(LIMIT, async {
        let probe = genesys_cloud_sim::Simulator::start(sim_config(60.0, 3, 20.0, 7)).await.expect("probe");
        let forbidden = probe.queue_ids()[2].clone();
        probe.shutdown().await;
        let mut sim = sim_config(60.0, 3, 20.0, 7);
        sim.clients[0].forbidden_queue_ids = vec![forbidden.clone()];
        let mut h = Harness::start(sim, |_| {}).await;
        h.wait_for("a healthy channel", Duration::from_secs(10), |h| !h.channel_ids().is_empty()).await;
        h.wait_for("the rejection in status", Duration::from_secs(10), |h| {
            h.status().detail["channels"][0]["rejected"].as_array().is_some_and(|r| !r.is_empty())
        })
        .await;
        let rejected = h.status().detail["channels"][0]["rejected"][0].clone();
        assert_eq!(rejected["id"], json!(format!("v2.routing.queues.{forbidden}.conversations")), "{rejected}");
        assert!(rejected["missing_permissions"].as_array().is_some_and(|p| !p.is_empty()), "{rejected}");
        let topics = h.status().detail["channels"][0]["topics"].as_u64();
        assert_eq!(topics, Some(2), "the permitted queues are covered");
        assert!(h.stop().await.is_ok());
    })
    .await;
}

/// The analytics query selects whole UTC days, so a gap's query also returns every conversation
/// that started after the gap: live traffic that can grow faster than the request budget lets the
/// connector page. The backfill still ends, because paging stops at the window's end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_ends_while_live_traffic_outgrows_the_request_budget() {
    bounded(LIMIT, async {
        // 60 conversations a second arrive; the connector may page 1 request a second, 20 rows each.
        let sim = start_sim(sim_config(60.0, 3, 60.0, 7)).await;
        let gap_from = now_ms();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let stored: HashMap<String, i64> = sim.queue_ids().into_iter().map(|q| (q, gap_from)).collect();
        let mut h = Harness::start_on(sim, stored, |c| {
            c["rest"]["requests_per_minute"] = json!(60);
            c["keepalive"]["verify_interval"] = json!("10s");
            c["backfill"]["page_size"] = json!(20);
        })
        .await;
        h.wait_for("a healthy channel", Duration::from_secs(10), healthy).await;
        h.wait_for("the start-up gaps to close under live traffic", Duration::from_secs(60), |h| {
            h.status().detail["backfill"]["gaps_done"].as_u64().unwrap_or(0) >= 3
        })
        .await;
        settle_and_verify(&h, gap_from).await;
        assert!(h.stop().await.is_ok());
    })
    .await;
}

/// A stopped task (another replica takes the tenant over, say) leaves its channels without
/// subscriptions: they receive nothing more and are the first Genesys evicts when the OAuth
/// client's 20-channel budget is full.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_task_releases_its_channels_subscriptions() {
    bounded(LIMIT, async {
        let mut h = Harness::start(sim_config(60.0, 1500, 30.0, 11), |_| {}).await;
        h.wait_for("two healthy channels", Duration::from_secs(30), |h| healthy(h) && h.channel_ids().len() == 2).await;
        let ids = h.channel_ids();
        let sim = h.sim.clone();
        let subscribed = |ids: &[String]| {
            sim.channels().iter().filter(|c| ids.contains(&c.id)).map(|c| c.topics.len()).collect::<Vec<_>>()
        };
        assert_eq!(subscribed(&ids).iter().sum::<usize>(), 1500, "both channels subscribed before the stop");
        assert!(h.stop().await.is_ok());
        assert_eq!(subscribed(&ids), vec![0, 0], "every channel of the task is left without subscriptions");
    })
    .await;
}

/// Offsets another writer left in the offsets topic: a watermark a day in the future (it would
/// hold every later watermark there, so a crash would resume past events never written) and a
/// negative one. Neither is resumed from: each queue backfills `max_gap` and counts the rest as
/// lost, and the watermarks written afterwards are today's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_watermarks_that_make_no_sense_are_not_resumed_from() {
    bounded(LIMIT, async {
        let sim = start_sim(sim_config(60.0, 2, 30.0, 13)).await;
        let queues = sim.queue_ids();
        let day = 86_400_000;
        let stored: HashMap<String, i64> =
            [(queues[0].clone(), now_ms() + day), (queues[1].clone(), -5)].into_iter().collect();
        let mut h = Harness::start_on(sim, stored, |c| c["backfill"]["max_gap"] = json!("2m")).await;
        h.wait_for("a healthy channel", Duration::from_secs(10), healthy).await;
        h.wait_for("both start-up gaps backfilled", Duration::from_secs(60), |h| {
            h.status().detail["backfill"]["gaps_done"].as_u64().unwrap_or(0) >= 2
        })
        .await;
        let counts = h.status().detail["counts"].clone();
        assert_eq!(counts["truncated_gaps"], json!(2), "both counted as possibly lost: {counts}");
        let now = now_ms();
        for q in &queues {
            let w = h.watermark(q).unwrap_or(-1);
            assert!(w > now - day / 24 && w <= now, "queue {q}: watermark {w}, now {now}");
        }
        assert!(h.stop().await.is_ok());
    })
    .await;
}

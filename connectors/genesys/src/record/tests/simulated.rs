//! Samples produced by the simulated org (`genesys-cloud-sim`): every live snapshot of a
//! conversation maps to the truth's start, end and ended; the final state read back through the
//! REST conversation, the analytics query and an analytics job maps to the same fields as the
//! final live snapshot; and the gate lets the live stream through once and drops the backfills.

use std::time::Duration;

use genesys_cloud_sim::models::iso_ms;
use genesys_cloud_sim::{DurationRange, SimConfig, SimHandle, Simulator, TruthSnapshot};
use serde_json::{Value, json};

use super::equivalence::{comparable, routed_queues};
use crate::dedup::{Gate, GateConfig, Verdict};
use crate::record::tests::from_snapshot;
use crate::record::{BackfillApi, ConversationEvent, from_analytics, from_rest_conversation};

const STEP: Duration = Duration::from_secs(10);

/// No background traffic, short phases, no analytics delay, 200 protocol seconds per second.
fn config(transfer_probability: f64, abandon_probability: f64) -> SimConfig {
    let mut cfg = SimConfig { time_scale: 200.0, ..SimConfig::default() };
    cfg.traffic.enabled = false;
    cfg.traffic.queue_wait = DurationRange::secs(4, 8);
    cfg.traffic.alert = DurationRange::secs(2, 4);
    cfg.traffic.talk = DurationRange::secs(20, 40);
    cfg.traffic.wrapup = DurationRange::secs(5, 10);
    cfg.traffic.transfer_probability = transfer_probability;
    cfg.traffic.abandon_probability = abandon_probability;
    cfg.analytics.data_delay = Duration::ZERO;
    cfg.analytics.data_delay_jitter = Duration::ZERO;
    cfg.analytics.data_lake_lag = Duration::ZERO;
    cfg.analytics.job_completion_delay = Duration::from_secs(1);
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_conversations_map_alike_from_every_source() {
    for (transfer, abandon, phases) in [(1.0, 0.0, 9), (0.0, 1.0, 2), (0.0, 0.0, 5)] {
        let sim = tokio::time::timeout(STEP, Simulator::start(config(transfer, abandon)))
            .await
            .expect("start in time")
            .expect("simulator starts");
        check_one_conversation(&sim, phases).await;
        sim.shutdown().await;
    }
}

async fn check_one_conversation(sim: &SimHandle, phases: usize) {
    let queue = sim.queue_ids().first().cloned().expect("a queue");
    let conversation = sim.start_conversation(&queue).expect("started");
    let snapshots = wait_until_final(sim, &conversation, phases).await;

    // Every live snapshot agrees with the truth; event times and completeness never go back.
    let mut live = Vec::new();
    for snapshot in &snapshots {
        let body = snapshot.body.clone().expect("truth keeps bodies");
        let topic = &snapshot.topic;
        let event = from_snapshot(
            "sim",
            &snapshot.queue_id,
            topic,
            Some("ch"),
            &body,
            &body.to_string(),
            snapshot.generated_ms,
        )
        .unwrap_or_else(|e| panic!("{} snapshot {}: {e}", snapshot.phase, snapshot.seq));
        assert_eq!(event.conversation_start_ms, Some(snapshot.conversation_start_ms), "{}", snapshot.phase);
        assert_eq!(event.conversation_end_ms, snapshot.conversation_end_ms, "{}", snapshot.phase);
        assert_eq!(event.ended, snapshot.ended, "{}", snapshot.phase);
        if let Some(previous) = live.last() {
            let previous: &ConversationEvent = previous;
            assert!(event.event_time_ms >= previous.event_time_ms, "{} went back in time", snapshot.phase);
            assert!(event.completeness() >= previous.completeness(), "{} lost completeness", snapshot.phase);
        }
        live.push(event);
    }
    let last = live.last().expect("snapshots").clone();
    assert!(last.ended);

    let token = token(sim).await;
    let rest_body = get(sim, &token, &format!("/api/v2/conversations/{conversation}")).await;
    let rest = from_rest_conversation("sim", &queue, &rest_body, 0).expect("rest maps");
    let query = query_rows(sim, &token, &queue).await;
    let row = find_row(&query, &conversation);
    let analytics = from_analytics("sim", &queue, row, BackfillApi::AnalyticsQuery, 0).expect("row maps");
    let job_rows = job_rows(sim, &token, &queue).await;
    let job = from_analytics("sim", &queue, find_row(&job_rows, &conversation), BackfillApi::AnalyticsJobs, 0)
        .expect("job row maps");

    for (name, backfill) in [("rest", &rest), ("query", &analytics), ("job", &job)] {
        assert_eq!(comparable(backfill), comparable(&last), "{name}");
        assert_eq!(routed_queues(backfill), routed_queues(&last), "{name}");
        assert_eq!(backfill.event_time_ms, last.event_time_ms, "{name}");
        assert_eq!(backfill.completeness(), last.completeness(), "{name}");
    }

    // The live stream passes once (a transferred conversation's snapshots reach two queue topics
    // with the same body), and backfills of the state already produced are dropped.
    let mut gate = Gate::new(GateConfig::default());
    let emitted = live.iter().filter(|e| gate.admit(e) == Verdict::Emit).count();
    let distinct: std::collections::HashSet<&str> = live.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(emitted, distinct.len());
    for backfill in [&rest, &analytics, &job] {
        assert_eq!(gate.admit(backfill), Verdict::Stale);
    }
}

/// The conversation's snapshots once its final one (ended and wrapped up, or abandoned) is in,
/// after at least `phases` state changes.
async fn wait_until_final(sim: &SimHandle, conversation: &str, phases: usize) -> Vec<TruthSnapshot> {
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        let truth = sim.truth();
        let snapshots: Vec<TruthSnapshot> = truth.for_conversation(conversation).into_iter().cloned().collect();
        let distinct_phases = {
            let mut seqs: Vec<(i64, &str)> = snapshots.iter().map(|s| (s.generated_ms, s.phase.as_str())).collect();
            seqs.dedup();
            seqs.len()
        };
        let last_is_final =
            snapshots.last().is_some_and(|s| s.ended && matches!(s.phase.as_str(), "wrapup" | "abandoned"));
        if distinct_phases >= phases && last_is_final {
            return snapshots;
        }
        assert!(tokio::time::Instant::now() < deadline, "conversation did not finish: {distinct_phases} phases");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn token(sim: &SimHandle) -> String {
    let credentials = sim.credentials();
    let response = reqwest::Client::new()
        .post(format!("{}/oauth/token", sim.login_base_url()))
        .basic_auth(&credentials.client_id, Some(&credentials.client_secret))
        .form(&[("grant_type", "client_credentials")])
        .timeout(STEP)
        .send()
        .await
        .expect("token request");
    let body: Value = response.json().await.expect("token json");
    body["access_token"].as_str().expect("access_token").to_owned()
}

async fn get(sim: &SimHandle, token: &str, path: &str) -> Value {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", sim.api_base_url()))
        .bearer_auth(token)
        .timeout(STEP)
        .send()
        .await
        .expect("request");
    assert!(response.status().is_success(), "GET {path}: {}", response.status());
    response.json().await.expect("json")
}

async fn post(sim: &SimHandle, token: &str, path: &str, body: &Value) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", sim.api_base_url()))
        .bearer_auth(token)
        .json(body)
        .timeout(STEP)
        .send()
        .await
        .expect("request");
    assert!(response.status().is_success(), "POST {path}: {}", response.status());
    response.json().await.expect("json")
}

fn query_body(queue: &str) -> Value {
    let now = genesys_cloud_sim::Clock::now_ms();
    json!({
        "interval": format!("{}/{}", iso_ms(now - 3_600_000), iso_ms(now + 60_000)),
        "segmentFilters": [{"type": "or", "predicates": [
            {"type": "dimension", "dimension": "queueId", "operator": "matches", "value": queue}]}],
        "paging": {"pageSize": 100, "pageNumber": 1}
    })
}

async fn query_rows(sim: &SimHandle, token: &str, queue: &str) -> Value {
    post(sim, token, "/api/v2/analytics/conversations/details/query", &query_body(queue)).await
}

async fn job_rows(sim: &SimHandle, token: &str, queue: &str) -> Value {
    let jobs = "/api/v2/analytics/conversations/details/jobs";
    let submitted = post(sim, token, jobs, &query_body(queue)).await;
    let id = submitted["jobId"].as_str().expect("jobId").to_owned();
    let deadline = tokio::time::Instant::now() + STEP;
    while get(sim, token, &format!("{jobs}/{id}")).await["state"] != "FULFILLED" {
        assert!(tokio::time::Instant::now() < deadline, "job not fulfilled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    get(sim, token, &format!("{jobs}/{id}/results")).await
}

fn find_row<'a>(response: &'a Value, conversation: &str) -> &'a Value {
    response["conversations"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["conversationId"] == conversation))
        .unwrap_or_else(|| panic!("{conversation} not in {response}"))
}

//! Shape fidelity: every JSON body the simulator emits deserializes into the official Genesys
//! Python SDK model with no invented field, no invented enum value and no type mismatch
//! (`tests/python/check_shapes.py`). One Python process checks every sample.
//!
//! Python is found via `TRIBUTARY_PYTHON` or `<workspace>/.venv/bin/python`. Without it the test
//! fails (run `.ci/run` to create the environment) unless `TRIBUTARY_SKIP_PYTHON=1`.

use std::path::PathBuf;
use std::time::Duration;

use genesys_cloud_sim::{DurationRange, Fault, Target};
use reqwest::Method;
use serde_json::{Value, json};
use tributary_test_support::{
    python::{python_or_skip, run_script},
    sim_client::*,
    simulator::*,
};

struct Samples(Vec<Value>);

impl Samples {
    fn add(&mut self, name: &str, model: &str, json: &Value) {
        assert!(!json.is_null(), "sample {name} is empty");
        self.0.push(json!({"name": name, "model": model, "json": json}));
    }
}

fn envelope_keys(v: &Value) {
    let keys: Vec<&str> = v.as_object().expect("object").keys().map(String::as_str).collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, ["eventBody", "metadata", "topicName", "version"], "envelope: {v}");
    let meta: Vec<&String> = v["metadata"].as_object().expect("metadata").keys().collect();
    assert_eq!(meta, ["CorrelationId"]);
    assert_eq!(v["version"], "2");
}

#[tokio::test]
async fn emitted_json_matches_the_official_sdk_models() {
    let Some(py) = python_or_skip("shape check against the Genesys Python SDK") else { return };

    let mut cfg = quiet(60.0);
    cfg.traffic.queue_wait = DurationRange::secs(2, 3);
    cfg.traffic.alert = DurationRange::secs(2, 3);
    cfg.traffic.talk = DurationRange::secs(5, 8);
    cfg.traffic.wrapup = DurationRange::secs(3, 5);
    cfg.traffic.transfer_probability = 1.0;
    cfg.traffic.abandon_probability = 0.0;
    cfg.analytics.data_delay = Duration::ZERO;
    cfg.analytics.data_delay_jitter = Duration::ZERO;
    cfg.analytics.data_lake_lag = Duration::ZERO;
    cfg.analytics.job_completion_delay = Duration::from_secs(6);
    let qs: Vec<String> = (0..2).map(|i| format!("6f0c1d2e-3a4b-4c5d-8e9f-00000000000{i}")).collect();
    cfg.queues.named = qs
        .iter()
        .map(|id| genesys_cloud_sim::QueueSpec { name: format!("Queue {id}"), id: Some(id.clone()) })
        .collect();
    cfg.queues.count = 2;
    cfg.clients[0].forbidden_queue_ids = vec!["forbidden-queue".into()];
    let sim = start(cfg).await;
    let tok = token(&sim).await;
    let mut s = Samples(Vec::new());

    // Channels and subscriptions.
    let ch = create_channel(&sim, &tok).await;
    s.add("channel", "Channel", &ch);
    let id = ch["id"].as_str().expect("id").to_string();
    let other_token = token(&sim).await;
    create_channel(&sim, &other_token).await;
    let (_, listing) =
        call(&sim, Method::GET, "/api/v2/notifications/channels?includechannels=oauthclient", &tok, None).await;
    assert_eq!(listing["entities"].as_array().map(Vec::len), Some(2), "{listing}");
    s.add("channel listing", "ChannelEntityListing", &listing);
    let body =
        json!([{"id": queue_topic(&qs[0])}, {"id": queue_topic(&qs[1])}, {"id": queue_topic("forbidden-queue")}]);
    let path = format!("/api/v2/notifications/channels/{id}/subscriptions?ignoreErrors=true");
    let (st, subs) = call(&sim, Method::PUT, &path, &tok, Some(body)).await;
    assert_eq!(st, 200);
    s.add("subscriptions with a rejected topic", "ChannelTopicEntityListing", &subs);

    // Conversation events over the socket.
    let mut ws = connect(ch["connectUri"].as_str().expect("uri")).await;
    let conv = sim.start_conversation(&qs[0]).expect("conversation");
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::Instant::now() < deadline {
        let Some(v) = wait_text(&mut ws, Duration::from_secs(2), |v| {
            v["topicName"].as_str().is_some_and(|t| t.starts_with("v2.routing"))
        })
        .await
        else {
            break;
        };
        envelope_keys(&v);
        let done = v["eventBody"]["participants"].as_array().is_some_and(|ps| {
            ps.iter().filter(|p| p["purpose"] == "agent").count() == 2
                && ps.iter().all(|p| p["endTime"].is_string())
                && ps.iter().filter(|p| p["wrapup"].is_object()).count() == 2
        });
        events.push(v);
        if done && v_topic_is(&events, &qs[1]) {
            break;
        }
    }
    assert!(events.len() >= 10, "a transferred conversation yields many snapshots on two topics, got {}", events.len());
    for (i, e) in events.iter().enumerate() {
        s.add(&format!("event {i}"), "QueueConversationEventTopicConversation", &e["eventBody"]);
    }

    // REST conversation, analytics, jobs, queues.
    let (_, c) = call(&sim, Method::GET, &format!("/api/v2/conversations/{conv}"), &tok, None).await;
    assert_eq!(c["state"], "disconnected");
    s.add("ended conversation", "Conversation", &c);
    let ongoing = sim.start_conversation(&qs[1]).expect("conversation");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (_, c) = call(&sim, Method::GET, &format!("/api/v2/conversations/{ongoing}"), &tok, None).await;
    s.add("ongoing conversation", "Conversation", &c);
    let q = json!({"interval": "2000-01-01T00:00:00Z/2100-01-01T00:00:00Z"});
    let (_, a) = call(&sim, Method::POST, "/api/v2/analytics/conversations/details/query", &tok, Some(q.clone())).await;
    assert_eq!(a["totalHits"], 2);
    s.add("analytics query", "AnalyticsConversationQueryResponse", &a);
    let empty = json!({"interval": "2000-01-01T00:00:00Z/2000-01-02T00:00:00Z"});
    let (_, a) = call(&sim, Method::POST, "/api/v2/analytics/conversations/details/query", &tok, Some(empty)).await;
    s.add("empty analytics query", "AnalyticsConversationQueryResponse", &a);
    let (_, avail) =
        call(&sim, Method::GET, "/api/v2/analytics/conversations/details/jobs/availability", &tok, None).await;
    s.add("availability", "DataAvailabilityResponse", &avail);
    let (_, job) = call(&sim, Method::POST, "/api/v2/analytics/conversations/details/jobs", &tok, Some(q)).await;
    s.add("job", "AsyncQueryResponse", &job);
    let job_path = format!("/api/v2/analytics/conversations/details/jobs/{}", job["jobId"].as_str().expect("jobId"));
    let (_, status) = call(&sim, Method::GET, &job_path, &tok, None).await;
    s.add("job status queued", "AsyncQueryStatus", &status);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let (_, status) = call(&sim, Method::GET, &job_path, &tok, None).await;
    assert_eq!(status["state"], "FULFILLED");
    s.add("job status fulfilled", "AsyncQueryStatus", &status);
    let (_, results) = call(&sim, Method::GET, &format!("{job_path}/results?pageSize=1"), &tok, None).await;
    assert!(results["cursor"].is_string());
    s.add("job results", "AnalyticsConversationAsyncQueryResponse", &results);
    let (_, queues) = call(&sim, Method::GET, "/api/v2/routing/queues?pageSize=1&pageNumber=2", &tok, None).await;
    s.add("queues", "QueueEntityListing", &queues);

    // Errors.
    let (_, e401) = call(&sim, Method::GET, "/api/v2/routing/queues", "nope", None).await;
    s.add("401", "ErrorBody", &e401);
    let (_, e400) =
        call(&sim, Method::POST, "/api/v2/analytics/conversations/details/query", &tok, Some(json!({}))).await;
    s.add("400", "ErrorBody", &e400);
    sim.inject(Fault::RateLimitBurst {
        count: Some(1),
        duration: None,
        endpoints: vec![],
        client: None,
        retry_after: Duration::from_secs(60),
    });
    let (st, e429) = call(&sim, Method::GET, "/api/v2/routing/queues", &tok, None).await;
    assert_eq!(st, 429);
    s.add("429", "ErrorBody", &e429);

    // System messages (and the exact heartbeat / pong texts).
    send_text(&mut ws, r#"{"message":"ping"}"#).await;
    let pong = wait_text(&mut ws, STEP, is_pong).await.expect("pong");
    assert_eq!(pong, json!({"topicName": "channel.metadata", "eventBody": {"message": "pong"}}));
    sim.inject(Fault::SocketClosing { target: Target::Channel(id.clone()), grace: None });
    let closing = wait_text(&mut ws, STEP, |v| v["topicName"] == "v2.system.socket_closing").await.expect("closing");
    envelope_keys(&closing);
    s.add("socket_closing", "SystemMessageSystemMessage", &closing["eventBody"]);
    sim.inject(Fault::Eviction { target: Target::Channel(id.clone()) });
    let evicted =
        wait_text(&mut ws, STEP, |v| v["topicName"].as_str().is_some_and(|t| t.starts_with("v2.system.no_longer")))
            .await
            .expect("no_longer_subscribed");
    s.add("no_longer_subscribed", "SystemMessageSystemMessage", &evicted["eventBody"]);
    let (_, mut ws2) = channel_with_socket(&sim, &tok, &[]).await;
    sim.inject(Fault::TokenRevocation { target: Target::All });
    let revoked = wait_text(&mut ws2, STEP, |v| {
        v["topicName"].as_str().is_some_and(|t| t.starts_with("v2.system.token_revoked"))
    })
    .await
    .expect("token_revoked");
    s.add("token_revoked", "SystemMessageSystemMessage", &revoked["eventBody"]);
    sim.shutdown().await;

    // One Python process checks everything.
    let file = std::env::temp_dir().join(format!("genesys-sim-shapes-{}.json", std::process::id()));
    std::fs::write(&file, serde_json::to_vec(&s.0).expect("samples")).expect("write samples");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/check_shapes.py");
    let file_arg = file.to_str().expect("a UTF-8 temp path");
    let out = run_script(&py, &script, &[file_arg], &[], Duration::from_secs(90)).await;
    let _ = std::fs::remove_file(&file);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("No module named") {
        panic!("the Genesys SDK is not installed for {}: run `.ci/run`\n{stderr}", py.display());
    }
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("python said:\n{stdout}\n{stderr}"));
    assert_eq!(report["checked"].as_u64(), Some(s.0.len() as u64));
    assert!(out.status.success() && report["problems"] == json!([]), "shape problems:\n{stdout}");
}

fn v_topic_is(events: &[Value], queue: &str) -> bool {
    events.last().is_some_and(|e| e["topicName"].as_str().is_some_and(|t| t.contains(queue)))
}

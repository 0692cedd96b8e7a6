//! `/metrics` (Prometheus text) and `/ready` against a running runtime: per-connector counters
//! after records flow, state gauges, and readiness flipping with a failed, stopped, fixed and
//! degraded connector.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tributary_test_support::{rest::*, wait::wait_for};

async fn ready(h: &Harness) -> (StatusCode, Value) {
    h.get("/ready").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_and_readiness() {
    let good = "  - {name: good, class: datagen, topic: good.records, rate: 100, record_bytes: 100}\n";
    let failing = "  - {name: flaky, class: probe, topic: flaky.records, fail: login refused}\n";
    let h = Harness::start(&config_text("", &format!("{good}{failing}")), TestEnv::default()).await;

    h.wait_state("good", "RUNNING").await;
    let failed = h.wait_state("flaky", "FAILED").await;
    assert!(failed["connector"]["trace"].as_str().is_some_and(|t| t.contains("login refused")), "{failed}");

    let (code, body) = ready(&h).await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let reasons = body["reasons"].as_array().expect("reasons");
    assert_eq!(reasons.len(), 1, "only the failed connector: {body}");
    let reason = reasons[0].as_str().expect("text");
    assert!(reason.contains("`flaky`") && reason.contains("FAILED") && reason.contains("login refused"), "{reason}");

    // Counters after records flow and offsets are committed.
    h.wait_committed("good").await;
    let text = wait_for(WAIT, "produced and committed counters", || async {
        let text = h.metrics().await;
        let produced = sample(&text, "tributary_records_produced_total", &[("connector", "good")]).unwrap_or(0.0);
        let commits = sample(&text, "tributary_offset_commits_total", &[("connector", "good")]).unwrap_or(0.0);
        (produced > 0.0 && commits > 0.0).then_some(text)
    })
    .await;
    let good_label = [("connector", "good")];
    assert!(sample(&text, "tributary_bytes_produced_total", &good_label).is_some_and(|v| v > 0.0), "{text}");
    assert_eq!(sample(&text, "tributary_produce_errors_total", &good_label), Some(0.0), "{text}");
    assert_eq!(sample(&text, "tributary_offset_commit_failures_total", &good_label), Some(0.0), "{text}");
    assert!(sample(&text, "tributary_ack_latency_seconds_count", &good_label).is_some_and(|v| v > 0.0), "{text}");
    assert!(
        sample(&text, "tributary_ack_latency_seconds_bucket", &[("connector", "good"), ("le", "+Inf")]).is_some(),
        "ack latency is a histogram: {text}"
    );
    assert!(text.contains("# TYPE tributary_ack_latency_seconds histogram"), "{text}");
    assert_eq!(sample(&text, "tributary_connector_state", &[("connector", "good"), ("state", "RUNNING")]), Some(1.0));
    assert_eq!(sample(&text, "tributary_connector_state", &[("connector", "good"), ("state", "FAILED")]), Some(0.0));
    assert_eq!(sample(&text, "tributary_connector_state", &[("connector", "flaky"), ("state", "FAILED")]), Some(1.0));
    assert_eq!(sample(&text, "tributary_connector_starts_total", &good_label), Some(1.0));
    assert_eq!(sample(&text, "tributary_connector_tasks", &good_label), Some(1.0));
    assert!(sample(&text, "tributary_records_in_flight", &good_label).is_some(), "{text}");

    // A STOPPED connector counts as ready.
    assert_eq!(h.call(Method::PUT, "/connectors/flaky/stop", None).await.0, StatusCode::ACCEPTED);
    h.wait_state("flaky", "STOPPED").await;
    let (code, body) = ready(&h).await;
    assert_eq!(code, StatusCode::OK, "{body}");

    // Fixed through a reload (it stays STOPPED, as the operator left it), then resumed: ready.
    h.rewrite(&config_text("", &format!("{good}  - {{name: flaky, class: probe, topic: flaky.records}}\n")));
    let (code, report) = h.call(Method::POST, "/reload", None).await;
    assert_eq!(code, StatusCode::OK, "{report}");
    assert_eq!(report["restarted"], serde_json::json!(["flaky"]));
    h.wait_state("flaky", "STOPPED").await;
    assert_eq!(h.call(Method::PUT, "/connectors/flaky/resume", None).await.0, StatusCode::ACCEPTED);
    h.wait_status("flaky", "healthy", |s| s["tasks"][0]["health"]["state"] == "HEALTHY").await;
    assert_eq!(ready(&h).await.0, StatusCode::OK);

    // A degraded task makes the process not ready, with the task's reason.
    h.rewrite(&config_text(
        "",
        &format!("{good}  - {{name: flaky, class: probe, topic: flaky.records, degraded: channel lost}}\n"),
    ));
    assert_eq!(h.call(Method::POST, "/reload", None).await.0, StatusCode::OK);
    let body = wait_for(WAIT, "not ready because degraded", || async {
        let (code, body) = ready(&h).await;
        let degraded = body["reasons"][0].as_str().is_some_and(|r| r.contains("degraded: channel lost"));
        (code == StatusCode::SERVICE_UNAVAILABLE && degraded).then_some(body)
    })
    .await;
    assert_eq!(body["reasons"].as_array().map(Vec::len), Some(1), "{body}");
    assert!(body["reasons"][0].as_str().is_some_and(|r| r.contains("task 0")), "{body}");

    // Back to a FAILED one through a reload, then fixed again: ready flips back.
    h.rewrite(&config_text("", &format!("{good}{failing}")));
    assert_eq!(h.call(Method::POST, "/reload", None).await.0, StatusCode::OK);
    h.wait_state("flaky", "FAILED").await;
    assert_eq!(ready(&h).await.0, StatusCode::SERVICE_UNAVAILABLE);
    h.rewrite(&config_text("", &format!("{good}  - {{name: flaky, class: probe, topic: flaky.records}}\n")));
    assert_eq!(h.call(Method::POST, "/reload", None).await.0, StatusCode::OK);
    wait_for(WAIT, "ready again", || async { (ready(&h).await.0 == StatusCode::OK).then_some(()) }).await;
    let text = h.metrics().await;
    assert_eq!(sample(&text, "tributary_connector_state", &[("connector", "flaky"), ("state", "RUNNING")]), Some(1.0));
    assert_eq!(sample(&text, "tributary_connector_starts_total", &good_label), Some(1.0), "good was never restarted");

    h.shutdown().await;
}

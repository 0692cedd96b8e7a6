//! Config reload through `POST /reload` (and `Runtime::reload`, what SIGHUP calls): added
//! connectors start, removed ones stop with their offsets flushed, changed ones restart,
//! untouched ones keep running without a restart; an invalid file changes nothing.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tributary::api::SourcePartition;
use tributary::clients::client_config;
use tributary::offsets::read_to_end;
use tributary_test_support::rest::*;

const KEEP: &str = "  - {name: keep, class: datagen, topic: keep.records, rate: 100, record_bytes: 100}\n";
const GONE: &str = "  - {name: gone, class: datagen, topic: gone.records, rate: 100, record_bytes: 100}\n";
const CHANGE: &str = "  - {name: change, class: probe, topic: change.records, rate: 50}\n";

fn starts(metrics: &str, name: &str) -> Option<f64> {
    sample(metrics, "tributary_connector_starts_total", &[("connector", name)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reload_adds_removes_and_changes_connectors() {
    let h = Harness::start(&config_text("", &format!("{KEEP}{GONE}{CHANGE}")), TestEnv::default()).await;
    for name in ["keep", "gone", "change"] {
        h.wait_state(name, "RUNNING").await;
    }
    h.wait_committed("gone").await;
    h.wait_committed("change").await;
    let keep_before = h.wait_committed("keep").await;
    assert_eq!(starts(&h.metrics().await, "keep"), Some(1.0));
    let gone_seq = h.status("gone").await["runtime"]["offsets"][0]["acknowledged"]["seq"].as_i64().expect("gone seq");
    let change_n = h.status("change").await["runtime"]["offsets"][0]["acknowledged"]["n"].as_i64().expect("change n");

    // `keep` moves in the file but is otherwise the same; `change` gets a new rate; `gone` goes;
    // `fresh` arrives.
    let fresh = "  - {name: fresh, class: probe, topic: fresh.records, rate: 20}\n";
    let changed = "  - {name: change, class: probe, topic: change.records, rate: 60}\n";
    h.rewrite(&config_text("", &format!("{fresh}{changed}{KEEP}")));
    let (code, report) = h.call(Method::POST, "/reload", None).await;
    assert_eq!(code, StatusCode::OK, "{report}");
    assert_eq!(
        report,
        json!({"added": ["fresh"], "removed": ["gone"], "restarted": ["change"], "unchanged": ["keep"], "restart_required": []})
    );

    let (_, names) = h.get("/connectors").await;
    assert_eq!(names, json!(["change", "fresh", "keep"]));
    let (code, body) = h.get("/connectors/gone").await;
    assert_eq!((code, body["error_code"].clone()), (StatusCode::NOT_FOUND, json!(404)));
    h.wait_state("fresh", "RUNNING").await;
    let change = h.wait_state("change", "RUNNING").await;
    assert_eq!(change["runtime"]["runs"], 1, "a new instance: {change}");
    assert_eq!(h.get("/connectors/change").await.1["config"]["rate"], 60);
    // The changed connector resumes from its committed offset.
    let resumed = h.wait_committed("change").await;
    assert!(resumed["runtime"]["offsets"][0]["committed"]["n"].as_i64() >= Some(change_n), "{resumed}");

    // `keep` was not touched: same run, same start time, still producing; its entry now says
    // where it sits in the file.
    let keep_after = h
        .wait_status("keep", "more records", |s| {
            s["runtime"]["records_acknowledged"].as_u64() > keep_before["runtime"]["records_acknowledged"].as_u64()
        })
        .await;
    assert_eq!(keep_after["runtime"]["runs"], 1);
    assert_eq!(keep_after["runtime"]["running_since"], keep_before["runtime"]["running_since"]);
    assert_eq!(keep_after["connector"]["state"], "RUNNING");
    assert_eq!(starts(&h.metrics().await, "keep"), Some(1.0));

    // `gone` flushed its offsets on the way out.
    let base = client_config(&h.runtime.bootstrap_servers, &Default::default());
    let stored = tokio::task::spawn_blocking(move || read_to_end(&base, "tributary-offsets", Duration::from_secs(30)))
        .await
        .expect("reader")
        .expect("offsets read");
    let gone = stored.for_connector("gone");
    let committed = gone.get(&SourcePartition::single("generator", "0")).and_then(|o| o.get_i64("seq"));
    assert!(committed >= Some(gone_seq), "gone committed {committed:?}, had acknowledged {gone_seq}");
    let metrics = h.metrics().await;
    assert_eq!(
        sample(&metrics, "tributary_connector_state", &[("connector", "gone"), ("state", "RUNNING")]),
        Some(0.0)
    );

    // Reloading the same file again changes nothing.
    let again = h.runtime.reload().await.expect("reload");
    assert_eq!((again.added.len(), again.removed.len(), again.restarted.len(), again.unchanged.len()), (0, 0, 0, 3));

    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invalid_file_is_rejected_whole_and_runtime_sections_wait_for_a_restart() {
    let a = "  - {name: a, class: datagen, topic: a.records, rate: 50, record_bytes: 100}\n";
    let b = "  - {name: b, class: probe, topic: b.records, rate: 20}\n";
    let h = Harness::start(&config_text("", &format!("{a}{b}")), TestEnv::default()).await;
    let a_before = h.wait_state("a", "RUNNING").await;
    h.wait_state("b", "RUNNING").await;

    // A file that is not even YAML.
    h.rewrite("connectors: [\n");
    let (code, body) = h.call(Method::POST, "/reload", None).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["errors"][0]["message"].as_str().is_some_and(|m| m.contains("malformed YAML")), "{body}");

    // Three problems in three entries: all are reported, nothing changes.
    let invalid = config_text(
        "",
        "  - {name: a, class: datagen, topic: a.records, rate: -5}\n  - {name: b, class: nosuch, topic: b.records}\n  - {name: c, class: probe}\n",
    );
    h.rewrite(&invalid);
    let (code, body) = h.call(Method::POST, "/reload", None).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error_code"], 400);
    let errors = body["errors"].as_array().expect("errors listed");
    let text = body.to_string();
    for expected in ["connectors[0].rate", "nosuch", "missing field `topic`"] {
        assert!(text.contains(expected), "no `{expected}` in {body}");
    }
    assert_eq!(errors.len(), 3, "{body}");
    assert!(errors.iter().all(|e| e["line"].is_u64()), "every error has its line: {body}");
    let (_, names) = h.get("/connectors").await;
    assert_eq!(names, json!(["a", "b"]));
    let a_after = h.wait_state("a", "RUNNING").await;
    assert_eq!(a_after["runtime"]["running_since"], a_before["runtime"]["running_since"]);
    assert_eq!(a_after["runtime"]["runs"], 1);
    assert!(matches!(h.runtime.reload().await, Err(tributary::reload::ReloadError::Invalid(_))));

    // Runtime sections changed: reported, not applied (still no token needed); connectors kept.
    h.rewrite(&config_text("  token: not-yet\nlogging:\n  format: json\n", &format!("{a}{b}")));
    let (code, report) = h.call(Method::POST, "/reload", None).await;
    assert_eq!(code, StatusCode::OK, "{report}");
    assert_eq!(report["restart_required"], json!(["api", "logging"]));
    assert_eq!(report["unchanged"], json!(["a", "b"]));
    let (code, _): (StatusCode, Value) = h.get("/connectors").await;
    assert_eq!(code, StatusCode::OK, "the running API keeps its settings until a restart");
    assert_eq!(h.status("a").await["runtime"]["runs"], 1);

    h.shutdown().await;
}

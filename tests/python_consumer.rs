//! An independent Kafka client reads what Tributary wrote: Confluent's Python consumer and
//! `AvroDeserializer` (`tests/python/consume_datagen.py`) against the embedded broker and registry,
//! from outside the process.
//!
//! Needs the project's Python environment (`.venv`), which `.ci/run` creates; `TRIBUTARY_PYTHON`
//! points at another interpreter; `TRIBUTARY_SKIP_PYTHON=1` skips loudly.

mod common;

use std::time::Duration;

use serde_json::Value;
use tributary::datagen::FillerPool;
use tributary::runtime::Runtime;
use tributary::supervisor::State;

use common::*;

const SEED: u64 = 99;
const COUNT: i64 = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confluent_python_consumer_decodes_datagen_records() {
    let Some(python) = python_or_skip("the Python consumer interop test") else { return };
    let cfg = config(&format!(
        r#"
kafka: {{bootstrap_servers: embedded}}
schema_registry: {{url: embedded}}
api: {{enabled: false}}
connectors:
  - {{name: gen, class: datagen, topic: python.records, count: {COUNT}, generators: 2, seed: {SEED}}}
"#
    ));
    let rt = Runtime::start_with(&cfg, datagen_plugins(), fast_backoff()).await.expect("runtime starts");
    rt.supervisor.wait_for("gen", Duration::from_secs(20), |s| s.state == State::Running).await.expect("running");
    let schema_id = registered_id(&rt.registry_url, "python.records-value").await;

    let script = repo().join("tests/python/consume_datagen.py");
    let mut command = tokio::process::Command::new(&python);
    command
        .arg(&script)
        .args([&rt.bootstrap_servers, &rt.registry_url, "python.records", &(2 * COUNT).to_string(), "60"])
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .expect("the Python consumer finished within 120 s")
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "Python consumer failed ({}):\n{stderr}", output.status);

    let lines: Vec<Value> =
        stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    assert_eq!(lines.len() as i64, 2 * COUNT);
    let pool = FillerPool::new(SEED, 500);
    for line in &lines {
        assert_eq!(line["schema_id"].as_u64(), Some(u64::from(schema_id)), "{line}");
        let key = line["key"].as_str().map(str::as_bytes);
        check_datagen_record(&pool, SEED, key, &line["value"], line["timestamp"].as_i64());
    }
    let values: Vec<Value> = lines.iter().map(|l| l["value"].clone()).collect();
    assert_exactly(&seqs_by_generator(&values), 2, COUNT);
    tokio::time::timeout(Duration::from_secs(30), rt.shutdown()).await.expect("shutdown in time");
}

//! An independent Kafka client reads what Tributary wrote: Confluent's Python consumer and
//! `AvroDeserializer` (`tests/python/consume_datagen.py`) against the embedded broker and registry,
//! from outside the process.
//!
//! Needs the project's Python environment (`.venv`), which `.ci/run` creates; `TRIBUTARY_PYTHON`
//! points at another interpreter; `TRIBUTARY_SKIP_PYTHON=1` skips loudly.

use std::time::Duration;

use tributary::runtime::Runtime;
use tributary::state::State;
use tributary_test_support::{datagen::*, python::*, registry::*, runtime::*};

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

    let lines =
        python_consume_datagen(&python, &rt.bootstrap_servers, &rt.registry_url, "python.records", 2 * COUNT, None)
            .await;
    assert_python_read_datagen(&lines, schema_id, SEED, 2, COUNT);
    tokio::time::timeout(Duration::from_secs(30), rt.shutdown()).await.expect("shutdown in time");
}

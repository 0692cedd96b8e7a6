//! Kafka Connect as the witness of the offsets format: a real Connect worker (4.3.0) whose
//! offset storage topic is Tributary's offsets topic, on a real Apache Kafka broker.
//!
//! - Connect's own offsets API (KIP-875, `GET /connectors/{name}/offsets`) shows exactly the
//!   offsets Tributary committed.
//! - Offsets Connect writes (`PATCH`) are what Tributary reads at its next start, and a
//!   restarted Tributary connector continues from them.
//! - Tributary's `offsets reset` is what Connect then shows, and Connect's reset (`DELETE`) is
//!   what Tributary reads.
//!
//! Connect's connector of the same name is created STOPPED (KIP-980): it only lends Connect's
//! offsets API a name; it never runs.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use tributary::runtime::Runtime;
use tributary_test_support::{
    broker::{Broker, Listeners},
    cli::*,
    connect::ConnectWorker,
    datagen::*,
    runtime::*,
    topics::*,
    wait::*,
    workspace, write_file,
};

const TRIBUTARY: &str = env!("CARGO_BIN_EXE_tributary");

const WAIT: Duration = Duration::from_secs(60);
const OFFSETS: &str = "witness-offsets";
const NAME: &str = "witness";

fn yaml(bootstrap: &str, count: u64) -> String {
    format!(
        r#"
kafka:
  bootstrap_servers: {bootstrap}
  offsets: {{topic: {OFFSETS}, partitions: 5, flush_interval: 200ms}}
schema_registry: {{url: embedded}}
api: {{enabled: false}}
connectors:
  - {{name: {NAME}, class: datagen, topic: witness.records, generators: 2, count: {count}}}
"#
    )
}

/// Runs datagen until both generators committed `last`, then stops the runtime.
async fn run_datagen_to(bootstrap: &str, count: u64) {
    let cfg = config(&yaml(bootstrap, count));
    let rt = Runtime::start_with(&cfg, datagen_plugins(), fast_backoff()).await.expect("runtime starts");
    let last = count as i64 - 1;
    let done = BTreeMap::from([("0".to_owned(), last), ("1".to_owned(), last)]);
    wait_for(WAIT, "both generators committed", || {
        let (bootstrap, done) = (bootstrap.to_owned(), done.clone());
        async move { (tributary_offsets(&bootstrap).await == done).then_some(()) }
    })
    .await;
    tokio::time::timeout(WAIT, rt.shutdown()).await.expect("shutdown in time");
}

/// `generator → seq` as Tributary reads the offsets topic at start-up.
async fn tributary_offsets(bootstrap: &str) -> BTreeMap<String, i64> {
    committed_seqs_in(bootstrap, OFFSETS, NAME).await
}

/// `generator → seq` as Connect's offsets API shows them.
async fn connect_offsets(http: &reqwest::Client, connect: &ConnectWorker) -> BTreeMap<String, i64> {
    let answer: Value = http
        .get(format!("{}/connectors/{NAME}/offsets", connect.url()))
        .send()
        .await
        .expect("GET offsets")
        .error_for_status()
        .expect("GET offsets answered 200")
        .json()
        .await
        .expect("JSON");
    answer["offsets"]
        .as_array()
        .expect("an offsets list")
        .iter()
        .map(|o| {
            let generator = o["partition"]["generator"].as_str().expect("generator partition").to_owned();
            (generator, o["offset"]["seq"].as_i64().expect("seq offset"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_connect_and_tributary_read_and_write_each_others_offsets() {
    let broker = tokio::task::spawn_blocking(|| Broker::start(Listeners::Plain)).await.expect("broker thread");
    let bootstrap = broker.bootstrap();
    run_datagen_to(&bootstrap, 120).await;
    let committed = tributary_offsets(&bootstrap).await;

    let connect = {
        let bootstrap = bootstrap.clone();
        tokio::task::spawn_blocking(move || ConnectWorker::start(&bootstrap, "witness-connect", OFFSETS))
            .await
            .expect("connect thread")
    };
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("http client");
    let created = http
        .post(format!("{}/connectors", connect.url()))
        .json(&json!({
            "name": NAME,
            "config": {
                "connector.class": "org.apache.kafka.connect.tools.VerifiableSourceConnector",
                "tasks.max": "1",
                "topic": "witness.unused",
                "throughput": "1"
            },
            "initial_state": "STOPPED"
        }))
        .send()
        .await
        .expect("POST /connectors");
    assert!(created.status().is_success(), "connector created: {}", created.text().await.unwrap_or_default());

    // Connect shows what Tributary committed.
    let shown = wait_for(WAIT, "Connect to show the offsets", || async {
        let shown = connect_offsets(&http, &connect).await;
        (!shown.is_empty()).then_some(shown)
    })
    .await;
    assert_eq!(shown, committed, "Connect's offsets API shows Tributary's offsets");

    // Connect writes an offset; Tributary reads it, and its connector continues from it.
    let patched = http
        .patch(format!("{}/connectors/{NAME}/offsets", connect.url()))
        .json(&json!({"offsets": [{"partition": {"generator": "0"}, "offset": {"seq": 499}}]}))
        .send()
        .await
        .expect("PATCH offsets");
    assert!(patched.status().is_success(), "offsets altered: {}", patched.text().await.unwrap_or_default());
    let expected = BTreeMap::from([("0".to_owned(), 499), ("1".to_owned(), 119)]);
    wait_for(WAIT, "Tributary to read Connect's offset", || {
        let (bootstrap, expected) = (bootstrap.clone(), expected.clone());
        async move { (tributary_offsets(&bootstrap).await == expected).then_some(()) }
    })
    .await;
    run_datagen_to(&bootstrap, 520).await;
    let consumer_view =
        consume(&bootstrap, "witness.records", None, |m| m.len() >= 120 * 2 + 400 + 20, Duration::from_secs(1), WAIT)
            .await;
    assert_eq!(
        consumer_view.len(),
        120 * 2 + 20 + 400,
        "generator 0 resumed at 500 (20 more), generator 1 at 120 (400 more)"
    );

    // Tributary resets one partition; Connect shows it gone.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_file(
        dir.path(),
        "config.yaml",
        &format!("{}schemas_dir: {}\n", yaml(&bootstrap, 520), workspace().join("schemas").display()),
    );
    let reset = tokio::task::spawn_blocking(move || {
        cli(
            TRIBUTARY,
            &[
                "offsets",
                "reset",
                "--config",
                path.to_str().expect("utf-8"),
                "--connector",
                NAME,
                "--partition",
                r#"{"generator":"1"}"#,
            ],
            Duration::from_secs(60),
        )
    })
    .await
    .expect("cli thread");
    assert_eq!(reset.code, Some(0), "offsets reset:\n{}\n{}", reset.stdout, reset.stderr);
    let after_reset = wait_for(WAIT, "Connect to drop the reset partition", || async {
        let shown = connect_offsets(&http, &connect).await;
        (!shown.contains_key("1")).then_some(shown)
    })
    .await;
    assert_eq!(after_reset, BTreeMap::from([("0".to_owned(), 519)]));

    // Connect resets everything; Tributary reads nothing.
    let deleted =
        http.delete(format!("{}/connectors/{NAME}/offsets", connect.url())).send().await.expect("DELETE offsets");
    assert!(deleted.status().is_success(), "offsets reset by Connect: {}", deleted.text().await.unwrap_or_default());
    wait_for(WAIT, "Tributary to read no offsets", || {
        let bootstrap = bootstrap.clone();
        async move { tributary_offsets(&bootstrap).await.is_empty().then_some(()) }
    })
    .await;
}

//! `kafka.exactly_once` on a real Apache Kafka broker: records and the offsets that cover them
//! are committed in one transaction, so a `read_committed` reader sees every record once — after
//! a SIGKILL mid-stream, and after a second process started on the same config fenced the first.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use tributary::avro::Decoder;
use tributary::schema_registry::EmbeddedRegistryHandle;
use tributary_test_support::{
    broker::Broker, cli::*, datagen::*, registry::*, topics::*, wait::*, workspace, write_file,
};

const TRIBUTARY: &str = env!("CARGO_BIN_EXE_tributary");

const WAIT: Duration = Duration::from_secs(60);

/// A config with one exactly-once datagen connector named `name`, writing `{name}.records`.
fn config(dir: &Path, bootstrap: &str, registry: &str, name: &str) -> std::path::PathBuf {
    let text = format!(
        r#"
kafka:
  bootstrap_servers: {bootstrap}
  exactly_once: true
  offsets: {{topic: offsets.{name}, partitions: 3, flush_interval: 200ms}}
schema_registry: {{url: {registry}}}
api: {{enabled: false}}
schemas_dir: {schemas}
connectors:
  - {{name: {name}, class: datagen, topic: {name}.records, generators: 2, rate: 400, record_bytes: 200}}
"#,
        schemas = workspace().join("schemas").display()
    );
    write_file(dir, "config.yaml", &text)
}

/// A first `tributary run` of connector `name` on the shared broker, started, with a registry
/// that outlives it.
struct Started {
    bootstrap: String,
    registry: EmbeddedRegistryHandle,
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    first: RunningCli,
}

async fn start(name: &str) -> Started {
    let bootstrap = Broker::shared().bootstrap();
    let registry = standalone_registry().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = config(dir.path(), &bootstrap, &registry.url(), name);
    let mut first = RunningCli::start(TRIBUTARY, &path);
    first.wait_for_log("connector started", WAIT);
    Started { bootstrap, registry, _dir: dir, path, first }
}

async fn committed_beyond(bootstrap: &str, name: &str, floor: &BTreeMap<String, i64>, more: i64) {
    wait_for(WAIT, "committed offsets to move on", || {
        let (bootstrap, name, floor) = (bootstrap.to_owned(), name.to_owned(), floor.clone());
        async move {
            let seqs = committed_seqs_in(&bootstrap, &format!("offsets.{name}"), &name).await;
            (seqs.len() == 2 && seqs.iter().all(|(g, s)| *s > floor.get(g).copied().unwrap_or(-1) + more)).then_some(())
        }
    })
    .await;
}

/// Every generator's seqs in the topic, as a `read_committed` reader sees them: each seq from 0 to
/// the last committed one, once.
async fn assert_each_seq_once(bootstrap: &str, registry_url: &str, name: &str) {
    let last = committed_seqs_in(bootstrap, &format!("offsets.{name}"), name).await;
    let total: i64 = last.values().map(|s| s + 1).sum();
    let messages = consume(
        bootstrap,
        &format!("{name}.records"),
        None,
        move |m| m.len() >= total as usize,
        Duration::from_secs(2),
        WAIT,
    )
    .await;
    let decoder = Decoder::new(registry(registry_url));
    let values: Vec<Value> = decode_all(&decoder, &messages).await.into_iter().map(|(_, v)| v).collect();
    let seqs = seqs_by_generator(&values);
    for (g, last) in &last {
        let seen = &seqs[&g.parse::<i64>().expect("generator number")];
        assert_eq!(seen, &(0..=*last).collect::<Vec<_>>(), "generator {g}: every seq once, none missing");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkilled_run_leaves_every_record_once() {
    let Started { bootstrap, registry, _dir, path, mut first } = start("eos-killed").await;
    committed_beyond(&bootstrap, "eos-killed", &BTreeMap::new(), 300).await;
    first.signal("KILL");
    first.wait_exit(WAIT);
    let at_kill = committed_seqs_in(&bootstrap, "offsets.eos-killed", "eos-killed").await;

    let mut second = RunningCli::start(TRIBUTARY, &path);
    second.wait_for_log("connector started", WAIT);
    committed_beyond(&bootstrap, "eos-killed", &at_kill, 300).await;
    second.signal("TERM");
    assert_eq!(second.wait_exit(WAIT).code(), Some(0), "{}", second.output());

    assert_each_seq_once(&bootstrap, &registry.url(), "eos-killed").await;
    registry.shutdown().await.expect("registry stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_fences_the_first_which_writes_nothing_more() {
    let Started { bootstrap, registry, _dir, path, mut first } = start("eos-fenced").await;
    committed_beyond(&bootstrap, "eos-fenced", &BTreeMap::new(), 200).await;

    // Same config, same transactional id: the second process takes the connector over.
    let mut second = RunningCli::start(TRIBUTARY, &path);
    second.wait_for_log("connector started", WAIT);
    let fenced = first.wait_for_log("fenced", WAIT);
    assert!(fenced.contains("fenced"), "{fenced}");
    let at_takeover = committed_seqs_in(&bootstrap, "offsets.eos-fenced", "eos-fenced").await;
    committed_beyond(&bootstrap, "eos-fenced", &at_takeover, 300).await;

    first.signal("TERM");
    first.wait_exit(WAIT);
    second.signal("TERM");
    assert_eq!(second.wait_exit(WAIT).code(), Some(0), "{}", second.output());

    assert_each_seq_once(&bootstrap, &registry.url(), "eos-fenced").await;
    registry.shutdown().await.expect("registry stops");
}

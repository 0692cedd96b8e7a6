//! Kafka's own semantics, on a real Apache Kafka broker (`scripts/kafka-broker.sh`, one per test
//! binary): the offsets topic is created compacted and really compacts to one value per key; a
//! restart resumes from what compaction left; a SIGKILLed `tributary run` resumes from its
//! committed offsets; Confluent's Python consumer reads what Tributary wrote.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use rdkafka::Message;
use rdkafka::admin::{AdminOptions, AlterConfig, ResourceSpecifier};
use rdkafka::consumer::Consumer;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::Value;
use tributary::avro::Decoder;
use tributary::runtime::Runtime;
use tributary::state::State;
use tributary_test_support::{
    broker::Broker, cli::*, datagen::*, python::*, registry::*, runtime::*, topics::*, wait::*, workspace, write_file,
};

const TRIBUTARY: &str = env!("CARGO_BIN_EXE_tributary");

const WAIT: Duration = Duration::from_secs(60);

fn yaml(bootstrap: &str, registry: &str, offsets_topic: &str, connector: &str) -> String {
    format!(
        r#"
kafka:
  bootstrap_servers: {bootstrap}
  offsets: {{topic: {offsets_topic}, partitions: 3, flush_interval: 100ms}}
schema_registry: {{url: {registry}}}
api: {{enabled: false}}
connectors:
{connector}
"#
    )
}

/// Every record of `topic` per key (raw, not decoded), read to `count` records.
async fn records_per_key(bootstrap: &str, topic: &str) -> HashMap<Vec<u8>, usize> {
    let messages = consume(bootstrap, topic, None, |_| true, Duration::from_secs(2), WAIT).await;
    let mut per_key: HashMap<Vec<u8>, usize> = HashMap::new();
    for m in &messages {
        *per_key.entry(m.key().expect("offsets records have keys").to_vec()).or_default() += 1;
    }
    per_key
}

/// Records ever written to `topic`: the sum of its partitions' high watermarks.
async fn records_written(bootstrap: &str, topic: &str) -> i64 {
    let consumer = consumer(bootstrap);
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        let metadata = consumer.fetch_metadata(Some(&topic), Duration::from_secs(10)).expect("metadata");
        let partitions = metadata.topics()[0].partitions().iter().map(|p| p.id()).collect::<Vec<_>>();
        partitions
            .into_iter()
            .map(|p| consumer.fetch_watermarks(&topic, p, Duration::from_secs(10)).expect("watermarks").1)
            .sum()
    })
    .await
    .expect("watermarks thread")
}

/// Reads `topic` (datagen records) and returns each generator's seqs, sorted.
async fn seqs_in(bootstrap: &str, registry_url: &str, topic: &str, total: usize) -> BTreeMap<i64, Vec<i64>> {
    let messages = consume(bootstrap, topic, None, move |m| m.len() >= total, Duration::from_secs(1), WAIT).await;
    let decoder = Decoder::new(registry(registry_url));
    let values: Vec<Value> = decode_all(&decoder, &messages).await.into_iter().map(|(_, v)| v).collect();
    seqs_by_generator(&values)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offsets_topic_is_compacted_for_real_and_a_restart_resumes_from_what_compaction_kept() {
    let broker = Broker::shared();
    let bootstrap = broker.bootstrap();
    let topic = "offsets.compaction";
    let connector = "  - {name: gen, class: datagen, topic: compaction.records, generators: 3, rate: 300}";
    let cfg = config(&yaml(&bootstrap, "embedded", topic, connector));
    let (plugins, spy) = spy_plugins();
    let rt = Runtime::start_with(&cfg, plugins, fast_backoff()).await.expect("runtime starts");
    let registry_url = rt.registry_url.clone();
    assert_eq!(broker.topic_config(topic, "cleanup.policy").await.as_deref(), Some("compact"), "created compacted");

    // Segments that roll and clean within a second, so that the cleaner runs during the test.
    let fast_cleaning = AlterConfig::new(ResourceSpecifier::Topic(topic))
        .set("cleanup.policy", "compact")
        .set("segment.ms", "100")
        .set("min.cleanable.dirty.ratio", "0.01")
        .set("min.compaction.lag.ms", "0")
        .set("max.compaction.lag.ms", "100")
        .set("delete.retention.ms", "100");
    let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(20)));
    for result in broker.admin().alter_configs([&fast_cleaning], &options).await.expect("alter configs") {
        result.expect("topic configs altered");
    }

    let acks = wait_for(WAIT, "the tasks", || async { spy.acks() }).await;
    wait_for(WAIT, "2,000 acknowledged records", || async { (acks.acknowledged_records() >= 2000).then_some(()) })
        .await;
    rt.supervisor.stop("gen").await.expect("stop");
    rt.supervisor.wait_for("gen", WAIT, |s| s.state == State::Stopped).await.expect("stopped");
    let before = committed_seqs_in(&bootstrap, topic, "gen").await;
    assert_eq!(before.len(), 3, "one offset per generator: {before:?}");

    let written = records_written(&bootstrap, topic).await;
    assert!(written >= 12, "several commits of each of the three keys: {written} records written");

    // The active segment is never cleaned: one more record (a tombstone of another connector)
    // rolls it, then the cleaner leaves one value per key.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let producer: BaseProducer =
        rdkafka::ClientConfig::new().set("bootstrap.servers", &bootstrap).create().expect("producer");
    producer
        .send(BaseRecord::<[u8], [u8]>::to(topic).key(br#"["compaction-probe",{"p":"0"}]"#.as_slice()))
        .expect("probe queued");
    producer.flush(Duration::from_secs(10)).expect("probe sent");
    let compacted = wait_for(WAIT, "the cleaner to leave one value per key", || {
        let bootstrap = bootstrap.clone();
        async move {
            let per_key = records_per_key(&bootstrap, topic).await;
            per_key
                .iter()
                .filter(|(k, _)| !k.starts_with(br#"["compaction-probe""#))
                .all(|(_, n)| *n == 1)
                .then_some(per_key)
        }
    })
    .await;
    assert_eq!(compacted.len(), 4, "three generators and the probe: {compacted:?}");
    eprintln!("offsets topic: {written} records written, {} left after compaction", compacted.values().sum::<usize>());
    assert_eq!(committed_seqs_in(&bootstrap, topic, "gen").await, before, "compaction kept the latest offsets");

    // A restarted task gets what compaction kept and continues with the next seq.
    rt.supervisor.resume("gen").await.expect("resume");
    let runs = wait_for(WAIT, "the second run", || async { (spy.runs().len() == 6).then(|| spy.runs()) }).await;
    for run in &runs[3..] {
        let stored: BTreeMap<String, i64> = run
            .stored
            .iter()
            .map(|(p, o)| (p.get_str("generator").expect("generator").to_owned(), seq_of(Some(o)).expect("seq")))
            .collect();
        for (g, seq) in &stored {
            assert_eq!(before.get(g), Some(seq), "task {} got generator {g}'s compacted offset", run.task_id);
        }
    }
    let acks = runs[5].acks.clone();
    wait_for(WAIT, "more records", || async { (acks.acknowledged_records() >= 100).then_some(()) }).await;
    rt.supervisor.stop("gen").await.expect("stop again");
    rt.supervisor.wait_for("gen", WAIT, |s| s.state == State::Stopped).await.expect("stopped again");
    let last = committed_seqs_in(&bootstrap, topic, "gen").await;
    let total: i64 = last.values().map(|s| s + 1).sum();
    let seqs = seqs_in(&bootstrap, &registry_url, "compaction.records", total as usize).await;
    for (g, last) in &last {
        let g: i64 = g.parse().expect("generator number");
        assert_eq!(seqs[&g], (0..=*last).collect::<Vec<_>>(), "generator {g}: every seq once, across the restart");
    }
    tokio::time::timeout(WAIT, rt.shutdown()).await.expect("shutdown in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkilled_run_resumes_from_its_committed_offsets() {
    let broker = Broker::shared();
    let bootstrap = broker.bootstrap();
    let registry = standalone_registry().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let connector =
        "  - {name: killed, class: datagen, topic: killed.records, generators: 2, rate: 400, record_bytes: 200}";
    let text = format!(
        "{}schemas_dir: {}\n",
        yaml(&bootstrap, &registry.url(), "offsets.killed", connector),
        workspace().join("schemas").display()
    );
    let path = write_file(dir.path(), "config.yaml", &text);

    let mut first = RunningCli::start(TRIBUTARY, &path);
    first.wait_for_log("connector started", WAIT);
    wait_for(WAIT, "committed offsets past seq 300", || {
        let bootstrap = bootstrap.clone();
        async move {
            let seqs = committed_seqs_in(&bootstrap, "offsets.killed", "killed").await;
            (seqs.len() == 2 && seqs.values().all(|s| *s > 300)).then_some(())
        }
    })
    .await;
    first.signal("KILL");
    first.wait_exit(WAIT);
    let at_kill = committed_seqs_in(&bootstrap, "offsets.killed", "killed").await;

    let mut second = RunningCli::start(TRIBUTARY, &path);
    second.wait_for_log("connector started", WAIT);
    wait_for(WAIT, "the second run to commit 300 more", || {
        let (bootstrap, at_kill) = (bootstrap.clone(), at_kill.clone());
        async move {
            let seqs = committed_seqs_in(&bootstrap, "offsets.killed", "killed").await;
            seqs.iter().all(|(g, s)| *s > at_kill[g] + 300).then_some(())
        }
    })
    .await;
    second.signal("TERM");
    assert_eq!(second.wait_exit(WAIT).code(), Some(0), "{}", second.output());
    let last = committed_seqs_in(&bootstrap, "offsets.killed", "killed").await;

    let minimum: i64 = last.values().map(|s| s + 1).sum();
    let seqs = seqs_in(&bootstrap, &registry.url(), "killed.records", minimum as usize).await;
    for (g, last) in &last {
        let seqs = &seqs[&g.parse::<i64>().expect("generator number")];
        let committed = at_kill[g];
        // Everything up to the last commit before the kill was written once; what the killed run
        // sent after it may be written again by the second run (at least once); nothing is missing.
        let once: Vec<i64> = seqs.iter().copied().filter(|s| *s <= committed).collect();
        assert_eq!(once, (0..=committed).collect::<Vec<_>>(), "generator {g}: up to the commit, each seq once");
        let mut distinct = seqs.clone();
        distinct.dedup();
        assert_eq!(distinct, (0..=*last).collect::<Vec<_>>(), "generator {g}: no seq missing");
    }
    registry.shutdown().await.expect("registry stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confluent_python_consumer_reads_from_the_real_broker() {
    let Some(python) = python_or_skip("the Python consumer on the real broker") else { return };
    const COUNT: i64 = 200;
    const SEED: u64 = 7;
    let bootstrap = Broker::shared().bootstrap();
    let connector =
        format!("  - {{name: py, class: datagen, topic: python.real, count: {COUNT}, generators: 2, seed: {SEED}}}");
    let cfg = config(&yaml(&bootstrap, "embedded", "offsets.python", &connector));
    let rt = Runtime::start_with(&cfg, datagen_plugins(), fast_backoff()).await.expect("runtime starts");
    let schema_id = registered_id(&rt.registry_url, "python.real-value").await;

    let lines = python_consume_datagen(&python, &bootstrap, &rt.registry_url, "python.real", 2 * COUNT, None).await;
    assert_python_read_datagen(&lines, schema_id, SEED, 2, COUNT);
    tokio::time::timeout(WAIT, rt.shutdown()).await.expect("shutdown in time");
}

/// Tenants with the same producer properties write through one producer; one whose records the
/// broker refuses for good (larger than its topic's `max.message.bytes`) fails alone, with the
/// reason, while the others go on and deliver every record once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_share_one_producer_and_a_refused_tenant_fails_alone() {
    let broker = Broker::shared();
    let bootstrap = broker.bootstrap();
    broker.create_topic("tenant.small", 1, &[("max.message.bytes", "2000")]).await;
    let connectors = "  - {name: big, class: datagen, topic: tenant.small, rate: 50, record_bytes: 5000}\n  \
                      - {name: a, class: datagen, topic: tenant.a, rate: 200, count: 2000}\n  \
                      - {name: b, class: datagen, topic: tenant.b, rate: 200, count: 2000}";
    let cfg = config(&yaml(&bootstrap, "embedded", "tenants.offsets", connectors));
    let rt = Runtime::start_with(&cfg, datagen_plugins(), fast_backoff()).await.expect("runtime starts");
    let registry_url = rt.registry_url.clone();

    let failed = rt.supervisor.wait_for("big", WAIT, |s| s.state == State::Failed).await.expect("big fails");
    let reason = failed.trace.unwrap_or_default();
    assert!(
        reason.contains("tenant.small") && reason.contains("too large"),
        "the reason names topic and cause: {reason}"
    );
    let pool = rt.supervisor.environment().producers.expect("producers are shared by default");
    assert_eq!(pool.len(), 1, "three tenants, one producer");
    for name in ["a", "b"] {
        let snapshot = rt.supervisor.snapshot(name).expect("tenant");
        assert_eq!(snapshot.connector.state, State::Running, "{name} is not held by big's failure");
        assert!(snapshot.records_acknowledged < 2000, "{name} still had records to send when big failed");
    }
    for name in ["a", "b"] {
        wait_for(WAIT, "every record of the other tenants acknowledged", || async {
            let snapshot = rt.supervisor.snapshot(name).ok()?;
            (snapshot.records_acknowledged == 2000).then_some(())
        })
        .await;
    }
    for (name, topic) in [("a", "tenant.a"), ("b", "tenant.b")] {
        rt.supervisor.stop(name).await.expect("stop");
        rt.supervisor.wait_for(name, WAIT, |s| s.state == State::Stopped).await.expect("stopped");
        let committed = committed_seqs_in(&bootstrap, "tenants.offsets", name).await;
        assert_eq!(committed.get("0"), Some(&1999), "{name}'s offsets: {committed:?}");
        let seqs = seqs_in(&bootstrap, &registry_url, topic, 2000).await;
        assert_once_up_to(name, &seqs[&0], 1999);
    }
    rt.shutdown().await;
}

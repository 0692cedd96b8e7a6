//! Offsets never run ahead of Kafka: with brokers taken down mid-stream, no offset is
//! acknowledged (and so none committed) past a record Kafka does not hold, and after recovery
//! every record is in Kafka, once, and the final offset is committed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::Message;
use rdkafka::consumer::Consumer;
use tributary::avro::{Decoder, EncoderOptions, Schemas};
use tributary::clients::client_config;
use tributary::instance::Environment;
use tributary::kafka::EmbeddedKafka;
use tributary::runtime::Runtime;
use tributary::schema_registry::EmbeddedRegistry;
use tributary::state::State;
use tributary::supervisor::Supervisor;
use tributary_test_support::{datagen::*, registry::*, runtime::*, topics::*, wait::*, workspace};

const WAIT: Duration = Duration::from_secs(30);

fn acked_seq(acks: &Arc<dyn tributary::api::Acknowledgements>) -> i64 {
    seq_of(acks.acknowledged(&generator(0)).as_ref()).unwrap_or(-1)
}

/// Consumes all of `topic` and returns, per seq, the Kafka partition and offset it landed at.
async fn positions(bootstrap: &str, registry_url: &str, topic: &str, count: i64) -> BTreeMap<i64, Vec<(i32, i64)>> {
    let messages =
        consume(bootstrap, topic, None, move |m| m.len() as i64 >= count, Duration::from_millis(500), WAIT).await;
    let decoder = Decoder::new(registry(registry_url));
    let decoded = decode_all(&decoder, &messages).await;
    let mut by_seq: BTreeMap<i64, Vec<(i32, i64)>> = BTreeMap::new();
    for (m, (_, v)) in messages.iter().zip(decoded) {
        by_seq.entry(v["seq"].as_i64().expect("seq")).or_default().push((m.partition(), m.offset()));
    }
    by_seq
}

fn assert_each_once(by_seq: &BTreeMap<i64, Vec<(i32, i64)>>, count: i64) {
    let missing: Vec<i64> = (0..count).filter(|s| !by_seq.contains_key(s)).take(20).collect();
    assert!(missing.is_empty(), "records missing from Kafka after recovery: {missing:?}…");
    let dups: Vec<_> = by_seq.iter().filter(|(_, at)| at.len() > 1).take(5).collect();
    assert!(dups.is_empty(), "records written twice: {dups:?}");
    assert_eq!(by_seq.len() as i64, count, "nothing beyond the count");
}

/// What the runtime gives instances, over `kafka` and the registry at `registry_url`.
fn environment(
    kafka: &Arc<EmbeddedKafka>,
    registry_url: &str,
    plugins: tributary::plugins::Plugins,
    connector_buffer: u64,
) -> Environment {
    let bootstrap = kafka.bootstrap_servers().to_owned();
    Environment {
        bootstrap_servers: bootstrap.clone(),
        producer: Default::default(),
        producers: Some(Default::default()),
        buffer_memory: tributary::config::DEFAULT_BUFFER_MEMORY,
        connector_buffer_memory: connector_buffer,
        consumer: client_config(&bootstrap, &Default::default()),
        offsets_topic: "tributary-offsets".into(),
        offsets: tributary::offsets::OffsetsReader::new(
            client_config(&bootstrap, &Default::default()),
            "tributary-offsets".into(),
            Duration::from_secs(60),
        ),
        flush_interval: Duration::from_millis(200),
        registry: registry(registry_url),
        schemas: Arc::new(Schemas::load_dir(workspace().join("schemas")).expect("schemas")),
        encoder_options: EncoderOptions::default(),
        embedded: Some(kafka.clone()),
        embedded_partitions: 3,
        transactional_id_prefix: None,
        plugins,
    }
}

/// The leader of every partition of the cluster.
fn leaders(bootstrap: &str) -> BTreeMap<(String, i32), i32> {
    let c = consumer(bootstrap);
    let md = c.fetch_metadata(None, Duration::from_secs(10)).expect("metadata");
    let mut leaders = BTreeMap::new();
    for t in md.topics() {
        for p in t.partitions() {
            leaders.insert((t.name().to_owned(), p.id()), p.leader());
        }
    }
    leaders
}

/// One broker, taken down: nothing is acknowledged while it is down; on its return everything
/// arrives and the last offset is committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_acknowledged_while_kafka_is_down_and_nothing_is_lost_after() {
    const COUNT: i64 = 4000;
    let cfg = config(&format!(
        r#"
kafka:
  bootstrap_servers: embedded
  offsets: {{flush_interval: 200ms}}
schema_registry: {{url: embedded}}
api: {{enabled: false}}
connectors:
  - name: gen
    class: datagen
    topic: outage.records
    rate: 1000
    count: {COUNT}
    record_bytes: 200
"#
    ));
    let (plugins, spy) = spy_plugins();
    let rt = Runtime::start_with(&cfg, plugins, fast_backoff()).await.expect("runtime starts");
    let kafka = rt.embedded_kafka.clone().expect("embedded kafka");
    let acks = wait_for(WAIT, "the task", || async { spy.acks() }).await;
    wait_for(WAIT, "300 acknowledged records", || async { (acks.acknowledged_records() >= 300).then_some(()) }).await;

    kafka.all_down().expect("brokers down");
    // Requests already on the wire settle (they fail and are retried later).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let frozen = (acked_seq(&acks), acks.acknowledged_records());
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!((acked_seq(&acks), acks.acknowledged_records()), frozen, "acknowledged while Kafka was down");
    }
    assert!(frozen.0 < COUNT - 1, "the outage began before the end: {frozen:?}");
    assert_eq!(
        rt.supervisor.status("gen").expect("status").connector.state,
        State::Running,
        "an outage is not a failure"
    );

    kafka.all_up().expect("brokers up");
    wait_for(WAIT, "the last record acknowledged", || async { (acked_seq(&acks) == COUNT - 1).then_some(()) }).await;
    let want = BTreeMap::from([("0".to_owned(), COUNT - 1)]);
    wait_for(WAIT, "the last offset committed", || async {
        (committed_seqs(&rt.bootstrap_servers, "gen").await == want).then_some(())
    })
    .await;
    let by_seq = positions(&rt.bootstrap_servers, &rt.registry_url, "outage.records", COUNT).await;
    assert_each_once(&by_seq, COUNT);
    tokio::time::timeout(WAIT, rt.shutdown()).await.expect("shutdown in time");
}

/// Three brokers, one of them down: records on the live brokers keep being acknowledged, but the
/// source offset stops right before the first record bound for the dead broker, and the committed
/// offset with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_stop_at_the_first_record_kafka_does_not_hold() {
    const COUNT: i64 = 6000;
    const TOPIC: &str = "partial.records";
    let kafka =
        Arc::new(tokio::task::spawn_blocking(|| EmbeddedKafka::start(3)).await.expect("join").expect("cluster"));
    kafka.create_topic("tributary-offsets", 1).expect("offsets topic");
    kafka.create_topic(TOPIC, 3).expect("records topic");
    let bootstrap = kafka.bootstrap_servers().to_owned();
    let registry_handle = EmbeddedRegistry::start("127.0.0.1:0".parse().expect("addr")).await.expect("registry");
    let registry_url = registry_handle.url();
    let (plugins, spy) = spy_plugins();
    let env = environment(&kafka, &registry_url, plugins, tributary::config::DEFAULT_BUFFER_MEMORY / 4);
    let supervisor = Supervisor::new(env, fast_backoff());
    let entry = config(&format!(
        "kafka: {{bootstrap_servers: embedded}}\nschema_registry: {{url: embedded}}\nconnectors:\n  - \
         {{name: gen, class: datagen, topic: {TOPIC}, rate: 1000, count: {COUNT}, record_bytes: 200}}\n"
    ))
    .connectors
    .remove(0);

    // Which broker leads what: the victim leads a records partition but not the offsets partition.
    let leaders = leaders(&bootstrap);
    let offsets_leader = leaders[&("tributary-offsets".to_owned(), 0)];
    let victim = (0..3)
        .map(|p| leaders[&(TOPIC.to_owned(), p)])
        .find(|b| *b != offsets_leader)
        .expect("a records partition led by another broker than the offsets partition");
    let victim_partitions: Vec<i32> = (0..3).filter(|p| leaders[&(TOPIC.to_owned(), *p)] == victim).collect();

    supervisor.start(entry);
    let acks = wait_for(WAIT, "the task", || async { spy.acks() }).await;
    wait_for(WAIT, "500 acknowledged records", || async { (acks.acknowledged_records() >= 500).then_some(()) }).await;

    // Quiesce, so that everything up to `paused_at` is in Kafka before the broker goes down.
    supervisor.pause("gen").await.expect("pause");
    let mut last = (acked_seq(&acks), acks.acknowledged_records());
    loop {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let now = (acked_seq(&acks), acks.acknowledged_records());
        if now == last {
            break;
        }
        last = now;
    }
    let (paused_at, acked_at_pause) = last;
    assert_eq!(paused_at + 1, acked_at_pause as i64, "every record emitted so far is acknowledged, in order");

    kafka.broker_down(victim).expect("victim down");
    supervisor.resume("gen").await.expect("resume");
    let mut samples = Vec::new();
    for _ in 0..25 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        samples.push(acked_seq(&acks));
    }
    // The offsets partition lives on a broker that is up: read what was committed meanwhile.
    let committed_in_outage = committed_seqs(&bootstrap, "gen").await["0"];
    let acked_in_outage = acks.acknowledged_records() - acked_at_pause;
    let acknowledged_in_outage = acked_seq(&acks);

    kafka.broker_up(victim).expect("victim up");
    wait_for(WAIT, "the last record acknowledged", || async { (acked_seq(&acks) == COUNT - 1).then_some(()) }).await;
    let want = BTreeMap::from([("0".to_owned(), COUNT - 1)]);
    wait_for(WAIT, "the last offset committed", || async {
        (committed_seqs(&bootstrap, "gen").await == want).then_some(())
    })
    .await;

    let by_seq = positions(&bootstrap, &registry_url, TOPIC, COUNT).await;
    assert_each_once(&by_seq, COUNT);
    // The first record after the pause bound for the dead broker: Kafka could not hold it, nor
    // anything of that partition after it, until the broker came back.
    let hole = by_seq
        .iter()
        .find(|(seq, at)| **seq > paused_at && victim_partitions.contains(&at[0].0))
        .map(|(seq, _)| *seq)
        .expect("some record went to the dead broker's partition");
    eprintln!(
        "paused at {paused_at}; hole at {hole}; acknowledged in outage {acknowledged_in_outage}; committed in outage \
         {committed_in_outage}; records acknowledged in outage {acked_in_outage}"
    );
    assert!(samples.iter().all(|a| *a < hole), "acknowledged past the hole at {hole}: {samples:?}");
    assert!(committed_in_outage < hole, "committed {committed_in_outage} past the hole at {hole}");
    assert!(committed_in_outage >= paused_at, "committed {committed_in_outage} went backwards from {paused_at}");
    assert_eq!(acknowledged_in_outage, hole - 1, "everything before the hole was acknowledged");
    assert!(
        acked_in_outage > (hole - 1 - paused_at) as u64,
        "records after the hole were acknowledged during the outage ({acked_in_outage}), so acks came out of order"
    );

    tokio::time::timeout(WAIT, supervisor.shutdown()).await.expect("shutdown in time");
    registry_handle.shutdown().await.expect("registry stops");
    tokio::task::spawn_blocking(move || drop(kafka)).await.expect("cluster stops");
}

/// Two tenants on one shared producer, three brokers. The broker leading part of one tenant's
/// topic goes down: that tenant holds at most its `connector_buffer_memory` in flight and waits
/// there, while the other, whose topic and offsets live on brokers that are up, delivers all its
/// records meanwhile. Once the broker is back, the stalled tenant's records arrive, each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_tenant_waits_at_its_own_bound_and_the_others_flow() {
    const FLOWING: u64 = 2000;
    let kafka =
        Arc::new(tokio::task::spawn_blocking(|| EmbeddedKafka::start(3)).await.expect("join").expect("cluster"));
    kafka.create_topic("tributary-offsets", 1).expect("offsets topic");
    kafka.create_topic("stall.records", 6).expect("records topic");
    kafka.create_topic("flow.records", 1).expect("records topic");
    let bootstrap = kafka.bootstrap_servers().to_owned();
    let registry_handle = EmbeddedRegistry::start("127.0.0.1:0".parse().expect("addr")).await.expect("registry");
    let registry_url = registry_handle.url();
    let env = environment(&kafka, &registry_url, datagen_plugins(), 65536);
    let pool = env.producers.clone().expect("shared producers");
    let leaders = leaders(&bootstrap);
    let spared = [leaders[&("tributary-offsets".to_owned(), 0)], leaders[&("flow.records".to_owned(), 0)]];
    let victim = (0..6)
        .map(|p| leaders[&("stall.records".to_owned(), p)])
        .find(|b| !spared.contains(b))
        .expect("a broker leading part of the stalled topic and nothing else the test needs");
    kafka.broker_down(victim).expect("victim down");

    let supervisor = Supervisor::new(env, fast_backoff());
    let entries = config(&format!(
        "kafka: {{bootstrap_servers: embedded}}\nschema_registry: {{url: embedded}}\nconnectors:\n  \
         - {{name: stalled, class: datagen, topic: stall.records, record_bytes: 500}}\n  \
         - {{name: flowing, class: datagen, topic: flow.records, rate: 400, count: {FLOWING}, record_bytes: 500}}\n"
    ))
    .connectors;
    for entry in entries {
        supervisor.start(entry);
    }
    wait_for(WAIT, "every record of the flowing tenant acknowledged", || async {
        (supervisor.snapshot("flowing").ok()?.records_acknowledged == FLOWING).then_some(())
    })
    .await;
    assert_eq!(pool.len(), 1, "both tenants on one producer");
    let stalled = supervisor.snapshot("stalled").expect("stalled tenant");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let later = supervisor.snapshot("stalled").expect("stalled tenant");
    assert_eq!(later.records_acknowledged, stalled.records_acknowledged, "the stalled tenant waits");
    // 64 KiB at about 500 bytes of value and 512 of overhead per record: some 64 records.
    assert!(
        (1..=70).contains(&later.records_in_flight),
        "the stalled tenant waits at its bound: {} records in flight",
        later.records_in_flight
    );
    assert_eq!(later.connector.state, State::Running, "a stall is not a failure");

    kafka.broker_up(victim).expect("victim up");
    wait_for(WAIT, "the stalled tenant flowing again", || async {
        let acked = supervisor.snapshot("stalled").ok()?.records_acknowledged;
        (acked >= later.records_acknowledged + 500).then_some(())
    })
    .await;
    supervisor.stop("stalled").await.expect("stop");
    supervisor.wait_for("stalled", WAIT, |s| s.state == State::Stopped).await.expect("stopped");
    let last = committed_seqs(&bootstrap, "stalled").await["0"];
    let by_seq = positions(&bootstrap, &registry_url, "stall.records", last + 1).await;
    assert_each_once(&by_seq, last + 1);

    tokio::time::timeout(WAIT, supervisor.shutdown()).await.expect("shutdown in time");
    registry_handle.shutdown().await.expect("registry stops");
    tokio::task::spawn_blocking(move || drop(kafka)).await.expect("cluster stops");
}

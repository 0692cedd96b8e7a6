//! Exactly-once and cluster mode on a real Apache Kafka broker.
//!
//! `kafka.exactly_once`: records and the offsets that cover them are committed in one
//! transaction, so a `read_committed` reader sees every record once — after a SIGKILL
//! mid-stream, and after a second process started on the same config fenced the first.
//!
//! `cluster.group_id`: three replicas on one config share the connectors through the group
//! coordinator; a replica SIGKILLed, one SIGSTOPped past the session timeout (a zombie) and a
//! rolling restart of all of them leave every record once. A process outside the cluster using a
//! replica's transactional id is named, and the group's owner takes the connector back. A
//! Genesys tenant killed on one replica and handed over on the next writes every conversation,
//! each record once. A broker that refuses transactions is named as the cause.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use genesys_cloud_sim::{Simulator, VerifyOptions, verify};
use serde_json::Value;
use tributary::avro::Decoder;
use tributary::schema_registry::EmbeddedRegistryHandle;
use tributary_test_support::clock::now_ms;
use tributary_test_support::genesys::{NAME, TOPIC, connector_entry};
use tributary_test_support::pipeline::config_text;
use tributary_test_support::rest::{get_json, wait_json};
use tributary_test_support::simulator::sim_config;
use tributary_test_support::truth::{assert_complete, read_observed};
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

/// Waits until both of `name`'s generators committed (in `offsets_topic`) more than `more` seqs
/// past `floor`.
async fn committed_beyond(bootstrap: &str, offsets_topic: &str, name: &str, floor: &BTreeMap<String, i64>, more: i64) {
    wait_for(WAIT, "committed offsets to move on", || async {
        let seqs = committed_seqs_in(bootstrap, offsets_topic, name).await;
        (seqs.len() == 2 && seqs.iter().all(|(g, s)| *s > floor.get(g).copied().unwrap_or(-1) + more)).then_some(())
    })
    .await;
}

/// Every generator's seqs in `{name}.records`, as a `read_committed` reader sees them: each seq
/// from 0 to the last one committed in `offsets_topic`, once.
async fn assert_each_seq_once(bootstrap: &str, registry_url: &str, offsets_topic: &str, name: &str) {
    let last = committed_seqs_in(bootstrap, offsets_topic, name).await;
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
        assert_once_up_to(&format!("{name} generator {g}"), seen, *last);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkilled_run_leaves_every_record_once() {
    let Started { bootstrap, registry, _dir, path, mut first } = start("eos-killed").await;
    committed_beyond(&bootstrap, "offsets.eos-killed", "eos-killed", &BTreeMap::new(), 300).await;
    first.signal("KILL");
    first.wait_exit(WAIT);
    let at_kill = committed_seqs_in(&bootstrap, "offsets.eos-killed", "eos-killed").await;

    let mut second = RunningCli::start(TRIBUTARY, &path);
    second.wait_for_log("connector started", WAIT);
    committed_beyond(&bootstrap, "offsets.eos-killed", "eos-killed", &at_kill, 300).await;
    second.signal("TERM");
    assert_eq!(second.wait_exit(WAIT).code(), Some(0), "{}", second.output());

    assert_each_seq_once(&bootstrap, &registry.url(), "offsets.eos-killed", "eos-killed").await;
    registry.shutdown().await.expect("registry stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_fences_the_first_which_writes_nothing_more() {
    let Started { bootstrap, registry, _dir, path, mut first } = start("eos-fenced").await;
    committed_beyond(&bootstrap, "offsets.eos-fenced", "eos-fenced", &BTreeMap::new(), 200).await;

    // Same config, same transactional id: the second process takes the connector over.
    let mut second = RunningCli::start(TRIBUTARY, &path);
    second.wait_for_log("connector started", WAIT);
    let fenced = first.wait_for_log("fenced", WAIT);
    assert!(fenced.contains("fenced"), "{fenced}");
    let at_takeover = committed_seqs_in(&bootstrap, "offsets.eos-fenced", "eos-fenced").await;
    committed_beyond(&bootstrap, "offsets.eos-fenced", "eos-fenced", &at_takeover, 300).await;

    first.signal("TERM");
    first.wait_exit(WAIT);
    second.signal("TERM");
    assert_eq!(second.wait_exit(WAIT).code(), Some(0), "{}", second.output());

    assert_each_seq_once(&bootstrap, &registry.url(), "offsets.eos-fenced", "eos-fenced").await;
    registry.shutdown().await.expect("registry stops");
}

const CLUSTER_CONNECTORS: [&str; 4] = ["ten-a", "ten-b", "ten-c", "ten-d"];

/// The config every replica of the cluster test reads: four exactly-once datagen tenants.
fn cluster_config(dir: &Path, bootstrap: &str, registry: &str) -> std::path::PathBuf {
    let connectors: String = CLUSTER_CONNECTORS
        .iter()
        .map(|name| {
            format!(
                "  - {{name: {name}, class: datagen, topic: {name}.records, generators: 2, rate: 150, record_bytes: 100}}\n"
            )
        })
        .collect();
    let text = format!(
        r#"
kafka:
  bootstrap_servers: {bootstrap}
  offsets: {{topic: offsets.cluster, partitions: 3, flush_interval: 300ms}}
cluster:
  group_id: tributary-test
  session_timeout: 6s
  heartbeat_interval: 1s
  rebalance_timeout: 30s
schema_registry: {{url: {registry}}}
api: {{listen: "127.0.0.1:0"}}
schemas_dir: {schemas}
connectors:
{connectors}"#,
        schemas = workspace().join("schemas").display()
    );
    write_file(dir, "config.yaml", &text)
}

/// One replica and the port of its REST API (its replica id is `<host>:<port>`).
struct Replica {
    cli: RunningCli,
    address: String,
}

impl Replica {
    fn start(path: &Path) -> Self {
        let mut cli = RunningCli::start(TRIBUTARY, path);
        let address = cli.rest_address(WAIT);
        Self { cli, address }
    }

    fn port(&self) -> &str {
        self.address.rsplit(':').next().unwrap_or_default()
    }

    async fn cluster(&self) -> Value {
        get_json(&format!("http://{}/cluster", self.address)).await
    }
}

/// Connector → replica port, once `replica` sees `members` members holding every connector.
async fn settled(replica: &Replica, members: usize) -> BTreeMap<String, String> {
    wait_for(WAIT, "every connector assigned", || async {
        let view = replica.cluster().await;
        let listed = view["members"].as_array()?;
        if listed.len() != members || !view["unassigned"].as_array()?.is_empty() {
            return None;
        }
        let mut owners = BTreeMap::new();
        for m in listed {
            let port = m["replica_id"].as_str()?.rsplit(':').next()?.to_owned();
            for c in m["connectors"].as_array()? {
                owners.insert(c.as_str()?.to_owned(), port.clone());
            }
        }
        (owners.len() == CLUSTER_CONNECTORS.len()).then_some(owners)
    })
    .await
}

async fn all_committed_beyond(bootstrap: &str, floor: &BTreeMap<String, BTreeMap<String, i64>>, more: i64) {
    for name in CLUSTER_CONNECTORS {
        let floor = floor.get(name).cloned().unwrap_or_default();
        committed_beyond(bootstrap, "offsets.cluster", name, &floor, more).await;
    }
}

async fn committed_now(bootstrap: &str) -> BTreeMap<String, BTreeMap<String, i64>> {
    let mut out = BTreeMap::new();
    for name in CLUSTER_CONNECTORS {
        out.insert(name.to_owned(), committed_seqs_in(bootstrap, "offsets.cluster", name).await);
    }
    out
}

async fn assert_every_tenant_once(bootstrap: &str, registry_url: &str) {
    for name in CLUSTER_CONNECTORS {
        assert_each_seq_once(bootstrap, registry_url, "offsets.cluster", name).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_share_the_tenants_through_a_kill_a_zombie_and_a_rolling_restart() {
    let bootstrap = Broker::shared().bootstrap();
    let registry = standalone_registry().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = cluster_config(dir.path(), &bootstrap, &registry.url());
    let mut replicas: Vec<Replica> = (0..3).map(|_| Replica::start(&path)).collect();

    // Balanced: four tenants on three replicas, one or two each; every replica sees the same.
    let owners = settled(&replicas[0], 3).await;
    for r in &replicas {
        let held = owners.values().filter(|p| *p == r.port()).count();
        assert!((1..=2).contains(&held), "replica {} holds {held}: {owners:?}", r.port());
    }
    assert_eq!(settled(&replicas[2], 3).await, owners, "every replica shows the cluster's view");
    // Any replica answers for any tenant: its own in full, another's with who runs it.
    let url = format!("http://{}/connectors/ten-a/status", replicas[1].address);
    wait_json(&url, "ten-a running or assigned", WAIT, |s| {
        ["RUNNING", "ASSIGNED"].contains(&s["connector"]["state"].as_str().unwrap_or_default())
    })
    .await;
    all_committed_beyond(&bootstrap, &BTreeMap::new(), 100).await;

    // SIGKILL the replica with the most tenants: after the session timeout they move.
    let busiest = (0..3).max_by_key(|i| owners.values().filter(|p| *p == replicas[*i].port()).count()).unwrap_or(0);
    let killed = replicas.remove(busiest);
    killed.cli.signal("KILL");
    let owners = settled(&replicas[0], 2).await;
    assert!(!owners.values().any(|p| p == killed.port()), "{owners:?}");
    let floor = committed_now(&bootstrap).await;
    all_committed_beyond(&bootstrap, &floor, 100).await;

    // SIGSTOP another past the session timeout: a zombie. Its tenants move; once it runs again it
    // learns it lost them and writes nothing that a read_committed reader sees twice.
    let zombie = replicas.remove(0);
    zombie.cli.signal("STOP");
    let owners = settled(&replicas[0], 1).await;
    assert!(owners.values().all(|p| p == replicas[0].port()), "{owners:?}");
    let floor = committed_now(&bootstrap).await;
    all_committed_beyond(&bootstrap, &floor, 100).await;
    zombie.cli.signal("CONT");
    let mut zombie = zombie;
    zombie.cli.wait_for_log("lost its connectors", WAIT);
    replicas.insert(0, zombie);
    settled(&replicas[0], 2).await;

    // A rolling restart of every replica, a fresh one joining first.
    replicas.push(Replica::start(&path));
    settled(&replicas[2], 3).await;
    for _ in 0..3 {
        let mut old = replicas.remove(0);
        old.cli.signal("TERM");
        assert_eq!(old.cli.wait_exit(WAIT).code(), Some(0), "{}", old.cli.output());
        replicas.push(Replica::start(&path));
        settled(&replicas[2], 3).await;
    }
    let floor = committed_now(&bootstrap).await;
    all_committed_beyond(&bootstrap, &floor, 50).await;

    for mut r in replicas {
        r.cli.signal("TERM");
        assert_eq!(r.cli.wait_exit(WAIT).code(), Some(0), "{}", r.cli.output());
    }
    assert_every_tenant_once(&bootstrap, &registry.url()).await;
    registry.shutdown().await.expect("registry stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_with_different_connectors_say_so_loudly() {
    let bootstrap = Broker::shared().bootstrap();
    let registry = standalone_registry().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let base = cluster_config(dir.path(), &bootstrap, &registry.url());
    let text = std::fs::read_to_string(&base).expect("config").replace("tributary-test", "tributary-mismatch");
    let same = write_file(dir.path(), "same.yaml", &text);
    let other = write_file(dir.path(), "other.yaml", &text.replace("rate: 150", "rate: 151"));
    let first = Replica::start(&same);
    let mut second = Replica::start(&other);
    let line = second.cli.wait_for_log("different connector definitions", WAIT);
    assert!(line.contains(first.port()), "names the other replica: {line}");
    let view = wait_json(&format!("http://{}/cluster", first.address), "a mismatch", WAIT, |v| {
        v["mismatched"].as_array().is_some_and(|m| m.len() == 1)
    })
    .await;
    assert_eq!(view["members"].as_array().map(Vec::len), Some(2), "{view}");
    for mut r in [first, second] {
        r.cli.signal("TERM");
        r.cli.wait_exit(WAIT);
    }
    registry.shutdown().await.expect("registry stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_outside_the_cluster_with_the_same_transactional_id_is_named() {
    let bootstrap = Broker::shared().bootstrap();
    let registry = standalone_registry().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let config = |cluster: &str, api: &str| {
        format!(
            r#"
kafka:
  bootstrap_servers: {bootstrap}
  exactly_once: true
  offsets: {{topic: offsets.outsider, partitions: 1, flush_interval: 300ms}}
cluster: {{{cluster}transactional_id_prefix: shared.}}
schema_registry: {{url: {registry}}}
api: {api}
schemas_dir: {schemas}
connectors:
  - {{name: ten-x, class: datagen, topic: ten-x.records, generators: 1, rate: 100, record_bytes: 100}}
"#,
            registry = registry.url(),
            schemas = workspace().join("schemas").display()
        )
    };
    let clustered =
        write_file(dir.path(), "cluster.yaml", &config("group_id: tributary-outsider, ", "{listen: \"127.0.0.1:0\"}"));
    let outside = write_file(dir.path(), "outside.yaml", &config("", "{enabled: false}"));
    let mut replica = Replica::start(&clustered);
    let url = format!("http://{}/connectors/ten-x/status", replica.address);
    replica.cli.wait_for_log("connector started", WAIT);

    let mut outsider = RunningCli::start(TRIBUTARY, &outside);
    outsider.wait_for_log("connector started", WAIT);
    let failed = poll(WAIT, Duration::from_millis(200), || async {
        let status = get_json(&url).await;
        (status["connector"]["state"] == "FAILED").then_some(status)
    })
    .await
    .unwrap_or_else(|| panic!("ten-x not FAILED; replica's log:\n{}", replica.cli.output()));
    let trace = failed["connector"]["trace"].as_str().unwrap_or_default();
    assert!(trace.contains("transactional.id `shared.ten-x`") && trace.contains("outside"), "{trace}");
    replica.cli.wait_for_log("producer fenced", WAIT);
    // The group, not the last process to start, decides: after the session timeout the replica
    // takes the connector back, fencing the outsider in turn.
    replica.cli.wait_for_log("starting it again", WAIT);
    outsider.wait_for_log("producer fenced", WAIT);
    wait_json(&url, "ten-x running again", WAIT, |s| s["connector"]["state"] == "RUNNING").await;

    for cli in [&mut replica.cli, &mut outsider] {
        cli.signal("TERM");
        cli.wait_exit(WAIT);
    }
    registry.shutdown().await.expect("registry stops");
}

/// A Genesys tenant in cluster mode, killed on one replica and handed over gracefully on the
/// next: each new owner resumes from the committed watermarks, backfills the gap, and leaves out
/// what the earlier owners already wrote, so a `read_committed` reader sees every conversation
/// and final state, each record once (judged by the simulator's ground truth).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_genesys_tenant_killed_then_handed_over_writes_every_record_once() {
    bounded(Duration::from_secs(400), async {
        let broker = Broker::shared();
        let bootstrap = broker.bootstrap();
        broker.create_topic(TOPIC, 6, &[]).await;
        let registry = standalone_registry().await;
        let sim = std::sync::Arc::new(Simulator::start(sim_config(60.0, 3, 40.0, 23)).await.expect("simulator"));
        let dir = tempfile::tempdir().expect("temp dir");
        let text = config_text(
            &format!(
                "  bootstrap_servers: {bootstrap}\n  offsets: {{topic: offsets.genesys, partitions: 3, flush_interval: 1s}}"
            ),
            &format!("  url: {}", registry.url()),
            &connector_entry(&sim),
        )
        .replace("api:\n  enabled: false", "api:\n  listen: 127.0.0.1:0");
        let text = format!(
            "schemas_dir: {}\ncluster: {{group_id: tributary-genesys, session_timeout: 6s, heartbeat_interval: 1s}}\n{text}",
            workspace().join("schemas").display()
        );
        let path = write_file(dir.path(), "config.yaml", &text);
        let owner_of = |replicas: &[Replica]| {
            let replicas: Vec<(String, String)> = replicas.iter().map(|r| (r.address.clone(), r.port().to_owned())).collect();
            async move {
                wait_for(WAIT, "the tenant assigned", || async {
                    for (address, port) in &replicas {
                        let view = get_json(&format!("http://{address}/cluster")).await;
                        let owners = view["members"].as_array()?.iter().find_map(|m| {
                            m["connectors"].as_array()?.iter().any(|c| c == NAME).then(|| m["replica_id"].as_str().map(str::to_owned))?
                        });
                        if let Some(owner) = owners {
                            return replicas.iter().position(|(_, p)| owner.ends_with(&format!(":{p}")));
                        }
                        let _ = port;
                    }
                    None
                })
                .await
            }
        };

        let mut replicas = vec![Replica::start(&path), Replica::start(&path)];
        let first = owner_of(&replicas).await;
        replicas[first].cli.wait_for_log("channel healthy", WAIT);
        tokio::time::sleep(Duration::from_secs(1)).await;
        let from_ms = now_ms();
        tokio::time::sleep(Duration::from_secs(6)).await;

        // Killed: the other replica takes the tenant over after the session timeout.
        let killed = replicas.remove(first);
        killed.cli.signal("KILL");
        replicas[0].cli.wait_for_log("duplicate gate seeded", WAIT);
        replicas[0].cli.wait_for_log("channel healthy", WAIT);
        tokio::time::sleep(Duration::from_secs(4)).await;

        // Handed over gracefully to a fresh replica.
        replicas.push(Replica::start(&path));
        tokio::time::sleep(Duration::from_secs(3)).await;
        let mut leaving = replicas.remove(0);
        leaving.cli.signal("TERM");
        assert_eq!(leaving.cli.wait_exit(WAIT).code(), Some(0), "{}", leaving.cli.output());
        replicas[0].cli.wait_for_log("duplicate gate seeded", WAIT);
        replicas[0].cli.wait_for_log("channel healthy", WAIT);
        tokio::time::sleep(Duration::from_secs(4)).await;

        sim.pause_traffic(true);
        let to_ms = now_ms();
        let status_url = format!("http://{}/connectors/{NAME}/status", replicas[0].address);
        wait_json(&status_url, "the tenant settled", Duration::from_secs(120), |s| {
            let task = &s["tasks"][0];
            task["health"]["state"] == "HEALTHY"
                && task["detail"]["gaps"].as_array().is_some_and(Vec::is_empty)
                && sim.truth().conversations().values().all(|c| c.end_ms.is_some())
        })
        .await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let mut last = replicas.remove(0);
        last.cli.signal("TERM");
        assert_eq!(last.cli.wait_exit(WAIT).code(), Some(0), "{}", last.cli.output());

        let observed = read_observed(&bootstrap, &registry.url()).await;
        let report = verify(&sim.truth(), &observed, &VerifyOptions::new(sim.queue_ids(), from_ms, to_ms));
        assert_complete(&report);
        assert!(report.backfill_records > 0, "the handover gap was backfilled");
        assert!(report.duplicates.is_empty(), "records written twice: {:?}", report.duplicates);
        let repeats = repeated_states(&bootstrap, &registry.url()).await;
        assert_eq!(repeats, 0, "backfilled records that repeat a state the topic already held");
        registry.shutdown().await.expect("registry stops");
    })
    .await;
}

/// Backfilled records that repeat a state of their conversation already in the topic (as old and
/// no more complete than an earlier record of the same key, in partition order): what a new owner
/// writes again when it does not know what the earlier owners wrote. Live and backfilled
/// snapshots of one state have different event ids, so this is not an event-id duplicate.
async fn repeated_states(bootstrap: &str, registry_url: &str) -> usize {
    use tributary_genesys::record::{ConversationEvent, Source};
    let decoder = Decoder::new(registry(registry_url));
    let mut newest: BTreeMap<String, (i64, u32)> = BTreeMap::new();
    let mut repeats = 0;
    for message in read_topic(bootstrap, TOPIC).await {
        let value = decoder.decode(rdkafka::Message::payload(&message).expect("a value")).await.expect("decodes");
        let event: ConversationEvent = serde_json::from_value(value).expect("a conversation event");
        let state = (event.event_time_ms, event.completeness());
        match newest.get(&event.conversation_id) {
            Some(best) if event.source == Source::Backfill && state <= *best => repeats += 1,
            _ => {}
        }
        let best = newest.entry(event.conversation_id).or_insert(state);
        *best = (*best).max(state);
    }
    repeats
}

/// A broker that refuses transactions (here librdkafka's mock broker answering InitProducerId
/// with TRANSACTIONAL_ID_AUTHORIZATION_FAILED): the connector stops FAILED, naming the
/// transactional id and what exactly-once needs, and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_refusing_transactions_is_named() {
    use rdkafka::mocking::MockCluster;
    use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
    use tributary::state::State;
    let cluster = MockCluster::new(1).expect("mock cluster");
    cluster.create_topic("tributary-offsets", 1, 1).expect("offsets topic");
    cluster.create_topic("refused.records", 1, 1).expect("records topic");
    let refusals = vec![RDKafkaRespErr::RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED; 20];
    cluster.request_errors(RDKafkaApiKey::InitProducerId, &refusals);
    let text = format!(
        "kafka: {{bootstrap_servers: \"{}\", exactly_once: true}}\nschema_registry: {{url: embedded}}\napi: {{enabled: false}}\n\
         schemas_dir: {}\nconnectors:\n  - {{name: refused, class: datagen, topic: refused.records, rate: 100}}\n",
        cluster.bootstrap_servers(),
        workspace().join("schemas").display()
    );
    let config = tributary_test_support::runtime::config(&text);
    let rt = tributary::runtime::Runtime::start_with(
        &config,
        datagen_plugins(),
        tributary_test_support::runtime::fast_backoff(),
    )
    .await
    .expect("the runtime starts");
    let state = rt.supervisor.wait_for("refused", WAIT, |s| s.state == State::Failed).await.expect("FAILED");
    let trace = state.trace.unwrap_or_default();
    assert!(
        trace.contains("transactional.id `tributary-refused`") && trace.contains("needs a broker with transactions"),
        "{trace}"
    );
    assert!(read_topic(&cluster.bootstrap_servers(), "refused.records").await.is_empty(), "nothing written");
    rt.shutdown().await;
}

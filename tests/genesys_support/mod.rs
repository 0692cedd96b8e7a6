//! The whole pipeline against the simulated org: simulator → Genesys connector → runtime →
//! Avro → Kafka (embedded, or a real broker), judged by the simulator's ground truth read back
//! from Kafka.
#![allow(dead_code)]

// The same file as `common::broker`: a test binary that includes both support modules compiles
// it twice, harmlessly.
#[allow(clippy::duplicate_mod)]
#[path = "../common/broker.rs"]
pub mod broker;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use genesys_cloud_sim::{ObservedRecord, SimConfig, SimHandle, Simulator, VerifyOptions, VerifyReport, verify};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::OwnedMessage;
use rdkafka::{Message, Offset, TopicPartitionList};
use serde_json::{Value, json};
use tributary::avro::Decoder;
use tributary::plugins::Plugins;
use tributary::runtime::Runtime;
use tributary::schema_registry::{RegistryClient, RegistryConfig};
use tributary::supervisor::Backoff;

pub const NAME: &str = "acme";
pub const TOPIC: &str = "genesys.conversations";

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A simulator with quick analytics and data lake and no random faults.
pub fn sim_config(time_scale: f64, queues: usize, arrivals_per_minute: f64, seed: u64) -> SimConfig {
    let mut cfg = SimConfig { time_scale, seed, ..SimConfig::default() };
    cfg.queues.count = queues;
    cfg.traffic.arrivals_per_minute = arrivals_per_minute;
    cfg.analytics.data_lake_lag = Duration::from_secs(300);
    cfg
}

/// The connector's entry for `sim`: fast keep-alive; budgets in real time (the simulator's are
/// scaled); backfill sized for seconds-long tests.
pub fn connector_entry(sim: &SimHandle) -> Value {
    let creds = sim.credentials();
    json!({
        "name": NAME,
        "class": "genesys-cloud",
        "topic": TOPIC,
        "api_base_url": sim.api_base_url(),
        "login_base_url": sim.login_base_url(),
        "client_id": creds.client_id,
        "client_secret": creds.client_secret,
        "queues": {"ids": sim.queue_ids()},
        "keepalive": {
            "ping_interval": "200ms", "pong_timeout": "500ms", "watchdog": "2s",
            "verify_interval": "500ms", "connect_timeout": "3s"
        },
        "channels": {"backoff_initial": "100ms", "backoff_max": "1s"},
        "rest": {"requests_per_minute": 20000, "request_timeout": "5s"},
        "backfill": {"safety_margin": "2s", "settle": "1500ms", "max_wait": "60s", "page_size": 100}
    })
}

/// A config file's text: `kafka` and `schema_registry` sections given, one connector entry.
pub fn config_text(kafka: &str, registry: &str, entry: &Value) -> String {
    format!(
        "kafka:\n{kafka}\nschema_registry:\n{registry}\napi:\n  enabled: false\nconnectors:\n  - {entry}\n",
        entry = serde_json::to_string(entry).unwrap_or_default()
    )
}

pub fn plugins() -> Plugins {
    let mut p = Plugins::new();
    p.register(tributary_genesys::GenesysCloud::new());
    p
}

fn parse(text: &str) -> tributary::config::Config {
    struct NoEnv;
    impl tributary::config::Env for NoEnv {
        fn var(&self, _: &str) -> Option<String> {
            None
        }
    }
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).try_init();
    }
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    match tributary::config::parse(text, "test.yaml", &root, &NoEnv) {
        Ok(l) => l.config,
        Err(e) => panic!("test config does not parse: {e}\n{text}"),
    }
}

/// Which Kafka a [`Stack`] writes to.
pub enum Kafka<'a> {
    /// The in-process mock cluster.
    Embedded,
    /// A real broker: the records topic is created there with the stack's partitions.
    Broker(&'a broker::Broker),
}

/// Simulator + runtime (embedded registry, embedded or real broker) + the Genesys connector.
pub struct Stack {
    pub sim: Arc<SimHandle>,
    pub runtime: Option<Runtime>,
    pub bootstrap: String,
    pub registry_url: String,
}

impl Stack {
    pub async fn start(sim: SimConfig, partitions: i32, tweak: impl FnOnce(&mut Value)) -> Self {
        Self::start_on(Kafka::Embedded, sim, partitions, tweak).await
    }

    pub async fn start_on(kafka: Kafka<'_>, sim: SimConfig, partitions: i32, tweak: impl FnOnce(&mut Value)) -> Self {
        let sim = Arc::new(Simulator::start(sim).await.expect("simulator starts"));
        let mut entry = connector_entry(&sim);
        tweak(&mut entry);
        let kafka_section = match kafka {
            Kafka::Embedded => format!(
                "  bootstrap_servers: embedded\n  embedded_partitions: {partitions}\n  offsets:\n    flush_interval: 1s"
            ),
            Kafka::Broker(broker) => {
                broker.create_topic(TOPIC, partitions, &[]).await;
                format!("  bootstrap_servers: {}\n  offsets:\n    flush_interval: 1s", broker.bootstrap())
            }
        };
        let text = config_text(&kafka_section, "  url: embedded", &entry);
        let config = parse(&text);
        let backoff = Backoff {
            initial: Duration::from_millis(200),
            max: Duration::from_secs(2),
            reset_after: Duration::from_secs(60),
        };
        let runtime = Runtime::start_with(&config, plugins(), backoff).await.expect("runtime starts");
        let bootstrap = runtime.bootstrap_servers.clone();
        let registry_url = runtime.registry_url.clone();
        Self { sim, runtime: Some(runtime), bootstrap, registry_url }
    }

    pub fn runtime(&self) -> &Runtime {
        self.runtime.as_ref().expect("running")
    }

    /// The connector task's status detail.
    pub fn detail(&self) -> Value {
        self.runtime()
            .supervisor
            .status(NAME)
            .ok()
            .and_then(|s| s.tasks.first().map(|t| t.detail.clone()))
            .unwrap_or(Value::Null)
    }

    pub fn healthy(&self) -> bool {
        self.runtime().supervisor.status(NAME).ok().and_then(|s| s.tasks.first().map(|t| t.health.clone()))
            == Some(tributary::api::Health::Healthy)
    }

    pub async fn wait_for(&self, what: &str, timeout: Duration, cond: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + timeout;
        while !cond(self) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; status: {:#}",
                serde_json::to_value(self.runtime().supervisor.status(NAME).ok()).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn reconnects(&self) -> BTreeMap<String, u64> {
        reconnects(&self.detail())
    }

    pub async fn shutdown(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown().await;
        }
    }

    /// Stops traffic, waits for every conversation to end, for the connector to have no gap
    /// left, and for the records to be acknowledged; then reads the topic back and verifies it.
    pub async fn settle_and_verify(
        &self,
        from_ms: i64,
        settle_timeout: Duration,
    ) -> (VerifyReport, Vec<ObservedRecord>) {
        self.sim.pause_traffic(true);
        let to_ms = now_ms();
        self.wait_for("every conversation to end", settle_timeout, |s| {
            s.sim.truth().conversations().values().all(|c| c.end_ms.is_some())
        })
        .await;
        self.wait_for("backfill to finish", settle_timeout, |s| {
            s.detail()["gaps"].as_array().is_some_and(Vec::is_empty) && s.healthy()
        })
        .await;
        // The last snapshots travel the socket, and Kafka acknowledges every record (after a
        // broker outage librdkafka reconnects with a backoff of up to 10 s).
        tokio::time::sleep(Duration::from_millis(2000)).await;
        self.wait_for("Kafka to acknowledge every record", settle_timeout, |s| {
            s.runtime().supervisor.snapshot(NAME).is_ok_and(|st| st.records_in_flight == 0)
        })
        .await;
        let observed = read_observed(&self.bootstrap, &self.registry_url).await;
        let options = VerifyOptions::new(self.sim.queue_ids(), from_ms, to_ms);
        (verify(&self.sim.truth(), &observed, &options), observed)
    }
}

pub fn reconnects(detail: &Value) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for c in detail["channels"].as_array().cloned().unwrap_or_default() {
        if let Some(map) = c["reconnects"].as_object() {
            for (k, v) in map {
                *out.entry(k.clone()).or_default() += v.as_u64().unwrap_or(0);
            }
        }
    }
    out
}

/// Every record of the topic, from the beginning to the end it has now.
pub async fn read_topic(bootstrap: &str, topic: &str) -> Vec<OwnedMessage> {
    let (bootstrap, topic) = (bootstrap.to_owned(), topic.to_owned());
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("group.id", "tributary-verify")
            .set("enable.auto.commit", "false")
            .set("allow.auto.create.topics", "false")
            .create()
            .expect("consumer");
        let metadata = consumer.fetch_metadata(Some(&topic), Duration::from_secs(10)).expect("metadata");
        let partitions: Vec<i32> = metadata.topics()[0].partitions().iter().map(|p| p.id()).collect();
        let mut assignment = TopicPartitionList::new();
        let mut remaining = BTreeMap::new();
        for p in partitions {
            let (low, high) = consumer.fetch_watermarks(&topic, p, Duration::from_secs(10)).expect("watermarks");
            assert_eq!(low, 0, "partition {p} lost its oldest records (the mock broker keeps only a few MiB)");
            if high > low {
                remaining.insert(p, high);
                assignment.add_partition_offset(&topic, p, Offset::Offset(low)).expect("assign");
            }
        }
        let mut out = Vec::new();
        if remaining.is_empty() {
            return out;
        }
        consumer.assign(&assignment).expect("assign");
        let deadline = Instant::now() + Duration::from_secs(120);
        while !remaining.is_empty() {
            assert!(Instant::now() < deadline, "topic not read to its end in time");
            let Some(message) = consumer.poll(Duration::from_millis(200)) else { continue };
            let message = message.expect("consume").detach();
            if remaining.get(&message.partition()).is_some_and(|high| message.offset() + 1 >= *high) {
                remaining.remove(&message.partition());
            }
            out.push(message);
        }
        out
    })
    .await
    .expect("reader thread")
}

/// The topic decoded through the registry, as the verifier's records (Kafka order per partition).
pub async fn read_observed(bootstrap: &str, registry_url: &str) -> Vec<ObservedRecord> {
    read_observed_topic(bootstrap, registry_url, TOPIC).await
}

pub async fn read_observed_topic(bootstrap: &str, registry_url: &str, topic: &str) -> Vec<ObservedRecord> {
    let messages = read_topic(bootstrap, topic).await;
    let mut config = RegistryConfig::new(registry_url);
    config.request_timeout = Duration::from_secs(5);
    let decoder = Decoder::new(RegistryClient::new(config).expect("registry client"));
    let mut out = Vec::with_capacity(messages.len());
    for m in &messages {
        let mut value = decoder.decode(m.payload().expect("a value")).await.expect("value decodes");
        assert_eq!(
            m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
            value["conversation_id"].as_str().map(str::to_owned),
            "records are keyed by conversation id"
        );
        if let Some(obj) = value.as_object_mut() {
            obj.insert("kafka_partition".into(), json!(m.partition()));
            obj.insert("kafka_offset".into(), json!(m.offset()));
        }
        out.push(ObservedRecord::from_json(&value).expect("the verifier reads the record"));
    }
    out
}

/// Asserts nothing is missing, printing the report either way.
pub fn assert_complete(report: &VerifyReport) {
    eprintln!("{}", report.summary());
    assert!(report.expected_conversations > 0, "no traffic was generated");
    assert!(report.missing.is_empty(), "missing conversations: {:?}", report.missing);
    assert!(report.final_state_missing.is_empty(), "final states missing: {:?}", report.final_state_missing);
    assert!(report.split_keys.is_empty(), "a conversation split across partitions: {:?}", report.split_keys);
}

pub async fn bounded<F: std::future::Future<Output = ()>>(limit: Duration, f: F) {
    tokio::time::timeout(limit, f).await.expect("test finished within its time limit");
}

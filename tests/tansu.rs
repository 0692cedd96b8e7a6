//! Against a real, separate broker process: tansu (an independent Kafka-compatible broker).
//!
//! The binary is found through `TRIBUTARY_TANSU`, `tansu` on `PATH`, or `~/.cargo/bin/tansu`;
//! `.ci/run` installs it. With `TRIBUTARY_SKIP_TANSU=1` these tests are skipped (loudly) instead
//! of failing when it is missing. Consumers assign partitions by hand: tansu's group joins take
//! about 20 s.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::Consumer;
use rdkafka::{ClientConfig, Message};
use tributary::avro::Decoder;
use tributary::datagen::FillerPool;
use tributary::runtime::{Runtime, StartError};
use tributary::state::State;
use tributary_test_support::{datagen::*, registry::*, runtime::*, topics::*, wait::*};

const WAIT: Duration = Duration::from_secs(30);

fn tansu_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("TRIBUTARY_TANSU") {
        return Some(PathBuf::from(path));
    }
    let on_path = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|dir| dir.join("tansu")).find(|p| p.is_file()));
    on_path.or_else(|| {
        let cargo_bin = PathBuf::from(std::env::var_os("HOME")?).join(".cargo/bin/tansu");
        cargo_bin.is_file().then_some(cargo_bin)
    })
}

/// A tansu broker on a free port of 127.0.0.1, with in-memory storage; killed on drop.
struct Tansu {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Tansu {
    /// Starts a broker, or returns `None` when tansu is missing and skipping was asked for.
    fn start(test: &str) -> Option<Self> {
        let Some(binary) = tansu_binary() else {
            if std::env::var("TRIBUTARY_SKIP_TANSU").as_deref() == Ok("1") {
                eprintln!("\n*** SKIPPED: {test} needs tansu (TRIBUTARY_SKIP_TANSU=1) ***\n");
                return None;
            }
            panic!(
                "tansu is not installed: run `.ci/run` (it installs tansu 0.6.0), set TRIBUTARY_TANSU to its binary, \
                 or set TRIBUTARY_SKIP_TANSU=1 to skip"
            );
        };
        let dir = tempfile::tempdir().expect("temp dir");
        for _attempt in 0..3 {
            let port = TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
            let url = format!("tcp://127.0.0.1:{port}");
            let log = std::fs::File::create(dir.path().join("tansu.log")).expect("log file");
            let mut child = Command::new(&binary)
                .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
                .args(["--storage-engine", "memory://tansu/"])
                .env_remove("CLUSTER_ID")
                .env_remove("SCHEMA_REGISTRY")
                .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log file"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Some(Self { child, port, _dir: dir });
                }
                if child.try_wait().ok().flatten().is_some() || Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let log = std::fs::read_to_string(dir.path().join("tansu.log")).unwrap_or_default();
        panic!("tansu did not start listening:\n{log}");
    }

    fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn admin(&self) -> AdminClient<DefaultClientContext> {
        ClientConfig::new().set("bootstrap.servers", self.bootstrap()).create().expect("admin client")
    }

    async fn create_topic(&self, name: &str, partitions: i32, policy: &str) {
        let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1)).set("cleanup.policy", policy);
        let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(10)));
        let results = self.admin().create_topics([&topic], &options).await.expect("create topics");
        for r in results {
            r.unwrap_or_else(|(t, e)| panic!("cannot create {t}: {e}"));
        }
    }

    async fn cleanup_policy(&self, topic: &str) -> Option<String> {
        let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(10)));
        let mut described =
            self.admin().describe_configs([&ResourceSpecifier::Topic(topic)], &options).await.expect("describe");
        let resource = described.pop().expect("one resource").expect("described");
        resource.get("cleanup.policy").and_then(|e| e.value.clone())
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        // Only the broker this test started, by its own handle.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn yaml(bootstrap: &str, connectors: &str) -> String {
    format!(
        r#"
kafka:
  bootstrap_servers: "{bootstrap}"
  offsets: {{flush_interval: 300ms, partitions: 3, replication_factor: 1}}
schema_registry: {{url: embedded}}
api: {{enabled: false}}
connectors:
{connectors}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offsets_topic_is_created_compacted() {
    let Some(tansu) = Tansu::start("offsets topic creation") else { return };
    let before = consumer(&tansu.bootstrap()).fetch_metadata(None, Duration::from_secs(10)).expect("metadata");
    assert!(before.topics().iter().all(|t| t.name() != "tributary-offsets"), "a fresh broker has no offsets topic");
    let cfg = config(&yaml(&tansu.bootstrap(), "  []"));
    let rt = tokio::time::timeout(WAIT, Runtime::start_with(&cfg, datagen_plugins(), fast_backoff()))
        .await
        .expect("start within 30 s")
        .expect("runtime starts against tansu");
    assert_eq!(tansu.cleanup_policy("tributary-offsets").await.as_deref(), Some("compact"));
    let metadata = consumer(&tansu.bootstrap())
        .fetch_metadata(Some("tributary-offsets"), Duration::from_secs(10))
        .expect("metadata");
    assert_eq!(metadata.topics()[0].partitions().len(), 3, "kafka.offsets.partitions is used");
    tokio::time::timeout(WAIT, rt.shutdown()).await.expect("shutdown in time");

    // A second start finds the topic, checks its policy and goes on.
    let rt = Runtime::start_with(&cfg, datagen_plugins(), fast_backoff()).await.expect("starts again");
    tokio::time::timeout(WAIT, rt.shutdown()).await.expect("shutdown in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleting_offsets_topic_refuses_start_up() {
    let Some(tansu) = Tansu::start("offsets topic policy check") else { return };
    tansu.create_topic("tributary-offsets", 1, "delete").await;
    let cfg = config(&yaml(&tansu.bootstrap(), "  []"));
    let started = tokio::time::timeout(WAIT, Runtime::start_with(&cfg, datagen_plugins(), fast_backoff()))
        .await
        .expect("answer within 30 s");
    let error = match started {
        Ok(rt) => {
            rt.shutdown().await;
            panic!("started with a deleting offsets topic");
        }
        Err(e) => e,
    };
    assert!(matches!(error, StartError::OffsetsTopic(_)), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("offsets topic `tributary-offsets` has cleanup.policy=delete")
            && message.contains("need cleanup.policy=compact"),
        "{message}"
    );
    // Nothing was changed behind the operator's back.
    assert_eq!(tansu.cleanup_policy("tributary-offsets").await.as_deref(), Some("delete"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datagen_records_are_readable_and_decode() {
    const COUNT: i64 = 300;
    const SEED: u64 = 7;
    let Some(tansu) = Tansu::start("datagen on tansu") else { return };
    tansu.create_topic("tansu.records", 2, "delete").await;
    let cfg = config(&yaml(
        &tansu.bootstrap(),
        &format!(
            "  - {{name: gen, class: datagen, topic: tansu.records, count: {COUNT}, generators: 2, seed: {SEED}}}"
        ),
    ));
    let rt = Runtime::start_with(&cfg, datagen_plugins(), fast_backoff()).await.expect("runtime starts");
    rt.supervisor.wait_for("gen", WAIT, |s| s.state == State::Running).await.expect("running");

    let messages = consume(
        &rt.bootstrap_servers,
        "tansu.records",
        None,
        |m| m.len() as i64 >= 2 * COUNT,
        Duration::from_millis(500),
        Duration::from_secs(60),
    )
    .await;
    let decoder = Decoder::new(registry(&rt.registry_url));
    let decoded = decode_all(&decoder, &messages).await;
    let pool = FillerPool::new(SEED, 500);
    for (m, (_, value)) in messages.iter().zip(&decoded) {
        check_datagen_record(&pool, SEED, m.key(), value, m.timestamp().to_millis());
    }
    let values: Vec<_> = decoded.into_iter().map(|(_, v)| v).collect();
    assert_exactly(&seqs_by_generator(&values), 2, COUNT);

    let want = std::collections::BTreeMap::from([("0".to_owned(), COUNT - 1), ("1".to_owned(), COUNT - 1)]);
    wait_for(WAIT, "the last offsets committed to tansu", || async {
        (committed_seqs(&rt.bootstrap_servers, "gen").await == want).then_some(())
    })
    .await;
    tokio::time::timeout(WAIT, rt.shutdown()).await.expect("shutdown in time");
}

/// Exactly-once on tansu: either its transactions carry the records and offsets, or the
/// connector stops FAILED with a reason that names transactions, and nothing is half-written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_works_or_says_transactions_are_missing() {
    let Some(tansu) = Tansu::start("exactly-once on tansu") else { return };
    tansu.create_topic("tansu.eos", 1, "delete").await;
    let text = yaml(&tansu.bootstrap(), "  - {name: eos, class: datagen, topic: tansu.eos, count: 200, generators: 1}")
        .replace("kafka:\n", "kafka:\n  exactly_once: true\n");
    let rt = Runtime::start_with(&config(&text), datagen_plugins(), fast_backoff()).await.expect("runtime starts");
    let bootstrap = tansu.bootstrap();
    let outcome = poll(Duration::from_secs(90), Duration::from_millis(500), || async {
        let snapshot = rt.supervisor.snapshot("eos").ok()?;
        if snapshot.connector.state == State::Failed {
            return Some(Err(snapshot.connector.trace.unwrap_or_default()));
        }
        let committed = committed_seqs_in(&bootstrap, "tributary-offsets", "eos").await;
        (committed.get("0") == Some(&199)).then_some(Ok(()))
    })
    .await
    .expect("exactly-once on tansu either commits every record or fails within 90 s");
    eprintln!("exactly-once on tansu: {outcome:?}");
    if let Err(trace) = outcome {
        assert!(trace.to_lowercase().contains("transaction"), "the reason names transactions: {trace}");
    }
    tokio::time::timeout(WAIT, rt.shutdown()).await.expect("shutdown in time");
}

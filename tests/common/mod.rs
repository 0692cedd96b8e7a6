//! Shared helpers for the end-to-end tests: configs, a spying datagen connector, consuming and
//! decoding topics, and bounded waits. Everything talks to 127.0.0.1 only.

#![allow(dead_code)]

pub mod apicurio;
pub mod broker;
pub mod connect;
pub mod token_endpoint;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::OwnedMessage;
use rdkafka::{Message, Offset, TopicPartitionList};
use serde_json::{Value, json};
use tributary::api::{
    Acknowledgements, ConfigIssue, Connector, ConnectorContext, ConnectorError, Output, SourceOffset, SourcePartition,
    SourceTask, TaskContext, TaskError, async_trait,
};
use tributary::avro::Decoder;
use tributary::config::{Config, Env};
use tributary::datagen::{Datagen, DatagenConfig, DatagenRecord, FillerPool};
use tributary::kafka::ErrorWatch;
use tributary::plugins::Plugins;
use tributary::schema_registry::{RegistryClient, RegistryConfig};
use tributary::supervisor::Backoff;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// An environment with no variables, so tests never depend on the caller's.
pub struct NoEnv;

impl Env for NoEnv {
    fn var(&self, _name: &str) -> Option<String> {
        None
    }
}

/// Sends the runtime's logs to the test output when `RUST_LOG` is set (e.g. `RUST_LOG=debug`).
pub fn init_logs() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// Parses config text; relative paths (`schemas_dir`) resolve against the repository root.
/// Also turns on logs when asked for (see [`init_logs`]).
pub fn config(yaml: &str) -> Config {
    init_logs();
    match tributary::config::parse(yaml, "test.yaml", &repo(), &NoEnv) {
        Ok(loaded) => loaded.config,
        Err(errors) => panic!("test config does not parse: {errors}"),
    }
}

/// Restarts quickly, so a test never waits minutes for a retriable failure.
pub fn fast_backoff() -> Backoff {
    Backoff { initial: Duration::from_millis(200), max: Duration::from_secs(2), reset_after: Duration::from_secs(60) }
}

/// A registry client that gives up quickly.
pub fn registry(url: &str) -> RegistryClient {
    let mut config = RegistryConfig::new(url);
    config.request_timeout = Duration::from_secs(5);
    config.connect_timeout = Duration::from_secs(2);
    RegistryClient::new(config).expect("registry client")
}

/// Polls `check` every 50 ms until it returns `Some`, or panics after `timeout` naming `what`.
pub async fn wait_for<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// A datagen connector that reports what the runtime gave its tasks.

/// What one task run was given by the runtime.
#[derive(Clone)]
pub struct TaskRun {
    pub task_id: usize,
    pub stored: HashMap<SourcePartition, SourceOffset>,
    pub acks: Arc<dyn Acknowledgements>,
    pub started: Instant,
}

/// Every task run seen so far, in start order.
#[derive(Clone, Default)]
pub struct SpyLog(Arc<Mutex<Vec<TaskRun>>>);

impl SpyLog {
    pub fn runs(&self) -> Vec<TaskRun> {
        self.0.lock().expect("spy log").clone()
    }

    /// The acknowledgements of the latest run, once a task has started.
    pub fn acks(&self) -> Option<Arc<dyn Acknowledgements>> {
        self.runs().last().map(|r| r.acks.clone())
    }
}

/// Registered as `datagen`: the real datagen connector, whose tasks first write down the stored
/// offsets and acknowledgements the runtime handed them.
pub struct SpyDatagen {
    pub log: SpyLog,
}

impl Connector for SpyDatagen {
    type Config = DatagenConfig;

    fn class(&self) -> &'static str {
        "datagen"
    }

    fn description(&self) -> &'static str {
        "datagen, recording what its tasks are given"
    }

    fn validate(&self, config: &DatagenConfig) -> Vec<ConfigIssue> {
        Connector::validate(&Datagen, config)
    }

    fn outputs(&self, config: &DatagenConfig) -> Vec<Output> {
        Connector::outputs(&Datagen, config)
    }

    fn create_tasks(
        &self,
        ctx: &ConnectorContext,
        config: DatagenConfig,
    ) -> Result<Vec<Box<dyn SourceTask>>, ConnectorError> {
        let tasks = Connector::create_tasks(&Datagen, ctx, config)?;
        Ok(tasks
            .into_iter()
            .map(|inner| Box::new(SpyTask { inner, log: self.log.clone() }) as Box<dyn SourceTask>)
            .collect())
    }
}

struct SpyTask {
    inner: Box<dyn SourceTask>,
    log: SpyLog,
}

#[async_trait]
impl SourceTask for SpyTask {
    async fn run(self: Box<Self>, ctx: TaskContext) -> Result<(), TaskError> {
        self.log.0.lock().expect("spy log").push(TaskRun {
            task_id: ctx.task_id(),
            stored: ctx.stored_offsets().clone(),
            acks: ctx.acknowledgements().clone(),
            started: Instant::now(),
        });
        self.inner.run(ctx).await
    }
}

/// Plugins holding only the spying datagen.
pub fn spy_plugins() -> (Plugins, SpyLog) {
    let log = SpyLog::default();
    let mut plugins = Plugins::new();
    plugins.register(SpyDatagen { log: log.clone() });
    (plugins, log)
}

/// Plugins holding the real datagen.
pub fn datagen_plugins() -> Plugins {
    let mut plugins = Plugins::new();
    plugins.register(Datagen);
    plugins
}

/// Datagen's source partition of `generator`.
pub fn generator(generator: u32) -> SourcePartition {
    SourcePartition::single("generator", generator.to_string())
}

/// The `seq` of a datagen offset.
pub fn seq_of(offset: Option<&SourceOffset>) -> Option<i64> {
    offset.and_then(|o| o.get_i64("seq"))
}

// ---------------------------------------------------------------------------------------------
// Reading topics.

/// A consumer for manual assignment: no group joins, nothing committed.
pub fn consumer(bootstrap: &str) -> BaseConsumer<ErrorWatch> {
    consumer_with(ClientConfig::new().set("bootstrap.servers", bootstrap).clone())
}

/// [`consumer`] over `base` (bootstrap and, e.g., security properties; OAUTHBEARER tokens come
/// from the runtime's token sources, as its own consumers get them).
pub fn consumer_with(mut base: ClientConfig) -> BaseConsumer<ErrorWatch> {
    base.set("group.id", "tributary-tests")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("allow.auto.create.topics", "false")
        .set("enable.partition.eof", "false");
    let consumer: BaseConsumer<ErrorWatch> = tributary::kafka::create(&base).expect("consumer");
    // Serves a first OAUTHBEARER token request before any metadata is asked for.
    let _ = consumer.poll(Duration::ZERO);
    consumer
}

/// Reads `topic` from the beginning (or only `partitions`, when given) until `enough` says the
/// records read so far suffice, then for another `linger` to catch anything extra. Panics after
/// `timeout`.
pub async fn consume(
    bootstrap: &str,
    topic: &str,
    partitions: Option<Vec<i32>>,
    enough: impl Fn(&[OwnedMessage]) -> bool + Send + 'static,
    linger: Duration,
    timeout: Duration,
) -> Vec<OwnedMessage> {
    let base = ClientConfig::new().set("bootstrap.servers", bootstrap).clone();
    consume_with(base, topic, partitions, enough, linger, timeout).await
}

/// [`consume`] with a consumer made from `base`.
pub async fn consume_with(
    base: ClientConfig,
    topic: &str,
    partitions: Option<Vec<i32>>,
    enough: impl Fn(&[OwnedMessage]) -> bool + Send + 'static,
    linger: Duration,
    timeout: Duration,
) -> Vec<OwnedMessage> {
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + timeout;
        let consumer = consumer_with(base);
        let ids = match partitions {
            Some(ids) => ids,
            // The topic may not exist yet: connectors create theirs as they start.
            None => loop {
                let metadata = consumer.fetch_metadata(None, Duration::from_secs(10)).expect("metadata");
                if let Some(t) = metadata.topics().iter().find(|t| t.name() == topic && t.error().is_none()) {
                    break t.partitions().iter().map(|p| p.id()).collect();
                }
                assert!(Instant::now() < deadline, "topic `{topic}` did not appear within {timeout:?}");
                std::thread::sleep(Duration::from_millis(100));
            },
        };
        let mut assignment = TopicPartitionList::new();
        for id in ids {
            assignment.add_partition_offset(&topic, id, Offset::Beginning).expect("partition");
        }
        consumer.assign(&assignment).expect("assign");
        let mut out = Vec::new();
        let mut done_at: Option<Instant> = None;
        loop {
            if done_at.is_some_and(|t| t.elapsed() >= linger) {
                return out;
            }
            assert!(
                Instant::now() < deadline,
                "consumed {} record(s) of `{topic}` in {timeout:?}, not enough",
                out.len()
            );
            if let Some(result) = consumer.poll(Duration::from_millis(100)) {
                out.push(result.expect("consume").detach());
            }
            if done_at.is_none() && enough(&out) {
                done_at = Some(Instant::now());
            }
        }
    })
    .await
    .expect("consumer thread")
}

/// Decodes every value; panics on the first that does not decode.
pub async fn decode_all(decoder: &Decoder, messages: &[OwnedMessage]) -> Vec<(u32, Value)> {
    let mut out = Vec::with_capacity(messages.len());
    for m in messages {
        let payload = m.payload().expect("a value");
        let decoded = decoder
            .decode_with_id(payload)
            .await
            .unwrap_or_else(|e| panic!("record at {}/{} does not decode: {e}", m.partition(), m.offset()));
        out.push(decoded);
    }
    out
}

/// Seqs per generator found in decoded datagen values.
pub fn seqs_by_generator(values: &[Value]) -> BTreeMap<i64, Vec<i64>> {
    let mut by: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for v in values {
        let g = v["generator"].as_i64().expect("generator");
        by.entry(g).or_default().push(v["seq"].as_i64().expect("seq"));
    }
    for seqs in by.values_mut() {
        seqs.sort_unstable();
    }
    by
}

/// What datagen must have produced for `(seed, generator, seq)`, minus `event_time` (the clock).
pub fn expected_datagen(pool: &FillerPool, seed: u64, generator: u32, seq: u64) -> (String, Value) {
    let r = DatagenRecord::generate(seed, generator, seq, pool);
    let value = json!({
        "generator": r.generator,
        "seq": r.seq,
        "customer": r.customer,
        "amount_cents": r.amount_cents,
        "status": r.status,
        "note": r.note,
        "payload": r.payload.as_str(),
    });
    (r.customer_key(), value)
}

/// Checks one consumed datagen record (key, decoded value, timestamp) against the generator.
pub fn check_datagen_record(pool: &FillerPool, seed: u64, key: Option<&[u8]>, value: &Value, timestamp: Option<i64>) {
    let g = value["generator"].as_u64().expect("generator") as u32;
    let seq = value["seq"].as_u64().expect("seq");
    let (expected_key, expected) = expected_datagen(pool, seed, g, seq);
    let mut got = value.clone();
    let event_time = got.as_object_mut().and_then(|o| o.remove("event_time")).and_then(|t| t.as_i64());
    assert_eq!(got, expected, "generator {g} seq {seq}");
    assert_eq!(key.map(|k| String::from_utf8_lossy(k).into_owned()), Some(expected_key), "key of {g}/{seq}");
    let event_time = event_time.expect("event_time is a long");
    assert!(event_time > 1_600_000_000_000, "event_time {event_time} is a recent epoch-millis time");
    if let Some(ts) = timestamp {
        assert_eq!(ts, event_time, "the Kafka timestamp is the record's event time");
    }
}

/// Asserts that each generator's seqs are exactly `0..count`, each once.
pub fn assert_exactly(by_generator: &BTreeMap<i64, Vec<i64>>, generators: i64, count: i64) {
    assert_eq!(by_generator.keys().copied().collect::<Vec<_>>(), (0..generators).collect::<Vec<_>>());
    for (g, seqs) in by_generator {
        let expected: Vec<i64> = (0..count).collect();
        if *seqs != expected {
            let missing: Vec<i64> = expected.iter().filter(|s| seqs.binary_search(s).is_err()).copied().collect();
            let mut dups = seqs.clone();
            dups.dedup();
            panic!(
                "generator {g}: {} records, expected {count}; missing {:?}; {} duplicate(s)",
                seqs.len(),
                &missing[..missing.len().min(20)],
                seqs.len() - dups.len()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// External programs.

/// The Python interpreter of the test environment, or `None` when there is none.
pub fn python() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("TRIBUTARY_PYTHON") {
        return Some(PathBuf::from(path));
    }
    let venv = repo().join(".venv/bin/python");
    venv.exists().then_some(venv)
}

/// `python()`, or a loud skip (`TRIBUTARY_SKIP_PYTHON=1`), or a failure telling how to set it up.
pub fn python_or_skip(test: &str) -> Option<PathBuf> {
    if let Some(python) = python() {
        return Some(python);
    }
    if std::env::var("TRIBUTARY_SKIP_PYTHON").as_deref() == Ok("1") {
        eprintln!("\n*** SKIPPED: {test} (TRIBUTARY_SKIP_PYTHON=1) ***\n");
        return None;
    }
    panic!(
        "no Python environment for {test}: run `.ci/run` (it creates .venv from tests/python/requirements.txt), \
         set TRIBUTARY_PYTHON to an interpreter with confluent-kafka, or set TRIBUTARY_SKIP_PYTHON=1 to skip"
    );
}

/// Reads `count` datagen records of `topic` with Confluent's Python consumer and
/// `AvroDeserializer` (`tests/python/consume_datagen.py`), trusting `registry_ca` for an https
/// registry: one JSON object per record (`partition`, `offset`, `timestamp`, `key`, `schema_id`,
/// `value`).
pub async fn python_consume_datagen(
    python: &Path,
    bootstrap: &str,
    registry_url: &str,
    topic: &str,
    count: i64,
    registry_ca: Option<&Path>,
) -> Vec<Value> {
    let mut command = tokio::process::Command::new(python);
    command
        .arg(repo().join("tests/python/consume_datagen.py"))
        .args([bootstrap, registry_url, topic, &count.to_string(), "60"])
        .kill_on_drop(true);
    if let Some(ca) = registry_ca {
        command.env("REGISTRY_CA", ca);
    }
    let output = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .expect("the Python consumer finished within 120 s")
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "Python consumer failed ({}):\n{stderr}", output.status);
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Checks what [`python_consume_datagen`] read: every record under `schema_id`, each one what
/// the generator makes for its seq, and each of `generators` holding exactly seqs `0..count`.
pub fn assert_python_read_datagen(lines: &[Value], schema_id: u32, seed: u64, generators: i64, count: i64) {
    assert_eq!(lines.len() as i64, generators * count);
    let pool = FillerPool::new(seed, 500);
    for line in lines {
        assert_eq!(line["schema_id"].as_u64(), Some(u64::from(schema_id)), "{line}");
        let key = line["key"].as_str().map(str::as_bytes);
        check_datagen_record(&pool, seed, key, &line["value"], line["timestamp"].as_i64());
    }
    let values: Vec<Value> = lines.iter().map(|l| l["value"].clone()).collect();
    assert_exactly(&seqs_by_generator(&values), generators, count);
}

/// A file in a fresh temporary directory.
pub fn write_temp(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write temp file");
    path
}

/// The offsets of `connector` in `topic`, read to the end.
pub async fn stored_offsets(bootstrap: &str, topic: &str, connector: &str) -> HashMap<SourcePartition, SourceOffset> {
    let base = tributary::runtime::client_config(bootstrap, &Default::default());
    let topic = topic.to_owned();
    let stored = tokio::task::spawn_blocking(move || {
        tributary::offsets::read_to_end(&base, &topic, Duration::from_secs(60)).expect("offsets topic reads")
    })
    .await
    .expect("reader thread");
    stored.for_connector(connector)
}

/// The committed `seq` of each datagen generator of `connector`.
pub async fn committed_seqs(bootstrap: &str, connector: &str) -> BTreeMap<String, i64> {
    stored_offsets(bootstrap, "tributary-offsets", connector)
        .await
        .into_iter()
        .map(|(p, o)| (p.get_str("generator").expect("generator partition").to_owned(), seq_of(Some(&o)).expect("seq")))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The command line.

/// Output of one finished CLI command.
#[derive(Debug)]
pub struct CliOutput {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `tributary ARGS` to completion (killed and failed after `timeout`), without `RUST_LOG`.
pub fn cli(args: &[&str], timeout: Duration) -> CliOutput {
    use std::io::Read;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("TRIBUTARY_CONFIG")
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the tributary binary starts");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`tributary {}` did not finish within {timeout:?}", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    CliOutput {
        code: status.code(),
        stdout: out.join().expect("stdout reader"),
        stderr: strip_ansi(&err.join().expect("stderr reader")),
    }
}

/// Removes terminal colour sequences from log text.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A `tributary run` child process; killed on drop if still running.
pub struct RunningCli {
    pub child: std::process::Child,
    stderr: Arc<Mutex<String>>,
}

impl RunningCli {
    pub fn start(config: &Path) -> Self {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tributary"))
            .args(["run", "--config"])
            .arg(config)
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the tributary binary starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().expect("stderr");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                let mut s = sink.lock().expect("stderr buffer");
                s.push_str(&strip_ansi(&line));
                s.push('\n');
            }
        });
        Self { child, stderr }
    }

    /// Everything the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr buffer").clone()
    }

    /// Waits until stderr contains `text`; panics (showing stderr) after `timeout` or if the
    /// process exits first.
    pub fn wait_for_log(&mut self, text: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.stderr().contains(text) {
            if let Some(status) = self.child.try_wait().expect("wait") {
                panic!("tributary run exited ({status}) before logging `{text}`:\n{}", self.stderr());
            }
            assert!(Instant::now() < deadline, "no `{text}` within {timeout:?}:\n{}", self.stderr());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `(bootstrap servers, registry url)` from the start-up hint it prints.
    pub fn endpoints(&mut self) -> (String, String) {
        self.wait_for_log("--registry-url", Duration::from_secs(30));
        let text = self.stderr();
        let after = |flag: &str| -> String {
            let start = text.find(flag).unwrap_or_else(|| panic!("no {flag} in:\n{text}")) + flag.len();
            text[start..].split_whitespace().next().expect("a value after the flag").to_owned()
        };
        (after("--bootstrap-servers "), after("--registry-url "))
    }

    /// Sends `signal` (e.g. `TERM`, `INT`) to this child, by its pid.
    pub fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args(["-s", signal, &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -s {signal} failed");
    }

    /// Waits for the process to exit; panics after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                // Let the reader thread catch the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return status;
            }
            assert!(Instant::now() < deadline, "tributary run still running after {timeout:?}:\n{}", self.stderr());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for RunningCli {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A config file for `tributary run` in `dir`: embedded broker and registry, the repository's
/// schemas, no REST API, and `connectors` (YAML list items).
pub fn run_config(dir: &Path, connectors: &str) -> PathBuf {
    let text = format!(
        r#"kafka:
  bootstrap_servers: embedded
  offsets: {{flush_interval: 300ms}}
schema_registry: {{url: embedded}}
schemas_dir: {schemas}
api: {{enabled: false}}
logging: {{level: info}}
connectors:
{connectors}
"#,
        schemas = repo().join("schemas").display()
    );
    write_temp(dir, "config.yaml", &text)
}

/// The id of the latest schema under `subject`, once a connector has registered it.
pub async fn registered_id(registry_url: &str, subject: &str) -> u32 {
    let client = registry(registry_url);
    wait_for(Duration::from_secs(30), &format!("a schema under `{subject}`"), || {
        let client = client.clone();
        async move { client.latest(subject).await.ok().map(|v| v.id) }
    })
    .await
}

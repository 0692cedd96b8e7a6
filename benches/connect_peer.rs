//! Kafka Connect and Tributary side by side, on one real Apache Kafka broker.
//!
//! `cargo bench --bench connect_peer [-- --rounds N --sizes 1,10,100 --seconds S --warmup W --cap R --cap-from C]`
//! (`--only connect|tributary` runs one side, no comparison; `--record-bytes N` skips matching
//! Connect's value size.)
//!
//! * **connect**: a Kafka Connect 4.3.0 worker in distributed mode (`scripts/kafka-connect.sh run`,
//!   with the heap and JVM options of Kafka's own `connect-distributed.sh`), running N
//!   `SchemaSourceConnector`s of Kafka's test plugins (one task each) with the stock
//!   `JsonConverter` (schemas on); the connector prints a line per record, which goes to /dev/null.
//!   The connectors are created through the REST API as soon as it answers.
//! * **tributary**: the binary built with the bench's profile (`tributary run`) with N `datagen`
//!   connectors (one generator each), Avro through the embedded registry, `record_bytes` set so
//!   that its values are as large as Connect's (measured on Connect's first run, then checked on
//!   every run).
//!
//! Both write to the same broker (`scripts/kafka-broker.sh` through `tributary_test_support::broker`,
//! 1 GiB of heap), one topic of one partition per connector, fresh topics for every run, with the
//! same explicit producer settings ([`PRODUCER`], [`BUFFER_BYTES`]). At `--cap-from` connectors
//! or more, each connector is held to `--cap` records/s on both sides; below that they run
//! unthrottled.
//!
//! Per run: start-up (process launch to a first record in every topic, from the topics' end
//! offsets), a warm-up, then a window of `--seconds`: records/s from the sum of the topics' end
//! offsets; CPU per record from the process's utime + stime (`/proc/PID/stat`), and the same for
//! the broker; RSS (`VmRSS`) at the end of the window; the CPU other processes of the machine
//! took meanwhile; where the process's CPU went, by thread name. The sides alternate within each
//! size, the first side swapping from round to round; the table gives medians of rounds and the
//! median of each round's Tributary/Connect ratio. Every process is stopped by pid (also on a
//! panic), and the whole run is bounded in time.
//!
//! Run without `--bench` (as `cargo test --all-targets` does) it is a quick smoke run: one
//! connector, one round, short windows.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use serde_json::json;

use tributary_test_support::{
    broker::{Broker, Listeners},
    procfs::{clock_ticks_per_second, cpu_seconds, parse_stat, status_kib},
    services::{free_port, spawn_kept, tail, terminate},
    workspace,
};

/// Connect's test source closest to datagen: typed records (a `Struct` with a schema).
const CONNECT_CLASS: &str = "org.apache.kafka.connect.tools.SchemaSourceConnector";
/// What Kafka's `connect-distributed.sh` gives a worker (`KAFKA_HEAP_OPTS` and
/// `KAFKA_JVM_PERFORMANCE_OPTS`); the script adds `-Xmx` from `CONNECT_HEAP`.
const CONNECT_HEAP: &str = "2g";
const CONNECT_JVM_OPTS: &str = "-Xms256m -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
     -XX:+ExplicitGCInvokesConcurrent";
const BROKER_HEAP: &str = "1g";

/// Producer settings of both sides, by their Java names (librdkafka accepts the same names for
/// these). Connect's own defaults for a source task's producer are `acks=all`,
/// `enable.idempotence=false` and one request in flight: both are overridden here.
const PRODUCER: &[(&str, &str)] = &[
    ("acks", "all"),
    ("enable.idempotence", "true"),
    ("linger.ms", "5"),
    ("compression.type", "none"),
    // Java's default is 16 KiB, librdkafka's 1 MB; the Java producer allocates whole batches of
    // this size, so the common value stays moderate.
    ("batch.size", "65536"),
    ("max.in.flight.requests.per.connection", "5"),
];
/// The bound on records waiting in a producer: Java's `buffer.memory` default (32 MiB), given to
/// librdkafka as `queue.buffering.max.kbytes`.
const BUFFER_BYTES: u64 = 32 * 1024 * 1024;
/// How often both sides commit source offsets (Tributary's default).
const OFFSET_FLUSH: Duration = Duration::from_secs(5);

const START_TIMEOUT: Duration = Duration::from_secs(300);
const STOP_GRACE: Duration = Duration::from_secs(30);
const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Arguments.

struct Args {
    rounds: usize,
    sizes: Vec<usize>,
    seconds: u64,
    warmup: u64,
    /// Records/s per connector at `cap_from` connectors or more; 0: never capped.
    cap: u64,
    cap_from: usize,
    /// datagen's `record_bytes`, instead of matching Connect's value size.
    record_bytes: Option<usize>,
    /// One side only, no comparison (for profiling).
    only: Option<Side>,
}

impl Args {
    fn parse() -> Args {
        let mut args = Args {
            rounds: 2,
            sizes: vec![1, 10, 100],
            seconds: 20,
            warmup: 15,
            cap: 100,
            cap_from: 100,
            record_bytes: None,
            only: None,
        };
        let mut full = false;
        let mut it = std::env::args().skip(1);
        while let Some(a) = it.next() {
            let mut value = || it.next().unwrap_or_else(|| panic!("a value after {a}"));
            let number = |v: String| -> u64 { v.parse().unwrap_or_else(|_| panic!("not a number: {v}")) };
            match a.as_str() {
                "--bench" => full = true,
                "--rounds" => args.rounds = number(value()) as usize,
                "--seconds" => args.seconds = number(value()),
                "--warmup" => args.warmup = number(value()),
                "--cap" => args.cap = number(value()),
                "--cap-from" => args.cap_from = number(value()) as usize,
                "--record-bytes" => args.record_bytes = Some(number(value()) as usize),
                "--only" => {
                    args.only = match value().as_str() {
                        "connect" => Some(Side::Connect),
                        "tributary" => Some(Side::Tributary),
                        other => panic!("--only connect or --only tributary, not {other}"),
                    }
                }
                "--sizes" => {
                    args.sizes = value().split(',').map(|s| number(s.trim().to_owned()) as usize).collect();
                }
                _ => {}
            }
        }
        if !full {
            // `cargo test --all-targets`: prove it runs, quickly.
            (args.rounds, args.sizes, args.seconds, args.warmup) = (1, vec![1], 2, 1);
        }
        assert!(args.rounds > 0 && args.seconds > 0, "--rounds and --seconds must be positive");
        assert!(args.sizes.iter().all(|&n| n > 0), "--sizes must be positive");
        args
    }

    /// The per-connector cap for `n` connectors.
    fn cap_for(&self, n: usize) -> Option<u64> {
        (self.cap > 0 && n >= self.cap_from).then_some(self.cap)
    }

    /// A bound on the whole run, in case something hangs where no deadline reaches.
    fn hard_limit(&self) -> Duration {
        let per_run = START_TIMEOUT + STOP_GRACE * 2 + Duration::from_secs(self.warmup + self.seconds + 120);
        per_run * (self.rounds * self.sizes.len() * 2 + 1) as u32
    }
}

// ---------------------------------------------------------------------------------------------
// Processes and /proc.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Side {
    Connect,
    Tributary,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Connect => "connect",
            Side::Tributary => "tributary",
        }
    }
}

/// A child process, stopped (SIGTERM, then SIGKILL after [`STOP_GRACE`]) when dropped, also when
/// the bench panics; it is spawned with a parent-death signal, so it also ends with the bench.
struct Service {
    child: Child,
    name: &'static str,
    log: PathBuf,
}

impl Service {
    fn spawn(mut command: Command, name: &'static str, log: PathBuf) -> Service {
        let out = std::fs::File::create(&log).expect("log file");
        command.stdin(Stdio::null()).stderr(out);
        let child = spawn_kept(command).unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Service { child, name, log }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Panics with the end of its logs when the process has exited.
    fn check_alive(&mut self, extra_log: Option<&Path>) {
        if let Ok(Some(status)) = self.child.try_wait() {
            let mut text = tail(&self.log, 30);
            if let Some(extra) = extra_log {
                text.push_str(&tail(extra, 40));
            }
            panic!("{} exited ({status}) during the run:\n{text}", self.name);
        }
    }

    /// Stops it; the time from SIGTERM to exit.
    fn stop(mut self) -> Duration {
        let start = Instant::now();
        terminate(&mut self.child, STOP_GRACE);
        start.elapsed()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        terminate(&mut self.child, STOP_GRACE);
    }
}

/// Checks, in the worker's log, that a source task's producer got [`PRODUCER`] and the buffer.
fn check_connect_producer(log: &Path) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let settings: HashMap<&str, &str> = text
        .split("ProducerConfig values:")
        .skip(1)
        .map(|block| {
            let lines = block.lines().skip(1).take_while(|l| l.starts_with('\t'));
            lines.filter_map(|l| l.trim().split_once(" = ")).collect::<HashMap<_, _>>()
        })
        .find(|m| m.get("client.id").is_some_and(|id| id.starts_with("connector-producer-")))
        .unwrap_or_else(|| panic!("no source task producer's settings in {}", log.display()));
    let buffer = BUFFER_BYTES.to_string();
    let wanted = PRODUCER.iter().copied().chain([("buffer.memory", buffer.as_str())]);
    for (key, value) in wanted {
        // Java logs acks=all as -1.
        let value = if (key, value) == ("acks", "all") { "-1" } else { value };
        assert_eq!(settings.get(key).copied(), Some(value), "Connect's task producer: {key}");
    }
}

/// CPU seconds of a process's threads, grouped by thread name without its trailing number
/// (`rdk:broker1` and `rdk:broker-1` → `rdk:broker`, `task-thread-c12-` → `task-thread-c`).
fn thread_cpu(pid: u32) -> HashMap<String, f64> {
    let mut groups = HashMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return groups };
    for task in tasks.flatten() {
        let path = task.path();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        let group = name.trim_end().trim_end_matches(|c: char| c.is_ascii_digit() || "#-_ ".contains(c)).to_owned();
        let stat = std::fs::read_to_string(path.join("stat")).unwrap_or_default();
        let ticks = parse_stat(&stat).map_or(0, |(_, ticks)| ticks);
        *groups.entry(group).or_insert(0.0) += ticks as f64 / clock_ticks_per_second();
    }
    groups
}

/// The thread groups that took the most CPU between two [`thread_cpu`] readings, as shares.
fn top_threads(before: &HashMap<String, f64>, after: &HashMap<String, f64>, n: usize) -> String {
    let mut deltas: Vec<(&String, f64)> =
        after.iter().map(|(k, v)| (k, v - before.get(k).copied().unwrap_or(0.0))).collect();
    let total: f64 = deltas.iter().map(|(_, d)| d.max(0.0)).sum();
    deltas.sort_by(|a, b| b.1.total_cmp(&a.1));
    let shown: Vec<String> =
        deltas.iter().take(n).map(|(k, d)| format!("{k} {:.0}%", 100.0 * d / total.max(f64::MIN_POSITIVE))).collect();
    shown.join(", ")
}

/// Busy time of the whole machine (all CPUs), in seconds.
fn machine_busy_seconds() -> f64 {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let line = text.lines().find(|l| l.starts_with("cpu ")).unwrap_or_default();
    let ticks: Vec<u64> = line.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let busy: u64 = ticks.iter().take(8).enumerate().filter(|(i, _)| *i != 3 && *i != 4).map(|(_, t)| t).sum();
    busy as f64 / clock_ticks_per_second()
}

fn load_average() -> f64 {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().next().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN)
}

/// The broker JVM: a child of this process running `kafka.Kafka`.
fn find_broker_pid() -> u32 {
    let me = std::process::id().to_string();
    let entries = std::fs::read_dir("/proc").expect("/proc");
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let parent = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1).map(str::to_owned));
        if parent.as_deref() != Some(me.as_str()) {
            continue;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains("kafka.Kafka") {
            return pid;
        }
    }
    panic!("the broker JVM is not among this process's children");
}

// ---------------------------------------------------------------------------------------------
// The bench's own view of Kafka and of Connect's REST API.

struct Bench {
    args: Args,
    rt: tokio::runtime::Runtime,
    broker: Broker,
    broker_pid: u32,
    admin: AdminClient<DefaultClientContext>,
    offsets: BaseConsumer,
    http: reqwest::Client,
    work: tempfile::TempDir,
    runs: usize,
    /// datagen's `record_bytes`, once Connect's value size is known.
    record_bytes: Option<usize>,
}

#[derive(Clone, Debug, Default)]
struct Measure {
    rate: f64,
    /// The slowest connector's records/s in the window.
    slowest: f64,
    cpu_us: f64,
    broker_cpu_us: f64,
    rss_mib: f64,
    startup_s: f64,
    stop_s: f64,
    /// Cores busy with processes other than this bench, the side measured and the broker.
    others: f64,
    /// Where the process's CPU went in the window, by thread group.
    threads: String,
    value_bytes: f64,
    key_bytes: f64,
    /// The 1-minute load average before launch.
    load: f64,
}

impl Bench {
    fn bootstrap(&self) -> String {
        self.broker.bootstrap()
    }

    /// Creates the topics and waits until their end offsets can be read, with a fresh client (one
    /// that asked for a topic before it existed may keep it unknown for a while).
    fn create_topics(&mut self, names: &[String]) {
        let topics: Vec<NewTopic> = names.iter().map(|n| NewTopic::new(n, 1, TopicReplication::Fixed(1))).collect();
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(60)));
        let results = self
            .rt
            .block_on(self.admin.create_topics(&topics, &options))
            .unwrap_or_else(|e| panic!("create topics: {e}"));
        for r in results {
            if let Err((topic, e)) = r {
                panic!("cannot create {topic}: {e}");
            }
        }
        self.offsets = offsets_consumer(&self.bootstrap());
        self.end_offsets_retried(names);
    }

    /// Deletes topics; failures are reported, not fatal (the broker goes away at the end anyway).
    fn delete_topics(&self, names: &[String]) {
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(60)));
        match self.rt.block_on(self.admin.delete_topics(&refs, &options)) {
            Ok(results) => {
                for r in results {
                    if let Err((topic, e)) = r {
                        eprintln!("note: cannot delete {topic}: {e}");
                    }
                }
            }
            Err(e) => eprintln!("note: deleting topics failed: {e}"),
        }
    }

    /// End offsets of partition 0 of each topic, in the order given (one ListOffsets request).
    fn end_offsets(&self, topics: &[String]) -> Result<Vec<i64>, String> {
        let mut tpl = TopicPartitionList::new();
        for t in topics {
            tpl.add_partition_offset(t, 0, Offset::End).map_err(|e| e.to_string())?;
        }
        let answer = self.offsets.offsets_for_times(tpl, QUERY_TIMEOUT).map_err(|e| e.to_string())?;
        let mut by_topic = HashMap::new();
        for e in answer.elements() {
            if let Err(err) = e.error() {
                return Err(format!("{}: {err}", e.topic()));
            }
            match e.offset() {
                Offset::Offset(n) => by_topic.insert(e.topic().to_owned(), n),
                other => return Err(format!("{}: no end offset ({other:?})", e.topic())),
            };
        }
        topics.iter().map(|t| by_topic.get(t).copied().ok_or_else(|| format!("{t}: not in the answer"))).collect()
    }

    /// [`Bench::end_offsets`], retried for up to a minute.
    fn end_offsets_retried(&self, topics: &[String]) -> Vec<i64> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match self.end_offsets(topics) {
                Ok(ends) => return ends,
                Err(e) if Instant::now() > deadline => panic!("end offsets: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Average value and key sizes of the last `per_topic` records of (up to) the first four topics.
    fn sample_sizes(&self, topics: &[String], per_topic: i64) -> (f64, f64) {
        let topics = &topics[..topics.len().min(4)];
        let ends = self.end_offsets_retried(topics);
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .set("group.id", "connect-peer-sizes")
            .set("enable.auto.commit", "false")
            .create()
            .expect("sampling consumer");
        let mut tpl = TopicPartitionList::new();
        let mut wanted = 0;
        for (t, &end) in topics.iter().zip(&ends) {
            let from = (end - per_topic).max(0);
            wanted += end - from;
            tpl.add_partition_offset(t, 0, Offset::Offset(from)).expect("partition list");
        }
        consumer.assign(&tpl).unwrap_or_else(|e| panic!("assign: {e}"));
        let (mut values, mut keys, mut count) = (0usize, 0usize, 0i64);
        let deadline = Instant::now() + Duration::from_secs(20);
        while count < wanted && Instant::now() < deadline {
            match consumer.poll(Duration::from_millis(200)) {
                Some(Ok(m)) => {
                    values += m.payload().map_or(0, <[u8]>::len);
                    keys += m.key().map_or(0, <[u8]>::len);
                    count += 1;
                }
                Some(Err(e)) => eprintln!("note: sampling: {e}"),
                None => {}
            }
        }
        assert!(count > 0, "no records to measure in {topics:?}");
        (values as f64 / count as f64, keys as f64 / count as f64)
    }

    /// One HTTP request to Connect's REST API: status and body.
    fn http(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<(u16, String), String> {
        self.rt.block_on(async {
            let mut request = self.http.request(method, url);
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request.send().await.map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            let text = response.text().await.map_err(|e| e.to_string())?;
            Ok((status, text))
        })
    }

    // -----------------------------------------------------------------------------------------
    // Launching each side.

    fn launch_connect(&self, id: usize, dir: &Path, topics: &[String], cap: Option<u64>) -> (Service, Vec<String>) {
        let port = free_port();
        let internal =
            vec![format!("p{id}-connect-offsets"), format!("p{id}-connect-configs"), format!("p{id}-connect-status")];
        let mut extra = String::new();
        for (key, value) in PRODUCER {
            let _ = writeln!(extra, "producer.{key}={value}");
        }
        let _ = writeln!(extra, "producer.buffer.memory={BUFFER_BYTES}");
        let _ = writeln!(extra, "offset.flush.interval.ms={}", OFFSET_FLUSH.as_millis());
        let mut command = Command::new("bash");
        command
            .arg(workspace().join("scripts/kafka-connect.sh"))
            .arg("run")
            .arg(dir.join("state"))
            .env("CONNECT_BOOTSTRAP", self.bootstrap())
            .env("CONNECT_REST_PORT", port.to_string())
            .env("CONNECT_GROUP", format!("p{id}-connect"))
            .env("CONNECT_OFFSETS_TOPIC", &internal[0])
            .env("CONNECT_CONFIGS_TOPIC", &internal[1])
            .env("CONNECT_STATUS_TOPIC", &internal[2])
            .env("CONNECT_HEAP", CONNECT_HEAP)
            .env("CONNECT_JVM_OPTS", CONNECT_JVM_OPTS)
            .env("CONNECT_EXTRA_PROPERTIES", extra)
            // A line per record from the test connector.
            .stdout(Stdio::null());
        let mut service = Service::spawn(command, "the Connect worker", dir.join("run.err"));
        let worker_log = dir.join("state/connect.log");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            service.check_alive(Some(&worker_log));
            if matches!(self.http(reqwest::Method::GET, &format!("{base}/connectors"), None), Ok((200, _))) {
                break;
            }
            assert!(Instant::now() < deadline, "Connect's REST API did not answer in time:\n{}", tail(&worker_log, 40));
            std::thread::sleep(Duration::from_millis(50));
        }
        let throughput = cap.map_or(-1, |c| c as i64).to_string();
        for (i, topic) in topics.iter().enumerate() {
            let body = json!({
                "name": format!("c{i}"),
                "config": {
                    "connector.class": CONNECT_CLASS,
                    "tasks.max": "1",
                    "topic": topic,
                    "num.messages": i64::MAX.to_string(),
                    "throughput": throughput,
                    "multiple.schema": "false",
                    "partition.count": "1",
                }
            });
            loop {
                service.check_alive(Some(&worker_log));
                match self.http(reqwest::Method::POST, &format!("{base}/connectors"), Some(&body)) {
                    Ok((201, _)) => break,
                    // A rebalance in progress, or the worker not yet caught up with its config topic.
                    Ok((409 | 500 | 503, _)) | Err(_) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(50))
                    }
                    other => panic!("creating connector c{i}: {other:?}\n{}", tail(&worker_log, 40)),
                }
            }
        }
        (service, internal)
    }

    fn launch_tributary(
        &self,
        id: usize,
        dir: &Path,
        topics: &[String],
        rate: Option<u64>,
        count: Option<u64>,
    ) -> (Service, Vec<String>) {
        let record_bytes = self.record_bytes.expect("record_bytes is calibrated before Tributary runs");
        let offsets_topic = format!("p{id}-offsets");
        let mut producer: Vec<String> = PRODUCER.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        producer.push(format!("queue.buffering.max.kbytes: {}", BUFFER_BYTES / 1024));
        let mut yaml = format!(
            "kafka:\n  bootstrap_servers: {}\n  producer: {{{}}}\n  offsets: {{topic: {offsets_topic}, flush_interval: {}s}}\n\
             schema_registry: {{url: embedded}}\nschemas_dir: {}\napi: {{enabled: false}}\nlogging: {{level: warn}}\n\
             connectors:\n",
            self.bootstrap(),
            producer.join(", "),
            OFFSET_FLUSH.as_secs(),
            workspace().join("schemas").display()
        );
        for (i, topic) in topics.iter().enumerate() {
            let mut extra = String::new();
            if let Some(rate) = rate {
                let _ = write!(extra, ", rate: {rate}");
            }
            if let Some(count) = count {
                let _ = write!(extra, ", count: {count}");
            }
            let _ = writeln!(
                yaml,
                "  - {{name: c{i}, class: datagen, topic: {topic}, record_bytes: {record_bytes}, seed: 1{extra}}}"
            );
        }
        let config = dir.join("tributary.yaml");
        std::fs::write(&config, yaml).expect("write the config");
        let mut command = Command::new(env!("CARGO_BIN_EXE_tributary"));
        command.arg("run").arg("--config").arg(&config).env_remove("RUST_LOG").stdout(Stdio::null());
        (Service::spawn(command, "tributary", dir.join("run.err")), vec![offsets_topic])
    }

    // -----------------------------------------------------------------------------------------
    // One run.

    fn run(&mut self, side: Side, n: usize) -> Measure {
        self.runs += 1;
        let id = self.runs;
        let cap = self.args.cap_for(n);
        let topics: Vec<String> = (0..n).map(|i| format!("p{id}-{i}")).collect();
        let dir = self.work.path().join(format!("run-{id}-{}", side.name()));
        std::fs::create_dir_all(&dir).expect("run folder");
        self.create_topics(&topics);
        let load_before = load_average();

        let launched = Instant::now();
        let (mut service, internal) = match side {
            Side::Connect => self.launch_connect(id, &dir, &topics, cap),
            Side::Tributary => self.launch_tributary(id, &dir, &topics, cap, None),
        };
        let worker_log = (side == Side::Connect).then(|| dir.join("state/connect.log"));
        let deadline = launched + START_TIMEOUT;
        loop {
            service.check_alive(worker_log.as_deref());
            if let Ok(ends) = self.end_offsets(&topics)
                && ends.iter().all(|&e| e > 0)
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{}: not every connector wrote a record within {START_TIMEOUT:?}",
                side.name()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let startup = launched.elapsed();

        self.watch(&mut service, worker_log.as_deref(), Duration::from_secs(self.args.warmup));
        let pid = service.pid();
        let ends0 = self.end_offsets_retried(&topics);
        let me = std::process::id();
        let (cpu0, broker0, own0, busy0) =
            (cpu_seconds(pid), cpu_seconds(self.broker_pid), cpu_seconds(me), machine_busy_seconds());
        let threads0 = thread_cpu(pid);
        let t0 = Instant::now();
        self.watch(&mut service, worker_log.as_deref(), Duration::from_secs(self.args.seconds));
        let ends1 = self.end_offsets_retried(&topics);
        let (cpu1, broker1, own1, busy1) =
            (cpu_seconds(pid), cpu_seconds(self.broker_pid), cpu_seconds(me), machine_busy_seconds());
        let elapsed = t0.elapsed().as_secs_f64();
        let threads = top_threads(&threads0, &thread_cpu(pid), 4);
        let others = ((busy1 - busy0) - (cpu1 - cpu0) - (broker1 - broker0) - (own1 - own0)) / elapsed;
        let rss = status_kib(pid, "VmRSS").unwrap_or(0);
        service.check_alive(worker_log.as_deref());

        let deltas: Vec<i64> = ends0.iter().zip(&ends1).map(|(a, b)| b - a).collect();
        let records = deltas.iter().sum::<i64>().max(1) as f64;
        let slowest = deltas.iter().copied().min().unwrap_or(0) as f64 / elapsed;
        if let Some(log) = &worker_log {
            check_connect_producer(log);
        }
        let (value_bytes, key_bytes) = self.sample_sizes(&topics, 200);
        let stop = service.stop();
        self.delete_topics(&[topics, internal].concat());
        Measure {
            rate: records / elapsed,
            slowest,
            cpu_us: (cpu1 - cpu0) * 1e6 / records,
            broker_cpu_us: (broker1 - broker0) * 1e6 / records,
            rss_mib: rss as f64 / 1024.0,
            startup_s: startup.as_secs_f64(),
            stop_s: stop.as_secs_f64(),
            others: others.max(0.0),
            threads,
            value_bytes,
            key_bytes,
            load: load_before,
        }
    }

    /// Sleeps for `span`, checking every second that the process still runs.
    fn watch(&self, service: &mut Service, extra_log: Option<&Path>, span: Duration) {
        let end = Instant::now() + span;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            service.check_alive(extra_log);
            std::thread::sleep(left.min(Duration::from_secs(1)));
        }
    }

    /// Sets datagen's `record_bytes` so that its values are `target` bytes on average: a short run
    /// at `record_bytes = target`, then the difference taken off (the encoded size follows
    /// `record_bytes` byte for byte).
    fn calibrate(&mut self, target: f64) {
        const RECORDS: i64 = 2_000;
        let first = target.round() as usize;
        self.record_bytes = Some(first);
        self.runs += 1;
        let id = self.runs;
        let topics = vec![format!("p{id}-calibration")];
        let dir = self.work.path().join(format!("run-{id}-calibration"));
        std::fs::create_dir_all(&dir).expect("run folder");
        self.create_topics(&topics);
        let (mut service, internal) = self.launch_tributary(id, &dir, &topics, None, Some(RECORDS as u64));
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let ends = self.end_offsets(&topics);
            if matches!(ends.as_deref(), Ok([end]) if *end >= RECORDS) {
                break;
            }
            service.check_alive(None);
            assert!(
                Instant::now() < deadline,
                "calibration: datagen did not write {RECORDS} records in time (end offset: {ends:?})\n{}",
                tail(&service.log, 40)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let (got, _) = self.sample_sizes(&topics, RECORDS);
        service.stop();
        self.delete_topics(&[topics, internal].concat());
        let corrected = (first as f64 + target - got).round().max(60.0) as usize;
        println!(
            "datagen record_bytes: {corrected} (Connect's values: {target:.1} bytes on average; record_bytes {first} gave {got:.1})"
        );
        self.record_bytes = Some(corrected);
    }
}

fn offsets_consumer(bootstrap: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "connect-peer-offsets")
        .set("enable.auto.commit", "false")
        .create()
        .expect("offsets consumer")
}

// ---------------------------------------------------------------------------------------------
// Report.

fn median(xs: impl IntoIterator<Item = f64>) -> f64 {
    let mut xs: Vec<f64> = xs.into_iter().collect();
    xs.sort_by(f64::total_cmp);
    match xs.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => xs[n / 2],
        n => (xs[n / 2 - 1] + xs[n / 2]) / 2.0,
    }
}

fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn print_run(round: usize, n: usize, side: Side, m: &Measure) {
    println!(
        "round {round} size {n:>3} {:<9} {:>9} rec/s (slowest connector {:>7})  CPU {:>6.2} us/rec  broker {:>5.2} us/rec  \
         RSS {:>7.1} MiB  start-up {:>6.2} s  stop {:>5.2} s  value {:>5.1} B  key {:>4.1} B  others {:.2} cores  load {:.2}",
        side.name(),
        thousands(m.rate),
        thousands(m.slowest),
        m.cpu_us,
        m.broker_cpu_us,
        m.rss_mib,
        m.startup_s,
        m.stop_s,
        m.value_bytes,
        m.key_bytes,
        m.others,
        m.load
    );
    println!("    threads: {}", m.threads);
}

fn report(args: &Args, results: &[(usize, Vec<(Measure, Measure)>)]) {
    println!();
    println!(
        "Medians of {} round(s); ratio = Tributary/Connect, the median of each round's ratio; window {} s after {} s of warm-up.",
        args.rounds, args.seconds, args.warmup
    );
    println!();
    println!(
        "| connectors | throughput cap | Connect rec/s | Tributary rec/s | ratio | Connect CPU µs/rec | Tributary CPU µs/rec | ratio \
         | Connect RSS MiB | Tributary RSS MiB | ratio | Connect start-up s | Tributary start-up s | ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (n, pairs) in results {
        let cap = match args.cap_for(*n) {
            Some(c) => format!("{c}/s each ({} total)", thousands(c as f64 * *n as f64)),
            None => "none".to_owned(),
        };
        let c = |f: fn(&Measure) -> f64| median(pairs.iter().map(|(c, _)| f(c)));
        let t = |f: fn(&Measure) -> f64| median(pairs.iter().map(|(_, t)| f(t)));
        let r = |f: fn(&Measure) -> f64| median(pairs.iter().map(|(c, t)| f(t) / f(c)));
        println!(
            "| {n} | {cap} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} |",
            thousands(c(|m| m.rate)),
            thousands(t(|m| m.rate)),
            r(|m| m.rate),
            c(|m| m.cpu_us),
            t(|m| m.cpu_us),
            r(|m| m.cpu_us),
            c(|m| m.rss_mib),
            t(|m| m.rss_mib),
            r(|m| m.rss_mib),
            c(|m| m.startup_s),
            t(|m| m.startup_s),
            r(|m| m.startup_s),
        );
    }
    println!();
    println!(
        "| connectors | broker CPU µs/rec, Connect | broker CPU µs/rec, Tributary | value bytes, Connect | value bytes, Tributary \
         | key bytes, Connect | key bytes, Tributary | slowest connector rec/s, Connect | slowest, Tributary | stop s, Connect | stop s, Tributary \
         | other processes, cores | load before runs |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (n, pairs) in results {
        let c = |f: fn(&Measure) -> f64| median(pairs.iter().map(|(c, _)| f(c)));
        let t = |f: fn(&Measure) -> f64| median(pairs.iter().map(|(_, t)| f(t)));
        let range = |f: fn(&Measure) -> f64| {
            let all = pairs.iter().flat_map(|(c, t)| [f(c), f(t)]);
            let (lo, hi) = all.fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(x), hi.max(x)));
            format!("{lo:.1}–{hi:.1}")
        };
        println!(
            "| {n} | {:.2} | {:.2} | {:.0} | {:.0} | {:.0} | {:.0} | {} | {} | {:.2} | {:.2} | {} | {} |",
            c(|m| m.broker_cpu_us),
            t(|m| m.broker_cpu_us),
            c(|m| m.value_bytes),
            t(|m| m.value_bytes),
            c(|m| m.key_bytes),
            t(|m| m.key_bytes),
            thousands(c(|m| m.slowest)),
            thousands(t(|m| m.slowest)),
            c(|m| m.stop_s),
            t(|m| m.stop_s),
            range(|m| m.others),
            range(|m| m.load),
        );
    }
}

// ---------------------------------------------------------------------------------------------

fn main() {
    let args = Args::parse();
    // SAFETY: no other thread runs yet. The broker script reads these from the environment it
    // inherits (`tributary_test_support::broker` passes its own variables only).
    unsafe {
        std::env::set_var("KAFKA_HEAP", BROKER_HEAP);
        std::env::set_var("KAFKA_EXTRA_PROPERTIES", "auto.create.topics.enable=false");
    }
    let limit = args.hard_limit();
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        // The services get SIGTERM from the kernel as this process ends (parent-death signal).
        eprintln!("connect_peer: still running after {limit:?}; giving up");
        std::process::exit(2);
    });

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("tokio");
    let broker = Broker::start(Listeners::Plain);
    let broker_pid = find_broker_pid();
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", broker.bootstrap()).create().expect("admin client");
    let offsets = offsets_consumer(&broker.bootstrap());
    let http = reqwest::Client::builder().no_proxy().timeout(QUERY_TIMEOUT).build().expect("http client");
    let work = tempfile::Builder::new().prefix("tributary-connect-peer-").tempdir().expect("temp dir");
    let record_bytes = args.record_bytes;
    let mut bench = Bench { args, rt, broker, broker_pid, admin, offsets, http, work, runs: 0, record_bytes };

    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    println!(
        "connect_peer: sizes {:?}, {} round(s), {} s warm-up + {} s window per run, {cpus} CPU(s), broker {} (heap {BROKER_HEAP}), load {:.2}",
        bench.args.sizes,
        bench.args.rounds,
        bench.args.warmup,
        bench.args.seconds,
        bench.bootstrap(),
        load_average()
    );
    if let Some(side) = bench.args.only {
        if side == Side::Tributary && bench.record_bytes.is_none() {
            bench.record_bytes = Some(600);
        }
        for round in 1..=bench.args.rounds {
            for n in bench.args.sizes.clone() {
                let m = bench.run(side, n);
                print_run(round, n, side, &m);
            }
        }
        return;
    }
    let mut results: Vec<(usize, Vec<(Measure, Measure)>)> =
        bench.args.sizes.iter().map(|&n| (n, Vec::new())).collect();
    for round in 1..=bench.args.rounds {
        for (n, pairs) in results.iter_mut() {
            let order =
                if round % 2 == 1 { [Side::Connect, Side::Tributary] } else { [Side::Tributary, Side::Connect] };
            let (mut connect, mut tributary) = (None, None);
            for side in order {
                if side == Side::Tributary && bench.record_bytes.is_none() {
                    // Only before the very first Tributary run, which always follows a Connect run.
                    let target = connect.as_ref().map(|m: &Measure| m.value_bytes).expect("Connect ran first");
                    bench.calibrate(target);
                }
                let m = bench.run(side, *n);
                print_run(round, *n, side, &m);
                match side {
                    Side::Connect => connect = Some(m),
                    Side::Tributary => tributary = Some(m),
                }
            }
            pairs.push((connect.expect("connect ran"), tributary.expect("tributary ran")));
        }
    }
    report(&bench.args, &results);
    println!("\nload average at the end: {:.2}", load_average());
}

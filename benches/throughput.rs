//! Tributary against raw rdkafka on the embedded broker: throughput side by side, and peak memory
//! with 100k records in flight.
//!
//! `cargo bench --bench throughput [-- --records N --rounds R --in-flight M]`
//!
//! * **raw**: a `ThreadedProducer` with Tributary's producer properties (idempotence, `acks=all`,
//!   `linger.ms=5`, `murmur2_random`) sends pre-encoded datagen values (the same bytes Tributary
//!   writes, Confluent-framed Avro of ~500 bytes, cycled from a pool of 10k) with their keys and
//!   timestamps, pipelined, back-pressured on a full queue; the clock stops at the last ack.
//! * **tributary**: the `datagen` connector run by the runtime's instance path (tasks → bounded
//!   channel → Avro encode → in-order ack tracking → the instance's producer), as fast as possible;
//!   the clock runs from the moment its tasks start until the ack tracker has seen every record.
//!
//! Each side gets a fresh single-broker mock cluster (3 partitions) per round; rounds alternate.
//! Memory is measured in child processes (one per side, so peaks do not mix): the broker is taken
//! down until 100k records wait in librdkafka's queue (its default `queue.buffering.max.messages`),
//! then brought back; each child reports RSS at the plateau and its peak (`VmHWM`).
//!
//! Run without `--bench` (as `cargo test --all-targets` does) it is a quick smoke run.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tributary::api::RecordValue;
use tributary::avro::{Encoder, EncoderOptions};
use tributary::config::ConnectorConfig;
use tributary::datagen::{DatagenRecord, FillerPool, SCHEMA};
use tributary::instance::{self, Control, LiveView};
use tributary::kafka::EmbeddedKafka;
use tributary::offsets::AckTracker;
use tributary::runtime::Runtime;
use tributary_test_support::{
    datagen::datagen_plugins,
    procfs::{self, status_kib},
    runtime::config,
};

/// The binary's allocator, for both sides (it is process-wide).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SEED: u64 = 1;
const RECORD_BYTES: usize = 500;
const POOL: usize = 10_000;
/// librdkafka's default `queue.buffering.max.messages`.
const QUEUE: usize = 100_000;
/// `kafka.buffer_memory` of the broker-outage runs.
const BUDGET: u64 = 32 << 20;

/// `kafka.connector_buffer_memory` of Tributary's runs, when `--connector-buffer` sets it.
static CONNECTOR_BUFFER: std::sync::OnceLock<u64> = std::sync::OnceLock::new();

fn config_text(queue: usize, connectors: &str) -> String {
    let bound = CONNECTOR_BUFFER.get().map(|b| format!(", connector_buffer_memory: {b}")).unwrap_or_default();
    format!(
        "kafka: {{bootstrap_servers: embedded, producer: {{queue.buffering.max.messages: {queue}}}{bound}}}\n\
         schema_registry: {{url: embedded}}\napi: {{enabled: false}}\nlogging: {{level: warn}}\n\
         connectors:\n{connectors}\n"
    )
}

fn datagen_entry(topic: &str, count: u64, record_bytes: usize) -> ConnectorConfig {
    let text = config_text(
        QUEUE,
        &format!(
            "  - {{name: bench, class: datagen, topic: {topic}, count: {count}, record_bytes: {record_bytes}, seed: {SEED}}}"
        ),
    );
    config(&text).connectors.remove(0)
}

/// `VmRSS` and `VmHWM` of this process, in KiB.
fn memory_kib() -> (u64, u64) {
    let field = |name: &str| status_kib(std::process::id(), name).unwrap_or(0);
    (field("VmRSS"), field("VmHWM"))
}

/// CPU time used by this process so far (all threads, user + system), in seconds.
fn cpu_seconds() -> f64 {
    procfs::cpu_seconds(std::process::id())
}

/// One timed run: records per second, and CPU microseconds per record (all threads).
#[derive(Clone, Copy)]
struct Measure {
    rate: f64,
    cpu_us: f64,
}

impl Measure {
    fn new(records: usize, started: Instant, cpu_at_start: f64) -> Self {
        let n = records as f64;
        Self { rate: n / started.elapsed().as_secs_f64(), cpu_us: (cpu_seconds() - cpu_at_start) * 1e6 / n }
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

// ---------------------------------------------------------------------------------------------
// Raw rdkafka.

struct Counting {
    acked: AtomicU64,
    failed: AtomicU64,
}

impl ClientContext for Counting {}

impl ProducerContext for Counting {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.acked.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.failed.fetch_add(1, Ordering::Relaxed),
        };
    }
}

/// Datagen values encoded by Tributary's own encoder, with their keys and timestamps.
struct Payloads(Vec<(Vec<u8>, Vec<u8>, i64)>);

async fn payloads() -> Payloads {
    let registry = tributary::schema_registry::EmbeddedRegistry::start("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("registry");
    let client = tributary::schema_registry::RegistryClient::new(tributary::schema_registry::RegistryConfig::new(
        registry.url(),
    ))
    .expect("client");
    let schemas = tributary::avro::Schemas::load_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/schemas")).expect("schemas");
    let encoder = Encoder::new(client, Arc::new(schemas), EncoderOptions::default());
    encoder.prepare("bench.raw", SCHEMA).await.expect("prepared");
    let pool = FillerPool::new(SEED, RECORD_BYTES);
    let schema: Arc<str> = SCHEMA.into();
    let mut out = Vec::with_capacity(POOL);
    for seq in 0..POOL as u64 {
        let record = DatagenRecord::generate(SEED, 0, seq, &pool);
        let (key, ts) = (record.key_bytes(), record.event_time);
        let mut value = Vec::new();
        encoder.encode_value(&RecordValue::new(schema.clone(), record), "bench.raw", &mut value).expect("encoded");
        out.push((key, value, ts));
    }
    let _ = registry.shutdown().await;
    Payloads(out)
}

fn raw_producer(bootstrap: &str, queue: usize) -> ThreadedProducer<Counting> {
    tributary::kafka::producer::default_properties(bootstrap, "raw")
        .set("queue.buffering.max.messages", queue.to_string())
        .create_with_context(Counting { acked: AtomicU64::new(0), failed: AtomicU64::new(0) })
        .expect("producer")
}

/// Hands `n` records to the producer, waiting while its queue is full.
fn raw_send(producer: &ThreadedProducer<Counting>, payloads: &Payloads, n: usize) {
    for i in 0..n {
        let (key, value, ts) = &payloads.0[i % payloads.0.len()];
        let mut record = BaseRecord::to("bench.raw").key(&key[..]).payload(&value[..]).timestamp(*ts);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_micros(500));
                }
                Err((e, _)) => panic!("raw send: {e}"),
            }
        }
    }
}

fn wait_acked(ctx: &Counting, n: u64, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while ctx.acked.load(Ordering::Relaxed) < n {
        assert_eq!(ctx.failed.load(Ordering::Relaxed), 0, "raw deliveries failed");
        assert!(Instant::now() < deadline, "raw: {} of {n} acked", ctx.acked.load(Ordering::Relaxed));
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn start_cluster(topic: &str) -> EmbeddedKafka {
    let kafka = EmbeddedKafka::start(1).expect("cluster");
    kafka.create_topic(topic, 3).expect("topic");
    kafka
}

/// Throughput and CPU cost, raw.
fn raw_round(payloads: &Payloads, n: usize) -> Measure {
    let kafka = start_cluster("bench.raw");
    let producer = raw_producer(kafka.bootstrap_servers(), QUEUE);
    // Warm up: metadata and the idempotent producer id, as Tributary has before its tasks start.
    raw_send(&producer, payloads, 1);
    wait_acked(producer.context(), 1, Duration::from_secs(30));
    let (start, cpu) = (Instant::now(), cpu_seconds());
    raw_send(&producer, payloads, n);
    wait_acked(producer.context(), n as u64 + 1, Duration::from_secs(300));
    let measure = Measure::new(n, start, cpu);
    drop(producer);
    drop(kafka);
    measure
}

// ---------------------------------------------------------------------------------------------
// Tributary.

/// A runtime with no connectors (embedded broker and registry), and one datagen instance run
/// through `instance::run`, so that its ack tracker is in reach.
struct TributaryRun {
    runtime: Runtime,
    view: Arc<Mutex<LiveView>>,
    stop: CancellationToken,
    task: Option<tokio::task::JoinHandle<Result<(), tributary::api::TaskError>>>,
}

impl TributaryRun {
    async fn start(count: u64) -> Self {
        let mut run = Self::idle(QUEUE).await;
        run.launch(count, RECORD_BYTES);
        run
    }

    /// The runtime alone: embedded broker and registry, no connector yet; producers hold at most
    /// `queue` records.
    async fn idle(queue: usize) -> Self {
        Self::idle_with(&config_text(queue, "  []")).await
    }

    /// The runtime of config `text`, with no connector yet.
    async fn idle_with(text: &str) -> Self {
        let config = config(text);
        let runtime = Runtime::start_with(&config, datagen_plugins(), Default::default()).await.expect("runtime");
        let view = Arc::new(Mutex::new(LiveView::default()));
        Self { runtime, view, stop: CancellationToken::new(), task: None }
    }

    /// Starts a datagen instance writing `count` records of about `record_bytes` as fast as it can.
    fn launch(&mut self, count: u64, record_bytes: usize) {
        let env = self.runtime.supervisor.environment().clone();
        let (paused_tx, paused) = watch::channel(false);
        let control = Control { stop: self.stop.clone(), paused, view: self.view.clone() };
        let entry = datagen_entry("bench.tributary", count, record_bytes);
        self.task = Some(tokio::spawn(async move {
            let _paused = paused_tx;
            instance::run(&env, &entry, control).await
        }));
    }

    /// The tracker, once the tasks started; the clock starts here.
    async fn tracker(&self) -> (Arc<AckTracker>, Instant) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(t) = self.view.lock().expect("view").tracker.clone() {
                return (t, Instant::now());
            }
            assert!(Instant::now() < deadline, "datagen did not start");
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }

    async fn stop(self) {
        self.stop.cancel();
        if let Some(task) = self.task {
            let result = task.await.expect("instance task");
            assert!(result.is_ok(), "instance failed: {result:?}");
        }
        self.runtime.shutdown().await;
    }
}

async fn wait_tracked(tracker: &AckTracker, n: u64, timeout: Duration) {
    use tributary::api::Acknowledgements;
    let deadline = Instant::now() + timeout;
    while tracker.acknowledged_records() < n {
        assert_eq!(tracker.failed_records(), 0, "tributary deliveries failed");
        assert!(Instant::now() < deadline, "tributary: {} of {n} acked", tracker.acknowledged_records());
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Throughput and CPU cost, Tributary.
async fn tributary_round(n: usize) -> Measure {
    let run = TributaryRun::start(n as u64).await;
    let (tracker, start) = run.tracker().await;
    let cpu = cpu_seconds();
    wait_tracked(&tracker, n as u64, Duration::from_secs(300)).await;
    let measure = Measure::new(n, start, cpu);
    run.stop().await;
    measure
}

// ---------------------------------------------------------------------------------------------
// Memory with the queue full, one child process per side.

/// Waits until `in_flight` stops growing for a second; returns its value.
fn plateau(mut in_flight: impl FnMut() -> u64, timeout: Duration) -> u64 {
    let deadline = Instant::now() + timeout;
    let mut last = (in_flight(), Instant::now());
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let now = in_flight();
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() >= Duration::from_secs(1) {
            return now;
        }
        assert!(Instant::now() < deadline, "in-flight count never settled (at {now})");
    }
}

fn report(side: &str, base: u64, in_flight: u64, rss_at_plateau: u64, total: u64, elapsed: Duration) {
    let (_, hwm) = memory_kib();
    println!(
        "RSS {side} base_kib={base} in_flight={in_flight} rss_at_plateau_kib={rss_at_plateau} peak_kib={hwm} \
         records={total} recovery_s={:.2}",
        elapsed.as_secs_f64()
    );
}

fn rss_raw(runtime: &tokio::runtime::Runtime, in_flight: usize) {
    let payloads = runtime.block_on(payloads());
    let kafka = start_cluster("bench.raw");
    let producer = raw_producer(kafka.bootstrap_servers(), in_flight);
    raw_send(&producer, &payloads, 1);
    wait_acked(producer.context(), 1, Duration::from_secs(30));
    let (base, _) = memory_kib();
    kafka.all_down().expect("down");
    raw_send(&producer, &payloads, in_flight);
    let queued = plateau(|| producer.in_flight_count() as u64, Duration::from_secs(120));
    let (rss, _) = memory_kib();
    let start = Instant::now();
    kafka.all_up().expect("up");
    wait_acked(producer.context(), in_flight as u64 + 1, Duration::from_secs(300));
    report("raw", base, queued, rss, in_flight as u64, start.elapsed());
}

fn rss_tributary(runtime: &tokio::runtime::Runtime, in_flight: usize) {
    // More records than fit, so that the queue fills and the runtime applies back-pressure.
    let total = in_flight as u64 * 6 / 5;
    runtime.block_on(outage("tributary", &config_text(in_flight, "  []"), total, RECORD_BYTES));
}

/// A broker outage under `kafka.buffer_memory` = `budget` bytes (and the same per connector):
/// records of `record_bytes` pile up until the budget holds them back.
fn rss_budget(runtime: &tokio::runtime::Runtime, record_bytes: usize, budget: u64) {
    // Twice what the budget holds, so that it fills and back-pressure holds the rest in the task.
    let total = 2 * budget / record_bytes as u64 + 1000;
    let text = format!(
        "kafka: {{bootstrap_servers: embedded, buffer_memory: {budget}, connector_buffer_memory: {budget}}}\n\
         schema_registry: {{url: embedded}}\napi: {{enabled: false}}\nlogging: {{level: warn}}\nconnectors: []\n"
    );
    runtime.block_on(outage("budget", &text, total, record_bytes));
}

/// The runtime of config `text` with a datagen instance of `total` records of `record_bytes`,
/// the broker down as soon as its tasks start (offsets read, producer made, schema registered):
/// RSS is read once the in-flight count stops growing; then the broker comes back and every
/// record is delivered. Reported as `side`.
async fn outage(side: &str, text: &str, total: u64, record_bytes: usize) {
    let mut run = TributaryRun::idle_with(text).await;
    let (base, _) = memory_kib();
    run.launch(total, record_bytes);
    let (tracker, _) = run.tracker().await;
    let kafka = run.runtime.embedded_kafka.clone().expect("embedded");
    kafka.all_down().expect("down");
    let t = tracker.clone();
    let queued = tokio::task::spawn_blocking(move || plateau(|| t.in_flight() as u64, Duration::from_secs(120)))
        .await
        .expect("plateau");
    let (rss, _) = memory_kib();
    let start = Instant::now();
    kafka.all_up().expect("up");
    wait_tracked(&tracker, total, Duration::from_secs(300)).await;
    report(side, base, queued, rss, total, start.elapsed());
    drop(kafka);
    run.stop().await;
}

fn child(side: &str, in_flight: usize) -> (u64, u64, u64, u64) {
    child_with(&["--child", side, "--in-flight", &in_flight.to_string()], side)
}

fn child_with(args: &[&str], side: &str) -> (u64, u64, u64, u64) {
    let exe = std::env::current_exe().expect("own path");
    let output = std::process::Command::new(exe).args(args).output().expect("child runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{side} child failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let line = stdout.lines().find(|l| l.starts_with("RSS ")).expect("an RSS line");
    let field = |name: &str| -> u64 {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("base_kib"), field("in_flight"), field("rss_at_plateau_kib"), field("peak_kib"))
}

// ---------------------------------------------------------------------------------------------

struct Args {
    records: usize,
    rounds: usize,
    in_flight: usize,
    /// For a budget child: record size and `kafka.buffer_memory`.
    record_bytes: usize,
    budget: u64,
    child: Option<String>,
    /// Only this side's throughput (for profiling); no memory runs.
    only: Option<String>,
    full: bool,
}

fn args() -> Args {
    let mut args = Args {
        records: 300_000,
        rounds: 5,
        in_flight: 100_000,
        record_bytes: RECORD_BYTES,
        budget: BUDGET,
        child: None,
        only: None,
        full: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().and_then(|v| v.parse::<usize>().ok()).expect("a number after the flag");
        match a.as_str() {
            "--bench" => args.full = true,
            "--records" => args.records = value(),
            "--rounds" => args.rounds = value(),
            "--in-flight" => args.in_flight = value(),
            "--record-bytes" => args.record_bytes = value(),
            "--budget" => args.budget = value() as u64,
            "--connector-buffer" => {
                let _ = CONNECTOR_BUFFER.set(value() as u64);
            }
            "--child" => args.child = it.next(),
            "--only" => args.only = it.next(),
            _ => {}
        }
    }
    if !args.full && args.child.is_none() {
        // `cargo test --all-targets`: prove it runs, quickly.
        (args.records, args.rounds, args.in_flight) = (5_000, 1, 2_000);
    }
    args
}

fn main() {
    let args = args();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio");
    match args.child.as_deref() {
        Some("raw") => return rss_raw(&runtime, args.in_flight),
        Some("tributary") => return rss_tributary(&runtime, args.in_flight),
        Some("budget") => return rss_budget(&runtime, args.record_bytes, args.budget),
        Some(other) => panic!("unknown child {other}"),
        None => {}
    }

    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    println!(
        "throughput: {} records of ~{RECORD_BYTES} bytes per run, {} round(s), {cpus} CPU(s), mock cluster in-process",
        args.records, args.rounds
    );
    let payloads = runtime.block_on(payloads());
    let average = payloads.0.iter().map(|p| p.1.len()).sum::<usize>() / payloads.0.len();
    println!("encoded value size: {average} bytes on average (Confluent framing included)");
    let (mut raw, mut ours) = (Vec::new(), Vec::new());
    if let Some(side) = args.only.as_deref() {
        for round in 1..=args.rounds {
            let m = match side {
                "raw" => raw_round(&payloads, args.records),
                _ => runtime.block_on(tributary_round(args.records)),
            };
            println!("round {round}: {side} {:.0} rec/s, {:.2} CPU-us/record", m.rate, m.cpu_us);
        }
        return;
    }
    for round in 1..=args.rounds {
        let r = raw_round(&payloads, args.records);
        let t = runtime.block_on(tributary_round(args.records));
        println!(
            "round {round}: raw {:>8.0} rec/s {:>5.2} CPU-us/rec   tributary {:>8.0} rec/s {:>5.2} CPU-us/rec   \
             ratio {:.2}",
            r.rate,
            r.cpu_us,
            t.rate,
            t.cpu_us,
            t.rate / r.rate
        );
        raw.push(r);
        ours.push(t);
    }
    let median = |v: &[Measure], f: fn(&Measure) -> f64| {
        let mut xs: Vec<f64> = v.iter().map(f).collect();
        xs.sort_by(f64::total_cmp);
        let mid = xs.len() / 2;
        if xs.len().is_multiple_of(2) { (xs[mid - 1] + xs[mid]) / 2.0 } else { xs[mid] }
    };
    let ratios: Vec<Measure> =
        raw.iter().zip(&ours).map(|(r, t)| Measure { rate: t.rate / r.rate, cpu_us: t.cpu_us / r.cpu_us }).collect();
    println!(
        "median: raw {:.0} rec/s ({:.2} CPU-us/rec), tributary {:.0} rec/s ({:.2} CPU-us/rec)",
        median(&raw, |m| m.rate),
        median(&raw, |m| m.cpu_us),
        median(&ours, |m| m.rate),
        median(&ours, |m| m.cpu_us)
    );
    println!(
        "median ratio of rounds: throughput {:.2} (target >= 0.80); CPU per record {:.2}x raw's",
        median(&ratios, |m| m.rate),
        median(&ratios, |m| m.cpu_us)
    );

    println!(
        "memory with {} records in flight (broker down, then back), each side in its own process:",
        args.in_flight
    );
    for side in ["raw", "tributary"] {
        let (base, queued, rss, peak) = child(side, args.in_flight);
        println!(
            "  {side:<9} RSS before {:>5.1} MiB   in flight {queued:>6}   RSS then {:>6.1} MiB ({:>4.0} B/record)   \
             peak RSS {:>6.1} MiB",
            mib(base),
            mib(rss),
            (rss.saturating_sub(base) * 1024) as f64 / queued.max(1) as f64,
            mib(peak)
        );
    }
    let budget = if args.full { BUDGET } else { 4 << 20 };
    println!(
        "broker outage under kafka.buffer_memory = {:.0} MiB (target: RSS <= budget + 48 MiB):",
        mib(budget >> 10)
    );
    for record_bytes in [100usize, 10 << 10] {
        let flags = ["--child", "budget", "--record-bytes", &record_bytes.to_string(), "--budget", &budget.to_string()];
        let (base, queued, rss, peak) = child_with(&flags, "budget");
        println!(
            "  {record_bytes:>6}-byte records: RSS before {:>5.1} MiB   in flight {queued:>6}   RSS then {:>6.1} MiB \
             (budget + {:>5.1} MiB)   peak RSS {:>6.1} MiB",
            mib(base),
            mib(rss),
            mib(rss.saturating_sub(budget >> 10)),
            mib(peak)
        );
    }
}

//! Distributed mode on a real Apache Kafka broker: what exactly-once costs against at-least-once,
//! and how long a connector takes to move when the replica running it dies.
//!
//! `cargo bench --bench distributed [-- --records N --rounds R --flush 5s --handovers H --replicas K --only throughput|handover]`
//!
//! Everything runs the `tributary` binary of the bench's build (`tributary run`, a child process
//! per run or replica; cargo builds it for benches and passes its path as
//! `CARGO_BIN_EXE_tributary`), against one broker (`scripts/kafka-broker.sh` through
//! `tributary_test_support::broker`, PLAINTEXT on 127.0.0.1, 1 GiB of heap, no topic
//! auto-creation) and one schema registry in the bench's own process. The bench watches each
//! offsets topic with a `read_committed` consumer of its own that polls continuously, and notes
//! when every offsets record first became visible; each child's log lines are noted with the
//! moment they arrive.
//!
//! * **throughput**: one `datagen` connector (one generator, `record_bytes: 500`, no rate limit,
//!   `count: N`), standalone, once with `kafka.exactly_once: false` and once with `true` per
//!   round, the order swapping from round to round, fresh topics for every run (records: 3
//!   partitions; offsets: 1). Offsets are committed every `--flush` (default 5 s, Tributary's
//!   default); with exactly-once that is also when a transaction is committed. The clock runs
//!   from the log line "connector started" (producer ready, with exactly-once its transactional id
//!   registered, offsets read, schema registered, tasks spawned) until the bench's consumer sees
//!   the offset of the N-th record in the offsets topic: committed, and so, with exactly-once,
//!   visible to `read_committed` readers. That end lags the last record by up to one flush interval, in both modes alike;
//!   the *steady* rate, between the first and the last commit that came before the end, has no
//!   such lag. Also per run: the tributary process's CPU time (`/proc/PID/stat`) over the timed
//!   window per record, and its start-up (launch to "connector started"). Reported per round,
//!   with the median of the rounds' EOS/ALO ratios. `--records` defaults to 10 million, so that
//!   a run lasts well beyond a few flush intervals.
//! * **handover**: `--replicas` replicas (default 3) in cluster mode (`cluster.group_id`,
//!   exactly-once, as cluster mode requires) share one datagen connector (one generator, 200
//!   records/s, offsets committed every 500 ms). The replica running it (found through
//!   `GET /cluster`) is SIGKILLed; the handover time is from the kill to the log line
//!   "connector started" on the replica that takes it over. Also reported: kill to the group
//!   assigning it ("connectors assigned to this replica") and kill to the new owner's first
//!   commit (the committed seq moving past its value at the kill, so records a `read_committed`
//!   reader can see). A fresh replica then joins, and once the group has all replicas again and
//!   the owner commits, the next handover starts. `--handovers` of them with
//!   `session_timeout: 10s` (the default; heartbeat 3 s) and as many with 6 s (the broker's
//!   `group.min.session.timeout.ms`; heartbeat 2 s), each series with its own group and topics.
//!
//! Every process the bench starts is stopped by pid (SIGTERM, or SIGKILL for a handover) and gets
//! a parent-death signal, so none outlives the bench; the whole run is bounded in time.
//!
//! Run without `--bench` (as `cargo test --all-targets` does) it is a quick smoke run: 10k records
//! per run with a flush every 500 ms, one round, and one handover with two replicas and the 6 s
//! session timeout.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::admin::AdminOptions;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use serde_json::Value;
use tributary::schema_registry::EmbeddedRegistryHandle;
use tributary_test_support::{
    broker::{Broker, Listeners},
    procfs::cpu_seconds,
    registry::standalone_registry,
    services::{spawn_kept, terminate},
    workspace,
};

const BROKER_HEAP: &str = "1g";
const RECORD_BYTES: usize = 500;
/// Partitions of the throughput runs' record topics.
const PARTITIONS: i32 = 3;
/// The handover connector's rate (records/s, one generator) and its commit interval.
const HANDOVER_RATE: u32 = 200;
const HANDOVER_FLUSH: Duration = Duration::from_millis(500);
/// Bound on a process's start-up, a rebalance, a handover: only reached when something is wrong.
const WAIT: Duration = Duration::from_secs(120);
const STOP_GRACE: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// Arguments.

struct Args {
    records: u64,
    rounds: usize,
    flush: Duration,
    handovers: usize,
    replicas: usize,
    /// Session timeouts of the handover series.
    sessions: Vec<Duration>,
    only: Option<String>,
    /// Run with `--bench`: a measurement, not a smoke run.
    full: bool,
}

fn args() -> Args {
    let mut args = Args {
        records: 10_000_000,
        rounds: 5,
        flush: Duration::from_secs(5),
        handovers: 10,
        replicas: 3,
        sessions: vec![Duration::from_secs(10), Duration::from_secs(6)],
        only: None,
        full: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("a value after {a}"));
        let number = |v: String| -> u64 { v.parse().unwrap_or_else(|_| panic!("not a number: {v}")) };
        match a.as_str() {
            "--bench" => args.full = true,
            "--records" => args.records = number(value()),
            "--rounds" => args.rounds = number(value()) as usize,
            "--flush" => {
                let v = value();
                args.flush = humantime::parse_duration(&v).unwrap_or_else(|e| panic!("--flush {v}: {e}"));
            }
            "--handovers" => args.handovers = number(value()) as usize,
            "--replicas" => args.replicas = number(value()) as usize,
            "--only" => args.only = Some(value()),
            _ => {}
        }
    }
    if !args.full {
        // `cargo test --all-targets`: prove it runs, quickly.
        (args.records, args.rounds, args.flush) = (10_000, 1, Duration::from_millis(500));
        (args.handovers, args.replicas, args.sessions) = (1, 2, vec![Duration::from_secs(6)]);
    }
    assert!(args.records > 0 && args.rounds > 0, "--records and --rounds must be positive");
    assert!(args.replicas >= 2, "--replicas must be at least 2: a handover needs a survivor");
    if let Some(only) = &args.only {
        assert!(["throughput", "handover"].contains(&only.as_str()), "--only throughput or --only handover");
    }
    args
}

impl Args {
    fn runs(&self, part: &str) -> bool {
        self.only.as_deref().is_none_or(|o| o == part)
    }

    /// A bound on the whole run, in case something hangs where no deadline reaches.
    fn hard_limit(&self) -> Duration {
        // At 5,000 records/s a run would be far slower than any measured.
        let run = WAIT * 2 + STOP_GRACE + Duration::from_secs(self.records / 5_000) + self.flush;
        let throughput = run * (self.rounds * 2) as u32;
        let handover = (WAIT * 4 + STOP_GRACE) * (self.handovers * self.sessions.len()) as u32;
        throughput + handover + WAIT * 3
    }
}

// ---------------------------------------------------------------------------------------------
// The tributary child processes.

/// A `tributary run` child: its log lines (stderr) with the moment each arrived. Stopped by pid
/// when dropped (SIGTERM, then SIGKILL after [`STOP_GRACE`]); spawned with a parent-death signal.
struct Tributary {
    child: Child,
    lines: Arc<Mutex<Vec<(Instant, String)>>>,
    launched: Instant,
}

impl Tributary {
    fn spawn(config: &Path) -> Tributary {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tributary"));
        command
            .arg("run")
            .arg("--config")
            .arg(config)
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let launched = Instant::now();
        let mut child = spawn_kept(command).unwrap_or_else(|e| panic!("cannot start tributary: {e}"));
        let stderr = child.stderr.take().expect("stderr is piped");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap_or_else(|e| e.into_inner()).push((Instant::now(), line));
            }
        });
        Tributary { child, lines, launched }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The first line after `after` containing `text`, and when it arrived.
    fn line_after(&self, text: &str, after: Instant) -> Option<(Instant, String)> {
        let lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        lines.iter().find(|(at, l)| *at >= after && l.contains(text)).cloned()
    }

    /// The last `n` lines of the log.
    fn tail(&self, n: usize) -> String {
        let lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        let shown: Vec<&str> = lines[lines.len().saturating_sub(n)..].iter().map(|(_, l)| l.as_str()).collect();
        shown.join("\n")
    }

    /// Lines at WARN or ERROR level.
    fn complaints(&self) -> Vec<String> {
        let lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        lines.iter().filter(|(_, l)| l.contains(" WARN ") || l.contains(" ERROR ")).map(|(_, l)| l.clone()).collect()
    }

    /// Panics with the end of the log if the process has exited.
    fn check_alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            std::thread::sleep(Duration::from_millis(100));
            panic!("tributary (pid {}) exited ({status}):\n{}", self.pid(), self.tail(40));
        }
    }

    /// Waits for a line after `after` containing `text`; returns when it arrived.
    fn wait_line(&mut self, text: &str, after: Instant, timeout: Duration) -> Instant {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some((at, _)) = self.line_after(text, after) {
                return at;
            }
            self.check_alive();
            assert!(Instant::now() < deadline, "no `{text}` within {timeout:?}:\n{}", self.tail(40));
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// `HOST:PORT` of the REST API, from the line `run` prints when it serves it.
    fn rest_address(&mut self) -> String {
        self.wait_line("REST API at http://", self.launched, WAIT);
        let (_, line) = self.line_after("REST API at http://", self.launched).expect("the line just seen");
        let rest = &line[line.find("http://").expect("in the line") + "http://".len()..];
        rest.split_whitespace().next().unwrap_or_default().to_owned()
    }

    /// SIGTERM; panics (with the log) unless it exits with status 0 within [`STOP_GRACE`].
    fn stop(mut self) {
        terminate(&mut self.child, STOP_GRACE);
        let status = self.child.wait().expect("wait");
        std::thread::sleep(Duration::from_millis(100));
        assert!(status.success(), "tributary (pid {}) stopped with {status}:\n{}", self.pid(), self.tail(40));
    }

    /// SIGKILL, by pid; returns once the process is gone.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Tributary {
    fn drop(&mut self) {
        terminate(&mut self.child, STOP_GRACE);
    }
}

// ---------------------------------------------------------------------------------------------
// The offsets topic as a read_committed reader sees it.

/// One datagen offset as it became visible: when, which connector and generator, which seq.
#[derive(Clone, Debug)]
struct Commit {
    at: Instant,
    connector: String,
    seq: i64,
}

/// A consumer of one offsets topic on its own thread, polling continuously (`read_committed`,
/// fetches answered within 10 ms), noting every datagen offset and when it was first seen.
struct OffsetsWatch {
    commits: Arc<Mutex<Vec<Commit>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl OffsetsWatch {
    fn start(bootstrap: &str, topic: &str) -> OffsetsWatch {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", "bench-offsets-watch")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("isolation.level", "read_committed")
            .set("fetch.wait.max.ms", "10")
            .set("fetch.error.backoff.ms", "10")
            .create()
            .expect("offsets consumer");
        let deadline = Instant::now() + WAIT;
        let partitions = loop {
            let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10)).expect("metadata");
            let found = metadata.topics().first().filter(|t| t.error().is_none()).map(|t| t.partitions().len());
            if let Some(n) = found.filter(|n| *n > 0) {
                break n as i32;
            }
            assert!(Instant::now() < deadline, "offsets topic `{topic}` did not appear");
            std::thread::sleep(Duration::from_millis(100));
        };
        let mut assignment = TopicPartitionList::new();
        for p in 0..partitions {
            assignment.add_partition_offset(topic, p, Offset::Beginning).expect("partition");
        }
        consumer.assign(&assignment).expect("assign");
        let commits = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (commits, stop) = (commits.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let Some(Ok(message)) = consumer.poll(Duration::from_millis(50)) else { continue };
                    let at = Instant::now();
                    let Some(key) = message.key() else { continue };
                    let Ok((connector, _, Some(offset))) = tributary::offsets::format::decode(key, message.payload())
                    else {
                        continue;
                    };
                    if let Some(seq) = offset.get_i64("seq") {
                        commits.lock().expect("commits").push(Commit { at, connector, seq });
                    }
                }
            })
        };
        OffsetsWatch { commits, stop, thread: Some(thread) }
    }

    /// `connector`'s commits so far, in the order seen.
    fn of(&self, connector: &str) -> Vec<Commit> {
        self.commits.lock().expect("commits").iter().filter(|c| c.connector == connector).cloned().collect()
    }

    /// The highest seq of `connector` seen so far.
    fn latest(&self, connector: &str) -> Option<i64> {
        self.of(connector).iter().map(|c| c.seq).max()
    }

    /// The first commit of `connector` seen after `after` with a seq above `above`; `alive`
    /// checks the processes meanwhile.
    fn wait_beyond(
        &self,
        connector: &str,
        above: i64,
        after: Instant,
        timeout: Duration,
        mut alive: impl FnMut(),
    ) -> Commit {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(c) = self.of(connector).into_iter().find(|c| c.at >= after && c.seq > above) {
                return c;
            }
            alive();
            assert!(Instant::now() < deadline, "{connector}: no commit beyond seq {above} within {timeout:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for OffsetsWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The bench's broker, registry and topics.

struct Bench {
    args: Args,
    rt: tokio::runtime::Runtime,
    broker: Broker,
    registry: EmbeddedRegistryHandle,
    http: reqwest::Client,
    work: tempfile::TempDir,
    runs: usize,
}

impl Bench {
    fn bootstrap(&self) -> String {
        self.broker.bootstrap()
    }

    /// Creates `records` (`partitions` partitions) and the compacted offsets topic `offsets`.
    fn create_topics(&self, records: &str, partitions: i32, offsets: &str) {
        self.rt.block_on(async {
            self.broker.create_topic(records, partitions, &[]).await;
            self.broker.create_topic(offsets, 1, &[("cleanup.policy", "compact")]).await;
        });
    }

    fn delete_topics(&self, names: &[&str]) {
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(60)));
        let admin = self.broker.admin();
        match self.rt.block_on(admin.delete_topics(names, &options)) {
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

    /// A config file in a fresh folder; `extra` holds whole top-level sections.
    fn write_config(&mut self, offsets: &str, flush: Duration, extra: &str, connector: &str) -> PathBuf {
        self.runs += 1;
        let dir = self.work.path().join(format!("run-{}", self.runs));
        std::fs::create_dir_all(&dir).expect("run folder");
        let text = format!(
            "kafka:\n  bootstrap_servers: {bootstrap}\n  offsets: {{topic: {offsets}, partitions: 1, flush_interval: {flush}ms}}\n\
             {extra}schema_registry: {{url: {registry}}}\nschemas_dir: {schemas}\nlogging: {{level: info}}\n\
             connectors:\n  - {connector}\n",
            bootstrap = self.bootstrap(),
            flush = flush.as_millis(),
            registry = self.registry.url(),
            schemas = workspace().join("schemas").display(),
        );
        let path = dir.join("config.yaml");
        std::fs::write(&path, text).expect("write the config");
        path
    }

    fn get_json(&self, url: &str) -> Value {
        self.rt.block_on(async {
            match self.http.get(url).send().await {
                Ok(response) => response.json().await.unwrap_or(Value::Null),
                Err(_) => Value::Null,
            }
        })
    }
}

fn load_average() -> f64 {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().next().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN)
}

fn median(values: &[f64]) -> f64 {
    let mut xs = values.to_vec();
    xs.sort_by(f64::total_cmp);
    let mid = xs.len() / 2;
    if xs.is_empty() {
        f64::NAN
    } else if xs.len().is_multiple_of(2) {
        (xs[mid - 1] + xs[mid]) / 2.0
    } else {
        xs[mid]
    }
}

fn max(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::NAN, f64::max)
}

fn thousands(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    let digits = format!("{:.0}", x.round());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Exactly-once against at-least-once.

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    AtLeastOnce,
    ExactlyOnce,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::AtLeastOnce => "alo",
            Mode::ExactlyOnce => "eos",
        }
    }
}

struct Throughput {
    /// N records over the time from "connector started" to the N-th record's offset seen.
    rate: f64,
    /// Between the first and the last commit before the end; NaN with fewer than two.
    steady: f64,
    startup: Duration,
    commits: usize,
    /// CPU time of the tributary process over the timed window, per record.
    cpu_us: f64,
}

fn throughput_run(bench: &mut Bench, mode: Mode) -> Throughput {
    let n = bench.args.records;
    let id = bench.runs + 1;
    let name = format!("t{id}-{}", mode.name());
    let (records, offsets) = (format!("{name}.records"), format!("{name}.offsets"));
    bench.create_topics(&records, PARTITIONS, &offsets);
    let watch = OffsetsWatch::start(&bench.bootstrap(), &offsets);
    let extra = format!("  exactly_once: {}\napi: {{enabled: false}}\n", mode == Mode::ExactlyOnce);
    let connector = format!(
        "{{name: {name}, class: datagen, topic: {records}, count: {n}, record_bytes: {RECORD_BYTES}, seed: 1}}"
    );
    // `extra` continues the `kafka:` section with its first line.
    let flush = bench.args.flush;
    let path = bench.write_config(&offsets, flush, &extra, &connector);
    let mut process = Tributary::spawn(&path);
    let started = process.wait_line("connector started", process.launched, WAIT);
    let cpu = cpu_seconds(process.pid());
    let timeout = WAIT + Duration::from_secs(n / 5_000) + flush;
    let end = watch.wait_beyond(&name, n as i64 - 2, started, timeout, || process.check_alive());
    let cpu_us = (cpu_seconds(process.pid()) - cpu) * 1e6 / n as f64;
    assert_eq!(end.seq, n as i64 - 1, "{name}: committed beyond the last record");
    let before_end: Vec<Commit> = watch.of(&name).into_iter().filter(|c| c.at >= started && c.seq < end.seq).collect();
    let steady = match (before_end.first(), before_end.last()) {
        (Some(a), Some(b)) if b.at > a.at => (b.seq - a.seq) as f64 / (b.at - a.at).as_secs_f64(),
        _ => f64::NAN,
    };
    let complaints = process.complaints();
    let startup = started - process.launched;
    process.stop();
    drop(watch);
    bench.delete_topics(&[&records, &offsets]);
    for line in complaints.iter().take(5) {
        println!("    {} logged: {line}", mode.name());
    }
    Throughput {
        rate: n as f64 / (end.at - started).as_secs_f64(),
        steady,
        startup,
        commits: before_end.len() + 1,
        cpu_us,
    }
}

fn throughput(bench: &mut Bench) {
    let args = &bench.args;
    println!(
        "\nexactly-once against at-least-once: {} records of ~{RECORD_BYTES} bytes per run (datagen, one generator, \
         unthrottled), {} round(s), offsets committed every {:?}, records topic of {PARTITIONS} partitions, load {:.2}",
        args.records,
        args.rounds,
        args.flush,
        load_average()
    );
    let mut rows: Vec<(Throughput, Throughput)> = Vec::new();
    for round in 1..=bench.args.rounds {
        let order = if round % 2 == 1 {
            [Mode::AtLeastOnce, Mode::ExactlyOnce]
        } else {
            [Mode::ExactlyOnce, Mode::AtLeastOnce]
        };
        let (mut alo, mut eos) = (None, None);
        for mode in order {
            let t = throughput_run(bench, mode);
            match mode {
                Mode::AtLeastOnce => alo = Some(t),
                Mode::ExactlyOnce => eos = Some(t),
            }
        }
        let (alo, eos) = (alo.expect("alo ran"), eos.expect("eos ran"));
        println!(
            "round {round} ({} first): alo {:>9} rec/s (steady {:>9}, {:.2} CPU-us/rec, start-up {:.2} s, {} commits)   \
             eos {:>9} rec/s (steady {:>9}, {:.2} CPU-us/rec, start-up {:.2} s, {} commits)   EOS/ALO {:.2} (steady {:.2})   \
             load {:.2}",
            order[0].name(),
            thousands(alo.rate),
            thousands(alo.steady),
            alo.cpu_us,
            alo.startup.as_secs_f64(),
            alo.commits,
            thousands(eos.rate),
            thousands(eos.steady),
            eos.cpu_us,
            eos.startup.as_secs_f64(),
            eos.commits,
            eos.rate / alo.rate,
            eos.steady / alo.steady,
            load_average()
        );
        rows.push((alo, eos));
    }
    let pick = |f: fn(&(Throughput, Throughput)) -> f64| median(&rows.iter().map(f).collect::<Vec<_>>());
    let ratio = pick(|(a, e)| e.rate / a.rate);
    println!(
        "median of {} round(s): alo {} rec/s (steady {}, {:.2} CPU-us/rec), eos {} rec/s (steady {}, {:.2} CPU-us/rec); \
         start-up alo {:.2} s, eos {:.2} s",
        rows.len(),
        thousands(pick(|(a, _)| a.rate)),
        thousands(pick(|(a, _)| a.steady)),
        pick(|(a, _)| a.cpu_us),
        thousands(pick(|(_, e)| e.rate)),
        thousands(pick(|(_, e)| e.steady)),
        pick(|(_, e)| e.cpu_us),
        pick(|(a, _)| a.startup.as_secs_f64()),
        pick(|(_, e)| e.startup.as_secs_f64()),
    );
    println!(
        "median EOS/ALO ratio of rounds: {ratio:.2} (steady {:.2}); target >= 0.70: {}",
        pick(|(a, e)| e.steady / a.steady),
        if ratio >= 0.7 { "met" } else { "NOT met" }
    );
}

// ---------------------------------------------------------------------------------------------
// Handover.

/// A replica in cluster mode and the port of its REST API (its replica id ends in it).
struct Replica {
    process: Tributary,
    address: String,
}

impl Replica {
    fn start(path: &Path) -> Replica {
        let mut process = Tributary::spawn(path);
        let address = process.rest_address();
        Replica { process, address }
    }

    fn port(&self) -> &str {
        self.address.rsplit(':').next().unwrap_or_default()
    }
}

/// Times from the kill, in seconds.
struct Handover {
    assigned: f64,
    started: f64,
    committed: f64,
}

const HANDOVER_CONNECTOR: &str = "moving";

/// The port of the replica running the connector, once `replica` sees exactly the ports `live`
/// as the group's members and the connector on one of them.
fn settled(bench: &Bench, replica: &Replica, live: &BTreeSet<String>) -> String {
    let url = format!("http://{}/cluster", replica.address);
    let deadline = Instant::now() + WAIT;
    let mut last = Value::Null;
    loop {
        let view = bench.get_json(&url);
        let port = |m: &Value| m["replica_id"].as_str().and_then(|r| r.rsplit(':').next()).map(str::to_owned);
        if let Some(members) = view["members"].as_array() {
            let ports: BTreeSet<String> = members.iter().filter_map(port).collect();
            let owner = members
                .iter()
                .find(|m| {
                    m["connectors"].as_array().is_some_and(|c| c.iter().any(|c| c.as_str() == Some(HANDOVER_CONNECTOR)))
                })
                .and_then(port);
            if ports == *live
                && members.len() == live.len()
                && let Some(owner) = owner
            {
                return owner;
            }
        }
        if !view.is_null() {
            last = view;
        }
        assert!(Instant::now() < deadline, "the group did not settle on {live:?} within {WAIT:?}; last view: {last}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn handover_series(bench: &mut Bench, session: Duration) {
    let id = bench.runs + 1;
    let heartbeat = if session >= Duration::from_secs(9) { Duration::from_secs(3) } else { session / 3 };
    let base = format!("h{id}-{}s", session.as_secs());
    let (records, offsets) = (format!("{base}.records"), format!("{base}.offsets"));
    bench.create_topics(&records, 1, &offsets);
    let watch = OffsetsWatch::start(&bench.bootstrap(), &offsets);
    let extra = format!(
        "cluster: {{group_id: bench-{base}, session_timeout: {}ms, heartbeat_interval: {}ms}}\napi: {{listen: \"127.0.0.1:0\"}}\n",
        session.as_millis(),
        heartbeat.as_millis()
    );
    let connector = format!(
        "{{name: {HANDOVER_CONNECTOR}, class: datagen, topic: {records}, rate: {HANDOVER_RATE}, record_bytes: 200, seed: 1}}"
    );
    let path = bench.write_config(&offsets, HANDOVER_FLUSH, &extra, &connector);
    println!(
        "\nhandover, session_timeout {session:?} (heartbeat {heartbeat:?}), {} replicas, datagen at {HANDOVER_RATE} \
         records/s, offsets every {HANDOVER_FLUSH:?}, load {:.2}",
        bench.args.replicas,
        load_average()
    );

    let mut replicas: Vec<Replica> = (0..bench.args.replicas).map(|_| Replica::start(&path)).collect();
    let mut results = Vec::new();
    for i in 1..=bench.args.handovers {
        // Every replica a member, the connector running and committing.
        let live: BTreeSet<String> = replicas.iter().map(|r| r.port().to_owned()).collect();
        let newest = replicas.last().expect("replicas");
        let owner_port = settled(bench, newest, &live);
        let owner = replicas.iter().position(|r| r.port() == owner_port).expect("the owner is one of ours");
        let settled_at = Instant::now();
        let from = replicas[owner].process.launched;
        replicas[owner].process.wait_line("connector started", from, WAIT);
        let floor = watch.latest(HANDOVER_CONNECTOR).unwrap_or(-1);
        watch.wait_beyond(HANDOVER_CONNECTOR, floor, settled_at, WAIT, || {
            replicas.iter_mut().for_each(|r| r.process.check_alive())
        });

        let at_kill = watch.latest(HANDOVER_CONNECTOR).unwrap_or(-1);
        let victim = replicas.remove(owner);
        let killed = Instant::now();
        victim.process.kill();

        let deadline = killed + WAIT;
        let (heir, started) = loop {
            let found = replicas
                .iter()
                .enumerate()
                .find_map(|(k, r)| r.process.line_after("connector started", killed).map(|(at, _)| (k, at)));
            if let Some(found) = found {
                break found;
            }
            replicas.iter_mut().for_each(|r| r.process.check_alive());
            assert!(Instant::now() < deadline, "no replica started the connector within {WAIT:?} of the kill");
            std::thread::sleep(Duration::from_millis(5));
        };
        let assigned = replicas[heir]
            .process
            .line_after("connectors assigned to this replica", killed)
            .map_or(f64::NAN, |(at, _)| (at - killed).as_secs_f64());
        let commit = watch.wait_beyond(HANDOVER_CONNECTOR, at_kill, killed, WAIT, || {
            replicas.iter_mut().for_each(|r| r.process.check_alive())
        });
        let h = Handover {
            assigned,
            started: (started - killed).as_secs_f64(),
            committed: (commit.at - killed).as_secs_f64(),
        };
        println!(
            "  handover {i:>2}: killed :{owner_port} (seq {at_kill}); :{} assigned it after {:.2} s, started it after \
             {:.2} s, first commit after {:.2} s (seq {})",
            replicas[heir].port(),
            h.assigned,
            h.started,
            h.committed,
            commit.seq
        );
        results.push(h);
        if i < bench.args.handovers {
            replicas.push(Replica::start(&path));
        }
    }
    for r in replicas {
        r.process.stop();
    }
    drop(watch);
    bench.delete_topics(&[&records, &offsets]);

    let col = |f: fn(&Handover) -> f64| results.iter().map(f).collect::<Vec<_>>();
    let (started, assigned, committed) = (col(|h| h.started), col(|h| h.assigned), col(|h| h.committed));
    let target = (session + Duration::from_secs(5)).as_secs_f64();
    println!(
        "  session {session:?}, {} handover(s): kill to connector started p50 {:.2} s, max {:.2} s (target <= {target:.0} s: \
         {}); to assigned p50 {:.2} s, max {:.2} s; to first commit p50 {:.2} s, max {:.2} s",
        results.len(),
        median(&started),
        max(&started),
        if max(&started) <= target { "met" } else { "NOT met" },
        median(&assigned),
        max(&assigned),
        median(&committed),
        max(&committed),
    );
}

// ---------------------------------------------------------------------------------------------

fn main() {
    let args = args();
    // SAFETY: no other thread runs yet. The broker script reads these from the environment it
    // inherits (`tributary_test_support::broker` passes its own variables only).
    unsafe {
        std::env::set_var("KAFKA_HEAP", BROKER_HEAP);
        std::env::set_var("KAFKA_EXTRA_PROPERTIES", "auto.create.topics.enable=false");
    }
    let limit = args.hard_limit();
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        // The children get SIGTERM from the kernel as this process ends (parent-death signal).
        eprintln!("distributed: still running after {limit:?}; giving up");
        std::process::exit(2);
    });

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("tokio");
    let broker = Broker::start(Listeners::Plain);
    let registry = rt.block_on(standalone_registry());
    let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build().expect("http client");
    let work = tempfile::Builder::new().prefix("tributary-distributed-").tempdir().expect("temp dir");
    let mut bench = Bench { args, rt, broker, registry, http, work, runs: 0 };
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    println!(
        "distributed: broker {} (Apache Kafka, heap {BROKER_HEAP}), {cpus} CPU(s), load {:.2}",
        bench.bootstrap(),
        load_average()
    );
    if !bench.args.full {
        println!("smoke run (no --bench): it proves the bench runs; its figures measure nothing");
    }

    if bench.args.runs("throughput") {
        throughput(&mut bench);
    }
    if bench.args.runs("handover") {
        for session in bench.args.sessions.clone() {
            handover_series(&mut bench, session);
        }
    }
    println!("\nload average at the end: {:.2}", load_average());
    let Bench { rt, registry, .. } = bench;
    let _ = rt.block_on(registry.shutdown());
}

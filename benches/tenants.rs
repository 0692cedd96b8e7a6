//! Many tenants on one host: what N idle-ish connectors cost one `tributary run` process.
//!
//! `cargo bench --bench tenants [-- --sizes 100,1000 --baseline-max 100 --window 30 --rate 1]`
//!
//! Each run starts the binary built with the bench's profile with N `datagen` connectors (one
//! generator each, `--rate` records/s, 500-byte records, Avro through the embedded registry), all
//! writing to one topic of 12 partitions on a real Apache Kafka broker (`scripts/kafka-broker.sh`
//! through `tributary_test_support::broker`). Two sides, run one after the other for each size:
//!
//! * **shared**: the default, connectors with the same producer properties share one producer;
//! * **own**: `kafka.share_producers: false`, a producer per connector (the baseline: what every
//!   connector cost before sharing, and what an exactly-once connector still costs). Run up to
//!   `--baseline-max` connectors only: beyond, it needs more cores than the machine has.
//!
//! Per run: start-up (launch until every connector's records are counted in `/metrics`), then,
//! after 5 s of settling, a window of `--window` seconds: the process's CPU (utime + stime of
//! all threads, `/proc/PID/stat`) as a fraction of one core, RSS (`VmRSS`) and threads at the end,
//! and the records produced over the window against what the rate asks (every connector must
//! keep producing). Every process is stopped by pid, also on a panic, and the run is bounded.
//!
//! Run without `--bench` (as `cargo test --all-targets` does) it is a quick smoke run: ten
//! connectors, both sides, short windows.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tributary_test_support::{
    broker::{Broker, Listeners},
    procfs::{cpu_seconds, status_kib},
    services::{free_port, spawn_kept, tail, terminate},
    workspace,
};

/// How long all connectors may take to produce their first records.
const START_TIMEOUT: Duration = Duration::from_secs(180);
const SETTLE: Duration = Duration::from_secs(5);
const PARTITIONS: i32 = 12;

struct Args {
    sizes: Vec<usize>,
    baseline_max: usize,
    window: Duration,
    rate: f64,
}

impl Args {
    fn parse() -> Args {
        let argv: Vec<String> = std::env::args().collect();
        let bench = argv.iter().any(|a| a == "--bench");
        let mut args = if bench {
            Args { sizes: vec![100, 1000], baseline_max: 100, window: Duration::from_secs(30), rate: 1.0 }
        } else {
            Args { sizes: vec![10], baseline_max: 10, window: Duration::from_secs(3), rate: 1.0 }
        };
        let mut it = argv.iter().skip(1);
        while let Some(arg) = it.next() {
            let mut value = || it.next().unwrap_or_else(|| panic!("{arg} needs a value")).clone();
            match arg.as_str() {
                "--sizes" => {
                    args.sizes = value().split(',').map(|s| s.trim().parse().expect("--sizes: numbers")).collect()
                }
                "--baseline-max" => args.baseline_max = value().parse().expect("--baseline-max: a number"),
                "--window" => args.window = Duration::from_secs(value().parse().expect("--window: seconds")),
                "--rate" => args.rate = value().parse().expect("--rate: records/s"),
                _ => {}
            }
        }
        args
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Shared,
    Own,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Shared => "shared",
            Side::Own => "own",
        }
    }
}

struct Measure {
    startup: Duration,
    cores: f64,
    rss_mib: f64,
    threads: u64,
    /// Records produced over the window, against what the rate asks.
    delivered: f64,
}

/// The process under measure; stopped by pid on drop.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        terminate(&mut self.0, Duration::from_secs(60));
    }
}

/// `GET path` on 127.0.0.1:`port`: the body, if it answered.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes()).ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    (head.split(' ').nth(1) == Some("200")).then(|| body.to_owned())
}

/// Connectors that produced at least one record, and records produced in all.
fn produced(port: u16) -> (usize, f64) {
    let Some(metrics) = http_get(port, "/metrics") else { return (0, 0.0) };
    let values = metrics
        .lines()
        .filter(|l| l.starts_with("tributary_records_produced_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok());
    values.fold((0, 0.0), |(n, sum), v| (n + usize::from(v > 0.0), sum + v))
}

fn threads(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("Threads:")?.trim().parse().ok()).unwrap_or(0)
}

fn run(broker: &Broker, dir: &Path, id: usize, side: Side, n: usize, args: &Args) -> Measure {
    let topic = format!("tenants-{id}");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(broker.create_topic(&topic, PARTITIONS, &[]));
    let port = free_port();
    let mut yaml = format!(
        "kafka:\n  bootstrap_servers: {}\n  share_producers: {}\n  offsets: {{topic: tenants-{id}-offsets, flush_interval: 5s}}\n\
         schema_registry: {{url: embedded, embedded_port: 0}}\nschemas_dir: {}\napi: {{listen: \"127.0.0.1:{port}\"}}\n\
         logging: {{level: warn}}\nconnectors:\n",
        broker.bootstrap(),
        side == Side::Shared,
        workspace().join("schemas").display()
    );
    for i in 0..n {
        yaml.push_str(&format!(
            "  - {{name: t{i}, class: datagen, topic: {topic}, rate: {}, record_bytes: 500, seed: {i}}}\n",
            args.rate
        ));
    }
    let config = dir.join(format!("run-{id}.yaml"));
    std::fs::write(&config, yaml).expect("write the config");
    let log = dir.join(format!("run-{id}.err"));
    let mut command = Command::new(env!("CARGO_BIN_EXE_tributary"));
    command
        .arg("run")
        .arg("--config")
        .arg(&config)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"));
    let launched = Instant::now();
    let mut process = Process(spawn_kept(command).expect("start tributary"));
    let pid = process.0.id();
    let startup = loop {
        if let Ok(Some(status)) = process.0.try_wait() {
            panic!("tributary exited ({status}):\n{}", tail(&log, 30));
        }
        let (started, _) = produced(port);
        if started == n {
            break launched.elapsed();
        }
        assert!(launched.elapsed() < START_TIMEOUT, "{started} of {n} connectors produced within {START_TIMEOUT:?}");
        std::thread::sleep(Duration::from_millis(500));
    };
    std::thread::sleep(SETTLE);
    let (_, before) = produced(port);
    let (cpu_before, at) = (cpu_seconds(pid), Instant::now());
    std::thread::sleep(args.window);
    let cores = (cpu_seconds(pid) - cpu_before) / at.elapsed().as_secs_f64();
    let (_, after) = produced(port);
    let measure = Measure {
        startup,
        cores,
        rss_mib: status_kib(pid, "VmRSS").unwrap_or(0) as f64 / 1024.0,
        threads: threads(pid),
        delivered: (after - before) / (n as f64 * args.rate * at.elapsed().as_secs_f64()),
    };
    drop(process);
    measure
}

fn main() {
    let args = Args::parse();
    let broker = Broker::start(Listeners::Plain);
    let work = tempfile::Builder::new().prefix("tributary-tenants-").tempdir().expect("temp dir");
    println!(
        "tenants: sizes {:?} (own producers up to {}), {} record/s each, {} s window, load {}",
        args.sizes,
        args.baseline_max,
        args.rate,
        args.window.as_secs(),
        std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split(' ').next().unwrap_or("?")
    );
    println!("| connectors | producers | start-up s | CPU (cores) | RSS MiB | threads | records/rate |");
    println!("|---|---|---|---|---|---|---|");
    let mut id = 0;
    for &n in &args.sizes {
        for side in [Side::Shared, Side::Own] {
            if side == Side::Own && n > args.baseline_max {
                continue;
            }
            id += 1;
            let m = run(&broker, work.path(), id, side, n, &args);
            println!(
                "| {n} | {} | {:.1} | {:.3} | {:.0} | {} | {:.2} |",
                side.name(),
                m.startup.as_secs_f64(),
                m.cores,
                m.rss_mib,
                m.threads,
                m.delivered
            );
            assert!(m.delivered > 0.8, "connectors fell behind their rate: {:.2} of it", m.delivered);
        }
    }
}

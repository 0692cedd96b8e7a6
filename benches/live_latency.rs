//! Live latency of the Genesys connector — a conversation event on a simulated org until its
//! record is readable in Kafka — with and without socket deaths and their backfill, and what many
//! Genesys tenants cost one process.
//!
//! `cargo bench --bench live_latency [-- deaths] [tenants] [--rate R] [--tenants N] [--seconds S]`
//!
//! * **deaths**: one tenant, five queues, `--rate` conversations/s started on the simulated org
//!   (each makes several conversation events). A window of `--seconds` undisturbed, then one as
//!   long with the socket reset (TCP RST, no close frame) every 30 s: every death opens a gap on
//!   every queue, which the backfill then fills from the Analytics API while live events go on.
//! * **tenants**: `--tenants` connectors in one runtime, each on a simulated org of its own with
//!   five queues and a conversation every 20 s per queue; after a warm-up, a window of
//!   `--seconds`: the process's RSS and threads (the simulated orgs run in the same process, on a
//!   runtime of their own: RSS is given with and without them), CPU split between the simulators'
//!   threads and everything else, and the latency of every live record.
//!
//! Latency is measured by a consumer of the output topic (embedded broker and registry): the
//! wall-clock time a record was read minus its `receive_time_ms` (when the connector read the
//! event off its socket), for records whose `source` is `LIVE`. It covers the connector, the
//! runtime, the broker's acknowledgement and the consumer's fetch, so it bounds the connector's
//! event → acknowledgement from above; the org's own send on loopback adds a few ms (`cargo
//! bench --bench genesys`: generated → received p99 2–5 ms). The event's own time is not used:
//! a snapshot's event time is that of its conversation's latest change, which can be older than
//! the notification. Backfilled records are counted, not timed (they recover past events).
//!
//! Run without `--bench` (as `cargo test --all-targets` does) it is a quick smoke run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use genesys_cloud_sim::{Fault, SimConfig, SimHandle, Simulator, Target};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;
use tributary::avro::Decoder;
use tributary::runtime::Runtime;
use tributary_test_support::{
    clock::now_ms,
    genesys::genesys_plugins,
    procfs::{clock_ticks_per_second, parse_stat, status_kib},
    registry::registry,
    runtime::config,
};

const TOPIC: &str = "genesys.conversations";
const QUEUES: usize = 5;
const DEATH_EVERY: Duration = Duration::from_secs(30);

struct Options {
    deaths: bool,
    tenants: bool,
    rate: f64,
    count: usize,
    seconds: u64,
}

impl Options {
    fn parse() -> Options {
        let argv: Vec<String> = std::env::args().skip(1).collect();
        let full = argv.iter().any(|a| a == "--bench");
        let mut o = if full {
            Options { deaths: false, tenants: false, rate: 100.0, count: 200, seconds: 90 }
        } else {
            Options { deaths: false, tenants: false, rate: 5.0, count: 3, seconds: 5 }
        };
        let mut it = argv.iter();
        while let Some(arg) = it.next() {
            let mut value = || it.next().unwrap_or_else(|| panic!("{arg} needs a value")).clone();
            match arg.as_str() {
                "deaths" => o.deaths = true,
                "tenants" => o.tenants = true,
                "--rate" => o.rate = value().parse().expect("--rate: conversations/s"),
                "--tenants" => o.count = value().parse().expect("--tenants: a number"),
                "--seconds" => o.seconds = value().parse().expect("--seconds: a number"),
                _ => {}
            }
        }
        if !o.deaths && !o.tenants {
            (o.deaths, o.tenants) = (true, true);
        }
        o
    }
}

fn main() {
    let options = Options::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("bench-rt")
        .enable_all()
        .build()
        .expect("a tokio runtime");
    // The simulated orgs run on a runtime of their own, so that their CPU can be told apart.
    let sims = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("sim-worker")
        .enable_all()
        .build()
        .expect("the simulators' runtime");
    let limit = Duration::from_secs(options.seconds * 3 + 600);
    runtime.block_on(async {
        tokio::time::timeout(limit, async {
            if options.deaths {
                deaths(&sims, &options).await;
            }
            if options.tenants {
                tenants(&sims, &options).await;
            }
        })
        .await
        .expect("the bench finishes in time");
    });
    sims.shutdown_timeout(Duration::from_secs(10));
    runtime.shutdown_timeout(Duration::from_secs(10));
}

// ---------------------------------------------------------------------------------------------
// The pieces.

async fn start_sim(sims: &tokio::runtime::Runtime, seed: u64, arrivals_per_minute: Option<f64>) -> Arc<SimHandle> {
    let mut config = SimConfig { time_scale: 1.0, seed, ..SimConfig::default() };
    config.queues.count = QUEUES;
    config.truth.keep_bodies = false;
    config.clients[0].requests_per_minute = 3000;
    match arrivals_per_minute {
        Some(rate) => config.traffic.arrivals_per_minute = rate,
        None => config.traffic.enabled = false,
    }
    let sim = sims.spawn(Simulator::start(config)).await.expect("no panic").expect("the simulator starts");
    Arc::new(sim)
}

fn connector_yaml(name: &str, sim: &SimHandle) -> String {
    let creds = sim.credentials();
    format!(
        "  - {{name: {name}, class: genesys-cloud, topic: {TOPIC}, api_base_url: \"{}\", login_base_url: \"{}\", \
         client_id: {}, client_secret: {}, queues: {{all: true}}}}\n",
        sim.api_base_url(),
        sim.login_base_url(),
        creds.client_id,
        creds.client_secret
    )
}

async fn start_runtime(connectors: &str) -> Runtime {
    let yaml = format!(
        "kafka: {{bootstrap_servers: embedded}}\nschema_registry: {{url: embedded}}\napi: {{enabled: false}}\n\
         logging: {{level: warn}}\nconnectors:\n{connectors}"
    );
    Runtime::start(&config(&yaml), genesys_plugins()).await.expect("the runtime starts")
}

/// Starts `per_s` conversations a second, round the queues, until `stop`.
async fn drive(sim: Arc<SimHandle>, per_s: f64, stop: CancellationToken) {
    let queues = sim.queue_ids();
    let began = Instant::now();
    let mut started = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let due = (began.elapsed().as_secs_f64() * per_s) as u64;
        while started < due {
            sim.start_conversation(&queues[started as usize % queues.len()]);
            started += 1;
        }
    }
}

/// What a window's consumer saw.
#[derive(Default)]
struct Seen {
    /// Latency of each live record, in ms.
    live_ms: Vec<i64>,
    /// The same, per tenant.
    by_tenant: std::collections::HashMap<String, Vec<i64>>,
    backfilled: u64,
}

impl Seen {
    /// The highest p99 of any tenant, in ms.
    fn worst_tenant_p99(&mut self) -> i64 {
        self.by_tenant.values_mut().map(|v| percentiles(v).1).max().unwrap_or(0)
    }
}

/// Reads the output topic from its end until `stop`, timing every live record.
fn watch(bootstrap: String, registry_url: String, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Seen> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("consumer runtime");
        let decoder = Decoder::new(registry(&registry_url));
        let consumer: BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("group.id", "latency-watch")
            .set("enable.auto.commit", "false")
            .set("fetch.wait.max.ms", "10")
            .create()
            .expect("consumer");
        let metadata = consumer.fetch_metadata(Some(TOPIC), Duration::from_secs(10)).expect("metadata");
        let mut assignment = TopicPartitionList::new();
        for p in metadata.topics()[0].partitions() {
            assignment.add_partition_offset(TOPIC, p.id(), Offset::End).expect("partition");
        }
        consumer.assign(&assignment).expect("assign");
        let mut seen = Seen::default();
        while !stop.load(Ordering::Relaxed) {
            let Some(Ok(message)) = consumer.poll(Duration::from_millis(50)) else { continue };
            let read_ms = now_ms();
            let Some(payload) = message.payload() else { continue };
            let Ok((_, value)) = rt.block_on(decoder.decode_with_id(payload)) else { continue };
            if value["source"].as_str() == Some("LIVE") {
                let Some(received) = value["receive_time_ms"].as_i64() else { continue };
                seen.live_ms.push(read_ms - received);
                let tenant = value["tenant"].as_str().unwrap_or_default().to_owned();
                seen.by_tenant.entry(tenant).or_default().push(read_ms - received);
            } else {
                seen.backfilled += 1;
            }
        }
        seen
    })
}

/// p50, p99 and max of `values`, in ms.
fn percentiles(values: &mut [i64]) -> (i64, i64, i64) {
    if values.is_empty() {
        return (0, 0, 0);
    }
    values.sort_unstable();
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    (at(0.50), at(0.99), at(1.0))
}

/// CPU seconds so far of this process's threads: the simulators' and the rest.
fn cpu_split() -> (f64, f64) {
    let ticks = clock_ticks_per_second();
    let (mut sims, mut rest) = (0.0, 0.0);
    for entry in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        if let Some((name, t)) = parse_stat(&stat) {
            if name.starts_with("sim-worker") { sims += t as f64 / ticks } else { rest += t as f64 / ticks }
        }
    }
    (sims, rest)
}

/// Threads of this process not the simulators'.
fn threads_outside_sims() -> usize {
    std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            parse_stat(&stat).is_some_and(|(name, _)| !name.starts_with("sim-worker"))
        })
        .count()
}

fn rss_mib() -> f64 {
    status_kib(std::process::id(), "VmRSS").unwrap_or(0) as f64 / 1024.0
}

async fn window(runtime: &Runtime, seconds: u64, during: impl std::future::Future<Output = ()>) -> Seen {
    let stop = Arc::new(AtomicBool::new(false));
    let consumer = watch(runtime.bootstrap_servers.clone(), runtime.registry_url.clone(), stop.clone());
    let _ = tokio::time::timeout(Duration::from_secs(seconds), during).await;
    stop.store(true, Ordering::Relaxed);
    tokio::task::spawn_blocking(move || consumer.join().expect("consumer thread")).await.expect("join")
}

fn print_latency(label: &str, seen: &mut Seen) {
    let (p50, p99, max) = percentiles(&mut seen.live_ms);
    println!("| {label} | {} | {p50} | {p99} | {max} | {} |", seen.live_ms.len(), seen.backfilled);
}

// ---------------------------------------------------------------------------------------------
// The scenarios.

async fn deaths(sims: &tokio::runtime::Runtime, options: &Options) {
    let sim = start_sim(sims, 7, None).await;
    let runtime = start_runtime(&connector_yaml("live", &sim)).await;
    let stop = CancellationToken::new();
    sims.spawn(drive(sim.clone(), options.rate, stop.clone()));
    // Warm-up: channel up, the first conversations under way.
    tokio::time::sleep(Duration::from_secs(10)).await;
    println!(
        "\nlive latency, one tenant, {QUEUES} queues, {} conversations/s, windows of {} s (ms, received by the connector → read from Kafka):",
        options.rate, options.seconds
    );
    println!("| window | live records | p50 | p99 | max | backfilled records |");
    println!("|---|---|---|---|---|---|");
    let mut quiet = window(&runtime, options.seconds, std::future::pending()).await;
    print_latency("no deaths", &mut quiet);
    let killer = {
        let sim = sim.clone();
        async move {
            let mut every = tokio::time::interval(DEATH_EVERY);
            every.tick().await;
            loop {
                sim.inject(Fault::TcpReset { target: Target::All });
                every.tick().await;
            }
        }
    };
    let mut stormy = window(&runtime, options.seconds, killer).await;
    print_latency(&format!("a socket reset every {} s", DEATH_EVERY.as_secs()), &mut stormy);
    stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(60), runtime.shutdown()).await;
    if let Ok(sim) = Arc::try_unwrap(sim) {
        let _ = sims.spawn(sim.shutdown()).await;
    }
}

async fn tenants(sims: &tokio::runtime::Runtime, options: &Options) {
    let rss_before = rss_mib();
    let mut orgs = Vec::with_capacity(options.count);
    let mut yaml = String::new();
    for i in 0..options.count {
        let sim = start_sim(sims, 100 + i as u64, Some(3.0 * QUEUES as f64)).await;
        yaml.push_str(&connector_yaml(&format!("t{i}"), &sim));
        orgs.push(sim);
    }
    let rss_sims = rss_mib();
    let launched = Instant::now();
    let runtime = start_runtime(&yaml).await;
    let healthy = |runtime: &Runtime| {
        (0..options.count)
            .filter(|i| {
                runtime
                    .supervisor
                    .snapshot(&format!("t{i}"))
                    .is_ok_and(|s| s.tasks.first().is_some_and(|t| t.health == tributary::api::Health::Healthy))
            })
            .count()
    };
    while healthy(&runtime) < options.count {
        assert!(
            launched.elapsed() < Duration::from_secs(300),
            "{} of {} tenants healthy",
            healthy(&runtime),
            options.count
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let startup = launched.elapsed();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let (sims_before, rest_before) = cpu_split();
    let at = Instant::now();
    let mut seen = window(&runtime, options.seconds, std::future::pending()).await;
    let wall = at.elapsed().as_secs_f64();
    let (sims_after, rest_after) = cpu_split();
    let rss = rss_mib();
    println!(
        "\n{} Genesys tenants ({QUEUES} queues each, a conversation every 20 s per queue), {} s window:",
        options.count, options.seconds
    );
    println!(
        "| all healthy after | RSS MiB (with the orgs) | RSS MiB (less the orgs) | threads (less the orgs') | CPU cores (less the orgs') | orgs' CPU cores |"
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "| {:.1} s | {rss:.0} | {:.0} | {} | {:.3} | {:.3} |",
        startup.as_secs_f64(),
        rss - (rss_sims - rss_before),
        threads_outside_sims(),
        (rest_after - rest_before) / wall,
        (sims_after - sims_before) / wall
    );
    println!("| window | live records | p50 | p99 | max | backfilled records |");
    println!("|---|---|---|---|---|---|");
    let worst = seen.worst_tenant_p99();
    print_latency(&format!("{} tenants", options.count), &mut seen);
    println!("the worst tenant's p99: {worst} ms ({} tenants seen)", seen.by_tenant.len());
    let _ = tokio::time::timeout(Duration::from_secs(120), runtime.shutdown()).await;
    for sim in orgs {
        if let Ok(sim) = Arc::try_unwrap(sim) {
            let _ = sims.spawn(sim.shutdown()).await;
        }
    }
}

//! Figures for the Genesys connector, measured against the simulated org on 127.0.0.1.
//!
//! * `detection`: the simulator makes a socket half-open (it stops writing; TCP stays up, no
//!   close frame) and the connector's keep-alive has to notice. Many trials run at once on
//!   independent simulated orgs, each with its own connector task, with the connector's default
//!   keep-alive and with a fast profile. Each trial also measures recovery, from detection to a
//!   healthy replacement (first pong seen): on the same channel when only the socket died, on a
//!   new channel after an eviction, a token revocation or a channel expiry.
//! * `throughput`: the real runtime (embedded broker and registry) with the Genesys connector on
//!   a busy simulated org; records acknowledged by Kafka per second against the snapshots the
//!   simulator generated per second, with the process's CPU time split by thread.
//!
//! ```text
//! CARGO_TARGET_DIR=target-bench cargo bench --bench genesys -- [detection] [throughput] [--quick] [--json FILE]
//! ```
//!
//! With no selection both run. `--quick` runs a small version of each (a smoke test). Logs go to
//! stderr when `RUST_LOG` is set.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use genesys_cloud_sim::{Fault, SimConfig, SimHandle, Simulator, Target};
use rand::Rng;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tributary::api::{
    CancellationToken, Connector, ConnectorContext, Emit, Emitter, Health, NoAcknowledgements, StatusHandle,
    TaskContext, TaskError, TaskStatus,
};
use tributary::runtime::Runtime;
use tributary_genesys::{GenesysCloud, GenesysConfig};
use tributary_test_support::{
    clock::now_ms,
    genesys::genesys_plugins,
    procfs::{clock_ticks_per_second, parse_stat, status_kib},
    runtime::config,
    wait,
};

/// The whole run is bounded: a hung trial must not keep the machine busy.
const HARD_LIMIT: Duration = Duration::from_secs(20 * 60);

fn main() {
    let options = Options::parse();
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .try_init();
    }
    std::thread::spawn(|| {
        std::thread::sleep(HARD_LIMIT);
        eprintln!("genesys bench: still running after {HARD_LIMIT:?}; giving up");
        std::process::exit(2);
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("bench-rt")
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let report = runtime.block_on(run(&options));
    if let Some(path) = &options.json {
        let text = serde_json::to_string_pretty(&report).expect("the report serializes");
        std::fs::write(path, text).expect("the JSON report is written");
        println!("\nraw figures written to {path}");
    }
    runtime.shutdown_timeout(Duration::from_secs(10));
}

struct Options {
    detection: bool,
    throughput: bool,
    quick: bool,
    json: Option<String>,
    /// Offered conversations per second for the throughput phases.
    rates: Option<Vec<f64>>,
}

impl Options {
    fn parse() -> Self {
        let mut detection = false;
        let mut throughput = false;
        let mut quick = false;
        let mut json = None;
        let mut rates = None;
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "detection" => detection = true,
                "throughput" => throughput = true,
                "--quick" => quick = true,
                "--json" => json = args.next(),
                "--rates" => {
                    rates = args.next().map(|list| {
                        list.split(',')
                            .map(|r| r.trim().parse::<f64>().expect("--rates takes numbers: 200,800"))
                            .collect()
                    })
                }
                // `cargo bench` passes `--bench`; other harness flags mean nothing here.
                _ => {}
            }
        }
        if !detection && !throughput {
            detection = true;
            throughput = true;
        }
        Self { detection, throughput, quick, json, rates }
    }
}

#[derive(Debug, Default, Serialize)]
struct Report {
    detection: Vec<ProfileReport>,
    throughput: Vec<ThroughputResult>,
}

async fn run(options: &Options) -> Report {
    let mut report = Report::default();
    println!("{}", machine());
    if options.detection {
        for profile in profiles(options.quick) {
            let result = run_profile(&profile).await;
            print_profile(&result);
            report.detection.push(result);
        }
    }
    if options.throughput {
        let (phases, warmup, measure) = if options.quick {
            (vec![100.0], Duration::from_secs(3), Duration::from_secs(5))
        } else {
            (vec![200.0, 800.0, 1600.0, 2400.0], Duration::from_secs(5), Duration::from_secs(20))
        };
        let phases = options.rates.clone().unwrap_or(phases);
        for rate in phases {
            let result = throughput(rate, warmup, measure).await;
            report.throughput.push(result);
        }
        print_throughput(&report.throughput);
    }
    report
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    format!("machine: {cpus} CPU(s) available, load average {} at start", load.join(" "))
}

// ---------------------------------------------------------------------------------------------
// Detection and recovery.

/// Keep-alive settings under test, and how many trials of each kind to run with them.
struct Profile {
    name: &'static str,
    describe: &'static str,
    /// The connector's `keepalive` section; `None` keeps every default.
    keepalive: Option<Value>,
    ping_interval: Duration,
    /// How often the connector checks the channel (`HEAD` and `GET` subscriptions).
    verify_interval: Duration,
    orgs: usize,
    half_open: usize,
    evictions: usize,
    revocations: usize,
    expiries: usize,
}

fn profiles(quick: bool) -> Vec<Profile> {
    let (orgs, half_open, others, expiries) = if quick { (3, 2, 1, 0) } else { (10, 5, 2, 1) };
    vec![
        Profile {
            name: "default",
            describe: "defaults: ping every 5 s, pong deadline 5 s, watchdog 40 s, channel check every 30 s",
            keepalive: None,
            ping_interval: Duration::from_secs(5),
            verify_interval: Duration::from_secs(30),
            orgs,
            half_open,
            evictions: others,
            revocations: others,
            expiries,
        },
        Profile {
            name: "fast",
            describe: "fast: ping every 200 ms, pong deadline 500 ms, watchdog 2 s, channel check every 30 s",
            keepalive: Some(json!({"ping_interval": "200ms", "pong_timeout": "500ms", "watchdog": "2s"})),
            ping_interval: Duration::from_millis(200),
            verify_interval: Duration::from_secs(30),
            orgs,
            half_open,
            evictions: others,
            revocations: others,
            expiries: 0,
        },
    ]
}

/// One fault and what the connector made of it.
#[derive(Debug, Clone, Serialize)]
struct Trial {
    org: usize,
    fault: &'static str,
    /// The cause the connector named.
    cause: String,
    injected_ms: i64,
    detected_ms: i64,
    /// From the moment the simulator applied the fault to the connector's verdict.
    from_fault_ms: i64,
    /// From the last heartbeat or pong the connector received (its own `detection_ms`).
    from_last_proof_ms: i64,
    /// From the verdict to the replacement's first pong.
    recovery_ms: i64,
    /// The replacement socket is on the channel that lost its socket.
    same_channel: bool,
}

#[derive(Debug, Serialize)]
struct ProfileReport {
    profile: &'static str,
    settings: &'static str,
    orgs: usize,
    wall_s: f64,
    trials: Vec<Trial>,
    failures: Vec<String>,
}

/// A simulated org with one connector task on it (no Kafka: emitted records are counted and
/// dropped).
struct Org {
    index: usize,
    sim: SimHandle,
    status: StatusHandle,
    stop: CancellationToken,
    task: JoinHandle<Result<(), TaskError>>,
    drain: JoinHandle<u64>,
}

async fn start_org(index: usize, keepalive: Option<&Value>) -> Org {
    let mut sim_config = SimConfig { time_scale: 1.0, seed: 1000 + index as u64, ..SimConfig::default() };
    sim_config.queues.count = 3;
    sim_config.traffic.arrivals_per_minute = 30.0;
    sim_config.truth.keep_bodies = false;
    let sim = Simulator::start(sim_config).await.expect("the simulator starts");
    let creds = sim.credentials();
    let mut config = json!({
        "topic": "genesys.conversations",
        "api_base_url": sim.api_base_url(),
        "login_base_url": sim.login_base_url(),
        "client_id": creds.client_id,
        "client_secret": creds.client_secret,
        "queues": {"ids": sim.queue_ids()},
        // Gaps are not filled here: the figures are about the channel, not the backfill.
        "backfill": {"enabled": false},
    });
    if let Some(keepalive) = keepalive {
        config["keepalive"] = keepalive.clone();
    }
    let typed: GenesysConfig = serde_json::from_value(config).expect("the connector config deserializes");
    let issues = Connector::validate(&GenesysCloud::new(), &typed);
    assert!(issues.is_empty(), "connector config invalid: {issues:?}");
    let name: Arc<str> = format!("org-{index}").into();
    let mut tasks = GenesysCloud::new()
        .create_tasks(&ConnectorContext { name: name.clone() }, typed)
        .expect("the connector's tasks");
    let task = tasks.pop().expect("one task");
    let (emitter, mut rx) = Emitter::channel(1024);
    let drain = tokio::spawn(async move {
        let mut records = 0u64;
        while let Some(emit) = rx.recv().await {
            if matches!(emit, Emit::Record(_)) {
                records += 1;
            }
        }
        records
    });
    let status = StatusHandle::new();
    let stop = CancellationToken::new();
    let ctx =
        TaskContext::new(name, 0, HashMap::new(), emitter, Arc::new(NoAcknowledgements), status.clone(), stop.clone());
    let task = tokio::spawn(task.run(ctx));
    Org { index, sim, status, stop, task, drain }
}

impl Org {
    fn channel(&self) -> Value {
        self.status.get().detail["channels"][0].clone()
    }

    fn healthy(&self) -> bool {
        let TaskStatus { health, detail } = self.status.get();
        health == Health::Healthy && detail["channels"][0]["state"] == json!("healthy")
    }

    async fn stop(self) -> u64 {
        self.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
        let records = tokio::time::timeout(Duration::from_secs(5), self.drain).await.ok().and_then(Result::ok);
        self.sim.shutdown().await;
        records.unwrap_or(0)
    }
}

/// Polls `check` every 20 ms until it returns `Some`, up to `limit`.
async fn poll<T>(limit: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    wait::poll(limit, Duration::from_millis(20), || std::future::ready(check())).await
}

fn random_between(from: Duration, to: Duration) -> Duration {
    if to <= from {
        return from;
    }
    from + Duration::from_micros(rand::rng().random_range(0..(to - from).as_micros() as u64))
}

/// Injects `fault` once the org is healthy and waits for the connector to detect it and recover.
async fn trial(org: &Org, fault: Fault, kind: &'static str, limit: Duration) -> Result<Trial, String> {
    if poll(Duration::from_secs(60), || org.healthy().then_some(())).await.is_none() {
        return Err(format!("org {}: not healthy before a {kind} trial: {}", org.index, org.channel()));
    }
    let before = org.channel();
    let channel_before = before["channel_id"].as_str().unwrap_or_default().to_owned();
    let previous_death = before["last_death"]["detected_ms"].as_i64().unwrap_or(0);
    let record = org.sim.inject(fault);
    if record.affected.is_empty() {
        return Err(format!("org {}: the {kind} fault hit nothing ({})", org.index, record.note));
    }
    let injected_ms = record.wall_ms;
    // The shard publishes a death once it has recovered from it (status every second).
    let after = poll(limit, || {
        let channel = org.channel();
        let death = &channel["last_death"];
        let fresh = death["detected_ms"].as_i64().is_some_and(|d| d > previous_death);
        (fresh && death["recovery_ms"].is_i64() && channel["state"] == json!("healthy")).then_some(channel)
    })
    .await
    .ok_or_else(|| format!("org {}: no recovery from {kind} within {limit:?}: {}", org.index, org.channel()))?;
    let death = &after["last_death"];
    let detected_ms = death["detected_ms"].as_i64().unwrap_or_default();
    Ok(Trial {
        org: org.index,
        fault: kind,
        cause: death["cause"].as_str().unwrap_or_default().to_owned(),
        injected_ms,
        detected_ms,
        from_fault_ms: detected_ms - injected_ms,
        from_last_proof_ms: death["detection_ms"].as_i64().unwrap_or_default(),
        recovery_ms: death["recovery_ms"].as_i64().unwrap_or_default(),
        same_channel: after["channel_id"].as_str() == Some(channel_before.as_str()),
    })
}

/// Every trial of `profile` on one org.
async fn org_trials(index: usize, profile: &Profile) -> (Vec<Trial>, Vec<String>) {
    // Staggered starts, so the orgs do not ping in lockstep.
    tokio::time::sleep(Duration::from_millis(137 * index as u64)).await;
    let org = start_org(index, profile.keepalive.as_ref()).await;
    let mut plan: Vec<(&'static str, Fault)> = Vec::new();
    plan.extend((0..profile.half_open).map(|_| ("half_open", Fault::HalfOpen { target: Target::All })));
    plan.extend((0..profile.evictions).map(|_| ("eviction", Fault::Eviction { target: Target::All })));
    plan.extend((0..profile.revocations).map(|_| ("token_revocation", Fault::TokenRevocation { target: Target::All })));
    plan.extend((0..profile.expiries).map(|_| ("channel_expiry", Fault::ChannelExpiry { target: Target::All })));
    let mut trials = Vec::new();
    let mut failures = Vec::new();
    for (kind, fault) in plan {
        // Half-open faults land at a uniformly random phase of the ping cycle, expiries at one of
        // the channel-check cycle.
        let second = Duration::from_secs(1);
        let pause = match kind {
            "half_open" => random_between(second, second + profile.ping_interval),
            "channel_expiry" => random_between(second, second + profile.verify_interval),
            _ => random_between(Duration::from_millis(500), Duration::from_millis(1500)),
        };
        tokio::time::sleep(pause).await;
        let limit = if kind == "channel_expiry" { profile.verify_interval * 2 + second * 15 } else { second * 45 };
        match trial(&org, fault, kind, limit).await {
            Ok(t) => trials.push(t),
            Err(e) => failures.push(e),
        }
    }
    let stats = org.sim.stats();
    let records = org.stop().await;
    tracing::info!(org = index, records, channels_created = stats.channels_created, "org done");
    (trials, failures)
}

async fn run_profile(profile: &Profile) -> ProfileReport {
    println!("\n== detection and recovery, {} profile ({} orgs) ==", profile.name, profile.orgs);
    let started = Instant::now();
    let runs: Vec<_> = (0..profile.orgs).map(|i| org_trials(i, profile)).collect();
    let results = futures::future::join_all(runs).await;
    let mut trials = Vec::new();
    let mut failures = Vec::new();
    for (t, f) in results {
        trials.extend(t);
        failures.extend(f);
    }
    ProfileReport {
        profile: profile.name,
        settings: profile.describe,
        orgs: profile.orgs,
        wall_s: started.elapsed().as_secs_f64(),
        trials,
        failures,
    }
}

/// min, p50, p90, p99, max (nearest rank).
fn distribution(values: &[i64]) -> Option<[i64; 5]> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = |q: f64| sorted[((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1];
    Some([sorted[0], rank(0.5), rank(0.9), rank(0.99), sorted[sorted.len() - 1]])
}

fn row(label: &str, values: &[i64]) -> String {
    match distribution(values) {
        Some(d) => format!(
            "| {label} | {} | {} | {} | {} | {} | {} |",
            values.len(),
            ms(d[0]),
            ms(d[1]),
            ms(d[2]),
            ms(d[3]),
            ms(d[4])
        ),
        None => format!("| {label} | 0 | | | | | |"),
    }
}

fn ms(v: i64) -> String {
    if v.abs() >= 1000 { format!("{:.2} s", v as f64 / 1000.0) } else { format!("{v} ms") }
}

fn print_profile(report: &ProfileReport) {
    println!("settings: {}", report.settings);
    println!("{} trials on {} orgs in {:.0} s wall", report.trials.len(), report.orgs, report.wall_s);
    let of = |fault: &'static str| report.trials.iter().filter(move |t| t.fault == fault);
    let causes: BTreeMap<(&str, &str), usize> = report.trials.iter().fold(BTreeMap::new(), |mut m, t| {
        *m.entry((t.fault, t.cause.as_str())).or_default() += 1;
        m
    });
    println!("causes named: {causes:?}");
    println!("| measure | n | min | p50 | p90 | p99 | max |");
    println!("|---|---|---|---|---|---|---|");
    let half_open: Vec<&Trial> = of("half_open").collect();
    println!(
        "{}",
        row("half-open: detection from fault", &half_open.iter().map(|t| t.from_fault_ms).collect::<Vec<_>>())
    );
    println!(
        "{}",
        row(
            "half-open: detection from last pong/heartbeat",
            &half_open.iter().map(|t| t.from_last_proof_ms).collect::<Vec<_>>()
        )
    );
    let reused: Vec<i64> = half_open.iter().filter(|t| t.same_channel).map(|t| t.recovery_ms).collect();
    let renewed: Vec<i64> = half_open.iter().filter(|t| !t.same_channel).map(|t| t.recovery_ms).collect();
    println!("{}", row("half-open: recovery, same channel", &reused));
    if !renewed.is_empty() {
        println!("{}", row("half-open: recovery, new channel", &renewed));
    }
    for fault in ["eviction", "token_revocation", "channel_expiry"] {
        let trials: Vec<&Trial> = of(fault).collect();
        if trials.is_empty() {
            continue;
        }
        if fault == "channel_expiry" {
            println!(
                "{}",
                row(
                    "channel expiry: detection from fault",
                    &trials.iter().map(|t| t.from_fault_ms).collect::<Vec<_>>()
                )
            );
            println!(
                "{}",
                row(
                    "channel expiry: detection as reported (from the last proof of life)",
                    &trials.iter().map(|t| t.from_last_proof_ms).collect::<Vec<_>>()
                )
            );
        }
        let same = trials.iter().filter(|t| t.same_channel).count();
        let label = format!(
            "{}: recovery, new channel{}",
            fault.replace('_', " "),
            if same > 0 { " (some reused!)" } else { "" }
        );
        println!("{}", row(&label, &trials.iter().map(|t| t.recovery_ms).collect::<Vec<_>>()));
    }
    for failure in &report.failures {
        println!("FAILED TRIAL: {failure}");
    }
}

// ---------------------------------------------------------------------------------------------
// End-to-end throughput.

const CONNECTOR: &str = "genesys-bench";
/// Protocol seconds per real second in the throughput org: a conversation lasts 0.4–3.2 s.
const THROUGHPUT_SCALE: f64 = 100.0;
const THROUGHPUT_QUEUES: usize = 500;

#[derive(Debug, Clone, Serialize)]
struct ThroughputResult {
    /// Conversation arrivals per real second asked of the simulator.
    offered_conversations_per_s: f64,
    /// Conversations that started during the measurement, per second.
    conversations_per_s: f64,
    measure_s: f64,
    /// Snapshots written to queue topics (a transferred conversation's go to two topics).
    snapshots_per_s: f64,
    /// Distinct conversation states (what the connector emits once each).
    states_per_s: f64,
    acknowledged_per_s: f64,
    /// Acknowledged / distinct states.
    ratio: f64,
    cpu: CpuSplit,
    /// Records acknowledged per CPU second (all threads of the process).
    records_per_cpu_s: f64,
    after_drain: DrainCheck,
    reconnects: Value,
}

#[derive(Debug, Clone, Default, Serialize)]
struct CpuSplit {
    /// CPU seconds per wall second, all threads (1.0 = one core busy).
    total_cores: f64,
    /// By thread group: the simulator's runtime, the connector and runtime (`bench-rt`), Kafka
    /// (librdkafka's threads for the producer and the mock broker, the producer's poll thread),
    /// the rest.
    by_group: BTreeMap<String, f64>,
    /// By thread name, digits dropped (e.g. `rdk:broker`).
    by_thread: BTreeMap<String, f64>,
}

/// After the traffic stopped and the pipeline drained: every conversation state the simulator
/// wrote to the connector's socket against everything acknowledged.
#[derive(Debug, Clone, Default, Serialize)]
struct DrainCheck {
    conversations_started: u64,
    states_delivered: u64,
    records_acknowledged: u64,
    live_records: u64,
    backfilled_records: u64,
    duplicates_suppressed: u64,
    stale_dropped: u64,
}

fn throughput_sim_config() -> SimConfig {
    let mut config = SimConfig { time_scale: THROUGHPUT_SCALE, seed: 77, ..SimConfig::default() };
    config.queues.count = THROUGHPUT_QUEUES;
    // Arrivals come from `drive_arrivals`: the generator's own Poisson process sleeps between
    // arrivals and cannot go much past one per millisecond.
    config.traffic.enabled = false;
    config.truth.keep_bodies = false;
    config.clients[0].requests_per_minute = 3000;
    config
}

fn runtime_config(sim: &SimHandle) -> tributary::config::Config {
    let creds = sim.credentials();
    let yaml = format!(
        r#"
kafka:
  bootstrap_servers: embedded
  offsets: {{flush_interval: 5s}}
schema_registry: {{url: embedded}}
api: {{enabled: false}}
connectors:
  - name: {CONNECTOR}
    class: genesys-cloud
    topic: genesys.conversations
    api_base_url: {api}
    login_base_url: {login}
    client_id: {id}
    client_secret: {secret}
    queues: {{all: true}}
"#,
        api = sim.api_base_url(),
        login = sim.login_base_url(),
        id = creds.client_id,
        secret = creds.client_secret,
    );
    config(&yaml)
}

async fn throughput(conversations_per_s: f64, warmup: Duration, measure: Duration) -> ThroughputResult {
    println!("\n== throughput: {conversations_per_s} conversations/s offered ==");
    let phase_began = Instant::now();
    // The simulator runs on a runtime of its own so its CPU time can be told apart.
    let sim_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("sim-worker")
        .enable_all()
        .build()
        .expect("the simulator's runtime");
    let sim = sim_runtime
        .spawn(Simulator::start(throughput_sim_config()))
        .await
        .expect("the simulator starts without panicking")
        .expect("the simulator starts");
    let sim = Arc::new(sim);
    let config = runtime_config(&sim);
    let runtime = Runtime::start(&config, genesys_plugins()).await.expect("the runtime starts");

    let task_status = |runtime: &Runtime| {
        runtime.supervisor.snapshot(CONNECTOR).ok().and_then(|s| s.tasks.first().cloned()).unwrap_or_default()
    };
    let acknowledged =
        |runtime: &Runtime| runtime.supervisor.snapshot(CONNECTOR).map(|s| s.records_acknowledged).unwrap_or(0);
    let up = poll(Duration::from_secs(60), || {
        let status = task_status(&runtime);
        (status.health == Health::Healthy).then_some(())
    })
    .await;
    assert!(up.is_some(), "the connector did not become healthy: {:?}", runtime.supervisor.status(CONNECTOR));
    let stop_arrivals = CancellationToken::new();
    let driver = sim_runtime.spawn(drive_arrivals(sim.clone(), conversations_per_s, stop_arrivals.clone()));
    tokio::time::sleep(warmup).await;

    let cpu_before = cpu_sample();
    let t0 = now_ms();
    let acked_before = acknowledged(&runtime);
    tokio::time::sleep(measure).await;
    let t1 = now_ms();
    let acked_after = acknowledged(&runtime);
    let cpu_after = cpu_sample();

    // Stop the arrivals, let conversations in progress end and the pipeline drain.
    stop_arrivals.cancel();
    let started = driver.await.unwrap_or(0);
    let mut last = acknowledged(&runtime);
    let mut still = 0;
    let drain_deadline = Instant::now() + Duration::from_secs(30);
    while still < 10 && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = acknowledged(&runtime);
        still = if now == last { still + 1 } else { 0 };
        last = now;
    }
    println!("measured; drained in {:.0} s", phase_began.elapsed().as_secs_f64());
    let final_status = task_status(&runtime);
    let truth = sim.truth();
    let window = |from: i64, to: i64| {
        let mut snapshots = 0u64;
        let mut states = HashSet::new();
        for s in truth.snapshots.iter().filter(|s| s.generated_ms >= from && s.generated_ms < to) {
            snapshots += 1;
            states.insert((s.conversation_id.as_str(), s.generated_ms, s.phase.as_str()));
        }
        (snapshots, states.len() as u64)
    };
    let (snapshots, states) = window(t0, t1);
    let conversations: HashSet<&str> = truth
        .snapshots
        .iter()
        .filter(|s| s.conversation_start_ms >= t0 && s.conversation_start_ms < t1)
        .map(|s| s.conversation_id.as_str())
        .collect();
    // Everything the simulator wrote to the connector's socket, once per conversation state.
    let offered: HashSet<(&str, i64, &str)> = truth
        .snapshots
        .iter()
        .filter(|s| !s.deliveries.is_empty())
        .map(|s| (s.conversation_id.as_str(), s.generated_ms, s.phase.as_str()))
        .collect();
    let counts = &final_status.detail["counts"];
    let count = |k: &str| counts[k].as_u64().unwrap_or(0);
    let reconnects: Value = final_status.detail["channels"]
        .as_array()
        .map(|c| c.iter().map(|c| c["reconnects"].clone()).collect())
        .unwrap_or(Value::Null);
    let wall = (t1 - t0) as f64 / 1000.0;
    let acked = acked_after.saturating_sub(acked_before) as f64;
    let cpu = cpu_split(&cpu_before, &cpu_after, wall);
    let cpu_seconds = cpu.total_cores * wall;
    let result = ThroughputResult {
        offered_conversations_per_s: conversations_per_s,
        conversations_per_s: conversations.len() as f64 / wall,
        measure_s: wall,
        snapshots_per_s: snapshots as f64 / wall,
        states_per_s: states as f64 / wall,
        acknowledged_per_s: acked / wall,
        ratio: if states > 0 { acked / states as f64 } else { 0.0 },
        records_per_cpu_s: if cpu_seconds > 0.0 { acked / cpu_seconds } else { 0.0 },
        cpu,
        after_drain: DrainCheck {
            conversations_started: started,
            states_delivered: offered.len() as u64,
            records_acknowledged: last,
            live_records: count("live_records"),
            backfilled_records: count("backfilled_records"),
            duplicates_suppressed: count("duplicates_suppressed"),
            stale_dropped: count("stale_dropped"),
        },
        reconnects,
    };
    println!("{}", serde_json::to_string(&result).unwrap_or_default());

    let _ = tokio::time::timeout(Duration::from_secs(60), runtime.shutdown()).await;
    drop(truth);
    if let Ok(sim) = Arc::try_unwrap(sim) {
        let _ = sim_runtime.spawn(sim.shutdown()).await;
    }
    sim_runtime.shutdown_background();
    println!("phase done in {:.0} s; peak RSS so far {} MiB", phase_began.elapsed().as_secs_f64(), peak_rss_mib());
    result
}

/// Starts `per_s` conversations a second, evenly spaced, round the queues, until `stop`; returns
/// how many it started. Each runs the simulator's own lifecycle.
async fn drive_arrivals(sim: Arc<SimHandle>, per_s: f64, stop: CancellationToken) -> u64 {
    let queues = sim.queue_ids();
    let began = Instant::now();
    let mut started = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return started,
            _ = tick.tick() => {}
        }
        let due = (began.elapsed().as_secs_f64() * per_s) as u64;
        while started < due {
            // A stride prime to the queue count visits every queue evenly.
            let queue = &queues[(started as usize).wrapping_mul(7919) % queues.len()];
            sim.start_conversation(queue);
            started += 1;
        }
    }
}

fn print_throughput(results: &[ThroughputResult]) {
    println!("\n== end-to-end throughput (simulator → connector → Avro → embedded Kafka, acknowledged) ==");
    println!(
        "| offered conv/s (started) | snapshots/s | distinct states/s | acked records/s | acked / states | CPU cores used (sim / connector+runtime / kafka / other) | records per CPU s |"
    );
    println!("|---|---|---|---|---|---|---|");
    for r in results {
        let g = |k: &str| r.cpu.by_group.get(k).copied().unwrap_or(0.0);
        println!(
            "| {:.0} ({:.0}) | {:.0} | {:.0} | {:.0} | {:.3} | {:.2} ({:.2} / {:.2} / {:.2} / {:.2}) | {:.0} |",
            r.offered_conversations_per_s,
            r.conversations_per_s,
            r.snapshots_per_s,
            r.states_per_s,
            r.acknowledged_per_s,
            r.ratio,
            r.cpu.total_cores,
            g("simulator"),
            g("connector+runtime"),
            g("kafka"),
            g("other"),
            r.records_per_cpu_s,
        );
    }
    for r in results {
        println!(
            "after drain at {:.0} conv/s: {} conversations started, {} distinct states written to the socket, {} acknowledged ({} live, {} backfilled, {} duplicates suppressed, {} stale dropped); reconnects {}",
            r.offered_conversations_per_s,
            r.after_drain.conversations_started,
            r.after_drain.states_delivered,
            r.after_drain.records_acknowledged,
            r.after_drain.live_records,
            r.after_drain.backfilled_records,
            r.after_drain.duplicates_suppressed,
            r.after_drain.stale_dropped,
            r.reconnects,
        );
    }
}

/// The process's peak resident set (`VmHWM`), MiB.
fn peak_rss_mib() -> u64 {
    status_kib(std::process::id(), "VmHWM").map_or(0, |kb| kb / 1024)
}

// ---------------------------------------------------------------------------------------------
// CPU time, from /proc (Linux): per thread, so the simulator's share can be taken out.

struct CpuSample {
    /// Whole process, including threads that have exited.
    process_ticks: u64,
    /// Per thread id: (name, ticks).
    threads: HashMap<u64, (String, u64)>,
}

fn cpu_sample() -> CpuSample {
    let process_ticks =
        std::fs::read_to_string("/proc/self/stat").ok().and_then(|t| parse_stat(&t)).map_or(0, |(_, ticks)| ticks);
    let mut threads = HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for entry in dir.flatten() {
            let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse::<u64>().ok()) else { continue };
            if let Some(stat) = std::fs::read_to_string(entry.path().join("stat")).ok().and_then(|t| parse_stat(&t)) {
                threads.insert(tid, stat);
            }
        }
    }
    CpuSample { process_ticks, threads }
}

fn group(thread: &str) -> &'static str {
    if thread.starts_with("sim-worker") {
        "simulator"
    } else if thread.starts_with("bench-rt") {
        "connector+runtime"
    } else if thread.starts_with("rdk:") || thread.starts_with("producer") || thread.starts_with("embedded-kafka") {
        "kafka"
    } else {
        "other"
    }
}

fn cpu_split(before: &CpuSample, after: &CpuSample, wall_s: f64) -> CpuSplit {
    if wall_s <= 0.0 {
        return CpuSplit::default();
    }
    let mut by_group: BTreeMap<String, f64> = BTreeMap::new();
    let mut by_thread: BTreeMap<String, f64> = BTreeMap::new();
    for (tid, (name, ticks)) in &after.threads {
        let earlier = before.threads.get(tid).map_or(0, |(_, t)| *t);
        let cores = ticks.saturating_sub(earlier) as f64 / clock_ticks_per_second() / wall_s;
        *by_group.entry(group(name).to_owned()).or_default() += cores;
        let base: String = name.chars().filter(|c| !c.is_ascii_digit()).collect();
        *by_thread.entry(base).or_default() += cores;
    }
    by_thread.retain(|_, cores| *cores > 0.0);
    let total = after.process_ticks.saturating_sub(before.process_ticks) as f64 / clock_ticks_per_second() / wall_s;
    CpuSplit { total_cores: total, by_group, by_thread }
}

//! Backfill throughput: conversations recovered per second from the Analytics API within a
//! stated request budget.
//!
//! A simulated org takes traffic while nobody listens; then the Genesys connector starts with
//! stored watermarks from before that span, so its first coverage leaves one gap per queue, which
//! it backfills. Measured: the time from start until no gap is left, the conversations it
//! recovered, and the requests it spent. Records go to an in-memory sink (no Kafka): this measures
//! the backfill, not the producer.
//!
//! ```text
//! cargo bench --bench backfill                                  # budget 240/min, pages of 100
//! cargo bench --bench backfill -- --budget 600 --page-size 200 --conversations 3000
//! ```

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use genesys_cloud_sim::{SimConfig, Simulator};
use serde_json::{Value, json};
use tributary::api::{
    CancellationToken, Connector, ConnectorContext, Emit, Emitter, NoAcknowledgements, SourceOffset, SourcePartition,
    StatusHandle, TaskContext,
};
use tributary_genesys::GenesysCloud;
use tributary_test_support::{clock::now_ms, simulator::requests};

struct Options {
    budget: u32,
    page_size: u32,
    conversations: u64,
    queues: usize,
    jobs: bool,
}

fn options() -> Options {
    let mut o = Options { budget: 240, page_size: 100, conversations: 2000, queues: 20, jobs: false };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |default: u64| args.next().and_then(|v| v.parse().ok()).unwrap_or(default);
        match arg.as_str() {
            "--budget" => o.budget = number(o.budget.into()).try_into().unwrap_or(o.budget),
            "--page-size" => o.page_size = number(o.page_size.into()).try_into().unwrap_or(o.page_size),
            "--conversations" => o.conversations = number(o.conversations),
            "--queues" => o.queues = number(o.queues as u64).try_into().unwrap_or(o.queues),
            "--jobs" => o.jobs = true,
            // `cargo bench` passes `--bench`; `cargo test` runs this as a smoke test.
            _ => {}
        }
    }
    if std::env::args().any(|a| a == "--test" || a == "--list") || !std::env::args().any(|a| a == "--bench") {
        o.conversations = o.conversations.min(100);
    }
    o
}

fn main() {
    let options = options();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(run(options));
}

async fn run(o: Options) {
    // Time scale 60: analytics lands within ~1.5 s; the rate limit of the org (300 per protocol
    // minute) is far above the connector's own budget, which is what is measured.
    let mut cfg = SimConfig { time_scale: 60.0, seed: 5, ..SimConfig::default() };
    cfg.queues.count = o.queues;
    cfg.traffic.arrivals_per_minute = 300.0;
    cfg.truth.keep_bodies = false;
    cfg.analytics.data_lake_lag = Duration::from_secs(120);
    let sim = Arc::new(Simulator::start(cfg).await.expect("simulator starts"));
    let gap_start = now_ms();
    // Traffic while nobody listens.
    while sim.stats().conversations_started < o.conversations {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    sim.pause_traffic(true);
    while !sim.truth().conversations().values().all(|c| c.end_ms.is_some()) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let analytics catch up with the last of them, then take live traffic again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    sim.pause_traffic(false);
    let conversations = sim.truth().conversations().len();

    let creds = sim.credentials();
    let config = json!({
        "topic": "bench",
        "api_base_url": sim.api_base_url(), "login_base_url": sim.login_base_url(),
        "client_id": creds.client_id, "client_secret": creds.client_secret,
        "queues": {"ids": sim.queue_ids()},
        "keepalive": {"ping_interval": "1s", "pong_timeout": "2s", "watchdog": "5s", "verify_interval": "10s"},
        "rest": {"requests_per_minute": o.budget},
        "backfill": {"safety_margin": "2s", "settle": "2s", "page_size": o.page_size, "confirm_with_jobs": o.jobs, "max_gap": "24h"},
    });
    let typed = serde_json::from_value(config).expect("config");
    let mut tasks = GenesysCloud::new().create_tasks(&ConnectorContext { name: "bench".into() }, typed).expect("tasks");
    let task = tasks.remove(0);
    let (emitter, mut rx) = Emitter::channel(4096);
    let drained = tokio::spawn(async move {
        let mut backfilled = 0u64;
        while let Some(emit) = rx.recv().await {
            if let Emit::Record(r) = emit
                && serde_json::to_value(&r.value.body).ok().and_then(|v| v.get("source").cloned())
                    == Some(Value::String("BACKFILL".into()))
            {
                backfilled += 1;
            }
        }
        backfilled
    });
    let stored: HashMap<SourcePartition, SourceOffset> = sim
        .queue_ids()
        .into_iter()
        .map(|q| (SourcePartition::single("queue_id", q), SourceOffset::single_i64("watermark_ms", gap_start)))
        .collect();
    let status = StatusHandle::new();
    let stop = CancellationToken::new();
    let ctx = TaskContext::new(
        "bench".into(),
        0,
        stored,
        emitter,
        Arc::new(NoAcknowledgements),
        status.clone(),
        stop.clone(),
    );
    let before = requests(&sim);
    let started = Instant::now();
    let handle = tokio::spawn(task.run(ctx));
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let detail = status.get().detail;
        let done = detail["backfill"]["gaps_done"].as_u64().unwrap_or(0);
        if done >= o.queues as u64 && detail["gaps"].as_array().is_some_and(Vec::is_empty) {
            break;
        }
        assert!(Instant::now() < deadline, "backfill did not finish: {detail:#}");
    }
    let elapsed = started.elapsed();
    let spent = requests(&sim) - before;
    let detail = status.get().detail;
    stop.cancel();
    let _ = handle.await;
    let backfilled = drained.await.unwrap_or(0);
    let found = detail["backfill"]["conversations"].as_u64().unwrap_or(0);
    let secs = elapsed.as_secs_f64();
    println!("backfill: {} queues, {conversations} conversations in the gap", o.queues);
    println!(
        "  budget {} requests/min, page size {}, data-lake confirmation {}",
        o.budget,
        o.page_size,
        if o.jobs { "on" } else { "off" }
    );
    // The budget is a token bucket that starts full (10 requests), so a short run averages above it.
    let allowed = 10.0 + f64::from(o.budget) * secs / 60.0;
    println!("  gaps closed in {secs:.1} s with {spent} requests (the budget allowed {allowed:.0} in that time)");
    println!(
        "  {found} conversation rows fetched, {backfilled} backfill records emitted: {:.0} conversations/s recovered",
        conversations as f64 / secs
    );
}

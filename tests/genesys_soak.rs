//! A long soak, not run by default: `tributary run` (a child process) against a simulated org with
//! random faults for an hour of wall time, consumed continuously and judged by the ground truth.
//! It reports missed conversations, duplicates, reconnects by cause, backfill volume and the
//! child's memory over time (which must stay flat).
//!
//! ```text
//! SOAK_MINUTES=60 cargo test --release --test genesys_soak -- --ignored --nocapture
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use genesys_cloud_sim::{FaultKind, ObservedRecord, Simulator, VerifyOptions, verify};
use rdkafka::Message;
use rdkafka::consumer::Consumer;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{Value, json};
use tributary::kafka::EmbeddedKafka;
use tributary::schema_registry::EmbeddedRegistry;
use tributary_test_support::{
    cli::*, clock::now_ms, genesys::*, pipeline::*, procfs::status_kib, registry::*, rest::connector_status,
    simulator::sim_config, topics::*, truth::*, workspace,
};

const TRIBUTARY: &str = env!("CARGO_BIN_EXE_tributary");

/// The connector's first task in the status `tributary run` serves at `rest`.
async fn status(rest: &str) -> Value {
    connector_status(rest, NAME).await["tasks"][0].clone()
}

/// Consumes `topic` from the beginning for as long as `stop` is unset, decoding every record.
fn spawn_consumer(
    bootstrap: String,
    registry_url: String,
    partitions: i32,
    out: Arc<Mutex<Vec<ObservedRecord>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<rdkafka::message::OwnedMessage>();
    std::thread::spawn(move || {
        let consumer = consumer(&bootstrap);
        let mut assignment = TopicPartitionList::new();
        for p in 0..partitions {
            assignment.add_partition_offset(TOPIC, p, Offset::Beginning).expect("partition");
        }
        consumer.assign(&assignment).expect("assign");
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
                let _ = tx.send(m.detach());
            }
        }
    });
    tokio::spawn(async move {
        let decoder = decoder(&registry_url);
        while let Some(m) = rx.recv().await {
            let Some(payload) = m.payload() else { continue };
            let Ok(mut value) = decoder.decode(payload).await else { continue };
            place(&mut value, m.partition(), m.offset());
            if let Ok(record) = ObservedRecord::from_json(&value) {
                out.lock().expect("observed").push(record);
            }
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "an hour long; run by hand (see the module doc)"]
async fn soak() {
    let minutes: u64 = std::env::var("SOAK_MINUTES").ok().and_then(|m| m.parse().ok()).unwrap_or(60);
    let partitions = 16;
    let kafka = tokio::task::spawn_blocking(|| EmbeddedKafka::start(1)).await.expect("join").expect("broker");
    kafka.create_topic("tributary-offsets", 3).expect("offsets topic");
    kafka.create_topic(TOPIC, partitions).expect("topic");
    let registry = EmbeddedRegistry::start(SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("registry");
    // A protocol day per real hour, 20 queues, faults of every kind.
    let mut sim = sim_config(24.0, 20, 10.0, 99);
    sim.truth.keep_bodies = false;
    sim.analytics.data_lake_lag = Duration::from_secs(3600);
    sim.faults.random.rates_per_hour = [
        (FaultKind::HalfOpen, 0.5),
        (FaultKind::TcpReset, 0.5),
        (FaultKind::Close, 0.5),
        (FaultKind::SocketClosing, 0.3),
        (FaultKind::ChannelExpiry, 0.2),
        (FaultKind::Eviction, 0.2),
        (FaultKind::TokenRevocation, 0.2),
        (FaultKind::RateLimitBurst, 0.3),
        (FaultKind::ServerErrorBurst, 0.3),
        (FaultKind::AnalyticsDelaySpike, 0.1),
        (FaultKind::BadFrame, 0.5),
    ]
    .into_iter()
    .collect();
    let sim = Arc::new(Simulator::start(sim).await.expect("simulator"));

    let dir = tempfile::tempdir().expect("temp dir");
    let schemas = workspace().join("schemas");
    let mut entry = connector_entry(&sim);
    entry["keepalive"] =
        json!({"ping_interval": "1s", "pong_timeout": "2s", "watchdog": "5s", "verify_interval": "5s"});
    entry["backfill"] = json!({"safety_margin": "10s", "settle": "10s", "max_wait": "10m"});
    // The duplicate gate's memory is bounded by its TTLs; shorter ones than the defaults (6 h) let
    // an hour show the plateau (the data lake lags one protocol hour, 2.5 real minutes, here).
    entry["dedup"] = json!({"event_ttl": "10m", "conversation_ttl": "10m"});
    let text = format!(
        "schemas_dir: {}\n{}",
        schemas.display(),
        config_text(
            &format!("  bootstrap_servers: {}\n  offsets:\n    partitions: 3", kafka.bootstrap_servers()),
            &format!("  url: {}", registry.url()),
            &entry,
        )
        .replace("api:\n  enabled: false", "api:\n  listen: 127.0.0.1:0")
    );
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, text).expect("config written");

    let mut cli = RunningCli::start(TRIBUTARY, &path);
    let rest = cli.rest_address(Duration::from_secs(60));
    cli.wait_for_log("channel healthy", Duration::from_secs(60));
    let pid = cli.child.id();
    let from_ms = now_ms();
    let observed = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    spawn_consumer(kafka.bootstrap_servers().to_owned(), registry.url(), partitions, observed.clone(), stop.clone());

    let started = Instant::now();
    let mut rss: Vec<(u64, u64)> = Vec::new();
    while started.elapsed() < Duration::from_secs(minutes * 60) {
        tokio::time::sleep(Duration::from_secs(60)).await;
        let s = status(&rest).await;
        let kib = status_kib(pid, "VmRSS").unwrap_or(0);
        rss.push((started.elapsed().as_secs() / 60, kib));
        eprintln!(
            "soak {:>3} min  rss {:>7} KiB  records {:>7}  reconnects {}  rollovers {}  gaps {}  backfill {}",
            started.elapsed().as_secs() / 60,
            kib,
            observed.lock().expect("observed").len(),
            reconnects(&s["detail"]).iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
            s["detail"]["channels"]
                .as_array()
                .map(|c| c.iter().map(|c| c["rollovers"].as_u64().unwrap_or(0)).sum::<u64>())
                .unwrap_or(0),
            s["detail"]["gaps"].as_array().map(Vec::len).unwrap_or(0),
            s["detail"]["backfill"]["conversations"],
        );
    }
    sim.pause_random_faults(true);
    sim.pause_traffic(true);
    let to_ms = now_ms();
    let deadline = Instant::now() + Duration::from_secs(1800);
    loop {
        let s = status(&rest).await;
        if s["health"]["state"] == "HEALTHY"
            && s["detail"]["gaps"].as_array().is_some_and(Vec::is_empty)
            && sim.truth().conversations().values().all(|c| c.end_ms.is_some())
        {
            break;
        }
        assert!(Instant::now() < deadline, "did not settle: {s:#}");
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    let last = status(&rest).await;
    cli.signal("TERM");
    assert!(cli.wait_exit(Duration::from_secs(60)).success());
    stop.store(true, std::sync::atomic::Ordering::Relaxed);

    let observed = observed.lock().expect("observed").clone();
    let report = verify(&sim.truth(), &observed, &VerifyOptions::new(sim.queue_ids(), from_ms, to_ms));
    let mut faults: BTreeMap<String, usize> = BTreeMap::new();
    for f in &sim.truth().faults {
        *faults.entry(format!("{:?}", f.fault.kind())).or_default() += 1;
    }
    eprintln!(
        "soak: {minutes} min\n{}\n  faults: {faults:?}\n  reconnects by cause: {:?}\n  backfill: {}\n  counts: {}\n  rss (min, KiB): {rss:?}",
        report.summary(),
        reconnects(&last["detail"]),
        last["detail"]["backfill"],
        last["detail"]["counts"],
    );
    assert_complete(&report);
    if let (Some(early), Some(late)) = (rss.iter().find(|(m, _)| *m >= 10), rss.last()) {
        assert!(
            late.1 <= early.1 * 3 / 2,
            "memory grew from {} KiB at {} min to {} KiB at {} min",
            early.1,
            early.0,
            late.1,
            late.0
        );
    }
}

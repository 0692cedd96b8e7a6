//! A simulated day of chaos: 50 queues, a seeded random schedule of every fault kind, the day
//! time-scaled into a few minutes, written to a real Apache Kafka broker. Judged by the
//! simulator's ground truth read back from Kafka: zero conversations and zero final states
//! missing. Duplicates are reported, not failed.
//!
//! Replay a failure with the seed it printed: `CHAOS_SEED=<seed> cargo test --test genesys_chaos`.

use std::collections::BTreeMap;
use std::time::Duration;

use genesys_cloud_sim::FaultKind;
use tributary_test_support::{clock::now_ms, pipeline::*, simulator::sim_config, truth::*, wait::bounded};

/// Protocol seconds per real second: a 24 h day in 180 s.
const TIME_SCALE: f64 = 480.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_of_chaos_loses_nothing() {
    let seed: u64 = std::env::var("CHAOS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20_261_130);
    let day = Duration::from_secs_f64(24.0 * 3600.0 / TIME_SCALE);
    eprintln!("chaos: seed {seed}, a simulated day in {day:?}");
    bounded(day + Duration::from_secs(240), async move {
        let mut sim = sim_config(TIME_SCALE, 50, 2.0, seed);
        sim.analytics.data_lake_lag = Duration::from_secs(2 * 3600);
        sim.truth.keep_bodies = false;
        let rates: BTreeMap<FaultKind, f64> = [
            (FaultKind::HalfOpen, 0.3),
            (FaultKind::TcpReset, 0.3),
            (FaultKind::Close, 0.3),
            (FaultKind::SocketClosing, 0.2),
            (FaultKind::ChannelExpiry, 0.2),
            (FaultKind::Eviction, 0.2),
            (FaultKind::TokenRevocation, 0.15),
            (FaultKind::RateLimitBurst, 0.2),
            (FaultKind::ServerErrorBurst, 0.2),
            (FaultKind::SlowResponses, 0.1),
            (FaultKind::AnalyticsDelaySpike, 0.1),
            (FaultKind::BadFrame, 0.3),
        ]
        .into_iter()
        .collect();
        sim.faults.random.rates_per_hour = rates;

        let broker = tokio::task::spawn_blocking(|| tributary_test_support::broker::Broker::start(tributary_test_support::broker::Listeners::Plain))
            .await
            .expect("broker thread");
        let mut stack = Stack::start_on(Kafka::Broker(&broker), sim, 32, |_| {}).await;
        stack.wait_for("a healthy connector", Duration::from_secs(30), Stack::healthy).await;
        let from_ms = now_ms();
        let started = std::time::Instant::now();
        while started.elapsed() < day {
            tokio::time::sleep(Duration::from_secs(10)).await;
            let d = stack.detail();
            eprintln!(
                "chaos: {:>3}s  faults {:>3}  reconnects {:?}  rollovers {}  gaps {}  backfilled {}",
                started.elapsed().as_secs(),
                stack.sim.truth().faults.len(),
                stack.reconnects(),
                d["channels"].as_array().map(|c| c.iter().map(|c| c["rollovers"].as_u64().unwrap_or(0)).sum::<u64>()).unwrap_or(0),
                d["gaps"].as_array().map(Vec::len).unwrap_or(0),
                d["counts"]["backfilled_records"],
            );
        }
        // Faults stop with the day; what they broke must still be repaired.
        stack.sim.pause_random_faults(true);
        let (report, observed) = stack.settle_and_verify(from_ms, Duration::from_secs(180)).await;
        let truth = stack.sim.truth();
        let mut faults: BTreeMap<String, usize> = BTreeMap::new();
        for f in &truth.faults {
            *faults.entry(format!("{:?}", f.fault.kind())).or_default() += 1;
        }
        let d = stack.detail();
        eprintln!(
            "chaos: seed {seed}\n  faults applied: {faults:?}\n  reconnects by cause: {:?}\n  records: {} ({} live, {} backfill), duplicates suppressed in the connector: {}, stale dropped: {}\n  backfill: {}",
            stack.reconnects(),
            observed.len(),
            report.live_records,
            report.backfill_records,
            d["counts"]["duplicates_suppressed"],
            d["counts"]["stale_dropped"],
            d["backfill"],
        );
        assert!(faults.len() >= 8, "most fault kinds happened: {faults:?}");
        assert_complete(&report);
        stack.shutdown().await;
    })
    .await;
}

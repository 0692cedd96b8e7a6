//! Gap backfill through the whole pipeline: whatever happens to the socket, the analytics delay,
//! the rate limit or the broker, no conversation that touched a subscribed queue is missing from
//! Kafka, and the last record of every conversation is its final state. The simulator's ground
//! truth is the judge.

use std::time::Duration;

use genesys_cloud_sim::{EndpointClass, Fault, Target};
use tributary_test_support::{clock::now_ms, pipeline::*, simulator::sim_config, truth::*, wait::bounded};

const LIMIT: Duration = Duration::from_secs(240);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unplanned_deaths_lose_nothing() {
    bounded(LIMIT, async {
        let mut stack = Stack::start(sim_config(60.0, 4, 40.0, 11), 6, |_| {}).await;
        stack.wait_for("a healthy connector", Duration::from_secs(20), Stack::healthy).await;
        let from_ms = now_ms();
        for fault in [Fault::HalfOpen { target: Target::All }, Fault::TcpReset { target: Target::All }] {
            tokio::time::sleep(Duration::from_secs(3)).await;
            let before: u64 = stack.reconnects().values().sum();
            stack.sim.inject(fault);
            stack
                .wait_for("the death to be detected", Duration::from_secs(10), |s| {
                    s.reconnects().values().sum::<u64>() > before
                })
                .await;
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        let (report, _) = stack.settle_and_verify(from_ms, Duration::from_secs(90)).await;
        assert_complete(&report);
        assert!(report.backfill_records > 0, "the gaps were filled from analytics: {}", report.summary());
        stack.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_delay_longer_than_the_gap_is_waited_out() {
    bounded(LIMIT, async {
        let mut sim = sim_config(60.0, 3, 40.0, 12);
        // Quick passes find nothing for a while: only the data lake (or a late pass) has them.
        sim.analytics.data_lake_lag = Duration::from_secs(600);
        let mut stack = Stack::start(sim, 6, |_| {}).await;
        stack.wait_for("a healthy connector", Duration::from_secs(20), Stack::healthy).await;
        let from_ms = now_ms();
        tokio::time::sleep(Duration::from_secs(2)).await;
        // Everything generated in the next 5 protocol minutes lands in analytics 10 minutes late
        // (10 s real), much longer than the gap the half-open socket causes.
        stack.sim.inject(Fault::AnalyticsDelaySpike {
            extra_delay: Duration::from_secs(600),
            duration: Duration::from_secs(300),
        });
        stack.sim.inject(Fault::HalfOpen { target: Target::All });
        stack.wait_for("the death", Duration::from_secs(10), |s| !s.reconnects().is_empty()).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let (report, _) = stack.settle_and_verify(from_ms, Duration::from_secs(120)).await;
        assert_complete(&report);
        stack.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_storm_during_backfill_is_obeyed() {
    bounded(LIMIT, async {
        let mut stack = Stack::start(sim_config(60.0, 3, 40.0, 13), 6, |_| {}).await;
        stack.wait_for("a healthy connector", Duration::from_secs(20), Stack::healthy).await;
        let from_ms = now_ms();
        tokio::time::sleep(Duration::from_secs(2)).await;
        // Analytics answers 429 for a while, right when the gap's backfill starts.
        stack.sim.inject(Fault::RateLimitBurst {
            count: None,
            duration: Some(Duration::from_secs(240)),
            endpoints: vec![EndpointClass::Analytics, EndpointClass::Conversations],
            client: None,
            retry_after: Duration::from_secs(1),
        });
        stack.sim.inject(Fault::TcpReset { target: Target::All });
        stack.wait_for("the death", Duration::from_secs(10), |s| !s.reconnects().is_empty()).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let (report, _) = stack.settle_and_verify(from_ms, Duration::from_secs(120)).await;
        assert_complete(&report);
        let stats = stack.sim.stats();
        let client = &stats.clients["tributary-sim"];
        assert!(client.fault_429s > 0, "the storm happened: {client:?}");
        assert!(client.early_requests.is_empty(), "Retry-After obeyed: {:?}", client.early_requests);
        stack.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_outage_is_back_pressure_then_nothing_missing() {
    bounded(LIMIT, async {
        let mut stack = Stack::start(sim_config(60.0, 3, 40.0, 14), 6, |_| {}).await;
        stack.wait_for("a healthy connector", Duration::from_secs(20), Stack::healthy).await;
        let from_ms = now_ms();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let kafka = stack.runtime().embedded_kafka.clone().expect("embedded broker");
        let k = kafka.clone();
        tokio::task::spawn_blocking(move || k.all_down()).await.expect("join").expect("broker down");
        tokio::time::sleep(Duration::from_secs(8)).await;
        let k = kafka.clone();
        tokio::task::spawn_blocking(move || k.all_up()).await.expect("join").expect("broker up");
        let (report, _) = stack.settle_and_verify(from_ms, Duration::from_secs(120)).await;
        assert_complete(&report);
        stack.shutdown().await;
    })
    .await;
}

//! `tributary run` is killed with SIGKILL mid-stream and started again: it resumes every queue
//! from its stored watermark and backfills the downtime, so nothing is missing (duplicates are
//! allowed, and counted). The broker, the registry and the simulated org live in this test
//! process, so they outlive the killed one.

use std::net::SocketAddr;
use std::time::Duration;

use genesys_cloud_sim::{Simulator, VerifyOptions, verify};
use serde_json::Value;
use tributary::kafka::EmbeddedKafka;
use tributary::schema_registry::EmbeddedRegistry;
use tributary_test_support::{
    cli::*, clock::now_ms, genesys::*, pipeline::*, rest::connector_status, simulator::sim_config, truth::*,
    wait::bounded, workspace,
};

const TRIBUTARY: &str = env!("CARGO_BIN_EXE_tributary");

/// The connector's first task in the status `tributary run` serves at `rest`.
async fn detail(rest: &str) -> Value {
    connector_status(rest, NAME).await["tasks"][0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_stream_then_restart_loses_nothing() {
    bounded(Duration::from_secs(300), async {
        let kafka = tokio::task::spawn_blocking(|| EmbeddedKafka::start(1)).await.expect("join").expect("broker");
        kafka.create_topic("tributary-offsets", 3).expect("offsets topic");
        kafka.create_topic(TOPIC, 6).expect("topic");
        let registry = EmbeddedRegistry::start(SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("registry");
        let sim = std::sync::Arc::new(Simulator::start(sim_config(60.0, 3, 40.0, 21)).await.expect("simulator"));

        let dir = tempfile::tempdir().expect("temp dir");
        let schemas = workspace().join("schemas");
        let text = format!(
            "schemas_dir: {}\n{}",
            schemas.display(),
            config_text(
                &format!(
                    "  bootstrap_servers: {}\n  offsets:\n    flush_interval: 1s\n    partitions: 3",
                    kafka.bootstrap_servers()
                ),
                &format!("  url: {}", registry.url()),
                &connector_entry(&sim),
            )
            .replace("api:\n  enabled: false", "api:\n  listen: 127.0.0.1:0")
        );
        let path = dir.path().join("config.yaml");
        std::fs::write(&path, text).expect("config written");

        let mut first = RunningCli::start(TRIBUTARY, &path);
        let rest = first.rest_address(Duration::from_secs(30));
        first.wait_for_log("channel healthy", Duration::from_secs(30));
        // Conversations from before the first channel are not covered (no initial window).
        tokio::time::sleep(Duration::from_secs(1)).await;
        let from_ms = now_ms();
        // Let records and offset commits flow, then kill it without warning.
        tokio::time::sleep(Duration::from_secs(6)).await;
        first.signal("KILL");
        let status = first.wait_exit(Duration::from_secs(10));
        assert!(!status.success(), "killed, not exited: {status}");
        let killed_at = now_ms();
        // Conversations go on while nothing listens.
        tokio::time::sleep(Duration::from_secs(6)).await;

        let mut second = RunningCli::start(TRIBUTARY, &path);
        let rest2 = second.rest_address(Duration::from_secs(30));
        assert_ne!(rest, "");
        second.wait_for_log("gaps to backfill", Duration::from_secs(30));
        sim.pause_traffic(true);
        let to_ms = now_ms();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            let d = detail(&rest2).await;
            let settled = d["health"]["state"] == "HEALTHY"
                && d["detail"]["gaps"].as_array().is_some_and(Vec::is_empty)
                && sim.truth().conversations().values().all(|c| c.end_ms.is_some());
            if settled {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "did not settle: {d:#}\n{}", second.output());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        second.signal("TERM");
        assert!(second.wait_exit(Duration::from_secs(30)).success());

        let observed = read_observed(kafka.bootstrap_servers(), &registry.url()).await;
        let report = verify(&sim.truth(), &observed, &VerifyOptions::new(sim.queue_ids(), from_ms, to_ms));
        eprintln!("killed at {killed_at}; {}", report.summary());
        assert_complete(&report);
        assert!(report.backfill_records > 0, "the downtime was backfilled");
        drop(kafka);
    })
    .await;
}

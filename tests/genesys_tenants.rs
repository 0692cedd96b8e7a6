//! Three tenants in one process: one healthy, one with bad credentials, one whose org is under a
//! 429 storm. The healthy one loses nothing and its latency stays low; the bad one is FAILED with
//! the reason and recovers once its config is fixed and reloaded.

use std::sync::Arc;
use std::time::Duration;

use genesys_cloud_sim::{Fault, Simulator, VerifyOptions, verify};
use serde_json::{Value, json};
use tributary::reload::ConfigSource;
use tributary::runtime::{Runtime, StartOptions};
use tributary_test_support::{
    clock::now_ms,
    genesys::*,
    rest::{get_json, wait_json},
    runtime::{NoEnv, fast_backoff},
    simulator::sim_config,
    truth::*,
    wait::bounded,
    workspace,
};

fn entry(name: &str, sim: &genesys_cloud_sim::SimHandle, secret: &str) -> Value {
    let mut e = connector_entry(sim);
    e["name"] = json!(name);
    e["topic"] = json!(format!("{name}.conversations"));
    e["client_secret"] = json!(secret);
    e
}

fn file(entries: &[Value]) -> String {
    let schemas = workspace().join("schemas");
    let mut text = format!(
        "schemas_dir: {}\nkafka:\n  bootstrap_servers: embedded\n  embedded_partitions: 4\n  offsets:\n    flush_interval: 1s\n\
         schema_registry:\n  url: embedded\napi:\n  listen: 127.0.0.1:0\nconnectors:\n",
        schemas.display()
    );
    for e in entries {
        text.push_str(&format!("  - {}\n", serde_json::to_string(e).unwrap_or_default()));
    }
    text
}

/// The status of connector `name` of the runtime at `base` (`null` while it does not answer).
async fn status(base: &str, name: &str) -> Value {
    get_json(&format!("{base}/connectors/{name}/status")).await
}

/// Waits until the status of connector `name` satisfies `check`, up to `timeout`.
async fn wait_status(base: &str, name: &str, what: &str, timeout: Duration, check: impl Fn(&Value) -> bool) -> Value {
    wait_json(&format!("{base}/connectors/{name}/status"), &format!("{name}: {what}"), timeout, check).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_tenant_never_slows_the_others() {
    bounded(Duration::from_secs(300), async {
        let healthy = Arc::new(Simulator::start(sim_config(60.0, 3, 40.0, 31)).await.expect("sim a"));
        let wrong = Arc::new(Simulator::start(sim_config(60.0, 2, 20.0, 32)).await.expect("sim b"));
        let stormy = Arc::new(Simulator::start(sim_config(60.0, 2, 20.0, 33)).await.expect("sim c"));
        // The third org answers nothing but 429 for a while (its budget is spent elsewhere).
        stormy.inject(Fault::RateLimitBurst {
            count: None,
            duration: Some(Duration::from_secs(1800)),
            endpoints: Vec::new(),
            client: None,
            retry_after: Duration::from_secs(60),
        });

        let good_secret = wrong.credentials().client_secret;
        let entries = vec![
            entry("alpha", &healthy, &healthy.credentials().client_secret),
            entry("bravo", &wrong, "definitely-wrong-secret"),
            entry("charlie", &stormy, &stormy.credentials().client_secret),
        ];
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("config.yaml");
        std::fs::write(&path, file(&entries)).expect("config written");
        let loaded = tributary::validate::validate_file(&path, &NoEnv, &genesys_plugins()).expect("valid config");
        let options = StartOptions {
            backoff: fast_backoff(),
            source: Some(ConfigSource { path: path.clone(), env: Arc::new(NoEnv) }),
        };
        let runtime =
            Runtime::start_with_options(&loaded.config, genesys_plugins(), options).await.expect("runtime starts");
        let base = format!("http://{}", runtime.rest_addr.expect("api"));

        wait_status(&base, "alpha", "health", Duration::from_secs(30), |s| {
            s["tasks"][0]["health"]["state"] == "HEALTHY"
        })
        .await;
        let from_ms = now_ms();
        let failed =
            wait_status(&base, "bravo", "FAILED", Duration::from_secs(30), |s| s["connector"]["state"] == "FAILED")
                .await;
        let trace = failed["connector"]["trace"].as_str().unwrap_or_default().to_owned();
        assert!(trace.contains("tributary-sim"), "the reason names the client: {trace}");
        assert!(!trace.contains("definitely-wrong-secret"), "never the secret: {trace}");

        // Alpha works on while bravo is failed and charlie is rate-limited.
        tokio::time::sleep(Duration::from_secs(10)).await;
        let charlie = status(&base, "charlie").await;
        assert_ne!(
            charlie["tasks"][0]["health"]["state"], "HEALTHY",
            "charlie cannot be healthy under a 429 storm: {charlie:#}"
        );

        // Fix bravo's secret and reload: it recovers; the others are not touched.
        let fixed = vec![entries[0].clone(), entry("bravo", &wrong, &good_secret), entries[2].clone()];
        std::fs::write(&path, file(&fixed)).expect("config rewritten");
        let reload = reqwest::Client::new().post(format!("{base}/reload")).send().await.expect("reload");
        assert!(reload.status().is_success(), "reload: {:?}", reload.text().await);
        wait_status(&base, "bravo", "recovery", Duration::from_secs(30), |s| {
            s["connector"]["state"] == "RUNNING" && s["tasks"][0]["health"]["state"] == "HEALTHY"
        })
        .await;
        let alpha = status(&base, "alpha").await;
        assert_eq!(alpha["runtime"]["runs"], json!(1), "alpha was never restarted: {alpha:#}");

        // Judge alpha by its org's truth: nothing missing, and live latency stayed low.
        healthy.pause_traffic(true);
        let to_ms = now_ms();
        tokio::time::sleep(Duration::from_secs(8)).await;
        let observed =
            read_observed_topic(&runtime.bootstrap_servers, &runtime.registry_url, "alpha.conversations").await;
        let report = verify(&healthy.truth(), &observed, &VerifyOptions::new(healthy.queue_ids(), from_ms, to_ms));
        eprintln!("alpha: {}", report.summary());
        assert!(report.missing.is_empty(), "{}", report.summary());
        let latency = report.latency.as_ref().expect("live records have a latency");
        assert!(latency.p99_ms < 1000, "alpha's latency suffered: {}", report.summary());
        runtime.shutdown().await;
    })
    .await;
}

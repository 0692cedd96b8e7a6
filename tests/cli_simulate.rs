//! `tributary simulate genesys` as a standalone org, a `tributary run` pointed at it, and
//! `tributary simulate verify` judging the topic against the org's ground truth dump.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use serde_json::json;
use tributary::kafka::EmbeddedKafka;
use tributary::schema_registry::EmbeddedRegistry;
use tributary_test_support::{cli::*, clock::now_ms, genesys::*, pipeline::*, wait::bounded, workspace};

const TRIBUTARY: &str = env!("CARGO_BIN_EXE_tributary");

/// `tributary simulate genesys --config CONFIG`, its stdout collected; killed on drop.
fn simulate(config: &std::path::Path) -> RunningCli {
    let args = [std::ffi::OsStr::new("simulate"), "genesys".as_ref(), "--config".as_ref(), config.as_os_str()];
    RunningCli::spawn(TRIBUTARY, args, Collect::Stdout)
}

fn field<'a>(out: &'a str, label: &str) -> Vec<&'a str> {
    out.lines().filter_map(|l| l.strip_prefix(label)).map(str::trim).collect()
}

fn verify_cli(config: &std::path::Path, args: &[String]) -> (bool, String) {
    let output = Command::new(TRIBUTARY)
        .args(["simulate", "verify", "--config"])
        .arg(config)
        .args(args)
        .output()
        .expect("verify runs");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standalone_org_a_pipeline_and_the_verifier() {
    bounded(Duration::from_secs(240), async {
        let dir = tempfile::tempdir().expect("temp dir");
        let truth = dir.path().join("truth.jsonl");
        let sim_config = dir.path().join("sim.yaml");
        std::fs::write(
            &sim_config,
            format!(
                "time_scale: 60\nqueues: {{count: 2}}\ntraffic: {{arrivals_per_minute: 30}}\ntruth: {{dump_path: {}}}\n",
                truth.display()
            ),
        )
        .expect("sim config");
        let mut sim = simulate(&sim_config);
        sim.wait_for_log("time scale:", Duration::from_secs(30));
        let out = sim.output();
        let api = field(&out, "API base URL:")[0].to_owned();
        let login = field(&out, "login base URL:")[0].to_owned();
        let client = field(&out, "client:")[0].split(" / ").map(str::to_owned).collect::<Vec<_>>();
        let queues: Vec<String> =
            field(&out, "queue:").iter().filter_map(|l| l.split_whitespace().next().map(str::to_owned)).collect();
        assert_eq!(queues.len(), 2, "{out}");

        let kafka = tokio::task::spawn_blocking(|| EmbeddedKafka::start(1)).await.expect("join").expect("broker");
        kafka.create_topic("tributary-offsets", 3).expect("offsets topic");
        kafka.create_topic(TOPIC, 4).expect("topic");
        let registry = EmbeddedRegistry::start(SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("registry");
        let entry = json!({
            "name": NAME, "class": "genesys-cloud", "topic": TOPIC,
            "api_base_url": api, "login_base_url": login, "client_id": client[0], "client_secret": client[1],
            "queues": {"ids": queues},
            "keepalive": {"ping_interval": "200ms", "pong_timeout": "500ms", "watchdog": "2s", "verify_interval": "500ms"},
            "rest": {"requests_per_minute": 20000},
        });
        let schemas = workspace().join("schemas");
        let run_config = dir.path().join("config.yaml");
        std::fs::write(
            &run_config,
            format!(
                "schemas_dir: {}\n{}",
                schemas.display(),
                config_text(
                    &format!("  bootstrap_servers: {}\n  offsets:\n    partitions: 3", kafka.bootstrap_servers()),
                    &format!("  url: {}", registry.url()),
                    &entry
                )
            ),
        )
        .expect("run config");

        let mut run = RunningCli::start(TRIBUTARY, &run_config);
        run.wait_for_log("channel healthy", Duration::from_secs(60));
        tokio::time::sleep(Duration::from_secs(1)).await;
        let from_ms = now_ms();
        tokio::time::sleep(Duration::from_secs(8)).await;
        let to_ms = now_ms() - 2000;
        run.signal("TERM");
        assert!(run.wait_exit(Duration::from_secs(30)).success(), "{}", run.output());
        sim.signal("INT");
        sim.wait_for_log("truth written", Duration::from_secs(30));

        let common = vec![
            "--truth".to_owned(),
            truth.display().to_string(),
            "--topic".to_owned(),
            TOPIC.to_owned(),
            "--bootstrap-servers".to_owned(),
            kafka.bootstrap_servers().to_owned(),
            "--registry-url".to_owned(),
            registry.url(),
        ];
        let mut covered = common.clone();
        covered.extend(["--from-ms".to_owned(), from_ms.to_string(), "--to-ms".to_owned(), to_ms.to_string()]);
        let (ok, text) = verify_cli(&run_config, &covered);
        assert!(ok, "the covered window is complete:\n{text}");
        assert!(text.contains("expected conversations"), "{text}");

        // Before the pipeline started nothing was covered: the verifier says so and fails.
        let (ok, text) = verify_cli(&run_config, &common);
        assert!(!ok, "conversations from before the pipeline started are missing:\n{text}");
        assert!(text.contains("missing"), "{text}");
        drop(kafka);
    })
    .await;
}

//! `tributary simulate genesys` as a standalone org, a `tributary run` pointed at it, and
//! `tributary simulate verify` judging the topic against the org's ground truth dump.

mod common;
mod genesys_support;

use std::io::BufRead;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::RunningCli;
use genesys_support::*;
use serde_json::json;
use tributary::kafka::EmbeddedKafka;
use tributary::schema_registry::EmbeddedRegistry;

/// The standalone simulator; interrupted (by pid) on drop.
struct SimProcess {
    child: std::process::Child,
    out: Arc<Mutex<String>>,
}

impl SimProcess {
    fn start(config: &std::path::Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tributary"))
            .args(["simulate", "genesys", "--config"])
            .arg(config)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the simulator starts");
        let out = Arc::new(Mutex::new(String::new()));
        let pipe = child.stdout.take().expect("stdout");
        let sink = out.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut s = sink.lock().expect("buffer");
                s.push_str(&line);
                s.push('\n');
            }
        });
        Self { child, out }
    }

    fn wait_for(&self, text: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let out = self.out.lock().expect("buffer").clone();
            if out.contains(text) {
                return out;
            }
            assert!(Instant::now() < deadline, "no `{text}` from the simulator:\n{out}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn interrupt(&self) {
        let status = Command::new("kill").args(["-s", "INT", &self.child.id().to_string()]).status().expect("kill");
        assert!(status.success());
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

fn field<'a>(out: &'a str, label: &str) -> Vec<&'a str> {
    out.lines().filter_map(|l| l.strip_prefix(label)).map(str::trim).collect()
}

fn verify_cli(config: &std::path::Path, args: &[String]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_tributary"))
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
        let sim = SimProcess::start(&sim_config);
        let out = sim.wait_for("time scale:", Duration::from_secs(30));
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
        let schemas = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
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

        let mut run = RunningCli::start(&run_config);
        run.wait_for_log("channel healthy", Duration::from_secs(60));
        tokio::time::sleep(Duration::from_secs(1)).await;
        let from_ms = now_ms();
        tokio::time::sleep(Duration::from_secs(8)).await;
        let to_ms = now_ms() - 2000;
        run.signal("TERM");
        assert!(run.wait_exit(Duration::from_secs(30)).success(), "{}", run.stderr());
        sim.interrupt();
        sim.wait_for("truth written", Duration::from_secs(30));

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

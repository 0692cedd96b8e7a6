//! `tributary run` re-reads its config file on SIGHUP: a new connector starts, the running one is
//! left alone, and an invalid file is logged and changes nothing. The REST API it serves shows it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

const WAIT: Duration = Duration::from_secs(45);

struct Run {
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Run {
    fn start(config: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tributary"))
            .args(["run", "--config"])
            .arg(config)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tributary starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let pipe = child.stderr.take().expect("stderr piped");
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut text = sink.lock().unwrap_or_else(|e| e.into_inner());
                text.push_str(&line);
                text.push('\n');
            }
        });
        Self { child, stderr }
    }

    fn log(&self) -> String {
        self.stderr.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn wait_for_log(&self, text: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let log = self.log();
            if let Some(line) = log.lines().find(|l| l.contains(text)) {
                return line.to_owned();
            }
            assert!(Instant::now() < deadline, "no `{text}` within {WAIT:?}:\n{log}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill").arg(format!("-{name}")).arg(self.child.id().to_string()).status();
        assert!(status.is_ok_and(|s| s.success()), "kill -{name}");
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(schemas: &Path, connectors: &str) -> String {
    format!(
        "kafka:\n  bootstrap_servers: embedded\n  offsets:\n    flush_interval: 500ms\n\
         schema_registry:\n  url: embedded\n\
         schemas_dir: {}\n\
         api:\n  listen: 127.0.0.1:0\n\
         connectors:\n{connectors}",
        schemas.display()
    )
}

async fn get(http: &reqwest::Client, url: &str) -> Value {
    http.get(url).send().await.expect("request").json().await.expect("json")
}

async fn wait_json(http: &reqwest::Client, url: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let body = get(http, url).await;
        if check(&body) {
            return body;
        }
        assert!(Instant::now() < deadline, "{what} not reached within {WAIT:?}: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_config_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let schemas = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let path = dir.path().join("config.yaml");
    let one = "  - {name: one, class: datagen, topic: hup.one, rate: 50, record_bytes: 100}\n";
    std::fs::write(&path, config(&schemas, one)).expect("config");

    let run = Run::start(&path);
    let line = run.wait_for_log("REST API at http://");
    let base = line.trim().trim_start_matches("REST API at ").to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{line}");
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
    let running =
        |s: &Value| s["connector"]["state"] == "RUNNING" && s["tasks"].as_array().is_some_and(|t| !t.is_empty());
    let before = wait_json(&http, &format!("{base}/connectors/one/status"), "one running", running).await;

    let two = "  - {name: two, class: datagen, topic: hup.two, rate: 50, record_bytes: 100}\n";
    std::fs::write(&path, config(&schemas, &format!("{one}{two}"))).expect("config");
    run.signal("HUP");
    wait_json(&http, &format!("{base}/connectors/two/status"), "two running", |s| running(s)).await;
    let after = get(&http, &format!("{base}/connectors/one/status")).await;
    assert_eq!(after["runtime"]["runs"], 1, "one was not restarted: {after}");
    assert_eq!(after["runtime"]["running_since"], before["runtime"]["running_since"]);
    run.wait_for_log("config reloaded");

    // An invalid file: logged with its error, nothing changes.
    let broken = "  - {name: two, class: datagen, topic: hup.two, rate: -1}\n";
    std::fs::write(&path, config(&schemas, &format!("{one}{broken}"))).expect("config");
    run.signal("HUP");
    let rejected = run.wait_for_log("config reload rejected");
    assert!(rejected.contains("connectors[1].rate"), "{rejected}");
    let names = get(&http, &format!("{base}/connectors")).await;
    assert_eq!(names, serde_json::json!(["one", "two"]));
    assert!(running(&get(&http, &format!("{base}/connectors/two/status")).await));

    run.signal("TERM");
    let mut run = run;
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = run.child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "did not exit after SIGTERM:\n{}", run.log());
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0), "{}", run.log());
}

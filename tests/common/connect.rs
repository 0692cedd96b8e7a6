//! A Kafka Connect worker (distributed mode, 4.3.0) for tests: `scripts/kafka-connect.sh run` on a
//! free REST port of 127.0.0.1 against a broker, with its offsets in a topic of the test's
//! choosing. Stopped on drop.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::apicurio::http_ok;
use super::broker::{free_port, spawn_kept, terminate};
use super::repo;

const START_TIMEOUT: Duration = Duration::from_secs(120);

pub struct ConnectWorker {
    _dir: tempfile::TempDir,
    port: u16,
    child: Child,
}

impl ConnectWorker {
    /// A worker of group `group` on `bootstrap` whose offset storage topic is `offsets_topic`.
    pub fn start(bootstrap: &str, group: &str, offsets_topic: &str) -> ConnectWorker {
        let dir = tempfile::Builder::new().prefix("tributary-connect-").tempdir().expect("temp dir");
        let port = free_port();
        let output = dir.path().join("run.out");
        let out = std::fs::File::create(&output).expect("output file");
        let mut command = Command::new("bash");
        command
            .arg(repo().join("scripts/kafka-connect.sh"))
            .arg("run")
            .arg(dir.path().join("state"))
            .env("CONNECT_BOOTSTRAP", bootstrap)
            .env("CONNECT_REST_PORT", port.to_string())
            .env("CONNECT_GROUP", group)
            .env("CONNECT_OFFSETS_TOPIC", offsets_topic)
            .env("CONNECT_CONFIGS_TOPIC", format!("{group}-configs"))
            .env("CONNECT_STATUS_TOPIC", format!("{group}-status"))
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("output file"))
            .stderr(out);
        let started = Instant::now();
        let mut child = spawn_kept(command).expect("scripts/kafka-connect.sh starts");
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                let log = std::fs::read_to_string(&output).unwrap_or_default();
                panic!("the Kafka Connect worker exited ({status}) before its REST API answered:\n{log}");
            }
            if http_ok(port, "/connectors") {
                break;
            }
            if started.elapsed() > START_TIMEOUT {
                terminate(&mut child, Duration::from_secs(10));
                panic!("the Kafka Connect worker's REST API did not answer within {START_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        eprintln!("kafka connect REST API answered {:.1} s after launch", started.elapsed().as_secs_f64());
        ConnectWorker { _dir: dir, port, child }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for ConnectWorker {
    fn drop(&mut self) {
        terminate(&mut self.child, Duration::from_secs(15));
    }
}

//! A Kafka Connect worker (distributed mode, 4.3.0) for tests: `scripts/kafka-connect.sh run` on a
//! free REST port of 127.0.0.1 against a broker, with its offsets in a topic of the test's
//! choosing. Stopped on drop, and with the test process.

use std::process::Child;
use std::time::Duration;

use crate::services::{free_port, http_ok, start_service, terminate};

const START_TIMEOUT: Duration = Duration::from_secs(120);

/// A running worker; stopped on drop.
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
        let env = [
            ("CONNECT_BOOTSTRAP", bootstrap.to_owned()),
            ("CONNECT_REST_PORT", port.to_string()),
            ("CONNECT_GROUP", group.to_owned()),
            ("CONNECT_OFFSETS_TOPIC", offsets_topic.to_owned()),
            ("CONNECT_CONFIGS_TOPIC", format!("{group}-configs")),
            ("CONNECT_STATUS_TOPIC", format!("{group}-status")),
        ];
        let child =
            start_service("kafka-connect.sh", dir.path(), &env, "the Kafka Connect worker", START_TIMEOUT, || {
                http_ok(port, "/connectors")
            });
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

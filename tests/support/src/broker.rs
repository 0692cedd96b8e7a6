//! A real Apache Kafka broker: `scripts/kafka-broker.sh run` (single-node KRaft, every listener
//! on 127.0.0.1) in a temporary folder, on free ports; plain, or with TLS and SASL listeners and
//! the test certificates of `scripts/test-certs.sh`.
//!
//! One broker per test binary ([`Broker::shared`]); a test that stops and restarts its broker
//! starts a private one ([`Broker::start`]). The JVM dies with the test process (see
//! [`crate::services`]). `.ci/run` fetches the jars (`scripts/fetch-jars.sh`); without Java or the
//! jars, starting fails and says what to run.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::services::{free_port, require_java, start_service, terminate};
use crate::workspace;

/// A PLAIN user of the secured broker's SASL_SSL listener.
pub const PLAIN_USER: (&str, &str) = ("alice", "alice-secret-pw");
/// A SCRAM-SHA-512 user of the secured broker's SASL_SSL listener.
pub const SCRAM_USER: (&str, &str) = ("carol", "carol-scram-pw");

/// Adds OAUTHBEARER to the SASL_SSL listener's mechanisms.
const OAUTHBEARER_PROPERTIES: &str = "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512,OAUTHBEARER
listener.name.sasl_ssl.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512,OAUTHBEARER
listener.name.sasl_ssl.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;
";

/// How long a broker may take to answer after launch (a cargo build may hold both cores).
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// Which listeners a broker has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listeners {
    /// PLAINTEXT only.
    Plain,
    /// PLAINTEXT, SSL, SASL_SSL (PLAIN and SCRAM-SHA-512 users, and OAUTHBEARER with unsigned
    /// JWTs) and SSL with client certificates.
    Secured,
}

#[derive(Debug, Clone, Copy)]
struct Ports {
    plain: u16,
    controller: u16,
    ssl: u16,
    sasl_ssl: u16,
    mtls: u16,
}

/// A broker process and its folder; stopped (SIGTERM) on drop, and with the test process.
pub struct Broker {
    dir: tempfile::TempDir,
    ports: Ports,
    listeners: Listeners,
    child: Mutex<Option<Child>>,
}

impl Broker {
    /// The broker of this test binary, started on first use with every listener.
    pub fn shared() -> &'static Broker {
        static SHARED: OnceLock<Broker> = OnceLock::new();
        SHARED.get_or_init(|| Broker::start(Listeners::Secured))
    }

    /// A broker of this test's own; panics if it does not answer within two minutes.
    pub fn start(listeners: Listeners) -> Broker {
        require_java();
        let dir = tempfile::Builder::new().prefix("tributary-kafka-").tempdir().expect("temp dir");
        let ports = Ports {
            plain: free_port(),
            controller: free_port(),
            ssl: free_port(),
            sasl_ssl: free_port(),
            mtls: free_port(),
        };
        if listeners == Listeners::Secured {
            make_certs(&dir.path().join("certs"));
        }
        let broker = Broker { dir, ports, listeners, child: Mutex::new(None) };
        broker.launch();
        broker
    }

    /// `127.0.0.1:PORT` of the PLAINTEXT listener.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.ports.plain)
    }

    /// `127.0.0.1:PORT` of a TLS listener: `ssl` (server certificate only), `sasl_ssl`, or `mtls`
    /// (SSL requiring a client certificate).
    pub fn secured_bootstrap(&self, listener: &str) -> String {
        self.secured();
        let port = match listener {
            "ssl" => self.ports.ssl,
            "sasl_ssl" => self.ports.sasl_ssl,
            "mtls" => self.ports.mtls,
            other => panic!("no listener `{other}`: ssl, sasl_ssl or mtls"),
        };
        format!("127.0.0.1:{port}")
    }

    /// The folder of `scripts/test-certs.sh`: `ca.crt`, `server.crt`/`.key`, `client.crt`/`.key`,
    /// `other-ca.crt`.
    pub fn certs(&self) -> PathBuf {
        self.secured();
        self.dir.path().join("certs")
    }

    fn secured(&self) {
        assert_eq!(self.listeners, Listeners::Secured, "this broker has no TLS listeners");
    }

    /// Stops the broker (SIGTERM, then SIGKILL after 30 s) and waits for it to exit. Its data
    /// stays for [`Broker::restart`].
    pub fn stop(&self) {
        let Some(mut child) = self.child.lock().expect("child").take() else { return };
        terminate(&mut child, Duration::from_secs(30));
    }

    /// Starts the stopped broker again on the same ports and data.
    pub fn restart(&self) {
        self.launch();
    }

    fn launch(&self) {
        let mut env = vec![
            ("KAFKA_PORT", self.ports.plain.to_string()),
            ("KAFKA_CONTROLLER_PORT", self.ports.controller.to_string()),
        ];
        if self.listeners == Listeners::Secured {
            env.extend([
                ("KAFKA_TLS_DIR", self.dir.path().join("certs").display().to_string()),
                ("KAFKA_SSL_PORT", self.ports.ssl.to_string()),
                ("KAFKA_SASL_SSL_PORT", self.ports.sasl_ssl.to_string()),
                ("KAFKA_MTLS_PORT", self.ports.mtls.to_string()),
                ("KAFKA_PLAIN_USERS", format!("{}:{}", PLAIN_USER.0, PLAIN_USER.1)),
                ("KAFKA_SCRAM_USERS", format!("{}:{}", SCRAM_USER.0, SCRAM_USER.1)),
                // OAUTHBEARER with Kafka's unsecured validator: it accepts an unsigned JWT whose
                // `sub` names the principal (see `token_endpoint::unsecured_jwt`).
                ("KAFKA_EXTRA_PROPERTIES", OAUTHBEARER_PROPERTIES.to_owned()),
            ]);
        }
        let child = start_service("kafka-broker.sh", self.dir.path(), &env, "the Kafka broker", START_TIMEOUT, || {
            TcpStream::connect(("127.0.0.1", self.ports.plain)).is_ok() && self.answers()
        });
        *self.child.lock().expect("child") = Some(child);
    }

    /// Whether the broker answers a metadata request with itself in it.
    fn answers(&self) -> bool {
        let consumer: Result<BaseConsumer, _> =
            ClientConfig::new().set("bootstrap.servers", self.bootstrap()).set("log_level", "0").create();
        consumer
            .ok()
            .and_then(|c| c.fetch_metadata(None, Duration::from_secs(2)).ok())
            .is_some_and(|m| !m.brokers().is_empty())
    }

    /// An admin client of the PLAINTEXT listener.
    pub fn admin(&self) -> AdminClient<DefaultClientContext> {
        ClientConfig::new().set("bootstrap.servers", self.bootstrap()).create().expect("admin client")
    }

    /// Creates `name` with `configs` (e.g. `cleanup.policy`); an existing topic is an error.
    pub async fn create_topic(&self, name: &str, partitions: i32, configs: &[(&str, &str)]) {
        let mut topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
        for (key, value) in configs {
            topic = topic.set(key, value);
        }
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(20)));
        let results = self.admin().create_topics([&topic], &options).await.expect("create topics");
        for r in results {
            r.unwrap_or_else(|(t, e)| panic!("cannot create {t}: {e}"));
        }
    }

    /// A topic config's value as the broker reports it.
    pub async fn topic_config(&self, topic: &str, key: &str) -> Option<String> {
        let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(20)));
        let mut described =
            self.admin().describe_configs([&ResourceSpecifier::Topic(topic)], &options).await.expect("describe");
        let resource = described.pop().expect("one resource").expect("described");
        resource.get(key).and_then(|e| e.value.clone())
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Ok(mut child) = self.child.lock()
            && let Some(mut child) = child.take()
        {
            terminate(&mut child, Duration::from_secs(10));
        }
    }
}

/// Makes the test certificates (`scripts/test-certs.sh`) in `dir`: a CA, a server certificate
/// for `localhost` and `127.0.0.1`, a client certificate, and an unrelated CA.
pub fn make_certs(dir: &Path) {
    let status = Command::new("bash")
        .arg(workspace().join("scripts/test-certs.sh"))
        .arg(dir)
        .stdout(Stdio::null())
        .status()
        .expect("scripts/test-certs.sh runs");
    assert!(status.success(), "scripts/test-certs.sh failed ({status})");
}

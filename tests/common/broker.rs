//! A real Apache Kafka broker for tests: `scripts/kafka-broker.sh run` (single-node KRaft, all on
//! 127.0.0.1) in a temporary folder, on free ports.
//!
//! One broker per test binary ([`Broker::shared`]); a test that stops and restarts its broker
//! starts a private one ([`Broker::start`]). The JVM is spawned from a thread that lives as long
//! as the test process and asks the kernel to end it with that process, so a test binary that
//! panics or is killed leaves no broker behind. `.ci/run` fetches the jars
//! (`scripts/fetch-jars.sh`); without Java or the jars, starting fails and says what to run.
//!
//! Self-contained, so that every support module of `tests/` can include it.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};

/// The repository root.
fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

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

/// A broker process and its folder; stopped (SIGTERM) on drop.
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

    /// A broker of this test's own.
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

    /// `127.0.0.1:PORT` of the SSL listener (server certificate only).
    pub fn ssl_bootstrap(&self) -> String {
        self.secured();
        format!("127.0.0.1:{}", self.ports.ssl)
    }

    /// `127.0.0.1:PORT` of the SASL_SSL listener.
    pub fn sasl_ssl_bootstrap(&self) -> String {
        self.secured();
        format!("127.0.0.1:{}", self.ports.sasl_ssl)
    }

    /// `127.0.0.1:PORT` of the SSL listener that requires a client certificate.
    pub fn mtls_bootstrap(&self) -> String {
        self.secured();
        format!("127.0.0.1:{}", self.ports.mtls)
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
        let state = self.dir.path().join("state");
        let mut command = Command::new("bash");
        command
            .arg(repo().join("scripts/kafka-broker.sh"))
            .arg("run")
            .arg(&state)
            .env("KAFKA_PORT", self.ports.plain.to_string())
            .env("KAFKA_CONTROLLER_PORT", self.ports.controller.to_string())
            .stdin(Stdio::null());
        if self.listeners == Listeners::Secured {
            command
                .env("KAFKA_TLS_DIR", self.dir.path().join("certs"))
                .env("KAFKA_SSL_PORT", self.ports.ssl.to_string())
                .env("KAFKA_SASL_SSL_PORT", self.ports.sasl_ssl.to_string())
                .env("KAFKA_MTLS_PORT", self.ports.mtls.to_string())
                .env("KAFKA_PLAIN_USERS", format!("{}:{}", PLAIN_USER.0, PLAIN_USER.1))
                .env("KAFKA_SCRAM_USERS", format!("{}:{}", SCRAM_USER.0, SCRAM_USER.1))
                // OAUTHBEARER with Kafka's unsecured validator: it accepts an unsigned JWT whose
                // `sub` names the principal (see `token_endpoint::unsecured_jwt`).
                .env("KAFKA_EXTRA_PROPERTIES", OAUTHBEARER_PROPERTIES);
        }
        let output = self.dir.path().join("run.out");
        let out = std::fs::File::create(&output).expect("output file");
        command.stdout(out.try_clone().expect("output file")).stderr(out);
        let started = Instant::now();
        let mut child = spawn_kept(command).expect("scripts/kafka-broker.sh starts");
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                panic!("the Kafka broker exited ({status}) before it answered:\n{}", self.log_tail(&output));
            }
            if TcpStream::connect(("127.0.0.1", self.ports.plain)).is_ok() && self.answers() {
                break;
            }
            if started.elapsed() > START_TIMEOUT {
                terminate(&mut child, Duration::from_secs(10));
                panic!("the Kafka broker did not answer within {START_TIMEOUT:?}:\n{}", self.log_tail(&output));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        eprintln!(
            "kafka broker at {} answered {:.1} s after launch",
            self.bootstrap(),
            started.elapsed().as_secs_f64()
        );
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

    fn log_tail(&self, output: &Path) -> String {
        let mut text = String::new();
        for file in [output.to_path_buf(), self.dir.path().join("state/broker.log")] {
            let mut content = String::new();
            if let Ok(mut f) = std::fs::File::open(&file) {
                let _ = f.read_to_string(&mut content);
            }
            let lines: Vec<&str> = content.lines().collect();
            let tail = &lines[lines.len().saturating_sub(40)..];
            text.push_str(&format!("--- {} (last {} lines)\n{}\n", file.display(), tail.len(), tail.join("\n")));
        }
        text
    }

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

/// Makes the test certificates (`scripts/test-certs.sh`) in `dir`.
pub fn make_certs(dir: &Path) {
    let status = Command::new("bash")
        .arg(repo().join("scripts/test-certs.sh"))
        .arg(dir)
        .stdout(Stdio::null())
        .status()
        .expect("scripts/test-certs.sh runs");
    assert!(status.success(), "scripts/test-certs.sh failed ({status})");
}

/// Runs `scripts/SCRIPT run DIR/state` with `env` (its output in `DIR/run.out`) from the
/// long-lived spawner, and waits until `ready` says the service answers. Panics with the end of
/// its output, naming `what`, when it exits first or is not ready within `timeout`.
pub fn start_service(
    script: &str,
    dir: &Path,
    env: &[(&str, String)],
    what: &str,
    timeout: Duration,
    ready: impl Fn() -> bool,
) -> Child {
    let output = dir.join("run.out");
    let out = std::fs::File::create(&output).expect("output file");
    let mut command = Command::new("bash");
    command
        .arg(repo().join("scripts").join(script))
        .arg("run")
        .arg(dir.join("state"))
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("output file"))
        .stderr(out);
    let started = Instant::now();
    let mut child = spawn_kept(command).unwrap_or_else(|e| panic!("scripts/{script} does not start: {e}"));
    let tail = || {
        let text = std::fs::read_to_string(&output).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    };
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            panic!("{what} exited ({status}) before it was ready:\n{}", tail());
        }
        if ready() {
            break;
        }
        if started.elapsed() > timeout {
            terminate(&mut child, Duration::from_secs(10));
            panic!("{what} was not ready within {timeout:?}:\n{}", tail());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("{what} ready {:.1} s after launch", started.elapsed().as_secs_f64());
    child
}

/// Whether `GET path` on 127.0.0.1:`port` answers 200 (plain HTTP/1.0, no client library).
pub fn http_ok(port: u16, path: &str) -> bool {
    use std::io::Write;
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && &head[9..12] == b"200"
}

/// Fails the test with the fix when there is no Java to run the broker.
fn require_java() {
    let java = Command::new("java").arg("-version").stdout(Stdio::null()).stderr(Stdio::null()).status();
    if !java.is_ok_and(|s| s.success()) {
        panic!(
            "the real-broker tests need Java 17+ on PATH (Debian: apt-get install openjdk-17-jre-headless) and the \
             broker's jars (scripts/fetch-jars.sh kafka; .ci/run does both)"
        );
    }
}

/// A port of 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port()
}

/// SIGTERM, then SIGKILL once `grace` has passed.
pub fn terminate(child: &mut Child, grace: Duration) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

type SpawnRequest = (Command, mpsc::Sender<std::io::Result<Child>>);

/// Spawns `command` from a thread that lives as long as the test process, with the kernel told
/// to SIGTERM the child when that thread (so the process) ends: a Java service outlives neither
/// a finished nor a killed test binary.
pub fn spawn_kept(command: Command) -> std::io::Result<Child> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("service-spawner".into())
            .spawn(move || {
                for (mut command, reply) in rx {
                    let _ = reply.send(spawn_with_parent_death_signal(&mut command));
                }
                // The sender lives in a static: the loop above never ends while the process runs.
            })
            .expect("spawner thread");
        Mutex::new(tx)
    });
    let (reply_tx, reply_rx) = mpsc::channel();
    spawner.lock().expect("spawner").send((command, reply_tx)).expect("spawner thread alive");
    reply_rx.recv().expect("spawner answers")
}

fn spawn_with_parent_death_signal(command: &mut Command) -> std::io::Result<Child> {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command.spawn()
}

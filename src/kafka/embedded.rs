//! The embedded broker: librdkafka's in-process mock cluster, for development and tests.
//!
//! It keeps nothing across restarts, implements no admin API (topics are created through it
//! here), does not compact, and keeps only a few MiB per partition. The cluster handle is `!Send`,
//! so it lives on a thread of its own; [`EmbeddedKafka`] talks to that thread.

use std::sync::mpsc;
use std::thread::JoinHandle;

use rdkafka::mocking::MockCluster;

/// What the mock cluster could not do.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error("cannot start the embedded kafka cluster: {0}")]
    Start(String),
    #[error("embedded kafka cluster: {0}")]
    Command(String),
    #[error("the embedded kafka cluster has stopped")]
    Stopped,
}

type Reply = mpsc::Sender<Result<(), String>>;

enum Command {
    CreateTopic { name: String, partitions: i32, reply: Reply },
    BrokerDown { broker: i32, reply: Reply },
    BrokerUp { broker: i32, reply: Reply },
    Stop,
}

/// A running mock cluster. Dropping it stops the cluster.
pub struct EmbeddedKafka {
    bootstrap_servers: String,
    brokers: i32,
    commands: mpsc::Sender<Command>,
    thread: Option<JoinHandle<()>>,
}

impl EmbeddedKafka {
    /// Starts a cluster of `brokers` brokers on 127.0.0.1.
    pub fn start(brokers: i32) -> Result<Self, EmbeddedError> {
        let (commands, inbox) = mpsc::channel::<Command>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<String, String>>();
        let thread = std::thread::Builder::new()
            .name("embedded-kafka".into())
            .spawn(move || {
                let cluster = match MockCluster::new(brokers) {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(cluster.bootstrap_servers()));
                while let Ok(cmd) = inbox.recv() {
                    let (result, reply) = match cmd {
                        Command::CreateTopic { name, partitions, reply } => {
                            (cluster.create_topic(&name, partitions, 1), reply)
                        }
                        Command::BrokerDown { broker, reply } => (cluster.broker_down(broker), reply),
                        Command::BrokerUp { broker, reply } => (cluster.broker_up(broker), reply),
                        Command::Stop => break,
                    };
                    let _ = reply.send(result.map_err(|e| e.to_string()));
                }
            })
            .map_err(|e| EmbeddedError::Start(e.to_string()))?;
        let bootstrap_servers = ready_rx
            .recv()
            .map_err(|_| EmbeddedError::Start("the cluster thread exited".into()))?
            .map_err(EmbeddedError::Start)?;
        Ok(Self { bootstrap_servers, brokers, commands, thread: Some(thread) })
    }

    /// `host:port,…` for clients, including ones outside this process.
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap_servers
    }

    pub fn brokers(&self) -> i32 {
        self.brokers
    }

    fn call(&self, make: impl FnOnce(Reply) -> Command) -> Result<(), EmbeddedError> {
        let (tx, rx) = mpsc::channel();
        self.commands.send(make(tx)).map_err(|_| EmbeddedError::Stopped)?;
        rx.recv().map_err(|_| EmbeddedError::Stopped)?.map_err(EmbeddedError::Command)
    }

    /// Creates a topic (the mock cluster has no CreateTopics API). Creating an existing topic is
    /// an error from the cluster.
    pub fn create_topic(&self, name: &str, partitions: i32) -> Result<(), EmbeddedError> {
        self.call(|reply| Command::CreateTopic { name: name.to_owned(), partitions, reply })
    }

    /// Takes a broker down: clients see it unreachable until [`Self::broker_up`]. Brokers are
    /// numbered from 1.
    pub fn broker_down(&self, broker: i32) -> Result<(), EmbeddedError> {
        self.call(|reply| Command::BrokerDown { broker, reply })
    }

    pub fn broker_up(&self, broker: i32) -> Result<(), EmbeddedError> {
        self.call(|reply| Command::BrokerUp { broker, reply })
    }

    /// Takes every broker down.
    pub fn all_down(&self) -> Result<(), EmbeddedError> {
        (1..=self.brokers).try_for_each(|b| self.broker_down(b))
    }

    pub fn all_up(&self) -> Result<(), EmbeddedError> {
        (1..=self.brokers).try_for_each(|b| self.broker_up(b))
    }

    /// The one-line notice printed at start-up.
    pub fn notice(&self) -> String {
        format!(
            "embedded kafka (librdkafka mock cluster, {} broker{}) at {} - for development only: it keeps nothing",
            self.brokers,
            if self.brokers == 1 { "" } else { "s" },
            self.bootstrap_servers
        )
    }
}

impl Drop for EmbeddedKafka {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

//! Cluster mode: several replicas on one config share the connectors through a Kafka consumer
//! group, so that each connector runs on exactly one live replica.
//!
//! # How
//!
//! Each replica joins the consumer group `cluster.group_id` with a librdkafka consumer
//! subscribed to the coordination topic (`cluster.topic`, default `<group_id>.slots`), whose
//! partition `i` stands for the `i`-th connector by name ([`slots`]). Holding a partition means
//! running that connector. Nothing is ever written to or read from the topic: only the group
//! coordinator's membership and assignment are used.
//!
//! Why a consumer group over a coordination topic rather than Kafka Connect's own JoinGroup /
//! SyncGroup protocol spoken directly: librdkafka already implements the group protocol with
//! everything production needs (heartbeats on their own thread, session and rebalance timeouts,
//! leave-group on close, SASL/TLS/OAUTHBEARER, KIP-429's incremental cooperative rebalancing with
//! the `cooperative-sticky` assignor), and it is the same client the replicas already trust for
//! producing. Speaking the Connect protocol ourselves would mean re-implementing the member state
//! machine and an assignor for no gain a user can see: what Connect gets from its own protocol
//! (the leader's config offset, a worker URL in the metadata) is covered here by every replica
//! reading the same file and by the config digest in each member's `client.id`.
//!
//! # Guarantees
//!
//! - Assignment is balanced (by slot count) and sticky: a rebalance moves only the slots that
//!   must move, and a connector that stays where it is keeps running (incremental cooperative).
//! - A replica that stops gracefully leaves the group: its connectors stop (their last
//!   transaction committed) and move at once. One that dies loses them after
//!   `cluster.session_timeout`.
//! - A replica that lost its connectors while it could not tell (paused past the session
//!   timeout) is fenced: the new owner's transactional producer (`transactional.id` =
//!   `cluster.transactional_id_prefix` + connector name) bumps the epoch, so the old one can
//!   commit nothing more, and its run stops as FAILED "fenced".
//! - The connector set is fixed while the process runs: adding or removing a connector changes
//!   what the slots stand for, so it takes a rolling restart with the new config (replicas compare
//!   config digests and report a mismatch until all of them run the same one).

mod membership;
mod protocol;
mod slots;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde::Serialize;
use tokio::sync::mpsc;

use self::membership::{Change, Membership};
pub use self::protocol::{AssignmentError, decode_assignment};
pub use self::slots::{MemberId, Slots, digest};
use crate::config::{ClusterConfig, ConnectorConfig};
use crate::supervisor::Supervisor;

/// Why the replica could not join its group.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cluster coordination topic `{topic}`: {reason}")]
    Topic { topic: String, reason: String },
    #[error("cannot join consumer group `{group}`: {reason}")]
    Join { group: String, reason: String },
}

/// One member of the group as the coordinator last described it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Member {
    pub replica_id: String,
    pub member_id: String,
    pub host: String,
    /// The digest of the member's connector definitions; `None` for a client that is not a
    /// Tributary replica.
    pub config_digest: Option<String>,
    /// The connectors assigned to it.
    pub connectors: Vec<String>,
}

/// What this replica knows of the cluster: what `GET /cluster` answers.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClusterView {
    pub group_id: String,
    pub topic: String,
    pub replica_id: String,
    pub config_digest: String,
    /// Every connector of the config, in slot order.
    pub connectors: Vec<String>,
    /// This replica's member id, once the coordinator described the group with it.
    pub member_id: Option<String>,
    /// The group's state as last described (`Stable`, `PreparingRebalance`, …).
    pub group_state: String,
    /// Rebalances that gave this replica an assignment since it started (librdkafka does not
    /// expose the group's generation id; this counts the generations this replica joined).
    pub rebalances: u64,
    /// Connectors this replica runs.
    pub assigned: BTreeSet<String>,
    pub members: Vec<Member>,
    /// Members whose connector definitions differ from this replica's, with their digests.
    pub mismatched: Vec<String>,
    /// Connectors that no member holds right now (between a replica's death and the rebalance
    /// that follows its session timeout, say).
    pub unassigned: BTreeSet<String>,
    /// When the group was last described (ms since the epoch).
    pub described_at_ms: Option<i64>,
}

impl ClusterView {
    /// Connector → the replica that runs it, as last described.
    pub fn owners(&self) -> BTreeMap<String, String> {
        membership::owners(&self.members)
    }
}

/// A shared, always-current copy of the view.
#[derive(Clone, Default)]
pub struct ClusterWatch(Arc<RwLock<ClusterView>>);

impl ClusterWatch {
    pub fn get(&self) -> ClusterView {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// This replica's membership: while it lives, the group's assignment drives the supervisor.
pub struct Cluster {
    watch: ClusterWatch,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    worker: tokio::task::JoinHandle<()>,
}

impl Cluster {
    /// Makes sure the coordination topic has a slot per connector, joins the group, and from then
    /// on starts and stops connectors on `supervisor` as the group assigns and revokes them.
    /// `consumer` carries the connection and security properties (`kafka.consumer`).
    pub async fn join(
        settings: &ClusterConfig,
        consumer: &ClientConfig,
        connectors: &[ConnectorConfig],
        replica_id: String,
        supervisor: Arc<Supervisor>,
    ) -> Result<Self, ClusterError> {
        let (Some(group), Some(topic)) = (settings.group_id.clone(), settings.slots_topic()) else {
            return Err(ClusterError::Join { group: String::new(), reason: "no cluster.group_id".into() });
        };
        let slots = Arc::new(Slots::new(connectors));
        let partitions = i32::try_from(slots.len().max(1)).unwrap_or(i32::MAX);
        crate::kafka::ensure_partitions(consumer, &topic, partitions, Duration::from_secs(15))
            .await
            .map_err(|reason| ClusterError::Topic { topic: topic.clone(), reason })?;

        let me = MemberId { digest: digest(connectors), replica: replica_id.clone() };
        let watch = ClusterWatch(Arc::new(RwLock::new(ClusterView {
            group_id: group.clone(),
            topic: topic.clone(),
            replica_id,
            config_digest: me.digest.clone(),
            connectors: slots.names().to_vec(),
            unassigned: slots.names().iter().cloned().collect(),
            ..ClusterView::default()
        })));
        let (changes, inbox) = mpsc::unbounded_channel();
        let mut config = consumer.clone();
        config
            .set("group.id", &group)
            .set("client.id", me.client_id())
            .set("partition.assignment.strategy", "cooperative-sticky")
            .set("session.timeout.ms", millis(settings.session_timeout.get()))
            .set("heartbeat.interval.ms", millis(settings.heartbeat_interval.get()))
            .set("max.poll.interval.ms", millis(settings.rebalance_timeout.get().max(settings.session_timeout.get())))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("allow.auto.create.topics", "false");
        let (config, error_watch) = crate::kafka::watched(&config).map_err(|reason| join_error(&group, reason))?;
        let context = Membership {
            watch: error_watch,
            slots: slots.clone(),
            topic: topic.clone(),
            changes,
            revoke_timeout: settings.rebalance_timeout.get(),
            view: watch.0.clone(),
            dirty: AtomicBool::new(true),
        };
        let consumer: BaseConsumer<Membership> =
            config.create_with_context(context).map_err(|e| join_error(&group, e.to_string()))?;
        consumer.subscribe(&[&topic]).map_err(|e| join_error(&group, e.to_string()))?;
        tracing::info!(group = %group, topic = %topic, slots = slots.len(), replica = %me.replica, digest = %me.digest, "joining the cluster");

        let entries: BTreeMap<String, ConnectorConfig> =
            connectors.iter().map(|c| (c.name.clone(), c.clone())).collect();
        let refence_after = settings.session_timeout.get() + settings.heartbeat_interval.get();
        let worker = tokio::spawn(apply(inbox, entries, supervisor, refence_after));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (stop, name) = (stop.clone(), group.clone());
            std::thread::Builder::new()
                .name("tributary-cluster".into())
                .spawn(move || membership::run(consumer, name, me, stop))
                .map_err(|e| join_error(&group, e.to_string()))?
        };
        Ok(Self { watch, stop, thread: Some(thread), worker })
    }

    pub fn watch(&self) -> ClusterWatch {
        self.watch.clone()
    }

    /// Leaves the group: this replica's connectors stop (committing) and move to the others.
    pub async fn leave(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        self.worker.abort();
    }
}

fn join_error(group: &str, reason: String) -> ClusterError {
    ClusterError::Join { group: group.to_owned(), reason }
}

fn millis(d: Duration) -> String {
    d.as_millis().to_string()
}

/// Carries the group's decisions out on the supervisor, one at a time and in order. A connector
/// of this replica that was fenced stays FAILED for `refence_after`, then starts again: the
/// group, not the last process to start it, decides who runs it. (A zombie replica that woke up
/// and restarted a connector before learning it lost it fences the rightful owner; once the
/// zombie is revoked, the owner takes the connector back.)
async fn apply(
    mut inbox: mpsc::UnboundedReceiver<Change>,
    entries: BTreeMap<String, ConnectorConfig>,
    supervisor: Arc<Supervisor>,
    refence_after: Duration,
) {
    let mut assigned: BTreeSet<String> = BTreeSet::new();
    let mut fenced_since: BTreeMap<String, tokio::time::Instant> = BTreeMap::new();
    let mut check = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            change = inbox.recv() => match change {
                None => return,
                Some(Change::Assign(names)) => {
                    for name in names {
                        match entries.get(&name) {
                            Some(entry) => {
                                supervisor.start(entry.clone());
                                assigned.insert(name);
                            }
                            None => tracing::error!(connector = %name, "assigned a slot this config has no connector for"),
                        }
                    }
                }
                Some(Change::Revoke(names, done)) => {
                    futures::future::join_all(names.iter().map(|n| supervisor.remove(n))).await;
                    for name in &names {
                        assigned.remove(name);
                        fenced_since.remove(name);
                    }
                    let _ = done.send(());
                }
            },
            _ = check.tick() => {
                for name in &assigned {
                    let fenced = supervisor.status(name).is_ok_and(|s| {
                        s.connector.state == crate::state::State::Failed
                            && s.connector.trace.as_deref().is_some_and(|t| t.starts_with("fenced"))
                    });
                    if !fenced {
                        fenced_since.remove(name);
                        continue;
                    }
                    let since = *fenced_since.entry(name.clone()).or_insert_with(tokio::time::Instant::now);
                    if since.elapsed() >= refence_after {
                        tracing::warn!(connector = %name, "the group still gives this connector to this replica after it was fenced; starting it again");
                        fenced_since.remove(name);
                        if let Err(e) = supervisor.restart(name).await {
                            tracing::warn!(connector = %name, error = %e, "cannot restart the fenced connector");
                        }
                    }
                }
            }
        }
    }
}

//! The replica's membership of the group: a librdkafka consumer subscribed to the coordination
//! topic, whose rebalance callbacks say which slots (connectors) this replica gains and loses.
//!
//! The consumer lives on its own thread: librdkafka serves rebalance callbacks from `poll`, and a
//! revocation must block until the connectors it takes away have stopped (their last transaction
//! committed), so that the next owner, assigned in the following rebalance, starts after them.
//! Heartbeats go on meanwhile on librdkafka's own threads.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, mpsc as std_mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::client::OAuthToken;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::{ClientContext, TopicPartitionList};
use tokio::sync::mpsc;

use super::protocol::decode_assignment;
use super::slots::{MemberId, Slots};
use super::{ClusterView, Member};
use crate::kafka::ErrorWatch;

/// How often the group is described for the cluster view, besides after every rebalance.
const DESCRIBE_EVERY: Duration = Duration::from_secs(5);

/// What a rebalance asks of the replica.
pub(super) enum Change {
    Assign(Vec<String>),
    /// Stop these connectors; answer on `done` once they have stopped.
    Revoke(Vec<String>, std_mpsc::Sender<()>),
}

/// The consumer's context: rebalance callbacks, plus the runtime's usual client context.
pub(super) struct Membership {
    pub watch: ErrorWatch,
    pub slots: Arc<Slots>,
    pub topic: String,
    pub changes: mpsc::UnboundedSender<Change>,
    pub revoke_timeout: Duration,
    pub view: Arc<RwLock<ClusterView>>,
    /// Set by a rebalance: describe the group again at once.
    pub dirty: AtomicBool,
}

impl Membership {
    fn names(&self, tpl: &TopicPartitionList) -> Vec<String> {
        tpl.elements_for_topic(&self.topic)
            .iter()
            .filter_map(|e| self.slots.name(e.partition()).map(str::to_owned))
            .collect()
    }

    fn update(&self, f: impl FnOnce(&mut ClusterView)) {
        f(&mut self.view.write().unwrap_or_else(|e| e.into_inner()));
    }
}

impl ClientContext for Membership {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn generate_oauth_token(&self, config: Option<&str>) -> Result<OAuthToken, Box<dyn std::error::Error>> {
        self.watch.generate_oauth_token(config)
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.watch.error(error, reason);
    }
}

impl ConsumerContext for Membership {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Revoke(tpl) => {
                let names = self.names(tpl);
                let lost = consumer.assignment_lost();
                self.dirty.store(true, Ordering::Relaxed);
                if names.is_empty() {
                    return;
                }
                if lost {
                    tracing::warn!(connectors = ?names, "this replica lost its connectors (no heartbeat within the session timeout); stopping them, another replica now runs them");
                } else {
                    tracing::info!(connectors = ?names, "rebalance: handing connectors over");
                }
                let (done, stopped) = std_mpsc::channel();
                if self.changes.send(Change::Revoke(names.clone(), done)).is_err() {
                    return;
                }
                if stopped.recv_timeout(self.revoke_timeout).is_err() {
                    tracing::error!(connectors = ?names, timeout = ?self.revoke_timeout, "connectors did not stop within the rebalance timeout; their next owner fences them");
                }
                self.update(|v| {
                    for name in &names {
                        v.assigned.remove(name);
                    }
                });
            }
            Rebalance::Error(e) => tracing::warn!(error = %e, "rebalance failed"),
            Rebalance::Assign(_) => {}
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Assign(tpl) = rebalance else { return };
        self.dirty.store(true, Ordering::Relaxed);
        metrics::counter!("tributary_cluster_rebalances_total").increment(1);
        let names = self.names(tpl);
        self.update(|v| {
            v.rebalances += 1;
            v.assigned.extend(names.iter().cloned());
        });
        if names.is_empty() {
            return;
        }
        tracing::info!(connectors = ?names, "rebalance: connectors assigned to this replica");
        let _ = self.changes.send(Change::Assign(names));
    }
}

/// Polls until `stop`, describing the group now and then; then leaves the group (which revokes
/// everything through the callbacks above).
pub(super) fn run(consumer: BaseConsumer<Membership>, group: String, me: MemberId, stop: Arc<AtomicBool>) {
    let mut described: Option<Instant> = None;
    let mut last_problem = String::new();
    while !stop.load(Ordering::Relaxed) {
        // Nothing is written to the coordination topic; a record would be ignored.
        if let Some(Err(e)) = consumer.poll(Duration::from_millis(200)) {
            let text = e.to_string();
            if text != last_problem {
                tracing::warn!(error = %text, "cluster membership: consumer error");
                last_problem = text;
            }
        }
        let context = consumer.context();
        if context.dirty.swap(false, Ordering::Relaxed) || described.is_none_or(|at| at.elapsed() >= DESCRIBE_EVERY) {
            describe(&consumer, &group, &me);
            described = Some(Instant::now());
        }
    }
    tracing::info!(group = %group, "leaving the group; connectors move to the other replicas");
    // Dropping the consumer closes it: the revocation stops every connector, then LeaveGroup.
    drop(consumer);
}

/// Describes the group into the view, and reports replicas whose connector definitions differ.
fn describe(consumer: &BaseConsumer<Membership>, group: &str, me: &MemberId) {
    let context = consumer.context();
    let list = match consumer.fetch_group_list(Some(group), Duration::from_secs(5)) {
        Ok(list) => list,
        Err(e) => {
            tracing::debug!(error = %e, "cannot describe the group");
            return;
        }
    };
    let Some(info) = list.groups().iter().find(|g| g.name() == group) else { return };
    let my_client_id = me.client_id();
    let mut members = Vec::new();
    let mut mine = None;
    for m in info.members() {
        let id = MemberId::parse(m.client_id());
        let connectors = match m.assignment().map(decode_assignment) {
            Some(Ok(assigned)) => assigned
                .get(&context.topic)
                .map(|slots| slots.iter().filter_map(|s| context.slots.name(*s).map(str::to_owned)).collect())
                .unwrap_or_default(),
            Some(Err(e)) => {
                tracing::debug!(member = m.id(), error = %e, "cannot read a member's assignment");
                Vec::new()
            }
            None => Vec::new(),
        };
        if m.client_id() == my_client_id {
            mine = Some(m.id().to_owned());
        }
        members.push(Member {
            replica_id: id.as_ref().map_or_else(|| m.client_id().to_owned(), |i| i.replica.clone()),
            member_id: m.id().to_owned(),
            host: m.client_host().to_owned(),
            config_digest: id.map(|i| i.digest),
            connectors,
        });
    }
    members.sort_by(|a, b| a.replica_id.cmp(&b.replica_id));
    let mismatched: Vec<String> = members
        .iter()
        .filter(|m| m.config_digest.as_deref() != Some(me.digest.as_str()))
        .map(|m| format!("{} (config digest {})", m.replica_id, m.config_digest.as_deref().unwrap_or("none")))
        .collect();
    let newly_mismatched = {
        let view = context.view.read().unwrap_or_else(|e| e.into_inner());
        mismatched.iter().any(|m| !view.mismatched.contains(m))
    };
    if newly_mismatched {
        tracing::error!(
            group,
            own_digest = %me.digest,
            others = ?mismatched,
            "replicas of this group run different connector definitions: each runs its own config's \
             connector for the slots it is given, so a connector may run with another config, or twice \
             (the later start fences the earlier). Give every replica the same config."
        );
    }
    metrics::gauge!("tributary_cluster_members").set(members.len() as f64);
    metrics::gauge!("tributary_cluster_config_mismatches").set(mismatched.len() as f64);
    context.update(|v| {
        metrics::gauge!("tributary_cluster_assigned_connectors").set(v.assigned.len() as f64);
        v.unassigned = unowned(&context.slots, &members);
        v.group_state = info.state().to_owned();
        v.member_id = mine;
        v.members = members;
        v.mismatched = mismatched;
        v.described_at_ms =
            SystemTime::now().duration_since(UNIX_EPOCH).ok().and_then(|d| i64::try_from(d.as_millis()).ok());
    });
}

/// Who runs each connector according to a described group: connector → replica id.
pub(super) fn owners(members: &[Member]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for m in members {
        for c in &m.connectors {
            out.insert(c.clone(), m.replica_id.clone());
        }
    }
    out
}

/// Slots nobody holds, by connector name.
fn unowned(slots: &Slots, members: &[Member]) -> BTreeSet<String> {
    let owned = owners(members);
    slots.names().iter().filter(|n| !owned.contains_key(*n)).cloned().collect()
}

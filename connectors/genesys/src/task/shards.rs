//! The channels of one connector: the plan that spreads the followed queues over shards (one
//! channel each), the running shards, and the changes discovery makes to both.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::api::GenesysApi;
use crate::auth::TokenSource;
use crate::config::GenesysConfig;
use crate::net::Egress;
use crate::queues::ShardPlan;
use crate::shard::{Shard, ShardCommand, ShardEvent, ShardSettings, ShardStatus};
use crate::socket::SocketSettings;

/// Events every shard sends to the task, at most, before a shard waits.
const EVENTS_BUFFER: usize = 8192;

struct ShardHandle {
    commands: mpsc::Sender<ShardCommand>,
    status: Arc<Mutex<ShardStatus>>,
    running: tokio::task::JoinHandle<()>,
}

/// What a new shard is started with.
struct Spawner {
    api: GenesysApi,
    auth: TokenSource,
    settings: ShardSettings,
    events: mpsc::Sender<ShardEvent>,
    stop: CancellationToken,
    connector: String,
}

impl Spawner {
    fn spawn(&self, index: usize, queues: BTreeSet<String>) -> ShardHandle {
        let (commands, inbox) = mpsc::channel(16);
        let (shard, status) = Shard::new(
            index,
            queues,
            self.api.clone(),
            self.auth.clone(),
            self.settings.clone(),
            self.events.clone(),
            inbox,
            self.stop.clone(),
            self.connector.clone(),
        );
        let span = tracing::info_span!("shard", connector = %self.connector, shard = index);
        let running = tokio::spawn(tracing::Instrument::instrument(shard.run(), span));
        ShardHandle { commands, status, running }
    }
}

/// The running shards and their plan.
pub(super) struct Shards {
    handles: Vec<ShardHandle>,
    plan: ShardPlan,
    spawner: Spawner,
}

impl Shards {
    /// Starts one shard per planned set of `queues`; their events arrive on the receiver. Errors
    /// when the channel limits cannot cover every queue.
    pub fn start(
        queues: &BTreeSet<String>,
        config: &GenesysConfig,
        connector: &str,
        clients: (GenesysApi, TokenSource, Egress),
        stop: CancellationToken,
    ) -> Result<(Self, mpsc::Receiver<ShardEvent>), String> {
        let (api, auth, egress) = clients;
        let max_shards = config.channels.max_channels.saturating_sub(1).max(1);
        let plan = ShardPlan::new(queues.iter().cloned(), config.channels.max_topics, max_shards)?;
        let (events, inbox) = mpsc::channel(EVENTS_BUFFER);
        let spawner = Spawner {
            api,
            auth,
            settings: settings(config, connector, egress),
            events,
            stop,
            connector: connector.to_owned(),
        };
        let handles = plan.shards().iter().enumerate().map(|(i, q)| spawner.spawn(i, q.clone())).collect();
        Ok((Self { handles, plan, spawner }, inbox))
    }

    /// Re-plans for `wanted` and tells the shards whose queues changed (starting new ones).
    pub async fn set_queues(&mut self, wanted: BTreeSet<String>) {
        let changed = match self.plan.update(wanted) {
            Ok(changed) => changed,
            Err(e) => {
                tracing::error!(connector = %self.spawner.connector, error = %e, "cannot cover every selected queue");
                return;
            }
        };
        for index in changed {
            let queues = self.plan.shards()[index].clone();
            if let Some(shard) = self.handles.get(index) {
                let _ = shard.commands.send(ShardCommand::SetQueues(queues)).await;
            } else {
                self.handles.push(self.spawner.spawn(index, queues));
            }
        }
    }

    /// Every shard's status now.
    pub fn statuses(&self) -> Vec<ShardStatus> {
        self.handles.iter().map(|s| s.status.lock().unwrap_or_else(|e| e.into_inner()).clone()).collect()
    }

    /// Waits, `within` at most, for every shard to finish once the task's stop was signalled:
    /// each releases its channel's subscriptions on the way out (see [`Shard::run`]).
    pub async fn finished(self, within: std::time::Duration) {
        let all = futures::future::join_all(self.handles.into_iter().map(|h| h.running));
        if tokio::time::timeout(within, all).await.is_err() {
            tracing::debug!(connector = %self.spawner.connector, "shards still releasing their channels at stop; leaving them");
        }
    }
}

fn settings(config: &GenesysConfig, connector: &str, egress: Egress) -> ShardSettings {
    let k = &config.keepalive;
    ShardSettings {
        socket: SocketSettings {
            ping_interval: k.ping_interval.get(),
            pong_timeout: k.pong_timeout.get(),
            watchdog: k.watchdog.get(),
            connect_timeout: k.connect_timeout.get(),
            max_frame_bytes: k.max_frame_bytes,
            buffer: 4096,
            connector: connector.to_owned(),
            egress,
        },
        verify_interval: k.verify_interval.get(),
        max_reuses: config.channels.max_reuses,
        rollover_before_expiry: config.channels.rollover_before_expiry.get(),
        backoff_initial: config.channels.backoff_initial.get(),
        backoff_max: config.channels.backoff_max.get(),
    }
}

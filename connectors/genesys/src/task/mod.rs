//! The connector's one task: the only place records are emitted from, so a conversation's
//! records leave in one order.
//!
//! It wires the rooms an event passes through, each once and in this order:
//!
//! 1. **Mapping** ([`crate::record`]): a live notification from a shard, or a row from the
//!    backfill worker, becomes a [`ConversationEvent`].
//! 2. **Coverage** ([`watermarks`]): the record gets its source partition and the queue's
//!    watermark; a live record of a queue no longer followed stops here.
//! 3. **Sightings** ([`crate::sentinels`]): live conversations are noted for the backfill worker.
//! 4. **Records** ([`records`]): the duplicate and freshness gate, then the runtime.
//!
//! Coverage proofs, losses and filled gaps from the shards and the worker go to the coverage
//! room only; queue discovery changes the coverage room's queues and the [`shards`].

mod records;
mod shards;
mod status;
mod watermarks;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tributary_connector_api::{Health, SourceTask, TaskContext, TaskError, async_trait};

use self::records::Records;
use self::shards::Shards;
use self::status::StatusBoard;
use self::watermarks::Watermarks;
use crate::backfill::{self, BackfillOutput};
use crate::clients::{Clients, clients};
use crate::config::GenesysConfig;
use crate::coverage::Coverage;
use crate::dedup::GateConfig;
use crate::notification::Notification;
use crate::queues::discover;
use crate::record::{self, BackfillApi, ConversationEvent, MappingError};
use crate::sentinels::Sentinels;
use crate::shard::ShardEvent;
use crate::simulated::SimulatedOrgs;
use crate::socket::now_ms;

/// The source partition field: one partition per queue.
pub const PARTITION_FIELD: &str = "queue_id";
/// The source offset field: the queue's coverage watermark, epoch milliseconds.
pub const OFFSET_FIELD: &str = "watermark_ms";

pub struct GenesysTask {
    pub name: String,
    pub config: GenesysConfig,
    /// The host's simulated orgs, for `environment: simulator`.
    pub simulated: Option<Arc<dyn SimulatedOrgs>>,
}

/// The task's state while it runs.
struct Run {
    ctx: TaskContext,
    name: String,
    tenant: String,
    watermarks: Watermarks,
    records: Records,
    sentinels: Arc<Mutex<Sentinels>>,
    shards: Shards,
    status: StatusBoard,
    bad_bodies: u64,
}

fn fatal(e: impl std::fmt::Display) -> TaskError {
    TaskError::Fatal(e.to_string())
}

#[async_trait]
impl SourceTask for GenesysTask {
    async fn run(self: Box<Self>, ctx: TaskContext) -> Result<(), TaskError> {
        let GenesysTask { name, config, simulated } = *self;
        let Clients { api, auth, egress, explicit_queues, .. } = clients(&name, &config, simulated.as_deref()).await?;
        let stop = ctx.cancellation().child_token();

        // Keep the token fresh ahead of expiry; channels roll over onto each new one.
        let refresher = {
            let auth = auth.clone();
            let stop = stop.clone();
            tokio::spawn(async move { auth.run_refresher(stop).await })
        };

        let mut wanted: BTreeSet<String> = explicit_queues.into_iter().collect();
        if config.queues.needs_discovery() {
            let found = tokio::select! {
                _ = ctx.cancelled() => return Ok(()),
                found = discover(&api, &config.queues) => found,
            };
            match found {
                Ok(found) => wanted.extend(found),
                Err(e) if e.is_fatal() => return Err(fatal(format!("cannot list queues: {e}"))),
                Err(e) => return Err(TaskError::Retriable(format!("cannot list queues: {e}"))),
            }
        }
        if wanted.is_empty() {
            tracing::warn!(connector = %name, "no queue selected yet; waiting for queue discovery");
        }

        let sentinels = Arc::new(Mutex::new(Sentinels::default()));
        let backfill_status = Arc::new(Mutex::new(backfill::Progress::default()));
        let (backfill_out_tx, mut backfill_out) = mpsc::channel::<BackfillOutput>(1024);
        let backfill = if config.backfill.enabled {
            let (tx, rx) = mpsc::channel(4096);
            let worker = backfill::Worker::new(
                api.clone(),
                config.backfill.clone(),
                sentinels.clone(),
                backfill_status.clone(),
                backfill_out_tx.clone(),
                name.clone(),
            );
            tokio::spawn(worker.run(rx, stop.clone()));
            Some(tx)
        } else {
            None
        };

        let settings = &config.backfill;
        let coverage =
            Coverage::new(settings.initial_window.get().as_millis() as i64, settings.max_gap.get().as_millis() as i64);
        let mut watermarks = Watermarks::new(coverage, backfill, &name);
        for q in &wanted {
            watermarks.follow(&ctx, q);
        }
        let tenant = config.tenant.clone().unwrap_or_else(|| name.clone());
        let dedup = &config.dedup;
        let mut records = Records::new(
            &config.topic,
            GateConfig {
                event_capacity: dedup.event_capacity,
                event_max_age_ms: dedup.event_ttl.get().as_millis() as i64,
                conversation_capacity: dedup.conversation_capacity,
                ended_ttl_ms: dedup.conversation_ttl.get().as_millis() as i64,
            },
            &name,
        );
        let lookback_ms = dedup.event_ttl.get().max(dedup.conversation_ttl.get()).as_millis() as i64;
        if let Some(seeded) = records::seed_from_kafka(&ctx, &mut records, &tenant, lookback_ms).await? {
            tracing::info!(connector = %name, records = seeded, "duplicate gate seeded with what earlier runs wrote");
        }
        let (shards, mut events) =
            Shards::start(&wanted, &config, &name, (api.clone(), auth, egress), stop.clone()).map_err(fatal)?;

        let mut run = Run {
            records,
            status: StatusBoard::new(&name, &tenant, backfill_status),
            watermarks,
            sentinels,
            shards,
            bad_bodies: 0,
            tenant,
            name,
            ctx,
        };
        run.ctx.status().set_health(Health::Starting);

        let mut status_tick = tokio::time::interval(Duration::from_secs(1));
        let mut discovery_tick = tokio::time::interval(config.queues.refresh_interval.get());
        discovery_tick.reset();
        let result = loop {
            tokio::select! {
                biased;
                _ = run.ctx.cancelled() => break Ok(()),
                event = events.recv() => match event {
                    Some(event) => if let Err(e) = run.on_shard_event(event).await { break Err(e) },
                    None => break Err(TaskError::Retriable("every shard stopped".into())),
                },
                output = backfill_out.recv() => {
                    if let Some(output) = output && let Err(e) = run.on_backfill(output).await {
                        break Err(e);
                    }
                }
                _ = status_tick.tick() => run.publish_status(),
                _ = discovery_tick.tick(), if config.queues.needs_discovery() => {
                    match discover(&api, &config.queues).await {
                        Ok(found) => {
                            let mut wanted: BTreeSet<String> = config.queues.ids.iter().cloned().collect();
                            wanted.extend(found);
                            run.set_queues(wanted).await;
                        }
                        Err(e) => tracing::warn!(connector = %run.name, error = %e, "queue discovery failed; keeping the current queues"),
                    }
                }
            }
        };
        stop.cancel();
        // Each shard releases its channel's subscriptions as it stops (bounded).
        run.shards.finished(Duration::from_secs(4)).await;
        refresher.abort();
        result
    }
}

impl Run {
    async fn on_shard_event(&mut self, event: ShardEvent) -> Result<(), TaskError> {
        match event {
            ShardEvent::Conversation(notification) => self.on_notification(notification).await,
            ShardEvent::Covered { queues, from_ms, until_ms } => {
                self.watermarks.covered(&self.ctx, &queues, from_ms, until_ms).await
            }
            ShardEvent::Lost { queues, since_ms, cause, detail } => {
                self.watermarks.lost(&queues, since_ms);
                self.ctx.status().set_health(Health::Degraded(format!(
                    "{} queue(s) without coverage since {since_ms} ({cause}: {detail})",
                    queues.len()
                )));
                Ok(())
            }
            ShardEvent::Rejected { topics } => {
                tracing::error!(connector = %self.name, rejected = topics.len(), "some queues cannot be subscribed (see status)");
                Ok(())
            }
            ShardEvent::Fatal(message) => Err(TaskError::Fatal(message)),
        }
    }

    async fn on_notification(&mut self, notification: Notification) -> Result<(), TaskError> {
        let queue_id = notification.queue_id.clone();
        let Some(event) = self.mapped(&queue_id, record::from_notification(&self.tenant, notification), "snapshot")
        else {
            return Ok(());
        };
        let Some(stamp) = self.watermarks.stamp(&self.ctx, &event).await? else { return Ok(()) };
        if let Ok(mut s) = self.sentinels.lock() {
            s.saw(&event);
        }
        self.records.emit(&self.ctx, event, stamp).await
    }

    async fn on_backfill(&mut self, output: BackfillOutput) -> Result<(), TaskError> {
        match output {
            BackfillOutput::Conversation { queue_id, row, api, received_ms } => {
                let mapped = match api {
                    BackfillApi::ConversationsGet => {
                        record::from_rest_conversation(&self.tenant, &queue_id, &row, received_ms)
                    }
                    other => record::from_analytics(&self.tenant, &queue_id, &row, other, received_ms),
                };
                let Some(event) = self.mapped(&queue_id, mapped, "backfilled conversation") else { return Ok(()) };
                match self.watermarks.stamp(&self.ctx, &event).await? {
                    Some(stamp) => self.records.emit(&self.ctx, event, stamp).await,
                    None => Ok(()),
                }
            }
            BackfillOutput::GapDone { queue_id, gap_id } => {
                self.watermarks.gap_filled(&self.ctx, &queue_id, gap_id).await
            }
        }
    }

    /// The record, or `None` (counted and logged) when the source was not understood.
    fn mapped(
        &mut self,
        queue_id: &str,
        mapped: Result<ConversationEvent, MappingError>,
        what: &str,
    ) -> Option<ConversationEvent> {
        match mapped {
            Ok(event) => Some(event),
            Err(e) => {
                self.bad_bodies += 1;
                tracing::warn!(connector = %self.name, queue = %queue_id, error = %e, "{what} not understood; ignored");
                None
            }
        }
    }

    async fn set_queues(&mut self, wanted: BTreeSet<String>) {
        let current = self.watermarks.queue_ids();
        if wanted == current {
            return;
        }
        for gone in current.difference(&wanted) {
            tracing::info!(connector = %self.name, queue = %gone, "queue no longer selected");
            self.watermarks.unfollow(gone);
        }
        for added in wanted.difference(&current) {
            tracing::info!(connector = %self.name, queue = %added, "new queue selected");
            self.watermarks.follow(&self.ctx, added);
        }
        self.shards.set_queues(wanted).await;
    }

    fn publish_status(&mut self) {
        self.records.expire(now_ms());
        let channels = self.shards.statuses();
        self.status.publish(&self.ctx, &channels, &self.watermarks, self.records.counts(), self.bad_bodies);
    }
}

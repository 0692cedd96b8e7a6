//! The connector's one task: it owns the shards, the coverage of every queue, the duplicate gate,
//! queue discovery and the backfill worker, and is the only place records are emitted from — so
//! a conversation's records leave in one order.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tributary_connector_api::{
    Health, RecordValue, SourceOffset, SourcePartition, SourceRecord, SourceTask, TaskContext, TaskError, async_trait,
};

use crate::api::GenesysApi;
use crate::backfill::{self, BackfillOutput, BackfillRequest, Sentinels};
use crate::clients::{Clients, clients};
use crate::config::GenesysConfig;
use crate::coverage::{Action, Coverage, Gap};
use crate::dedup::{Gate, GateConfig, Verdict};
use crate::queues::{ShardPlan, discover};
use crate::record::{self, BackfillApi, ConversationEvent, SCHEMA_NAME};
use crate::shard::{Shard, ShardCommand, ShardEvent, ShardSettings, ShardStatus};
use crate::simulated::SimulatedOrgs;
use crate::socket::{SocketSettings, now_ms};

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

struct ShardHandle {
    commands: mpsc::Sender<ShardCommand>,
    status: Arc<Mutex<ShardStatus>>,
}

/// Counters shown in status.
#[derive(Debug, Default, Clone, serde::Serialize)]
struct Counts {
    live_records: u64,
    backfilled_records: u64,
    duplicates_suppressed: u64,
    stale_dropped: u64,
    bad_bodies: u64,
    truncated_gaps: u64,
}

struct Run {
    ctx: TaskContext,
    name: String,
    tenant: String,
    topic: Arc<str>,
    schema: Arc<str>,
    coverage: Coverage,
    gate: Gate,
    partitions: HashMap<String, SourcePartition>,
    shards: Vec<ShardHandle>,
    plan: ShardPlan,
    counts: Counts,
    sentinels: Arc<Mutex<Sentinels>>,
    /// Conversations seen live and not yet ended, per queue: re-checked by id after a gap.
    open: BTreeMap<String, BTreeSet<String>>,
    backfill: Option<mpsc::Sender<BackfillRequest>>,
    backfill_status: Arc<Mutex<backfill::Progress>>,
    metrics: TaskMetrics,
}

struct TaskMetrics {
    live: metrics::Counter,
    backfilled: metrics::Counter,
    duplicates: metrics::Counter,
    stale: metrics::Counter,
    channels_open: metrics::Gauge,
    gap_seconds: metrics::Histogram,
}

impl TaskMetrics {
    fn new(connector: &str) -> Self {
        let c = connector.to_owned();
        Self {
            live: metrics::counter!("genesys_records_total", "connector" => c.clone(), "source" => "live"),
            backfilled: metrics::counter!("genesys_records_total", "connector" => c.clone(), "source" => "backfill"),
            duplicates: metrics::counter!("genesys_duplicates_suppressed_total", "connector" => c.clone()),
            stale: metrics::counter!("genesys_stale_dropped_total", "connector" => c.clone()),
            channels_open: metrics::gauge!("genesys_channels_open", "connector" => c.clone()),
            gap_seconds: metrics::histogram!("genesys_gap_seconds", "connector" => c),
        }
    }
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

        let backfill_settings = &config.backfill;
        let mut coverage = Coverage::new(
            backfill_settings.initial_window.get().as_millis() as i64,
            backfill_settings.max_gap.get().as_millis() as i64,
        );
        let mut partitions = HashMap::new();
        for q in &wanted {
            let partition = SourcePartition::single(PARTITION_FIELD, q.clone());
            let stored = ctx.stored_offset(&partition).and_then(|o| o.get_i64(OFFSET_FIELD));
            coverage.follow(q, stored);
            partitions.insert(q.clone(), partition);
        }

        let max_shards = config.channels.max_channels.saturating_sub(1).max(1);
        let plan = ShardPlan::new(wanted.iter().cloned(), config.channels.max_topics, max_shards).map_err(fatal)?;
        let (events_tx, mut events) = mpsc::channel::<ShardEvent>(8192);
        let settings = shard_settings(&config, &name, egress);
        let mut shards = Vec::new();
        for (index, queues) in plan.shards().iter().enumerate() {
            shards.push(spawn_shard(index, queues.clone(), &api, &auth, &settings, &events_tx, &stop, &name));
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

        let mut run = Run {
            tenant: config.tenant.clone().unwrap_or_else(|| name.clone()),
            topic: config.topic.as_str().into(),
            schema: SCHEMA_NAME.into(),
            coverage,
            gate: Gate::new(GateConfig {
                event_capacity: config.dedup.event_capacity,
                event_max_age_ms: config.dedup.event_ttl.get().as_millis() as i64,
                conversation_capacity: config.dedup.conversation_capacity,
                ended_ttl_ms: config.dedup.conversation_ttl.get().as_millis() as i64,
            }),
            partitions,
            shards,
            plan,
            counts: Counts::default(),
            sentinels,
            open: BTreeMap::new(),
            backfill,
            backfill_status,
            metrics: TaskMetrics::new(&name),
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
                            run.set_queues(wanted, &api, &auth, &settings, &events_tx, &stop).await;
                        }
                        Err(e) => tracing::warn!(connector = %run.name, error = %e, "queue discovery failed; keeping the current queues"),
                    }
                }
            }
        };
        stop.cancel();
        refresher.abort();
        result
    }
}

fn shard_settings(config: &GenesysConfig, connector: &str, egress: crate::net::Egress) -> ShardSettings {
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

#[allow(clippy::too_many_arguments)]
fn spawn_shard(
    index: usize,
    queues: BTreeSet<String>,
    api: &GenesysApi,
    auth: &crate::auth::TokenSource,
    settings: &ShardSettings,
    events: &mpsc::Sender<ShardEvent>,
    stop: &CancellationToken,
    name: &str,
) -> ShardHandle {
    let (commands, inbox) = mpsc::channel(16);
    let (shard, status) = Shard::new(
        index,
        queues,
        api.clone(),
        auth.clone(),
        settings.clone(),
        events.clone(),
        inbox,
        stop.clone(),
        name.to_owned(),
    );
    let span = tracing::info_span!("shard", connector = %name, shard = index);
    tokio::spawn(tracing::Instrument::instrument(shard.run(), span));
    ShardHandle { commands, status }
}

impl Run {
    fn partition(&mut self, queue_id: &str) -> SourcePartition {
        self.partitions
            .entry(queue_id.to_owned())
            .or_insert_with(|| SourcePartition::single(PARTITION_FIELD, queue_id.to_owned()))
            .clone()
    }

    async fn emit_offset(&mut self, queue_id: &str, watermark_ms: i64) -> Result<(), TaskError> {
        let partition = self.partition(queue_id);
        let offset = SourceOffset::single_i64(OFFSET_FIELD, watermark_ms);
        self.ctx
            .emitter()
            .send_offset(partition, offset)
            .await
            .map_err(|_| TaskError::Retriable("runtime stopped".into()))
    }

    async fn apply(&mut self, actions: Vec<Action>) -> Result<(), TaskError> {
        for action in actions {
            match action {
                Action::Advance { queue_id, watermark_ms } => self.emit_offset(&queue_id, watermark_ms).await?,
                Action::Backfill(gap) => self.start_backfill(gap).await,
            }
        }
        Ok(())
    }

    async fn start_backfill(&mut self, gap: Gap) {
        self.metrics.gap_seconds.record((gap.to_ms - gap.from_ms).max(0) as f64 / 1000.0);
        if let Some(from) = gap.truncated_from_ms {
            self.counts.truncated_gaps += 1;
            metrics::counter!("genesys_backfill_truncated_total", "connector" => self.name.clone()).increment(1);
            tracing::error!(
                connector = %self.name, queue = %gap.queue_id, lost_from_ms = from, backfill_from_ms = gap.from_ms,
                "gap longer than backfill.max_gap: events before backfill_from_ms are NOT backfilled"
            );
        }
        let open: Vec<String> = self.open.get(&gap.queue_id).map(|s| s.iter().cloned().collect()).unwrap_or_default();
        tracing::info!(connector = %self.name, queue = %gap.queue_id, from_ms = gap.from_ms, to_ms = gap.to_ms, open = open.len(), "gap to backfill");
        match &self.backfill {
            Some(tx) => {
                if tx.send(BackfillRequest { gap, open_conversations: open }).await.is_err() {
                    tracing::error!(connector = %self.name, "the backfill worker stopped");
                }
            }
            None => {
                tracing::warn!(connector = %self.name, queue = %gap.queue_id, "backfill disabled: the gap stays open and the watermark frozen");
            }
        }
    }

    async fn on_shard_event(&mut self, event: ShardEvent) -> Result<(), TaskError> {
        match event {
            ShardEvent::Conversation { queue_id, topic, channel_id, raw_body, received_ms } => {
                if !self.coverage.is_followed(&queue_id) {
                    return Ok(());
                }
                let body: Value = match serde_json::from_str(&raw_body) {
                    Ok(v) => v,
                    Err(e) => {
                        self.counts.bad_bodies += 1;
                        tracing::warn!(connector = %self.name, queue = %queue_id, error = %e, "conversation body is not JSON; ignored");
                        return Ok(());
                    }
                };
                let event = match record::from_snapshot(
                    &self.tenant,
                    &queue_id,
                    &topic,
                    Some(&channel_id),
                    &body,
                    &raw_body,
                    received_ms,
                ) {
                    Ok(e) => e,
                    Err(e) => {
                        self.counts.bad_bodies += 1;
                        tracing::warn!(connector = %self.name, queue = %queue_id, error = %e, "conversation snapshot not understood; ignored");
                        return Ok(());
                    }
                };
                self.track_open(&queue_id, &event);
                if let Ok(mut s) = self.sentinels.lock() {
                    s.saw(&event);
                }
                self.emit(&queue_id, event, false).await
            }
            ShardEvent::Covered { queues, from_ms, until_ms } => {
                for q in queues.iter() {
                    let actions = self.coverage.covered(q, from_ms, until_ms);
                    self.apply(actions).await?;
                }
                Ok(())
            }
            ShardEvent::Lost { queues, since_ms, cause, detail } => {
                for q in queues.iter() {
                    self.coverage.lost(q, since_ms);
                }
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

    async fn on_backfill(&mut self, output: BackfillOutput) -> Result<(), TaskError> {
        match output {
            BackfillOutput::Conversation { queue_id, row, api, received_ms } => {
                let mapped = match api {
                    BackfillApi::ConversationsGet => {
                        record::from_rest_conversation(&self.tenant, &queue_id, &row, received_ms)
                    }
                    other => record::from_analytics(&self.tenant, &queue_id, &row, other, received_ms),
                };
                match mapped {
                    Ok(event) => {
                        // A conversation that ended during a gap is no longer open.
                        if event.is_ended() {
                            self.track_open(&queue_id, &event);
                        }
                        self.emit(&queue_id, event, true).await
                    }
                    Err(e) => {
                        self.counts.bad_bodies += 1;
                        tracing::warn!(connector = %self.name, queue = %queue_id, error = %e, "backfilled conversation not understood; ignored");
                        Ok(())
                    }
                }
            }
            BackfillOutput::GapDone { queue_id, gap_id } => {
                if let Some(action) = self.coverage.gap_filled(&queue_id, gap_id) {
                    self.apply(vec![action]).await?;
                }
                Ok(())
            }
        }
    }

    /// Emits one record unless it is a duplicate or older than what was already produced for its
    /// conversation.
    async fn emit(&mut self, queue_id: &str, event: ConversationEvent, backfilled: bool) -> Result<(), TaskError> {
        match self.gate.judge(&event) {
            Verdict::Duplicate => {
                self.counts.duplicates_suppressed += 1;
                self.metrics.duplicates.increment(1);
                return Ok(());
            }
            Verdict::Stale => {
                self.counts.stale_dropped += 1;
                self.metrics.stale.increment(1);
                return Ok(());
            }
            Verdict::Emit => {}
        }
        self.gate.record(&event);
        if self.coverage.watermark(queue_id).is_none() {
            // Not covered yet (an event raced its channel's first proof): start coverage here.
            let actions = self.coverage.covered(queue_id, Some(event.receive_time_ms), event.receive_time_ms);
            self.apply(actions).await?;
        }
        let watermark = self.coverage.watermark(queue_id).unwrap_or(event.receive_time_ms);
        let record = SourceRecord {
            partition: self.partition(queue_id),
            offset: SourceOffset::single_i64(OFFSET_FIELD, watermark),
            topic: self.topic.clone(),
            key: Some(event.key()),
            // A snapshot without any timestamp has event time 0; Kafka gets the receive time then.
            timestamp_ms: Some(if event.event_time_ms > 0 { event.event_time_ms } else { event.receive_time_ms }),
            headers: Vec::new(),
            value: RecordValue::new(self.schema.clone(), event),
        };
        if backfilled {
            self.counts.backfilled_records += 1;
            self.metrics.backfilled.increment(1);
        } else {
            self.counts.live_records += 1;
            self.metrics.live.increment(1);
        }
        self.ctx.emitter().send(record).await.map_err(|_| TaskError::Retriable("runtime stopped".into()))
    }

    fn track_open(&mut self, queue_id: &str, event: &ConversationEvent) {
        let set = self.open.entry(queue_id.to_owned()).or_default();
        if event.is_ended() {
            set.remove(event.conversation_id());
        } else if set.len() < 50_000 {
            set.insert(event.conversation_id().to_owned());
        }
    }

    async fn set_queues(
        &mut self,
        wanted: BTreeSet<String>,
        api: &GenesysApi,
        auth: &crate::auth::TokenSource,
        settings: &ShardSettings,
        events: &mpsc::Sender<ShardEvent>,
        stop: &CancellationToken,
    ) {
        let current: BTreeSet<String> = self.coverage.queue_ids().cloned().collect();
        if wanted == current {
            return;
        }
        for gone in current.difference(&wanted) {
            tracing::info!(connector = %self.name, queue = %gone, "queue no longer selected");
            self.coverage.unfollow(gone);
            self.open.remove(gone);
        }
        for added in wanted.difference(&current) {
            tracing::info!(connector = %self.name, queue = %added, "new queue selected");
            let partition = self.partition(added);
            let stored = self.ctx.stored_offset(&partition).and_then(|o| o.get_i64(OFFSET_FIELD));
            self.coverage.follow(added, stored);
        }
        let changed = match self.plan.update(wanted) {
            Ok(changed) => changed,
            Err(e) => {
                tracing::error!(connector = %self.name, error = %e, "cannot cover every selected queue");
                return;
            }
        };
        for index in changed {
            let queues = self.plan.shards()[index].clone();
            if let Some(shard) = self.shards.get(index) {
                let _ = shard.commands.send(ShardCommand::SetQueues(queues)).await;
            } else {
                self.shards.push(spawn_shard(index, queues, api, auth, settings, events, stop, &self.name));
            }
        }
    }

    fn publish_status(&mut self) {
        self.gate.expire(now_ms());
        let channels: Vec<ShardStatus> =
            self.shards.iter().map(|s| s.status.lock().unwrap_or_else(|e| e.into_inner()).clone()).collect();
        let open = channels.iter().filter(|c| c.state == "healthy").count();
        self.metrics.channels_open.set(open as f64);
        let now = now_ms();
        let queues: Vec<Value> = self
            .coverage
            .view()
            .into_iter()
            .map(|q| {
                let lag = q.watermark_ms.map(|w| (now - w) as f64 / 1000.0);
                if let Some(lag) = lag {
                    metrics::gauge!("genesys_watermark_lag_seconds", "connector" => self.name.clone(), "queue" => q.queue_id.clone())
                        .set(lag);
                }
                json!({
                    "queue_id": q.queue_id, "watermark_ms": q.watermark_ms, "watermark_lag_seconds": lag,
                    "covered": q.covered, "lost_since_ms": q.lost_since_ms, "pending_gaps": q.pending_gaps,
                })
            })
            .collect();
        let now_channels: Vec<Value> = channels
            .iter()
            .map(|c| {
                json!({
                    "shard": c.shard, "state": c.state, "channel_id": c.channel_id,
                    "age_seconds": c.channel_created_ms.map(|t| (now - t) / 1000),
                    "expires_in_seconds": c.channel_expires_ms.map(|t| (t - now) / 1000),
                    "last_pong_ms_ago": c.last_proof_ms.map(|t| now - t),
                    "last_verified_ms_ago": c.last_verified_ms.map(|t| now - t),
                    "topics": c.topics, "reuses": c.channel_reuses,
                    "reconnects": c.reconnects, "rollovers": c.rollovers, "bad_frames": c.bad_frames,
                    "unknown_topics": c.unknown_topics, "last_death": c.last_death, "rejected": c.rejected,
                })
            })
            .collect();
        let gaps: Vec<Value> = self
            .coverage
            .pending_gaps()
            .into_iter()
            .map(|g| json!({"queue_id": g.queue_id, "from_ms": g.from_ms, "to_ms": g.to_ms, "truncated_from_ms": g.truncated_from_ms}))
            .collect();
        let (backfill, progress) = match self.backfill_status.lock() {
            Ok(b) => {
                // Gaps finished since start, out of those finished or pending: what a terminal shows.
                let progress = json!({
                    "label": "backfill",
                    "done": b.gaps_done,
                    "total": b.gaps_done + gaps.len() as u64,
                    "note": format!("{} conversations", b.conversations),
                });
                (serde_json::to_value(&*b).unwrap_or(Value::Null), progress)
            }
            Err(_) => (Value::Null, Value::Null),
        };
        self.ctx.status().set_detail(json!({
            "tenant": self.tenant,
            "channels": now_channels,
            "queues": queues,
            "gaps": gaps,
            "backfill": backfill,
            "progress": progress,
            "counts": self.counts,
        }));
        // Pending gaps are normal work (shown in the detail); a queue without coverage, or a
        // backfill that keeps failing, is not.
        let uncovered = self.coverage.view().iter().filter(|q| !q.covered).count();
        let backfill_error = self.backfill_status.lock().ok().and_then(|b| b.last_error.clone());
        if uncovered > 0 && (open > 0 || channels.iter().any(|c| c.last_death.is_some())) {
            self.ctx.status().set_health(Health::Degraded(format!("{uncovered} queue(s) without coverage")));
        } else if let Some(error) = backfill_error {
            self.ctx.status().set_health(Health::Degraded(format!("backfill failing: {error}")));
        } else if uncovered == 0 {
            self.ctx.status().set_health(Health::Healthy);
        }
    }
}

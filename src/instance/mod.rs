//! One running connector instance: its lane of a producer, its offsets, its tasks and the pump
//! between them.
//!
//! # Lifecycle of one run
//!
//! 1. Validate the config; open the instance's lane: of the producer it shares with instances of
//!    the same producer properties, or (with `kafka.exactly_once`) of its own producer, whose
//!    transactional id fences an earlier owner; then read the instance's stored offsets (the
//!    offsets topic, to its end, in one read with the instances starting meanwhile).
//! 2. Prepare the Avro schemas of its outputs (register or look them up), so an incompatible
//!    schema fails here, before anything is produced.
//! 3. Start the tasks with the stored offsets; pump their records into the lane; commit
//!    acknowledged offsets every `flush_interval`.
//! 4. On stop: cancel the tasks, drain what they emitted, wait for Kafka's acknowledgements,
//!    commit the final offsets. On failure the same, as far as the failure allows: offsets are
//!    committed only up to the last record acknowledged in order, so the next run re-delivers.

mod commit;
mod delivery;
mod lane;
pub mod producers;
mod pump;
mod transaction;
mod written;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::config::ClientConfig;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use self::delivery::Acks;
use self::lane::{Lane, Producer, RECORD_OVERHEAD, Router};
use self::producers::{ProducerPool, SHARED_CLIENT_ID};
use self::transaction::Transactions;
use crate::api::{ConnectorContext, Emitter, SourceOffset, SourcePartition, StatusHandle, TaskContext, TaskError};
use crate::avro::{AvroError, Encoder, EncoderOptions, Schemas};
use crate::config::ConnectorConfig;
use crate::kafka::{EmbeddedKafka, ProduceError};
use crate::offsets::{AckTracker, OffsetsReader};
use crate::plugins::Plugins;
use crate::schema_registry::{RegistryClient, RegistryError};

pub use commit::Committer;

/// Capacity of the channel between a connector's tasks and its pump.
pub const CHANNEL_CAPACITY: usize = 4096;

/// How long shutdown waits for Kafka to acknowledge what was already produced.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// What the runtime gives every instance.
#[derive(Clone)]
pub struct Environment {
    pub bootstrap_servers: String,
    /// `kafka.producer`: applied over the defaults, under each connector's own `producer`.
    pub producer: crate::config::Properties,
    /// Where instances that may share a producer get it; `None` (`kafka.share_producers: false`):
    /// a producer per instance.
    pub producers: Option<Arc<ProducerPool>>,
    /// `kafka.buffer_memory` and `kafka.connector_buffer_memory`, in bytes.
    pub buffer_memory: u64,
    pub connector_buffer_memory: u64,
    /// Consumer properties for reading topics (the output topic, for exactly-once).
    pub consumer: ClientConfig,
    pub offsets_topic: String,
    /// Reads the offsets topic for every instance starting about the same time.
    pub offsets: Arc<OffsetsReader>,
    pub flush_interval: Duration,
    pub registry: RegistryClient,
    pub schemas: Arc<Schemas>,
    pub encoder_options: EncoderOptions,
    /// Set in embedded mode: output topics are created through it.
    pub embedded: Option<Arc<EmbeddedKafka>>,
    pub embedded_partitions: i32,
    pub plugins: Plugins,
    /// Set with `kafka.exactly_once`: each instance's `transactional.id` is this prefix and its
    /// name, and its records and offsets are written in transactions (see [`transaction`]).
    pub transactional_id_prefix: Option<String>,
}

/// What the outside sees of a running instance. The run fills in `tasks`, `tracker` and
/// `running_since` when it starts its tasks; the supervisor clears them when the run ends and
/// counts `runs`.
#[derive(Default)]
pub struct LiveView {
    pub tasks: Vec<StatusHandle>,
    pub tracker: Option<Arc<AckTracker>>,
    /// Runs started since the instance was created.
    pub runs: u64,
    /// When the current run started its tasks.
    pub running_since: Option<std::time::SystemTime>,
}

/// Controls for one run.
#[derive(Clone)]
pub struct Control {
    pub stop: CancellationToken,
    pub paused: watch::Receiver<bool>,
    pub view: Arc<Mutex<LiveView>>,
}

fn fatal(message: impl Into<String>) -> TaskError {
    TaskError::Fatal(message.into())
}

/// A registry that cannot be reached may come back; anything else it says needs an operator.
fn avro_error(e: AvroError) -> TaskError {
    let retriable =
        matches!(&e, AvroError::Registry { error, .. } if matches!(**error, RegistryError::Unavailable { .. }));
    if retriable { TaskError::Retriable(e.to_string()) } else { TaskError::Fatal(e.to_string()) }
}

/// Runs `entry` until `control.stop` fires (returns `Ok`) or it fails.
pub async fn run(env: &Environment, entry: &ConnectorConfig, control: Control) -> Result<(), TaskError> {
    let name: Arc<str> = entry.name.as_str().into();
    let plugin =
        env.plugins.get(&entry.class).ok_or_else(|| fatal(format!("unknown connector class `{}`", entry.class)))?;
    let outputs = plugin.validate(&entry.config).map_err(|issues| {
        fatal(format!("invalid config: {}", issues.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")))
    })?;

    let tracker = Arc::new(AckTracker::new());

    let transactional_id = env.transactional_id_prefix.as_ref().map(|prefix| format!("{prefix}{name}"));
    let lane = Arc::new(open_lane(env, entry, &name, &tracker, transactional_id.as_deref())?);
    let transactions = match transactional_id {
        Some(id) => Some(Arc::new(
            Transactions::begin(name.clone(), id, env.offsets_topic.clone(), lane.clone(), tracker.clone()).await?,
        )),
        None => None,
    };
    // Read after the transactional producer fenced any earlier owner: nothing it still sends
    // can be committed after this read.
    let stored = read_offsets(env, &name).await?;
    for (partition, offset) in &stored {
        tracker.seed_committed(partition, offset.clone());
    }

    let encoder = Encoder::new(env.registry.clone(), env.schemas.clone(), env.encoder_options);
    for output in &outputs {
        if let Some(embedded) = &env.embedded {
            // The mock cluster has no CreateTopics; an existing topic is fine.
            let _ = embedded.create_topic(&output.topic, env.embedded_partitions);
        }
        encoder.prepare(&output.topic, &output.value_schema).await.map_err(avro_error)?;
    }

    let tasks = plugin
        .create_tasks(&ConnectorContext { name: name.clone() }, &entry.config)
        .map_err(|e| fatal(format!("cannot create tasks: {e}")))?;
    let (emitter, rx) = Emitter::channel(CHANNEL_CAPACITY);
    let written: Arc<dyn crate::api::WrittenRecords> =
        Arc::new(written::Written::new(name.clone(), &env.consumer, env.registry.clone()));
    let task_stop = control.stop.child_token();
    let mut running = JoinSet::new();
    {
        let mut view = control.view.lock().unwrap_or_else(|e| e.into_inner());
        view.tasks.clear();
        view.tracker = Some(tracker.clone());
        view.running_since = Some(std::time::SystemTime::now());
        for (id, task) in tasks.into_iter().enumerate() {
            let status = StatusHandle::new();
            view.tasks.push(status.clone());
            let mut ctx = TaskContext::new(
                name.clone(),
                id,
                stored.clone(),
                emitter.clone(),
                tracker.clone(),
                status,
                task_stop.clone(),
            );
            if transactions.is_some() {
                ctx = ctx.with_written_records(written.clone());
            }
            let span = tracing::info_span!("task", connector = %name, task = id);
            running.spawn(task.run(ctx).instrument(span));
        }
    }
    drop(emitter);
    tracing::info!(connector = %name, tasks = running.len(), partitions = stored.len(), "connector started");

    let mut pump = tokio::spawn(
        pump::pump(
            rx,
            encoder,
            lane.clone(),
            tracker.clone(),
            transactions.clone(),
            control.paused.clone(),
            pump::PumpMetrics::new(&name),
        )
        .instrument(tracing::Span::current()),
    );
    let committer = Committer::new(name.clone(), env.offsets_topic.clone(), lane.clone(), tracker.clone());
    let mut flush = tokio::time::interval(env.flush_interval);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    let mut pumped = None;
    let mut outcome: Result<(), TaskError> = Ok(());
    // After a failed or fenced transaction nothing more may be committed by this run.
    let mut transaction_failed = false;
    loop {
        tokio::select! {
            joined = running.join_next() => match joined {
                None => break,
                Some(Ok(Ok(()))) => {}
                Some(Ok(Err(e))) => {
                    if outcome.is_ok() { outcome = Err(e); }
                    task_stop.cancel();
                }
                Some(Err(e)) => {
                    if outcome.is_ok() { outcome = Err(TaskError::Retriable(format!("a task panicked: {e}"))); }
                    task_stop.cancel();
                }
            },
            result = &mut pump, if pumped.is_none() => {
                let result = result.unwrap_or_else(|e| Err(TaskError::Retriable(format!("the pump panicked: {e}"))));
                if let Err(e) = &result && outcome.is_ok() {
                    outcome = Err(e.clone());
                }
                pumped = Some(result);
                task_stop.cancel();
            }
            failure = lane.failed(), if outcome.is_ok() => {
                outcome = Err(failure.into());
                task_stop.cancel();
            }
            _ = flush.tick() => {
                let timeout = env.flush_interval.max(Duration::from_secs(5));
                match &transactions {
                    Some(transactions) => {
                        if let Err(e) = transactions.commit(timeout).await {
                            if outcome.is_ok() { outcome = Err(e); }
                            transaction_failed = true;
                            task_stop.cancel();
                        }
                    }
                    None => { let _ = committer.commit(timeout).await; }
                }
            }
        }
    }
    // However the run noticed it, a fenced producer is reported as such (once).
    if let (Some(transactions), Some(ProduceError::Fenced(reason))) = (&transactions, lane.failure()) {
        outcome = Err(transactions.fenced(&reason));
    }
    // Every task has returned, so every sender is gone: the pump finishes what is queued.
    if pumped.is_none() {
        let result = pump.await.unwrap_or_else(|e| Err(TaskError::Retriable(format!("the pump panicked: {e}"))));
        if let Err(e) = result
            && outcome.is_ok()
        {
            outcome = Err(e);
        }
    }
    if !lane.drain(DRAIN_TIMEOUT).await {
        tracing::warn!(connector = %name, "not every record was acknowledged before shutdown; they will be re-delivered");
    }
    match &transactions {
        // What was sent is committed with its offsets, unless the producer itself failed.
        Some(_) if transaction_failed || lane.failure().is_some() => {
            tracing::warn!(connector = %name, "the open transaction is not committed; the next run starts from the last commit")
        }
        Some(transactions) => match transactions.commit(DRAIN_TIMEOUT).await {
            Ok(partitions) => {
                tracing::info!(connector = %name, partitions_changed = partitions, "final transaction committed")
            }
            Err(e) => {
                tracing::warn!(connector = %name, error = %e, "final transaction failed; the next run starts from the last commit")
            }
        },
        None => match committer.commit(DRAIN_TIMEOUT).await {
            Ok(partitions) => {
                tracing::info!(connector = %name, partitions_changed = partitions, "final offsets committed")
            }
            Err(e) => {
                tracing::warn!(connector = %name, error = %e, "final offset commit failed; records since the last commit will be re-delivered")
            }
        },
    }
    // The reason of a failure is logged by the supervisor, scrubbed of the entry's secrets.
    tracing::info!(connector = %name, failed = outcome.is_err(), "connector stopped");
    outcome
}

async fn read_offsets(env: &Environment, name: &str) -> Result<HashMap<SourcePartition, SourceOffset>, TaskError> {
    let stored = env.offsets.read().await.map_err(|e| TaskError::Retriable(e.to_string()))?;
    Ok(stored.for_connector(name))
}

/// The lane this run sends on: through the producer it shares with every instance of the same
/// effective properties, or through one of its own (exactly-once, or sharing turned off).
fn open_lane(
    env: &Environment,
    entry: &ConnectorConfig,
    name: &Arc<str>,
    tracker: &Arc<AckTracker>,
    transactional_id: Option<&str>,
) -> Result<Lane, ProduceError> {
    let pool = env.producers.as_ref().filter(|_| transactional_id.is_none());
    let client_id = match pool {
        Some(_) => SHARED_CLIENT_ID.to_owned(),
        None => format!("tributary-{name}"),
    };
    let mut config = crate::kafka::producer::default_properties(&env.bootstrap_servers, &client_id);
    config.set("queue.buffering.max.kbytes", (env.buffer_memory >> 10).to_string()).set(
        "queue.buffering.max.messages",
        (env.buffer_memory / RECORD_OVERHEAD as u64).clamp(1000, 10_000_000).to_string(),
    );
    for (key, value) in env.producer.iter().chain(&entry.producer) {
        config.set(key, value.to_string());
    }
    if let Some(id) = transactional_id {
        config.set("transactional.id", id);
    }
    let producer = match pool {
        Some(pool) => pool.shared(&config)?,
        None => Arc::new(Producer::new(&config, name.clone(), Router)?),
    };
    let limit = usize::try_from(env.connector_buffer_memory).unwrap_or(usize::MAX);
    Ok(Lane::new(producer, name.clone(), Acks::new(name, tracker.clone()), limit))
}

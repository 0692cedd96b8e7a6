//! `datagen`: a built-in source of deterministic records, at a set rate or as fast as possible.
//!
//! It exercises the runtime without any external system and drives the benchmark. Each generator
//! is one task and one source partition `{"generator": i}`; its offset `{"seq": n}` means records
//! `0..=n` of that generator are in Kafka, and a restarted generator continues at `n + 1`.

mod record;

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::api::{
    ConfigIssue, Connector, ConnectorContext, ConnectorError, Output, RecordValue, SourceOffset, SourcePartition,
    SourceRecord, SourceTask, TaskContext, TaskError, async_trait,
};
pub use record::{DatagenRecord, FillerPool, SCHEMA, Short};

/// `class: datagen` config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatagenConfig {
    pub topic: String,
    /// Records per second per generator; absent for as fast as possible.
    #[serde(default)]
    pub rate: Option<f64>,
    /// Records per generator before it goes idle; absent for no end.
    #[serde(default)]
    pub count: Option<u64>,
    /// Generators, each its own task and source partition.
    #[serde(default = "one")]
    pub generators: u32,
    /// Approximate size of an encoded record in bytes.
    #[serde(default = "default_record_bytes")]
    pub record_bytes: usize,
    #[serde(default)]
    pub seed: u64,
}

fn one() -> u32 {
    1
}

fn default_record_bytes() -> usize {
    500
}

/// The `datagen` connector plugin.
#[derive(Debug, Default)]
pub struct Datagen;

impl Connector for Datagen {
    type Config = DatagenConfig;

    fn class(&self) -> &'static str {
        "datagen"
    }

    fn description(&self) -> &'static str {
        "Deterministic synthetic records at a set rate, for trying and measuring the runtime"
    }

    fn validate(&self, config: &DatagenConfig) -> Vec<ConfigIssue> {
        let mut issues = Vec::new();
        if config.topic.trim().is_empty() {
            issues.push(ConfigIssue::new("topic", "must not be empty"));
        }
        if let Some(rate) = config.rate
            && !(rate.is_finite() && rate > 0.0)
        {
            issues.push(ConfigIssue::new("rate", "must be a positive number of records per second"));
        }
        if config.generators == 0 || config.generators > 1024 {
            issues.push(ConfigIssue::new("generators", "must be between 1 and 1024"));
        }
        if config.record_bytes > 1_000_000 {
            issues.push(ConfigIssue::new("record_bytes", "must be at most 1000000"));
        }
        issues
    }

    fn outputs(&self, config: &DatagenConfig) -> Vec<Output> {
        vec![Output { topic: config.topic.clone(), value_schema: SCHEMA.to_owned() }]
    }

    fn create_tasks(
        &self,
        _ctx: &ConnectorContext,
        config: DatagenConfig,
    ) -> Result<Vec<Box<dyn SourceTask>>, ConnectorError> {
        let pool = record::FillerPool::new(config.seed, config.record_bytes);
        let topic: Arc<str> = config.topic.as_str().into();
        Ok((0..config.generators)
            .map(|g| {
                Box::new(Generator { generator: g, config: config.clone(), topic: topic.clone(), pool: pool.clone() })
                    as Box<dyn SourceTask>
            })
            .collect())
    }
}

struct Generator {
    generator: u32,
    config: DatagenConfig,
    topic: Arc<str>,
    pool: record::FillerPool,
}

#[async_trait]
impl SourceTask for Generator {
    async fn run(self: Box<Self>, ctx: TaskContext) -> Result<(), TaskError> {
        let partition = SourcePartition::single("generator", self.generator.to_string());
        let mut seq = match ctx.stored_offset(&partition).map(|o| o.get_i64("seq")) {
            Some(Some(last)) if last >= 0 => last as u64 + 1,
            Some(_) => return Err(TaskError::Fatal(format!("stored offset of {partition} has no valid `seq`"))),
            None => 0,
        };
        tracing::info!(generator = self.generator, from_seq = seq, "datagen starting");
        ctx.status().set_health(crate::api::Health::Healthy);
        let schema: Arc<str> = SCHEMA.into();
        let mut pacer = self.config.rate.map(Pacer::new);
        loop {
            if self.config.count.is_some_and(|count| seq >= count) {
                ctx.cancelled().await;
                return Ok(());
            }
            if let Some(pacer) = &mut pacer {
                tokio::select! {
                    _ = ctx.cancelled() => return Ok(()),
                    _ = pacer.next() => {}
                }
            } else if ctx.is_cancelled() {
                return Ok(());
            }
            let body = DatagenRecord::generate(self.config.seed, self.generator, seq, &self.pool);
            let record = SourceRecord {
                partition: partition.clone(),
                offset: SourceOffset::single_i64("seq", seq as i64),
                topic: self.topic.clone(),
                key: Some(body.key_bytes()),
                timestamp_ms: Some(body.event_time),
                value: RecordValue::new(schema.clone(), body),
                headers: Vec::new(),
            };
            // The send comes first: when the channel has room it completes at once, and the
            // cancellation future (which registers with the token when polled) is never polled.
            // Cancellation is still seen: at the top of the loop, or here while the send waits.
            tokio::select! {
                biased;
                sent = ctx.emitter().send(record) => if sent.is_err() { return Ok(()) },
                _ = ctx.cancelled() => return Ok(()),
            }
            seq += 1;
        }
    }
}

/// Spaces records evenly at `rate` per second, catching up after a stall without bursting
/// beyond one tick's worth.
struct Pacer {
    interval: tokio::time::Interval,
}

impl Pacer {
    fn new(rate: f64) -> Self {
        let period = Duration::from_secs_f64(1.0 / rate.max(1e-6));
        let mut interval = tokio::time::interval(period.max(Duration::from_micros(10)));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        Self { interval }
    }

    async fn next(&mut self) {
        self.interval.tick().await;
    }
}

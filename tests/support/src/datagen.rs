//! The datagen connector in tests: a spying variant that records what the runtime gives its
//! tasks, and checks of consumed records and committed offsets against what the generator makes.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{Value, json};
use tributary::api::{
    Acknowledgements, ConfigIssue, Connector, ConnectorContext, ConnectorError, Output, SourceOffset, SourcePartition,
    SourceTask, TaskContext, TaskError, async_trait,
};
use tributary::datagen::{Datagen, DatagenConfig, DatagenRecord, FillerPool};
use tributary::plugins::Plugins;

use crate::topics::stored_offsets;

/// What one task run was given by the runtime.
#[derive(Clone)]
pub struct TaskRun {
    pub task_id: usize,
    pub stored: HashMap<SourcePartition, SourceOffset>,
    pub acks: Arc<dyn Acknowledgements>,
    pub started: Instant,
}

/// Every task run seen so far, in start order.
#[derive(Clone, Default)]
pub struct SpyLog(Arc<Mutex<Vec<TaskRun>>>);

impl SpyLog {
    pub fn runs(&self) -> Vec<TaskRun> {
        self.0.lock().expect("spy log").clone()
    }

    /// The acknowledgements of the latest run, once a task has started.
    pub fn acks(&self) -> Option<Arc<dyn Acknowledgements>> {
        self.runs().last().map(|r| r.acks.clone())
    }
}

/// Registered as `datagen`: the real datagen connector, whose tasks first write down the stored
/// offsets and acknowledgements the runtime handed them.
pub struct SpyDatagen {
    pub log: SpyLog,
}

impl Connector for SpyDatagen {
    type Config = DatagenConfig;

    fn class(&self) -> &'static str {
        "datagen"
    }

    fn description(&self) -> &'static str {
        "datagen, recording what its tasks are given"
    }

    fn validate(&self, config: &DatagenConfig) -> Vec<ConfigIssue> {
        Connector::validate(&Datagen, config)
    }

    fn outputs(&self, config: &DatagenConfig) -> Vec<Output> {
        Connector::outputs(&Datagen, config)
    }

    fn create_tasks(
        &self,
        ctx: &ConnectorContext,
        config: DatagenConfig,
    ) -> Result<Vec<Box<dyn SourceTask>>, ConnectorError> {
        let tasks = Connector::create_tasks(&Datagen, ctx, config)?;
        Ok(tasks
            .into_iter()
            .map(|inner| Box::new(SpyTask { inner, log: self.log.clone() }) as Box<dyn SourceTask>)
            .collect())
    }
}

struct SpyTask {
    inner: Box<dyn SourceTask>,
    log: SpyLog,
}

#[async_trait]
impl SourceTask for SpyTask {
    async fn run(self: Box<Self>, ctx: TaskContext) -> Result<(), TaskError> {
        self.log.0.lock().expect("spy log").push(TaskRun {
            task_id: ctx.task_id(),
            stored: ctx.stored_offsets().clone(),
            acks: ctx.acknowledgements().clone(),
            started: Instant::now(),
        });
        self.inner.run(ctx).await
    }
}

/// Plugins holding only the spying datagen.
pub fn spy_plugins() -> (Plugins, SpyLog) {
    let log = SpyLog::default();
    let mut plugins = Plugins::new();
    plugins.register(SpyDatagen { log: log.clone() });
    (plugins, log)
}

/// Plugins holding the real datagen.
pub fn datagen_plugins() -> Plugins {
    let mut plugins = Plugins::new();
    plugins.register(Datagen);
    plugins
}

/// Datagen's source partition of `generator`.
pub fn generator(generator: u32) -> SourcePartition {
    SourcePartition::single("generator", generator.to_string())
}

/// The `seq` of a datagen offset.
pub fn seq_of(offset: Option<&SourceOffset>) -> Option<i64> {
    offset.and_then(|o| o.get_i64("seq"))
}

/// `generator → seq` of datagen's stored offsets.
pub fn generator_seqs(stored: HashMap<SourcePartition, SourceOffset>) -> BTreeMap<String, i64> {
    stored
        .into_iter()
        .map(|(p, o)| (p.get_str("generator").expect("generator partition").to_owned(), seq_of(Some(&o)).expect("seq")))
        .collect()
}

/// The committed `seq` of each datagen generator of `connector` in the offsets topic `topic`.
pub async fn committed_seqs_in(bootstrap: &str, topic: &str, connector: &str) -> BTreeMap<String, i64> {
    generator_seqs(stored_offsets(bootstrap, topic, connector).await)
}

/// The committed `seq` of each datagen generator of `connector` in `tributary-offsets`.
pub async fn committed_seqs(bootstrap: &str, connector: &str) -> BTreeMap<String, i64> {
    committed_seqs_in(bootstrap, "tributary-offsets", connector).await
}

/// Seqs per generator found in decoded datagen values, each list sorted.
pub fn seqs_by_generator(values: &[Value]) -> BTreeMap<i64, Vec<i64>> {
    let mut by: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for v in values {
        let g = v["generator"].as_i64().expect("generator");
        by.entry(g).or_default().push(v["seq"].as_i64().expect("seq"));
    }
    for seqs in by.values_mut() {
        seqs.sort_unstable();
    }
    by
}

/// What datagen must have produced for `(seed, generator, seq)`, minus `event_time` (the clock).
pub fn expected_datagen(pool: &FillerPool, seed: u64, generator: u32, seq: u64) -> (String, Value) {
    let r = DatagenRecord::generate(seed, generator, seq, pool);
    let value = json!({
        "generator": r.generator,
        "seq": r.seq,
        "customer": r.customer,
        "amount_cents": r.amount_cents,
        "status": r.status,
        "note": r.note,
        "payload": r.payload.as_str(),
    });
    (r.customer_key(), value)
}

/// Checks one consumed datagen record (key, decoded value, timestamp) against the generator.
pub fn check_datagen_record(pool: &FillerPool, seed: u64, key: Option<&[u8]>, value: &Value, timestamp: Option<i64>) {
    let g = value["generator"].as_u64().expect("generator") as u32;
    let seq = value["seq"].as_u64().expect("seq");
    let (expected_key, expected) = expected_datagen(pool, seed, g, seq);
    let mut got = value.clone();
    let event_time = got.as_object_mut().and_then(|o| o.remove("event_time")).and_then(|t| t.as_i64());
    assert_eq!(got, expected, "generator {g} seq {seq}");
    assert_eq!(key.map(|k| String::from_utf8_lossy(k).into_owned()), Some(expected_key), "key of {g}/{seq}");
    let event_time = event_time.expect("event_time is a long");
    assert!(event_time > 1_600_000_000_000, "event_time {event_time} is a recent epoch-millis time");
    if let Some(ts) = timestamp {
        assert_eq!(ts, event_time, "the Kafka timestamp is the record's event time");
    }
}

/// Asserts that `seqs` (sorted) are exactly `0..=last`, each once; the failure names what is
/// missing and what is repeated, not the whole list.
pub fn assert_once_up_to(what: &str, seqs: &[i64], last: i64) {
    let expected: Vec<i64> = (0..=last).collect();
    if seqs == expected.as_slice() {
        return;
    }
    let missing: Vec<i64> = expected.iter().filter(|s| seqs.binary_search(s).is_err()).copied().collect();
    let repeated: Vec<i64> = seqs.windows(2).filter(|w| w[0] == w[1]).map(|w| w[0]).collect();
    let beyond: Vec<i64> = seqs.iter().filter(|s| **s > last).copied().collect();
    panic!(
        "{what}: {} records for seqs 0..={last}; missing {} (first {:?}); repeated {} (first {:?}); beyond the last committed {} (first {:?})",
        seqs.len(),
        missing.len(),
        &missing[..missing.len().min(10)],
        repeated.len(),
        &repeated[..repeated.len().min(10)],
        beyond.len(),
        &beyond[..beyond.len().min(10)],
    );
}

/// Asserts that each generator's seqs are exactly `0..count`, each once.
pub fn assert_exactly(by_generator: &BTreeMap<i64, Vec<i64>>, generators: i64, count: i64) {
    assert_eq!(by_generator.keys().copied().collect::<Vec<_>>(), (0..generators).collect::<Vec<_>>());
    for (g, seqs) in by_generator {
        let expected: Vec<i64> = (0..count).collect();
        if *seqs != expected {
            let missing: Vec<i64> = expected.iter().filter(|s| seqs.binary_search(s).is_err()).copied().collect();
            let mut dups = seqs.clone();
            dups.dedup();
            panic!(
                "generator {g}: {} records, expected {count}; missing {:?}; {} duplicate(s)",
                seqs.len(),
                &missing[..missing.len().min(20)],
                seqs.len() - dups.len()
            );
        }
    }
}

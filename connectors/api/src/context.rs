//! What a running task is given: its stored offsets, a bounded emitter, acknowledgements,
//! a status handle and a cancellation signal.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::record::{Emit, SourceOffset, SourcePartition, SourceRecord};
use crate::status::StatusHandle;

/// The runtime stopped accepting records: the task was cancelled or the connector failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the runtime stopped accepting records")]
pub struct Stopped;

/// Sends records to the runtime through a bounded channel; `send` waits while it is full.
#[derive(Clone, Debug)]
pub struct Emitter {
    tx: mpsc::Sender<Emit>,
}

impl Emitter {
    pub fn new(tx: mpsc::Sender<Emit>) -> Self {
        Self { tx }
    }

    /// A bounded channel pair, for runtimes and tests.
    pub fn channel(capacity: usize) -> (Self, mpsc::Receiver<Emit>) {
        let (tx, rx) = mpsc::channel(capacity);
        (Self { tx }, rx)
    }

    /// Hands a record to the runtime, waiting while the channel is full (back-pressure).
    pub async fn send(&self, record: SourceRecord) -> Result<(), Stopped> {
        self.tx.send(Emit::Record(record)).await.map_err(|_| Stopped)
    }

    /// Moves a partition's offset without a record; see [`Emit::Offset`].
    pub async fn send_offset(&self, partition: SourcePartition, offset: SourceOffset) -> Result<(), Stopped> {
        self.tx.send(Emit::Offset { partition, offset }).await.map_err(|_| Stopped)
    }

    /// How many more emits fit before `send` would wait.
    pub fn capacity(&self) -> usize {
        self.tx.capacity()
    }
}

/// What Kafka has acknowledged so far, as seen by the runtime's in-order ack tracker.
pub trait Acknowledgements: Send + Sync {
    /// The latest offset of `partition` such that its record and every earlier record of the
    /// partition is acknowledged by Kafka (it may not have been written to the offsets topic yet).
    fn acknowledged(&self, partition: &SourcePartition) -> Option<SourceOffset>;
    /// Records acknowledged by Kafka since the task started.
    fn acknowledged_records(&self) -> u64;
}

/// An [`Acknowledgements`] that never sees anything, for tests that do not care.
#[derive(Debug, Default)]
pub struct NoAcknowledgements;

impl Acknowledgements for NoAcknowledgements {
    fn acknowledged(&self, _partition: &SourcePartition) -> Option<SourceOffset> {
        None
    }
    fn acknowledged_records(&self) -> u64 {
        0
    }
}

/// What this connector instance already wrote to Kafka, as a `read_committed` reader sees it.
///
/// Offered to tasks only with exactly-once delivery (`kafka.exactly_once`): there, a record is
/// visible exactly when the offset that covers it is committed, so a task whose offset is a
/// position resumes without repeats by itself. A task whose offset covers a span of time (a
/// watermark) re-reads that span after a restart or a handover to another replica, and can ask
/// what it already wrote there so as to leave it out.
#[async_trait::async_trait]
pub trait WrittenRecords: Send + Sync {
    /// The values, decoded to JSON as their schema reads them, of the records in `topic` whose
    /// Kafka timestamp is at or after `since_ms`, up to the end of the topic now; in each
    /// partition's order. Records of other instances writing the same topic are included.
    async fn since(&self, topic: &str, since_ms: i64) -> Result<Vec<serde_json::Value>, String>;
}

/// Everything a task needs while it runs.
pub struct TaskContext {
    connector: Arc<str>,
    task_id: usize,
    stored: HashMap<SourcePartition, SourceOffset>,
    emitter: Emitter,
    acks: Arc<dyn Acknowledgements>,
    status: StatusHandle,
    cancel: CancellationToken,
    written: Option<Arc<dyn WrittenRecords>>,
}

impl TaskContext {
    pub fn new(
        connector: Arc<str>,
        task_id: usize,
        stored: HashMap<SourcePartition, SourceOffset>,
        emitter: Emitter,
        acks: Arc<dyn Acknowledgements>,
        status: StatusHandle,
        cancel: CancellationToken,
    ) -> Self {
        Self { connector, task_id, stored, emitter, acks, status, cancel, written: None }
    }

    /// Offers the task what the instance already wrote (see [`WrittenRecords`]).
    pub fn with_written_records(mut self, written: Arc<dyn WrittenRecords>) -> Self {
        self.written = Some(written);
        self
    }

    /// What this instance already wrote; `None` unless delivery is exactly-once.
    pub fn written_records(&self) -> Option<&Arc<dyn WrittenRecords>> {
        self.written.as_ref()
    }

    /// The connector instance's name (the `name:` of its config entry).
    pub fn connector(&self) -> &str {
        &self.connector
    }

    pub fn task_id(&self) -> usize {
        self.task_id
    }

    /// The last committed offset of `partition`, read from the offsets topic when the task started.
    pub fn stored_offset(&self, partition: &SourcePartition) -> Option<&SourceOffset> {
        self.stored.get(partition)
    }

    /// Every stored offset of this connector instance.
    pub fn stored_offsets(&self) -> &HashMap<SourcePartition, SourceOffset> {
        &self.stored
    }

    pub fn emitter(&self) -> &Emitter {
        &self.emitter
    }

    pub fn acknowledgements(&self) -> &Arc<dyn Acknowledgements> {
        &self.acks
    }

    pub fn status(&self) -> &StatusHandle {
        &self.status
    }

    /// Fires when the task must stop.
    pub fn cancellation(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Resolves when the task must stop.
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

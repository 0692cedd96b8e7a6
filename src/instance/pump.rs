//! Drains a connector's bounded channel into its lane of a producer: encode, track, send.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, watch};

use super::delivery::Delivery;
use super::lane::Lane;
use super::transaction::Transactions;
use crate::api::{Emit, TaskError};
use crate::avro::{Encoder, Prepared};
use crate::kafka::Outgoing;
use crate::offsets::AckTracker;

/// How many emits are taken from the channel at once.
const BATCH: usize = 512;

/// Per-connector counters, created once so the hot path does not build labels.
#[derive(Clone)]
pub struct PumpMetrics {
    pub records: metrics::Counter,
    pub bytes: metrics::Counter,
}

impl PumpMetrics {
    pub fn new(connector: &str) -> Self {
        let label = connector.to_owned();
        Self {
            records: metrics::counter!("tributary_records_produced_total", "connector" => label.clone()),
            bytes: metrics::counter!("tributary_bytes_produced_total", "connector" => label),
        }
    }
}

/// Records and bytes produced, added to the counters when dropped.
struct Counted<'a> {
    metrics: &'a PumpMetrics,
    records: u64,
    bytes: u64,
}

impl<'a> Counted<'a> {
    fn new(metrics: &'a PumpMetrics) -> Self {
        Self { metrics, records: 0, bytes: 0 }
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        if self.records > 0 {
            self.metrics.records.increment(self.records);
            self.metrics.bytes.increment(self.bytes);
        }
    }
}

/// Runs until every sender is gone and the channel is empty, or a record cannot be produced.
/// While `paused` is true it takes nothing, so tasks feel back-pressure. With `transactions`,
/// each batch is sent inside the open transaction.
pub async fn pump(
    mut rx: mpsc::Receiver<Emit>,
    encoder: Encoder,
    lane: Arc<Lane>,
    tracker: Arc<AckTracker>,
    transactions: Option<Arc<Transactions>>,
    mut paused: watch::Receiver<bool>,
    metrics: PumpMetrics,
) -> Result<(), TaskError> {
    let mut batch = Vec::with_capacity(BATCH);
    let mut buf = Vec::with_capacity(1024);
    // The writer of the last record's (topic, schema). Records usually come with clones of the
    // same `Arc`s (one pointer comparison each), or at least the same names (tasks of one
    // connector holding their own `Arc`s): either way no look-up.
    let mut last: Option<(Arc<str>, Arc<str>, Prepared)> = None;
    let same = |a: &Arc<str>, b: &Arc<str>| Arc::ptr_eq(a, b) || a == b;
    loop {
        if *paused.borrow() && paused.wait_for(|p| !*p).await.is_err() {
            return Ok(());
        }
        if rx.recv_many(&mut batch, BATCH).await == 0 {
            return Ok(());
        }
        // A batch goes into one transaction: a commit waits for it.
        let _sending = match &transactions {
            Some(t) => Some(t.sending().await),
            None => None,
        };
        // One clock read per batch, not per record: the ack latency it starts is in milliseconds.
        let sent = Instant::now();
        // Counted per batch (a shared atomic each): also for the records sent before a failure.
        let mut counted = Counted::new(&metrics);
        for emit in batch.drain(..) {
            match emit {
                Emit::Record(record) => {
                    buf.clear();
                    let encoded = match &last {
                        Some((topic, schema, writer))
                            if same(topic, &record.topic) && same(schema, &record.value.schema) =>
                        {
                            writer.encode(&record.value.body, &mut buf)
                        }
                        _ => match encoder.prepared(&record.topic, &record.value.schema) {
                            Some(writer) => {
                                let encoded = writer.encode(&record.value.body, &mut buf);
                                last = Some((record.topic.clone(), record.value.schema.clone(), writer));
                                encoded
                            }
                            None => encoder.encode_value(&record.value, &record.topic, &mut buf),
                        },
                    };
                    encoded.map_err(|e| {
                        TaskError::Fatal(format!("cannot encode a record for topic `{}`: {e}", record.topic))
                    })?;
                    let ticket = tracker.submit(&record.partition, record.offset);
                    let outgoing = Outgoing {
                        topic: &record.topic,
                        key: record.key.as_deref(),
                        payload: Some(&buf),
                        timestamp_ms: record.timestamp_ms,
                        headers: &record.headers,
                    };
                    if let Err(e) = lane.send(&outgoing, Delivery::Record { ticket, sent }).await {
                        tracker.fail(ticket);
                        return Err(e.into());
                    }
                    counted.records += 1;
                    counted.bytes += buf.len() as u64;
                }
                Emit::Offset { partition, offset } => tracker.submit_offset(&partition, offset),
            }
        }
    }
}

//! The room records leave the task through: the duplicate and freshness gate, then the runtime.

use std::sync::Arc;

use tributary_connector_api::{RecordValue, SourceOffset, SourceRecord, TaskContext, TaskError};

use super::OFFSET_FIELD;
use super::watermarks::Stamp;
use crate::dedup::{Gate, GateConfig, Verdict};
use crate::record::{ConversationEvent, SCHEMA_NAME, Source};

/// What the records room counted (shown in status).
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct RecordCounts {
    pub live: u64,
    pub backfilled: u64,
    pub duplicates_suppressed: u64,
    pub stale_dropped: u64,
}

struct RecordMetrics {
    live: metrics::Counter,
    backfilled: metrics::Counter,
    duplicates: metrics::Counter,
    stale: metrics::Counter,
}

/// Emits records to one topic, each at most once and never older than what its conversation
/// already produced.
pub(super) struct Records {
    topic: Arc<str>,
    schema: Arc<str>,
    gate: Gate,
    counts: RecordCounts,
    metrics: RecordMetrics,
}

impl Records {
    pub fn new(topic: &str, gate: GateConfig, connector: &str) -> Self {
        let c = connector.to_owned();
        Self {
            topic: topic.into(),
            schema: SCHEMA_NAME.into(),
            gate: Gate::new(gate),
            counts: RecordCounts::default(),
            metrics: RecordMetrics {
                live: metrics::counter!("genesys_records_total", "connector" => c.clone(), "source" => "live"),
                backfilled: metrics::counter!("genesys_records_total", "connector" => c.clone(), "source" => "backfill"),
                duplicates: metrics::counter!("genesys_duplicates_suppressed_total", "connector" => c.clone()),
                stale: metrics::counter!("genesys_stale_dropped_total", "connector" => c),
            },
        }
    }

    /// Emits `event` with the offset of its `stamp`, unless it is a duplicate or older than what
    /// was already produced for its conversation.
    pub async fn emit(&mut self, ctx: &TaskContext, event: ConversationEvent, stamp: Stamp) -> Result<(), TaskError> {
        match self.gate.admit(&event) {
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
        match event.source {
            Source::Live => {
                self.counts.live += 1;
                self.metrics.live.increment(1);
            }
            Source::Backfill => {
                self.counts.backfilled += 1;
                self.metrics.backfilled.increment(1);
            }
        }
        let record = SourceRecord {
            partition: stamp.partition,
            offset: SourceOffset::single_i64(OFFSET_FIELD, stamp.watermark_ms),
            topic: self.topic.clone(),
            key: Some(event.key()),
            // A snapshot without any timestamp has event time 0; Kafka gets the receive time then.
            timestamp_ms: Some(if event.event_time_ms > 0 { event.event_time_ms } else { event.receive_time_ms }),
            headers: Vec::new(),
            value: RecordValue::new(self.schema.clone(), event),
        };
        ctx.emitter().send(record).await.map_err(|_| TaskError::Retriable("runtime stopped".into()))
    }

    /// Applies the gate's age bounds as of `now_ms`.
    pub fn expire(&mut self, now_ms: i64) {
        self.gate.expire(now_ms);
    }

    pub fn counts(&self) -> RecordCounts {
        self.counts
    }
}

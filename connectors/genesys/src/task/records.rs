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

    /// Tells the gate what an earlier run of this tenant already wrote (read back from Kafka, see
    /// [`seed_from_kafka`]), so that re-reading the span its watermark covers writes none of it
    /// again.
    pub fn seed(&mut self, event: &ConversationEvent) {
        self.gate.record(event);
    }

    /// Applies the gate's age bounds as of `now_ms`.
    pub fn expire(&mut self, now_ms: i64) {
        self.gate.expire(now_ms);
    }

    pub fn counts(&self) -> RecordCounts {
        self.counts
    }
}

/// With exactly-once delivery, seeds `records` with what this tenant wrote to `topic` since
/// `lookback` before its oldest stored watermark: the records a run that never stopped would
/// still remember. A resumed run re-reads the span after its watermarks (and the backfill's
/// safety margin before them); without this it would write those conversations again, visible
/// twice to a `read_committed` reader. Returns how many records were seeded; `None` when the
/// runtime offers no written records (at-least-once) or nothing is stored yet.
pub(super) async fn seed_from_kafka(
    ctx: &TaskContext,
    records: &mut Records,
    tenant: &str,
    lookback_ms: i64,
) -> Result<Option<usize>, TaskError> {
    let Some(written) = ctx.written_records() else { return Ok(None) };
    let Some(oldest) = ctx.stored_offsets().values().filter_map(|o| o.get_i64(OFFSET_FIELD)).min() else {
        return Ok(None);
    };
    let since = oldest.saturating_sub(lookback_ms);
    let values = written
        .since(&records.topic, since)
        .await
        .map_err(|e| TaskError::Retriable(format!("cannot read back what this connector wrote: {e}")))?;
    let mut seeded = 0;
    for value in values {
        // Another tenant's records on a shared topic, or something else entirely, are left out.
        let Ok(event) = serde_json::from_value::<ConversationEvent>(value) else { continue };
        if event.tenant == tenant {
            records.seed(&event);
            seeded += 1;
        }
    }
    Ok(Some(seeded))
}

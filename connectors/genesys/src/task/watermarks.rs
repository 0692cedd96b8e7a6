//! Coverage bookkeeping: the watermark each record and offset of a queue carries, the gaps that
//! hold it back (handed to the backfill worker), and the conversations still open on each queue
//! (re-checked by id when a gap is backfilled). See [`crate::coverage`] for the contract.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use tokio::sync::mpsc;
use tributary_connector_api::{SourceOffset, SourcePartition, TaskContext, TaskError};

use super::{OFFSET_FIELD, PARTITION_FIELD};
use crate::backfill::BackfillRequest;
use crate::coverage::{Action, Coverage, Gap};
use crate::record::{ConversationEvent, Source};
use crate::socket::now_ms;
use crate::throttle::Throttle;

/// Open conversations remembered per queue, at most.
const MAX_OPEN_PER_QUEUE: usize = 50_000;

/// Where a record of a queue goes in the offsets: its source partition and the watermark in
/// force when it was emitted.
pub(super) struct Stamp {
    pub partition: SourcePartition,
    pub watermark_ms: i64,
}

/// The coverage of every followed queue and what it sets in motion.
pub(super) struct Watermarks {
    coverage: Coverage,
    partitions: HashMap<String, SourcePartition>,
    open: BTreeMap<String, BTreeSet<String>>,
    backfill: Option<mpsc::Sender<BackfillRequest>>,
    connector: String,
    truncated_gaps: u64,
    gap_seconds: metrics::Histogram,
    truncated: metrics::Counter,
    log: Throttle,
}

impl Watermarks {
    /// `backfill` is the worker's inbox; `None` when backfill is disabled (gaps then stay open).
    pub fn new(coverage: Coverage, backfill: Option<mpsc::Sender<BackfillRequest>>, connector: &str) -> Self {
        Self {
            coverage,
            partitions: HashMap::new(),
            open: BTreeMap::new(),
            backfill,
            connector: connector.to_owned(),
            truncated_gaps: 0,
            gap_seconds: metrics::histogram!("genesys_gap_seconds", "connector" => connector.to_owned()),
            truncated: metrics::counter!("genesys_backfill_truncated_total", "connector" => connector.to_owned()),
            log: Throttle::default(),
        }
    }

    fn partition(&mut self, queue_id: &str) -> SourcePartition {
        self.partitions
            .entry(queue_id.to_owned())
            .or_insert_with(|| SourcePartition::single(PARTITION_FIELD, queue_id.to_owned()))
            .clone()
    }

    /// Follows `queue_id` from its stored offset, if the runtime has one.
    pub fn follow(&mut self, ctx: &TaskContext, queue_id: &str) {
        let partition = self.partition(queue_id);
        let stored = ctx.stored_offset(&partition).map(|offset| {
            stored_watermark(offset, now_ms()).unwrap_or_else(|why| {
                // A run was here, but where it stood cannot be read: backfill as far back as
                // allowed, and say that anything older may be missing.
                tracing::warn!(
                    connector = %self.connector, queue = %queue_id, offset = %offset.to_json(), why,
                    "stored watermark not understood; backfilling backfill.max_gap and counting what is older as lost"
                );
                UNKNOWN_WATERMARK
            })
        });
        self.coverage.follow(queue_id, stored);
    }

    pub fn unfollow(&mut self, queue_id: &str) {
        self.coverage.unfollow(queue_id);
        self.open.remove(queue_id);
    }

    pub fn queue_ids(&self) -> BTreeSet<String> {
        self.coverage.queue_ids().cloned().collect()
    }

    /// Where `event` goes in the offsets, and what it shows about open conversations. A LIVE
    /// record of a queue no longer followed gets `None` (it is dropped); a record of a queue not
    /// covered yet (an event that raced its channel's first proof) starts coverage at its
    /// receive time.
    pub async fn stamp(&mut self, ctx: &TaskContext, event: &ConversationEvent) -> Result<Option<Stamp>, TaskError> {
        let queue_id = event.queue_id.as_str();
        let live = event.source == Source::Live;
        if live && !self.coverage.is_followed(queue_id) {
            return Ok(None);
        }
        // A conversation that ended during a gap is no longer open; one seen live may be.
        if live || event.is_ended() {
            self.track_open(event);
        }
        let at = event.receive_time_ms;
        if self.coverage.watermark(queue_id).is_none() {
            let actions = self.coverage.covered(queue_id, Some(at), at);
            self.apply(ctx, actions).await?;
        }
        let watermark_ms = self.coverage.watermark(queue_id).unwrap_or(at);
        Ok(Some(Stamp { partition: self.partition(queue_id), watermark_ms }))
    }

    fn track_open(&mut self, event: &ConversationEvent) {
        let set = self.open.entry(event.queue_id.clone()).or_default();
        if event.is_ended() {
            set.remove(event.conversation_id());
        } else if set.len() < MAX_OPEN_PER_QUEUE {
            set.insert(event.conversation_id().to_owned());
        }
    }

    /// A channel proved `queues` covered through `until_ms` (from `from_ms` when it restarts).
    pub async fn covered(
        &mut self,
        ctx: &TaskContext,
        queues: &[String],
        from_ms: Option<i64>,
        until_ms: i64,
    ) -> Result<(), TaskError> {
        // One apply for every queue: a channel's recovery is one event, logged as one line.
        let actions = queues.iter().flat_map(|q| self.coverage.covered(q, from_ms, until_ms)).collect();
        self.apply(ctx, actions).await
    }

    /// `queues` lost coverage; `since_ms` is their last proof.
    pub fn lost(&mut self, queues: &[String], since_ms: i64) {
        for q in queues {
            self.coverage.lost(q, since_ms);
        }
    }

    /// Every record of gap `gap_id` was emitted.
    pub async fn gap_filled(&mut self, ctx: &TaskContext, queue_id: &str, gap_id: u64) -> Result<(), TaskError> {
        match self.coverage.gap_filled(queue_id, gap_id) {
            Some(action) => self.apply(ctx, vec![action]).await,
            None => Ok(()),
        }
    }

    async fn apply(&mut self, ctx: &TaskContext, actions: Vec<Action>) -> Result<(), TaskError> {
        let mut gaps = Vec::new();
        for action in actions {
            match action {
                Action::Advance { queue_id, watermark_ms } => {
                    let partition = self.partition(&queue_id);
                    let offset = SourceOffset::single_i64(OFFSET_FIELD, watermark_ms);
                    ctx.emitter()
                        .send_offset(partition, offset)
                        .await
                        .map_err(|_| TaskError::Retriable("runtime stopped".into()))?;
                }
                Action::Backfill(gap) => gaps.push(gap),
            }
        }
        self.start_backfill(gaps).await;
        Ok(())
    }

    /// Hands `gaps` (found by one event: a channel's recovery, say) to the backfill worker, with
    /// one log line for all of them; each queue's gap is logged at debug.
    async fn start_backfill(&mut self, gaps: Vec<Gap>) {
        let (Some(from_ms), Some(to_ms)) = (gaps.iter().map(|g| g.from_ms).min(), gaps.iter().map(|g| g.to_ms).max())
        else {
            return;
        };
        let truncated: Vec<&Gap> = gaps.iter().filter(|g| g.truncated_from_ms.is_some()).collect();
        if let Some(lost_from_ms) = truncated.iter().filter_map(|g| g.truncated_from_ms).min() {
            self.truncated_gaps += truncated.len() as u64;
            self.truncated.increment(truncated.len() as u64);
            tracing::error!(
                connector = %self.connector, queues = truncated.len(), lost_from_ms,
                "gaps longer than backfill.max_gap: events older than max_gap are NOT backfilled"
            );
        }
        let mut open_total = 0;
        let mut requests = Vec::with_capacity(gaps.len());
        for gap in gaps {
            self.gap_seconds.record((gap.to_ms - gap.from_ms).max(0) as f64 / 1000.0);
            let open: Vec<String> =
                self.open.get(&gap.queue_id).map(|s| s.iter().cloned().collect()).unwrap_or_default();
            open_total += open.len();
            tracing::debug!(
                connector = %self.connector, queue = %gap.queue_id, from_ms = gap.from_ms, to_ms = gap.to_ms,
                truncated_from_ms = gap.truncated_from_ms, open = open.len(), "gap to backfill"
            );
            requests.push(BackfillRequest { gap, open_conversations: open });
        }
        let Some(tx) = &self.backfill else {
            tracing::warn!(
                connector = %self.connector, queues = requests.len(), from_ms, to_ms,
                "backfill disabled: the gaps stay open and the watermarks frozen"
            );
            return;
        };
        if let Some(suppressed) = self.log.admit("gaps") {
            tracing::info!(
                connector = %self.connector, queues = requests.len(), from_ms, to_ms, open = open_total, suppressed,
                "gaps to backfill"
            );
        }
        for request in requests {
            if tx.send(request).await.is_err() {
                tracing::error!(connector = %self.connector, "the backfill worker stopped");
                return;
            }
        }
    }

    pub fn coverage(&self) -> &Coverage {
        &self.coverage
    }

    pub fn truncated_gaps(&self) -> u64 {
        self.truncated_gaps
    }
}

/// The watermark a queue resumes from when its stored one cannot be read: older than any
/// `max_gap`, so the gap is cut to `max_gap` and reported as truncated.
const UNKNOWN_WATERMARK: i64 = 0;

/// How far ahead of this host's clock a stored watermark may be (another replica's clock).
const FUTURE_SLACK_MS: i64 = 5 * 60 * 1000;

/// The watermark in a stored offset: `watermark_ms`, epoch milliseconds, not negative and not
/// ahead of `now_ms` by more than [`FUTURE_SLACK_MS`] (a watermark in the future would hold
/// every later watermark there, and a crash would then resume past events never written).
/// Anything else (a foreign writer, a hand edit) is an error naming what is wrong.
fn stored_watermark(offset: &SourceOffset, now_ms: i64) -> Result<i64, String> {
    let value = offset.to_json();
    let Some(field) = value.get(OFFSET_FIELD) else {
        return Err(format!("no `{OFFSET_FIELD}`"));
    };
    let Some(ms) = field.as_i64() else {
        return Err(format!("`{OFFSET_FIELD}` is {field}, not whole epoch milliseconds"));
    };
    if ms < 0 {
        return Err(format!("`{OFFSET_FIELD}` is negative ({ms})"));
    }
    if ms > now_ms + FUTURE_SLACK_MS {
        return Err(format!("`{OFFSET_FIELD}` is {} s ahead of this host's clock", (ms - now_ms) / 1000));
    }
    Ok(ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn offset(value: serde_json::Value) -> SourceOffset {
        let map = value.as_object().cloned().unwrap_or_default();
        SourceOffset::new(map).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn only_a_sensible_watermark_is_resumed_from() {
        let now = 1_800_000_000_000;
        assert_eq!(stored_watermark(&offset(json!({"watermark_ms": now - 1000})), now), Ok(now - 1000));
        assert_eq!(
            stored_watermark(&offset(json!({"watermark_ms": now + 60_000})), now),
            Ok(now + 60_000),
            "clock skew"
        );
        for (bad, why) in [
            (json!({"watermark_ms": "yesterday"}), "not whole epoch milliseconds"),
            (json!({"watermark_ms": 1.5}), "not whole epoch milliseconds"),
            (json!({"watermark_ms": -5}), "negative"),
            (json!({"watermark_ms": now + 86_400_000}), "86400 s ahead"),
            (json!({"position": 7}), "no `watermark_ms`"),
        ] {
            let err = stored_watermark(&offset(bad.clone()), now).expect_err("refused");
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}

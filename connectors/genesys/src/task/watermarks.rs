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
        let stored = ctx.stored_offset(&partition).and_then(|o| o.get_i64(OFFSET_FIELD));
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
        for q in queues {
            let actions = self.coverage.covered(q, from_ms, until_ms);
            self.apply(ctx, actions).await?;
        }
        Ok(())
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
                Action::Backfill(gap) => self.start_backfill(gap).await,
            }
        }
        Ok(())
    }

    async fn start_backfill(&mut self, gap: Gap) {
        self.gap_seconds.record((gap.to_ms - gap.from_ms).max(0) as f64 / 1000.0);
        if let Some(from) = gap.truncated_from_ms {
            self.truncated_gaps += 1;
            self.truncated.increment(1);
            tracing::error!(
                connector = %self.connector, queue = %gap.queue_id, lost_from_ms = from, backfill_from_ms = gap.from_ms,
                "gap longer than backfill.max_gap: events before backfill_from_ms are NOT backfilled"
            );
        }
        let open: Vec<String> = self.open.get(&gap.queue_id).map(|s| s.iter().cloned().collect()).unwrap_or_default();
        tracing::info!(connector = %self.connector, queue = %gap.queue_id, from_ms = gap.from_ms, to_ms = gap.to_ms, open = open.len(), "gap to backfill");
        match &self.backfill {
            Some(tx) => {
                if tx.send(BackfillRequest { gap, open_conversations: open }).await.is_err() {
                    tracing::error!(connector = %self.connector, "the backfill worker stopped");
                }
            }
            None => {
                tracing::warn!(connector = %self.connector, queue = %gap.queue_id, "backfill disabled: the gap stays open and the watermark frozen");
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

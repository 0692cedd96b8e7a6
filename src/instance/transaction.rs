//! Exactly-once: a connector's records and the offsets that cover them in one Kafka transaction.
//!
//! The pump sends records inside the open transaction. On every flush the run, holding the same
//! lock so that no record is sent meanwhile, writes the newest submitted offset of every source
//! partition to the offsets topic inside the transaction and commits it. A `read_committed`
//! reader therefore sees a record exactly when the offset that covers it is committed, and a
//! restart from the committed offsets neither loses nor repeats a record (for a connector whose
//! offsets are positions; see `connectors/api` for what an offset means).
//!
//! A commit that fails is aborted and the run fails as retriable: the next run starts from the
//! last committed offsets and sends the aborted records again. A fenced producer (another process
//! started the same connector with the same `transactional.id`) fails the run for good: it may
//! write nothing more.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, MutexGuard};

use super::commit::send_offsets;
use super::lane::Lane;
use crate::api::TaskError;
use crate::kafka::TransactionError;
use crate::offsets::AckTracker;

/// How long registering the transactional id may take (it waits for an older producer's
/// transaction to be aborted by the broker).
const INIT_TIMEOUT: Duration = Duration::from_secs(60);

/// The open transaction of one connector instance.
pub struct Transactions {
    open: Mutex<()>,
    connector: Arc<str>,
    transactional_id: String,
    /// Whether records were sent since the last commit.
    holds_records: std::sync::atomic::AtomicBool,
    /// Whether the fence was reported.
    fenced: std::sync::atomic::AtomicBool,
    topic: String,
    lane: Arc<Lane>,
    tracker: Arc<AckTracker>,
    committed: metrics::Counter,
    aborted: metrics::Counter,
}

impl Transactions {
    /// Registers the producer's `transactional.id` (fencing an earlier owner) and opens the first
    /// transaction.
    pub async fn begin(
        connector: Arc<str>,
        transactional_id: String,
        topic: String,
        lane: Arc<Lane>,
        tracker: Arc<AckTracker>,
    ) -> Result<Self, TaskError> {
        let init = lane.producer().clone();
        blocking(move || init.init_transactions_blocking(INIT_TIMEOUT)).await.map_err(|e| {
            let why = format!(
                "cannot register transactional.id `{transactional_id}` with the broker ({e}); exactly-once \
                 needs a broker with transactions (a transaction coordinator and its `__transaction_state` \
                 topic) and permission to use the id; for a broker without them run standalone with \
                 kafka.exactly_once: false"
            );
            match e {
                TransactionError::Abortable(_) => TaskError::Retriable(why),
                TransactionError::Fenced(_) | TransactionError::Fatal(_) => TaskError::Fatal(why),
            }
        })?;
        tracing::info!(connector = %connector, "transactional producer ready (earlier owners fenced)");
        let label = connector.to_string();
        // Registered now, so that the metric reads 0 (not absent) until it happens.
        metrics::counter!("tributary_producer_fenced_total", "connector" => label.clone()).increment(0);
        Ok(Self {
            open: Mutex::new(()),
            committed: metrics::counter!("tributary_transactions_committed_total", "connector" => label.clone()),
            aborted: metrics::counter!("tributary_transactions_aborted_total", "connector" => label),
            connector,
            transactional_id,
            fenced: Default::default(),
            holds_records: Default::default(),
            topic,
            lane,
            tracker,
        })
    }

    /// Held while records are sent, so that a commit never splits a batch.
    /// Marks the open transaction as holding records, so that the next commit commits it even
    /// when no offset moved (a connector may emit records under an unchanged offset).
    pub async fn sending(&self) -> MutexGuard<'_, ()> {
        let guard = self.open.lock().await;
        self.holds_records.store(true, std::sync::atomic::Ordering::Relaxed);
        guard
    }

    /// Writes the newest offset of every partition with records in the open transaction,
    /// commits, and opens the next transaction. Returns how many partitions were committed.
    pub async fn commit(&self, timeout: Duration) -> Result<usize, TaskError> {
        let _open = self.open.lock().await;
        let commits = self.tracker.newest_uncommitted();
        let holds_records = self.holds_records.swap(false, std::sync::atomic::Ordering::Relaxed);
        if commits.is_empty() && !holds_records {
            return Ok(0);
        }
        // The records' own acknowledgement is not awaited: the commit below fails if any failed.
        if let Err(e) = send_offsets(&self.lane, &self.connector, &self.topic, &commits).await {
            return Err(self.abort(TransactionError::Abortable(e.to_string())).await);
        }
        let producer = self.lane.producer().clone();
        match blocking(move || producer.commit_transaction_blocking(timeout)).await {
            Ok(()) => {
                self.tracker.mark_committed(&commits);
                self.committed.increment(1);
                tracing::debug!(connector = %self.connector, partitions = commits.len(), "transaction committed");
                Ok(commits.len())
            }
            Err(e) => Err(self.abort(e).await),
        }
    }

    /// The run's failure once this producer was fenced: counted and logged the first time, and
    /// worded for the status.
    pub fn fenced(&self, reason: &str) -> TaskError {
        if !self.fenced.swap(true, std::sync::atomic::Ordering::Relaxed) {
            metrics::counter!("tributary_producer_fenced_total", "connector" => self.connector.to_string())
                .increment(1);
            tracing::error!(connector = %self.connector, transactional_id = %self.transactional_id, error = %reason, "producer fenced: another process now runs this connector; stopping it here");
        }
        TaskError::Fatal(format!(
            "fenced: another process started this connector with transactional.id `{}` and now runs it; \
             this one writes nothing more. If no replica of this cluster took it over, a process \
             outside it uses the same id: give each deployment its own cluster.transactional_id_prefix",
            self.transactional_id
        ))
    }

    /// Aborts the open transaction after `error` where it can be aborted; the run then fails.
    async fn abort(&self, error: TransactionError) -> TaskError {
        match &error {
            TransactionError::Abortable(reason) => {
                self.aborted.increment(1);
                let producer = self.lane.producer().clone();
                match blocking(move || producer.abort_transaction_blocking(INIT_TIMEOUT)).await {
                    Ok(()) => {}
                    // The commit failed because another producer took the id over meanwhile:
                    // that is a fence, not a failure to retry (a retry would fence it back).
                    Err(TransactionError::Fenced(fence)) => return self.fenced(&fence),
                    Err(e) => {
                        tracing::warn!(connector = %self.connector, error = %e, "abort failed; the broker aborts the transaction when it times out")
                    }
                }
                tracing::warn!(connector = %self.connector, error = %reason, "transaction aborted; restarting from the last committed offsets");
            }
            TransactionError::Fenced(reason) => return self.fenced(reason),
            TransactionError::Fatal(_) => {}
        }
        error.into()
    }
}

async fn blocking(
    step: impl FnOnce() -> Result<(), TransactionError> + Send + 'static,
) -> Result<(), TransactionError> {
    match tokio::task::spawn_blocking(step).await {
        Ok(result) => result,
        Err(e) => Err(TransactionError::Abortable(format!("a transaction step panicked: {e}"))),
    }
}

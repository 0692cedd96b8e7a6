//! Where an instance's delivery reports go: a record's to the ack tracker, so that its offset is
//! acknowledged once it and every earlier record of its source partition are; a record of an
//! offsets commit to the commit waiting for it.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::oneshot;

use crate::kafka::{ProduceError, Refused};
use crate::offsets::{AckTracker, Ticket};

/// What a delivery report belongs to.
pub enum Delivery {
    Record {
        ticket: Ticket,
        sent: Instant,
    },
    /// One record of an offsets commit.
    Commit(Arc<CommitBatch>),
}

/// Records still unacknowledged, the first error, and who to tell when all are in.
type BatchState = (usize, Option<String>, Option<oneshot::Sender<Result<(), String>>>);

/// Waits for the records of one offsets commit.
pub struct CommitBatch {
    state: Mutex<BatchState>,
}

impl CommitBatch {
    pub fn new(records: usize) -> (Arc<Self>, oneshot::Receiver<Result<(), String>>) {
        let (tx, rx) = oneshot::channel();
        let batch = Arc::new(Self { state: Mutex::new((records, None, Some(tx))) });
        if records == 0 {
            batch.done(None);
        }
        (batch, rx)
    }

    fn done(&self, error: Option<String>) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.0 = state.0.saturating_sub(1);
        if state.1.is_none() {
            state.1 = error;
        }
        if state.0 == 0
            && let Some(tx) = state.2.take()
        {
            let _ = tx.send(state.1.take().map_or(Ok(()), Err));
        }
    }
}

/// Takes an instance's delivery reports (from its [`super::lane::Lane`]). A record Kafka refused
/// fails its ticket, so its source partition's offset never moves past it, and fails the lane:
/// the instance stops with the reason. A refused commit record only fails its commit, which is
/// retried at the next flush.
pub struct Acks {
    tracker: Arc<AckTracker>,
    ack_latency: metrics::Histogram,
    produce_errors: metrics::Counter,
}

impl Acks {
    pub fn new(connector: &str, tracker: Arc<AckTracker>) -> Self {
        let label = connector.to_owned();
        Self {
            tracker,
            ack_latency: metrics::histogram!("tributary_ack_latency_seconds", "connector" => label.clone()),
            produce_errors: metrics::counter!("tributary_produce_errors_total", "connector" => label),
        }
    }

    /// Takes the report of the record sent as `delivery`. An error fails the instance's lane.
    pub fn delivered(&self, delivery: Delivery, outcome: Result<(), Refused<'_>>) -> Result<(), ProduceError> {
        match delivery {
            Delivery::Record { ticket, sent } => match outcome {
                Ok(()) => {
                    self.tracker.ack(ticket);
                    self.ack_latency.record(sent.elapsed().as_secs_f64());
                }
                Err(refused) => {
                    self.tracker.fail(ticket);
                    self.produce_errors.increment(1);
                    return Err(refused.classify());
                }
            },
            Delivery::Commit(batch) => batch.done(outcome.err().map(|refused| refused.error.to_string())),
        }
        Ok(())
    }
}

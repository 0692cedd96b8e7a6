//! Writing acknowledged offsets to the offsets topic, on the instance's lane of its producer.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use super::delivery::{CommitBatch, Delivery};
use super::lane::Lane;
use crate::api::{SourceOffset, SourcePartition};
use crate::kafka::{Outgoing, ProduceError};
use crate::offsets::{AckTracker, format};

/// Commits offsets for one connector instance.
pub struct Committer {
    pub connector: Arc<str>,
    pub topic: String,
    pub lane: Arc<Lane>,
    pub tracker: Arc<AckTracker>,
    pub commits: metrics::Counter,
    pub failures: metrics::Counter,
}

impl Committer {
    pub fn new(connector: Arc<str>, topic: String, lane: Arc<Lane>, tracker: Arc<AckTracker>) -> Self {
        let label = connector.to_string();
        Self {
            commits: metrics::counter!("tributary_offset_commits_total", "connector" => label.clone()),
            failures: metrics::counter!("tributary_offset_commit_failures_total", "connector" => label),
            connector,
            topic,
            lane,
            tracker,
        }
    }

    /// Writes every acknowledged-but-uncommitted offset and waits, up to `timeout`, for Kafka to
    /// acknowledge them. Only then are they marked committed; a failed commit is retried next time.
    /// Returns how many partitions were committed.
    pub async fn commit(&self, timeout: Duration) -> Result<usize, String> {
        let commits = self.tracker.uncommitted();
        if commits.is_empty() {
            return Ok(0);
        }
        let done = match send_offsets(&self.lane, &self.connector, &self.topic, &commits).await {
            Ok(done) => done,
            Err(e) => {
                self.failures.increment(1);
                return Err(e.to_string());
            }
        };
        let result = match tokio::time::timeout(timeout, done).await {
            Ok(Ok(Ok(()))) => Ok(commits.len()),
            Ok(Ok(Err(e))) => Err(e),
            Ok(Err(_)) => Err("the producer went away".into()),
            Err(_) => Err(format!("not acknowledged within {timeout:?}")),
        };
        match &result {
            Ok(n) => {
                self.tracker.mark_committed(&commits);
                self.commits.increment(1);
                tracing::debug!(connector = %self.connector, partitions = n, "offsets committed");
            }
            Err(e) => {
                self.failures.increment(1);
                tracing::warn!(connector = %self.connector, error = %e, "offset commit failed; retrying at the next flush");
            }
        }
        result
    }
}

/// Sends `connector`'s offsets records for `commits` (one per source partition) on `lane`,
/// for the offsets topic `topic`. The receiver resolves once Kafka acknowledged all of them, or
/// with the first refusal.
pub(super) async fn send_offsets(
    lane: &Lane,
    connector: &str,
    topic: &str,
    commits: &[(SourcePartition, SourceOffset)],
) -> Result<oneshot::Receiver<Result<(), String>>, ProduceError> {
    let (batch, done) = CommitBatch::new(commits.len());
    for (partition, offset) in commits {
        let key = format::encode_key(connector, partition);
        let value = format::encode_value(offset);
        let outgoing = Outgoing { topic, key: Some(&key), payload: Some(&value), timestamp_ms: None, headers: &[] };
        lane.send(&outgoing, Delivery::Commit(batch.clone())).await?;
    }
    Ok(done)
}

//! Reading the offsets topic to its end at start-up.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{Message, Offset, TopicPartitionList};

use super::format;
use crate::api::{SourceOffset, SourcePartition};
use crate::kafka::client::ErrorWatch;

/// The offsets topic could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read offsets topic `{topic}`: {reason}")]
pub struct ReadError {
    pub topic: String,
    pub reason: String,
}

/// The latest offset of every (connector, source partition), as of the end of the topic.
#[derive(Debug, Default, Clone)]
pub struct StoredOffsets {
    by_connector: HashMap<String, HashMap<SourcePartition, SourceOffset>>,
    /// Records that were not in Kafka Connect's format (written by something else), skipped.
    pub skipped: usize,
}

impl StoredOffsets {
    /// Applies one record: the latest value per key wins; a tombstone removes the key.
    pub fn apply(&mut self, connector: String, partition: SourcePartition, offset: Option<SourceOffset>) {
        match offset {
            Some(offset) => {
                self.by_connector.entry(connector).or_default().insert(partition, offset);
            }
            None => {
                if let Some(map) = self.by_connector.get_mut(&connector) {
                    map.remove(&partition);
                }
            }
        }
    }

    pub fn for_connector(&self, connector: &str) -> HashMap<SourcePartition, SourceOffset> {
        self.by_connector.get(connector).cloned().unwrap_or_default()
    }

    pub fn connectors(&self) -> impl Iterator<Item = &String> {
        self.by_connector.keys()
    }
}

/// Reads `topic` from the beginning to the end it had when the read began. Blocking: call from
/// `spawn_blocking`. A topic that does not exist yet reads as empty.
pub fn read_to_end(base: &ClientConfig, topic: &str, timeout: Duration) -> Result<StoredOffsets, ReadError> {
    let fail = |reason: String| ReadError { topic: topic.to_owned(), reason };
    let deadline = Instant::now() + timeout;
    let mut config = base.clone();
    config
        .set("group.id", "tributary-offsets-reader")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("allow.auto.create.topics", "false")
        // The end of each partition is where librdkafka says it is, not the last record seen:
        // a topic written transactionally (Kafka Connect's exactly-once source support) ends
        // with a commit marker that no consumer receives, and some brokers report the high
        // watermark of the last batch rather than of its last record.
        .set("enable.partition.eof", "true");
    let consumer: BaseConsumer<ErrorWatch> = crate::kafka::create(&config).map_err(fail)?;
    // Serves librdkafka's first requests (an OAUTHBEARER token) before asking for metadata.
    let _ = consumer.poll(Duration::ZERO);
    let metadata = consumer.fetch_metadata(None, timeout).map_err(|e| {
        // Error callbacks are served by polling: let the watch see why the broker is silent.
        let _ = consumer.poll(Duration::from_millis(100));
        fail(consumer.context().explain(format!("metadata: {e}")))
    })?;
    let Some(meta) = metadata.topics().iter().find(|t| t.name() == topic) else {
        return Ok(StoredOffsets::default());
    };
    let mut remaining: HashMap<i32, PartitionEnd> = HashMap::new();
    let mut assignment = TopicPartitionList::new();
    for p in meta.partitions() {
        let (low, high) = consumer
            .fetch_watermarks(topic, p.id(), left(deadline))
            .map_err(|e| fail(format!("watermarks of partition {}: {e}", p.id())))?;
        if high > low {
            remaining.insert(p.id(), PartitionEnd { at_start: high, passed: None });
            assignment.add_partition_offset(topic, p.id(), Offset::Offset(low)).map_err(|e| fail(e.to_string()))?;
        }
    }
    let mut stored = StoredOffsets::default();
    if remaining.is_empty() {
        return Ok(stored);
    }
    consumer.assign(&assignment).map_err(|e| fail(e.to_string()))?;
    while !remaining.is_empty() {
        if Instant::now() >= deadline {
            return Err(fail(format!("not at the end after {timeout:?} ({} partitions left)", remaining.len())));
        }
        remaining.retain(|_, end| end.passed.is_none_or(|at| at.elapsed() < MOVING_END_GRACE));
        let Some(result) = consumer.poll(Duration::from_millis(200)) else { continue };
        let message = match result {
            Ok(message) => message,
            Err(KafkaError::PartitionEOF(partition)) => {
                remaining.remove(&partition);
                continue;
            }
            // A broker of the cluster is unreachable for now: librdkafka retries; the deadline
            // bounds the wait.
            Err(e) if crate::kafka::is_transient_consumer_error(&e) => {
                tracing::debug!(topic, error = %e, "transient error reading the offsets topic; retrying");
                continue;
            }
            Err(e) => return Err(fail(e.to_string())),
        };
        if let Some(end) = remaining.get_mut(&message.partition())
            && end.passed.is_none()
            && message.offset() >= end.at_start
        {
            end.passed = Some(Instant::now());
        }
        if let Some(key) = message.key() {
            match format::decode(key, message.payload()) {
                Ok((connector, partition, offset)) => stored.apply(connector, partition, offset),
                Err(e) => {
                    stored.skipped += 1;
                    tracing::warn!(topic, partition = message.partition(), offset = message.offset(), error = %e, "skipping offsets record");
                }
            }
        }
    }
    Ok(stored)
}

/// How long a partition is read on after a record beyond its end at the start was seen.
const MOVING_END_GRACE: Duration = Duration::from_secs(1);

/// When the read of one partition is done. At PartitionEOF; or, for a partition that a writer
/// keeps extending (a transactional writer committing every flush may never let a
/// `read_committed` reader see EOF), shortly after a record at or beyond its end at the start was
/// read: everything written before the read began has been read then. The end at the start is
/// not enough on its own: some brokers (tansu) report a high watermark that sits before the last
/// batch's records.
struct PartitionEnd {
    at_start: i64,
    passed: Option<Instant>,
}

fn left(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(100))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_value_wins_and_tombstones_reset() {
        let mut s = StoredOffsets::default();
        let p = SourcePartition::single("q", "1");
        s.apply("c".into(), p.clone(), Some(SourceOffset::single_i64("w", 1)));
        s.apply("c".into(), p.clone(), Some(SourceOffset::single_i64("w", 2)));
        s.apply("other".into(), p.clone(), Some(SourceOffset::single_i64("w", 9)));
        assert_eq!(s.for_connector("c").get(&p), Some(&SourceOffset::single_i64("w", 2)));
        s.apply("c".into(), p.clone(), None);
        assert!(s.for_connector("c").is_empty());
        assert_eq!(s.for_connector("other").len(), 1);
    }
}

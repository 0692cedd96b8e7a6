//! Reading a topic from a start to its end as it was when the read began: the offsets topic at
//! start-up, and a connector's output since a time (to resume exactly once).
//!
//! The reader is `read_committed` (librdkafka's default): records of open or aborted
//! transactions are not seen.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::BorrowedMessage;
use rdkafka::{Offset, TopicPartitionList};

use super::client::ErrorWatch;

/// Where each partition's read starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    Beginning,
    /// The first record whose timestamp is at or after this time (epoch ms).
    Time(i64),
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

/// Reads `topic` from `start` to its end, handing every record to `each`. Blocking: call from
/// `spawn_blocking`. A topic that does not exist reads as empty. `config` carries the connection
/// properties and a `group.id` (nothing is committed for it). Errors name what failed.
pub fn read_to_end(
    config: &ClientConfig,
    topic: &str,
    start: Start,
    timeout: Duration,
    mut each: impl FnMut(&BorrowedMessage<'_>),
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let mut config = config.clone();
    config
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("allow.auto.create.topics", "false")
        // The end of each partition is where librdkafka says it is, not the last record seen:
        // a topic written transactionally ends with a commit marker that no consumer receives.
        .set("enable.partition.eof", "true");
    let consumer: BaseConsumer<ErrorWatch> = super::create(&config)?;
    // Serves librdkafka's first requests (an OAUTHBEARER token) before asking for metadata.
    let _ = consumer.poll(Duration::ZERO);
    let metadata = consumer.fetch_metadata(None, timeout).map_err(|e| {
        // Error callbacks are served by polling: let the watch see why the broker is silent.
        let _ = consumer.poll(Duration::from_millis(100));
        consumer.context().explain(format!("metadata: {e}"))
    })?;
    let Some(meta) = metadata.topics().iter().find(|t| t.name() == topic) else {
        return Ok(());
    };
    let mut ends = HashMap::new();
    let mut firsts = HashMap::new();
    for p in meta.partitions() {
        let (low, high) = consumer
            .fetch_watermarks(topic, p.id(), left(deadline))
            .map_err(|e| format!("watermarks of partition {}: {e}", p.id()))?;
        ends.insert(p.id(), high);
        firsts.insert(p.id(), low);
    }
    if let Start::Time(at) = start {
        let mut query = TopicPartitionList::new();
        for p in ends.keys() {
            query.add_partition_offset(topic, *p, Offset::Offset(at)).map_err(|e| e.to_string())?;
        }
        let found =
            consumer.offsets_for_times(query, left(deadline)).map_err(|e| format!("offsets for time {at}: {e}"))?;
        for element in found.elements() {
            let first = match element.offset() {
                Offset::Offset(o) => o,
                // No record at or after the time: nothing to read there.
                _ => ends.get(&element.partition()).copied().unwrap_or_default(),
            };
            firsts.insert(element.partition(), first);
        }
    }
    let mut remaining: HashMap<i32, PartitionEnd> = HashMap::new();
    let mut assignment = TopicPartitionList::new();
    for (partition, end) in &ends {
        let first = firsts.get(partition).copied().unwrap_or_default();
        if *end > first {
            remaining.insert(*partition, PartitionEnd { at_start: *end, passed: None });
            assignment.add_partition_offset(topic, *partition, Offset::Offset(first)).map_err(|e| e.to_string())?;
        }
    }
    if remaining.is_empty() {
        return Ok(());
    }
    consumer.assign(&assignment).map_err(|e| e.to_string())?;
    while !remaining.is_empty() {
        if Instant::now() >= deadline {
            return Err(format!("not at the end after {timeout:?} ({} partitions left)", remaining.len()));
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
            Err(e) if super::is_transient_consumer_error(&e) => {
                tracing::debug!(topic, error = %e, "transient error reading a topic; retrying");
                continue;
            }
            Err(e) => return Err(e.to_string()),
        };
        if let Some(end) = remaining.get_mut(&rdkafka::Message::partition(&message))
            && end.passed.is_none()
            && rdkafka::Message::offset(&message) >= end.at_start
        {
            end.passed = Some(Instant::now());
        }
        each(&message);
    }
    Ok(())
}

fn left(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(100))
}

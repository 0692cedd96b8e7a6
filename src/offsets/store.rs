//! Reading the offsets topic to its end at start-up.

use std::collections::HashMap;
use std::time::Duration;

use rdkafka::Message;
use rdkafka::config::ClientConfig;

use super::format;
use crate::api::{SourceOffset, SourcePartition};
use crate::kafka::read::Start;

/// The offsets topic could not be read.
#[derive(Debug, Clone, thiserror::Error)]
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

/// Reads `topic` from the beginning to the end it had when the read began (see
/// [`crate::kafka::read`]). Blocking: call from `spawn_blocking`. A topic that does not exist yet
/// reads as empty.
pub fn read_to_end(base: &ClientConfig, topic: &str, timeout: Duration) -> Result<StoredOffsets, ReadError> {
    let mut config = base.clone();
    config.set("group.id", "tributary-offsets-reader");
    let mut stored = StoredOffsets::default();
    crate::kafka::read::read_to_end(&config, topic, Start::Beginning, timeout, |message| {
        let Some(key) = message.key() else { return };
        match format::decode(key, message.payload()) {
            Ok((connector, partition, offset)) => stored.apply(connector, partition, offset),
            Err(e) => {
                stored.skipped += 1;
                tracing::warn!(topic, partition = message.partition(), offset = message.offset(), error = %e, "skipping offsets record");
            }
        }
    })
    .map_err(|reason| ReadError { topic: topic.to_owned(), reason })?;
    Ok(stored)
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

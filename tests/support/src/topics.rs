//! Reading topics back: consumers for manual assignment, reading a topic until enough records
//! arrived or to its end, decoding values, and the offsets a runtime committed.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::OwnedMessage;
use rdkafka::{Message, Offset, TopicPartitionList};
use serde_json::Value;
use tributary::api::{SourceOffset, SourcePartition};
use tributary::avro::Decoder;
use tributary::kafka::ErrorWatch;

/// Where a test's consumer connects: a PLAINTEXT bootstrap address (`&str`, `&String`), or a
/// client config with the bootstrap and, e.g., security properties (OAUTHBEARER tokens then come
/// from the runtime's token sources, as its own consumers get them).
pub trait ClientBase {
    fn client_config(self) -> ClientConfig;
}

impl ClientBase for &str {
    fn client_config(self) -> ClientConfig {
        ClientConfig::new().set("bootstrap.servers", self).clone()
    }
}

impl ClientBase for &String {
    fn client_config(self) -> ClientConfig {
        self.as_str().client_config()
    }
}

impl ClientBase for ClientConfig {
    fn client_config(self) -> ClientConfig {
        self
    }
}

/// A consumer for manual assignment: no group joins, nothing committed.
pub fn consumer(client: impl ClientBase) -> BaseConsumer<ErrorWatch> {
    let mut base = client.client_config();
    if base.get("enable.partition.eof").is_none() {
        base.set("enable.partition.eof", "false");
    }
    base.set("group.id", "tributary-tests")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("allow.auto.create.topics", "false");
    let consumer: BaseConsumer<ErrorWatch> = tributary::kafka::create(&base).expect("consumer");
    // Serves a first OAUTHBEARER token request before any metadata is asked for.
    let _ = consumer.poll(Duration::ZERO);
    consumer
}

/// Reads `topic` from the beginning (or only `partitions`, when given) until `enough` says the
/// records read so far suffice, then for another `linger` to catch anything extra. Panics after
/// `timeout`.
pub async fn consume(
    client: impl ClientBase,
    topic: &str,
    partitions: Option<Vec<i32>>,
    enough: impl Fn(&[OwnedMessage]) -> bool + Send + 'static,
    linger: Duration,
    timeout: Duration,
) -> Vec<OwnedMessage> {
    let base = client.client_config();
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + timeout;
        let consumer = consumer(base);
        let ids = match partitions {
            Some(ids) => ids,
            // The topic may not exist yet: connectors create theirs as they start.
            None => loop {
                let metadata = consumer.fetch_metadata(None, Duration::from_secs(10)).expect("metadata");
                if let Some(t) = metadata.topics().iter().find(|t| t.name() == topic && t.error().is_none()) {
                    break t.partitions().iter().map(|p| p.id()).collect();
                }
                assert!(Instant::now() < deadline, "topic `{topic}` did not appear within {timeout:?}");
                std::thread::sleep(Duration::from_millis(100));
            },
        };
        let mut assignment = TopicPartitionList::new();
        for id in ids {
            assignment.add_partition_offset(&topic, id, Offset::Beginning).expect("partition");
        }
        consumer.assign(&assignment).expect("assign");
        let mut out = Vec::new();
        let mut done_at: Option<Instant> = None;
        loop {
            if done_at.is_some_and(|t| t.elapsed() >= linger) {
                return out;
            }
            assert!(
                Instant::now() < deadline,
                "consumed {} record(s) of `{topic}` in {timeout:?}, not enough",
                out.len()
            );
            if let Some(result) = consumer.poll(Duration::from_millis(100)) {
                out.push(result.expect("consume").detach());
            }
            if done_at.is_none() && enough(&out) {
                done_at = Some(Instant::now());
            }
        }
    })
    .await
    .expect("consumer thread")
}

/// Every record of an existing `topic`, from the beginning to the end it has now (two minutes at
/// most), as a `read_committed` reader sees it: a partition is done at its last record or, for a
/// topic written in transactions (whose end is a commit marker no consumer receives), at
/// PartitionEOF. Panics if a partition lost its oldest records (the mock broker keeps only a few
/// MiB).
pub async fn read_topic(bootstrap: &str, topic: &str) -> Vec<OwnedMessage> {
    let (bootstrap, topic) = (bootstrap.to_owned(), topic.to_owned());
    tokio::task::spawn_blocking(move || {
        let mut config = bootstrap.as_str().client_config();
        config.set("enable.partition.eof", "true");
        let consumer = consumer(config);
        let metadata = consumer.fetch_metadata(Some(&topic), Duration::from_secs(10)).expect("metadata");
        let partitions: Vec<i32> = metadata.topics()[0].partitions().iter().map(|p| p.id()).collect();
        let mut assignment = TopicPartitionList::new();
        let mut remaining = BTreeMap::new();
        for p in partitions {
            let (low, high) = consumer.fetch_watermarks(&topic, p, Duration::from_secs(10)).expect("watermarks");
            assert_eq!(low, 0, "partition {p} lost its oldest records (the mock broker keeps only a few MiB)");
            if high > low {
                remaining.insert(p, high);
                assignment.add_partition_offset(&topic, p, Offset::Offset(low)).expect("assign");
            }
        }
        let mut out = Vec::new();
        if remaining.is_empty() {
            return out;
        }
        consumer.assign(&assignment).expect("assign");
        let deadline = Instant::now() + Duration::from_secs(120);
        while !remaining.is_empty() {
            assert!(Instant::now() < deadline, "topic not read to its end in time");
            let message = match consumer.poll(Duration::from_millis(200)) {
                None => continue,
                Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => {
                    remaining.remove(&p);
                    continue;
                }
                Some(message) => message.expect("consume").detach(),
            };
            if remaining.get(&message.partition()).is_some_and(|high| message.offset() + 1 >= *high) {
                remaining.remove(&message.partition());
            }
            out.push(message);
        }
        out
    })
    .await
    .expect("reader thread")
}

/// Decodes every value; panics on the first that does not decode.
pub async fn decode_all(decoder: &Decoder, messages: &[OwnedMessage]) -> Vec<(u32, Value)> {
    let mut out = Vec::with_capacity(messages.len());
    for m in messages {
        let payload = m.payload().expect("a value");
        let decoded = decoder
            .decode_with_id(payload)
            .await
            .unwrap_or_else(|e| panic!("record at {}/{} does not decode: {e}", m.partition(), m.offset()));
        out.push(decoded);
    }
    out
}

/// The offsets of `connector` in the offsets topic `topic`, read to the end (a minute at most)
/// with a client made from `base`.
pub async fn stored_offsets_with(
    base: ClientConfig,
    topic: &str,
    connector: &str,
) -> HashMap<SourcePartition, SourceOffset> {
    let topic = topic.to_owned();
    let stored = tokio::task::spawn_blocking(move || {
        tributary::offsets::read_to_end(&base, &topic, Duration::from_secs(60)).expect("offsets topic reads")
    })
    .await
    .expect("reader thread");
    stored.for_connector(connector)
}

/// [`stored_offsets_with`] over the PLAINTEXT `bootstrap`.
pub async fn stored_offsets(bootstrap: &str, topic: &str, connector: &str) -> HashMap<SourcePartition, SourceOffset> {
    stored_offsets_with(tributary::clients::client_config(bootstrap, &Default::default()), topic, connector).await
}

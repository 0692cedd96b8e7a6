//! `tributary tail`: records of a topic, decoded from Avro to JSON through the registry.

use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::{Message, Offset, TopicPartitionList};
use serde_json::{Value, json};

use crate::avro::Decoder;

/// Where to start and when to stop.
#[derive(Debug, Clone)]
pub struct TailOptions {
    pub topic: String,
    pub from_beginning: bool,
    /// Stop after this many records.
    pub limit: Option<u64>,
    /// Stop when nothing new arrives for this long (after reaching the end); `None` follows forever.
    pub idle_exit: Option<Duration>,
}

/// A tail failure.
#[derive(Debug, thiserror::Error)]
#[error("tail {topic}: {reason}")]
pub struct TailError {
    pub topic: String,
    pub reason: String,
}

/// One consumed record as JSON: `{partition, offset, timestamp, key, headers, value}`. A value
/// that does not decode is shown as `{"undecodable": "<reason>"}`, never dropped.
pub async fn to_json(message: &rdkafka::message::OwnedMessage, decoder: &Decoder) -> Value {
    let value = match message.payload() {
        None => Value::Null,
        Some(bytes) => match decoder.decode(bytes).await {
            Ok(v) => v,
            Err(e) => json!({ "undecodable": e.to_string() }),
        },
    };
    let headers: serde_json::Map<String, Value> = message
        .headers()
        .map(|h| {
            h.iter()
                .map(|h| (h.key.to_owned(), Value::String(String::from_utf8_lossy(h.value.unwrap_or_default()).into())))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "partition": message.partition(),
        "offset": message.offset(),
        "timestamp": message.timestamp().to_millis(),
        "key": message.key().map(|k| String::from_utf8_lossy(k).into_owned()),
        "headers": headers,
        "value": value,
    })
}

/// Reads `options.topic`, calling `emit` with each decoded record, until the limit or idle exit.
pub async fn tail(
    base: &ClientConfig,
    decoder: &Decoder,
    options: &TailOptions,
    mut emit: impl FnMut(Value),
) -> Result<u64, TailError> {
    let fail = |reason: String| TailError { topic: options.topic.clone(), reason };
    let mut config = base.clone();
    config
        .set("group.id", "tributary-tail")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("allow.auto.create.topics", "false");
    let consumer: BaseConsumer<crate::kafka::ErrorWatch> = crate::kafka::create(&config).map_err(fail)?;
    let metadata = consumer
        .fetch_metadata(Some(&options.topic), Duration::from_secs(10))
        .map_err(|e| fail(format!("metadata: {e}")))?;
    let topic = metadata
        .topics()
        .iter()
        .find(|t| t.name() == options.topic && t.error().is_none())
        .ok_or_else(|| fail("no such topic".into()))?;
    let mut assignment = TopicPartitionList::new();
    let start = if options.from_beginning { Offset::Beginning } else { Offset::End };
    for p in topic.partitions() {
        assignment.add_partition_offset(&options.topic, p.id(), start).map_err(|e| fail(e.to_string()))?;
    }
    consumer.assign(&assignment).map_err(|e| fail(e.to_string()))?;

    let mut seen = 0u64;
    let mut last = Instant::now();
    loop {
        if options.limit.is_some_and(|limit| seen >= limit) {
            return Ok(seen);
        }
        if options.idle_exit.is_some_and(|idle| last.elapsed() >= idle) {
            return Ok(seen);
        }
        let polled =
            tokio::task::block_in_place(|| consumer.poll(Duration::from_millis(200)).map(|r| r.map(|m| m.detach())));
        match polled {
            None => continue,
            Some(Err(e)) if crate::kafka::is_transient_consumer_error(&e) => {
                tracing::warn!(topic = %options.topic, error = %e, "kafka unreachable for now; still trying");
            }
            Some(Err(e)) => return Err(fail(e.to_string())),
            Some(Ok(message)) => {
                emit(to_json(&message, decoder).await);
                seen += 1;
                last = Instant::now();
            }
        }
    }
}

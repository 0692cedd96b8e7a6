//! Writing offsets from outside a running instance: `tributary offsets reset` and the REST API's
//! offsets endpoints. Only safe while the connector is stopped (as in Kafka Connect): a running
//! instance would overwrite the edit with its next commit.

use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};

use super::format;
use crate::api::{SourceOffset, SourcePartition};

/// Writes each `(partition, offset)`; `None` writes a tombstone, which resets the partition.
/// Waits up to `timeout` for Kafka to acknowledge every record.
pub async fn write_offsets(
    base: &ClientConfig,
    topic: &str,
    connector: &str,
    changes: &[(SourcePartition, Option<SourceOffset>)],
    timeout: Duration,
) -> Result<(), String> {
    let mut config = base.clone();
    config.set("enable.idempotence", "true").set("acks", "all").set("partitioner", "murmur2_random");
    config.set("message.timeout.ms", timeout.as_millis().max(1).to_string());
    let producer: FutureProducer<crate::kafka::ErrorWatch> =
        crate::kafka::create(&config).map_err(|e| format!("cannot create a producer: {e}"))?;
    let mut pending = Vec::with_capacity(changes.len());
    for (partition, offset) in changes {
        let key = format::encode_key(connector, partition);
        let value = offset.as_ref().map(format::encode_value);
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic).key(&key);
        if let Some(value) = &value {
            record = record.payload(value);
        }
        let delivery =
            producer.send_result(record).map_err(|(e, _)| format!("cannot write offset of {partition}: {e}"))?;
        pending.push((partition, delivery));
    }
    for (partition, delivery) in pending {
        match delivery.await {
            Ok(Ok(_)) => {}
            Ok(Err((e, _))) => return Err(format!("offset of {partition} not written: {e}")),
            Err(_) => return Err(format!("offset of {partition} not written: the producer went away")),
        }
    }
    Ok(())
}

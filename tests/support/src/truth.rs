//! Judging what reached Kafka against the simulated org's ground truth: records as the verifier
//! reads them, a topic read back and decoded into such records, and the verdict every pipeline
//! test asserts.

use genesys_cloud_sim::{ObservedRecord, VerifyReport};
use rdkafka::Message;
use serde_json::{Value, json};

use crate::genesys::TOPIC;
use crate::registry::decoder;
use crate::topics::read_topic;

/// Adds where a record sits in Kafka (`kafka_partition`, `kafka_offset`) to its decoded value, as
/// [`ObservedRecord::from_json`] wants it.
pub fn place(value: &mut Value, partition: i32, offset: i64) {
    if let Some(obj) = value.as_object_mut() {
        obj.insert("kafka_partition".into(), json!(partition));
        obj.insert("kafka_offset".into(), json!(offset));
    }
}

/// [`read_observed_topic`] of [`TOPIC`].
pub async fn read_observed(bootstrap: &str, registry_url: &str) -> Vec<ObservedRecord> {
    read_observed_topic(bootstrap, registry_url, TOPIC).await
}

/// The topic read to its end and decoded through the registry, as the verifier's records (Kafka
/// order per partition). Panics if a record is not keyed by its conversation id.
pub async fn read_observed_topic(bootstrap: &str, registry_url: &str, topic: &str) -> Vec<ObservedRecord> {
    let messages = read_topic(bootstrap, topic).await;
    let decoder = decoder(registry_url);
    let mut out = Vec::with_capacity(messages.len());
    for m in &messages {
        let mut value = decoder.decode(m.payload().expect("a value")).await.expect("value decodes");
        assert_eq!(
            m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
            value["conversation_id"].as_str().map(str::to_owned),
            "records are keyed by conversation id"
        );
        place(&mut value, m.partition(), m.offset());
        out.push(ObservedRecord::from_json(&value).expect("the verifier reads the record"));
    }
    out
}

/// Asserts traffic was generated and nothing is missing, printing the report either way.
pub fn assert_complete(report: &VerifyReport) {
    eprintln!("{}", report.summary());
    assert!(report.expected_conversations > 0, "no traffic was generated");
    assert!(report.missing.is_empty(), "missing conversations: {:?}", report.missing);
    assert!(report.final_state_missing.is_empty(), "final states missing: {:?}", report.final_state_missing);
    assert!(report.split_keys.is_empty(), "a conversation split across partitions: {:?}", report.split_keys);
}

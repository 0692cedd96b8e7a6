//! What an exactly-once instance already wrote: its output read back `read_committed` and decoded
//! with the writer schemas from the registry (see [`WrittenRecords`]).

use std::sync::Arc;
use std::time::Duration;

use rdkafka::Message;
use rdkafka::config::ClientConfig;
use serde_json::Value;

use crate::api::WrittenRecords;
use crate::avro::Decoder;
use crate::kafka::read::{Start, read_to_end};
use crate::schema_registry::RegistryClient;

/// How long reading an output topic back may take.
const READ_TIMEOUT: Duration = Duration::from_secs(120);

pub struct Written {
    connector: Arc<str>,
    consumer: ClientConfig,
    decoder: Decoder,
}

impl Written {
    pub fn new(connector: Arc<str>, consumer: &ClientConfig, registry: RegistryClient) -> Self {
        let mut consumer = consumer.clone();
        consumer.set("group.id", "tributary-output-reader");
        Self { connector, consumer, decoder: Decoder::new(registry) }
    }
}

#[async_trait::async_trait]
impl WrittenRecords for Written {
    async fn since(&self, topic: &str, since_ms: i64) -> Result<Vec<Value>, String> {
        let (config, name) = (self.consumer.clone(), topic.to_owned());
        let payloads = tokio::task::spawn_blocking(move || {
            let mut payloads = Vec::new();
            read_to_end(&config, &name, Start::Time(since_ms), READ_TIMEOUT, |message| {
                if let Some(payload) = message.payload() {
                    payloads.push(payload.to_vec());
                }
            })
            .map(|()| payloads)
        })
        .await
        .map_err(|e| format!("the reader panicked: {e}"))?
        .map_err(|e| format!("cannot read topic `{topic}` back: {e}"))?;
        let mut values = Vec::with_capacity(payloads.len());
        let mut undecodable = 0usize;
        for payload in &payloads {
            match self.decoder.decode(payload).await {
                Ok(value) => values.push(value),
                Err(e) => {
                    undecodable += 1;
                    tracing::debug!(connector = %self.connector, topic, error = %e, "a record of the topic does not decode; left out");
                }
            }
        }
        if undecodable > 0 {
            tracing::warn!(connector = %self.connector, topic, undecodable, "records of the topic that do not decode were left out of what this connector wrote");
        }
        tracing::info!(connector = %self.connector, topic, since_ms, records = values.len(), "read back what was written");
        Ok(values)
    }
}

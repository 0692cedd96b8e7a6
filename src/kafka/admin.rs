//! Topic checks against a real broker: the offsets topic must be compacted; the cluster's
//! coordination topic must have a partition per connector.

use std::time::Duration;

use rdkafka::admin::{AdminOptions, NewPartitions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::config::ClientConfig;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::{BaseProducer, Producer};

use super::client::ErrorWatch;

/// Why the offsets topic cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    #[error(
        "offsets topic `{topic}` has cleanup.policy={policy}, but offsets need cleanup.policy=compact \
         (a deleting topic loses offsets once retention passes); fix it with \
         `kafka-configs --alter --entity-type topics --entity-name {topic} --add-config cleanup.policy=compact`, \
         or set kafka.offsets.topic to another topic"
    )]
    NotCompacted { topic: String, policy: String },
    #[error("cannot create offsets topic `{topic}`: {reason}")]
    Create { topic: String, reason: String },
    #[error("cannot reach kafka to check topic `{topic}`: {reason}")]
    Unreachable { topic: String, reason: String },
}

/// What [`ensure_compacted_topic`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicCheck {
    Created,
    VerifiedCompacted,
    /// The broker would not describe the topic's configs; the policy is unknown.
    Unverified(String),
}

/// Creates `topic` with `cleanup.policy=compact` when missing; when it exists, refuses any other
/// policy (Kafka Connect does the same). A broker that cannot describe configs is let through
/// with a warning, since the topic's policy is then unknowable.
pub async fn ensure_compacted_topic(
    base: &ClientConfig,
    topic: &str,
    partitions: i32,
    replication_factor: i32,
    timeout: Duration,
) -> Result<TopicCheck, TopicError> {
    let unreachable = |reason: String| TopicError::Unreachable { topic: topic.to_owned(), reason };
    let mut config = base.clone();
    // A metadata request must never create the topic behind our back with the broker's defaults.
    config.set("allow.auto.create.topics", "false");
    let admin = super::admin_client(&config).map_err(unreachable)?;
    let options = AdminOptions::new().request_timeout(Some(timeout));

    if !topic_exists(&config, topic, timeout).await.map_err(unreachable)? {
        let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(replication_factor))
            .set("cleanup.policy", "compact");
        let results = admin
            .create_topics([&new], &options)
            .await
            .map_err(|e| TopicError::Create { topic: topic.to_owned(), reason: e.to_string() })?;
        match results.into_iter().next() {
            Some(Ok(_)) => {
                tracing::info!(topic, partitions, "created compacted offsets topic");
                return Ok(TopicCheck::Created);
            }
            Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) => {}
            Some(Err((_, code))) => {
                return Err(TopicError::Create { topic: topic.to_owned(), reason: code.to_string() });
            }
            None => return Err(TopicError::Create { topic: topic.to_owned(), reason: "no answer".into() }),
        }
    }

    let described = admin.describe_configs([&ResourceSpecifier::Topic(topic)], &options).await;
    let resource = match described.map(|mut r| r.pop()) {
        Ok(Some(Ok(resource))) => resource,
        Ok(Some(Err(code))) => return Ok(unverified(topic, code.to_string())),
        Ok(None) => return Ok(unverified(topic, "empty answer".into())),
        Err(e) => return Ok(unverified(topic, e.to_string())),
    };
    let policy = resource.get("cleanup.policy").and_then(|e| e.value.clone()).unwrap_or_else(|| "delete".into());
    if policy.trim() == "compact" {
        Ok(TopicCheck::VerifiedCompacted)
    } else {
        Err(TopicError::NotCompacted { topic: topic.to_owned(), policy })
    }
}

/// Makes sure `topic` exists with at least `partitions` partitions: creates it (broker default
/// replication) or adds partitions. Safe to race with another process doing the same.
pub async fn ensure_partitions(
    base: &ClientConfig,
    topic: &str,
    partitions: i32,
    timeout: Duration,
) -> Result<(), String> {
    let mut config = base.clone();
    config.set("allow.auto.create.topics", "false");
    let admin = super::admin_client(&config)?;
    let options = AdminOptions::new().request_timeout(Some(timeout));
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(-1));
    match admin.create_topics([&new], &options).await.map_err(|e| e.to_string())?.into_iter().next() {
        Some(Ok(_)) => {
            tracing::info!(topic, partitions, "created topic");
            return Ok(());
        }
        Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) => {}
        Some(Err((_, code))) => return Err(format!("cannot create it: {code}")),
        None => return Err("cannot create it: no answer".into()),
    }
    let have = partition_count(&config, topic, timeout).await?;
    if have >= partitions {
        return Ok(());
    }
    let grow = NewPartitions::new(topic, usize::try_from(partitions).unwrap_or_default());
    match admin.create_partitions([&grow], &options).await.map_err(|e| e.to_string())?.into_iter().next() {
        Some(Ok(_)) => {
            tracing::info!(topic, from = have, to = partitions, "added partitions");
            Ok(())
        }
        // Another process grew it meanwhile.
        Some(Err((_, RDKafkaErrorCode::InvalidPartitions)))
            if partition_count(&config, topic, timeout).await? >= partitions =>
        {
            Ok(())
        }
        Some(Err((_, code))) => Err(format!("cannot grow it from {have} to {partitions} partitions: {code}")),
        None => Err("cannot grow it: no answer".into()),
    }
}

async fn partition_count(config: &ClientConfig, topic: &str, timeout: Duration) -> Result<i32, String> {
    let count = topic_partitions(config, topic, timeout).await?.unwrap_or(0);
    Ok(i32::try_from(count).unwrap_or(i32::MAX))
}

fn unverified(topic: &str, reason: String) -> TopicCheck {
    tracing::warn!(topic, reason = %reason, "cannot describe the offsets topic's configs; its cleanup.policy is not verified");
    TopicCheck::Unverified(reason)
}

async fn topic_exists(config: &ClientConfig, topic: &str, timeout: Duration) -> Result<bool, String> {
    Ok(topic_partitions(config, topic, timeout).await?.is_some())
}

/// The partition count of `topic`, or `None` when the broker does not know it.
async fn topic_partitions(config: &ClientConfig, topic: &str, timeout: Duration) -> Result<Option<usize>, String> {
    let config = config.clone();
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        let client: BaseProducer<ErrorWatch> = super::create(&config)?;
        // Serves librdkafka's first requests (an OAUTHBEARER token) before asking for metadata.
        client.poll(Duration::ZERO);
        // A metadata request for all topics: asking for one topic by name may auto-create it.
        let metadata = client.client().fetch_metadata(None, timeout).map_err(|e| {
            // Error callbacks are served by polling: let the watch see why the broker is silent.
            client.poll(Duration::from_millis(100));
            client.context().explain(e)
        })?;
        Ok(metadata.topics().iter().find(|t| t.name() == topic && t.error().is_none()).map(|t| t.partitions().len()))
    })
    .await
    .map_err(|e| e.to_string())?
}

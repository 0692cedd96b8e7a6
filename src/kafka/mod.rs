//! Kafka: the embedded broker, producers, topic checks and reading topics.

pub mod admin;
pub mod client;
pub mod diagnosis;
pub mod embedded;
pub mod failure;
pub mod msk_iam;
pub mod oauthbearer;
pub mod producer;
pub mod properties;
pub mod read;

pub use admin::{TopicCheck, TopicError, ensure_compacted_topic, ensure_partitions};
pub use client::{ErrorWatch, admin_client, create, watched};
pub use diagnosis::{Diagnosis, Problem, diagnose};
pub use embedded::{EmbeddedError, EmbeddedKafka};
pub use producer::{DeliveryReports, InstanceProducer, Outgoing, ProduceError, Refused, TransactionError};

/// Consumer errors librdkafka recovers from by itself (a broker unreachable for a while, a
/// leader moving): worth a log line, not a reason to give up a read.
pub fn is_transient_consumer_error(error: &rdkafka::error::KafkaError) -> bool {
    use rdkafka::error::RDKafkaErrorCode as C;
    matches!(
        error.rdkafka_error_code(),
        Some(
            C::BrokerTransportFailure
                | C::AllBrokersDown
                | C::OperationTimedOut
                | C::RequestTimedOut
                | C::NetworkException
                | C::LeaderNotAvailable
                | C::NotLeaderForPartition
        )
    )
}

//! Kafka: the embedded broker, producers, topic checks and reading topics.

pub mod admin;
pub mod embedded;
pub mod producer;

pub use admin::{TopicCheck, TopicError, ensure_compacted_topic};
pub use embedded::{EmbeddedError, EmbeddedKafka};
pub use producer::{CommitBatch, Delivery, InstanceProducer, Outgoing, ProduceError};

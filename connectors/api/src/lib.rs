//! The contract between the Tributary runtime and its source connectors.
//!
//! # Model
//!
//! A **connector** is a plugin, registered under a `class:` name. For each configured instance
//! (a named entry under `connectors:` in the YAML), the runtime deserializes the instance's typed
//! config, asks the connector to [validate](Connector::validate) it, and then to
//! [create its tasks](Connector::create_tasks). Each **task** runs until it is cancelled or fails,
//! emitting [`SourceRecord`]s through a bounded channel.
//!
//! # Offsets
//!
//! Every record names the **source partition** it came from (a small JSON object of primitives,
//! for example `{"queue_id": "…"}`) and the **source offset** reached once that record is in Kafka
//! (for example `{"watermark_ms": 1700000000000}`). The meaning of an offset belongs to the
//! connector; the runtime only stores it, and guarantees:
//!
//! * An offset is committed only after Kafka acknowledged the record that carried it **and every
//!   record emitted before it for the same source partition**. Records of different partitions
//!   do not hold each other back.
//! * Offsets are committed on an interval and on graceful shutdown, in Kafka Connect's format,
//!   to a compacted topic. A crash between produce and commit re-delivers records when the task
//!   restarts (at-least-once); no record is ever skipped.
//! * A task starts with the last committed offset of each of its source partitions
//!   ([`TaskContext::stored_offset`]). It resumes from there.
//! * [`Emit::Offset`] moves a partition's offset without a record (a heartbeat, so that idle
//!   partitions do not fall behind). It is committed under the same ordering rule.
//!
//! # Back-pressure
//!
//! [`Emitter::send`] waits while the runtime's bounded channel is full; the runtime stops
//! draining it while the producer's own queue is full. A task therefore never buffers unboundedly
//! on the runtime's behalf, and should not buffer unboundedly on its own.
//!
//! # Stopping
//!
//! Cancellation is signalled through [`TaskContext::cancelled`]. A task returns promptly once it
//! fires; records it emitted before returning are still produced and their offsets committed.

mod check;
mod config;
mod connector;
mod context;
mod record;
mod secret;
mod status;

pub use check::{Check, Checks, Outcome};
pub use config::{ConfigIssue, Duration, parse_duration};
pub use connector::{Connector, ConnectorContext, ConnectorError, DynConnector, Output, SourceTask, TaskError};
pub use context::{Acknowledgements, Emitter, NoAcknowledgements, Stopped, TaskContext, WrittenRecords};
pub use record::{Emit, OffsetFormatError, RecordValue, SourceOffset, SourcePartition, SourceRecord};
pub use secret::Secret;
pub use status::{Health, SUMMARY_KEY, StatusHandle, Summary, TaskStatus};

/// Re-exported so connectors name the same crate versions as the runtime.
pub use async_trait::async_trait;
pub use tokio_util::sync::CancellationToken;

//! Source offsets: the in-order ack tracker, Kafka Connect's topic format, and reading the topic.

pub mod edit;
pub mod format;
pub mod reads;
pub mod store;
pub mod tracker;

pub use edit::write_offsets;
pub use reads::OffsetsReader;
pub use store::{ReadError, StoredOffsets, read_to_end};
pub use tracker::{AckTracker, PartitionProgress, Ticket};

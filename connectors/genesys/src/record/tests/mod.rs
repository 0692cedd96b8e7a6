//! Tests of the record mapping: hand-written samples of the three shapes, the Avro contract, and
//! samples produced by the simulated org.

mod avro;
mod equivalence;
mod errors;
mod mapping;
pub(crate) mod samples;
mod simulated;

use serde_json::Value;

use super::{ConversationEvent, MappingError, from_notification};
use crate::notification::Notification;

/// [`from_notification`] of a notification made of these parts: `raw_body` is the text of
/// `body`, or empty for the text `serde_json` writes.
pub(crate) fn from_snapshot(
    tenant: &str,
    queue_id: &str,
    topic: &str,
    channel_id: Option<&str>,
    body: &Value,
    raw_body: &str,
    received_ms: i64,
) -> Result<ConversationEvent, MappingError> {
    let notification = Notification {
        queue_id: queue_id.to_owned(),
        topic: topic.to_owned(),
        raw_body: if raw_body.is_empty() { body.to_string() } else { raw_body.to_owned() },
        received_ms,
        channel_id: channel_id.map(Into::into),
    };
    from_notification(tenant, notification)
}

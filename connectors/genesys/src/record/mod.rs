//! Conversation records: the Avro value written to Kafka for every conversation snapshot.
//!
//! One [`ConversationEvent`] per snapshot of a conversation, whichever way it reached us: a live
//! `v2.routing.queues.{id}.conversations` notification ([`from_notification`]), an Analytics
//! conversation-details row ([`from_analytics`]) or a REST `Conversation` ([`from_rest_conversation`]).
//! The three shapes are normalised into the same typed fields, and the original JSON is kept
//! verbatim in `event_body`, so nothing Genesys sent is lost.
//!
//! The struct's serde shape is the Avro schema `schemas/genesys-conversation-event.avsc`
//! ([`SCHEMA_NAME`]): same field names in the same order, `Option` for `["null", T]` unions,
//! `i64` for `long` / `timestamp-millis`, unit variants named after the enum symbols. A test
//! encodes and decodes through the schema to keep the two in step.
//!
//! Mapping is pure (no I/O, no clock): the caller passes the receive time. Bad input is a
//! [`MappingError`] naming the path of what is missing or malformed, never a panic.

mod analytics;
mod assemble;
mod conversation;
mod digest;
mod error;
mod json;
mod live;
mod participant;
mod timestamp;

#[cfg(test)]
pub(crate) mod tests;

use serde::{Deserialize, Serialize};

pub use analytics::from_analytics;
pub use conversation::from_rest_conversation;
pub use digest::{canonical_json, event_id_for};
pub use error::MappingError;
pub use live::from_notification;
pub use timestamp::parse_timestamp_ms;

/// Full name of the Avro schema in `schemas/genesys-conversation-event.avsc`.
pub const SCHEMA_NAME: &str = "tributary.genesys.ConversationEvent";

/// How a record reached the connector (Avro enum `Source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Source {
    /// Delivered by a notification channel.
    #[serde(rename = "LIVE")]
    Live,
    /// Fetched from a REST API to fill a gap.
    #[serde(rename = "BACKFILL")]
    Backfill,
}

/// The API a backfilled record was read from; its name is the record's `topic_name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackfillApi {
    /// `POST /api/v2/analytics/conversations/details/query` (synchronous, paged).
    AnalyticsQuery,
    /// `POST /api/v2/analytics/conversations/details/jobs` and its results (async, cursor-paged).
    AnalyticsJobs,
    /// `GET /api/v2/conversations/{id}`.
    ConversationsGet,
}

impl BackfillApi {
    /// The `topic_name` written into records from this API.
    pub fn topic_name(self) -> &'static str {
        match self {
            BackfillApi::AnalyticsQuery => "analytics.conversations.details.query",
            BackfillApi::AnalyticsJobs => "analytics.conversations.details.jobs",
            BackfillApi::ConversationsGet => "conversations.get",
        }
    }
}

/// One snapshot of a conversation (Avro record `tributary.genesys.ConversationEvent`).
///
/// Invariants established by the constructors ([`from_notification`], [`from_analytics`],
/// [`from_rest_conversation`]): `event_id` is [`event_id_for`] of `conversation_id` and the body;
/// `conversation_end_ms` is set iff `ended`; `event_time_ms` is the newest timestamp found in the
/// body (0 when it holds none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationEvent {
    /// The connector instance (tenant) that produced the record.
    pub tenant: String,
    /// The subscribed queue whose topic or backfill produced the record.
    pub queue_id: String,
    /// Genesys conversation id; also the Kafka key.
    pub conversation_id: String,
    /// `<conversation_id>:<first 32 hex chars of SHA-256 of the canonical JSON body>`.
    pub event_id: String,
    /// LIVE or BACKFILL.
    pub source: Source,
    /// The notification topic (LIVE) or the API name (BACKFILL, see [`BackfillApi::topic_name`]).
    pub topic_name: String,
    /// The notification channel that delivered a LIVE record.
    pub channel_id: Option<String>,
    /// The newest timestamp inside the snapshot, epoch ms; orders snapshots of one conversation.
    pub event_time_ms: i64,
    /// When the connector received (LIVE) or fetched (BACKFILL) the snapshot, epoch ms.
    pub receive_time_ms: i64,
    /// Start of the conversation, epoch ms.
    pub conversation_start_ms: Option<i64>,
    /// End of the conversation (largest participant end), epoch ms; set only once every
    /// participant has ended.
    pub conversation_end_ms: Option<i64>,
    /// Every participant has ended.
    pub ended: bool,
    /// Participants in the order of the source.
    pub participants: Vec<Participant>,
    /// The source JSON: a notification's `eventBody` as received, or the backfilled row.
    pub event_body: String,
}

/// A participant of a conversation (Avro record `Participant`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    /// Participant id (analytics `participantId`).
    pub id: String,
    /// `customer`, `acd`, `agent`, `ivr`, … as Genesys sends it.
    pub purpose: Option<String>,
    pub user_id: Option<String>,
    pub queue_id: Option<String>,
    pub name: Option<String>,
    pub connected_time_ms: Option<i64>,
    /// When the participant disconnected (after-call work is not included).
    pub end_time_ms: Option<i64>,
    pub wrapup: Option<Wrapup>,
    pub media: Vec<Media>,
}

/// A completed wrap-up (Avro record `Wrapup`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wrapup {
    /// The wrap-up code id.
    pub code: String,
    pub notes: Option<String>,
    pub duration_seconds: Option<i32>,
    pub end_time_ms: Option<i64>,
}

/// One communication of a participant: a call, chat, email, … (Avro record `Media`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Media {
    /// `call`, `callback`, `chat`, `cobrowse`, `email`, `message`, `screenshare`,
    /// `socialexpression`, `video`, … (analytics `voice` is written as `call`).
    #[serde(rename = "type")]
    pub media_type: String,
    pub id: Option<String>,
    pub state: Option<String>,
    pub direction: Option<String>,
    pub disconnect_type: Option<String>,
    pub connected_time_ms: Option<i64>,
    pub disconnected_time_ms: Option<i64>,
}

impl ConversationEvent {
    pub fn conversation_id(&self) -> &str {
        &self.conversation_id
    }

    pub fn event_id(&self) -> &str {
        &self.event_id
    }

    pub fn event_time_ms(&self) -> i64 {
        self.event_time_ms
    }

    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// The Kafka key: the conversation id as UTF-8, so one conversation stays in one partition.
    pub fn key(&self) -> Vec<u8> {
        self.conversation_id.as_bytes().to_vec()
    }

    /// How far the conversation has progressed, for ordering snapshots with equal event times:
    /// ended participants plus completed wrap-ups, plus one once the conversation has ended.
    /// Never decreases as a conversation moves on (a participant joining adds nothing).
    pub fn completeness(&self) -> u32 {
        let ended = self.participants.iter().filter(|p| p.end_time_ms.is_some()).count();
        let wrapups = self.participants.iter().filter(|p| p.wrapup.is_some()).count();
        let total = ended.saturating_add(wrapups).saturating_add(usize::from(self.ended));
        u32::try_from(total).unwrap_or(u32::MAX)
    }
}

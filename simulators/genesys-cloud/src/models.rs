//! JSON shapes on the wire, field for field as the reference documents them.
//!
//! Field names follow the Genesys models named in `reference/genesys-api.md` (§1 `Channel`,
//! `ChannelTopic`; §2.2 envelope; §2.5 `SystemMessageSystemMessage`; §3.1
//! `QueueConversationEventTopicConversation`; §4.1 `AnalyticsConversationQueryResponse`; §4.2 async
//! job models; §4.3 `Conversation`; §4.5 and §5 `ErrorBody`). Optional fields are omitted when
//! absent rather than sent as `null`, which is how Genesys serialises them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

/// Formats epoch milliseconds as ISO-8601 with milliseconds and `Z`, e.g. `2020-08-12T12:41:54.707Z`
/// (the form of the `expires` sample in §1).
pub fn iso_ms(ms: i64) -> String {
    let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00.000Z".to_string())
}

/// Parses an ISO-8601 date-time into epoch milliseconds. Accepts an offset (`Z`, `+02:00`) or none
/// (then UTC, as in the `YYYY-MM-DDThh:mm:ss` interval form of §4.1), with or without fractions.
pub fn parse_iso_ms(text: &str) -> Option<i64> {
    let t = text.trim();
    if let Ok(dt) = OffsetDateTime::parse(t, &Rfc3339) {
        return i64::try_from(dt.unix_timestamp_nanos() / 1_000_000).ok();
    }
    let with_frac = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond]");
    let without = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let minutes = format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let naive = PrimitiveDateTime::parse(t, &with_frac)
        .or_else(|_| PrimitiveDateTime::parse(t, &without))
        .or_else(|_| PrimitiveDateTime::parse(t, &minutes))
        .ok()?;
    i64::try_from(naive.assume_utc().unix_timestamp_nanos() / 1_000_000).ok()
}

/// Start of the UTC day containing `ms`.
pub fn utc_day_start(ms: i64) -> i64 {
    ms.div_euclid(86_400_000) * 86_400_000
}

// ---------------------------------------------------------------------------------------------
// Errors (§4.5, §5)

/// `Limit` inside a 429 [`ErrorBody`] (§4.5).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Limit {
    pub key: String,
    pub namespace: String,
    pub value: i64,
}

/// Genesys `ErrorBody` (§4.5): the body of every REST error except the token endpoint's.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    pub message: String,
    pub code: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_params: Option<BTreeMap<String, String>>,
    pub context_id: String,
    pub details: Vec<serde_json::Value>,
    pub errors: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<Limit>,
}

/// The token endpoint's error form `{error, description}` (§5).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TokenError {
    pub error: String,
    pub description: String,
}

/// Successful client-credentials grant (§5).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: u64,
}

// ---------------------------------------------------------------------------------------------
// Channels and subscriptions (§1)

/// `Channel` (§1).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Channel {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub expires: String,
}

/// `ChannelEntityListing` (§1).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChannelEntityListing {
    pub entities: Vec<Channel>,
}

/// `ChannelTopic` (§1).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ChannelTopic {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejection_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_permissions: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub self_uri: Option<String>,
}

/// `ChannelTopicEntityListing` (§1).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChannelTopicEntityListing {
    pub entities: Vec<ChannelTopic>,
}

// ---------------------------------------------------------------------------------------------
// WebSocket frames (§2.2, §2.5)

/// `metadata` of the notification envelope; note the capital `C` (§2.2).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Metadata {
    #[serde(rename = "CorrelationId")]
    pub correlation_id: String,
}

/// Envelope of every notification (§2.2).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Envelope<T> {
    pub topic_name: String,
    pub version: String,
    pub event_body: T,
    pub metadata: Metadata,
}

/// `ChannelMetadataNotification` body (heartbeat / pong, §2.2).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChannelMetadataBody {
    pub message: String,
}

/// `channel.metadata` frames carry no version or metadata in the documented samples (§2.2).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ChannelMetadataFrame {
    pub topic_name: String,
    pub event_body: ChannelMetadataBody,
}

impl ChannelMetadataFrame {
    /// The heartbeat text: `{"topicName":"channel.metadata","eventBody":{"message":"WebSocket Heartbeat"}}`.
    pub fn heartbeat() -> Self {
        Self::with("WebSocket Heartbeat")
    }

    /// The answer to a JSON `{"message":"ping"}`.
    pub fn pong() -> Self {
        Self::with("pong")
    }

    fn with(message: &str) -> Self {
        ChannelMetadataFrame {
            topic_name: "channel.metadata".into(),
            event_body: ChannelMetadataBody { message: message.into() },
        }
    }
}

/// `SystemMessageSystemMessage` (§2.5).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct SystemMessage {
    pub channel_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_topic_type: Option<String>,
    pub correlation_id: String,
    pub organization_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    pub oauth_client_id: String,
    pub oauth_client_org_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<BTreeMap<String, serde_json::Value>>,
}

/// Reply to a WebSocket `subscribe`/`unsubscribe` request (§2.2).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SubscribeReply {
    pub correlation_id: String,
    pub topics: Vec<String>,
    pub result: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The channel failure frame `{"result":"404","message":…}` (§2.2).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChannelFailure {
    pub result: String,
    pub message: String,
}

// ---------------------------------------------------------------------------------------------
// Queues (discovery)

/// A division reference.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Division {
    pub id: String,
    pub name: String,
    pub self_uri: String,
}

/// `Queue` (the subset a connector uses for discovery).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Queue {
    pub id: String,
    pub name: String,
    pub division: Division,
    pub date_created: String,
    pub member_count: u32,
    pub self_uri: String,
}

/// `QueueEntityListing`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct QueueEntityListing {
    pub entities: Vec<Queue>,
    pub page_size: u32,
    pub page_number: u32,
    pub total: u64,
    pub page_count: u32,
    pub first_uri: String,
    pub last_uri: String,
    pub self_uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_uri: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Queue conversation event (§3.1)

/// `{id, name}` reference used in routing data.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UriReference {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `conversationRoutingData` (§3.1).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RoutingData {
    pub queue: UriReference,
    pub priority: i32,
    pub skills: Vec<UriReference>,
    pub scored_agents: Vec<serde_json::Value>,
}

/// `wrapup{code,notes,tags,durationSeconds,endTime}` (§3.1).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EventWrapup {
    pub code: String,
    pub notes: String,
    pub tags: Vec<String>,
    pub duration_seconds: i64,
    pub end_time: String,
}

/// `self` / `other` address of a call (§3.1).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EventAddress {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub address_normalized: String,
}

/// A `calls[]` entry (§3.1).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EventCall {
    pub id: String,
    pub state: String,
    pub initial_state: String,
    pub recording: bool,
    pub recording_state: String,
    pub muted: bool,
    pub confined: bool,
    pub held: bool,
    pub secure_pause: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disconnect_type: Option<String>,
    pub direction: String,
    #[serde(rename = "self")]
    pub self_address: EventAddress,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other: Option<EventAddress>,
    pub provider: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connected_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disconnected_time: Option<String>,
    pub after_call_work_required: bool,
}

/// A `participants[]` entry (§3.1).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EventParticipant {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connected_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_id: Option<String>,
    pub purpose: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    pub wrapup_required: bool,
    pub wrapup_expected: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wrapup_prompt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wrapup_timeout_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wrapup: Option<EventWrapup>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_acw_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_acw_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_routing_data: Option<RoutingData>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerting_timeout_ms: Option<i64>,
    pub attributes: BTreeMap<String, String>,
    pub calls: Vec<EventCall>,
}

/// `QueueConversationEventTopicConversation` (§3.1). No top-level start/end/state: consumers derive
/// them from participants and calls.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EventConversation {
    pub id: String,
    pub participants: Vec<EventParticipant>,
    pub secure_pause: bool,
}

// ---------------------------------------------------------------------------------------------
// Conversation (§4.3)

/// `Wrapup` on a REST participant.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Wrapup {
    pub code: String,
    pub name: String,
    pub notes: String,
    pub tags: Vec<String>,
    pub duration_seconds: i64,
    pub end_time: String,
}

/// `Call` on a REST participant.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Call {
    pub state: String,
    pub initial_state: String,
    pub id: String,
    pub direction: String,
    pub recording: bool,
    pub recording_state: String,
    pub muted: bool,
    pub confined: bool,
    pub held: bool,
    pub secure_pause: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disconnect_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_alerting_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connected_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disconnected_time: Option<String>,
    pub provider: String,
    #[serde(rename = "self")]
    pub self_address: EventAddress,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other: Option<EventAddress>,
    pub after_call_work_required: bool,
}

/// `Participant` (§4.3).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Participant {
    pub id: String,
    pub start_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connected_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_name: Option<String>,
    pub purpose: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ani: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dnis: Option<String>,
    pub wrapup_required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wrapup: Option<Wrapup>,
    pub attributes: BTreeMap<String, String>,
    pub calls: Vec<Call>,
}

/// `Conversation` (§4.3).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    pub id: String,
    pub start_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    pub participants: Vec<Participant>,
    pub conversation_ids: Vec<String>,
    pub recording_state: String,
    pub state: String,
    pub self_uri: String,
}

// ---------------------------------------------------------------------------------------------
// Analytics (§4.1, §4.2)

/// A segment of an analytics session (§4.1).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsSegment {
    pub segment_start: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment_end: Option<String>,
    pub segment_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disconnect_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wrap_up_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wrap_up_note: Option<String>,
}

/// An analytics session (§4.1).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsSession {
    pub media_type: String,
    pub session_id: String,
    pub direction: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ani: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dnis: Option<String>,
    pub segments: Vec<AnalyticsSegment>,
}

/// An analytics participant (§4.1).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsParticipant {
    pub participant_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub participant_name: Option<String>,
    pub purpose: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    pub sessions: Vec<AnalyticsSession>,
    /// Only in the async job form (`AnalyticsConversation`), never in the sync query form.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<BTreeMap<String, String>>,
}

/// `AnalyticsConversationWithoutAttributes` / `AnalyticsConversation` (§4.1, §4.2).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsConversation {
    pub conversation_id: String,
    pub conversation_start: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_end: Option<String>,
    pub originating_direction: String,
    pub division_ids: Vec<String>,
    pub participants: Vec<AnalyticsParticipant>,
}

/// `AnalyticsConversationQueryResponse` (§4.1). `conversations` is omitted when empty.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsQueryResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversations: Option<Vec<AnalyticsConversation>>,
    pub total_hits: u64,
}

/// `AsyncQueryResponse` (§4.2).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AsyncQueryResponse {
    pub job_id: String,
}

/// `AsyncQueryStatus` (§4.2).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AsyncQueryStatus {
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    pub expiration_date: String,
    pub submission_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion_date: Option<String>,
}

/// `AnalyticsConversationAsyncQueryResponse` (§4.2). `conversations` and `cursor` are omitted when
/// there are none / no further page.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AsyncQueryResults {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversations: Option<Vec<AnalyticsConversation>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub data_availability_date: String,
}

/// `DataAvailabilityResponse` (§4.2).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DataAvailability {
    pub data_availability_date: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_round_trip() {
        let ms = 1_597_236_114_707;
        assert_eq!(iso_ms(ms), "2020-08-12T12:41:54.707Z");
        assert_eq!(parse_iso_ms("2020-08-12T12:41:54.707Z"), Some(ms));
        assert_eq!(parse_iso_ms("2020-08-12T12:41:54"), Some(ms - 707));
        assert_eq!(parse_iso_ms("2020-08-12T14:41:54.707+02:00"), Some(ms));
        assert_eq!(parse_iso_ms("yesterday"), None);
    }

    #[test]
    fn heartbeat_text_is_exact() {
        let text = serde_json::to_string(&ChannelMetadataFrame::heartbeat()).unwrap_or_default();
        assert_eq!(text, r#"{"topicName":"channel.metadata","eventBody":{"message":"WebSocket Heartbeat"}}"#);
    }
}

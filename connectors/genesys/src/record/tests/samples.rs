//! One inbound call in three shapes, written from the reference (§3.2 notification, §4.1
//! analytics row, §4.3 REST conversation): the customer waits on queue `Q` from 13:22:13.335,
//! an agent is alerted at 13:22:40, answers at 13:22:45.120, the call ends at 13:27:01.500 and
//! the agent completes wrap-up at 13:27:20.750.

pub const CONVERSATION: &str = "2382cf8f-2cba-44a4-97c0-119df2cf0ac4";
pub const QUEUE: &str = "0c57879e-fc96-440c-9e0b-e1973f88c0ef";
pub const TOPIC: &str = "v2.routing.queues.0c57879e-fc96-440c-9e0b-e1973f88c0ef.conversations";
pub const CUSTOMER: &str = "354a7626-e8e8-499b-a790-8d6cbc3a485c";
pub const ACD: &str = "5b0e0b7c-3f8a-4bb1-9c1e-7d2f6a1e0c11";
pub const AGENT: &str = "9e1f3c2a-6d4b-4e8f-a0b7-2c5d8e9f1a22";
pub const AGENT_USER: &str = "e7c1d2b3-4a5f-4c6d-8e9f-0a1b2c3d4e5f";
pub const WRAPUP_CODE: &str = "7fb334b0-0e9e-11e4-9191-0800200c9a66";

/// 2020-06-12T13:22:13.335Z
pub const START_MS: i64 = 1_591_968_133_335;
/// 2020-06-12T13:22:13.400Z
pub const ACD_CONNECTED_MS: i64 = START_MS + 65;
/// 2020-06-12T13:22:40.000Z
pub const ALERT_MS: i64 = 1_591_968_160_000;
/// 2020-06-12T13:22:45.120Z
pub const ANSWER_MS: i64 = 1_591_968_165_120;
/// 2020-06-12T13:27:01.500Z
pub const END_MS: i64 = 1_591_968_421_500;
/// 2020-06-12T13:27:20.750Z
pub const WRAPUP_END_MS: i64 = 1_591_968_440_750;

/// The notification's `eventBody` once the agent is talking to the customer.
pub const LIVE_CONNECTED: &str = r#"{
  "id": "2382cf8f-2cba-44a4-97c0-119df2cf0ac4",
  "participants": [
    {
      "id": "354a7626-e8e8-499b-a790-8d6cbc3a485c",
      "connectedTime": "2020-06-12T13:22:13.335Z",
      "name": "ronald reagan",
      "queueId": "0c57879e-fc96-440c-9e0b-e1973f88c0ef",
      "purpose": "customer",
      "address": "tel:+15550100",
      "wrapupRequired": false,
      "wrapupExpected": false,
      "attributes": {"context.firstName": "ronald", "endTime": "2099-01-01T00:00:00Z"},
      "calls": [{"state": "connected", "id": "c0a1", "direction": "inbound", "provider": "Edge",
                 "connectedTime": "2020-06-12T13:22:13.335Z"}]
    },
    {
      "id": "5b0e0b7c-3f8a-4bb1-9c1e-7d2f6a1e0c11",
      "purpose": "acd",
      "name": "Support",
      "queueId": "0c57879e-fc96-440c-9e0b-e1973f88c0ef",
      "connectedTime": "2020-06-12T13:22:13.400Z",
      "endTime": "2020-06-12T13:22:45.120Z",
      "conversationRoutingData": {"queue": {"id": "0c57879e-fc96-440c-9e0b-e1973f88c0ef"}, "priority": 0, "skills": [], "scoredAgents": []},
      "calls": [{"state": "disconnected", "id": "c0a2", "direction": "inbound", "disconnectType": "transfer",
                 "connectedTime": "2020-06-12T13:22:13.400Z", "disconnectedTime": "2020-06-12T13:22:45.120Z"}]
    },
    {
      "id": "9e1f3c2a-6d4b-4e8f-a0b7-2c5d8e9f1a22",
      "purpose": "agent",
      "name": "Agent Smith",
      "userId": "e7c1d2b3-4a5f-4c6d-8e9f-0a1b2c3d4e5f",
      "queueId": "0c57879e-fc96-440c-9e0b-e1973f88c0ef",
      "connectedTime": "2020-06-12T13:22:45.120Z",
      "wrapupRequired": true,
      "wrapupPrompt": "mandatory",
      "calls": [{"state": "connected", "id": "c0a3", "direction": "inbound",
                 "connectedTime": "2020-06-12T13:22:45.120Z"}]
    }
  ]
}"#;

/// The notification's `eventBody` after wrap-up: the final state.
pub const LIVE_FINAL: &str = r#"{
  "id": "2382cf8f-2cba-44a4-97c0-119df2cf0ac4",
  "participants": [
    {
      "id": "354a7626-e8e8-499b-a790-8d6cbc3a485c",
      "connectedTime": "2020-06-12T13:22:13.335Z",
      "endTime": "2020-06-12T13:27:01.500Z",
      "name": "ronald reagan",
      "queueId": "0c57879e-fc96-440c-9e0b-e1973f88c0ef",
      "purpose": "customer",
      "attributes": {"context.firstName": "ronald", "endTime": "2099-01-01T00:00:00Z"},
      "calls": [{"state": "disconnected", "id": "c0a1", "direction": "inbound", "disconnectType": "endpoint",
                 "connectedTime": "2020-06-12T13:22:13.335Z", "disconnectedTime": "2020-06-12T13:27:01.500Z"}]
    },
    {
      "id": "5b0e0b7c-3f8a-4bb1-9c1e-7d2f6a1e0c11",
      "purpose": "acd",
      "name": "Support",
      "queueId": "0c57879e-fc96-440c-9e0b-e1973f88c0ef",
      "connectedTime": "2020-06-12T13:22:13.400Z",
      "endTime": "2020-06-12T13:22:45.120Z",
      "calls": [{"state": "disconnected", "id": "c0a2", "direction": "inbound", "disconnectType": "transfer",
                 "connectedTime": "2020-06-12T13:22:13.400Z", "disconnectedTime": "2020-06-12T13:22:45.120Z"}]
    },
    {
      "id": "9e1f3c2a-6d4b-4e8f-a0b7-2c5d8e9f1a22",
      "purpose": "agent",
      "name": "Agent Smith",
      "userId": "e7c1d2b3-4a5f-4c6d-8e9f-0a1b2c3d4e5f",
      "queueId": "0c57879e-fc96-440c-9e0b-e1973f88c0ef",
      "connectedTime": "2020-06-12T13:22:45.120Z",
      "endTime": "2020-06-12T13:27:01.500Z",
      "wrapupRequired": true,
      "startAcwTime": "2020-06-12T13:27:01.500Z",
      "endAcwTime": "2020-06-12T13:27:20.750Z",
      "wrapup": {"code": "7fb334b0-0e9e-11e4-9191-0800200c9a66", "notes": "refund issued", "tags": [],
                 "durationSeconds": 19, "endTime": "2020-06-12T13:27:20.750Z"},
      "calls": [{"state": "disconnected", "id": "c0a3", "direction": "inbound", "disconnectType": "peer",
                 "connectedTime": "2020-06-12T13:22:45.120Z", "disconnectedTime": "2020-06-12T13:27:01.500Z"}]
    }
  ]
}"#;

/// The analytics details row of the final state.
pub const ANALYTICS_FINAL: &str = r#"{
  "conversationId": "2382cf8f-2cba-44a4-97c0-119df2cf0ac4",
  "conversationStart": "2020-06-12T13:22:13.335Z",
  "conversationEnd": "2020-06-12T13:27:01.500Z",
  "originatingDirection": "inbound",
  "divisionIds": ["d6f3c1a2-9b8e-4f70-a1c2-3e4d5f6a7b8c"],
  "participants": [
    {"participantId": "354a7626-e8e8-499b-a790-8d6cbc3a485c", "participantName": "ronald reagan", "purpose": "customer",
     "sessions": [{"mediaType": "voice", "sessionId": "c0a1", "direction": "inbound", "ani": "tel:+15550100",
       "segments": [{"segmentStart": "2020-06-12T13:22:13.335Z", "segmentEnd": "2020-06-12T13:27:01.500Z",
                     "segmentType": "interact", "disconnectType": "endpoint"}]}]},
    {"participantId": "5b0e0b7c-3f8a-4bb1-9c1e-7d2f6a1e0c11", "participantName": "Support", "purpose": "acd",
     "sessions": [{"mediaType": "voice", "sessionId": "c0a2", "direction": "inbound",
       "segments": [{"segmentStart": "2020-06-12T13:22:13.400Z", "segmentEnd": "2020-06-12T13:22:45.120Z",
                     "segmentType": "interact", "queueId": "0c57879e-fc96-440c-9e0b-e1973f88c0ef", "disconnectType": "transfer"}]}]},
    {"participantId": "9e1f3c2a-6d4b-4e8f-a0b7-2c5d8e9f1a22", "participantName": "Agent Smith", "purpose": "agent",
     "userId": "e7c1d2b3-4a5f-4c6d-8e9f-0a1b2c3d4e5f",
     "sessions": [{"mediaType": "voice", "sessionId": "c0a3", "direction": "inbound",
       "segments": [
         {"segmentStart": "2020-06-12T13:22:40.000Z", "segmentEnd": "2020-06-12T13:22:45.120Z", "segmentType": "alert",
          "queueId": "0c57879e-fc96-440c-9e0b-e1973f88c0ef"},
         {"segmentStart": "2020-06-12T13:22:45.120Z", "segmentEnd": "2020-06-12T13:27:01.500Z", "segmentType": "interact",
          "queueId": "0c57879e-fc96-440c-9e0b-e1973f88c0ef", "disconnectType": "peer"},
         {"segmentStart": "2020-06-12T13:27:01.500Z", "segmentEnd": "2020-06-12T13:27:20.750Z", "segmentType": "wrapup",
          "queueId": "0c57879e-fc96-440c-9e0b-e1973f88c0ef", "wrapUpCode": "7fb334b0-0e9e-11e4-9191-0800200c9a66",
          "wrapUpNote": "refund issued"}]}]}
  ]
}"#;

/// The analytics row while the agent is being alerted.
pub const ANALYTICS_ALERTING: &str = r#"{
  "conversationId": "2382cf8f-2cba-44a4-97c0-119df2cf0ac4",
  "conversationStart": "2020-06-12T13:22:13.335Z",
  "participants": [
    {"participantId": "354a7626-e8e8-499b-a790-8d6cbc3a485c", "purpose": "customer",
     "sessions": [{"mediaType": "voice", "sessionId": "c0a1", "direction": "inbound",
       "segments": [{"segmentStart": "2020-06-12T13:22:13.335Z", "segmentType": "interact"}]}]},
    {"participantId": "5b0e0b7c-3f8a-4bb1-9c1e-7d2f6a1e0c11", "purpose": "acd",
     "sessions": [{"mediaType": "voice", "sessionId": "c0a2", "direction": "inbound",
       "segments": [{"segmentStart": "2020-06-12T13:22:13.400Z", "segmentType": "interact",
                     "queueId": "0c57879e-fc96-440c-9e0b-e1973f88c0ef"}]}]},
    {"participantId": "9e1f3c2a-6d4b-4e8f-a0b7-2c5d8e9f1a22", "purpose": "agent",
     "userId": "e7c1d2b3-4a5f-4c6d-8e9f-0a1b2c3d4e5f",
     "sessions": [{"mediaType": "voice", "sessionId": "c0a3", "direction": "inbound",
       "segments": [{"segmentStart": "2020-06-12T13:22:40.000Z", "segmentType": "alert",
                     "queueId": "0c57879e-fc96-440c-9e0b-e1973f88c0ef"}]}]}
  ]
}"#;

/// The analytics row after the call ended, wrap-up still open (no code yet).
pub const ANALYTICS_IN_WRAPUP: &str = r#"{
  "conversationId": "2382cf8f-2cba-44a4-97c0-119df2cf0ac4",
  "conversationStart": "2020-06-12T13:22:13.335Z",
  "conversationEnd": "2020-06-12T13:27:01.500Z",
  "participants": [
    {"participantId": "9e1f3c2a-6d4b-4e8f-a0b7-2c5d8e9f1a22", "purpose": "agent",
     "sessions": [{"mediaType": "voice", "sessionId": "c0a3", "direction": "inbound",
       "segments": [
         {"segmentStart": "2020-06-12T13:22:45.120Z", "segmentEnd": "2020-06-12T13:27:01.500Z", "segmentType": "interact",
          "queueId": "0c57879e-fc96-440c-9e0b-e1973f88c0ef", "disconnectType": "peer"},
         {"segmentStart": "2020-06-12T13:27:01.500Z", "segmentType": "wrapup",
          "queueId": "0c57879e-fc96-440c-9e0b-e1973f88c0ef"}]}]}
  ]
}"#;

/// `GET /api/v2/conversations/{id}` of the final state.
pub const REST_FINAL: &str = r#"{
  "id": "2382cf8f-2cba-44a4-97c0-119df2cf0ac4",
  "startTime": "2020-06-12T13:22:13.335Z",
  "endTime": "2020-06-12T13:27:01.500Z",
  "state": "disconnected",
  "recordingState": "NONE",
  "conversationIds": [],
  "selfUri": "/api/v2/conversations/2382cf8f-2cba-44a4-97c0-119df2cf0ac4",
  "participants": [
    {"id": "354a7626-e8e8-499b-a790-8d6cbc3a485c", "startTime": "2020-06-12T13:22:13.335Z",
     "endTime": "2020-06-12T13:27:01.500Z", "connectedTime": "2020-06-12T13:22:13.335Z",
     "name": "ronald reagan", "queueId": "0c57879e-fc96-440c-9e0b-e1973f88c0ef", "purpose": "customer",
     "ani": "tel:+15550100", "wrapupRequired": false, "attributes": {},
     "calls": [{"state": "disconnected", "id": "c0a1", "direction": "inbound", "disconnectType": "endpoint",
                "connectedTime": "2020-06-12T13:22:13.335Z", "disconnectedTime": "2020-06-12T13:27:01.500Z"}]},
    {"id": "5b0e0b7c-3f8a-4bb1-9c1e-7d2f6a1e0c11", "startTime": "2020-06-12T13:22:13.400Z",
     "endTime": "2020-06-12T13:22:45.120Z", "connectedTime": "2020-06-12T13:22:13.400Z",
     "name": "Support", "queueId": "0c57879e-fc96-440c-9e0b-e1973f88c0ef", "queueName": "Support", "purpose": "acd",
     "wrapupRequired": false, "attributes": {},
     "calls": [{"state": "disconnected", "id": "c0a2", "direction": "inbound", "disconnectType": "transfer",
                "connectedTime": "2020-06-12T13:22:13.400Z", "disconnectedTime": "2020-06-12T13:22:45.120Z"}]},
    {"id": "9e1f3c2a-6d4b-4e8f-a0b7-2c5d8e9f1a22", "startTime": "2020-06-12T13:22:40.000Z",
     "endTime": "2020-06-12T13:27:01.500Z", "connectedTime": "2020-06-12T13:22:45.120Z",
     "name": "Agent Smith", "userId": "e7c1d2b3-4a5f-4c6d-8e9f-0a1b2c3d4e5f",
     "queueId": "0c57879e-fc96-440c-9e0b-e1973f88c0ef", "purpose": "agent", "wrapupRequired": true,
     "wrapup": {"code": "7fb334b0-0e9e-11e4-9191-0800200c9a66", "name": "Refund", "notes": "refund issued",
                "tags": [], "durationSeconds": 19, "endTime": "2020-06-12T13:27:20.750Z"},
     "attributes": {},
     "calls": [{"state": "disconnected", "id": "c0a3", "direction": "inbound", "disconnectType": "peer",
                "startAlertingTime": "2020-06-12T13:22:40.000Z",
                "connectedTime": "2020-06-12T13:22:45.120Z", "disconnectedTime": "2020-06-12T13:27:01.500Z"}]}
  ]
}"#;

/// Parses one of the samples above.
pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("sample is not JSON: {e}"))
}

//! System messages (§2.5): the `v2.system.*` frames the org sends a channel's socket.

use crate::models::{Envelope, Metadata, SystemMessage};
use crate::org::Org;

/// Which system message to build (§2.5).
#[derive(Debug, Clone, Copy)]
pub(crate) enum SystemKind {
    SocketClosing,
    NoLongerSubscribed,
    TokenRevoked,
}

/// The full text frame of a system message for `channel_id`.
pub(crate) fn system_frame(org: &Org, channel_id: &str, client_id: &str, kind: SystemKind) -> String {
    let (topic, topic_type, reason, message) = match kind {
        SystemKind::SocketClosing => (
            "v2.system.socket_closing".to_string(),
            None,
            None,
            "This WebSocket will be closed in one minute; connect a new WebSocket".to_string(),
        ),
        SystemKind::NoLongerSubscribed => (
            format!("v2.system.no_longer_subscribed.{channel_id}"),
            Some("no_longer_subscribed"),
            Some("another_channel_subscribed"),
            "Channel was removed because another channel was created".to_string(),
        ),
        SystemKind::TokenRevoked => (
            format!("v2.system.token_revoked.{channel_id}"),
            Some("token_revoked"),
            Some("user_tokens_revoked"),
            "The token used to create this channel was revoked".to_string(),
        ),
    };
    let correlation = uuid::Uuid::new_v4().to_string();
    let body = SystemMessage {
        channel_id: channel_id.to_string(),
        system_topic_type: topic_type.map(str::to_string),
        correlation_id: correlation.clone(),
        organization_id: org.cfg.org_id.clone(),
        user_id: None,
        oauth_client_id: client_id.to_string(),
        oauth_client_org_id: org.cfg.org_id.clone(),
        reason: reason.map(str::to_string),
        message,
        data: None,
    };
    let env = Envelope {
        topic_name: topic,
        version: "2".into(),
        event_body: body,
        metadata: Metadata { correlation_id: correlation },
    };
    serde_json::to_string(&env).unwrap_or_default()
}

//! WebSocket `subscribe`/`unsubscribe` requests on a channel's socket (§2.2), under the rules of
//! [`crate::org::subscriptions`].
//!
//! Form: `{"message":"subscribe"|"unsubscribe","topics":[…],"correlationId":"…"}` →
//! `{"correlationId","topics","result":"200","status":"subscribed"|"unsubscribed"}`; a malformed
//! request → `{"correlationId","topics":[],"result":"400","status":"error","message":"Required
//! data missing from subscribe request."}`; a forbidden topic → the same with `"result":"403"`;
//! a dead channel → `{"result":"404","message":…}`.

use tokio::time::Instant;

use crate::models::{ChannelFailure, SubscribeReply};
use crate::org::channels::ChannelStatus;
use crate::org::subscriptions::{Mode, SubError, apply};
use crate::org::{Org, lock};

/// Handles a WebSocket `subscribe`/`unsubscribe` request; returns the reply frame text.
pub(crate) fn ws_request(org: &Org, channel_id: &str, value: &serde_json::Value, unsubscribe: bool) -> String {
    let correlation = value.get("correlationId").and_then(|v| v.as_str()).unwrap_or("").to_string();
    let topics: Option<Vec<String>> = value
        .get("topics")
        .and_then(|t| t.as_array())
        .and_then(|arr| arr.iter().map(|v| v.as_str().map(str::to_string)).collect::<Option<Vec<String>>>());
    let error = |result: &str, message: String| {
        serde_json::to_string(&SubscribeReply {
            correlation_id: correlation.clone(),
            topics: Vec::new(),
            result: result.into(),
            status: "error".into(),
            message: Some(message),
        })
        .unwrap_or_default()
    };
    let topics = match topics {
        Some(t) if !t.is_empty() => t,
        _ => return error("400", "Required data missing from subscribe request.".into()),
    };
    let client_id = {
        let st = lock(&org.state);
        if st.channel_status(channel_id, Instant::now()) != ChannelStatus::Live {
            return dead_channel_frame(channel_id);
        }
        match st.channels.get(channel_id) {
            Some(c) => c.client_id.clone(),
            None => return dead_channel_frame(channel_id),
        }
    };
    let mode = if unsubscribe { Mode::Remove } else { Mode::Add };
    match apply(org, &client_id, channel_id, topics.clone(), mode, false) {
        Ok(_) => serde_json::to_string(&SubscribeReply {
            correlation_id: correlation,
            topics,
            result: "200".into(),
            status: if unsubscribe { "unsubscribed".into() } else { "subscribed".into() },
            message: None,
        })
        .unwrap_or_default(),
        Err(SubError::NotFound(_)) => dead_channel_frame(channel_id),
        Err(SubError::BadRequest(m)) => error("400", m),
        Err(SubError::Forbidden(m)) => error("403", m),
    }
}

/// `{"result":"404","message":…}` (§2.2).
fn dead_channel_frame(channel_id: &str) -> String {
    serde_json::to_string(&ChannelFailure {
        result: "404".into(),
        message: format!("Channel {channel_id} does not exist or has expired"),
    })
    .unwrap_or_default()
}

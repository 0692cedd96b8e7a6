//! The internal conversation model and its three renderings: the queue-topic event (§3.1), the
//! REST `Conversation` (§4.3) and the analytics record (§4.1).
//!
//! Conventions the connector can rely on ([INF], written down so both sides agree):
//! - Every participant gets `endTime` when its call disconnects (not after wrap-up). A snapshot
//!   shows the conversation **ended** iff every participant has `endTime`; the conversation end
//!   time is then the maximum participant `endTime`, which equals analytics `conversationEnd` and
//!   REST `endTime`.
//! - The conversation start is the customer's `connectedTime` (analytics `conversationStart`).
//! - Wrap-up arrives after the end, in a later snapshot with the same end time.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::models::{
    self, AnalyticsConversation, AnalyticsParticipant, AnalyticsSegment, AnalyticsSession, EventAddress, EventCall,
    EventConversation, EventParticipant, EventWrapup, RoutingData, UriReference, iso_ms,
};

/// Participant purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    Customer,
    Acd,
    Agent,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Customer => "customer",
            Purpose::Acd => "acd",
            Purpose::Agent => "agent",
        }
    }
}

/// A completed wrap-up.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WrapupState {
    pub code: String,
    pub end_ms: i64,
    pub duration_secs: i64,
}

/// One participant with its single call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Part {
    pub id: String,
    pub purpose: Purpose,
    pub name: String,
    pub user_id: Option<String>,
    pub queue_id: Option<String>,
    pub queue_name: Option<String>,
    pub address: String,
    pub call_id: String,
    pub initial_state: &'static str,
    pub state: &'static str,
    pub start_ms: i64,
    pub connected_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub disconnect_type: Option<&'static str>,
    pub wrapup_required: bool,
    pub wrapup: Option<WrapupState>,
    pub acw_start_ms: Option<i64>,
    pub attributes: BTreeMap<String, String>,
}

impl Part {
    /// Disconnects the call at `ms`.
    pub fn disconnect(&mut self, ms: i64, disconnect_type: &'static str) {
        self.state = "disconnected";
        self.end_ms = Some(ms);
        self.disconnect_type = Some(disconnect_type);
        if self.wrapup_required {
            self.acw_start_ms = Some(ms);
        }
    }
}

/// A conversation at one point in time.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ConvState {
    pub id: String,
    pub division_id: String,
    pub start_ms: i64,
    pub participants: Vec<Part>,
    /// Queues it touched, in order.
    pub queues: Vec<String>,
    /// A label of the step that produced this state (for the truth).
    pub phase: &'static str,
    pub customer_ani: String,
    pub dnis: String,
}

impl ConvState {
    /// Every participant has an end time.
    pub fn ended(&self) -> bool {
        !self.participants.is_empty() && self.participants.iter().all(|p| p.end_ms.is_some())
    }

    /// The maximum participant end time, once ended.
    pub fn end_ms(&self) -> Option<i64> {
        if self.ended() { self.participants.iter().filter_map(|p| p.end_ms).max() } else { None }
    }

    /// The last wrap-up code set.
    pub fn wrapup_code(&self) -> Option<String> {
        self.participants.iter().filter_map(|p| p.wrapup.as_ref()).max_by_key(|w| w.end_ms).map(|w| w.code.clone())
    }
}

fn addr(a: &str) -> EventAddress {
    EventAddress { name: None, address_normalized: a.to_string() }
}

fn routing(p: &Part) -> Option<RoutingData> {
    let q = p.queue_id.as_ref()?;
    if p.purpose == Purpose::Customer {
        return None;
    }
    Some(RoutingData {
        queue: UriReference { id: q.clone(), name: p.queue_name.clone() },
        priority: 0,
        skills: Vec::new(),
        scored_agents: Vec::new(),
    })
}

/// The `QueueConversationEventTopicConversation` body (§3.1).
pub(crate) fn to_event(c: &ConvState) -> EventConversation {
    let customer_addr = c.customer_ani.clone();
    let participants = c
        .participants
        .iter()
        .map(|p| {
            let other = match p.purpose {
                Purpose::Customer => addr(&c.dnis),
                _ => addr(&customer_addr),
            };
            EventParticipant {
                id: p.id.clone(),
                connected_time: p.connected_ms.map(iso_ms),
                end_time: p.end_ms.map(iso_ms),
                user_id: p.user_id.clone(),
                name: Some(p.name.clone()),
                queue_id: p.queue_id.clone(),
                purpose: p.purpose.as_str().into(),
                address: Some(p.address.clone()),
                wrapup_required: p.wrapup_required,
                wrapup_expected: p.wrapup_required,
                wrapup_prompt: p.wrapup_required.then(|| "mandatory".to_string()),
                wrapup_timeout_ms: p.wrapup_required.then_some(60_000),
                wrapup: p.wrapup.as_ref().map(|w| EventWrapup {
                    code: w.code.clone(),
                    notes: String::new(),
                    tags: Vec::new(),
                    duration_seconds: w.duration_secs,
                    end_time: iso_ms(w.end_ms),
                }),
                start_acw_time: p.acw_start_ms.map(iso_ms),
                end_acw_time: p.wrapup.as_ref().map(|w| iso_ms(w.end_ms)),
                conversation_routing_data: routing(p),
                alerting_timeout_ms: (p.purpose == Purpose::Agent).then_some(8_000),
                attributes: p.attributes.clone(),
                calls: vec![EventCall {
                    id: p.call_id.clone(),
                    state: p.state.into(),
                    initial_state: p.initial_state.into(),
                    recording: false,
                    recording_state: "none".into(),
                    muted: false,
                    confined: false,
                    held: false,
                    secure_pause: false,
                    disconnect_type: p.disconnect_type.map(str::to_string),
                    direction: "inbound".into(),
                    self_address: addr(&p.address),
                    other: Some(other),
                    provider: "Edge".into(),
                    peer_id: None,
                    connected_time: p.connected_ms.map(iso_ms),
                    disconnected_time: p.end_ms.map(iso_ms),
                    after_call_work_required: p.wrapup_required,
                }],
            }
        })
        .collect();
    EventConversation { id: c.id.clone(), participants, secure_pause: false }
}

/// The REST `Conversation` (§4.3).
pub(crate) fn to_rest(c: &ConvState) -> models::Conversation {
    let participants = c
        .participants
        .iter()
        .map(|p| models::Participant {
            id: p.id.clone(),
            start_time: iso_ms(p.start_ms),
            end_time: p.end_ms.map(iso_ms),
            connected_time: p.connected_ms.map(iso_ms),
            name: Some(p.name.clone()),
            user_id: p.user_id.clone(),
            queue_id: p.queue_id.clone(),
            queue_name: p.queue_name.clone(),
            purpose: p.purpose.as_str().into(),
            address: Some(p.address.clone()),
            ani: Some(c.customer_ani.clone()),
            dnis: Some(c.dnis.clone()),
            wrapup_required: p.wrapup_required,
            wrapup: p.wrapup.as_ref().map(|w| models::Wrapup {
                code: w.code.clone(),
                name: w.code.clone(),
                notes: String::new(),
                tags: Vec::new(),
                duration_seconds: w.duration_secs,
                end_time: iso_ms(w.end_ms),
            }),
            attributes: p.attributes.clone(),
            calls: vec![models::Call {
                state: p.state.into(),
                initial_state: p.initial_state.into(),
                id: p.call_id.clone(),
                direction: "inbound".into(),
                recording: false,
                recording_state: "none".into(),
                muted: false,
                confined: false,
                held: false,
                secure_pause: false,
                disconnect_type: p.disconnect_type.map(str::to_string),
                start_alerting_time: (p.initial_state == "alerting").then(|| iso_ms(p.start_ms)),
                connected_time: p.connected_ms.map(iso_ms),
                disconnected_time: p.end_ms.map(iso_ms),
                provider: "Edge".into(),
                self_address: addr(&p.address),
                other: None,
                after_call_work_required: p.wrapup_required,
            }],
        })
        .collect();
    models::Conversation {
        id: c.id.clone(),
        start_time: iso_ms(c.start_ms),
        end_time: c.end_ms().map(iso_ms),
        participants,
        conversation_ids: Vec::new(),
        recording_state: "NONE".into(),
        state: if c.ended() { "disconnected".into() } else { "connected".into() },
        self_uri: format!("/api/v2/conversations/{}", c.id),
    }
}

/// Maps an event `disconnectType` to the analytics enum (§4.1).
fn analytics_disconnect(t: &str) -> String {
    match t {
        "transfer" => "transfer",
        "endpoint" => "endpoint",
        "peer" => "peer",
        "client" => "client",
        "timeout" => "timeout",
        "system" => "system",
        "error" => "error",
        _ => "other",
    }
    .to_string()
}

/// The analytics record (§4.1). `with_attributes` gives the async-job form (`AnalyticsConversation`).
pub(crate) fn to_analytics(c: &ConvState, with_attributes: bool) -> AnalyticsConversation {
    let participants = c
        .participants
        .iter()
        .map(|p| {
            let mut segments = Vec::new();
            let disc = p.disconnect_type.map(analytics_disconnect);
            match p.purpose {
                Purpose::Customer | Purpose::Acd => segments.push(AnalyticsSegment {
                    segment_start: iso_ms(p.start_ms),
                    segment_end: p.end_ms.map(iso_ms),
                    segment_type: "interact".into(),
                    queue_id: p.queue_id.clone().filter(|_| p.purpose == Purpose::Acd),
                    disconnect_type: disc.clone(),
                    wrap_up_code: None,
                    wrap_up_note: None,
                }),
                Purpose::Agent => {
                    let alert_end = p.connected_ms.or(p.end_ms);
                    segments.push(AnalyticsSegment {
                        segment_start: iso_ms(p.start_ms),
                        segment_end: alert_end.map(iso_ms),
                        segment_type: "alert".into(),
                        queue_id: p.queue_id.clone(),
                        disconnect_type: if p.connected_ms.is_none() { disc.clone() } else { None },
                        wrap_up_code: None,
                        wrap_up_note: None,
                    });
                    if let Some(conn) = p.connected_ms {
                        segments.push(AnalyticsSegment {
                            segment_start: iso_ms(conn),
                            segment_end: p.end_ms.map(iso_ms),
                            segment_type: "interact".into(),
                            queue_id: p.queue_id.clone(),
                            disconnect_type: disc.clone(),
                            wrap_up_code: None,
                            wrap_up_note: None,
                        });
                    }
                    if let (Some(acw), true) = (p.acw_start_ms, p.connected_ms.is_some()) {
                        segments.push(AnalyticsSegment {
                            segment_start: iso_ms(acw),
                            segment_end: p.wrapup.as_ref().map(|w| iso_ms(w.end_ms)),
                            segment_type: "wrapup".into(),
                            queue_id: p.queue_id.clone(),
                            disconnect_type: None,
                            wrap_up_code: p.wrapup.as_ref().map(|w| w.code.clone()),
                            wrap_up_note: None,
                        });
                    }
                }
            }
            AnalyticsParticipant {
                participant_id: p.id.clone(),
                participant_name: Some(p.name.clone()),
                purpose: p.purpose.as_str().into(),
                user_id: p.user_id.clone(),
                sessions: vec![AnalyticsSession {
                    media_type: "voice".into(),
                    session_id: p.call_id.clone(),
                    direction: "inbound".into(),
                    ani: Some(c.customer_ani.clone()),
                    dnis: Some(c.dnis.clone()),
                    segments,
                }],
                attributes: with_attributes.then(|| p.attributes.clone()),
            }
        })
        .collect();
    AnalyticsConversation {
        conversation_id: c.id.clone(),
        conversation_start: iso_ms(c.start_ms),
        conversation_end: c.end_ms().map(iso_ms),
        originating_direction: "inbound".into(),
        division_ids: vec![c.division_id.clone()],
        participants,
    }
}

/// One version of a conversation as analytics will see it.
#[derive(Debug, Clone)]
pub(crate) struct Version {
    pub generated_ms: i64,
    /// Wall time from which analytics shows this version.
    pub visible_ms: i64,
    pub state: Arc<ConvState>,
}

/// Every version of every conversation, in arrival order.
#[derive(Debug, Default)]
pub(crate) struct ConversationStore {
    order: Vec<String>,
    versions: HashMap<String, Vec<Version>>,
}

impl ConversationStore {
    pub fn push(&mut self, state: Arc<ConvState>, generated_ms: i64, visible_ms: i64) {
        let id = state.id.clone();
        let entry = self.versions.entry(id.clone()).or_default();
        if entry.is_empty() {
            self.order.push(id);
        }
        entry.push(Version { generated_ms, visible_ms, state });
    }

    /// The latest state (live view, no delay).
    pub fn latest(&self, id: &str) -> Option<Arc<ConvState>> {
        self.versions.get(id).and_then(|v| v.last()).map(|v| v.state.clone())
    }

    /// The analytics view at `now_ms`: per conversation, the newest version that has landed.
    /// Versions land out of order (jitter); the newest landed one wins, so the view only moves forward.
    pub fn visible_at(&self, now_ms: i64) -> Vec<Arc<ConvState>> {
        self.order
            .iter()
            .filter_map(|id| self.versions.get(id))
            .filter_map(|vs| vs.iter().rev().find(|v| v.visible_ms <= now_ms).map(|v| v.state.clone()))
            .collect()
    }

    /// The data-lake view: per conversation, the newest version generated at or before `cutoff_ms`.
    pub fn generated_before(&self, cutoff_ms: i64) -> Vec<Arc<ConvState>> {
        self.order
            .iter()
            .filter_map(|id| self.versions.get(id))
            .filter_map(|vs| vs.iter().rev().find(|v| v.generated_ms <= cutoff_ms).map(|v| v.state.clone()))
            .collect()
    }

    /// Number of conversations.
    pub fn len(&self) -> usize {
        self.order.len()
    }
}

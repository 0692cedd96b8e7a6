//! The records REST and WebSocket handlers share under one lock: tokens, channels and queues.

use std::collections::HashMap;

use tokio::time::Instant;

use crate::org::channels::{ChannelRec, ChannelStatus};
use crate::org::queues::QueueRec;
use crate::org::tokens::TokenRec;

/// Tokens, channels and queues: the state REST and WebSocket handlers share.
#[derive(Default)]
pub(crate) struct State {
    pub tokens: HashMap<String, TokenRec>,
    pub channels: HashMap<String, ChannelRec>,
    pub queues: Vec<QueueRec>,
    pub next_conn_id: u64,
}

impl State {
    /// A fresh socket connection id.
    pub fn next_conn_id(&mut self) -> u64 {
        self.next_conn_id += 1;
        self.next_conn_id
    }

    /// The status of a channel.
    pub fn channel_status(&self, id: &str, now: Instant) -> ChannelStatus {
        match self.channels.get(id) {
            None => ChannelStatus::Unknown,
            Some(ch) => match ch.death(&self.tokens, now) {
                None => ChannelStatus::Live,
                Some(d) => ChannelStatus::Dead(d),
            },
        }
    }

    /// Ids of live channels, optionally of one client.
    pub fn live_channel_ids(&self, client: Option<&str>, now: Instant) -> Vec<String> {
        let mut ids: Vec<&ChannelRec> = self
            .channels
            .values()
            .filter(|c| client.is_none_or(|cl| c.client_id == cl) && c.death(&self.tokens, now).is_none())
            .collect();
        ids.sort_by(|a, b| a.id.cmp(&b.id));
        ids.into_iter().map(|c| c.id.clone()).collect()
    }
}

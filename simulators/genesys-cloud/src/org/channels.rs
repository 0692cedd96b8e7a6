//! A channel's record: its owner and token, its topics, its socket, and whether it is alive. A
//! channel is dead once expired, evicted, or when the token that created it expired or was
//! revoked ([INF] token-scoped channels, §1).

use std::collections::{HashMap, HashSet};

use tokio::time::Instant;

use crate::org::sockets::Attachment;
use crate::org::tokens::{TokenRec, token_valid};

/// Why a channel is dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Death {
    Expired,
    Evicted,
    TokenExpired,
    TokenRevoked,
}

impl Death {
    /// A short human reason.
    pub fn as_str(self) -> &'static str {
        match self {
            Death::Expired => "channel expired",
            Death::Evicted => "channel was replaced by another channel",
            Death::TokenExpired => "the token that created the channel expired",
            Death::TokenRevoked => "the token that created the channel was revoked",
        }
    }
}

/// One channel.
#[derive(Debug)]
pub(crate) struct ChannelRec {
    pub id: String,
    pub client_id: String,
    pub token: String,
    pub expires: Instant,
    pub last_used: Instant,
    pub topics: Vec<String>,
    pub topic_set: HashSet<String>,
    pub socket: Option<Attachment>,
    pub killed: Option<Death>,
}

impl ChannelRec {
    /// Why this channel is dead, if it is.
    pub fn death(&self, tokens: &HashMap<String, TokenRec>, now: Instant) -> Option<Death> {
        if let Some(d) = self.killed {
            return Some(d);
        }
        if now >= self.expires {
            return Some(Death::Expired);
        }
        let tok = tokens.get(&self.token);
        if !token_valid(tok, now) {
            return Some(if tok.is_some_and(|t| t.revoked) { Death::TokenRevoked } else { Death::TokenExpired });
        }
        None
    }

    /// Sets the topic list.
    pub fn set_topics(&mut self, topics: Vec<String>) {
        self.topic_set = topics.iter().cloned().collect();
        self.topics = topics;
    }
}

/// Live / dead / never existed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChannelStatus {
    Live,
    Dead(Death),
    Unknown,
}

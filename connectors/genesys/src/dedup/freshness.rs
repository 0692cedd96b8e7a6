//! [`Freshness`]: the newest state produced per conversation, in bounded memory.

use std::collections::{HashMap, VecDeque};

use super::ids::{Key, KeyState, key_of};
use crate::record::{ConversationEvent, Source};

/// Where a record stands against what was already produced for its conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Newer than, or as new as, what was produced (or nothing is known).
    Fresh,
    /// Produced after it would put an older state last for its key.
    Stale,
}

/// The newest state produced for one conversation.
#[derive(Debug, Clone, Copy)]
struct Produced {
    event_time_ms: i64,
    completeness: u32,
    ended: bool,
    /// Identifies the latest update, so queue entries of earlier updates are recognised as old.
    stamp: u64,
}

/// Per conversation, the newest state produced: event time, completeness, ended.
///
/// Bounds: at most `capacity` conversations (the least recently updated is forgotten first), and
/// a conversation that has ended is forgotten `ended_ttl_ms` after the record that ended it
/// (times are the records' `receive_time_ms`). A forgotten conversation judges [`Standing::Fresh`]
/// again, so `ended_ttl_ms` must cover the time a backfill can still return an older state of it:
/// the analytics data delay plus the backfill safety margin.
pub struct Freshness {
    conversations: HashMap<Key, Produced, KeyState>,
    /// Updates in order, for capacity eviction; entries whose stamp is not current are old.
    updates: VecDeque<(Key, u64)>,
    /// Ends in order: (conversation, stamp of the update that ended it, when).
    ends: VecDeque<(Key, u64, i64)>,
    capacity: usize,
    ended_ttl_ms: i64,
    next_stamp: u64,
    now_ms: i64,
}

impl Freshness {
    /// `capacity` is at least 1.
    pub fn new(capacity: usize, ended_ttl_ms: i64) -> Self {
        Self {
            conversations: HashMap::default(),
            updates: VecDeque::new(),
            ends: VecDeque::new(),
            capacity: capacity.max(1),
            ended_ttl_ms,
            next_stamp: 0,
            now_ms: i64::MIN,
        }
    }

    /// [`Standing::Stale`] if `event` is strictly older than what was produced for its
    /// conversation, or a BACKFILL record as old and no more complete; else [`Standing::Fresh`].
    pub fn judge(&self, event: &ConversationEvent) -> Standing {
        let Some(produced) = self.conversations.get(&key_of(&event.conversation_id)) else {
            return Standing::Fresh;
        };
        let older = event.event_time_ms < produced.event_time_ms;
        let no_newer = event.event_time_ms == produced.event_time_ms && event.completeness() <= produced.completeness;
        if older || (no_newer && event.source == Source::Backfill) { Standing::Stale } else { Standing::Fresh }
    }

    /// Notes that `event` was produced. Keeps the newest (event time, completeness) of the
    /// conversation even if `event` is older, and forgets what is over the bounds.
    pub fn record(&mut self, event: &ConversationEvent) {
        self.now_ms = self.now_ms.max(event.receive_time_ms);
        let key = key_of(&event.conversation_id);
        let stamp = self.next_stamp;
        self.next_stamp += 1;
        let mut state = Produced {
            event_time_ms: event.event_time_ms,
            completeness: event.completeness(),
            ended: event.ended,
            stamp,
        };
        if let Some(old) = self.conversations.get(&key)
            && (old.event_time_ms, old.completeness) > (state.event_time_ms, state.completeness)
        {
            state = Produced { stamp, ..*old };
        }
        self.conversations.insert(key, state);
        self.updates.push_back((key, stamp));
        if state.ended {
            self.ends.push_back((key, stamp, self.now_ms));
        }
        self.enforce_bounds();
    }

    /// Forgets conversations that ended more than the TTL before `now_ms`.
    pub fn expire(&mut self, now_ms: i64) {
        self.now_ms = self.now_ms.max(now_ms);
        let cutoff = self.now_ms.saturating_sub(self.ended_ttl_ms);
        while let Some(&(key, stamp, at)) = self.ends.front() {
            if at >= cutoff {
                break;
            }
            self.ends.pop_front();
            // Only if nothing was produced for it since the end was noted.
            if self.conversations.get(&key).is_some_and(|p| p.stamp == stamp) {
                self.conversations.remove(&key);
            }
        }
    }

    /// Conversations currently tracked.
    pub fn len(&self) -> usize {
        self.conversations.len()
    }

    pub fn is_empty(&self) -> bool {
        self.conversations.is_empty()
    }

    /// Queue entries held, current or not (memory check for tests).
    #[cfg(test)]
    pub(super) fn queued(&self) -> usize {
        self.updates.len() + self.ends.len()
    }

    fn enforce_bounds(&mut self) {
        self.expire(self.now_ms);
        while self.conversations.len() > self.capacity {
            let Some((key, stamp)) = self.updates.pop_front() else { break };
            if self.conversations.get(&key).is_some_and(|p| p.stamp == stamp) {
                self.conversations.remove(&key);
            }
        }
        // Several updates per conversation leave old entries behind; drop them once they
        // outnumber the live ones, so the queues stay proportional to the map.
        let limit = self.conversations.len().max(1024) * 2;
        if self.updates.len() > limit {
            let current = &self.conversations;
            self.updates.retain(|(key, stamp)| current.get(key).is_some_and(|p| p.stamp == *stamp));
        }
        if self.ends.len() > limit {
            let current = &self.conversations;
            self.ends.retain(|(key, stamp, _)| current.get(key).is_some_and(|p| p.stamp == *stamp));
        }
    }
}

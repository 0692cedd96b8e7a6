//! Conversations the live stream has shown, newest last: the evidence the backfill worker uses
//! to tell that Analytics has caught up with a gap.

use std::collections::{HashSet, VecDeque};

use crate::record::ConversationEvent;

/// The last [`Sentinels::KEEP`] conversations seen live, with their start times.
#[derive(Debug, Default)]
pub struct Sentinels {
    recent: VecDeque<(String, i64)>,
    known: HashSet<String>,
}

impl Sentinels {
    const KEEP: usize = 2000;

    /// Notes a live record's conversation (once per conversation; needs its start time).
    pub fn saw(&mut self, event: &ConversationEvent) {
        let Some(start) = event.conversation_start_ms else { return };
        if self.known.contains(event.conversation_id()) {
            return;
        }
        if self.recent.len() == Self::KEEP
            && let Some((oldest, _)) = self.recent.pop_front()
        {
            self.known.remove(&oldest);
        }
        self.known.insert(event.conversation_id().to_owned());
        self.recent.push_back((event.conversation_id().to_owned(), start));
    }

    /// A conversation seen live that started at or after `t_ms`.
    pub fn started_after(&self, t_ms: i64) -> Option<(String, i64)> {
        self.recent.iter().find(|(_, start)| *start >= t_ms).cloned()
    }
}

//! Which open conversations were re-checked by id, and when.
//!
//! A gap's open conversations are fetched one request each (`GET /api/v2/conversations/{id}`),
//! for the state they reached while nobody listened. An answer taken at or after a gap's end
//! already shows everything the conversation did inside that gap, so it serves every gap that
//! ended by then: one outage that opened gaps on many queues and channels (or one conversation
//! open on several queues) costs one request per open conversation, not one per gap.

use std::collections::HashMap;

/// Answers older than this are forgotten: no gap still to come ends that early.
const KEEP_MS: i64 = 60 * 60 * 1000;
/// Look for forgotten answers after this many new ones.
const PRUNE_EVERY: usize = 1024;

/// When each conversation was last re-checked (epoch ms at which its request was sent).
#[derive(Debug, Default)]
pub struct Rechecks {
    asked_at: HashMap<String, i64>,
    since_prune: usize,
}

impl Rechecks {
    /// Whether an answer already taken shows `conversation` as of `gap_end_ms` or later.
    pub fn covers(&self, conversation: &str, gap_end_ms: i64) -> bool {
        self.asked_at.get(conversation).is_some_and(|at| *at >= gap_end_ms)
    }

    /// `conversation` was answered by a request sent at `asked_at_ms` (found or not).
    pub fn answered(&mut self, conversation: String, asked_at_ms: i64) {
        let at = self.asked_at.entry(conversation).or_insert(asked_at_ms);
        *at = (*at).max(asked_at_ms);
        self.since_prune += 1;
        if self.since_prune >= PRUNE_EVERY {
            self.since_prune = 0;
            self.asked_at.retain(|_, at| *at >= asked_at_ms - KEEP_MS);
        }
    }

    /// Conversations remembered.
    pub fn len(&self) -> usize {
        self.asked_at.len()
    }

    pub fn is_empty(&self) -> bool {
        self.asked_at.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_serves_the_gaps_that_ended_before_it_was_asked() {
        let mut rechecks = Rechecks::default();
        assert!(!rechecks.covers("c1", 1_000));
        rechecks.answered("c1".into(), 5_000);
        assert!(rechecks.covers("c1", 1_000));
        assert!(rechecks.covers("c1", 5_000));
        assert!(!rechecks.covers("c1", 5_001), "a gap that ended later needs a fresh answer");
        assert!(!rechecks.covers("c2", 1_000));
        rechecks.answered("c1".into(), 3_000);
        assert!(rechecks.covers("c1", 5_000), "an older answer does not replace a newer one");
    }

    #[test]
    fn old_answers_are_forgotten() {
        let mut rechecks = Rechecks::default();
        rechecks.answered("old".into(), 0);
        for i in 0..PRUNE_EVERY {
            rechecks.answered(format!("c{i}"), KEEP_MS + 10);
        }
        assert!(!rechecks.covers("old", 0));
        assert_eq!(rechecks.len(), PRUNE_EVERY);
    }
}

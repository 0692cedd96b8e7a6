//! Per-queue coverage: the watermark each queue's offset carries, and the gaps that hold it back.
//!
//! # Contract
//!
//! A queue's **watermark** is the time up to which every event of the queue is known to be in
//! Kafka. It is what the queue's source offset (`{"watermark_ms": …}`) says, so a restart resumes
//! from it. It moves only in two ways:
//!
//! * **Proofs.** A channel whose socket was alive and whose subscription was verified at time `t`
//!   proves that every event of its queues before `t` was received; the records already emitted
//!   for them carry the watermark in force, and the proof then moves the watermark to `t` (as an
//!   offset-only emit, committed once every earlier record of the queue is acknowledged).
//! * **Filled gaps.** When coverage is lost, the watermark freezes at the last proof. When it
//!   returns at `R`, the span `[frozen, R]` becomes a gap; proofs after `R` are remembered but do
//!   not move the watermark until every gap of the queue has been backfilled. Then it jumps to the
//!   latest proof.
//!
//! At start-up a queue with a stored watermark `W` has the gap `[W, R]` when its first channel
//! comes up at `R`. A queue without one starts at `R`, or, with an initial window `I`, with the gap
//! `[R − I, R]`. A gap longer than the maximum is cut to its last `max_gap` and flagged, so the
//! loss is reported rather than hidden.

use std::collections::{BTreeMap, VecDeque};

/// A span of time whose events a queue may have missed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    pub id: u64,
    pub queue_id: String,
    pub from_ms: i64,
    pub to_ms: i64,
    /// Set when the gap was longer than allowed: the part before `from_ms`, from this time, is not
    /// backfilled.
    pub truncated_from_ms: Option<i64>,
}

/// What the connector must do after a coverage change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Emit an offset-only record moving the queue's watermark.
    Advance { queue_id: String, watermark_ms: i64 },
    /// Backfill this gap.
    Backfill(Gap),
}

#[derive(Debug, Clone, Default)]
struct QueueState {
    watermark_ms: Option<i64>,
    proven_ms: Option<i64>,
    lost_since_ms: Option<i64>,
    /// True until the first coverage of this run has been seen.
    starting: bool,
    gaps: VecDeque<Gap>,
}

/// A queue's coverage as shown in status.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QueueView {
    pub queue_id: String,
    pub watermark_ms: Option<i64>,
    pub proven_ms: Option<i64>,
    pub covered: bool,
    pub lost_since_ms: Option<i64>,
    pub pending_gaps: usize,
}

/// Coverage of every followed queue.
#[derive(Debug)]
pub struct Coverage {
    queues: BTreeMap<String, QueueState>,
    initial_window_ms: i64,
    max_gap_ms: i64,
    next_gap: u64,
}

impl Coverage {
    pub fn new(initial_window_ms: i64, max_gap_ms: i64) -> Self {
        Self { queues: BTreeMap::new(), initial_window_ms, max_gap_ms, next_gap: 1 }
    }

    /// Starts following a queue, with its stored watermark if any.
    pub fn follow(&mut self, queue_id: &str, stored_ms: Option<i64>) {
        self.queues.entry(queue_id.to_owned()).or_insert_with(|| QueueState {
            watermark_ms: stored_ms,
            proven_ms: None,
            lost_since_ms: None,
            starting: true,
            gaps: VecDeque::new(),
        });
    }

    /// Stops following a queue; its pending gaps are dropped.
    pub fn unfollow(&mut self, queue_id: &str) {
        self.queues.remove(queue_id);
    }

    pub fn is_followed(&self, queue_id: &str) -> bool {
        self.queues.contains_key(queue_id)
    }

    /// The watermark a record of `queue_id` carries now.
    pub fn watermark(&self, queue_id: &str) -> Option<i64> {
        self.queues.get(queue_id).and_then(|q| q.watermark_ms)
    }

    /// Coverage of `queue_id` was proven through `until_ms`; `from_ms` is set when coverage
    /// (re)starts at that time after a loss or at start-up.
    pub fn covered(&mut self, queue_id: &str, from_ms: Option<i64>, until_ms: i64) -> Vec<Action> {
        let mut actions = Vec::new();
        let Some(q) = self.queues.get_mut(queue_id) else { return actions };
        if q.starting || q.lost_since_ms.is_some() {
            let restart = from_ms.unwrap_or(until_ms);
            let gap_start = match (q.lost_since_ms.take(), q.watermark_ms) {
                (Some(lost), _) => Some(lost),
                (None, Some(stored)) => Some(stored),
                (None, None) if self.initial_window_ms > 0 => Some(restart - self.initial_window_ms),
                (None, None) => None,
            };
            q.starting = false;
            match gap_start {
                Some(start) if start < restart => {
                    let (from_ms, truncated_from_ms) = if restart - start > self.max_gap_ms {
                        (restart - self.max_gap_ms, Some(start))
                    } else {
                        (start, None)
                    };
                    let gap = Gap {
                        id: self.next_gap,
                        queue_id: queue_id.to_owned(),
                        from_ms,
                        to_ms: restart,
                        truncated_from_ms,
                    };
                    self.next_gap += 1;
                    q.watermark_ms.get_or_insert(from_ms);
                    q.gaps.push_back(gap.clone());
                    actions.push(Action::Backfill(gap));
                }
                _ => {
                    q.watermark_ms.get_or_insert(restart);
                }
            }
        }
        q.proven_ms = Some(q.proven_ms.map_or(until_ms, |p| p.max(until_ms)));
        if let Some(action) = advance(queue_id, q) {
            actions.push(action);
        }
        actions
    }

    /// Coverage of `queue_id` was lost; `since_ms` is the last moment it was proven.
    pub fn lost(&mut self, queue_id: &str, since_ms: i64) {
        if let Some(q) = self.queues.get_mut(queue_id)
            && q.lost_since_ms.is_none()
            && !q.starting
        {
            q.lost_since_ms = Some(since_ms);
        }
    }

    /// A gap's backfill records were all emitted (they are committed before any later offset).
    pub fn gap_filled(&mut self, queue_id: &str, gap_id: u64) -> Option<Action> {
        let q = self.queues.get_mut(queue_id)?;
        q.gaps.retain(|g| g.id != gap_id);
        advance(queue_id, q)
    }

    pub fn pending_gaps(&self) -> Vec<Gap> {
        self.queues.values().flat_map(|q| q.gaps.iter().cloned()).collect()
    }

    pub fn view(&self) -> Vec<QueueView> {
        self.queues
            .iter()
            .map(|(id, q)| QueueView {
                queue_id: id.clone(),
                watermark_ms: q.watermark_ms,
                proven_ms: q.proven_ms,
                covered: !q.starting && q.lost_since_ms.is_none(),
                lost_since_ms: q.lost_since_ms,
                pending_gaps: q.gaps.len(),
            })
            .collect()
    }

    pub fn queue_ids(&self) -> impl Iterator<Item = &String> {
        self.queues.keys()
    }
}

/// Moves the watermark to the latest proof when nothing holds it back.
fn advance(queue_id: &str, q: &mut QueueState) -> Option<Action> {
    if !q.gaps.is_empty() {
        return None;
    }
    let target = match q.lost_since_ms {
        Some(lost) => q.proven_ms.map(|p| p.min(lost)),
        None => q.proven_ms,
    }?;
    if q.watermark_ms.is_some_and(|w| w >= target) {
        return None;
    }
    q.watermark_ms = Some(target);
    Some(Action::Advance { queue_id: queue_id.to_owned(), watermark_ms: target })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    fn backfills(actions: &[Action]) -> Vec<(i64, i64)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Backfill(g) => Some((g.from_ms, g.to_ms)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn fresh_queue_starts_at_first_coverage_and_advances_with_proofs() {
        let mut c = Coverage::new(0, 24 * HOUR);
        c.follow("q", None);
        let a = c.covered("q", Some(1000), 1000);
        assert!(backfills(&a).is_empty());
        assert_eq!(c.watermark("q"), Some(1000));
        let a = c.covered("q", None, 5000);
        assert_eq!(a, vec![Action::Advance { queue_id: "q".into(), watermark_ms: 5000 }]);
    }

    #[test]
    fn a_loss_freezes_the_watermark_until_the_gap_is_filled() {
        let mut c = Coverage::new(0, 24 * HOUR);
        c.follow("q", None);
        c.covered("q", Some(0), 10_000);
        c.lost("q", 12_000);
        // Coverage was last proven at 12 000 (detection came later); the watermark stays at
        // what had been committed.
        assert_eq!(c.watermark("q"), Some(10_000));
        let a = c.covered("q", Some(20_000), 21_000);
        assert_eq!(backfills(&a), vec![(12_000, 20_000)]);
        assert_eq!(c.watermark("q"), Some(10_000), "held back by the gap");
        c.covered("q", None, 30_000);
        assert_eq!(c.watermark("q"), Some(10_000));
        let gap = c.pending_gaps()[0].id;
        assert_eq!(c.gap_filled("q", gap), Some(Action::Advance { queue_id: "q".into(), watermark_ms: 30_000 }));
    }

    #[test]
    fn restart_backfills_from_the_stored_watermark_capped_at_max_gap() {
        let mut c = Coverage::new(0, 2 * HOUR);
        c.follow("a", Some(10 * HOUR));
        c.follow("b", Some(HOUR));
        let a = c.covered("a", Some(11 * HOUR), 11 * HOUR);
        assert_eq!(backfills(&a), vec![(10 * HOUR, 11 * HOUR)]);
        let b = c.covered("b", Some(11 * HOUR), 11 * HOUR);
        let Some(Action::Backfill(gap)) = b.first() else { panic!("gap expected: {b:?}") };
        assert_eq!((gap.from_ms, gap.to_ms, gap.truncated_from_ms), (9 * HOUR, 11 * HOUR, Some(HOUR)));
    }

    #[test]
    fn initial_window_for_queues_without_offsets() {
        let mut c = Coverage::new(HOUR, 24 * HOUR);
        c.follow("q", None);
        let a = c.covered("q", Some(5 * HOUR), 5 * HOUR);
        assert_eq!(backfills(&a), vec![(4 * HOUR, 5 * HOUR)]);
        assert_eq!(c.watermark("q"), Some(4 * HOUR));
    }

    #[test]
    fn several_gaps_all_must_fill() {
        let mut c = Coverage::new(0, 24 * HOUR);
        c.follow("q", None);
        c.covered("q", Some(0), 100);
        c.lost("q", 100);
        c.covered("q", Some(200), 200);
        c.lost("q", 300);
        c.covered("q", Some(400), 500);
        let gaps = c.pending_gaps();
        assert_eq!(gaps.len(), 2);
        assert_eq!(c.gap_filled("q", gaps[1].id), None);
        assert_eq!(c.watermark("q"), Some(100));
        assert_eq!(c.gap_filled("q", gaps[0].id), Some(Action::Advance { queue_id: "q".into(), watermark_ms: 500 }));
    }
}

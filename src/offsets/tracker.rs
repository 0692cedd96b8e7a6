//! In-order acknowledgement tracking: which offset of each source partition is safe to commit.
//!
//! Every emit of a partition gets a sequence number when it is handed to the producer. Kafka may
//! acknowledge records out of order (different Kafka partitions, retries), but an offset becomes
//! *acknowledged* only when its record and every earlier emit of the same source partition are
//! acknowledged. That is the only offset the runtime ever commits, so a crash can re-deliver but
//! never skip. A record that failed stays unacknowledged forever and holds its partition back
//! until the task restarts from the last commit.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crate::api::{Acknowledgements, SourceOffset, SourcePartition};

/// Identifies one submitted record so its acknowledgement can find it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    partition: u32,
    seq: u64,
}

#[derive(Debug)]
struct Entry {
    offset: SourceOffset,
    acked: bool,
}

#[derive(Debug)]
struct Part {
    partition: SourcePartition,
    /// Emits not yet folded into `acknowledged`, in submission order; the front has `front_seq`.
    pending: VecDeque<Entry>,
    front_seq: u64,
    acknowledged: Option<SourceOffset>,
    committed: Option<SourceOffset>,
}

impl Part {
    fn advance(&mut self) {
        while self.pending.front().is_some_and(|e| e.acked) {
            if let Some(e) = self.pending.pop_front() {
                self.acknowledged = Some(e.offset);
                self.front_seq += 1;
            }
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    index: HashMap<SourcePartition, u32>,
    /// The partition found last: records of a partition usually come in runs, and a clone of the
    /// same partition compares by pointer, so most lookups skip hashing.
    last: Option<(SourcePartition, u32)>,
    parts: Vec<Part>,
    in_flight: usize,
    acked_records: u64,
    failed_records: u64,
}

impl Inner {
    fn part(&mut self, partition: &SourcePartition) -> u32 {
        if let Some((last, i)) = &self.last
            && last == partition
        {
            return *i;
        }
        if let Some(i) = self.index.get(partition) {
            self.last = Some((partition.clone(), *i));
            return *i;
        }
        let i = self.parts.len() as u32;
        self.parts.push(Part {
            partition: partition.clone(),
            pending: VecDeque::new(),
            front_seq: 0,
            acknowledged: None,
            committed: None,
        });
        self.index.insert(partition.clone(), i);
        i
    }
}

/// Where one source partition stands, for status pages.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionProgress {
    pub partition: SourcePartition,
    /// The latest offset whose record and every earlier one Kafka acknowledged.
    pub acknowledged: Option<SourceOffset>,
    /// The latest offset known to be in the offsets topic.
    pub committed: Option<SourceOffset>,
    /// Emits handed to the producer and not yet folded into `acknowledged`.
    pub pending: usize,
}

/// Per-partition ordered acknowledgements for one connector instance. Shared between the
/// producing side and librdkafka's delivery callbacks.
#[derive(Debug, Default)]
pub struct AckTracker {
    inner: Mutex<Inner>,
}

impl AckTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Seeds a partition with the offset already in the offsets topic, so that it is not committed
    /// again unless it changes.
    pub fn seed_committed(&self, partition: &SourcePartition, offset: SourceOffset) {
        let mut inner = self.lock();
        let i = inner.part(partition) as usize;
        inner.parts[i].committed = Some(offset);
    }

    /// Registers a record about to be produced; acknowledge it with the returned ticket.
    pub fn submit(&self, partition: &SourcePartition, offset: SourceOffset) -> Ticket {
        let mut inner = self.lock();
        let i = inner.part(partition);
        inner.in_flight += 1;
        let part = &mut inner.parts[i as usize];
        let seq = part.front_seq + part.pending.len() as u64;
        part.pending.push_back(Entry { offset, acked: false });
        Ticket { partition: i, seq }
    }

    /// Registers an offset with no record: acknowledged once everything before it is.
    pub fn submit_offset(&self, partition: &SourcePartition, offset: SourceOffset) {
        let mut inner = self.lock();
        let i = inner.part(partition) as usize;
        let part = &mut inner.parts[i];
        if part.pending.is_empty() {
            part.acknowledged = Some(offset);
        } else {
            part.pending.push_back(Entry { offset, acked: true });
        }
    }

    /// Kafka acknowledged the ticket's record.
    pub fn ack(&self, ticket: Ticket) {
        let mut inner = self.lock();
        inner.in_flight = inner.in_flight.saturating_sub(1);
        inner.acked_records += 1;
        let Some(part) = inner.parts.get_mut(ticket.partition as usize) else { return };
        let Some(index) = ticket.seq.checked_sub(part.front_seq) else { return };
        if let Some(entry) = part.pending.get_mut(index as usize) {
            entry.acked = true;
            if index == 0 {
                part.advance();
            }
        }
    }

    /// The ticket's record failed for good: its partition's offset stays where it is.
    pub fn fail(&self, _ticket: Ticket) {
        let mut inner = self.lock();
        inner.in_flight = inner.in_flight.saturating_sub(1);
        inner.failed_records += 1;
    }

    /// Offsets acknowledged but not yet committed, one per partition.
    pub fn uncommitted(&self) -> Vec<(SourcePartition, SourceOffset)> {
        let inner = self.lock();
        inner
            .parts
            .iter()
            .filter_map(|p| match &p.acknowledged {
                Some(a) if p.committed.as_ref() != Some(a) => Some((p.partition.clone(), a.clone())),
                _ => None,
            })
            .collect()
    }

    /// The newest offset submitted per partition (acknowledged or not) that is not committed:
    /// what a transaction commits together with every record submitted before it.
    pub fn newest_uncommitted(&self) -> Vec<(SourcePartition, SourceOffset)> {
        let inner = self.lock();
        inner
            .parts
            .iter()
            .filter_map(|p| {
                let newest = p.pending.back().map(|e| &e.offset).or(p.acknowledged.as_ref())?;
                (p.committed.as_ref() != Some(newest)).then(|| (p.partition.clone(), newest.clone()))
            })
            .collect()
    }

    /// Records that these offsets are now in the offsets topic.
    pub fn mark_committed(&self, commits: &[(SourcePartition, SourceOffset)]) {
        let mut inner = self.lock();
        for (partition, offset) in commits {
            let i = inner.part(partition) as usize;
            inner.parts[i].committed = Some(offset.clone());
        }
    }

    /// Records handed to the producer and not yet acknowledged or failed.
    pub fn in_flight(&self) -> usize {
        self.lock().in_flight
    }

    pub fn failed_records(&self) -> u64 {
        self.lock().failed_records
    }

    /// Every partition seen so far (seeded or submitted), sorted by partition.
    pub fn progress(&self) -> Vec<PartitionProgress> {
        let inner = self.lock();
        let mut out: Vec<_> = inner
            .parts
            .iter()
            .map(|p| PartitionProgress {
                partition: p.partition.clone(),
                acknowledged: p.acknowledged.clone(),
                committed: p.committed.clone(),
                pending: p.pending.len(),
            })
            .collect();
        out.sort_by(|a, b| a.partition.cmp(&b.partition));
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave it half-updated in a way that matters
        // more than losing the process, so poisoning is ignored.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Acknowledgements for AckTracker {
    fn acknowledged(&self, partition: &SourcePartition) -> Option<SourceOffset> {
        let inner = self.lock();
        let i = *inner.index.get(partition)?;
        inner.parts[i as usize].acknowledged.clone()
    }

    fn acknowledged_records(&self) -> u64 {
        self.lock().acked_records
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn off(n: i64) -> SourceOffset {
        SourceOffset::single_i64("n", n)
    }

    #[test]
    fn a_transaction_commits_the_newest_submitted_offset_acknowledged_or_not() {
        let t = AckTracker::new();
        let (a, b) = (SourcePartition::single("p", "a"), SourcePartition::single("p", "b"));
        t.seed_committed(&b, off(7));
        let first = t.submit(&a, off(1));
        t.submit(&a, off(2));
        assert_eq!(t.newest_uncommitted(), vec![(a.clone(), off(2))], "b has nothing new");
        t.ack(first);
        t.mark_committed(&[(a.clone(), off(2))]);
        assert!(t.newest_uncommitted().is_empty());
        t.submit_offset(&b, off(8));
        assert_eq!(t.newest_uncommitted(), vec![(b, off(8))]);
    }

    #[test]
    fn out_of_order_acks_commit_only_the_contiguous_prefix() {
        let t = AckTracker::new();
        let p = SourcePartition::single("p", "a");
        let tickets: Vec<_> = (1..=4).map(|n| t.submit(&p, off(n))).collect();
        t.ack(tickets[1]);
        t.ack(tickets[3]);
        assert_eq!(t.acknowledged(&p), None, "record 1 is not acknowledged yet");
        t.ack(tickets[0]);
        assert_eq!(t.acknowledged(&p), Some(off(2)));
        t.ack(tickets[2]);
        assert_eq!(t.acknowledged(&p), Some(off(4)));
        assert_eq!(t.in_flight(), 0);
    }

    #[test]
    fn partitions_do_not_hold_each_other_back() {
        let t = AckTracker::new();
        let (a, b) = (SourcePartition::single("p", "a"), SourcePartition::single("p", "b"));
        let _blocked = t.submit(&a, off(1));
        let tb = t.submit(&b, off(7));
        t.ack(tb);
        assert_eq!(t.uncommitted(), vec![(b.clone(), off(7))]);
        t.mark_committed(&[(b, off(7))]);
        assert!(t.uncommitted().is_empty());
    }

    #[test]
    fn a_failed_record_holds_its_partition_forever() {
        let t = AckTracker::new();
        let p = SourcePartition::single("p", "a");
        let t1 = t.submit(&p, off(1));
        let t2 = t.submit(&p, off(2));
        let t3 = t.submit(&p, off(3));
        t.ack(t1);
        t.fail(t2);
        t.ack(t3);
        assert_eq!(t.acknowledged(&p), Some(off(1)));
        assert_eq!(t.failed_records(), 1);
    }

    #[test]
    fn offset_markers_wait_for_earlier_records() {
        let t = AckTracker::new();
        let p = SourcePartition::single("p", "a");
        t.submit_offset(&p, off(1));
        assert_eq!(t.acknowledged(&p), Some(off(1)), "nothing pending: immediate");
        let r = t.submit(&p, off(2));
        t.submit_offset(&p, off(3));
        assert_eq!(t.acknowledged(&p), Some(off(1)));
        t.ack(r);
        assert_eq!(t.acknowledged(&p), Some(off(3)));
    }

    #[test]
    fn progress_lists_every_partition() {
        let t = AckTracker::new();
        let (a, b) = (SourcePartition::single("p", "a"), SourcePartition::single("p", "b"));
        t.seed_committed(&b, off(3));
        let r = t.submit(&a, off(1));
        t.submit(&a, off(2));
        t.ack(r);
        let progress = t.progress();
        assert_eq!(progress.len(), 2);
        assert_eq!(
            (progress[0].acknowledged.clone(), progress[0].committed.clone(), progress[0].pending),
            (Some(off(1)), None, 1)
        );
        assert_eq!((progress[1].acknowledged.clone(), progress[1].committed.clone()), (None, Some(off(3))));
    }

    #[test]
    fn seeded_commits_are_not_committed_again() {
        let t = AckTracker::new();
        let p = SourcePartition::single("p", "a");
        t.seed_committed(&p, off(5));
        t.submit_offset(&p, off(5));
        assert!(t.uncommitted().is_empty());
        t.submit_offset(&p, off(6));
        assert_eq!(t.uncommitted(), vec![(p, off(6))]);
    }
}

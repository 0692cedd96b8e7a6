//! [`Deduper`]: the event ids produced recently, in bounded memory.

use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use sha2::{Digest, Sha256};

/// A 128-bit digest standing in for a string key (an event or conversation id). Collisions
/// between different ids are as likely as SHA-256 collisions on 128 bits: never in practice.
pub(super) type Key = u128;

/// The [`Key`] of `id`.
pub(super) fn key_of(id: &str) -> Key {
    let digest = Sha256::digest(id.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    u128::from_le_bytes(bytes)
}

/// Keys are already uniformly distributed digests: hashing them again would be wasted work.
#[derive(Default)]
pub(super) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only reached for non-`u128` keys; fold the bytes in so it stays a valid hasher.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u128(&mut self, value: u128) {
        self.0 ^= (value as u64) ^ ((value >> 64) as u64);
    }
}

pub(super) type KeyState = BuildHasherDefault<KeyHasher>;

/// Remembers which event ids were produced, first in first out, bounded by count and age.
///
/// Each id is held as a 128-bit digest (under 100 bytes per entry with the set and the queue),
/// so `capacity` 200,000 costs under 20 MB. An id is forgotten when `capacity` newer ids have
/// been remembered or when it is older than `max_age_ms` (measured with the `now_ms` passed to
/// [`remember`](Self::remember) and [`expire`](Self::expire), never a clock of its own).
pub struct Deduper {
    ids: HashSet<Key, KeyState>,
    order: VecDeque<(Key, i64)>,
    capacity: usize,
    max_age_ms: i64,
}

impl Deduper {
    /// `capacity` is at least 1.
    pub fn new(capacity: usize, max_age_ms: i64) -> Self {
        Self { ids: HashSet::default(), order: VecDeque::new(), capacity: capacity.max(1), max_age_ms }
    }

    /// Whether `event_id` was remembered and not yet forgotten.
    pub fn seen(&self, event_id: &str) -> bool {
        self.ids.contains(&key_of(event_id))
    }

    /// Remembers `event_id` as produced at `now_ms`; returns false if it already was. Forgets
    /// what is over the bounds.
    pub fn remember(&mut self, event_id: &str, now_ms: i64) -> bool {
        self.expire(now_ms);
        let key = key_of(event_id);
        if !self.ids.insert(key) {
            return false;
        }
        self.order.push_back((key, now_ms));
        while self.order.len() > self.capacity {
            self.forget_oldest();
        }
        true
    }

    /// Forgets ids remembered more than `max_age_ms` before `now_ms`.
    pub fn expire(&mut self, now_ms: i64) {
        let cutoff = now_ms.saturating_sub(self.max_age_ms);
        while self.order.front().is_some_and(|&(_, at)| at < cutoff) {
            self.forget_oldest();
        }
    }

    /// Ids currently remembered.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    fn forget_oldest(&mut self) {
        if let Some((key, _)) = self.order.pop_front() {
            self.ids.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_until_capacity_pushes_it_out() {
        let mut ids = Deduper::new(3, i64::MAX);
        assert!(ids.remember("a", 0));
        assert!(!ids.remember("a", 1), "already there");
        for id in ["b", "c"] {
            assert!(ids.remember(id, 2));
        }
        assert!(ids.seen("a") && ids.seen("b") && ids.seen("c"));
        ids.remember("d", 3);
        assert!(!ids.seen("a"), "oldest first");
        assert!(ids.seen("b") && ids.seen("d"));
        assert_eq!(ids.len(), 3);
    }

    #[test]
    fn forgets_by_age() {
        let mut ids = Deduper::new(100, 1_000);
        ids.remember("old", 0);
        ids.remember("new", 900);
        ids.expire(1_500);
        assert!(!ids.seen("old"));
        assert!(ids.seen("new"));
        ids.remember("later", 5_000);
        assert_eq!(ids.len(), 1);
    }

    #[test]
    fn memory_stays_at_capacity() {
        let mut ids = Deduper::new(1_000, i64::MAX);
        for i in 0..50_000 {
            ids.remember(&format!("conversation:{i}"), i);
        }
        assert_eq!(ids.len(), 1_000);
        assert_eq!(ids.order.len(), 1_000);
        assert!(ids.seen("conversation:49999") && !ids.seen("conversation:48999"));
    }

    #[test]
    fn zero_capacity_still_holds_the_latest() {
        let mut ids = Deduper::new(0, i64::MAX);
        ids.remember("a", 0);
        assert!(ids.seen("a"));
    }
}

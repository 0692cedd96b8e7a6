//! The org's global counters, reported by the handle's stats.

use std::sync::atomic::{AtomicU64, Ordering};

/// Global counters.
#[derive(Default)]
pub(crate) struct Counters {
    pub requests_total: AtomicU64,
    pub unauthenticated: AtomicU64,
    pub tokens_issued: AtomicU64,
    pub sockets_accepted: AtomicU64,
    pub sockets_open: AtomicU64,
    pub upgrades_rejected: AtomicU64,
    pub channels_created: AtomicU64,
    pub channels_evicted: AtomicU64,
    pub conversations_started: AtomicU64,
    pub heartbeats_sent: AtomicU64,
}

impl Counters {
    pub fn inc(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub fn dec(c: &AtomicU64) {
        let _ = c.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| Some(v.saturating_sub(1)));
    }

    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

//! Suppressing repeats and stale states before records are produced.
//!
//! Live and backfilled data overlap by design: two channels deliver the same snapshot during a
//! make-before-break rollover, analytics pages repeat rows while data lands, and a backfill can
//! return a state older than one a live channel already delivered. Downstream keeps the latest
//! record per key (conversation id), so an older state must never be produced after a newer one.
//!
//! [`Gate`] is used by the single loop that emits a task's records (no locking inside):
//!
//! ```
//! # use tributary_genesys::dedup::{Gate, GateConfig, Verdict};
//! # fn emit(_: &tributary_genesys::record::ConversationEvent) {}
//! # fn demo(events: Vec<tributary_genesys::record::ConversationEvent>) {
//! let mut gate = Gate::new(GateConfig::default());
//! for event in events {
//!     if gate.judge(&event) == Verdict::Emit {
//!         emit(&event);
//!         gate.record(&event);
//!     }
//! }
//! # }
//! ```
//!
//! Memory is bounded (see [`GateConfig`]). At-least-once, a restart forgets everything, so
//! repeats across restarts reach Kafka and consumers dedupe them by `event_id`. With exactly-once
//! delivery the task seeds the gate with what the tenant already wrote (read back from Kafka), so
//! a restart or a handover repeats nothing.

mod freshness;
mod ids;

#[cfg(test)]
mod tests;

pub use freshness::{Freshness, Standing};
pub use ids::Deduper;

use crate::record::ConversationEvent;

/// What to do with a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Produce it.
    Emit,
    /// Its event id was already produced.
    Duplicate,
    /// A newer state of its conversation was already produced.
    Stale,
}

/// Bounds of a [`Gate`]. Times are compared with records' `receive_time_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateConfig {
    /// Event ids remembered (under 100 bytes each).
    pub event_capacity: usize,
    /// How long an event id is remembered; covers the overlap of two channels and the re-query
    /// of a backfill window.
    pub event_max_age_ms: i64,
    /// Conversations whose newest state is remembered (about 300 bytes each at worst).
    pub conversation_capacity: usize,
    /// How long an ended conversation is remembered after the record that ended it; must cover
    /// the analytics data delay plus the backfill safety margin.
    pub ended_ttl_ms: i64,
}

impl Default for GateConfig {
    fn default() -> Self {
        const HOUR_MS: i64 = 3_600_000;
        Self {
            event_capacity: 200_000,
            event_max_age_ms: 6 * HOUR_MS,
            conversation_capacity: 100_000,
            ended_ttl_ms: 6 * HOUR_MS,
        }
    }
}

/// Event-id dedup and per-conversation freshness in one place, with drop counters.
pub struct Gate {
    ids: Deduper,
    freshness: Freshness,
    /// Records judged [`Verdict::Duplicate`].
    pub duplicates: u64,
    /// Records judged [`Verdict::Stale`].
    pub stale: u64,
}

impl Gate {
    pub fn new(config: GateConfig) -> Self {
        Self {
            ids: Deduper::new(config.event_capacity, config.event_max_age_ms),
            freshness: Freshness::new(config.conversation_capacity, config.ended_ttl_ms),
            duplicates: 0,
            stale: 0,
        }
    }

    /// Judges a candidate record and counts it if dropped; call once per candidate.
    ///
    /// [`Verdict::Duplicate`] if its event id was produced; [`Verdict::Stale`] if its event time
    /// is older than the newest produced for the conversation, or equal while it is a BACKFILL
    /// record no more complete than that; else [`Verdict::Emit`].
    pub fn judge(&mut self, event: &ConversationEvent) -> Verdict {
        if self.ids.seen(&event.event_id) {
            self.duplicates += 1;
            Verdict::Duplicate
        } else if self.freshness.judge(event) == Standing::Stale {
            self.stale += 1;
            Verdict::Stale
        } else {
            Verdict::Emit
        }
    }

    /// Notes that `event` was produced (after handing it to the runtime).
    pub fn record(&mut self, event: &ConversationEvent) {
        self.ids.remember(&event.event_id, event.receive_time_ms);
        self.freshness.record(event);
    }

    /// [`judge`](Self::judge), then [`record`](Self::record) if the verdict is to emit.
    pub fn admit(&mut self, event: &ConversationEvent) -> Verdict {
        let verdict = self.judge(event);
        if verdict == Verdict::Emit {
            self.record(event);
        }
        verdict
    }

    /// Applies the age bounds as of `now_ms` (they are otherwise applied as records arrive).
    pub fn expire(&mut self, now_ms: i64) {
        self.ids.expire(now_ms);
        self.freshness.expire(now_ms);
    }

    /// (event ids, conversations) currently remembered.
    pub fn sizes(&self) -> (usize, usize) {
        (self.ids.len(), self.freshness.len())
    }
}

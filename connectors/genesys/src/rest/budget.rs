//! The per-tenant request budget every REST request passes through.
//!
//! Genesys limits requests per OAuth client (300 a minute per token by default, reference §4.5),
//! so every task of a tenant shares one budget:
//!
//! - **Pacing.** A token bucket refilled at `requests_per_minute / 60` per second holding at most
//!   `burst` requests; a request takes one token or waits for it.
//! - **Pause.** After a 429 the whole budget stops until its `Retry-After` has passed, for every
//!   request of the tenant, and restarts from an empty bucket (no burst right after a pause).
//! - **Server hints.** `inin-ratelimit-count/allowed/reset` on a response tell how much of the
//!   server's window is left. With nothing left the budget pauses until the window resets; with
//!   little left (at most `low_water` of it) it slows to spread the rest over the time to reset.
//! - **Backfill's share.** While a backfill request ([`Class::Backfill`]: Analytics and
//!   Conversations calls) waits, the other requests (channels, subscriptions, queue discovery)
//!   take at most `1 - backfill_share` of the rate, so that checks of many channels cannot starve
//!   the queries that close gaps. With no backfill waiting, they may use it all.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::http::ServerBudget;

/// Budget settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BudgetConfig {
    /// Sustained requests per minute. Default 240, below Genesys's 300 per token.
    pub requests_per_minute: u32,
    /// Requests that may go out back to back after an idle spell. Default 10.
    pub burst: u32,
    /// Fraction of the server's window below which requests are spread over the time left until
    /// it resets. Default 0.1.
    pub low_water: f64,
    /// Fraction of the rate the other requests leave to backfill while it waits. Default 0.5.
    pub backfill_share: f64,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self { requests_per_minute: 240, burst: 10, low_water: 0.1, backfill_share: 0.5 }
    }
}

/// Who a request serves, for the budget's shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Filling gaps: Analytics queries and jobs, conversations by id.
    Backfill,
    /// Everything else: channels, subscriptions, queues.
    Other,
}

impl Class {
    /// The class of a request to `path` (`/api/v2/...`).
    pub fn of(path: &str) -> Class {
        if path.starts_with("/api/v2/analytics/") || path.starts_with("/api/v2/conversations/") {
            Class::Backfill
        } else {
            Class::Other
        }
    }
}

#[derive(Debug)]
struct State {
    tokens: f64,
    /// Tokens accrue from here; in the future while paused.
    last_refill: Instant,
    paused_until: Option<Instant>,
    /// A lower rate (per second) in force until the instant, from server hints.
    slow: Option<(f64, Instant)>,
    /// What other requests may still take while backfill waits: a bucket refilled at
    /// `1 - backfill_share` of the rate, also holding at most `burst`.
    others: f64,
    backfill_waiting: usize,
}

/// A shared token bucket with pauses.
#[derive(Debug)]
pub struct Budget {
    config: BudgetConfig,
    state: Mutex<State>,
}

impl Budget {
    /// A full bucket.
    pub fn new(config: BudgetConfig) -> Self {
        let config = BudgetConfig {
            requests_per_minute: config.requests_per_minute.max(1),
            burst: config.burst.max(1),
            low_water: config.low_water.clamp(0.0, 1.0),
            backfill_share: if config.backfill_share.is_finite() { config.backfill_share.clamp(0.0, 0.9) } else { 0.5 },
        };
        let state = State {
            tokens: f64::from(config.burst),
            last_refill: Instant::now(),
            paused_until: None,
            slow: None,
            others: f64::from(config.burst),
            backfill_waiting: 0,
        };
        Self { config, state: Mutex::new(state) }
    }

    /// The settings in force.
    pub fn config(&self) -> BudgetConfig {
        self.config
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn rate(&self, st: &State, now: Instant) -> f64 {
        let base = f64::from(self.config.requests_per_minute) / 60.0;
        match st.slow {
            Some((slow, until)) if now < until => base.min(slow),
            _ => base,
        }
    }

    fn refill(&self, st: &mut State, now: Instant) {
        if now > st.last_refill {
            let elapsed = (now - st.last_refill).as_secs_f64();
            let burst = f64::from(self.config.burst);
            let accrued = elapsed * self.rate(st, now);
            st.tokens = (st.tokens + accrued).min(burst);
            st.others = (st.others + accrued * (1.0 - self.config.backfill_share)).min(burst);
            st.last_refill = now;
        }
        if st.slow.is_some_and(|(_, until)| now >= until) {
            st.slow = None;
        }
    }

    /// Takes a token for a request of `class`, or says how long to wait before trying again.
    fn try_take(&self, class: Class, now: Instant) -> Option<Duration> {
        let mut st = self.lock();
        if let Some(until) = st.paused_until {
            if now < until {
                return Some(until - now);
            }
            st.paused_until = None;
        }
        self.refill(&mut st, now);
        let rate = self.rate(&st, now);
        // Another request while backfill waits needs a token of its own share too.
        let held_back = class == Class::Other && st.backfill_waiting > 0;
        if st.tokens >= 1.0 && (!held_back || st.others >= 1.0) {
            st.tokens -= 1.0;
            st.others = (st.others - 1.0).max(0.0);
            return None;
        }
        let mut wait = (1.0 - st.tokens).max(0.0) / rate;
        if held_back {
            wait = wait.max((1.0 - st.others).max(0.0) / (rate * (1.0 - self.config.backfill_share)));
        }
        Some(Duration::from_secs_f64(wait.min(60.0)).max(Duration::from_millis(1)))
    }

    /// Waits until the budget allows one request of `class` and takes it. Returns the time waited.
    pub async fn acquire(&self, class: Class) -> Duration {
        /// Counts a waiting backfill request for as long as it waits, also when dropped.
        struct Waiting<'a>(&'a Budget);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                let mut st = self.0.lock();
                st.backfill_waiting = st.backfill_waiting.saturating_sub(1);
            }
        }
        let start = Instant::now();
        let mut waiting = None;
        while let Some(wait) = self.try_take(class, Instant::now()) {
            if class == Class::Backfill && waiting.is_none() {
                self.lock().backfill_waiting += 1;
                waiting = Some(Waiting(self));
            }
            tokio::time::sleep(wait).await;
        }
        start.elapsed()
    }

    /// Stops every request until `until` (a later pause wins; an earlier one changes nothing).
    /// The bucket restarts empty.
    pub fn pause_until(&self, until: Instant) {
        let now = Instant::now();
        let mut st = self.lock();
        self.refill(&mut st, now);
        if st.paused_until.is_none_or(|p| p < until) {
            st.paused_until = Some(until);
        }
        st.tokens = st.tokens.min(0.0);
        st.last_refill = st.last_refill.max(until);
    }

    /// The end of the current pause, if one is in force.
    pub fn paused_until(&self) -> Option<Instant> {
        let now = Instant::now();
        self.lock().paused_until.filter(|p| *p > now)
    }

    /// Adapts to the server's view of its window (see the module docs).
    pub fn observe(&self, server: ServerBudget) {
        if server.allowed == 0 {
            return;
        }
        let now = Instant::now();
        let remaining = server.allowed.saturating_sub(server.count);
        if remaining == 0 {
            self.pause_until(now + server.reset);
            return;
        }
        let low = ((server.allowed as f64) * self.config.low_water).max(1.0);
        let mut st = self.lock();
        self.refill(&mut st, now);
        if (remaining as f64) <= low && !server.reset.is_zero() {
            let slow = remaining as f64 / server.reset.as_secs_f64();
            st.slow = Some((slow, now + server.reset));
            st.tokens = st.tokens.min(0.0);
        } else {
            st.slow = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn within(d: Duration, lo_ms: u64, hi_ms: u64) -> bool {
        d >= Duration::from_millis(lo_ms) && d <= Duration::from_millis(hi_ms)
    }

    #[tokio::test]
    async fn paces_after_the_burst() {
        let b = Budget::new(BudgetConfig { requests_per_minute: 600, burst: 2, ..BudgetConfig::default() });
        let start = Instant::now();
        for _ in 0..5 {
            b.acquire(Class::Other).await;
        }
        // Two from the burst, then one every 100 ms.
        assert!(within(start.elapsed(), 290, 600), "{:?}", start.elapsed());
    }

    #[tokio::test]
    async fn a_pause_stops_everyone_and_restarts_empty() {
        let b = Budget::new(BudgetConfig { requests_per_minute: 600, burst: 5, ..BudgetConfig::default() });
        let start = Instant::now();
        b.pause_until(start + Duration::from_millis(300));
        b.pause_until(start + Duration::from_millis(100));
        assert!(b.paused_until().is_some());
        b.acquire(Class::Other).await;
        assert!(within(start.elapsed(), 390, 700), "{:?}", start.elapsed());
    }

    #[tokio::test]
    async fn server_hints_pause_or_slow_down() {
        let b = Budget::new(BudgetConfig { requests_per_minute: 60_000, burst: 10, ..BudgetConfig::default() });
        b.observe(ServerBudget { count: 300, allowed: 300, reset: Duration::from_millis(300) });
        assert!(b.paused_until().is_some());
        let start = Instant::now();
        b.acquire(Class::Other).await;
        assert!(within(start.elapsed(), 290, 600), "{:?}", start.elapsed());

        let b = Budget::new(BudgetConfig { requests_per_minute: 60_000, burst: 10, ..BudgetConfig::default() });
        b.observe(ServerBudget { count: 295, allowed: 300, reset: Duration::from_secs(1) });
        let start = Instant::now();
        for _ in 0..3 {
            b.acquire(Class::Other).await;
        }
        // Five requests left for one second: one every 200 ms.
        assert!(within(start.elapsed(), 590, 1000), "{:?}", start.elapsed());
        b.observe(ServerBudget { count: 1, allowed: 300, reset: Duration::from_secs(60) });
        let start = Instant::now();
        b.acquire(Class::Other).await;
        assert!(start.elapsed() < Duration::from_millis(50));
    }

    /// Requests served in two seconds to one backfill loop and five loops of other requests,
    /// started before it, at `share`.
    async fn served(share: f64) -> (u32, u32) {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicU32, Ordering};
        let config =
            BudgetConfig { requests_per_minute: 1200, burst: 1, backfill_share: share, ..BudgetConfig::default() };
        let b = Arc::new(Budget::new(config));
        let counts = Arc::new([AtomicU32::new(0), AtomicU32::new(0)]);
        let mut loops = Vec::new();
        for class in [Class::Other, Class::Other, Class::Other, Class::Other, Class::Other, Class::Backfill] {
            let (b, counts) = (b.clone(), counts.clone());
            loops.push(tokio::spawn(async move {
                loop {
                    b.acquire(class).await;
                    counts[usize::from(class == Class::Other)].fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        loops.iter().for_each(tokio::task::JoinHandle::abort);
        (counts[0].load(Ordering::Relaxed), counts[1].load(Ordering::Relaxed))
    }

    #[tokio::test]
    async fn backfill_keeps_its_share_against_many_other_requests() {
        let (backfill, other) = served(0.5).await;
        assert!(
            f64::from(backfill) >= 0.4 * f64::from(backfill + other),
            "backfill got {backfill} of {} requests",
            backfill + other
        );
        assert!(backfill + other <= 45, "the rate still holds: {}", backfill + other);
        let (backfill, other) = served(0.0).await;
        assert!(
            f64::from(backfill) < 0.4 * f64::from(backfill + other),
            "without a share, backfill competes as one of six: {backfill} of {}",
            backfill + other
        );
    }

    #[test]
    fn requests_are_classed_by_path() {
        assert_eq!(Class::of("/api/v2/analytics/conversations/details/query"), Class::Backfill);
        assert_eq!(Class::of("/api/v2/conversations/abc"), Class::Backfill);
        assert_eq!(Class::of("/api/v2/notifications/channels"), Class::Other);
        assert_eq!(Class::of("/api/v2/routing/queues"), Class::Other);
    }
}

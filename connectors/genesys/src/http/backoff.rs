//! Jittered exponential backoff, shared by the REST client and the token source.

use std::time::Duration;

use rand::Rng;

/// How transient failures (5xx, timeouts, connection errors) are retried.
///
/// The n-th retry (n = 1, 2, …) waits `initial × 2^(n-1)`, capped at `max`, with "equal jitter":
/// a uniformly random point in the upper half of that delay, so concurrent clients spread out
/// while the delay still grows. After `max_attempts` attempts in total the call gives up with a
/// retriable error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// First retry delay (before jitter). Default 500 ms.
    pub initial: Duration,
    /// Largest retry delay (before jitter). Default 30 s.
    pub max: Duration,
    /// Attempts in total, the first included; at least 1. Default 6.
    pub max_attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { initial: Duration::from_millis(500), max: Duration::from_secs(30), max_attempts: 6 }
    }
}

impl Backoff {
    /// The un-jittered delay before retry number `retry` (1-based).
    pub fn ceiling(&self, retry: u32) -> Duration {
        let shift = retry.saturating_sub(1).min(31);
        self.initial.saturating_mul(1u32 << shift).min(self.max).max(Duration::from_millis(1))
    }

    /// The jittered delay before retry number `retry` (1-based): within `[ceiling/2, ceiling]`.
    pub fn delay(&self, retry: u32) -> Duration {
        let ceiling = self.ceiling(retry);
        let half = ceiling / 2;
        let spread = u64::try_from((ceiling - half).as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(rand::rng().random_range(0..=spread))
    }

    /// Whether another attempt is allowed after `attempts_made` attempts.
    pub fn allows_another(&self, attempts_made: u32) -> bool {
        attempts_made < self.max_attempts.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_with_jitter_in_the_upper_half() {
        let b = Backoff::default();
        assert_eq!(b.ceiling(1), Duration::from_millis(500));
        assert_eq!(b.ceiling(2), Duration::from_secs(1));
        assert_eq!(b.ceiling(7), Duration::from_secs(30));
        assert_eq!(b.ceiling(100), Duration::from_secs(30));
        for retry in 1..10 {
            let d = b.delay(retry);
            assert!(d >= b.ceiling(retry) / 2 && d <= b.ceiling(retry), "{d:?}");
        }
    }

    #[test]
    fn counts_attempts() {
        let b = Backoff { max_attempts: 3, ..Backoff::default() };
        assert!(b.allows_another(2));
        assert!(!b.allows_another(3));
        assert!(Backoff { max_attempts: 0, ..b }.allows_another(0));
    }
}

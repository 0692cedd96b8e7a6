//! Rate-limited log lines: a flapping socket writes a line per window, not a line per death.
//!
//! Each kind of line (`"coverage lost"`, `"gaps to backfill"`, …) is written the first time, then
//! at most once per window; the lines held back meanwhile are counted and the next line written
//! says how many (`suppressed = n`). Nothing is held back at debug level: call sites log the
//! per-queue detail there unthrottled.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long repeats of one kind of line are held back after one is written.
pub const WINDOW: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub struct Throttle {
    window: Duration,
    kinds: HashMap<&'static str, Kind>,
}

#[derive(Debug)]
struct Kind {
    written: Instant,
    suppressed: u64,
}

impl Default for Throttle {
    fn default() -> Self {
        Self::new(WINDOW)
    }
}

impl Throttle {
    pub fn new(window: Duration) -> Self {
        Self { window, kinds: HashMap::new() }
    }

    /// Whether a line of `kind` is written now. `Some(n)`: write it, saying `n` lines of that kind
    /// were held back since the last one written. `None`: hold it back (it is counted).
    pub fn admit(&mut self, kind: &'static str) -> Option<u64> {
        self.admit_at(kind, Instant::now())
    }

    fn admit_at(&mut self, kind: &'static str, now: Instant) -> Option<u64> {
        match self.kinds.get_mut(kind) {
            Some(k) if now.saturating_duration_since(k.written) < self.window => {
                k.suppressed += 1;
                None
            }
            Some(k) => {
                let held = std::mem::take(&mut k.suppressed);
                k.written = now;
                Some(held)
            }
            None => {
                self.kinds.insert(kind, Kind { written: now, suppressed: 0 });
                Some(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_within_the_window_are_counted_into_the_next_line() {
        let mut t = Throttle::new(Duration::from_secs(30));
        let t0 = Instant::now();
        assert_eq!(t.admit_at("lost", t0), Some(0));
        for s in 1..=5 {
            assert_eq!(t.admit_at("lost", t0 + Duration::from_secs(s)), None);
        }
        // Another kind has its own window.
        assert_eq!(t.admit_at("restored", t0 + Duration::from_secs(2)), Some(0));
        assert_eq!(t.admit_at("lost", t0 + Duration::from_secs(31)), Some(5));
        assert_eq!(t.admit_at("lost", t0 + Duration::from_secs(32)), None);
        assert_eq!(t.admit_at("lost", t0 + Duration::from_secs(70)), Some(1));
    }
}

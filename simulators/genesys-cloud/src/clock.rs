//! Time scale: one factor that compresses every protocol duration; and the wall clock.
//!
//! Genesys timers are long (24 h channel lifetime, 30 s heartbeat, 1 min `socket_closing` grace,
//! §1, §2.2, §2.3). Tests need them in seconds. A [`Clock`] with `scale = 1000` turns a 24-hour
//! channel lifetime into 86.4 real seconds and a 30 s heartbeat into 30 ms.
//!
//! Contract:
//! - Every *duration* the simulator applies (timers, lifetimes, phase durations, data delay,
//!   rate-limit windows, fault schedule offsets) is a protocol duration divided by `scale`.
//! - Every *timestamp* it emits is real wall-clock time. A channel created now with a 24 h lifetime
//!   at scale 1000 carries an `expires` 86.4 s in the future, so a client that only reads the
//!   wire sees a consistent (short-lived) world and needs no knowledge of the scale.
//! - Durations reported to clients in seconds (`expires_in`, `Retry-After`) are real seconds.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// Upper bound of any real duration the simulator waits for (ten years).
const MAX_REAL_SECS: f64 = 315_360_000.0;

/// Converts protocol durations to real ones and reads the wall clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clock {
    scale: f64,
}

impl Clock {
    /// A clock where `scale` protocol seconds pass per real second. Values that are not finite
    /// or not positive fall back to 1.0 (real time).
    pub fn new(scale: f64) -> Self {
        let scale = if scale.is_finite() && scale > 0.0 { scale } else { 1.0 };
        Clock { scale }
    }

    /// The scale factor.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// The real duration that stands for `protocol` protocol time, capped at ten years so that
    /// deadlines computed from it never overflow.
    pub fn real(&self, protocol: Duration) -> Duration {
        let secs = protocol.as_secs_f64() / self.scale;
        if secs.is_finite() && secs < MAX_REAL_SECS {
            Duration::from_secs_f64(secs)
        } else {
            Duration::from_secs_f64(MAX_REAL_SECS)
        }
    }

    /// The protocol duration that `real` real time stands for.
    pub fn protocol(&self, real: Duration) -> Duration {
        let secs = real.as_secs_f64() * self.scale;
        if secs.is_finite() { Duration::from_secs_f64(secs.min(1e12)) } else { Duration::MAX }
    }

    /// Sleeps for the real equivalent of `protocol`.
    pub async fn sleep(&self, protocol: Duration) {
        tokio::time::sleep(self.real(protocol)).await;
    }

    /// Milliseconds since the Unix epoch, wall clock.
    pub fn now_ms() -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(_) => 0,
        }
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new(1.0)
    }
}

/// Wall-clock ms at which an `Instant` deadline falls.
pub(crate) fn instant_to_wall_ms(at: Instant) -> i64 {
    let now = Instant::now();
    let now_ms = Clock::now_ms();
    if at >= now {
        now_ms.saturating_add(i64::try_from((at - now).as_millis()).unwrap_or(i64::MAX / 2))
    } else {
        now_ms.saturating_sub(i64::try_from((now - at).as_millis()).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_both_ways() {
        let c = Clock::new(1000.0);
        assert_eq!(c.real(Duration::from_secs(86_400)), Duration::from_secs_f64(86.4));
        assert_eq!(c.protocol(Duration::from_millis(30)), Duration::from_secs(30));
    }

    #[test]
    fn huge_durations_saturate() {
        let c = Clock::new(1e-12);
        assert_eq!(c.real(Duration::from_secs(86_400)), Duration::from_secs(315_360_000));
        assert_eq!(Clock::new(1.0).real(Duration::MAX), Duration::from_secs(315_360_000));
    }

    #[test]
    fn bad_scale_is_real_time() {
        assert_eq!(Clock::new(0.0).scale(), 1.0);
        assert_eq!(Clock::new(f64::NAN).scale(), 1.0);
        assert_eq!(Clock::new(-3.0).scale(), 1.0);
    }
}

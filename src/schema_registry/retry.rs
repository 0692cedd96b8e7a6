//! How often and how patiently the client retries a registry that is unreachable or failing.

use std::time::Duration;

/// Retry policy for transient failures: connection errors, timeouts, HTTP 5xx and 429.
///
/// Answers that will not change on retry (4xx such as 404, 409, 422) are returned at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts per call, including the first; at least 1.
    pub max_attempts: u32,
    /// Wait before the second attempt; doubled for each further attempt.
    pub initial_backoff: Duration,
    /// Upper bound of a single wait.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: 4, initial_backoff: Duration::from_millis(100), max_backoff: Duration::from_secs(2) }
    }
}

impl RetryPolicy {
    /// No retries: one attempt per call.
    pub fn none() -> Self {
        Self { max_attempts: 1, ..Self::default() }
    }

    /// The wait after `failed` attempts (1 after the first failure): exponential, capped, with
    /// the upper half jittered so that many clients do not retry in lockstep.
    pub fn backoff(&self, failed: u32) -> Duration {
        let exp = failed.saturating_sub(1).min(16);
        let base = self.initial_backoff.saturating_mul(1 << exp).min(self.max_backoff);
        let half = base / 2;
        half + half.mul_f64(rand::random::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(800),
        };
        let first = policy.backoff(1);
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100), "{first:?}");
        let third = policy.backoff(3);
        assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400), "{third:?}");
        let late = policy.backoff(40);
        assert!(late >= Duration::from_millis(400) && late <= Duration::from_millis(800), "{late:?}");
    }
}
